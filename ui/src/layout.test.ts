// The left-to-right layered layout of the Composer and the Monitor's graph.
import { describe, expect, test } from "vitest";
import { layeredLayout, type Layout } from "./layout";

type Edge = [number, number];

function positions(l: Layout): string[] {
  return Array.from(l.x, (x, i) => `${x},${l.y[i]}`);
}

/** Pairs of edges between the same two adjacent layers that cross. */
function crossings(l: Layout, edges: Edge[]): number {
  let k = 0;
  for (const [a, b] of edges)
    for (const [c, d] of edges)
      if (l.layer[a] === l.layer[c] && l.layer[b] === l.layer[d] && l.y[a] < l.y[c] && l.y[b] > l.y[d]) k++;
  return k;
}

function expectWellFormed(n: number, edges: Edge[], l: Layout, colWidth = 240, rowHeight = 80): void {
  expect(l.x).toHaveLength(n);
  expect(l.y).toHaveLength(n);
  expect(l.layer).toHaveLength(n);
  for (let i = 0; i < n; i++) {
    expect(Number.isFinite(l.x[i]) && Number.isFinite(l.y[i])).toBe(true);
    expect(l.layer[i]).toBeGreaterThanOrEqual(0);
    expect(l.layer[i]).toBeLessThan(l.layers);
    expect(l.x[i]).toBe(l.layer[i] * colWidth);
    expect(l.y[i] % (rowHeight / 2)).toBe(0);
  }
  expect(new Set(positions(l)).size).toBe(n); // no two nodes on one spot
  for (const [a, b] of edges) {
    expect(l.layer[a]).toBeLessThan(l.layer[b]);
    expect(l.x[a]).toBeLessThan(l.x[b]);
  }
}

describe("layeredLayout", () => {
  test("no nodes", () => {
    const l = layeredLayout(0, []);
    expect(l.layers).toBe(0);
    expect(l.x).toHaveLength(0);
  });

  test("one node at the origin", () => {
    const l = layeredLayout(1, []);
    expect(l.layers).toBe(1);
    expect([l.x[0], l.y[0], l.layer[0]]).toEqual([0, 0, 0]);
  });

  test("unconnected nodes share the first column, one row each, in index order", () => {
    const l = layeredLayout(3, []);
    expect(Array.from(l.layer)).toEqual([0, 0, 0]);
    expect(Array.from(l.y)).toEqual([0, 80, 160]);
    expectWellFormed(3, [], l);
  });

  test("a chain: one column per node, left to right, whatever the index order", () => {
    const edges: Edge[] = [
      [3, 1],
      [1, 2],
      [2, 0],
    ];
    const l = layeredLayout(4, edges);
    expect(Array.from(l.layer)).toEqual([3, 1, 2, 0]);
    expect(l.layers).toBe(4);
    expect(Array.from(l.y)).toEqual([0, 0, 0, 0]);
    expectWellFormed(4, edges, l);
  });

  test("longest path: a node is one column after its deepest parent", () => {
    // 0 -> 1 -> 2 -> 3 and a shortcut 0 -> 3; 4 -> 3 from nowhere.
    const edges: Edge[] = [
      [0, 1],
      [1, 2],
      [2, 3],
      [0, 3],
      [4, 3],
    ];
    const l = layeredLayout(5, edges);
    expect(Array.from(l.layer)).toEqual([0, 1, 2, 3, 0]);
    expectWellFormed(5, edges, l);
  });

  test("a render pipeline: simulate -> 4 chunks -> comp -> encode -> notify", () => {
    const edges: Edge[] = [
      [0, 1],
      [0, 2],
      [0, 3],
      [0, 4],
      [1, 5],
      [2, 5],
      [3, 5],
      [4, 5],
      [5, 6],
      [6, 7],
    ];
    const l = layeredLayout(8, edges);
    expect(Array.from(l.layer)).toEqual([0, 1, 1, 1, 1, 2, 3, 4]);
    expectWellFormed(8, edges, l);
    // Narrow layers are centred on the widest one (4 rows): 1.5 rows down.
    expect(l.y[0]).toBe(120);
    expect(l.y[5]).toBe(120);
    expect(Array.from(l.y.slice(1, 5)).sort((a, b) => a - b)).toEqual([0, 80, 160, 240]);
  });

  test("column width and row height are options", () => {
    const edges: Edge[] = [
      [0, 1],
      [0, 2],
    ];
    const l = layeredLayout(3, edges, { colWidth: 100, rowHeight: 10 });
    expect(Array.from(l.x)).toEqual([0, 100, 100]);
    expect(l.y[0]).toBe(5);
    expectWellFormed(3, edges, l, 100, 10);
  });

  test("barycentre ordering untangles crossed edges", () => {
    // Index order would draw 0 -> 3 and 1 -> 2 crossing; 2 -> 5, 3 -> 4 likewise.
    const edges: Edge[] = [
      [0, 3],
      [1, 2],
      [2, 5],
      [3, 4],
    ];
    expect(crossings(layeredLayout(6, edges, { sweeps: 0 }), edges)).toBeGreaterThan(0);
    const l = layeredLayout(6, edges);
    expect(crossings(l, edges)).toBe(0);
    expect(l.y[3]).toBeLessThan(l.y[2]);
    expectWellFormed(6, edges, l);
  });

  test("children follow their parents' order", () => {
    // Two fans: 0 -> {4, 5}, 1 -> {2, 3}: the children of 0 go above those of 1.
    const edges: Edge[] = [
      [0, 4],
      [0, 5],
      [1, 2],
      [1, 3],
    ];
    const l = layeredLayout(6, edges);
    expect(Math.max(l.y[4], l.y[5])).toBeLessThan(Math.min(l.y[2], l.y[3]));
    expect(crossings(l, edges)).toBe(0);
  });

  test("a cycle still gets a position for every node", () => {
    const edges: Edge[] = [
      [0, 1],
      [1, 2],
      [2, 1],
      [3, 3],
    ];
    const l = layeredLayout(4, edges);
    expect(l.x).toHaveLength(4);
    for (let i = 0; i < 4; i++) expect(Number.isFinite(l.x[i]) && Number.isFinite(l.y[i])).toBe(true);
    expect(new Set(positions(l)).size).toBe(4);
    expect(l.layer[0]).toBeLessThan(l.layer[1]);
  });

  test("duplicate edges change nothing", () => {
    const once = layeredLayout(3, [
      [0, 1],
      [1, 2],
    ]);
    const twice = layeredLayout(3, [
      [0, 1],
      [0, 1],
      [1, 2],
    ]);
    expect(positions(twice)).toEqual(positions(once));
  });

  test("a wide random DAG: every edge goes left to right, no overlaps", () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const n = 400;
    const edges: Edge[] = [];
    // Edges between random pairs, oriented by a shuffled rank so index order is not topological.
    const rank = Array.from({ length: n }, (_, i) => i).sort(() => rand() - 0.5);
    for (let k = 0; k < 1200; k++) {
      const a = Math.floor(rand() * n);
      const b = Math.floor(rand() * n);
      if (a !== b) edges.push(rank[a] < rank[b] ? [a, b] : [b, a]);
    }
    const l = layeredLayout(n, edges);
    expectWellFormed(n, edges, l);
    // Longest path: every non-source node has a parent exactly one layer before it.
    for (let v = 0; v < n; v++) {
      const parents = edges.filter(([, b]) => b === v).map(([a]) => l.layer[a]);
      expect(l.layer[v]).toBe(parents.length ? Math.max(...parents) + 1 : 0);
    }
  });

  test("100,000 chunks between two nodes lay out", () => {
    const n = 100_002;
    const edges: Edge[] = [];
    for (let i = 1; i <= 100_000; i++) edges.push([0, i], [i, n - 1]);
    const l = layeredLayout(n, edges);
    expect(l.layers).toBe(3);
    expect([l.layer[0], l.layer[50_000], l.layer[n - 1]]).toEqual([0, 1, 2]);
    expect(l.y[0]).toBe(l.y[n - 1]);
    expect(l.x[n - 1]).toBe(480);
  });
});

describe("wide layers wrap into a grid of rows", () => {
  test("a fan-out of 100 between two nodes: a grid in reading order, the next layer after it", () => {
    const n = 102;
    const edges: Edge[] = [];
    for (let i = 1; i <= 100; i++) edges.push([0, i], [i, 101]);
    const l = layeredLayout(n, edges, { colWidth: 100, rowHeight: 100, wrapAbove: 16 });
    const cols = Math.ceil(Math.sqrt(100)); // square extent with equal cell sides
    expect(cols).toBe(10);
    const xs = new Set(Array.from({ length: 100 }, (_, k) => l.x[k + 1]));
    expect(xs.size).toBe(cols);
    // row by row: 1..10 on the first row, left to right; 11 starts the second
    expect(l.y[1]).toBe(l.y[10]);
    expect(l.x[2] - l.x[1]).toBe(100);
    expect(l.y[11]).toBe(l.y[1] + 100);
    expect(l.x[11]).toBe(l.x[1]);
    // the last layer starts after the grid's width
    expect(l.x[101]).toBe(100 + cols * 100);
    expect(new Set(positions(l)).size).toBe(n);
  });

  test("a preferred rank orders rows (natural names) and breaks ties", () => {
    const rank = [2, 0, 1];
    const l = layeredLayout(3, [], { rank });
    expect([l.y[1], l.y[2], l.y[0]]).toEqual([0, 80, 160]);
  });

  test("narrow layers stay columns", () => {
    const l = layeredLayout(5, [], { wrapAbove: 16 });
    expect(new Set(Array.from(l.x)).size).toBe(1);
  });
});
