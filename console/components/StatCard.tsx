/**
 * One figure on the dashboard with its label and an optional line of context.
 *
 * @module
 */
export function StatCard(
  { label, value, hint, tone, testId }: {
    label: string;
    value: string;
    hint?: string;
    tone?: "ok" | "warn";
    testId?: string;
  },
) {
  return (
    <div class="card stat" data-testid={testId}>
      <dt class="stat-label">{label}</dt>
      <dd class={`stat-value${tone ? ` tone-${tone}` : ""}`}>{value}</dd>
      {hint && <dd class="stat-hint">{hint}</dd>}
    </div>
  );
}
