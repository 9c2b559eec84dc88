// The Monitor's graph: one xyflow node per unit (a node or a collapsed group of chunks),
// memoised components that re-render only when their own unit changes.
import { createContext, memo, useCallback, useContext, useMemo, useRef, useState, useSyncExternalStore } from "react";
import {
  Background,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  type Edge,
  type Node,
  type NodeChange,
  type NodeProps,
  type Viewport,
} from "@xyflow/react";
import { layeredLayout } from "./layout";
import { COLOURS, STATUSES, formatDuration, type Status } from "./lifecycle";
import type { WorkflowModel } from "./model";
import { useNow } from "./clock";

interface Ctx {
  model: WorkflowModel;
  toggleGroup: (group: string) => void;
}
const GraphCtx = createContext<Ctx | null>(null);

type UnitData = { u: number };
type UnitNodeType = Node<UnitData, "unit">;

const CULL_ABOVE = 1500;
const NODE_W = 190;
const NODE_H = 54;
const GROUP_H = 66;

function useUnit(model: WorkflowModel, u: number): number {
  return useSyncExternalStore(
    useCallback((cb: () => void) => model.subscribeUnit(u, cb), [model, u]),
    () => model.getUnitVersion(u),
  );
}

function RunningBadge({ since, attempt }: { since: number; attempt: number }) {
  const now = useNow(true);
  return (
    <span className="run-badge" data-testid="run-badge">
      #{attempt} · {formatDuration((now - since) / 1000)}
    </span>
  );
}

const UnitNode = memo(function UnitNode({ data, selected }: NodeProps<UnitNodeType>) {
  const { model, toggleGroup } = useContext(GraphCtx)!;
  useUnit(model, data.u);
  const unit = model.units[data.u];
  if (!unit) return null;
  if (unit.group) {
    const counts = model.unitCounts(data.u);
    const total = unit.members.length;
    const sel = model.unitSelectedCount(data.u);
    return (
      <div
        className={"gnode" + (selected || sel === total ? " selected" : sel ? " partial" : "")}
        data-testid="group-node"
        data-group={unit.group}
        style={{ width: NODE_W, height: GROUP_H }}
      >
        <Handle type="target" position={Position.Left} />
        <div className="gtitle">
          <span className="nname">{unit.group}</span>
          <button
            className="expand nodrag"
            title="Expand the chunks"
            data-testid="expand-group"
            onClick={(e) => {
              e.stopPropagation();
              toggleGroup(unit.group!);
            }}
          >
            ▸ {total}
          </button>
        </div>
        <div className="gbar">
          {STATUSES.map((s, k) =>
            counts[k] ? (
              <span key={s} title={`${counts[k]} ${s}`} style={{ flex: counts[k], background: COLOURS[s].fill }} />
            ) : null,
          )}
        </div>
        <div className="gcounts">
          {STATUSES.map((s, k) => (counts[k] ? <span key={s} className={"c-" + s}>{counts[k]} {s} </span> : null))}
          {sel ? <span className="gsel">· {sel} selected</span> : null}
        </div>
        <Handle type="source" position={Position.Right} />
      </div>
    );
  }
  const i = unit.members[0];
  const st: Status = model.statusOf(i);
  const c = COLOURS[st];
  const run = st === "running" ? model.running.get(i) : undefined;
  const grp = model.groups[i];
  return (
    <div
      className={"snode" + (selected ? " selected" : "")}
      data-testid="graph-node"
      data-name={model.names[i]}
      data-status={st}
      style={{ width: NODE_W, height: NODE_H, background: c.fill, borderColor: c.border, color: c.text }}
    >
      <Handle type="target" position={Position.Left} />
      <div className="nname" title={model.names[i]}>
        {model.names[i]}
        {grp ? (
          <button
            className="expand nodrag"
            title="Collapse the group"
            onClick={(e) => {
              e.stopPropagation();
              toggleGroup(grp);
            }}
          >
            ▾
          </button>
        ) : null}
      </div>
      <div className="nstatus">
        {st}
        {run ? <RunningBadge since={run.since} attempt={run.attempt} /> : null}
        {model.kinds[i] !== "task" ? <span className="nkind">{model.kinds[i]}</span> : null}
      </div>
      <Handle type="source" position={Position.Right} />
    </div>
  );
});

const nodeTypes = { unit: UnitNode };
const EMPTY_NODES: UnitNodeType[] = [];
const EMPTY_EDGES: Edge[] = [];

export function MonitorGraph(props: {
  model: WorkflowModel;
  unitsVersion: number;
  selectionVersion: number;
  onSelectUnits: (changes: { u: number; selected: boolean }[], additive: boolean) => void;
  onUnitClick: (u: number, additive: boolean) => void;
  onPaneClick: () => void;
  toggleGroup: (group: string) => void;
}) {
  const { model, unitsVersion, selectionVersion } = props;
  const layout = useMemo(
    () => layeredLayout(model.units.length, model.unitEdges, { colWidth: NODE_W + 70, rowHeight: GROUP_H + 16 }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [model, unitsVersion],
  );
  const base = useMemo(() => {
    const nodes: UnitNodeType[] = model.units.map((unit, u) => ({
      id: unit.id,
      type: "unit",
      position: { x: layout.x[u], y: layout.y[u] },
      data: { u },
      width: NODE_W,
      height: unit.group ? GROUP_H : NODE_H,
      draggable: false,
      connectable: false,
    }));
    const edges: Edge[] = model.unitEdges.map(([a, b]) => ({
      id: `e${a}-${b}`,
      source: model.units[a].id,
      target: model.units[b].id,
      selectable: false,
      focusable: false,
    }));
    const ids = new Map<string, number>();
    nodes.forEach((n, u) => ids.set(n.id, u));
    return { nodes, edges, ids };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [model, unitsVersion, layout]);
  const nodes = useMemo(() => {
    return base.nodes.map((nd, u) => {
      const m = model.units[u].members;
      let all = m.length > 0;
      for (const i of m)
        if (!model.selected.has(i)) {
          all = false;
          break;
        }
      return all === !!nd.selected ? nd : { ...nd, selected: all };
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [base, selectionVersion]);
  // Above CULL_ABOVE units, hand xyflow only the units in (and near) the viewport, plus
  // the other ends of their edges (capped): its store then holds hundreds, not 100,000.
  const cull = model.units.length > CULL_ABOVE;
  const wrap = useRef<HTMLDivElement>(null);
  const [vp, setVp] = useState<Viewport>({ x: 20, y: 20, zoom: 0.7 });
  const vpFrame = useRef(0);
  const onMove = useCallback((_: unknown, v: Viewport) => {
    if (!cull) return;
    cancelAnimationFrame(vpFrame.current);
    vpFrame.current = requestAnimationFrame(() => setVp(v));
  }, [cull]);
  const incident = useMemo(() => {
    if (!cull) return null;
    const inc: number[][] = model.units.map(() => []);
    base.edges.forEach((_, k) => {
      const [a, b] = model.unitEdges[k];
      inc[a].push(k);
      inc[b].push(k);
    });
    return inc;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [base, cull]);
  const shown = useMemo(() => {
    if (!cull || !incident) return { nodes, edges: base.edges };
    const w = wrap.current?.clientWidth || 1500;
    const h = wrap.current?.clientHeight || 900;
    const mx = w / vp.zoom / 2;
    const my = h / vp.zoom / 2;
    const x0 = -vp.x / vp.zoom - mx;
    const y0 = -vp.y / vp.zoom - my;
    const x1 = (w - vp.x) / vp.zoom + mx;
    const y1 = (h - vp.y) / vp.zoom + my;
    const keep = new Set<number>();
    for (let u = 0; u < nodes.length; u++) {
      const x = layout.x[u];
      const y = layout.y[u];
      if (x + NODE_W >= x0 && x <= x1 && y + GROUP_H >= y0 && y <= y1) keep.add(u);
      if (keep.size > 3000) break;
    }
    for (const i of model.selected) {
      if (keep.size > 4000) break;
      keep.add(model.unitOf[i]);
    }
    const edges: Edge[] = [];
    const extra = new Set<number>();
    for (const u of keep)
      for (const k of incident[u]) {
        const [a, b] = model.unitEdges[k];
        const other = a === u ? b : a;
        if (keep.has(other)) {
          if (a === u) edges.push(base.edges[k]);
        } else if (extra.size < 200 || extra.has(other)) {
          extra.add(other);
          edges.push(base.edges[k]);
        }
      }
    const out: UnitNodeType[] = [];
    for (const u of keep) out.push(nodes[u]);
    for (const u of extra) out.push(nodes[u]);
    return { nodes: out, edges };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cull, incident, nodes, base, vp, layout]);

  const onNodesChange = useCallback(
    (changes: NodeChange<UnitNodeType>[]) => {
      const sel: { u: number; selected: boolean }[] = [];
      for (const ch of changes) {
        if (ch.type !== "select") continue;
        const u = base.ids.get(ch.id);
        if (u !== undefined) sel.push({ u, selected: ch.selected });
      }
      if (sel.length) props.onSelectUnits(sel, false);
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [base],
  );
  const ctx = useMemo(() => ({ model, toggleGroup: props.toggleGroup }), [model, props.toggleGroup]);
  const big = model.units.length > 600;
  // Hand xyflow the elements only once it knows its viewport, so that
  // onlyRenderVisibleElements culls from the first render.
  const [ready, setReady] = useState(!big);
  return (
    <GraphCtx.Provider value={ctx}>
      <div ref={wrap} style={{ width: "100%", height: "100%" }}>
      <ReactFlow
        nodes={ready ? shown.nodes : EMPTY_NODES}
        edges={ready ? shown.edges : EMPTY_EDGES}
        onMove={onMove}
        onInit={() => requestAnimationFrame(() => setReady(true))}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onNodeClick={(e, node) => props.onUnitClick((node.data as UnitData).u, e.shiftKey || e.ctrlKey || e.metaKey)}
        onPaneClick={() => props.onPaneClick()}
        fitView={!big}
        defaultViewport={big ? { x: 20, y: 20, zoom: 0.7 } : undefined}
        onlyRenderVisibleElements={!cull}
        minZoom={0.02}
        maxZoom={2}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable
        multiSelectionKeyCode={["Meta", "Control", "Shift"]}
        selectionKeyCode="Shift"
        deleteKeyCode={null}
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
        {model.units.length <= 2000 ? <MiniMap pannable zoomable nodeColor={(n) => miniColour(model, n)} /> : null}
      </ReactFlow>
      </div>
    </GraphCtx.Provider>
  );
}

function miniColour(model: WorkflowModel, n: Node): string {
  const u = (n.data as UnitData).u;
  const unit = model.units[u];
  if (!unit) return "#ccc";
  if (unit.group) return "#94a3b8";
  return COLOURS[model.statusOf(unit.members[0])].fill;
}
