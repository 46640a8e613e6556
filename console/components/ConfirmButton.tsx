/**
 * A button for a destructive action that asks first, in a modal `<dialog>` (focus moves into it and
 * returns after; Escape cancels). `onConfirm` runs only after the second click.
 *
 * @module
 */
/// <reference lib="dom" />
import { useRef } from "preact/hooks";

export function ConfirmButton(
  { id, label, title, message, confirmLabel, cancelLabel, disabled, onConfirm }: {
    /** Prefix of the dialog's element ids; unique in the page. */
    id: string;
    label: string;
    title: string;
    message: string;
    confirmLabel: string;
    cancelLabel: string;
    disabled?: boolean;
    onConfirm: () => void;
  },
) {
  const dialog = useRef<HTMLDialogElement>(null);
  return (
    <>
      <button
        type="button"
        class="btn btn-danger"
        id={`${id}-open`}
        disabled={disabled}
        onClick={() => dialog.current?.showModal()}
      >
        {label}
      </button>
      <dialog
        ref={dialog}
        class="dialog"
        aria-labelledby={`${id}-title`}
        aria-describedby={`${id}-message`}
        onClose={() => {
          if (dialog.current?.returnValue === "confirm") onConfirm();
        }}
      >
        <form method="dialog">
          <h2 id={`${id}-title`}>{title}</h2>
          <p id={`${id}-message`}>{message}</p>
          <div class="actions">
            <button type="submit" value="cancel" class="btn" autofocus>{cancelLabel}</button>
            <button type="submit" value="confirm" class="btn btn-danger" id={`${id}-confirm`}>
              {confirmLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
