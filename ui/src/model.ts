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

export interface RunInfo {
  attempt: number;
  since: number; // ms epoch
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
  readonly kindSet: string[];
  selected = new Set<number>();
  version = 0;
  lastSeq = 0;

  units: Unit[] = [];
  unitOf: Int32Array;
  unitEdges: [number, number][] = [];
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
      const grp = this.groups[i];
      if (grp) {
        let m = this.groupMembers.get(grp);
        if (!m) this.groupMembers.set(grp, (m = []));
        m.push(i);
      }
    }
    this.kindSet = [...kinds].sort();
  }

  statusOf(i: number): Status {
    return STATUSES[this.status[i]];
  }

  /** Rebuild units: groups in `collapsed` become one unit each. */
  buildUnits(collapsed: ReadonlySet<string>): void {
    const units: Unit[] = [];
    const seenGroup = new Map<string, number>();
    for (let i = 0; i < this.n; i++) {
      const grp = this.groups[i];
      if (grp && collapsed.has(grp) && (this.groupMembers.get(grp)?.length ?? 0) > 1) {
        let u = seenGroup.get(grp);
        if (u === undefined) {
          u = units.length;
          seenGroup.set(grp, u);
          units.push({ id: "group:" + grp, label: grp, group: grp, members: [], kind: this.kinds[i] });
        }
        units[u].members.push(i);
        this.unitOf[i] = u;
      } else {
        this.unitOf[i] = units.length;
        units.push({ id: "node:" + this.names[i], label: this.names[i], group: null, members: [i], kind: this.kinds[i] });
      }
    }
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
  applyChanges(changes: { node: string; new: Status }[], at = Date.now()): void {
    const touched = new Set<number>();
    for (const c of changes) this.setStatus(c.node, c.new, at, null, touched);
    if (touched.size) this.touch(touched);
  }

  private setStatus(name: string, st: Status, at: number, attempt: number | null, touched: Set<number>): void {
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
        this.running.set(i, { attempt: attempt ?? prev?.attempt ?? 1, since: old !== s || !prev ? at : prev.since });
        touched.add(this.unitOf[i]);
      }
    } else this.running.delete(i);
  }

  setRunInfo(name: string, info: RunInfo): void {
    const i = this.index.get(name);
    if (i === undefined || this.status[i] !== STATUS_INDEX.running) return;
    this.running.set(i, info);
    this.touch([this.unitOf[i]]);
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
      // counting across manual retries, attempt numbers start again at 1). An automatic
      // retry (`next_token`) starts the attempt after the one that ended.
      let attempt: number | null = typeof p.attempt === "number" ? p.attempt : null;
      if (typeof p.next_token === "string") attempt = attempt === null ? null : attempt + 1;
      const st = (ev.new ?? null) as Status | null;
      if (st) this.setStatus(ev.node, st, at, attempt, touched);
      else if (attempt !== null) {
        const i = this.index.get(ev.node);
        if (i !== undefined && this.status[i] === STATUS_INDEX.running) {
          const prev = this.running.get(i);
          // An attempt's elapsed time counts from its start, as the API's started_at gives
          // it after a reload (an automatic retry's attempt starts after its backoff).
          const started = ev.type === "attempt-started";
          if (!prev || prev.attempt !== attempt || started) {
            this.running.set(i, { attempt, since: started ? at : prev?.since ?? at });
            touched.add(this.unitOf[i]);
          }
        }
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

  unitSelectedCount(u: number): number {
    let k = 0;
    for (const i of this.units[u].members) if (this.selected.has(i)) k++;
    return k;
  }
}
