// A small fileseq-compatible frame spec reader, for the Composer's chunk counts and names.
// It follows stormflow.spec.frames (fileseq's FrameSet): "1-100", "1-100x2" (every 2nd),
// "1-100y2" (the frames x2 leaves out), "1-100:4" (staggered x4, x3, x2, x1), "1-10,20-30",
// "5", "-5-5", "10-1"; whitespace is ignored, repeated frames are dropped, authored order is
// kept. Returns null when it cannot read it (or the server would refuse it).

const PART = /^(-?\d+)(?:-(-?\d+)(?:([xy:])(-?\d+))?)?$/;

/** Ranges longer than this are not listed in the browser (null, like an unreadable spec). */
const MAX_SPAN = 1_000_000;

/** Calls fn on start..stop inclusive by |step|, from start towards stop (fileseq's xfrange). */
function each(start: number, stop: number, step: number, fn: (f: number) => void): void {
  const s = Math.abs(step);
  if (start <= stop) for (let f = start; f <= stop; f += s) fn(f);
  else for (let f = start; f >= stop; f -= s) fn(f);
}

export function parseFrames(spec: unknown): number[] | null {
  if (typeof spec === "number") return Number.isInteger(spec) ? [spec] : null;
  if (typeof spec !== "string") return null;
  // The server refuses fractional frames and padding characters; fileseq drops all whitespace.
  if (/[.#@]/.test(spec)) return null;
  const text = spec.replace(/\s+/g, "");
  if (!text) return null;
  const out: number[] = [];
  // Frames can repeat only across overlapping pieces or within a stagger: only then is a
  // set of the frames kept (a plain "1-100000" stays a tight loop).
  let seen: Set<number> | null = null;
  const spans: [number, number][] = [];
  const add = (f: number) => {
    if (seen) {
      if (seen.has(f)) return;
      seen.add(f);
    }
    out.push(f);
  };
  for (const part of text.split(",")) {
    if (!part) continue;
    const m = PART.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    const mod = m[3];
    const chunk = m[4] === undefined ? 1 : Number(m[4]);
    if (chunk === 0 || (b > a && chunk < 0)) return null;
    const step = Math.abs(chunk);
    if (Math.abs(b - a) / (mod === "x" ? step : 1) > MAX_SPAN) return null;
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    if (!seen && (mod === ":" || spans.some(([l, h]) => lo <= h && hi >= l))) seen = new Set(out);
    spans.push([lo, hi]);
    if (mod === "y") each(a, b, 1, (f) => (f - a) % step !== 0 && add(f));
    else if (mod === ":") for (let s = step; s >= 1; s--) each(a, b, s, add);
    else each(a, b, mod === "x" ? step : 1, add);
  }
  return out.length ? out : null;
}

function rangePart(start: number, stop: number, stride: number | null): string {
  if (stride === null || start === stop) return String(start);
  if (stride === 1) return `${start}-${stop}`;
  return `${start}-${stop}x${stride}`;
}

/** Frames (in order, no repeats) as fileseq writes them: "1-4", "1-7x2", "3,1-2", "10,3,5". */
export function framesString(frames: readonly number[]): string {
  if (!frames.length) return "";
  if (frames.length === 1) return String(frames[0]);
  // FrameSet.framesToFrameRanges, for whole frames.
  const parts: string[] = [];
  let start: number | null = null;
  let stride: number | null = null;
  let last = 0;
  let count = 0;
  let cur = 0;
  for (cur of frames) {
    if (start === null) {
      start = last = cur;
      count++;
      continue;
    }
    if (stride === null) stride = Math.abs(cur - start);
    const next = Math.abs(cur - last);
    if (stride === next) count++;
    else if (count === 2 && stride !== 1) {
      parts.push(rangePart(start, start, null));
      start = last;
      stride = next;
    } else {
      parts.push(rangePart(start, last, stride));
      stride = null;
      start = cur;
      count = 1;
    }
    last = cur;
  }
  if (count === 2 && stride !== 1) {
    parts.push(rangePart(start!, start!, null));
    parts.push(rangePart(cur, cur, null));
  } else parts.push(rangePart(start!, cur, stride));
  return parts.join(",");
}

/** The chunk names a frame-ranged node expands to, as the server names them: `render.1-4`, `render.5`, `render.1-7x2`. */
export function chunkNames(name: string, frames: unknown, chunkSize: unknown): string[] | null {
  const list = parseFrames(frames);
  if (!list) return null;
  const size = typeof chunkSize === "number" && chunkSize >= 1 ? Math.floor(chunkSize) : 1;
  const names: string[] = [];
  for (let i = 0; i < list.length; i += size) names.push(`${name}.${framesString(list.slice(i, i + size))}`);
  return names;
}
