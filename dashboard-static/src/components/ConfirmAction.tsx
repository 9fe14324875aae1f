/**
 * An action button that asks first: a modal <dialog> (focus stays inside, Escape closes it)
 * with Confirm and Back. Confirm runs the action: a submitted request is shown with its status
 * in the status region and followed to its end; an error goes to the alert region.
 */
import type { ComponentChildren } from 'preact';
import { useRef, useState } from 'preact/hooks';
import type { Submitted } from '../api.js';
import { clearAlert, showAlert, showMessage, track } from '../outcomes.js';

export type ActionResult = Submitted | { readonly message: string } | void;

export interface ConfirmActionProps {
  /** The button's name (e.g. Stop). */
  readonly label: string;
  /** The dialog's question. */
  readonly title: string;
  readonly children?: ComponentChildren;
  /** What to do on Confirm; throw to refuse (the dialog stays open with the message). */
  readonly run: () => Promise<ActionResult>;
  /** After the action (and, for a request, its end). */
  readonly done?: () => void;
  readonly danger?: boolean;
  readonly disabled?: boolean;
  /** Extra words for the button's accessible description (e.g. which row). */
  readonly describe?: string;
}

export function ConfirmAction(props: ConfirmActionProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | undefined>(undefined);

  const open = (): void => {
    setProblem(undefined);
    dialog.current?.showModal();
  };
  const close = (): void => dialog.current?.close();

  const confirm = async (): Promise<void> => {
    setBusy(true);
    setProblem(undefined);
    clearAlert();
    let result: ActionResult;
    try {
      result = await props.run();
    } catch (err) {
      setBusy(false);
      if (err instanceof Error && err.name === 'InvalidInput') {
        setProblem(err.message);
        return;
      }
      close();
      showAlert(err);
      return;
    }
    setBusy(false);
    close();
    if (result !== undefined && 'requestId' in result) {
      await track(result.requestId, props.label, result.status);
    } else if (result !== undefined && 'message' in result) {
      showMessage(result.message);
    }
    props.done?.();
  };

  return (
    <>
      <button type="button" class={props.danger === true ? 'danger' : undefined} onClick={open} disabled={props.disabled} title={props.describe}>
        {props.label}
      </button>
      <dialog ref={dialog} aria-label={props.title} onClose={() => setBusy(false)}>
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            void confirm();
          }}
        >
          <h2>{props.title}</h2>
          {props.children}
          {problem !== undefined && (
            <p role="alert" class="error">
              {problem}
            </p>
          )}
          <div class="dialog-buttons">
            <button type="submit" class={props.danger === true ? 'danger' : 'primary'} disabled={busy}>
              Confirm
            </button>
            <button type="button" onClick={close}>
              Back
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/** An error for bad input typed into a dialog: shown in the dialog, which stays open. */
export function invalidInput(message: string): Error {
  const err = new Error(message);
  err.name = 'InvalidInput';
  return err;
}
