// Level of detail: the fitted viewport and the tiles drawn on a canvas (a recording context).
import { describe, expect, test, vi } from "vitest";
import type { CompactGraph } from "./api";
import { WorkflowModel } from "./model";
import { OPEN_TILE, QUEUED_FILL, bounds, drawTiles, fitViewport, tileFill, unitAt, type Geometry } from "./tiles";
import { COLOURS } from "./lifecycle";

function model(statuses: string[]): WorkflowModel {
  const names = statuses.map((_, i) => `n${i}`);
  const g: CompactGraph = {
    total: names.length,
    offset: 0,
    limit: names.length,
    nodes: { name: names, kind: names.map(() => "task"), status: statuses as never, group: names.map(() => null), frames: names.map(() => null) },
    edges: [],
  };
  const m = new WorkflowModel(g);
  m.buildUnits(new Set());
  return m;
}

const geo = (xs: number[], ys: number[]): Geometry => ({ x: Float64Array.from(xs), y: Float64Array.from(ys), w: 10, h: () => 5 });

describe("fitting", () => {
  test("bounds and a viewport that shows them whole, centred, zoom clamped", () => {
    const m = model(["open", "failed"]);
    const g = geo([0, 190], [0, 95]);
    const b = bounds(m, g);
    expect(b).toEqual({ x0: 0, y0: 0, x1: 200, y1: 100 });
    const v = fitViewport(b, 1000, 1000, 0.01, 1, 0);
    expect(v.zoom).toBe(1);
    expect(v).toMatchObject({ x: 400, y: 450 });
    expect(fitViewport(b, 100, 100, 0.01, 2, 0).zoom).toBe(0.5);
    expect(fitViewport(b, 1, 1, 0.3, 2, 0).zoom).toBe(0.3);
  });
});

describe("tiles", () => {
  test("colours: status, open darker than its fill, queued paler", () => {
    const m = model(["open", "running", "failed"]);
    m.setRunInfo("n1", { attempt: 1, since: null, phase: "queued" });
    expect([tileFill(m, 0), tileFill(m, 1), tileFill(m, 2)]).toEqual([OPEN_TILE, QUEUED_FILL, COLOURS.failed.fill]);
  });

  test("one rect per unit in view, selected ones outlined; off-canvas skipped", () => {
    const m = model(["open", "failed", "succeeded"]);
    m.setSelection(new Set([1]));
    const ctx = { clearRect: vi.fn(), fillRect: vi.fn(), strokeRect: vi.fn(), beginPath: vi.fn(), rect: vi.fn(), stroke: vi.fn(), fillStyle: "", strokeStyle: "", lineWidth: 1 };
    drawTiles(ctx as unknown as CanvasRenderingContext2D, m, geo([0, 20, 5000], [0, 0, 0]), 1, 0, 0, 100, 100, true);
    expect(ctx.fillRect).toHaveBeenCalledTimes(2);
    expect(ctx.rect).toHaveBeenCalledTimes(1); // the selected tile's outline, in one path
    expect(ctx.rect.mock.calls[0][0]).toBe(20);
    expect(ctx.stroke).toHaveBeenCalledTimes(1);
  });

  test("the unit under a point", () => {
    const m = model(["open", "open"]);
    const g = geo([0, 20], [0, 0]);
    expect(unitAt(m, g, 25, 2)).toBe(1);
    expect(unitAt(m, g, 15, 2)).toBe(-1);
  });
});
