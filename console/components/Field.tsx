/**
 * A labelled form control with its hint and error, wired for assistive technology (aria-describedby,
 * aria-invalid). The control itself is the child, given the field's `id`.
 *
 * @module
 */
import type { ComponentChildren } from "preact";

export function Field(
  { id, label, hint, error, children, inline }: {
    id: string;
    label: string;
    hint?: string;
    error?: string | null;
    children: ComponentChildren;
    /** Checkbox layout: control first, label after. */
    inline?: boolean;
  },
) {
  return (
    <div class={`field${inline ? " field-inline" : ""}${error ? " has-error" : ""}`}>
      {!inline && <label for={id}>{label}</label>}
      {children}
      {inline && <label for={id}>{label}</label>}
      {hint && <p class="field-hint" id={`${id}-hint`}>{hint}</p>}
      {error && <p class="field-error" id={`${id}-error`}>{error}</p>}
    </div>
  );
}

/** The aria attributes a control inside `<Field>` needs: `<input {...fieldAria(id, hint, error)} />`. */
export function fieldAria(id: string, hint?: string, error?: string | null) {
  const described = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(" ") || undefined;
  return { id, "aria-describedby": described, "aria-invalid": error ? true : undefined };
}
