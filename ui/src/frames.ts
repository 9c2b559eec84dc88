// A small fileseq-compatible frame spec reader, for the Composer's chunk counts.
// "1-100", "1-100x2", "1-10,20-30", "5", "-5-5"; returns null when it cannot read it.

export function parseFrames(spec: unknown): number[] | null {
  if (typeof spec === "number" && Number.isInteger(spec)) return [spec];
  if (typeof spec !== "string" || !spec.trim()) return null;
  const out: number[] = [];
  for (const raw of spec.split(",")) {
    const part = raw.trim();
    const m = /^(-?\d+)(?:-(-?\d+)(?:([xy:])(-?\d+))?)?$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    if (m[2] === undefined) {
      out.push(a);
      continue;
    }
    const b = Number(m[2]);
    const step = m[4] ? Math.abs(Number(m[4])) : 1;
    if (!step) return null;
    const dir = b >= a ? 1 : -1;
    if (Math.abs(b - a) / step > 1_000_000) return null;
    for (let f = a; dir > 0 ? f <= b : f >= b; f += dir * step) out.push(f);
  }
  return out;
}

/** The chunk names a frame-ranged node expands to: `render.1-4`, `render.5`. */
export function chunkNames(name: string, frames: unknown, chunkSize: unknown): string[] | null {
  const list = parseFrames(frames);
  if (!list) return null;
  const size = typeof chunkSize === "number" && chunkSize >= 1 ? Math.floor(chunkSize) : 1;
  const names: string[] = [];
  for (let i = 0; i < list.length; i += size) {
    const chunk = list.slice(i, i + size);
    const first = chunk[0];
    const last = chunk[chunk.length - 1];
    names.push(first === last ? `${name}.${first}` : `${name}.${first}-${last}`);
  }
  return names;
}
