// The node lifecycle of ../shared/spec/node-lifecycle.md, mirrored from stormflow.core.statuses.

export const STATUSES = ["open", "holding", "running", "succeeded", "skipped", "failed", "canceled"] as const;
export type Status = (typeof STATUSES)[number];

export const ACTIONS = ["hold", "unhold", "skip", "cancel", "retry", "revert", "update", "replay"] as const;
export type Action = (typeof ACTIONS)[number];

const UPDATES: Action[] = ["update", "revert", "replay"];

/** The allowed-actions table (update family everywhere, retry only on retryable statuses). */
export const ALLOWED: Record<Status, ReadonlySet<Action>> = {
  open: new Set([...UPDATES, "hold", "skip"]),
  holding: new Set([...UPDATES, "unhold", "skip"]),
  running: new Set([...UPDATES, "retry", "skip", "cancel"]),
  skipped: new Set([...UPDATES, "retry", "cancel"]),
  failed: new Set([...UPDATES, "retry", "skip"]),
  canceled: new Set([...UPDATES, "retry", "skip"]),
  succeeded: new Set([...UPDATES, "retry", "cancel"]),
};

export const START: ReadonlySet<Status> = new Set(["open", "holding"]);
export const READY: ReadonlySet<Status> = new Set(["succeeded", "skipped"]);
export const RETRYABLE: ReadonlySet<Status> = new Set(["running", "succeeded", "skipped", "failed", "canceled"]);

export function isAllowed(status: Status, action: Action): boolean {
  return ALLOWED[status]?.has(action) ?? false;
}

/** The seed's colours: fill, border, text. Skipped is purple. */
export const COLOURS: Record<Status, { fill: string; border: string; text: string }> = {
  open: { fill: "#f4f4f5", border: "#a1a1aa", text: "#27272a" },
  holding: { fill: "#fde047", border: "#ca8a04", text: "#422006" },
  running: { fill: "#22d3ee", border: "#0369a1", text: "#082f49" },
  succeeded: { fill: "#4ade80", border: "#15803d", text: "#052e16" },
  skipped: { fill: "#a855f7", border: "#6b21a8", text: "#faf5ff" },
  failed: { fill: "#ef4444", border: "#991b1b", text: "#fff1f2" },
  canceled: { fill: "#52525b", border: "#27272a", text: "#fafafa" },
};

export const STATUS_INDEX: Record<Status, number> = Object.fromEntries(
  STATUSES.map((s, i) => [s, i]),
) as Record<Status, number>;

/** fnmatch-style glob (`*`, `?`, `[abc]`) to a RegExp matching the whole name. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      // As Python's fnmatch: a "]" right after "[" or "[!" is part of the set, "[!" negates,
      // a leading "^" is a literal, and a "[" without its "]" is a literal.
      let j = i + 1;
      if (glob[j] === "!") j++;
      if (glob[j] === "]") j++;
      while (j < glob.length && glob[j] !== "]") j++;
      if (j >= glob.length) re += "\\[";
      else {
        let body = glob.slice(i + 1, j).replace(/\\/g, "\\\\").replace(/[\]\[]/g, "\\$&");
        if (body.startsWith("!")) body = "^" + body.slice(1);
        else if (body.startsWith("^")) body = "\\" + body;
        re += "[" + body + "]";
        i = j;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  return new RegExp("^" + re + "$");
}

export function formatDuration(seconds: number): string {
  if (!isFinite(seconds) || seconds < 0) return "–";
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

/** A server time (epoch seconds, or an ISO string) in ms; NaN when absent. */
export type Time = number | string | null | undefined;
export function toMs(t: Time): number {
  if (t === null || t === undefined || t === "") return NaN;
  if (typeof t === "number") return t < 1e11 ? t * 1000 : t;
  const n = Number(t);
  if (!isNaN(n)) return toMs(n);
  return Date.parse(t);
}

export function age(when: Time, now = Date.now()): string {
  const t = toMs(when);
  if (isNaN(t)) return "–";
  return formatDuration((now - t) / 1000);
}
