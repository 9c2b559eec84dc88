// The confirmation of a batch action: what it will do, counted now. Enter confirms, Esc cancels.
import { useEffect, useRef } from "react";
import type { Consequences } from "./consequences";

export interface Pending {
  action: string;
  text: string;
  consequences: Consequences;
  /** The live query the selection is (null: a list of names). */
  query: string | null;
  confirm: () => void;
  cancel: () => void;
}

export function ConfirmDialog({ pending, busy }: { pending: Pending; busy: boolean }) {
  const c = pending.consequences;
  const nothing = c.direct === 0;
  const ok = useRef<HTMLButtonElement>(null);
  const latest = useRef(pending);
  latest.current = pending;
  useEffect(() => {
    ok.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopImmediatePropagation();
        latest.current.cancel();
      } else if (e.key === "Enter") {
        e.preventDefault();
        e.stopImmediatePropagation();
        if (latest.current.consequences.direct > 0) latest.current.confirm();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, []);
  return (
    <div className="modal-back" onMouseDown={(e) => e.target === e.currentTarget && pending.cancel()}>
      <div className="modal confirm" role="alertdialog" aria-modal="true" data-testid="confirm-dialog" data-action={pending.action}>
        <h2 data-testid="confirm-text">{pending.text}</h2>
        {pending.query ? (
          <p className="small" data-testid="confirm-query">
            Live selection <b>{pending.query}</b>: resolves to {c.selected.toLocaleString("en-US")} node{c.selected === 1 ? "" : "s"} now, and again
            when the action runs.
          </p>
        ) : null}
        {c.ineligible.length ? (
          <ul className="small ineligible" data-testid="confirm-ineligible">
            {c.ineligible.slice(0, 6).map((r) => (
              <li key={r.reason}>
                {r.count.toLocaleString("en-US")} left alone: {r.reason}
              </li>
            ))}
          </ul>
        ) : null}
        <p className="muted small">{c.exact ? "Counted by the server now (a dry run: nothing changed yet)." : "Estimated from the graph (this server has no dry run)."}</p>
        <div className="buttons">
          <button ref={ok} className="primary" data-testid="confirm-ok" disabled={nothing || busy} onClick={pending.confirm}>
            {nothing ? "Nothing to do" : "Confirm (Enter)"}
          </button>
          <button data-testid="confirm-cancel" onClick={pending.cancel}>
            Cancel (Esc)
          </button>
        </div>
      </div>
    </div>
  );
}
