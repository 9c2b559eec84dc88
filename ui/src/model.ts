// The Monitor's live model of one workflow: flat arrays from the compact graph, statuses
// as bytes, units (a node, or a collapsed group of chunks) and per-unit subscriptions so
// a status change re-renders only the graph nodes it concerns.
import type { CompactGraph, EventOut } from "./api";
import { STATUSES, STATUS_INDEX, toMs, type Status } from "./lifecycle";

export interface Unit {
  id: string;
  label: string;
  group: string | null; // set when the unit is a collapsed group
  members: number[];
  kind: string;
}

/** Where a running node's attempt is: waiting for a slot (queued) or started (executing). */
export type Phase = "queued" | "executing";

export interface RunInfo {
  attempt: number;
  since: number | null; // ms epoch of the attempt's real start; null while queued or unknown
  phase: Phase | null; // null: not known yet (an older server, before the first event)
  run?: number; // the node's run count across manual retries (its token's "#n"), when known
  worker?: string | null; // where the attempt executes
}

/** Auto-group ungrouped siblings sharing a name prefix (and parents and children) when at least this many. */
export const AUTO_GROUP_MIN = 50;

/** A sort key giving natural order: digit runs compare as numbers (render.2 < render.10). */
export function naturalKey(name: string): string {
  return name.replace(/\d+/g, (d) => {
    const t = d.replace(/^0+(?=\d)/, "");
    return String.fromCharCode(48 + Math.min(t.length, 40)) + t;
  });
}

/** Indices of `names` in natural order. */
export function naturalOrder(names: readonly string[]): Int32Array {
  const keys = names.map(naturalKey);
  const idx = Array.from({ length: names.length }, (_, i) => i);
  idx.sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : a - b));
  return Int32Array.from(idx);
}

export function naturalCompare(a: string, b: string): number {
  const ka = naturalKey(a);
  const kb = naturalKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : a < b ? -1 : a > b ? 1 : 0;
}

type Listener = () => void;

export class WorkflowModel {
  readonly n: number;
  readonly names: string[];
  readonly kinds: string[];
  readonly groups: (string | null)[];
  readonly frames: (string | null)[];
  readonly status: Uint8Array;
  readonly index = new Map<string, number>();
  readonly edges: [number, number][];
  readonly counts = new Int32Array(STATUSES.length);
  readonly running = new Map<number, RunInfo>();
  readonly groupMembers = new Map<string, number[]>();
  /** The group each node collapses into: its server group, or an automatic prefix group. */
  readonly unitGroup: (string | null)[];
  /** Automatic groups (distinct-named siblings with a common prefix), not the server's. */
  readonly autoGroups = new Set<string>();
  /** Node indices in natural name order, and each node's place in it. */
  readonly order: Int32Array;
  readonly rank: Int32Array;
  readonly kindSet: string[];
  /** Running nodes per phase (queued, executing); the rest of running is of unknown phase. */
  queuedCount = 0;
  executingCount = 0;
  unitsBuilt = 0;
  /** Whether the phases of the running nodes were read on open (a newer server). */
  phasesKnown = false;
  selected = new Set<number>();
  version = 0;
  lastSeq = 0;

  units: Unit[] = [];
  unitOf: Int32Array;
  unitEdges: [number, number][] = [];
  unitRank: Float64Array = new Float64Array(0);
  private unitListeners = new Map<number, Set<Listener>>();
  private unitVersion: Uint32Array = new Uint32Array(0);
  private globalListeners = new Set<Listener>();
  private pending: EventOut[] = [];
  private frame = 0;

  constructor(g: CompactGraph) {
    this.n = g.nodes.name.length;
    this.names = g.nodes.name;
    this.kinds = g.nodes.kind;
    this.groups = g.nodes.group;
    this.frames = g.nodes.frames;
    this.status = new Uint8Array(this.n);
    this.edges = g.edges;
    this.unitOf = new Int32Array(this.n);
    const kinds = new Set<string>();
    for (let i = 0; i < this.n; i++) {
      this.index.set(this.names[i], i);
      const s = STATUS_INDEX[g.nodes.status[i]] ?? 0;
      this.status[i] = s;
      this.counts[s]++;
      kinds.add(this.kinds[i]);
    }
    this.kindSet = [...kinds].sort();
    this.order = naturalOrder(this.names);
    this.rank = new Int32Array(this.n);
    this.order.forEach((i, k) => (this.rank[i] = k));
    this.unitGroup = autoGroups(this.names, this.kinds, this.groups, this.edges, this.autoGroups);
    // Phases of the running nodes, where the server sends them (their starts come from the node list).
    const phases = g.nodes.phase;
    if (Array.isArray(phases)) {
      this.phasesKnown = true;
      for (let i = 0; i < this.n; i++) {
        const p = phases[i];
        if (this.status[i] === STATUS_INDEX.running && (p === "queued" || p === "executing")) this.putRun(i, { attempt: 1, since: null, phase: p });
      }
    }
    for (const i of this.order) {
      const grp = this.unitGroup[i];
      if (grp) {
        let m = this.groupMembers.get(grp);
        if (!m) this.groupMembers.set(grp, (m = []));
        m.push(i);
      }
    }
  }

  statusOf(i: number): Status {
    return STATUSES[this.status[i]];
  }

  /** Rebuild units: groups in `collapsed` become one unit each. */
  buildUnits(collapsed: ReadonlySet<string>): void {
    const units: Unit[] = [];
    const seenGroup = new Map<string, number>();
    for (let i = 0; i < this.n; i++) {
      const grp = this.unitGroup[i];
      if (grp && collapsed.has(grp) && (this.groupMembers.get(grp)?.length ?? 0) > 1) {
        let u = seenGroup.get(grp);
        if (u === undefined) {
          u = units.length;
          seenGroup.set(grp, u);
          units.push({ id: "group:" + grp, label: grp, group: grp, members: [], kind: this.kinds[i] });
        }
        this.unitOf[i] = u;
      } else {
        this.unitOf[i] = units.length;
        units.push({ id: "node:" + this.names[i], label: this.names[i], group: null, members: [i], kind: this.kinds[i] });
      }
    }
    // A group's members in natural order (render.2 before render.10).
    for (const [grp, u] of seenGroup) units[u].members = this.groupMembers.get(grp) ?? [];
    // Each unit's place in natural order (its first member's), for the layout's row order.
    const unitRank = new Float64Array(units.length);
    units.forEach((unit, u) => (unitRank[u] = unit.members.length ? this.rank[unit.members[0]] : u));
    this.unitRank = unitRank;
    const seen = new Set<number>();
    const ue: [number, number][] = [];
    const nu = units.length;
    for (const [a, b] of this.edges) {
      const ua = this.unitOf[a];
      const ub = this.unitOf[b];
      if (ua === ub) continue;
      const key = ua * nu + ub;
      if (seen.has(key)) continue;
      seen.add(key);
      ue.push([ua, ub]);
    }
    this.units = units;
    this.unitEdges = ue;
    this.unitVersion = new Uint32Array(nu);
    this.unitsBuilt++;
  }

  subscribeUnit(u: number, cb: Listener): () => void {
    let s = this.unitListeners.get(u);
    if (!s) this.unitListeners.set(u, (s = new Set()));
    s.add(cb);
    return () => s!.delete(cb);
  }

  getUnitVersion(u: number): number {
    return this.unitVersion[u] ?? 0;
  }

  subscribe(cb: Listener): () => void {
    this.globalListeners.add(cb);
    return () => this.globalListeners.delete(cb);
  }

  getVersion = (): number => this.version;

  private touch(units: Iterable<number>): void {
    for (const u of units) {
      this.unitVersion[u]++;
      this.unitListeners.get(u)?.forEach((cb) => cb());
    }
    this.version++;
    this.globalListeners.forEach((cb) => cb());
  }

  setSelection(next: Set<number>): void {
    const touched = new Set<number>();
    for (const i of this.selected) if (!next.has(i)) touched.add(this.unitOf[i]);
    for (const i of next) if (!this.selected.has(i)) touched.add(this.unitOf[i]);
    this.selected = next;
    this.touch(touched);
  }

  /** Set statuses directly (an action's answer); returns whether anything changed. */
  applyChanges(changes: { node: string; old?: Status; new: Status }[], at = Date.now()): void {
    const touched = new Set<number>();
    for (const c of changes) {
      // running -> running is a retry of a running node: its new attempt is queued
      if (c.old === "running" && c.new === "running") {
        const i = this.index.get(c.node);
        if (i !== undefined && this.status[i] === STATUS_INDEX.running) {
          this.putRun(i, { attempt: 1, since: null, phase: "queued", run: this.running.get(i)?.run });
          touched.add(this.unitOf[i]);
          continue;
        }
      }
      this.setStatus(c.node, c.new, at, null, touched);
    }
    if (touched.size) this.touch(touched);
  }

  private setStatus(name: string, st: Status, at: number, attempt: number | null, touched: Set<number>, run: number | null = null): void {
    const i = this.index.get(name);
    if (i === undefined) return;
    const s = STATUS_INDEX[st];
    if (s === undefined) return;
    const old = this.status[i];
    if (old !== s) {
      this.counts[old]--;
      this.counts[s]++;
      this.status[i] = s;
      touched.add(this.unitOf[i]);
    }
    if (st === "running") {
      const prev = this.running.get(i);
      if (!prev || old !== s || (attempt !== null && attempt !== prev.attempt)) {
        // A new attempt waits for a slot: queued, no elapsed time until it starts.
        this.putRun(i, { attempt: attempt ?? (old === s ? prev?.attempt : undefined) ?? 1, since: null, phase: "queued", run: run ?? prev?.run });
        touched.add(this.unitOf[i]);
      }
    } else this.dropRun(i);
    void at;
  }

  private putRun(i: number, info: RunInfo): void {
    const prev = this.running.get(i);
    if (prev?.phase === "queued") this.queuedCount--;
    else if (prev?.phase === "executing") this.executingCount--;
    if (info.phase === "queued") this.queuedCount++;
    else if (info.phase === "executing") this.executingCount++;
    this.running.set(i, info);
  }

  private dropRun(i: number): void {
    const prev = this.running.get(i);
    if (!prev) return;
    if (prev.phase === "queued") this.queuedCount--;
    else if (prev.phase === "executing") this.executingCount--;
    this.running.delete(i);
  }

  /** The phase of a running node, or null (not running, or not known). */
  phaseOf(i: number): Phase | null {
    return this.running.get(i)?.phase ?? null;
  }

  setRunInfo(name: string, info: RunInfo): void {
    const i = this.index.get(name);
    if (i === undefined || this.status[i] !== STATUS_INDEX.running) return;
    this.putRun(i, info);
    this.touch([this.unitOf[i]]);
  }

  /** Phases of many running nodes at once (read from the node list on open). */
  setRunInfos(infos: Iterable<[string, RunInfo]>): void {
    const touched = new Set<number>();
    for (const [name, info] of infos) {
      const i = this.index.get(name);
      if (i === undefined || this.status[i] !== STATUS_INDEX.running) continue;
      this.putRun(i, info);
      touched.add(this.unitOf[i]);
    }
    if (touched.size) this.touch(touched);
  }

  /** Queue an SSE event; events are applied together once per animation frame. */
  push(ev: EventOut): void {
    this.pending.push(ev);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush(): void {
    this.frame = 0;
    const evs = this.pending;
    this.pending = [];
    const touched = new Set<number>();
    for (const ev of evs) {
      if (ev.seq <= this.lastSeq) continue;
      this.lastSeq = ev.seq;
      if (!ev.node) continue;
      const at = toMs(ev.at) || Date.now();
      const p = ev.payload ?? {};
      // The payload's `attempt` is the attempt number; a token's "#n" is not (tokens keep
      // counting across manual retries, attempt numbers start again at 1): it is the run count.
      // An automatic retry (`next_token`) starts the attempt after the one that ended.
      let attempt: number | null = typeof p.attempt === "number" ? p.attempt : null;
      const token = typeof p.next_token === "string" ? p.next_token : typeof p.token === "string" ? p.token : null;
      const run = token ? runOfToken(token) : null;
      if (typeof p.next_token === "string") attempt = attempt === null ? null : attempt + 1;
      const st = (ev.new ?? null) as Status | null;
      const i = this.index.get(ev.node);
      if (i === undefined) continue;
      if (ev.type === "attempt-started") {
        // Executing from the attempt's real start (as the API's started_at after a reload).
        if (this.status[i] === STATUS_INDEX.running) {
          const prev = this.running.get(i);
          const worker = typeof p.worker === "string" ? p.worker : null;
          this.putRun(i, { attempt: attempt ?? prev?.attempt ?? 1, since: at, phase: "executing", run: run ?? prev?.run, worker });
          touched.add(this.unitOf[i]);
        }
        continue;
      }
      // A new attempt (a run, an automatic retry, a lost or handed-back attempt, a manual
      // retry of a running node) is queued until its attempt-started.
      const fresh = typeof p.next_token === "string" || ev.type === "run" || ev.type === "attempt-stopped";
      if (st) {
        if (st === "running" && this.status[i] === STATUS_INDEX.running && fresh) {
          const prev = this.running.get(i);
          this.putRun(i, { attempt: attempt ?? prev?.attempt ?? 1, since: null, phase: "queued", run: run ?? prev?.run });
          touched.add(this.unitOf[i]);
        } else this.setStatus(ev.node, st, at, attempt, touched, run);
      } else if (fresh && this.status[i] === STATUS_INDEX.running) {
        const prev = this.running.get(i);
        this.putRun(i, { attempt: attempt ?? prev?.attempt ?? 1, since: null, phase: "queued", run: run ?? prev?.run });
        touched.add(this.unitOf[i]);
      }
    }
    if (touched.size || evs.length) this.touch(touched);
  }

  dispose(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
  }

  unitCounts(u: number): Int32Array {
    const c = new Int32Array(STATUSES.length);
    for (const i of this.units[u].members) c[this.status[i]]++;
    return c;
  }

  private childStart: Int32Array | null = null;
  private childList: Int32Array | null = null;

  /** Direct downstream nodes of node i (adjacency built on first use). */
  children(i: number): Int32Array {
    if (!this.childStart || !this.childList) {
      const start = new Int32Array(this.n + 1);
      for (const [a] of this.edges) start[a + 1]++;
      for (let k = 0; k < this.n; k++) start[k + 1] += start[k];
      const fill = start.slice(0, this.n);
      const list = new Int32Array(this.edges.length);
      for (const [a, b] of this.edges) list[fill[a]++] = b;
      this.childStart = start;
      this.childList = list;
    }
    return this.childList.subarray(this.childStart[i], this.childStart[i + 1]);
  }

  /** Running members of unit u whose attempt is queued. */
  unitQueued(u: number): number {
    let k = 0;
    for (const i of this.units[u].members) if (this.running.get(i)?.phase === "queued") k++;
    return k;
  }

  unitSelectedCount(u: number): number {
    let k = 0;
    for (const i of this.units[u].members) if (this.selected.has(i)) k++;
    return k;
  }
}

/** A token's run count: "render.1-4#3" -> 3. */
export function runOfToken(token: string): number | null {
  const m = /#(\d+)$/.exec(token);
  return m ? Number(m[1]) : null;
}

/** The prefix a name shares with its siblings: its text without the trailing number. */
export function namePrefix(name: string): string {
  return name.replace(/[-_.]?\d+$/, "");
}

/**
 * Each node's collapsible group: the server's chunk group, or else an automatic one for
 * distinct-named siblings (same name prefix, same first parent and child; or same kind when
 * the names share no prefix) when at least AUTO_GROUP_MIN of them: a flat 5,000-node fan-out
 * then reads as one block that expands into a grid.
 */
export function autoGroups(
  names: readonly string[],
  kinds: readonly string[],
  groups: readonly (string | null)[],
  edges: readonly (readonly [number, number])[],
  auto: Set<string>,
): (string | null)[] {
  const n = names.length;
  const out = groups.slice();
  if (n < AUTO_GROUP_MIN) return out;
  const parent = new Int32Array(n).fill(-1);
  const child = new Int32Array(n).fill(-1);
  for (const [a, b] of edges) {
    if (parent[b] < 0 || a < parent[b]) parent[b] = a;
    if (child[a] < 0 || b < child[a]) child[a] = b;
  }
  const keyOf = new Array<string | null>(n).fill(null);
  const count = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    if (groups[i]) continue;
    const prefix = namePrefix(names[i]);
    const key = (prefix && prefix !== names[i] ? "p:" + prefix : "k:" + kinds[i]) + "|" + parent[i] + "|" + child[i];
    keyOf[i] = key;
    count.set(key, (count.get(key) ?? 0) + 1);
  }
  const label = new Map<string, string>();
  const taken = new Set(groups.filter((g): g is string => !!g));
  for (let i = 0; i < n; i++) {
    const key = keyOf[i];
    if (key === null || (count.get(key) ?? 0) < AUTO_GROUP_MIN) continue;
    let name = label.get(key);
    if (name === undefined) {
      const base = key.startsWith("p:") ? namePrefix(names[i]) + "*" : kinds[i] + " nodes";
      name = base;
      for (let k = 2; taken.has(name); k++) name = `${base} (${k})`;
      taken.add(name);
      label.set(key, name);
      auto.add(name);
    }
    out[i] = name;
  }
  return out;
}
