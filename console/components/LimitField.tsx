/**
 * An optional whole-number queue limit (maximum redeliveries, maximum length), with its label and hint from
 * the catalog; used where a queue is created and where its limits are changed.
 *
 * @module
 */
import { useT } from "../lib/i18n.ts";
import { Field, fieldAria } from "./Field.tsx";

export type LimitName = "maxRedeliveries" | "maxLength";

/** What a limit field may hold: empty (no limit), or a whole number from 0 (redeliveries) or 1 (length). */
export const limitValid = (name: LimitName, value: string): boolean =>
  value === "" || (name === "maxLength" ? /^[1-9]\d*$/ : /^\d+$/).test(value);

export function LimitField(
  { prefix, name, error, value }: { prefix: string; name: LimitName; error?: string; value?: number },
) {
  const t = useT();
  const id = `${prefix}-${name}`;
  const hint = t(`create.${name}Hint`);
  return (
    <Field id={id} label={t(`create.${name}`)} hint={hint} error={error}>
      <input
        {...fieldAria(id, hint, error)}
        name={name}
        inputMode="numeric"
        defaultValue={value?.toString()}
      />
    </Field>
  );
}
