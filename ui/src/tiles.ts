// Level-of-detail drawing for the Monitor's graph: far out, every unit is one small
// status-coloured tile on a canvas (a group: a strip of its members' statuses), so a
// fitted view of 100,000 nodes is one canvas instead of thousands of DOM nodes.
import { COLOURS, STATUSES, STATUS_INDEX } from "./lifecycle";
import type { WorkflowModel } from "./model";

export const QUEUED_FILL = "#cffafe";
export const QUEUED_BORDER = "#0891b2";
/** Open nodes' tiles: darker than their near fill, which vanishes on the pane at tile size. */
export const OPEN_TILE = "#d4d4d8";

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface Geometry {
  x: Float64Array;
  y: Float64Array;
  w: number;
  h: (u: number) => number;
}

/** The bounding box of every unit (an empty graph: a unit box at the origin). */
export function bounds(model: WorkflowModel, g: Geometry): Box {
  const n = model.units.length;
  if (!n) return { x0: 0, y0: 0, x1: g.w, y1: g.h(0) };
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let u = 0; u < n; u++) {
    x0 = Math.min(x0, g.x[u]);
    y0 = Math.min(y0, g.y[u]);
    x1 = Math.max(x1, g.x[u] + g.w);
    y1 = Math.max(y1, g.y[u] + g.h(u));
  }
  return { x0, y0, x1, y1 };
}

/** The viewport that shows `box` whole in a w x h pane, with a margin, zoom within limits. */
export function fitViewport(box: Box, w: number, h: number, minZoom: number, maxZoom: number, margin = 0.06) {
  const bw = Math.max(1, box.x1 - box.x0);
  const bh = Math.max(1, box.y1 - box.y0);
  const zoom = Math.max(minZoom, Math.min(maxZoom, Math.min((w * (1 - 2 * margin)) / bw, (h * (1 - 2 * margin)) / bh)));
  return { x: (w - bw * zoom) / 2 - box.x0 * zoom, y: (h - bh * zoom) / 2 - box.y0 * zoom, zoom };
}

/** The fill of one node's tile: its status colour, queued running nodes paler. */
export function tileFill(model: WorkflowModel, i: number): string {
  const s = model.status[i];
  if (s === STATUS_INDEX.running && model.phaseOf(i) === "queued") return QUEUED_FILL;
  if (s === STATUS_INDEX.open) return OPEN_TILE;
  return COLOURS[STATUSES[s]].fill;
}

/**
 * Draw every unit into ctx under the transform (scale, dx, dy): flow (x, y) lands at
 * (x * scale + dx, y * scale + dy). Tiles outside the canvas are skipped; tiles of one
 * colour are drawn together. Selected units get an outline when `outline` is set.
 */
export function drawTiles(
  ctx: CanvasRenderingContext2D,
  model: WorkflowModel,
  g: Geometry,
  scale: number,
  dx: number,
  dy: number,
  cw: number,
  ch: number,
  outline: boolean,
): void {
  ctx.clearRect(0, 0, cw, ch);
  const n = model.units.length;
  const tw = Math.max(1, g.w * scale * 0.92);
  const byColour = new Map<string, number[]>();
  const groups: number[] = [];
  const selected: number[] = [];
  for (let u = 0; u < n; u++) {
    const px = g.x[u] * scale + dx;
    const py = g.y[u] * scale + dy;
    const th = Math.max(1, g.h(u) * scale * 0.92);
    if (px > cw || py > ch || px + tw < 0 || py + th < 0) continue;
    const unit = model.units[u];
    if (unit.group) {
      groups.push(u);
      continue;
    }
    const fill = tileFill(model, unit.members[0]);
    let list = byColour.get(fill);
    if (!list) byColour.set(fill, (list = []));
    list.push(u);
    if (outline && model.selected.has(unit.members[0])) selected.push(u);
  }
  for (const [fill, list] of byColour) {
    ctx.fillStyle = fill;
    for (const u of list) ctx.fillRect(g.x[u] * scale + dx, g.y[u] * scale + dy, tw, Math.max(1, g.h(u) * scale * 0.92));
  }
  // A group: a strip of its members' statuses, in proportion (a frame-strip of its chunks).
  const counts = new Int32Array(STATUSES.length);
  for (const u of groups) {
    const px = g.x[u] * scale + dx;
    const py = g.y[u] * scale + dy;
    const th = Math.max(1, g.h(u) * scale * 0.92);
    counts.fill(0);
    let queued = 0;
    const members = model.units[u].members;
    for (const i of members) {
      counts[model.status[i]]++;
      if (model.status[i] === STATUS_INDEX.running && model.phaseOf(i) === "queued") queued++;
    }
    let at = px;
    for (let k = 0; k < STATUSES.length; k++) {
      if (!counts[k]) continue;
      if (k === STATUS_INDEX.running && queued) {
        const wq = (tw * queued) / members.length;
        ctx.fillStyle = QUEUED_FILL;
        ctx.fillRect(at, py, wq, th);
        at += wq;
        const we = (tw * (counts[k] - queued)) / members.length;
        ctx.fillStyle = COLOURS.running.fill;
        ctx.fillRect(at, py, we, th);
        at += we;
        continue;
      }
      const wk = (tw * counts[k]) / members.length;
      ctx.fillStyle = k === STATUS_INDEX.open ? OPEN_TILE : COLOURS[STATUSES[k]].fill;
      ctx.fillRect(at, py, wk, th);
      at += wk;
    }
    ctx.strokeStyle = "#475569";
    ctx.lineWidth = 1;
    ctx.strokeRect(px, py, tw, th);
    if (outline && model.unitSelectedCount(u)) selected.push(u);
  }
  if (selected.length) {
    // One path for every outline: one stroke instead of one per selected tile.
    ctx.strokeStyle = "#1d4ed8";
    ctx.lineWidth = Math.max(1, Math.min(3, tw / 8));
    ctx.beginPath();
    for (const u of selected) ctx.rect(g.x[u] * scale + dx, g.y[u] * scale + dy, tw, Math.max(1, g.h(u) * scale * 0.92));
    ctx.stroke();
  }
}

/** The unit under flow point (x, y), or -1. */
export function unitAt(model: WorkflowModel, g: Geometry, x: number, y: number): number {
  for (let u = 0; u < model.units.length; u++) {
    if (x >= g.x[u] && x <= g.x[u] + g.w && y >= g.y[u] && y <= g.y[u] + g.h(u)) return u;
  }
  return -1;
}
