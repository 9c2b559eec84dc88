// Left-to-right layered layout: longest-path layering, then barycentre ordering sweeps.
// Linear-ish in nodes + edges, so it lays out 100,000 units without a library.

export interface LayoutOptions {
  colWidth?: number;
  rowHeight?: number;
  sweeps?: number;
  /** A layer of more than this many nodes wraps into a grid of rows (default: never). */
  wrapAbove?: number;
  /** Each node's rank in the preferred (natural name) order: the initial row order and tie break. */
  rank?: ArrayLike<number>;
}

export interface Layout {
  x: Float64Array;
  y: Float64Array;
  layer: Int32Array;
  layers: number;
}

export function layeredLayout(n: number, edges: ReadonlyArray<readonly [number, number]>, opts: LayoutOptions = {}): Layout {
  const colWidth = opts.colWidth ?? 240;
  const rowHeight = opts.rowHeight ?? 80;
  const sweeps = opts.sweeps ?? (n > 20000 ? 1 : 4);
  const wrapAbove = opts.wrapAbove ?? Infinity;
  const pref = opts.rank;
  const tie = pref ? (p: number, q: number) => pref[p] - pref[q] || p - q : (p: number, q: number) => p - q;
  const outStart = new Int32Array(n + 1);
  const inStart = new Int32Array(n + 1);
  for (const [a, b] of edges) {
    outStart[a + 1]++;
    inStart[b + 1]++;
  }
  for (let i = 0; i < n; i++) {
    outStart[i + 1] += outStart[i];
    inStart[i + 1] += inStart[i];
  }
  const outAdj = new Int32Array(edges.length);
  const inAdj = new Int32Array(edges.length);
  const oFill = outStart.slice(0, n);
  const iFill = inStart.slice(0, n);
  for (const [a, b] of edges) {
    outAdj[oFill[a]++] = b;
    inAdj[iFill[b]++] = a;
  }
  // Kahn topological order; nodes left in a cycle are appended in index order.
  const indeg = new Int32Array(n);
  for (let i = 0; i < n; i++) indeg[i] = inStart[i + 1] - inStart[i];
  const order = new Int32Array(n);
  let head = 0;
  let tail = 0;
  for (let i = 0; i < n; i++) if (indeg[i] === 0) order[tail++] = i;
  const seen = new Uint8Array(n);
  while (head < tail) {
    const v = order[head++];
    seen[v] = 1;
    for (let k = outStart[v]; k < outStart[v + 1]; k++) {
      const w = outAdj[k];
      if (--indeg[w] === 0) order[tail++] = w;
    }
  }
  if (tail < n) for (let i = 0; i < n; i++) if (!seen[i]) order[tail++] = i;
  const pos = new Int32Array(n);
  for (let i = 0; i < n; i++) pos[order[i]] = i;
  const layer = new Int32Array(n);
  let layers = n ? 1 : 0;
  for (let i = 0; i < n; i++) {
    const v = order[i];
    let l = 0;
    for (let k = inStart[v]; k < inStart[v + 1]; k++) {
      const u = inAdj[k];
      if (pos[u] < i) l = Math.max(l, layer[u] + 1);
    }
    layer[v] = l;
    if (l + 1 > layers) layers = l + 1;
  }
  // Buckets per layer, initially in index (name) order.
  const buckets: number[][] = Array.from({ length: layers }, () => []);
  for (let v = 0; v < n; v++) buckets[layer[v]].push(v);
  if (pref) for (const b of buckets) b.sort(tie);
  const rank = new Float64Array(n);
  const setRanks = (b: number[]) => b.forEach((v, i) => (rank[v] = i));
  buckets.forEach(setRanks);
  const bary = new Float64Array(n);
  for (let s = 0; s < sweeps; s++) {
    const down = s % 2 === 0;
    const seq = down ? buckets.map((_, i) => i).slice(1) : buckets.map((_, i) => i).reverse().slice(1);
    for (const li of seq) {
      const b = buckets[li];
      for (const v of b) {
        let sum = 0;
        let cnt = 0;
        if (down) for (let k = inStart[v]; k < inStart[v + 1]; k++) { sum += rank[inAdj[k]]; cnt++; }
        else for (let k = outStart[v]; k < outStart[v + 1]; k++) { sum += rank[outAdj[k]]; cnt++; }
        bary[v] = cnt ? sum / cnt : rank[v];
      }
      b.sort((p, q) => bary[p] - bary[q] || tie(p, q));
      setRanks(b);
    }
  }
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  // A wide layer becomes a grid of about square extent, filled row by row (reading order);
  // the layers after it move right by its width.
  const cols = buckets.map((b) => (b.length > wrapAbove ? Math.max(1, Math.ceil(Math.sqrt((b.length * rowHeight) / colWidth))) : 1));
  const height = buckets.map((b, li) => Math.ceil(b.length / cols[li]));
  let maxRows = 0;
  for (const h of height) maxRows = Math.max(maxRows, h);
  let left = 0;
  buckets.forEach((b, li) => {
    const c = cols[li];
    const offset = ((maxRows - height[li]) * rowHeight) / 2;
    b.forEach((v, i) => {
      x[v] = left + (c > 1 ? (i % c) * colWidth : 0);
      y[v] = offset + (c > 1 ? Math.floor(i / c) : i) * rowHeight;
    });
    left += c * colWidth;
  });
  return { x, y, layer, layers };
}
