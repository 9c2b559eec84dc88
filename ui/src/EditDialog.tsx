// The Monitor's edit dialog: patch the parameters of the selection, with the three update options.
import { useEffect, useMemo, useState } from "react";
import { api, enc, type NodeDetail } from "./api";
import { EDIT_FIELDS, MIXED, fromText, sharedValue, toText } from "./fields";
import { ALLOWED, RETRYABLE, START, STATUSES } from "./lifecycle";
import type { WorkflowModel } from "./model";

const SAMPLE = 100;

export function EditDialog(props: {
  workflowId: string;
  model: WorkflowModel;
  onClose: () => void;
  onSubmit: (patch: Record<string, unknown>, target: "submitted" | "open" | "holding") => Promise<void>;
}) {
  const { model } = props;
  const sel = useMemo(() => [...model.selected].filter((i) => ALLOWED[model.statusOf(i)].has("update")), [model]);
  const [configs, setConfigs] = useState<Record<string, unknown>[] | null>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  const [dirty, setDirty] = useState<Set<string>>(new Set());
  const [extra, setExtra] = useState("");
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let alive = true;
    const names = sel.slice(0, SAMPLE).map((i) => model.names[i]);
    Promise.all(names.map((n) => api<NodeDetail>(`/workflows/${props.workflowId}/nodes/${enc(n)}`).then((d) => d.current)))
      .then((cs) => {
        if (!alive) return;
        setConfigs(cs);
        const v: Record<string, string> = {};
        for (const f of EDIT_FIELDS) {
          const s = sharedValue(cs, f.key);
          v[f.key] = s === MIXED ? "" : toText(f.type, s);
        }
        setValues(v);
      })
      .catch((e) => alive && setErr(e.message));
    return () => {
      alive = false;
    };
  }, [sel, model, props.workflowId]);

  const byStatus = useMemo(() => {
    const c: Record<string, number> = {};
    for (const i of sel) c[model.statusOf(i)] = (c[model.statusOf(i)] ?? 0) + 1;
    return c;
  }, [sel, model]);
  const retried = STATUSES.filter((s) => RETRYABLE.has(s)).reduce((k, s) => k + (byStatus[s] ?? 0), 0);
  const fresh = STATUSES.filter((s) => START.has(s)).reduce((k, s) => k + (byStatus[s] ?? 0), 0);

  const submit = async (target: "submitted" | "open" | "holding") => {
    const patch: Record<string, unknown> = {};
    for (const f of EDIT_FIELDS) {
      if (!dirty.has(f.key)) continue;
      const v = fromText(f.type, values[f.key] ?? "");
      patch[f.key] = v === undefined ? null : v;
    }
    if (extra.trim()) {
      try {
        Object.assign(patch, JSON.parse(extra));
      } catch {
        setErr("the extra patch is not a JSON object");
        return;
      }
    }
    // An edit that changes nothing is still sent: the nodes are retried (the running and
    // finished ones) or re-targeted, with the chosen target (holding: stop and hold).
    setBusy(true);
    setErr(null);
    try {
      await props.onSubmit(patch, target);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="modal-back" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div className="modal" data-testid="edit-dialog" role="dialog" onKeyDown={(e) => e.key === "Escape" && props.onClose()}>
        <h2>
          Edit {sel.length} node{sel.length === 1 ? "" : "s"}
        </h2>
        <p className="muted small">
          {Object.entries(byStatus)
            .map(([s, n]) => `${n} ${s}`)
            .join(" · ")}
          {configs && sel.length > SAMPLE ? ` — shared values read from the first ${SAMPLE}` : ""}
        </p>
        {retried ? (
          <div className="warn" data-testid="edit-warning">
            {retried} running or finished node{retried === 1 ? "" : "s"} will be stopped if running, snapshotted and retried, and their
            downstream nodes cascaded (retried too).
          </div>
        ) : null}
        {fresh ? <p className="muted small">{fresh} not-yet-run node(s) just take the new values.</p> : null}
        {!configs ? <p>Loading current values…</p> : null}
        {configs ? (
          <div className="form">
            {EDIT_FIELDS.map((f) => {
              const mixed = sharedValue(configs, f.key) === MIXED;
              const multi = f.type === "kv" || f.type === "commands" || f.type === "lines";
              const common = {
                value: values[f.key] ?? "",
                placeholder: mixed && !dirty.has(f.key) ? "(mixed values — leave to keep each)" : f.hint ?? "",
                className: (mixed && !dirty.has(f.key) ? "mixed " : "") + (dirty.has(f.key) ? "dirty" : ""),
                "data-testid": "edit-" + f.key,
                onChange: (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => {
                  setValues((v) => ({ ...v, [f.key]: e.target.value }));
                  setDirty((d) => new Set(d).add(f.key));
                },
              };
              return (
                <label key={f.key} className="field">
                  <span>
                    {f.label}
                    {mixed ? <em className="mixed-tag">mixed</em> : null}
                  </span>
                  {multi ? <textarea rows={3} {...common} /> : <input {...common} />}
                </label>
              );
            })}
            <label className="field">
              <span>extra patch (JSON merge patch)</span>
              <input value={extra} onChange={(e) => setExtra(e.target.value)} placeholder='{"output": "renders_v2/"}' />
            </label>
          </div>
        ) : null}
        {err ? <div className="err" data-testid="edit-error">{err}</div> : null}
        <div className="buttons">
          <button className="primary" disabled={busy || !configs} data-testid="update" onClick={() => submit("submitted")} title="back to each node's submitted status">
            Update
          </button>
          <button disabled={busy || !configs} data-testid="update-holding" onClick={() => submit("holding")}>
            Update with holding
          </button>
          <button disabled={busy || !configs} data-testid="update-open" onClick={() => submit("open")}>
            Update with open
          </button>
          <span className="spacer" />
          <button onClick={props.onClose}>Cancel</button>
        </div>
      </div>
    </div>
  );
}
