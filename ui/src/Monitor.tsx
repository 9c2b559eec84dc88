// The Monitor: live statuses of a submitted workflow, selection, actions, node history.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { Link, useParams } from "react-router-dom";
import { ReactFlowProvider } from "@xyflow/react";
import {
  api,
  enc,
  eventStream,
  type ActionAnswer,
  type ActionRequest,
  type CompactGraph,
  type EventOut,
  type NodeDetail,
  type WorkflowSummary,
} from "./api";
import { ALLOWED, COLOURS, STATUSES, STATUS_INDEX, age, formatDuration, globToRegExp, toMs, type Action, type Status } from "./lifecycle";
import { WorkflowModel } from "./model";
import { MonitorGraph } from "./MonitorGraph";
import { VirtualList } from "./VirtualList";
import { NodePanel } from "./NodePanel";
import { EditDialog } from "./EditDialog";
import { useNow } from "./clock";

const BAR_ACTIONS: { action: Action; key: string; label: string }[] = [
  { action: "hold", key: "h", label: "Hold" },
  { action: "unhold", key: "u", label: "Unhold" },
  { action: "skip", key: "s", label: "Skip" },
  { action: "cancel", key: "c", label: "Cancel" },
  { action: "retry", key: "r", label: "Retry" },
  { action: "revert", key: "v", label: "Revert" },
];

/** Groups collapse by default above this many nodes; the graph is off by default above GRAPH_LIMIT units. */
const COLLAPSE_ABOVE = 300;
const GRAPH_LIMIT = 6000;

interface Filter {
  statuses: Set<Status>;
  glob: string;
  kind: string;
}

export function Monitor() {
  const { id = "" } = useParams();
  const [summary, setSummary] = useState<WorkflowSummary | null>(null);
  const [model, setModel] = useState<WorkflowModel | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadMs, setLoadMs] = useState<number | null>(null);

  useEffect(() => {
    let alive = true;
    const t0 = performance.now();
    setModel(null);
    Promise.all([api<WorkflowSummary>(`/workflows/${id}`), api<CompactGraph>(`/workflows/${id}/graph`)])
      .then(async ([s, g]) => {
        if (!alive) return;
        const m = new WorkflowModel(g);
        // Events up to now: where the stream resumes.
        const ev = await api<{ items: EventOut[]; last_seq: number }>(`/workflows/${id}/events?after=0&limit=1`).catch(() => null);
        m.lastSeq = ev?.last_seq ?? 0;
        setSummary(s);
        setModel(m);
        setLoadMs(performance.now() - t0);
      })
      .catch((e) => alive && setError(String(e.message ?? e)));
    return () => {
      alive = false;
    };
  }, [id]);

  if (error) return <div className="page-error" data-testid="error">{error} <Link to="/">workflows</Link></div>;
  if (!model || !summary) return <div className="loading">Loading workflow {id}…</div>;
  return <MonitorView key={id} id={id} model={model} summary={summary} loadMs={loadMs} onSummary={setSummary} />;
}

function MonitorView(props: {
  id: string;
  model: WorkflowModel;
  summary: WorkflowSummary;
  loadMs: number | null;
  onSummary: (s: WorkflowSummary) => void;
}) {
  const { id, model, summary } = props;
  const version = useSyncExternalStore(
    useCallback((cb: () => void) => model.subscribe(cb), [model]),
    model.getVersion,
  );
  const [collapsed, setCollapsed] = useState<Set<string>>(() =>
    model.n > COLLAPSE_ABOVE ? new Set(model.groupMembers.keys()) : new Set(),
  );
  const [unitsVersion, setUnitsVersion] = useState(0);
  useMemo(() => {
    model.buildUnits(collapsed);
  }, [model, collapsed]);
  useEffect(() => setUnitsVersion((v) => v + 1), [collapsed]);
  const [view, setView] = useState<"graph" | "list" | "both">(() => {
    const asked = new URLSearchParams(window.location.search).get("view");
    if (asked === "graph" || asked === "list" || asked === "both") return asked;
    return model.units.length > GRAPH_LIMIT ? "list" : model.n > 2000 ? "both" : "graph";
  });
  const [selectionVersion, setSelectionVersion] = useState(0);
  const [focus, setFocus] = useState<string | null>(null);
  const [filter, setFilter] = useState<Filter>({ statuses: new Set(), glob: "", kind: "" });
  const [answer, setAnswer] = useState<ActionAnswer | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [live, setLive] = useState(false);
  const filterRef = useRef<HTMLInputElement>(null);
  const anchor = useRef<number | null>(null);

  // Live events over SSE, applied once per animation frame.
  useEffect(() => {
    let es: EventSource | null = null;
    let closed = false;
    const open = () => {
      es = eventStream(id, model.lastSeq);
      es.onopen = () => setLive(true);
      es.onmessage = (m) => handle(m);
      es.onerror = () => {
        setLive(false);
        if (es && es.readyState === EventSource.CLOSED && !closed) setTimeout(() => !closed && open(), 2000);
      };
      const types = ["run", "succeed", "fail", "attempt-started", "attempt-failed", "attempt-lost", "attempt-stopped",
        "hold", "unhold", "skip", "cancel", "update", "retry", "revert", "replay", "cascade", "stale-result",
        "submit", "archive", "attempt-succeeded", "lease-expired"];
      for (const t of types) es.addEventListener(t, handle as EventListener);
    };
    const handle = (m: MessageEvent) => {
      try {
        const ev = JSON.parse(m.data) as EventOut;
        if (m.lastEventId && !ev.seq) ev.seq = Number(m.lastEventId);
        model.push(ev);
      } catch {
        /* a keepalive or unknown payload */
      }
    };
    open();
    return () => {
      closed = true;
      es?.close();
      model.dispose();
    };
  }, [id, model]);

  // Unknown event types (new ones the server adds) arrive as named events we did not
  // register; re-read the graph now and then so nothing is missed.
  useEffect(() => {
    const t = setInterval(() => {
      api<WorkflowSummary>(`/workflows/${id}`).then(props.onSummary).catch(() => {});
    }, 5000);
    return () => clearInterval(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);

  // Attempt numbers and start times of the nodes already running when the page opened.
  useEffect(() => {
    const running: string[] = [];
    for (let i = 0; i < model.n && running.length < 100; i++) if (model.status[i] === STATUS_INDEX.running) running.push(model.names[i]);
    let alive = true;
    (async () => {
      for (const name of running) {
        if (!alive) return;
        const d = await api<NodeDetail>(`/workflows/${id}/nodes/${enc(name)}`).catch(() => null);
        const a = d?.attempts?.[d.attempts.length - 1];
        if (a) model.setRunInfo(name, { attempt: a.number, since: toMs(a.started_at ?? a.created_at) || Date.now() });
      }
    })();
    return () => {
      alive = false;
    };
  }, [id, model]);

  const setSelection = useCallback(
    (next: Set<number>) => {
      model.setSelection(next);
      setSelectionVersion((v) => v + 1);
      if (next.size === 1) setFocus(model.names[[...next][0]]);
    },
    [model],
  );

  // The name glob as a pattern; an invalid one (a reversed range such as "[z-a]") matches
  // nothing, as fnmatch does, and the field says why.
  const glob = useMemo((): { re: RegExp | null; error: string | null } => {
    const text = filter.glob.trim();
    if (!text) return { re: null, error: null };
    try {
      return { re: globToRegExp(text), error: null };
    } catch (e) {
      return { re: /(?!)/, error: `invalid pattern: ${e instanceof Error ? e.message : String(e)}` };
    }
  }, [filter.glob]);

  const matches = useMemo(() => {
    const active = filter.statuses.size > 0 || filter.glob.trim() !== "" || filter.kind !== "";
    if (!active) return null;
    const re = glob.re;
    const st = new Set([...filter.statuses].map((s) => STATUS_INDEX[s]));
    const out: number[] = [];
    for (let i = 0; i < model.n; i++) {
      if (st.size && !st.has(model.status[i])) continue;
      if (filter.kind && model.kinds[i] !== filter.kind) continue;
      if (re && !re.test(model.names[i])) continue;
      out.push(i);
    }
    return out;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [model, filter, glob, version]);

  const rows = useMemo(() => {
    if (matches) return matches;
    return Array.from({ length: model.n }, (_, i) => i);
  }, [matches, model]);

  const selectedStatusCounts = useMemo(() => {
    const c = new Int32Array(STATUSES.length);
    for (const i of model.selected) c[model.status[i]]++;
    return c;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [model, selectionVersion, version]);

  const applicable = useCallback(
    (action: Action) => {
      let k = 0;
      STATUSES.forEach((s, idx) => {
        if (ALLOWED[s].has(action)) k += selectedStatusCounts[idx];
      });
      return k;
    },
    [selectedStatusCounts],
  );

  const runAction = useCallback(
    async (req: Omit<ActionRequest, "selection">, names?: string[]) => {
      const sel = names ?? [...model.selected].map((i) => model.names[i]);
      if (!sel.length) return;
      setBusy(true);
      setActionError(null);
      try {
        const ans = await api<ActionAnswer>(`/workflows/${id}/actions`, {
          method: "POST",
          json: { ...req, selection: { names: sel } },
          headers: { "Idempotency-Key": `ui-${Date.now()}-${Math.random().toString(36).slice(2)}` },
        });
        model.applyChanges(ans.changes ?? []);
        setAnswer(ans);
        api<WorkflowSummary>(`/workflows/${id}`).then(props.onSummary).catch(() => {});
        return ans;
      } catch (e) {
        setActionError((e as Error).message);
      } finally {
        setBusy(false);
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [id, model],
  );

  const toggleGroup = useCallback((g: string) => {
    setCollapsed((prev) => {
      const next = new Set(prev);
      if (next.has(g)) next.delete(g);
      else next.add(g);
      return next;
    });
  }, []);

  const onSelectUnits = useCallback(
    (changes: { u: number; selected: boolean }[]) => {
      const next = new Set(model.selected);
      for (const { u, selected } of changes) {
        const unit = model.units[u];
        if (!unit) continue;
        for (const i of unit.members) {
          if (selected) next.add(i);
          else next.delete(i);
        }
      }
      setSelection(next);
    },
    [model, setSelection],
  );

  const onUnitClick = useCallback(
    (u: number, additive: boolean) => {
      const unit = model.units[u];
      if (!unit) return;
      if (!additive) setSelection(new Set(unit.members));
      if (!unit.group) setFocus(model.names[unit.members[0]]);
    },
    [model, setSelection],
  );

  const onRowClick = (i: number, e: React.MouseEvent) => {
    let next: Set<number>;
    if (e.shiftKey && anchor.current !== null) {
      const a = rows.indexOf(anchor.current);
      const b = rows.indexOf(i);
      next = new Set(e.ctrlKey || e.metaKey ? model.selected : []);
      if (a >= 0 && b >= 0) for (let k = Math.min(a, b); k <= Math.max(a, b); k++) next.add(rows[k]);
    } else if (e.ctrlKey || e.metaKey) {
      next = new Set(model.selected);
      if (next.has(i)) next.delete(i);
      else next.add(i);
      anchor.current = i;
    } else {
      next = new Set([i]);
      anchor.current = i;
    }
    setSelection(next);
    setFocus(model.names[i]);
  };

  const selectMatching = () => setSelection(new Set(matches ?? rows));
  const selectAll = () => setSelection(new Set(Array.from({ length: model.n }, (_, i) => i)));
  const clearSelection = () => setSelection(new Set());

  // Keyboard shortcuts.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) {
        if (e.key === "Escape") t.blur();
        return;
      }
      if (e.ctrlKey || e.metaKey || e.altKey || editing) return;
      const k = e.key.toLowerCase();
      if (k === "escape") {
        clearSelection();
        setAnswer(null);
        return;
      }
      if (k === "a") {
        e.preventDefault();
        if (matches) selectMatching();
        else selectAll();
        return;
      }
      if (k === "/") {
        e.preventDefault();
        filterRef.current?.focus();
        return;
      }
      if (k === "e" && applicable("update") > 0) {
        setEditing(true);
        return;
      }
      const act = BAR_ACTIONS.find((b) => b.key === k);
      if (act && applicable(act.action) > 0 && !busy) runAction({ action: act.action });
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  const counts = model.counts;
  const done = counts[STATUS_INDEX.succeeded] + counts[STATUS_INDEX.skipped];
  const wfStatus = deriveStatus(model) ?? summary.status;
  const now = useNow(true);
  const created = toMs(summary.created_at);
  const finished = wfStatus !== "running";
  const [endAt, setEndAt] = useState<number | null>(null);
  useEffect(() => {
    setEndAt(finished ? Date.now() : null);
  }, [finished]);
  const elapsed = ((endAt ?? now) - created) / 1000;
  const selCount = model.selected.size;

  return (
    <div className="monitor" data-testid="monitor">
      <header className="topbar">
        <Link to="/" className="brand">Storm</Link>
        <span className="crumb">Monitor</span>
        <h1 data-testid="wf-name">{summary.name}</h1>
        <span className="wfid">{id}</span>
        <span className={"wfstatus s-" + wfStatus} data-testid="wf-status">{wfStatus}</span>
        {summary.expired ? (
          <span className="wfstatus s-expired" data-testid="wf-expired" title="its ttl ran out: nothing more runs, actions are refused">
            expired
          </span>
        ) : summary.expires_at ? (
          <span className="muted small" data-testid="wf-expires">
            expires in {formatDuration((toMs(summary.expires_at) - Date.now()) / 1000)}
          </span>
        ) : null}
        <div className="progress" title={`${done} of ${model.n} ready`}>
          <div className="progress-bar">
            {STATUSES.map((s, k) =>
              counts[k] ? <span key={s} style={{ width: `${(100 * counts[k]) / Math.max(1, model.n)}%`, background: COLOURS[s].fill }} /> : null,
            )}
          </div>
          <span data-testid="progress-text">{Math.round((100 * done) / Math.max(1, model.n))}% · {done}/{model.n}</span>
        </div>
        <span className="elapsed" title="elapsed since submission">elapsed {formatDuration(elapsed)}</span>
        <span className={"live" + (live ? " on" : "")} title={live ? "live updates" : "reconnecting"}>{live ? "● live" : "○ offline"}</span>
      </header>
      <div className="countsbar" data-testid="counts">
        {STATUSES.map((s, k) => (
          <button
            key={s}
            className={"count s-" + s + (filter.statuses.has(s) ? " active" : "")}
            data-testid={"count-" + s}
            title={`filter ${s}`}
            onClick={() =>
              setFilter((f) => {
                const st = new Set(f.statuses);
                if (st.has(s)) st.delete(s);
                else st.add(s);
                return { ...f, statuses: st };
              })
            }
          >
            <i style={{ background: COLOURS[s].fill, borderColor: COLOURS[s].border }} />
            {s} <b>{counts[k]}</b>
          </button>
        ))}
        <span className="spacer" />
        {props.loadMs !== null ? <span className="muted">loaded in {Math.round(props.loadMs)} ms</span> : null}
      </div>
      <div className="filterbar" data-testid="filterbar">
        <input
          ref={filterRef}
          placeholder="name glob, e.g. render.*   (/)"
          value={filter.glob}
          data-testid="filter-glob"
          aria-invalid={glob.error !== null}
          className={glob.error !== null ? "invalid" : undefined}
          title={glob.error ?? undefined}
          onChange={(e) => setFilter((f) => ({ ...f, glob: e.target.value }))}
        />
        <select value={filter.kind} data-testid="filter-kind" onChange={(e) => setFilter((f) => ({ ...f, kind: e.target.value }))}>
          <option value="">any kind</option>
          {model.kindSet.map((k) => (
            <option key={k} value={k}>{k}</option>
          ))}
        </select>
        <select
          value=""
          data-testid="filter-status"
          onChange={(e) => {
            const s = e.target.value as Status;
            if (s) setFilter((f) => ({ ...f, statuses: new Set([s]) }));
          }}
        >
          <option value="">status…</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>{s}</option>
          ))}
        </select>
        {matches ? (
          <>
            <button data-testid="select-matching" onClick={selectMatching} disabled={!matches.length}>
              Select {matches.length} matching
            </button>
            <button onClick={() => setFilter({ statuses: new Set(), glob: "", kind: "" })}>Clear filter</button>
          </>
        ) : (
          <button onClick={selectAll} data-testid="select-all">Select all (a)</button>
        )}
        <span className="spacer" />
        <div className="seg">
          {(["graph", "both", "list"] as const).map((v) => (
            <button key={v} className={view === v ? "on" : ""} data-testid={"view-" + v} onClick={() => setView(v)}>
              {v}
            </button>
          ))}
        </div>
        {model.groupMembers.size ? (
          <button
            onClick={() => setCollapsed((c) => (c.size ? new Set() : new Set(model.groupMembers.keys())))}
            data-testid="toggle-groups"
          >
            {collapsed.size ? "Expand groups" : "Collapse groups"}
          </button>
        ) : null}
      </div>
      <div className="actionbar" data-testid="actionbar">
        <span className="selcount" data-testid="selection-count">{selCount} selected</span>
        {BAR_ACTIONS.map(({ action, key, label }) => {
          const k = applicable(action);
          return (
            <button
              key={action}
              data-testid={"action-" + action}
              disabled={!k || busy}
              title={`${label} (${key}) — applies to ${k} of ${selCount}`}
              onClick={() => runAction({ action })}
            >
              {label} <span className="n">{k}</span>
            </button>
          );
        })}
        <button data-testid="action-edit" disabled={!applicable("update") || busy} onClick={() => setEditing(true)} title="Edit (e)">
          Edit… <span className="n">{applicable("update")}</span>
        </button>
        {selCount ? <button className="link" onClick={clearSelection}>clear (Esc)</button> : null}
        <span className="spacer" />
        {actionError ? <span className="err" data-testid="action-error">{actionError}</span> : null}
      </div>
      {answer ? <AnswerBanner answer={answer} onClose={() => setAnswer(null)} /> : null}
      <div className="monitor-main">
        {view !== "list" ? (
          <div className="graph-pane" data-testid="graph">
            <ReactFlowProvider>
              <MonitorGraph
                model={model}
                unitsVersion={unitsVersion}
                selectionVersion={selectionVersion}
                onSelectUnits={onSelectUnits}
                onUnitClick={onUnitClick}
                onPaneClick={() => {}}
                toggleGroup={toggleGroup}
              />
            </ReactFlowProvider>
          </div>
        ) : null}
        {view !== "graph" ? (
          <div className="list-pane">
            <div className="list-head">
              {rows.length} nodes{matches ? " matching" : ""}
            </div>
            <VirtualList
              items={rows}
              rowHeight={26}
              testId="node-list"
              render={(i) => {
                const st = model.statusOf(i);
                const run = model.running.get(i);
                return (
                  <div
                    className={"lrow" + (model.selected.has(i) ? " selected" : "") + (focus === model.names[i] ? " focus" : "")}
                    data-testid="list-row"
                    data-name={model.names[i]}
                    data-status={st}
                    onClick={(e) => onRowClick(i, e)}
                  >
                    <i className="dot" style={{ background: COLOURS[st].fill, borderColor: COLOURS[st].border }} />
                    <span className="lname">{model.names[i]}</span>
                    <span className="lkind">{model.kinds[i]}</span>
                    <span className={"lstatus s-" + st}>{st}{run ? ` #${run.attempt} ${formatDuration((now - run.since) / 1000)}` : ""}</span>
                  </div>
                );
              }}
            />
          </div>
        ) : null}
        {focus ? (
          <NodePanel
            key={focus}
            workflowId={id}
            name={focus}
            model={model}
            onClose={() => setFocus(null)}
            runAction={runAction}
          />
        ) : null}
      </div>
      {editing ? (
        <EditDialog
          workflowId={id}
          model={model}
          onClose={() => setEditing(false)}
          onSubmit={async (patch, target) => {
            const ans = await runAction({ action: "update", patch, target });
            if (ans) setEditing(false);
          }}
        />
      ) : null}
      <footer className="hint">
        keys: h hold · u unhold · s skip · c cancel · r retry · v revert · e edit · a select all · / filter · Esc clear ·
        shift-drag box select · shift/ctrl-click add · created {age(summary.created_at)} ago by {summary.owner ?? "?"}
      </footer>
    </div>
  );
}

function deriveStatus(model: WorkflowModel): string | null {
  const c = model.counts;
  const n = model.n;
  if (!n) return null;
  if (c[STATUS_INDEX.succeeded] + c[STATUS_INDEX.skipped] === n) return "succeeded";
  if (c[STATUS_INDEX.running] > 0) return "running";
  return null;
}

function AnswerBanner({ answer, onClose }: { answer: ActionAnswer; onClose: () => void }) {
  const [open, setOpen] = useState(false);
  return (
    <div className="answer" data-testid="answer">
      <b>{answer.action}</b>: {answer.selected} selected · <span data-testid="answer-changed">{answer.changed.length} changed</span> ·{" "}
      <span data-testid="answer-cascaded">{answer.cascaded.length} cascaded</span> ·{" "}
      <span data-testid="answer-ineligible">{answer.ineligible.length} ineligible</span>
      {answer.snapshots?.length ? <> · {answer.snapshots.length} snapshots</> : null}
      {answer.replayed ? " (replayed)" : ""}
      <button className="link" onClick={() => setOpen(!open)}>{open ? "less" : "details"}</button>
      <button className="link" onClick={onClose}>×</button>
      {open ? (
        <div className="answer-details">
          {answer.changed.length ? <div>changed: {answer.changed.slice(0, 50).join(", ")}{answer.changed.length > 50 ? " …" : ""}</div> : null}
          {answer.cascaded.length ? <div>cascaded: {answer.cascaded.slice(0, 50).join(", ")}{answer.cascaded.length > 50 ? " …" : ""}</div> : null}
          {answer.ineligible.slice(0, 50).map((x) => (
            <div key={x.node}>
              {x.node} ({x.status}): {x.reason}
            </div>
          ))}
        </div>
      ) : null}
    </div>
  );
}
