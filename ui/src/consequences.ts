// What a batch action will do, in words: from the server's dry run (the same answer as the
// action, nothing stored) or, on a server without dry runs, estimated from the graph.
import type { ActionAnswer } from "./api";
import { ALLOWED, READY, RETRYABLE, START, STATUSES, type Action, type Status } from "./lifecycle";

export interface Consequences {
  /** Nodes the selection resolves to now. */
  selected: number;
  /** Selected nodes the action changes itself. */
  direct: number;
  /** Of those, running nodes whose attempt is stopped. */
  stopped: number;
  /** Other nodes reset by the cascade. */
  cascaded: number;
  snapshots: number;
  ineligible: { reason: string; count: number; example: string }[];
  /** True when counted by the server's dry run; false when estimated here. */
  exact: boolean;
}

const n = (k: number) => k.toLocaleString("en-US");
const nodes = (k: number) => `${n(k)} node${k === 1 ? "" : "s"}`;

const VERB: Record<string, string> = {
  hold: "Hold",
  unhold: "Unhold",
  skip: "Skip",
  cancel: "Cancel",
  retry: "Retry",
  revert: "Revert",
  replay: "Replay",
  update: "Update",
  "stop-hold": "Stop & hold",
};

/** What the direct changes are called for each action. */
function directWord(action: string, target: string | undefined): string {
  if (action === "stop-hold") return "stop and hold";
  if (action === "retry") return target === "holding" ? "restart held" : "restart";
  if (action === "revert") return "back to base";
  if (action === "replay") return "replayed";
  if (action === "update") return "updated";
  if (action === "skip") return "skipped";
  if (action === "cancel") return "canceled";
  if (action === "hold") return "held";
  if (action === "unhold") return "released";
  return "changed";
}

export function fromAnswer(a: ActionAnswer): Consequences {
  const cascaded = new Set(a.cascaded);
  let direct = 0;
  let stopped = 0;
  const seen = new Set<string>();
  for (const c of a.changes ?? []) {
    if (cascaded.has(c.node) || seen.has(c.node)) continue;
    seen.add(c.node);
    direct++;
    if (c.old === "running") stopped++;
  }
  if (!a.changes?.length) direct = a.changed.filter((x) => !cascaded.has(x)).length;
  const reasons = new Map<string, { reason: string; count: number; example: string }>();
  for (const x of a.ineligible) {
    const r = reasons.get(x.reason) ?? { reason: x.reason, count: 0, example: x.node };
    r.count++;
    reasons.set(x.reason, r);
  }
  return {
    selected: a.selected,
    direct,
    stopped,
    cascaded: cascaded.size,
    snapshots: a.snapshots?.length ?? 0,
    ineligible: [...reasons.values()],
    exact: true,
  };
}

/**
 * An estimate from the graph alone (a server without dry runs): the table's eligible
 * nodes change; a retry-family action on a retryable node, or a cancel of a ready one,
 * resets its retryable descendants. `hasPatch` says, where known, whether a node has a
 * patch to revert.
 */
export function estimate(
  action: Action | "stop-hold",
  selected: readonly number[],
  status: (i: number) => Status,
  downstream: (i: number) => Iterable<number>,
  hasPatch?: (i: number) => boolean | null,
): Consequences {
  const act: Action = action === "stop-hold" ? "retry" : action;
  let direct = 0;
  let stopped = 0;
  let snapshots = 0;
  const roots: number[] = [];
  const chosen = new Set(selected);
  const reasons = new Map<string, { reason: string; count: number; example: string }>();
  const refuse = (reason: string, i: number) => {
    const r = reasons.get(reason) ?? { reason, count: 0, example: String(i) };
    r.count++;
    reasons.set(reason, r);
  };
  for (const i of selected) {
    const s = status(i);
    if (action === "stop-hold" && s !== "running") {
      refuse(`is ${s}: only running nodes are stopped and held`, i);
      continue;
    }
    if (!ALLOWED[s].has(act)) {
      refuse(`${act} is not allowed when ${s}`, i);
      continue;
    }
    if (act === "revert" && hasPatch && hasPatch(i) === false) {
      refuse("nothing to revert", i);
      continue;
    }
    direct++;
    if (s === "running" && (act === "skip" || act === "cancel" || RETRYABLE.has(s))) stopped++;
    const retryFamily = act === "retry" || act === "update" || act === "revert" || act === "replay";
    if (retryFamily && RETRYABLE.has(s)) {
      snapshots++;
      roots.push(i);
    }
    if (act === "cancel" && READY.has(s)) roots.push(i);
  }
  // Descendants reset by the cascade: the retryable ones (open and holding ones stay).
  const cascaded = new Set<number>();
  const stack = [...roots];
  const visited = new Set<number>(roots);
  while (stack.length) {
    const v = stack.pop()!;
    for (const w of downstream(v)) {
      if (visited.has(w)) continue;
      visited.add(w);
      stack.push(w);
      if (!chosen.has(w) && !START.has(status(w))) cascaded.add(w);
    }
  }
  return { selected: selected.length, direct, stopped, cascaded: cascaded.size, snapshots, ineligible: [...reasons.values()], exact: false };
}

/** "Retry 240 nodes: 240 restart, 1,200 downstream reset (snapshots kept)". */
export function describe(action: string, c: Consequences, target?: string): string {
  const verb = VERB[action] ?? action;
  const parts: string[] = [];
  if (c.direct) {
    let d = `${n(c.direct)} ${directWord(action, target)}`;
    if (c.stopped && action !== "stop-hold") d += ` (${n(c.stopped)} running stopped)`;
    parts.push(d);
  } else parts.push("nothing changes");
  if (c.cascaded) parts.push(`${n(c.cascaded)} downstream reset`);
  if (c.ineligible.length) parts.push(`${n(c.ineligible.reduce((k, r) => k + r.count, 0))} ineligible`);
  let text = `${verb} ${nodes(c.selected)}: ${parts.join(", ")}`;
  if (c.snapshots) text += " (snapshots kept)";
  return text;
}

/** A confirmation is needed for more than one node, or when any cascade resets others. */
export function needsConfirmation(action: string, c: Consequences): boolean {
  if (!DESTRUCTIVE.has(action)) return false;
  return c.selected > 1 || c.cascaded > 0 || c.direct === 0;
}

export const DESTRUCTIVE: ReadonlySet<string> = new Set(["skip", "cancel", "retry", "revert", "replay", "update", "stop-hold"]);

/** Status counts for a short "of which" line. */
export function statusLine(selected: readonly number[], status: (i: number) => Status): string {
  const c = new Map<Status, number>();
  for (const i of selected) c.set(status(i), (c.get(status(i)) ?? 0) + 1);
  return STATUSES.filter((s) => c.get(s))
    .map((s) => `${n(c.get(s)!)} ${s}`)
    .join(" · ");
}
