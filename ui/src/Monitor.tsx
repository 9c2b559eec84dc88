// The Monitor: live statuses of a submitted workflow, selection, actions, node history.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { ReactFlowProvider } from "@xyflow/react";
import {
  ApiError,
  api,
  enc,
  eventStream,
  type ActionAnswer,
  type ActionRequest,
  type CompactGraph,
  type EventOut,
  type NodeDetail,
  type NodeRow,
  type Selection,
  type WorkflowSummary,
  type ChildOut,
  currentChildren,
  ownerOf,
  serverCapabilities,
} from "./api";
import { ALLOWED, COLOURS, STATUSES, STATUS_INDEX, age, formatDuration, globToRegExp, toMs, type Action, type Status } from "./lifecycle";
import { WorkflowModel, type RunInfo } from "./model";
import { MonitorGraph } from "./MonitorGraph";
import { ErrorBoundary } from "./ErrorBoundary";
import { ContactSheetDialog } from "./Previews";
import { ConfirmDialog, type Pending } from "./ConfirmDialog";
import { DESTRUCTIVE, describe, estimate, fromAnswer, needsConfirmation, type Consequences } from "./consequences";
import { QUEUED_FILL } from "./tiles";
import { describeQuery, filterLabel, resolveFilter, toSelection, type Filter } from "./selection";
import { VirtualList } from "./VirtualList";
import { NodePanel } from "./NodePanel";
import { EditDialog } from "./EditDialog";
import { useNow } from "./clock";
import { ChildBar, childProgress } from "./ChildBar";

type BarAction = Action | "stop-hold";

const BAR_ACTIONS: { action: BarAction; key: string; label: string }[] = [
  { action: "hold", key: "h", label: "Hold" },
  { action: "unhold", key: "u", label: "Unhold" },
  { action: "skip", key: "s", label: "Skip" },
  { action: "cancel", key: "c", label: "Cancel" },
  { action: "retry", key: "r", label: "Retry" },
  { action: "revert", key: "v", label: "Revert" },
  { action: "stop-hold", key: "p", label: "Stop & hold" },
];

/** Groups collapse by default above this many nodes; the graph is off by default above GRAPH_LIMIT units. */
const COLLAPSE_ABOVE = 300;
const GRAPH_LIMIT = 6000;


export function Monitor() {
  const { id = "" } = useParams();
  const [summary, setSummary] = useState<WorkflowSummary | null>(null);
  const [model, setModel] = useState<WorkflowModel | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadMs, setLoadMs] = useState<number | null>(null);
  // The workflow the model belongs to: moving to another one (a child opened from its
  // parent, the breadcrumb back) shows nothing of the old one while the new one loads.
  const [modelOf, setModelOf] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    const t0 = performance.now();
    setModel(null);
    openWorkflow(id)
      .then(({ summary: s, model: m }) => {
        if (!alive) return;
        setSummary(s);
        setModel(m);
        setModelOf(id);
        setLoadMs(performance.now() - t0);
      })
      .catch((e) => alive && setError(String(e.message ?? e)));
    return () => {
      alive = false;
    };
  }, [id]);

  if (error) return <div className="page-error" data-testid="error">{error} <Link to="/">workflows</Link></div>;
  if (!model || !summary || modelOf !== id) return <div className="loading">Loading workflow {id}…</div>;
  return (
    <ErrorBoundary name="Monitor" resetKey={id}>
      <MonitorView key={id} id={id} model={model} summary={summary} loadMs={loadMs} onSummary={setSummary} />
    </ErrorBoundary>
  );
}

/** The last event seq, for a server whose answers do not carry `seq`: page to the end. */
export async function lastEventSeq(id: string): Promise<number> {
  let after = 0;
  for (;;) {
    const page = await api<{ items: EventOut[]; last_seq: number }>(`/workflows/${id}/events?after=${after}&limit=10000`);
    if (!page.items.length) return after;
    after = page.last_seq;
    if (page.items.length < 10000) return after;
  }
}

type RunningRow = NodeRow & { phase?: "queued" | "executing" | null; started_at?: number | string | null; attempt?: number; worker?: string | null };

/**
 * True state on open: the snapshot (summary, then graph) with the event seq it reflects, so
 * the stream resumes after it and never replays history over it. The summary's `seq` is
 * read before the graph: events after it that the graph already shows apply again harmlessly
 * (each sets a status to what it already is). A server without `seq`: the last event's seq,
 * read before the graph for the same reason.
 */
export async function openWorkflow(id: string): Promise<{ summary: WorkflowSummary; model: WorkflowModel }> {
  const s = await api<WorkflowSummary>(`/workflows/${id}`);
  const seq = typeof s.seq === "number" ? s.seq : await lastEventSeq(id);
  const g = await api<CompactGraph>(`/workflows/${id}/graph`);
  const m = new WorkflowModel(g);
  // The graph's own seq (read in its transaction) is exact: no event after it is in it.
  m.lastSeq = typeof g.seq === "number" ? g.seq : seq;
  if (m.counts[STATUS_INDEX.running]) {
    // Phases (queued or executing) and real starts of the running nodes, from the node list.
    const page = await api<{ items: RunningRow[] }>(`/workflows/${id}/nodes?status=running`).catch(() => null);
    const items = page?.items ?? [];
    if (items.length && items[0].phase !== undefined) {
      m.setRunInfos(items.map((r): [string, RunInfo] => [r.name, runInfoOf(r)]));
      m.phasesKnown = true;
    }
  }
  return { summary: s, model: m };
}

function runInfoOf(r: RunningRow): RunInfo {
  const started = toMs(r.started_at ?? null);
  const phase = r.phase === "executing" || r.phase === "queued" ? r.phase : null;
  return { attempt: r.attempt ?? 1, since: phase === "executing" && !isNaN(started) ? started : null, phase, worker: r.worker ?? null };
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
    model.n > COLLAPSE_ABOVE ? new Set(model.groupMembers.keys()) : new Set(model.autoGroups),
  );
  // The units are rebuilt and their version returned in the same render: every memo keyed
  // on it (layout, xyflow nodes, culling) sees the new units together, never the old layout
  // with the new units (expanding a 5,000-chunk group once handed xyflow `undefined` nodes).
  const unitsVersion = useMemo(() => {
    model.buildUnits(collapsed);
    return model.unitsBuilt;
  }, [model, collapsed]);
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
  const [pending, setPending] = useState<Pending | null>(null);
  // A selection made by a query (filter, status chip, select all) stays that query: it is
  // sent as such and resolved by the server when the action runs.
  const [liveQuery, setLiveQuery] = useState<Filter | null>(null);
  // Frame previews and dry runs, where the server has them (its OpenAPI schema says).
  const [previewsOn, setPreviewsOn] = useState(false);
  useEffect(() => {
    let alive = true;
    serverCapabilities().then((c) => {
      if (!alive) return;
      setPreviewsOn(c.previews);
      if (!c.dryRun) dryRunOk.current = false;
      else if (dryRunOk.current === false) dryRunOk.current = null;
    });
    return () => {
      alive = false;
    };
  }, []);
  const [sheet, setSheet] = useState<string | null>(null);
  // Sub-workflows: each `workflow` node's current child (status bar, double-click opens it),
  // and the workflows above this one (the breadcrumb back to the parent).
  const navigate = useNavigate();
  const hasChildren = model.kindSet.includes("workflow");
  const [children, setChildren] = useState<Map<string, ChildOut>>(() => new Map());
  useEffect(() => {
    if (!hasChildren) return;
    let alive = true;
    let last = "";
    const load = () =>
      api<ChildOut[]>(`/workflows/${id}/children`)
        .then((c) => {
          const text = JSON.stringify(c);
          if (!alive || text === last) return;
          last = text;
          setChildren(currentChildren(c));
        })
        .catch(() => {});
    load();
    const t = setInterval(load, 2000);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [id, hasChildren]);
  const openChild = useCallback(
    (name: string) => {
      const child = children.get(name);
      if (child) navigate(`/workflows/${child.workflow_id}`);
    },
    [children, navigate],
  );
  const [ancestors, setAncestors] = useState<{ id: string; name: string; node: string }[]>([]);
  const parentId = summary.parent?.workflow_id;
  useEffect(() => {
    let alive = true;
    (async () => {
      const chain: { id: string; name: string; node: string }[] = [];
      let link = summary.parent ?? null;
      for (let depth = 0; link && depth < 8; depth++) {
        const up = await api<WorkflowSummary>(`/workflows/${link.workflow_id}`).catch(() => null);
        if (!up) break;
        chain.unshift({ id: up.id, name: up.name, node: link.node });
        link = up.parent ?? null;
      }
      if (alive) setAncestors(chain);
    })();
    return () => {
      alive = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [parentId]);
  const [panelTab, setPanelTab] = useState<"attributes" | "attempts" | "previews">("attributes");
  // Dry runs are tried once the server's schema lists them (so no request is refused); a
  // refused dry run also turns them off.
  const dryRunOk = useRef<boolean | null>(false);
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
        "submit", "archive", "attempt-succeeded", "lease-expired",
        "child-started", "child-status", "reopen", "parent-stopped"];
      for (const t of types) es.addEventListener(t, handle as EventListener);
    };
    const handle = (m: MessageEvent) => {
      try {
        const ev = JSON.parse(m.data) as EventOut;
        if (m.lastEventId && !ev.seq) ev.seq = Number(m.lastEventId);
        model.push(ev);
        // a child started, held or ran again: the summary (status, children, rollup) moved
        if (ev.type === "child-status" || ev.type === "child-started" || ev.type === "reopen")
          api<WorkflowSummary>(`/workflows/${id}`).then(props.onSummary).catch(() => {});
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
  // register; re-read the summary now and then so nothing is missed.
  useEffect(() => {
    const t = setInterval(() => {
      api<WorkflowSummary>(`/workflows/${id}`).then(props.onSummary).catch(() => {});
    }, 5000);
    return () => clearInterval(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);

  // Attempt numbers (and, from a server without phases, phase and start) of the nodes
  // already running when the page opened.
  useEffect(() => {
    const running: string[] = [];
    for (let i = 0; i < model.n && running.length < 100; i++) if (model.status[i] === STATUS_INDEX.running) running.push(model.names[i]);
    let alive = true;
    (async () => {
      for (const name of running) {
        if (!alive) return;
        const d = await api<NodeDetail>(`/workflows/${id}/nodes/${enc(name)}`).catch(() => null);
        const a = d?.attempts?.[d.attempts.length - 1];
        if (!a) continue;
        const i = model.index.get(name)!;
        const prev = model.running.get(i);
        if (model.phasesKnown && prev) model.setRunInfo(name, { ...prev, attempt: a.number, worker: prev.worker ?? a.worker });
        else {
          const started = toMs(a.started_at);
          const executing = !isNaN(started) && !a.ended_at;
          model.setRunInfo(name, { attempt: a.number, since: executing ? started : null, phase: executing ? "executing" : "queued", worker: a.worker });
        }
      }
    })();
    return () => {
      alive = false;
    };
  }, [id, model]);

  // The model version a live selection was last resolved at (no second pass right after).
  const liveAt = useRef(-1);
  const setSelection = useCallback(
    (next: Set<number>, query: Filter | null = null) => {
      model.setSelection(next);
      liveAt.current = model.version;
      setSelectionVersion((v) => v + 1);
      setLiveQuery(query);
      // The panel follows the selection: one node focuses it; a selection without the
      // focused node (a box, Esc, another query) closes it.
      if (next.size === 1) setFocus(model.names[[...next][0]]);
      else
        setFocus((f) => {
          if (f === null) return f;
          const i = model.index.get(f);
          return i !== undefined && next.has(i) ? f : null;
        });
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

  const filterActive = filter.statuses.size > 0 || filter.glob.trim() !== "" || filter.kind !== "";
  const matches = useMemo(() => {
    if (!filterActive) return null;
    return resolveFilter(model, filter, glob.re);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [model, filter, glob, version, filterActive]);

  // A live selection follows its query as statuses change.
  useEffect(() => {
    if (!liveQuery || liveAt.current === model.version) return;
    let re: RegExp | null = null;
    try {
      re = liveQuery.glob.trim() ? globToRegExp(liveQuery.glob.trim()) : null;
    } catch {
      re = /(?!)/;
    }
    const now = resolveFilter(model, liveQuery, re);
    const cur = model.selected;
    liveAt.current = model.version;
    if (now.length === cur.size && now.every((i) => cur.has(i))) return;
    model.setSelection(new Set(now));
    liveAt.current = model.version;
    setSelectionVersion((v) => v + 1);
  }, [liveQuery, version, model]);

  // Rows in natural order (render.2 before render.10).
  const rows = useMemo(() => {
    if (matches) return matches;
    return Array.from(model.order);
  }, [matches, model]);

  const selectedStatusCounts = useMemo(() => {
    const c = new Int32Array(STATUSES.length);
    for (const i of model.selected) c[model.status[i]]++;
    return c;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [model, selectionVersion, version]);

  // Revert needs a patch: how many of the selection have one, as the server counts it (a
  // dry run of revert), where that is known; the table's count otherwise.
  const [revertable, setRevertable] = useState<{ v: number; n: number } | null>(null);
  useEffect(() => {
    setRevertable(null);
    const sel = model.selected;
    // Large selections keep the table's count (a dry run of thousands of names on every
    // selection change would load the server); their confirmation still counts exactly.
    if (!sel.size || sel.size > REVERT_COUNT_MAX) return;
    const selVersion = selectionVersion;
    const t = setTimeout(async () => {
      const names = [...sel].map((i) => model.names[i]);
      if (dryRunOk.current !== false) {
        const ans = await dryRun(id, { action: "revert" }, { names }).catch(() => null);
        if (ans && ans.dry_run) {
          dryRunOk.current = true;
          setRevertable({ v: selVersion, n: fromAnswer(ans).direct });
          return;
        }
        if (ans === null) dryRunOk.current = false;
      }
      if (names.length <= 50) {
        const details = await Promise.all(names.map((n) => api<NodeDetail>(`/workflows/${id}/nodes/${enc(n)}`).catch(() => null)));
        setRevertable({ v: selVersion, n: details.filter((d) => d && d.allowed_actions.includes("revert") && Object.keys(d.patch ?? {}).length).length });
      }
    }, 150);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [selectionVersion, id, model]);

  const applicable = useCallback(
    (action: BarAction) => {
      if (action === "stop-hold") return selectedStatusCounts[STATUS_INDEX.running];
      let k = 0;
      STATUSES.forEach((s, idx) => {
        if (ALLOWED[s].has(action)) k += selectedStatusCounts[idx];
      });
      if (action === "revert" && revertable && revertable.v === selectionVersion) k = Math.min(k, revertable.n);
      return k;
    },
    [selectedStatusCounts, revertable, selectionVersion],
  );

  /** The selection as the server should resolve it: the live query, or the names. */
  const currentSelection = useCallback(
    (action: BarAction): Selection | null => {
      if (liveQuery) {
        const q = toSelection(liveQuery);
        if (action === "stop-hold") {
          if (q.status && !q.status.includes("running")) return null;
          q.status = ["running"];
        }
        return q;
      }
      let idx = [...model.selected];
      if (action === "stop-hold") idx = idx.filter((i) => model.status[i] === STATUS_INDEX.running);
      if (!idx.length) return null;
      return { names: idx.map((i) => model.names[i]) };
    },
    [liveQuery, model],
  );

  const runAction = useCallback(
    async (req: Omit<ActionRequest, "selection">, selection: Selection) => {
      setBusy(true);
      setActionError(null);
      try {
        const ans = await api<ActionAnswer>(`/workflows/${id}/actions`, {
          method: "POST",
          json: { ...req, selection },
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

  /**
   * An action with its consequences: skip, cancel, retry, revert, replay, update and stop &
   * hold on more than one node, or with a cascade, are confirmed first with what they will
   * do (the server's dry run; an estimate from the graph on a server without one).
   */
  const request = useCallback(
    async (action: BarAction, req: Omit<ActionRequest, "selection">, selection: Selection | null, label?: string) => {
      if (!selection) return;
      if (!DESTRUCTIVE.has(action)) return runAction(req, selection);
      setActionError(null);
      let c: Consequences | null = null;
      if (dryRunOk.current !== false) {
        try {
          const ans = await dryRun(id, req, selection);
          if (ans.dry_run) {
            dryRunOk.current = true;
            c = fromAnswer(ans);
          } else dryRunOk.current = false;
        } catch (e) {
          if (e instanceof ApiError && /dry_run/.test(e.message + JSON.stringify(e.details ?? ""))) dryRunOk.current = false;
          else {
            setActionError((e as Error).message);
            return;
          }
        }
      }
      if (!c) c = await localEstimate(id, model, action, req, selection);
      if (!needsConfirmation(action, c)) return runAction(req, selection);
      return new Promise<ActionAnswer | undefined>((resolve) => {
        setPending({
          action,
          text: describe(action, c!, req.target),
          consequences: c!,
          query: "names" in selection && selection.names ? null : label ?? describeQuery(selection),
          confirm: async () => {
            setPending(null);
            resolve(await runAction(req, selection));
          },
          cancel: () => {
            setPending(null);
            resolve(undefined);
          },
        });
      });
    },
    [id, model, runAction],
  );

  const barAction = useCallback(
    (action: BarAction) => {
      const req: Omit<ActionRequest, "selection"> = action === "stop-hold" ? { action: "retry", target: "holding" } : { action };
      return request(action, req, currentSelection(action), liveQuery ? filterLabel(liveQuery) : undefined);
    },
    [request, currentSelection, liveQuery],
  );

  // The node panel's revert and replay act on its one node, confirmed when they cascade.
  const panelAction = useCallback(
    (req: Omit<ActionRequest, "selection">, names?: string[]) =>
      request(req.action as BarAction, req, names?.length ? { names } : currentSelection(req.action as BarAction)),
    [request, currentSelection],
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

  const onBoxSelect = useCallback(
    (units: number[], additive: boolean) => {
      const next = new Set(additive ? model.selected : []);
      for (const u of units) for (const i of model.units[u]?.members ?? []) next.add(i);
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
    setPanelTab("attributes");
    setFocus(model.names[i]);
  };

  const selectMatching = () => setSelection(new Set(matches ?? rows), filterActive ? { ...filter, statuses: new Set(filter.statuses) } : ALL);
  const selectAll = () => setSelection(new Set(model.order), ALL);
  const clearSelection = () => setSelection(new Set());

  // Keyboard shortcuts (none while a confirmation or the edit dialog is open).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) {
        if (e.key === "Escape") t.blur();
        return;
      }
      if (e.ctrlKey || e.metaKey || e.altKey || editing || pending || sheet) return;
      const k = e.key.toLowerCase();
      if (k === "escape") {
        clearSelection();
        setFocus(null);
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
      if (act && applicable(act.action) > 0 && !busy) barAction(act.action);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  const counts = model.counts;
  const done = counts[STATUS_INDEX.succeeded] + counts[STATUS_INDEX.skipped];
  // A parent whose running nodes follow held children reports holding: the server knows.
  const wfStatus = (hasChildren ? null : deriveStatus(model)) ?? summary.status;
  const rolled = summary.children?.length && summary.rollup ? childProgress(summary.rollup) : null;
  const now = useNow(true);
  const created = toMs(summary.created_at);
  // The clock stops when the workflow is over; a holding workflow is not over.
  const finished = wfStatus === "succeeded" || wfStatus === "failed";
  const [endAt, setEndAt] = useState<number | null>(null);
  useEffect(() => {
    setEndAt(finished ? Date.now() : null);
  }, [finished]);
  const elapsed = Math.max(0, ((endAt ?? now) - created) / 1000); // the shared clock ticks each second
  const selCount = model.selected.size;
  const runningCount = counts[STATUS_INDEX.running];
  const phaseKnown = model.queuedCount + model.executingCount > 0 || model.phasesKnown;

  return (
    <div className="monitor" data-testid="monitor">
      <header className="topbar">
        <Link to="/" className="brand">Storm</Link>
        <span className="crumb">Monitor</span>
        {ancestors.length ? (
          <nav className="breadcrumb" data-testid="breadcrumb">
            {ancestors.map((a) => (
              <span key={a.id}>
                <Link to={`/workflows/${a.id}`} data-testid="crumb-parent" data-id={a.id}>{a.name}</Link>
                <span className="crumb"> › {a.node} › </span>
              </span>
            ))}
          </nav>
        ) : null}
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
        {rolled ? (
          <span className="rollup" data-testid="rollup" title="nodes ready at every depth: this workflow's own and its children's">
            all levels {rolled.done}/{rolled.total}
          </span>
        ) : null}
        <span className="elapsed" title="elapsed since submission" data-testid="wf-elapsed">elapsed {formatDuration(elapsed)}</span>
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
            {s === "running" && runningCount && phaseKnown ? (
              <span className="phases" title="running nodes: started on a worker, and waiting for a slot">
                (<span data-testid="count-executing">{model.executingCount} executing</span> ·{" "}
                <i style={{ background: QUEUED_FILL, borderColor: COLOURS.running.border }} />
                <span data-testid="count-queued">{model.queuedCount} queued</span>)
              </span>
            ) : null}
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
            <button data-testid="select-matching" onClick={selectMatching} disabled={!matches.length} title="select them as this query: an action acts on what it matches then">
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
        {liveQuery ? (
          <span className="livesel" data-testid="live-selection" title="a live selection: the server resolves it when an action runs">
            ⟳ {filterLabel(liveQuery)}
          </span>
        ) : null}
        {BAR_ACTIONS.map(({ action, key, label }) => {
          const k = applicable(action);
          return (
            <button
              key={action}
              data-testid={"action-" + action}
              disabled={!k || busy}
              title={`${label} (${key}) — applies to ${k} of ${selCount}` + (action === "stop-hold" ? ": stops the running attempt and holds the node (a retry to holding)" : "")}
              onClick={() => barAction(action)}
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
      <div className="monitor-main">
        {answer ? <AnswerBanner answer={answer} onClose={() => setAnswer(null)} /> : null}
        {view !== "list" ? (
          <div className="graph-pane" data-testid="graph">
            <ErrorBoundary name="graph" resetKey={unitsVersion}>
              <ReactFlowProvider>
                <MonitorGraph
                  model={model}
                  unitsVersion={unitsVersion}
                  selectionVersion={selectionVersion}
                  onSelectUnits={onSelectUnits}
                  onUnitClick={onUnitClick}
                  onPaneClick={() => {}}
                  toggleGroup={toggleGroup}
                  onOpenSheet={previewsOn ? setSheet : undefined}
                  onBoxSelect={onBoxSelect}
                  previewsOf={previewsOn ? id : undefined}
                  childWorkflows={hasChildren ? children : undefined}
                  onOpenChild={openChild}
                />
              </ReactFlowProvider>
            </ErrorBoundary>
          </div>
        ) : null}
        {view !== "graph" ? (
          <div className={"list-pane" + (view === "list" ? " full" : "")}>
            <div className="list-head lrow lhead">
              <i className="dot" />
              <span className="lname">{rows.length} nodes{matches ? " matching" : ""}</span>
              <span className="lkind">kind</span>
              <span className="lstatus">status</span>
              <span className="lattempt">attempt</span>
              <span className="ldur">duration</span>
              <span className="lhost">host</span>
            </div>
            <VirtualList
              items={rows}
              rowHeight={26}
              testId="node-list"
              render={(i) => {
                const st = model.statusOf(i);
                const run = model.running.get(i);
                const phase = run?.phase ?? null;
                return (
                  <div
                    className={"lrow" + (model.selected.has(i) ? " selected" : "") + (focus === model.names[i] ? " focus" : "")}
                    data-testid="list-row"
                    data-name={model.names[i]}
                    data-status={st}
                    data-phase={phase ?? undefined}
                    onClick={(e) => onRowClick(i, e)}
                    onDoubleClick={() => openChild(model.names[i])}
                  >
                    <i className="dot" style={{ background: phase === "queued" ? QUEUED_FILL : COLOURS[st].fill, borderColor: COLOURS[st].border }} />
                    <span className="lname">{model.names[i]}</span>
                    <span className="lkind">{model.kinds[i]}</span>
                    <span className={"lstatus s-" + st}>{phase ?? st}</span>
                    {children.has(model.names[i]) ? <ChildBar child={children.get(model.names[i])!} compact /> : null}
                    <span className="lattempt">{run ? `#${run.attempt}` : "–"}</span>
                    <span className="ldur" data-testid="row-duration">{run && run.since !== null ? formatDuration((now - run.since) / 1000) : "–"}</span>
                    <span className="lhost" title={run?.worker ?? undefined}>{run?.worker ?? "–"}</span>
                  </div>
                );
              }}
            />
          </div>
        ) : null}
        {focus ? (
          <NodePanel
            key={focus + ":" + panelTab}
            workflowId={id}
            name={focus}
            model={model}
            onClose={() => setFocus(null)}
            runAction={panelAction}
            previews={previewsOn}
            tab={panelTab}
            onOpenSheet={setSheet}
          />
        ) : null}
      </div>
      {editing ? (
        <EditDialog
          workflowId={id}
          model={model}
          onClose={() => setEditing(false)}
          onSubmit={async (patch, target) => {
            const ans = await request("update", { action: "update", patch, target }, currentSelection("update"), liveQuery ? filterLabel(liveQuery) : undefined);
            if (ans) setEditing(false);
          }}
        />
      ) : null}
      {pending ? <ConfirmDialog pending={pending} busy={busy} /> : null}
      {sheet ? (
        <ContactSheetDialog
          workflowId={id}
          group={sheet}
          onClose={() => setSheet(null)}
          onOpenNode={(node) => {
            setSheet(null);
            const i = model.index.get(node);
            if (i !== undefined) setSelection(new Set([i]));
            setPanelTab("attempts");
            setFocus(node);
          }}
        />
      ) : null}
      <footer className="hint">
        keys: h hold · u unhold · s skip · c cancel · r retry · v revert · p stop &amp; hold · e edit · a select all · / filter · Esc clear ·
        shift-drag box select · shift/ctrl-click add · created {age(summary.created_at)} ago by {ownerOf(summary) ?? "?"}
      </footer>
    </div>
  );
}

const REVERT_COUNT_MAX = 2000;

const ALL: Filter = { statuses: new Set(), glob: "", kind: "" };

function dryRun(id: string, req: Omit<ActionRequest, "selection">, selection: Selection): Promise<ActionAnswer> {
  return api<ActionAnswer>(`/workflows/${id}/actions`, { method: "POST", json: { ...req, selection, dry_run: true } });
}

/** The consequences estimated from the graph (a server without dry runs). */
async function localEstimate(id: string, model: WorkflowModel, action: BarAction, req: Omit<ActionRequest, "selection">, selection: Selection): Promise<Consequences> {
  let idx: number[];
  if (selection.names) idx = selection.names.map((n) => model.index.get(n)).filter((i): i is number => i !== undefined);
  else {
    let re: RegExp | null = null;
    try {
      re = selection.glob ? globToRegExp(selection.glob) : null;
    } catch {
      re = /(?!)/;
    }
    idx = resolveFilter(model, { statuses: new Set(selection.status ?? []), glob: "", kind: selection.kind?.[0] ?? "" }, re);
  }
  let patched: Map<number, boolean> | null = null;
  if (action === "revert" && idx.length <= 50) {
    patched = new Map();
    const details = await Promise.all(idx.map((i) => api<NodeDetail>(`/workflows/${id}/nodes/${enc(model.names[i])}`).catch(() => null)));
    details.forEach((d, k) => d && patched!.set(idx[k], Object.keys(d.patch ?? {}).length > 0));
  }
  void req;
  return estimate(action, idx, (i) => model.statusOf(i), (i) => model.children(i), patched ? (i) => patched!.get(i) ?? null : undefined);
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
