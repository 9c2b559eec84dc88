// The Monitor's graph: one xyflow node per unit (a node or a collapsed group of chunks),
// memoised components that re-render only when their own unit changes. Far out (level of
// detail) every unit is a tile on one canvas instead; a canvas minimap shows the whole graph
// at every size. The viewport is fitted to the content on open and after every expand or
// collapse.
import { createContext, memo, useCallback, useContext, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import {
  Background,
  Controls,
  Handle,
  Panel,
  Position,
  ReactFlow,
  useReactFlow,
  useStoreApi,
  type Edge,
  type Node,
  type NodeChange,
  type NodeProps,
  type Viewport,
} from "@xyflow/react";
import { layeredLayout } from "./layout";
import { COLOURS, STATUS_INDEX, formatDuration, type Status } from "./lifecycle";
import type { WorkflowModel } from "./model";
import { useNow } from "./clock";
import type { ChildOut } from "./api";
import { ChildBar } from "./ChildBar";
import { useLatestImage, withToken } from "./Previews";
import { QUEUED_BORDER, QUEUED_FILL, bounds, drawTiles, fitViewport, unitAt, type Geometry } from "./tiles";

interface Ctx {
  model: WorkflowModel;
  toggleGroup: (group: string) => void;
  openSheet?: (group: string) => void;
  /** Thumbnails on the nodes: the workflow id, when the server has previews and the graph is small. */
  thumbs?: string;
  /** `workflow` nodes' current children (their status bars), by node name. */
  children?: Map<string, ChildOut>;
}

/** Graphs of at most this many units show each node's latest image on it. */
const THUMBS_UP_TO = 200;

function NodeThumb({ workflowId, name, status, version }: { workflowId: string; name: string; status: Status; version: number }) {
  // A running render's latest frame is looked for again every 5 s; a finished node's once
  // per status change.
  const now = useNow(status === "running");
  const key = status === "running" ? `running:${Math.floor(now / 5000)}` : `${status}:${version}`;
  const img = useLatestImage(workflowId, name, key, status === "running" || status === "succeeded");
  if (!img) return null;
  return <img className="nthumb" src={withToken(img.thumb, 96)} alt="" title={img.path} data-testid="node-thumb" />;
}
const GraphCtx = createContext<Ctx | null>(null);

type UnitData = { u: number };
type UnitNodeType = Node<UnitData, "unit">;

const CULL_ABOVE = 600;
export const NODE_W = 190;
const NODE_H = 54;
const GROUP_H = 78;
/** Below this zoom, units are drawn as tiles on a canvas (level of detail). */
export const LOD_ZOOM = 0.4;
/** Graphs of at most this many units are always drawn as full nodes. */
const LOD_ABOVE = 40;
/** A layer of more units than this wraps into a grid of rows. */
export const WRAP_ABOVE = 16;
const MIN_ZOOM = 0.005;
const MAX_ZOOM = 2;

function useUnit(model: WorkflowModel, u: number): number {
  return useSyncExternalStore(
    useCallback((cb: () => void) => model.subscribeUnit(u, cb), [model, u]),
    () => model.getUnitVersion(u),
  );
}

export function RunningBadge({ since, attempt, run }: { since: number | null; attempt: number; run?: number }) {
  const now = useNow(since !== null);
  return (
    <span className="run-badge" data-testid="run-badge" title={run && run !== attempt ? `attempt ${attempt} of this configuration; run ${run} of the node` : undefined}>
      #{attempt}
      {run && run !== attempt ? <span className="run-total"> (run {run})</span> : null}
      {since !== null ? <> · {formatDuration((now - since) / 1000)}</> : null}
    </span>
  );
}

/** Status counts of a group, most urgent first, running split into executing and queued. */
export function groupCountParts(counts: Int32Array, queued: number): { key: string; label: string; n: number }[] {
  const order: Status[] = ["failed", "running", "holding", "open", "canceled", "skipped", "succeeded"];
  const out: { key: string; label: string; n: number }[] = [];
  for (const s of order) {
    const n = counts[STATUS_INDEX[s]];
    if (!n) continue;
    if (s === "running") {
      if (n - queued) out.push({ key: "executing", label: "executing", n: n - queued });
      if (queued) out.push({ key: "queued", label: "queued", n: queued });
    } else out.push({ key: s, label: s, n });
  }
  return out;
}

const UnitNode = memo(function UnitNode({ data, selected }: NodeProps<UnitNodeType>) {
  const { model, toggleGroup, openSheet, thumbs, children } = useContext(GraphCtx)!;
  const unitVersion = useUnit(model, data.u);
  const unit = model.units[data.u];
  if (!unit) return null;
  if (unit.group) {
    const counts = model.unitCounts(data.u);
    const queued = model.unitQueued(data.u);
    const total = unit.members.length;
    const sel = model.unitSelectedCount(data.u);
    const parts = groupCountParts(counts, queued);
    return (
      <div
        className={"gnode" + (selected || sel === total ? " selected" : sel ? " partial" : "")}
        data-testid="group-node"
        data-group={unit.group}
        style={{ width: NODE_W, height: GROUP_H }}
      >
        <Handle type="target" position={Position.Left} />
        <div className="gtitle">
          <span className="nname" title={unit.group}>{unit.group}</span>
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
          {openSheet && !model.autoGroups.has(unit.group) && model.frames[unit.members[0]] !== null ? (
            <button
              className="expand nodrag"
              title="Contact sheet: every frame's image"
              data-testid="open-sheet"
              onClick={(e) => {
                e.stopPropagation();
                openSheet(unit.group!);
              }}
            >
              ▦
            </button>
          ) : null}
        </div>
        <div className="gbar">
          {parts.map((p) => (
            <span key={p.key} title={`${p.n} ${p.label}`} style={{ flex: p.n, background: p.key === "queued" ? QUEUED_FILL : COLOURS[(p.key === "executing" ? "running" : p.key) as Status].fill }} />
          ))}
        </div>
        <div className="gcounts" data-testid="group-counts">
          {parts.map((p) => (
            <span key={p.key} className={"c-" + p.key} data-count={p.key}>{p.n} {p.label} </span>
          ))}
          {sel ? <span className="gsel">· {sel} selected</span> : null}
        </div>
        <Handle type="source" position={Position.Right} />
      </div>
    );
  }
  const i = unit.members[0];
  const st: Status = model.statusOf(i);
  const run = st === "running" ? model.running.get(i) : undefined;
  const queued = run?.phase === "queued";
  const c = queued ? { fill: QUEUED_FILL, border: QUEUED_BORDER, text: COLOURS.running.text } : COLOURS[st];
  const grp = model.unitGroup[i];
  return (
    <div
      className={"snode" + (selected ? " selected" : "") + (queued ? " queued" : "")}
      data-testid="graph-node"
      data-name={model.names[i]}
      data-status={st}
      data-phase={run?.phase ?? undefined}
      style={{ width: NODE_W, height: NODE_H, background: c.fill, borderColor: c.border, color: c.text }}
    >
      <Handle type="target" position={Position.Left} />
      <div className="nname" title={model.names[i]}>
        <span className="ntext">{model.names[i]}</span>
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
      {thumbs ? <NodeThumb workflowId={thumbs} name={model.names[i]} status={st} version={unitVersion} /> : null}
      <div className="nstatus">
        {run?.phase === "queued" ? "queued" : run?.phase === "executing" ? "executing" : st}
        {run ? <RunningBadge since={run.phase === "executing" ? run.since : null} attempt={run.attempt} run={run.run} /> : null}
        {model.kinds[i] !== "task" ? <span className="nkind">{model.kinds[i]}</span> : null}
      </div>
      {children?.has(model.names[i]) ? <ChildBar child={children.get(model.names[i])!} compact /> : null}
      <Handle type="source" position={Position.Right} />
    </div>
  );
});

const nodeTypes = { unit: UnitNode };
const EMPTY_NODES: UnitNodeType[] = [];
const EMPTY_EDGES: Edge[] = [];

export interface GraphProps {
  model: WorkflowModel;
  /** model.unitsBuilt: changes in the same render as model.units (never a render later). */
  unitsVersion: number;
  selectionVersion: number;
  onSelectUnits: (changes: { u: number; selected: boolean }[], additive: boolean) => void;
  onUnitClick: (u: number, additive: boolean) => void;
  onPaneClick: () => void;
  toggleGroup: (group: string) => void;
  onOpenSheet?: (group: string) => void;
  /** A box drawn far out (over tiles): the units inside it. */
  onBoxSelect?: (units: number[], additive: boolean) => void;
  /** The workflow id, when the server has frame previews. */
  previewsOf?: string;
  /** `workflow` nodes' current children, by node name: a status bar on each. */
  childWorkflows?: Map<string, ChildOut>;
  /** Double-click on a `workflow` node: open its child. */
  onOpenChild?: (name: string) => void;
}

/** `?debug=throw-graph` makes the graph throw while rendering: shows the error boundary at work. */
const THROW = typeof window !== "undefined" && new URLSearchParams(window.location.search).get("debug") === "throw-graph";

export function MonitorGraph(props: GraphProps) {
  const { model, unitsVersion, selectionVersion } = props;
  if (THROW) throw new Error("debug: the graph was asked to fail (?debug=throw-graph)");
  const flow = useReactFlow();
  const storeApi = useStoreApi();
  const layout = useMemo(
    () =>
      layeredLayout(model.units.length, model.unitEdges, {
        colWidth: NODE_W + 70,
        rowHeight: GROUP_H + 16,
        wrapAbove: WRAP_ABOVE,
        rank: model.unitRank,
      }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [model, unitsVersion],
  );
  const geometry = useMemo<Geometry>(
    () => ({ x: layout.x, y: layout.y, w: NODE_W, h: (u: number) => (model.units[u]?.group ? GROUP_H : NODE_H) }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [layout],
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
    // Edges into or out of a grid (a wrapped layer) are many and cross it: drawn faint.
    const perLayer = new Int32Array(layout.layers);
    for (let u = 0; u < model.units.length; u++) perLayer[layout.layer[u]]++;
    const inGrid = (u: number) => perLayer[layout.layer[u]] > WRAP_ABOVE;
    const faint = { opacity: 0.18 };
    const edges: Edge[] = model.unitEdges.map(([a, b]) => ({
      id: `e${a}-${b}`,
      source: model.units[a].id,
      target: model.units[b].id,
      selectable: false,
      focusable: false,
      style: inGrid(a) || inGrid(b) ? faint : undefined,
    }));
    const ids = new Map<string, number>();
    nodes.forEach((n, u) => ids.set(n.id, u));
    return { nodes, edges, ids };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [model, unitsVersion, layout]);
  const isSelected = useCallback(
    (u: number) => {
      const m = model.units[u].members;
      if (!m.length) return false;
      for (const i of m) if (!model.selected.has(i)) return false;
      return true;
    },
    [model],
  );
  const cull = model.units.length > CULL_ABOVE;
  const lod = model.units.length > LOD_ABOVE;
  const wrap = useRef<HTMLDivElement>(null);
  const [vp, setVp] = useState<Viewport>({ x: 20, y: 20, zoom: 0.7 });
  const vpFrame = useRef(0);
  const vpNow = useRef<Viewport>(vp);
  // Whether the person moved the view since it was last fitted (then a resize keeps it).
  const userMoved = useRef(false);
  const onMove = useCallback((e: unknown, v: Viewport) => {
    if (e) userMoved.current = true;
    vpNow.current = v;
    cancelAnimationFrame(vpFrame.current);
    vpFrame.current = requestAnimationFrame(() => setVp(v));
  }, []);
  const far = lod && vp.zoom < LOD_ZOOM;
  const incident = useMemo(() => {
    if (!cull) return null;
    const inc: number[][] = model.units.map(() => []);
    model.unitEdges.forEach(([a, b], k) => {
      inc[a].push(k);
      inc[b].push(k);
    });
    return inc;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [base, cull]);
  // What xyflow is given: nothing far out (the canvas draws the tiles); above CULL_ABOVE
  // units only those in and near the viewport, plus the other ends of their edges (capped),
  // so its store holds hundreds of nodes whatever the workflow's size.
  const shown = useMemo(() => {
    if (far) return { nodes: EMPTY_NODES, edges: EMPTY_EDGES };
    const pick = (u: number) => {
      const nd = base.nodes[u];
      const sel = isSelected(u);
      return sel === !!nd.selected ? nd : { ...nd, selected: sel };
    };
    if (!cull || !incident) return { nodes: base.nodes.map((_, u) => pick(u)), edges: base.edges };
    const w = wrap.current?.clientWidth || 1500;
    const h = wrap.current?.clientHeight || 900;
    const mx = (w / vp.zoom) * 0.3;
    const my = (h / vp.zoom) * 0.3;
    const x0 = -vp.x / vp.zoom - mx;
    const y0 = -vp.y / vp.zoom - my;
    const x1 = (w - vp.x) / vp.zoom + mx;
    const y1 = (h - vp.y) / vp.zoom + my;
    const keep = new Set<number>();
    const n = base.nodes.length;
    for (let u = 0; u < n; u++) {
      const x = layout.x[u];
      const y = layout.y[u];
      if (x + NODE_W >= x0 && x <= x1 && y + GROUP_H >= y0 && y <= y1) keep.add(u);
      if (keep.size > 2500) break;
    }
    const edges: Edge[] = [];
    const extra = new Set<number>();
    for (const u of keep)
      for (const k of incident[u]) {
        const [a, b] = model.unitEdges[k];
        const other = a === u ? b : a;
        if (keep.has(other)) {
          if (a === u) edges.push(base.edges[k]);
        } else if (extra.has(other) || extra.size < 200) {
          extra.add(other);
          edges.push(base.edges[k]);
        }
      }
    const out: UnitNodeType[] = [];
    for (const u of keep) out.push(pick(u));
    for (const u of extra) out.push(pick(u));
    return { nodes: out, edges };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [far, cull, incident, base, vp, layout, selectionVersion, isSelected]);

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
  const thumbs = props.previewsOf && model.units.length <= THUMBS_UP_TO ? props.previewsOf : undefined;
  const ctx = useMemo(
    () => ({ model, toggleGroup: props.toggleGroup, openSheet: props.onOpenSheet, thumbs, children: props.childWorkflows }),
    [model, props.toggleGroup, props.onOpenSheet, thumbs, props.childWorkflows],
  );

  // Fit the content on open and after every expand/collapse (the units changed).
  const [ready, setReady] = useState(false);
  const fit = useCallback(() => {
    const el = wrap.current;
    if (!el) return;
    const v = fitViewport(bounds(model, geometry), el.clientWidth || 1500, el.clientHeight || 900, MIN_ZOOM, 1);
    vpNow.current = v;
    userMoved.current = false;
    flow.setViewport(v);
    setVp(v);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [model, geometry]);
  useLayoutEffect(() => {
    if (ready) fit();
  }, [ready, fit]);
  // The pane resized (list or panel opened, window resized): fit again unless moved by hand.
  useEffect(() => {
    const el = wrap.current;
    if (!el || !ready) return;
    let w = el.clientWidth;
    let h = el.clientHeight;
    const ro = new ResizeObserver(() => {
      if (el.clientWidth === w && el.clientHeight === h) return;
      w = el.clientWidth;
      h = el.clientHeight;
      if (!userMoved.current) fit();
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [ready, fit]);

  // Far out: click a tile to select its unit (shift/ctrl adds), as a click on a node does.
  const onPaneClick = useCallback(
    (e: React.MouseEvent) => {
      if (far) {
        const p = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
        const u = unitAt(model, geometry, p.x, p.y);
        if (u >= 0) {
          props.onUnitClick(u, e.shiftKey || e.ctrlKey || e.metaKey);
          return;
        }
      }
      props.onPaneClick();
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [far, model, geometry],
  );

  // Far out xyflow holds no nodes, so its selection box selects nothing: keep the last box
  // drawn and select the tiles under it when the drag ends.
  const lastBox = useRef<{ x: number; y: number; width: number; height: number } | null>(null);
  useEffect(
    () =>
      storeApi.subscribe((st) => {
        if (st.userSelectionRect) lastBox.current = { ...st.userSelectionRect };
      }),
    [storeApi],
  );
  const onSelectionEnd = useCallback(
    (e: React.MouseEvent) => {
      const b = lastBox.current;
      lastBox.current = null;
      if (!far || !b || !props.onBoxSelect) return;
      const v = vpNow.current;
      const x0 = (b.x - v.x) / v.zoom;
      const y0 = (b.y - v.y) / v.zoom;
      const x1 = (b.x + b.width - v.x) / v.zoom;
      const y1 = (b.y + b.height - v.y) / v.zoom;
      const inside: number[] = [];
      for (let u = 0; u < model.units.length; u++) {
        const x = geometry.x[u];
        const y = geometry.y[u];
        if (x + geometry.w >= x0 && x <= x1 && y + geometry.h(u) >= y0 && y <= y1) inside.push(u);
      }
      props.onBoxSelect(inside, e.ctrlKey || e.metaKey);
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [far, model, geometry, props.onBoxSelect],
  );

  return (
    <GraphCtx.Provider value={ctx}>
      <div ref={wrap} style={{ width: "100%", height: "100%", position: "relative" }} data-testid="graph-canvas-wrap" data-lod={far ? "tiles" : "nodes"} data-zoom={vp.zoom.toFixed(3)}>
        <ReactFlow
          nodes={ready ? shown.nodes : EMPTY_NODES}
          edges={ready ? shown.edges : EMPTY_EDGES}
          onMove={onMove}
          onInit={() => requestAnimationFrame(() => setReady(true))}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          onNodeClick={(e, node) => props.onUnitClick((node.data as UnitData).u, e.shiftKey || e.ctrlKey || e.metaKey)}
          onNodeDoubleClick={(_e, node) => {
            const unit = model.units[(node.data as UnitData).u];
            if (unit && !unit.group && props.onOpenChild) props.onOpenChild(model.names[unit.members[0]]);
          }}
          zoomOnDoubleClick={false}
          onPaneClick={onPaneClick}
          onSelectionEnd={onSelectionEnd}
          defaultViewport={{ x: 20, y: 20, zoom: 0.7 }}
          onlyRenderVisibleElements={!cull}
          minZoom={MIN_ZOOM}
          maxZoom={MAX_ZOOM}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable
          multiSelectionKeyCode={["Meta", "Control", "Shift"]}
          selectionKeyCode="Shift"
          deleteKeyCode={null}
          proOptions={{ hideAttribution: true }}
        >
          <Background />
          {far ? <TileLayer model={model} geometry={geometry} vp={vpNow} vpState={vp} /> : null}
          <Controls showInteractive={false} showFitView={false}>
            <button className="react-flow__controls-button" title="fit the whole graph" data-testid="fit-view" onClick={fit}>
              ⤢
            </button>
          </Controls>
          <Panel position="bottom-right">
            <MiniMap model={model} geometry={geometry} vp={vp} wrap={wrap} onPan={(v) => { vpNow.current = v; flow.setViewport(v); setVp(v); }} />
          </Panel>
        </ReactFlow>
      </div>
    </GraphCtx.Provider>
  );
}

/** Redraw on every model change (statuses, selection), at most once per animation frame. */
function useModelRedraw(model: WorkflowModel, draw: () => void) {
  const drawRef = useRef(draw);
  drawRef.current = draw;
  useEffect(() => {
    let frame = 0;
    const off = model.subscribe(() => {
      if (!frame)
        frame = requestAnimationFrame(() => {
          frame = 0;
          drawRef.current();
        });
    });
    return () => {
      off();
      cancelAnimationFrame(frame);
    };
  }, [model]);
}

/** The cached bitmap of every tile is at most this many pixels on a side. */
const CACHE_PX = 4096;

function TileLayer(props: { model: WorkflowModel; geometry: Geometry; vp: React.RefObject<Viewport>; vpState: Viewport }) {
  const { model, geometry } = props;
  const ref = useRef<HTMLCanvasElement>(null);
  // Every tile drawn once into a bitmap (rebuilt on model changes, at most every 200 ms):
  // panning and zooming far out then copy one image instead of drawing 100,000 tiles.
  const cache = useRef<{ canvas: HTMLCanvasElement; scale: number; x0: number; y0: number; stale: boolean; at: number } | null>(null);
  const build = useCallback(() => {
    const box = bounds(model, geometry);
    const scale = Math.min(1, CACHE_PX / Math.max(1, box.x1 - box.x0), CACHE_PX / Math.max(1, box.y1 - box.y0));
    const c = cache.current?.canvas ?? document.createElement("canvas");
    c.width = Math.ceil((box.x1 - box.x0) * scale) + 2;
    c.height = Math.ceil((box.y1 - box.y0) * scale) + 2;
    const ctx = c.getContext("2d");
    if (ctx) drawTiles(ctx, model, geometry, scale, -box.x0 * scale, -box.y0 * scale, c.width, c.height, true);
    cache.current = { canvas: c, scale, x0: box.x0, y0: box.y0, stale: false, at: performance.now() };
  }, [model, geometry]);
  const draw = useCallback(() => {
    const c = ref.current;
    if (!c) return;
    const w = c.parentElement?.clientWidth ?? 1500;
    const h = c.parentElement?.clientHeight ?? 900;
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      c.style.width = w + "px";
      c.style.height = h + "px";
    }
    const ctx = c.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const v = props.vp.current ?? props.vpState;
    const big = model.units.length > 3000;
    if (big && (!cache.current || (cache.current.stale && performance.now() - cache.current.at > 200))) build();
    const k = cache.current;
    if (big && k && v.zoom <= k.scale * 1.5) {
      ctx.clearRect(0, 0, w, h);
      ctx.imageSmoothingEnabled = v.zoom < k.scale;
      const f = v.zoom / k.scale;
      ctx.drawImage(k.canvas, v.x + k.x0 * v.zoom, v.y + k.y0 * v.zoom, k.canvas.width * f, k.canvas.height * f);
      if (k.stale) requestAnimationFrame(() => drawRef.current());
    } else drawTiles(ctx, model, geometry, v.zoom, v.x, v.y, w, h, true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [model, geometry, build]);
  const drawRef = useRef(draw);
  drawRef.current = draw;
  useLayoutEffect(() => {
    cache.current = null; // other units or places: the old bitmap is of another graph
  }, [geometry]);
  useLayoutEffect(draw, [draw, props.vpState]);
  useModelRedraw(model, () => {
    if (cache.current) cache.current.stale = true;
    draw();
  });
  return <canvas ref={ref} className="tile-layer" data-testid="tile-layer" />;
}

const MINI_W = 200;
const MINI_H = 130;

function MiniMap(props: {
  model: WorkflowModel;
  geometry: Geometry;
  vp: Viewport;
  wrap: React.RefObject<HTMLDivElement | null>;
  onPan: (v: Viewport) => void;
}) {
  const { model, geometry, vp } = props;
  const tiles = useRef<HTMLCanvasElement>(null);
  const view = useRef<HTMLCanvasElement>(null);
  const box = useMemo(() => bounds(model, geometry), [model, geometry]);
  const scale = Math.min(MINI_W / Math.max(1, box.x1 - box.x0), MINI_H / Math.max(1, box.y1 - box.y0));
  const dx = (MINI_W - (box.x1 - box.x0) * scale) / 2 - box.x0 * scale;
  const dy = (MINI_H - (box.y1 - box.y0) * scale) / 2 - box.y0 * scale;
  const drawTilesNow = useCallback(() => {
    const ctx = tiles.current?.getContext("2d");
    if (ctx) drawTiles(ctx, model, geometry, scale, dx, dy, MINI_W, MINI_H, false);
  }, [model, geometry, scale, dx, dy]);
  useLayoutEffect(drawTilesNow, [drawTilesNow]);
  useModelRedraw(model, drawTilesNow);
  useLayoutEffect(() => {
    const ctx = view.current?.getContext("2d");
    const el = props.wrap.current;
    if (!ctx || !el) return;
    ctx.clearRect(0, 0, MINI_W, MINI_H);
    const x = (-vp.x / vp.zoom) * scale + dx;
    const y = (-vp.y / vp.zoom) * scale + dy;
    const w = (el.clientWidth / vp.zoom) * scale;
    const h = (el.clientHeight / vp.zoom) * scale;
    ctx.strokeStyle = "#1d4ed8";
    ctx.lineWidth = 1.5;
    ctx.fillStyle = "rgba(37, 99, 235, 0.08)";
    ctx.fillRect(x, y, w, h);
    ctx.strokeRect(x, y, w, h);
  }, [vp, scale, dx, dy, props.wrap]);
  const pan = (e: React.PointerEvent) => {
    const el = props.wrap.current;
    if (!el) return;
    const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
    const fx = (e.clientX - r.left - dx) / scale;
    const fy = (e.clientY - r.top - dy) / scale;
    props.onPan({ x: el.clientWidth / 2 - fx * vp.zoom, y: el.clientHeight / 2 - fy * vp.zoom, zoom: vp.zoom });
  };
  return (
    <div
      className="minimap"
      data-testid="minimap"
      style={{ width: MINI_W, height: MINI_H }}
      onPointerDown={(e) => {
        (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
        pan(e);
      }}
      onPointerMove={(e) => e.buttons & 1 && pan(e)}
    >
      <canvas ref={tiles} width={MINI_W} height={MINI_H} />
      <canvas ref={view} width={MINI_W} height={MINI_H} />
    </div>
  );
}
