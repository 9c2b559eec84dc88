// The Composer: edit a draft (the authored document) as a graph, validate as you go, fix, submit.
import { createContext, memo, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import {
  Background,
  Controls,
  Handle,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeChange,
  type Node,
  type NodeChange,
  type NodeProps,
} from "@xyflow/react";
import { ApiError, api, type DocEdge, type DocNode, type Draft, type EntryOut, type WorkflowDocument } from "./api";
import { layeredLayout } from "./layout";
import { chunkNames, parseFrames } from "./frames";
import { MIXED, fieldsFor, fromText, sharedValue, toText, type FieldDef } from "./fields";
import { fieldsForKind, kindNames, loadKinds, type KindInfo } from "./kinds";
import { COLOURS } from "./lifecycle";

type CNodeData = { i: number };
type CNode = Node<CNodeData, "authored">;

interface CtxT {
  doc: WorkflowDocument;
  problems: Map<string, "error" | "warning" | "info">;
  expanded: Set<number>;
  toggle: (i: number) => void;
}
const Ctx = createContext<CtxT | null>(null);

const W = 210;
const H = 70;

function edgeEnds(e: DocEdge): [string, string, string | undefined] | null {
  if (Array.isArray(e)) return e.length >= 2 ? [String(e[0]), String(e[1]), undefined] : null;
  if (e && typeof e === "object" && "from" in e) return [String(e.from), String(e.to), e.mode];
  return null;
}

const AuthoredNode = memo(function AuthoredNode({ data, selected }: NodeProps<CNode>) {
  const { doc, problems, expanded, toggle } = useContext(Ctx)!;
  const n = (doc.nodes ?? [])[data.i] as DocNode | undefined;
  if (!n) return null;
  const name = typeof n.name === "string" ? n.name : `(node ${data.i + 1})`;
  const kind = typeof n.kind === "string" ? n.kind : "task";
  const status = n.status === "holding" ? "holding" : "open";
  const chunks = n.frames !== undefined ? chunkNames(name, n.frames, n.chunk_size) : null;
  const frames = n.frames !== undefined ? parseFrames(n.frames) : null;
  const problem = problems.get(name);
  const isOpen = expanded.has(data.i);
  const c = COLOURS[status];
  return (
    <div
      className={"cnode" + (selected ? " selected" : "") + (problem ? " p-" + problem : "")}
      data-testid="composer-node"
      data-name={name}
      style={{ width: W, minHeight: H, borderLeftColor: c.border }}
    >
      <Handle type="target" position={Position.Left} />
      <div className="nname">{name}</div>
      <div className="nmeta">
        <span className="nkind">{kind}</span>
        {status === "holding" ? <span className="badge holding">holding</span> : null}
        {typeof n.instance_type === "string" ? <span className="muted">{n.instance_type}</span> : null}
        {kind === "workflow" ? (
          <span className="muted" data-testid="subworkflow">
            {typeof n.template === "string" ? n.template : "inline"}
            {Array.isArray(n.for_each) ? ` × ${n.for_each.length}` : typeof n.for_each === "string" ? ` × ${n.for_each}` : ""}
          </span>
        ) : null}
        {problem ? <span className={"pmark " + problem} title={problem}>{problem === "error" ? "error" : problem === "warning" ? "warning" : "info"}</span> : null}
      </div>
      {chunks ? (
        <div className="chunks">
          <button
            className="expand nodrag"
            data-testid="chunk-toggle"
            onClick={(e) => {
              e.stopPropagation();
              toggle(data.i);
            }}
          >
            {isOpen ? "▾" : "▸"} {frames?.length ?? "?"} frames · {chunks.length} chunk{chunks.length === 1 ? "" : "s"}
          </button>
          {isOpen ? (
            <div className="chunk-list nowheel" data-testid="chunk-list">
              {chunks.slice(0, 200).map((c) => (
                <span key={c} className="chunk">{c}</span>
              ))}
              {chunks.length > 200 ? <span className="muted">… {chunks.length - 200} more</span> : null}
            </div>
          ) : null}
        </div>
      ) : null}
      <Handle type="source" position={Position.Right} />
    </div>
  );
});
const nodeTypes = { authored: AuthoredNode };

export function Composer() {
  const { draftId = "" } = useParams();
  const [draft, setDraft] = useState<Draft | null>(null);
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    api<Draft>(`/drafts/${draftId}`).then(setDraft).catch((e) => setErr(e.message));
  }, [draftId]);
  if (err) return <div className="page-error" data-testid="error">{err} <Link to="/">workflows</Link></div>;
  if (!draft) return <div className="loading">Loading draft {draftId}…</div>;
  return (
    <ReactFlowProvider>
      <ComposerView draft={draft} />
    </ReactFlowProvider>
  );
}

function ComposerView({ draft }: { draft: Draft }) {
  const navigate = useNavigate();
  const [doc, setDoc] = useState<WorkflowDocument>(() => normalise(draft.document));
  const [entries, setEntries] = useState<EntryOut[]>(draft.entries ?? []);
  const [validating, setValidating] = useState(false);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [selEdges, setSelEdges] = useState<Set<string>>(new Set());
  const [expanded, setExpanded] = useState<Set<number>>(new Set());
  const [moved, setMoved] = useState<Map<number, { x: number; y: number }>>(new Map());
  const [saved, setSaved] = useState<"saved" | "saving" | "unsaved">("saved");
  const [submitErr, setSubmitErr] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const gen = useRef(0);
  const first = useRef(true);

  const nodes = doc.nodes ?? [];
  const nameOf = (n: DocNode, i: number) => (typeof n.name === "string" ? n.name : `(node ${i + 1})`);
  const indexByName = useMemo(() => {
    const m = new Map<string, number>();
    nodes.forEach((n, i) => {
      const nm = nameOf(n, i);
      if (!m.has(nm)) m.set(nm, i);
    });
    return m;
  }, [nodes]);

  // Validate (debounced) and save the draft (debounced longer) on every change.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const g = ++gen.current;
    setSaved("unsaved");
    const tv = setTimeout(() => {
      setValidating(true);
      api<{ entries: EntryOut[] }>("/validate", { method: "POST", json: doc })
        .then((r) => g === gen.current && setEntries(r.entries))
        .catch(() => {})
        .finally(() => g === gen.current && setValidating(false));
    }, 250);
    const ts = setTimeout(() => {
      setSaved("saving");
      api<Draft>(`/drafts/${draft.id}`, { method: "PUT", json: doc })
        .then(() => g === gen.current && setSaved("saved"))
        .catch(() => setSaved("unsaved"));
    }, 1200);
    return () => {
      clearTimeout(tv);
      clearTimeout(ts);
    };
  }, [doc, draft.id]);

  const problems = useMemo(() => {
    const m = new Map<string, "error" | "warning" | "info">();
    const rank = { error: 3, warning: 2, info: 1 };
    for (const e of entries)
      for (const n of e.nodes ?? []) {
        const p = m.get(n);
        if (!p || rank[e.severity] > rank[p]) m.set(n, e.severity);
      }
    return m;
  }, [entries]);

  const structure = useMemo(
    () => JSON.stringify([nodes.map((n, i) => nameOf(n, i)), doc.edges ?? []]),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [nodes, doc.edges],
  );
  const layout = useMemo(() => {
    const es: [number, number][] = [];
    for (const e of doc.edges ?? []) {
      const ends = edgeEnds(e);
      if (!ends) continue;
      const a = indexByName.get(ends[0]);
      const b = indexByName.get(ends[1]);
      if (a !== undefined && b !== undefined && a !== b) es.push([a, b]);
    }
    return layeredLayout(nodes.length, es, { colWidth: W + 80, rowHeight: H + 40 });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [structure]);

  const flowNodes: CNode[] = useMemo(
    () =>
      nodes.map((_, i) => ({
        id: "n" + i,
        type: "authored",
        position: moved.get(i) ?? { x: layout.x[i] ?? 0, y: layout.y[i] ?? 0 },
        data: { i },
        selected: selected.has(i),
      })),
    [nodes, layout, moved, selected],
  );
  const flowEdges: Edge[] = useMemo(() => {
    const out: Edge[] = [];
    (doc.edges ?? []).forEach((e, k) => {
      const ends = edgeEnds(e);
      if (!ends) return;
      const a = indexByName.get(ends[0]);
      const b = indexByName.get(ends[1]);
      if (a === undefined || b === undefined) return;
      out.push({
        id: "e" + k,
        source: "n" + a,
        target: "n" + b,
        label: ends[2],
        selected: selEdges.has("e" + k),
      });
    });
    return out;
  }, [doc.edges, indexByName, selEdges]);

  const update = useCallback((fn: (d: WorkflowDocument) => WorkflowDocument) => setDoc((d) => fn(structuredClone(d))), []);

  const onNodesChange = useCallback((changes: NodeChange<CNode>[]) => {
    let sel: Set<number> | null = null;
    let mv: Map<number, { x: number; y: number }> | null = null;
    setSelected((prev) => {
      for (const ch of changes) {
        if (ch.type === "select") {
          sel ??= new Set(prev);
          const i = Number(ch.id.slice(1));
          if (ch.selected) sel.add(i);
          else sel.delete(i);
        }
      }
      return sel ?? prev;
    });
    for (const ch of changes)
      if (ch.type === "position" && ch.position) {
        mv ??= new Map();
        mv.set(Number(ch.id.slice(1)), ch.position);
      }
    if (mv) {
      const m = mv;
      setMoved((prev) => new Map([...prev, ...m]));
    }
  }, []);

  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    setSelEdges((prev) => {
      let next: Set<string> | null = null;
      for (const ch of changes)
        if (ch.type === "select") {
          next ??= new Set(prev);
          if (ch.selected) next.add(ch.id);
          else next.delete(ch.id);
        }
      return next ?? prev;
    });
  }, []);

  const removeNodes = useCallback(
    (idx: Set<number>) => {
      if (!idx.size) return;
      update((d) => {
        const names = new Set((d.nodes ?? []).filter((_, i) => idx.has(i)).map((n, i) => nameOf(n, i)));
        d.nodes = (d.nodes ?? []).filter((_, i) => !idx.has(i));
        d.edges = (d.edges ?? []).filter((e) => {
          const ends = edgeEnds(e);
          return !ends || (!names.has(ends[0]) && !names.has(ends[1]));
        });
        return d;
      });
      setSelected(new Set());
      setMoved(new Map());
      setExpanded(new Set());
    },
    [update],
  );

  const removeEdges = useCallback(
    (ids: Set<string>) => {
      if (!ids.size) return;
      update((d) => {
        d.edges = (d.edges ?? []).filter((_, k) => !ids.has("e" + k));
        return d;
      });
      setSelEdges(new Set());
    },
    [update],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      const a = Number(c.source.slice(1));
      const b = Number(c.target.slice(1));
      if (a === b) return;
      update((d) => {
        const na = nameOf((d.nodes ?? [])[a], a);
        const nb = nameOf((d.nodes ?? [])[b], b);
        d.edges = [...(d.edges ?? []), [na, nb]];
        return d;
      });
    },
    [update],
  );

  const addNode = (kind: "task" | "email" | "webhook" | "workflow") => {
    const taken = new Set(nodes.map((n, i) => nameOf(n, i)));
    let k = 1;
    while (taken.has(`${kind}${k}`)) k++;
    const name = `${kind}${k}`;
    const node: DocNode =
      kind === "email"
        ? { name, kind, addresses: ["artist@example.com"], subject: "Done: ${workflow-name} ${status}" }
        : kind === "webhook"
          ? { name, kind, url: "https://hooks.example.com/storm", format: "json", text: "${workflow-name} ${status}" }
          : kind === "workflow"
            ? { name, kind, template: library[0] ?? "", params: {} }
            : { name, kind, commands: [["echo", name]] };
    const sel = [...selected];
    update((d) => {
      d.nodes = [...(d.nodes ?? []), node];
      if (sel.length === 1) d.edges = [...(d.edges ?? []), [nameOf((d.nodes ?? [])[sel[0]], sel[0]), name]];
      return d;
    });
    setSelected(new Set([nodes.length]));
  };

  const selectWhere = (pred: (n: DocNode) => boolean) => setSelected(new Set(nodes.map((n, i) => (pred(n) ? i : -1)).filter((i) => i >= 0)));

  const applyFix = async (fixer: string) => {
    try {
      const r = await api<{ document: WorkflowDocument; entries: EntryOut[] }>("/fix", { method: "POST", json: { document: doc, fixer } });
      gen.current++;
      setDoc(normalise(r.document));
      setEntries(r.entries);
    } catch (e) {
      setSubmitErr((e as Error).message);
    }
  };

  // Stored templates' names: a new sub-workflow node starts on the first one.
  const [library, setLibrary] = useState<string[]>([]);
  useEffect(() => {
    api<{ templates: { name: string }[] }>("/templates")
      .then((r) => setLibrary(r.templates.map((t) => t.name)))
      .catch(() => {});
  }, []);
  const saveAsTemplate = async () => {
    const suggested = typeof doc.name === "string" ? doc.name.replace(/[^A-Za-z0-9_-]/g, "") : "";
    const name = window.prompt("Store this document as the template named:", suggested);
    if (!name) return;
    setSubmitErr(null);
    const store = (replace: boolean) => api("/templates", { method: "POST", json: { name, document: doc, replace } });
    try {
      try {
        await store(false);
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 409 || !window.confirm(`A template named ${name} exists: replace it?`)) throw e;
        await store(true);
      }
      setLibrary((l) => (l.includes(name) ? l : [...l, name].sort()));
      navigate(`/templates/${encodeURIComponent(name)}`);
    } catch (e) {
      setSubmitErr((e as Error).message);
    }
  };

  const errors = entries.filter((e) => e.severity === "error").length;
  const submit = async () => {
    setSubmitting(true);
    setSubmitErr(null);
    try {
      await api<Draft>(`/drafts/${draft.id}`, { method: "PUT", json: doc });
      setSaved("saved");
      const wf = await api<{ id: string }>(`/drafts/${draft.id}/submit`, { method: "POST", headers: { "Idempotency-Key": `submit-${draft.id}-${gen.current}` } });
      navigate(`/workflows/${wf.id}`);
    } catch (e) {
      setSubmitErr((e as Error).message);
    } finally {
      setSubmitting(false);
    }
  };

  // Keyboard: a select all, Delete remove, Esc clear, n new task.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "a") {
        e.preventDefault();
        setSelected(new Set(nodes.map((_, i) => i)));
      } else if (e.key === "Escape") {
        setSelected(new Set());
        setSelEdges(new Set());
      } else if (e.key === "Delete" || e.key === "Backspace") {
        if (selEdges.size) removeEdges(selEdges);
        else removeNodes(selected);
      } else if (e.key === "n") addNode("task");
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  const ctx = useMemo(
    () => ({
      doc,
      problems,
      expanded,
      toggle: (i: number) =>
        setExpanded((s) => {
          const n = new Set(s);
          if (n.has(i)) n.delete(i);
          else n.add(i);
          return n;
        }),
    }),
    [doc, problems, expanded],
  );
  const kinds = [...new Set(nodes.map((n) => (typeof n.kind === "string" ? n.kind : "task")))];

  return (
    <div className="composer" data-testid="composer">
      <header className="topbar">
        <Link to="/" className="brand">Storm</Link>
        <span className="crumb">Composer</span>
        <input
          className="wfname"
          data-testid="wf-name-input"
          value={typeof doc.name === "string" ? doc.name : ""}
          placeholder="workflow name"
          onChange={(e) => update((d) => ({ ...d, name: e.target.value }))}
        />
        <span className="muted">draft {draft.id} · {saved}</span>
        <span className="spacer" />
        {submitErr ? <span className="err" data-testid="submit-error">{submitErr}</span> : null}
        <Link to="/templates" data-testid="library-link">Templates</Link>
        <button data-testid="save-template" disabled={errors > 0 || validating} title="store it on the server as a template" onClick={saveAsTemplate}>
          Save as template
        </button>
        <button
          className="primary"
          data-testid="submit"
          disabled={errors > 0 || submitting || validating}
          title={errors ? `${errors} error(s) remain` : "submit the workflow"}
          onClick={submit}
        >
          Submit
        </button>
      </header>
      <div className="toolbar">
        <button onClick={() => addNode("task")} data-testid="add-task">+ Task (n)</button>
        <button onClick={() => addNode("email")} data-testid="add-email">+ Email</button>
        <button onClick={() => addNode("webhook")} data-testid="add-webhook">+ Webhook</button>
        <button onClick={() => addNode("workflow")} data-testid="add-workflow" title="a sub-workflow from a stored template">+ Sub-workflow</button>
        <button
          disabled={!selected.size && !selEdges.size}
          data-testid="delete"
          onClick={() => (selEdges.size ? removeEdges(selEdges) : removeNodes(selected))}
        >
          Delete (Del)
        </button>
        <span className="sep" />
        <button onClick={() => setSelected(new Set(nodes.map((_, i) => i)))} data-testid="select-all">Select all (a)</button>
        <select value="" data-testid="select-kind" onChange={(e) => e.target.value && selectWhere((n) => (n.kind ?? "task") === e.target.value)}>
          <option value="">select kind…</option>
          {kinds.map((k) => (
            <option key={k} value={k}>{k}</option>
          ))}
        </select>
        <select value="" data-testid="select-status" onChange={(e) => e.target.value && selectWhere((n) => (n.status ?? "open") === e.target.value)}>
          <option value="">select status…</option>
          <option value="open">open</option>
          <option value="holding">holding</option>
        </select>
        <select value="" data-testid="select-frames" onChange={(e) => e.target.value && selectWhere((n) => (e.target.value === "ranged") === (n.frames !== undefined))}>
          <option value="">select…</option>
          <option value="ranged">frame-ranged</option>
          <option value="single">single</option>
        </select>
        <button onClick={() => setMoved(new Map())}>Re-layout</button>
        <span className="muted">{selected.size} selected · shift-drag box select · shift/ctrl-click add · drag handle → connect</span>
      </div>
      <div className="composer-main">
        <div className="graph-pane" data-testid="composer-graph">
          <Ctx.Provider value={ctx}>
            <ReactFlow
              nodes={flowNodes}
              edges={flowEdges}
              nodeTypes={nodeTypes}
              onNodesChange={onNodesChange}
              onEdgesChange={onEdgesChange}
              onConnect={onConnect}
              onNodeClick={(e, n) => {
                if (!(e.shiftKey || e.ctrlKey || e.metaKey)) setSelected(new Set([Number(n.id.slice(1))]));
              }}
              onPaneClick={() => {
                setSelected(new Set());
                setSelEdges(new Set());
              }}
              deleteKeyCode={null}
              multiSelectionKeyCode={["Meta", "Control", "Shift"]}
              selectionKeyCode="Shift"
              onlyRenderVisibleElements
              fitView
              minZoom={0.05}
              proOptions={{ hideAttribution: true }}
            >
              <Background />
              <Controls />
              <RefitOn signal={nodes.length} />
            </ReactFlow>
          </Ctx.Provider>
        </div>
        <aside className="side">
          <NodeEditor doc={doc} selected={selected} update={update} />
          <ValidationPanel
            entries={entries}
            validating={validating}
            onSelect={(names) => setSelected(new Set(names.map((n) => indexByName.get(n)).filter((i): i is number => i !== undefined)))}
            onFix={applyFix}
          />
        </aside>
      </div>
    </div>
  );
}

/** Fit the view when `signal` changes (nodes added or removed), once xyflow measured them. */
function RefitOn({ signal }: { signal: unknown }) {
  const flow = useReactFlow();
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    let inner = 0;
    const outer = requestAnimationFrame(() => {
      inner = requestAnimationFrame(() => void flow.fitView({ padding: 0.15, maxZoom: 1 }));
    });
    return () => {
      cancelAnimationFrame(outer);
      cancelAnimationFrame(inner);
    };
  }, [signal, flow]);
  return null;
}

function normalise(d: WorkflowDocument): WorkflowDocument {
  const doc = structuredClone(d ?? {});
  if (!Array.isArray(doc.nodes)) doc.nodes = [];
  if (!Array.isArray(doc.edges)) doc.edges = [];
  return doc;
}

function NodeEditor(props: { doc: WorkflowDocument; selected: Set<number>; update: (fn: (d: WorkflowDocument) => WorkflowDocument) => void }) {
  const { doc, selected, update } = props;
  const idx = [...selected].filter((i) => i < (doc.nodes ?? []).length).sort((a, b) => a - b);
  const sel = idx.map((i) => (doc.nodes ?? [])[i]);
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const key = idx.join(",");
  useEffect(() => setDrafts({}), [key]);
  // the server's kinds: plugins' kinds are offered too, with a field per parameter
  const [known, setKnown] = useState<KindInfo[] | null>(null);
  useEffect(() => {
    let alive = true;
    loadKinds()
      .then((k) => alive && setKnown(k))
      .catch(() => undefined); // the built-in kinds are offered meanwhile
    return () => {
      alive = false;
    };
  }, []);
  if (!sel.length)
    return (
      <div className="panel" data-testid="node-editor">
        <h3>Nothing selected</h3>
        <p className="muted small">Click a node; shift/ctrl-click or shift-drag to select several and edit them together.</p>
      </div>
    );
  const kinds = new Set(sel.map((n) => (typeof n.kind === "string" ? n.kind : "task")));
  const kind = kinds.size === 1 ? [...kinds][0] : null;
  const fields: FieldDef[] = kind ? fieldsForKind(kind, known) : fieldsFor("task").filter((f) => f.key === "retries");
  const setAll = (k: string, v: unknown) =>
    update((d) => {
      for (const i of idx) {
        const n = (d.nodes ?? [])[i];
        if (!n) continue;
        if (v === undefined) delete n[k];
        else n[k] = v;
      }
      return d;
    });
  const row = (label: string, key: string, control: React.ReactNode, mixed: boolean) => (
    <label key={key} className="field">
      <span>
        {label}
        {mixed ? <em className="mixed-tag" data-testid={"mixed-" + key}>mixed</em> : null}
      </span>
      {control}
    </label>
  );
  const sharedKind = sharedValue(sel, "kind");
  const sharedStatus = sharedValue(sel, "status");
  return (
    <div className="panel" data-testid="node-editor">
      <h3>
        {sel.length === 1 ? String(sel[0].name ?? "node") : `${sel.length} nodes`}
        {sel.length > 1 ? <span className="muted small"> — a change applies to all of them</span> : null}
      </h3>
      <div className="form">
        {sel.length === 1
          ? row(
              "name",
              "name",
              <input
                data-testid="field-name"
                value={drafts.name ?? String(sel[0].name ?? "")}
                onChange={(e) => setDrafts((d) => ({ ...d, name: e.target.value }))}
                onBlur={(e) => {
                  const old = String(sel[0].name ?? "");
                  const nw = e.target.value;
                  if (nw === old) return;
                  update((d) => {
                    (d.nodes ?? [])[idx[0]].name = nw;
                    d.edges = (d.edges ?? []).map((ed) => {
                      if (Array.isArray(ed)) return ed.map((x) => (x === old ? nw : x)) as DocEdge;
                      return { ...ed, from: ed.from === old ? nw : ed.from, to: ed.to === old ? nw : ed.to };
                    });
                    return d;
                  });
                }}
              />,
              false,
            )
          : null}
        {row(
          "kind",
          "kind",
          <select data-testid="field-kind" value={sharedKind === MIXED ? "" : String(sharedKind ?? "task")} onChange={(e) => e.target.value && setAll("kind", e.target.value)}>
            {sharedKind === MIXED ? <option value="">(mixed)</option> : null}
            {kindNames(known).map((k) => (
              <option key={k} value={k}>{k}</option>
            ))}
          </select>,
          sharedKind === MIXED,
        )}
        {row(
          "status",
          "status",
          <select data-testid="field-status" value={sharedStatus === MIXED ? "" : String(sharedStatus ?? "open")} onChange={(e) => e.target.value && setAll("status", e.target.value === "open" ? undefined : e.target.value)}>
            {sharedStatus === MIXED ? <option value="">(mixed)</option> : null}
            <option value="open">open</option>
            <option value="holding">holding</option>
          </select>,
          sharedStatus === MIXED,
        )}
        {fields.map((f) => {
          const shared = sharedValue(sel, f.key);
          const mixed = shared === MIXED;
          const text = drafts[f.key] ?? (mixed ? "" : toText(f.type, shared));
          const multi = f.type === "commands" || f.type === "kv" || f.type === "lines";
          const common = {
            value: text,
            placeholder: mixed ? "(mixed — type to set all)" : f.hint ?? "",
            className: mixed && drafts[f.key] === undefined ? "mixed" : "",
            "data-testid": "field-" + f.key,
            onChange: (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => {
              const v = e.target.value;
              setDrafts((d) => ({ ...d, [f.key]: v }));
              setAll(f.key, fromText(f.type, v));
            },
          };
          if (f.options) {
            // A suggestion list, not a closed select: "(mixed)" and typos stay visible to validation.
            const list = "options-" + f.key;
            return row(
              f.label,
              f.key,
              <>
                <input list={list} {...common} />
                <datalist id={list}>{f.options.map((o) => <option key={o} value={o} />)}</datalist>
              </>,
              mixed,
            );
          }
          return row(f.label, f.key, multi ? <textarea rows={f.type === "commands" ? 3 : 2} {...common} /> : <input {...common} />, mixed);
        })}
      </div>
    </div>
  );
}

function ValidationPanel(props: { entries: EntryOut[]; validating: boolean; onSelect: (names: string[]) => void; onFix: (f: string) => void }) {
  const order = { error: 0, warning: 1, info: 2 } as const;
  const sorted = [...props.entries].sort((a, b) => order[a.severity] - order[b.severity]);
  const n = (s: string) => props.entries.filter((e) => e.severity === s).length;
  return (
    <div className="panel validation" data-testid="validation">
      <h3>
        Validation {props.validating ? <span className="muted small">checking…</span> : null}
        <span className="vcounts">
          <span className="sev error">{n("error")} errors</span> <span className="sev warning">{n("warning")} warnings</span>{" "}
          <span className="sev info">{n("info")} info</span>
        </span>
      </h3>
      {!sorted.length ? <p className="ok" data-testid="validation-clean">✓ no problems</p> : null}
      {sorted.map((e, k) => (
        <div key={k} className={"entry " + e.severity} data-testid="entry" data-code={e.code} data-severity={e.severity}>
          <div className="entry-msg" onClick={() => props.onSelect(e.nodes ?? [])} title="select the nodes concerned">
            <b>{e.severity}</b> <code>{e.code}</code> {e.message}
            {e.nodes?.length ? <span className="muted small"> · {e.nodes.join(", ")}</span> : null}
          </div>
          {e.fixers.map((f) => (
            <button key={f.name} className="fix" data-testid="fixer" data-fixer={f.name} title={f.description} onClick={() => props.onFix(f.name)}>
              Fix: {f.description || f.name}
            </button>
          ))}
        </div>
      ))}
    </div>
  );
}
