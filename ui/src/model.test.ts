// The Monitor's live model: the compact graph read into arrays, units and collapsed
// groups, and statuses and attempts kept current from action answers and SSE events
// (shaped as the server's engine writes them: stormflow.core.procedural and actions).
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type { CompactGraph, EventOut } from "./api";
import { STATUS_INDEX, type Status } from "./lifecycle";
import { AUTO_GROUP_MIN, WorkflowModel, naturalCompare, naturalOrder, runOfToken } from "./model";

type Row = [name: string, kind: string, status: Status, group: string | null, frames: string | null];

function graph(rows: Row[], edges: [string, string][]): CompactGraph {
  const names = rows.map((r) => r[0]);
  return {
    total: rows.length,
    offset: 0,
    limit: rows.length,
    nodes: {
      name: names,
      kind: rows.map((r) => r[1]),
      status: rows.map((r) => r[2]),
      group: rows.map((r) => r[3]),
      frames: rows.map((r) => r[4]),
    },
    edges: edges.map(([a, b]) => [names.indexOf(a), names.indexOf(b)] as [number, number]),
  };
}

/** sim -> render.1-2, render.3-4, render.5 -> comp -> mail */
function pipeline(): WorkflowModel {
  return new WorkflowModel(
    graph(
      [
        ["sim", "task", "succeeded", null, null],
        ["render.1-2", "task", "running", "render", "1-2"],
        ["render.3-4", "task", "failed", "render", "3-4"],
        ["render.5", "task", "open", "render", "5"],
        ["comp", "task", "open", null, null],
        ["mail", "email", "holding", null, null],
      ],
      [
        ["sim", "render.1-2"],
        ["sim", "render.3-4"],
        ["sim", "render.5"],
        ["render.1-2", "comp"],
        ["render.3-4", "comp"],
        ["render.5", "comp"],
        ["comp", "mail"],
      ],
    ),
  );
}

let seq = 0;
function ev(node: string | null, type: string, fields: Partial<EventOut> = {}): EventOut {
  return { seq: ++seq, type, node, old: null, new: null, actor: "engine", at: 1_700_000_000, why: null, caused_by: null, payload: {}, correlation: null, ...fields };
}

const count = (m: WorkflowModel, s: Status) => m.counts[STATUS_INDEX[s]];

// No DOM: animation frames are stubbed (the tests flush by hand, or run the frame).
beforeEach(() => {
  vi.stubGlobal("requestAnimationFrame", () => 1);
  vi.stubGlobal("cancelAnimationFrame", () => {});
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe("reading the compact graph", () => {
  test("names, index, statuses as bytes, counts per status", () => {
    const m = pipeline();
    expect(m.n).toBe(6);
    expect(m.index.get("comp")).toBe(4);
    expect(m.statusOf(1)).toBe("running");
    expect(m.status[2]).toBe(STATUS_INDEX.failed);
    expect([count(m, "open"), count(m, "holding"), count(m, "running"), count(m, "succeeded"), count(m, "failed")]).toEqual([2, 1, 1, 1, 1]);
    expect(m.counts.reduce((a, b) => a + b, 0)).toBe(6);
  });

  test("kinds, sorted and once; group members in graph order", () => {
    const m = pipeline();
    expect(m.kindSet).toEqual(["email", "task"]);
    expect(m.groupMembers.get("render")).toEqual([1, 2, 3]);
    expect(m.groupMembers.size).toBe(1);
  });

  test("an unknown status reads as open rather than breaking the counts", () => {
    const m = new WorkflowModel(graph([["x", "task", "paused" as Status, null, null]], []));
    expect(m.statusOf(0)).toBe("open");
    expect(count(m, "open")).toBe(1);
  });
});

describe("units", () => {
  test("nothing collapsed: one unit per node, the graph's edges", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    expect(m.units.map((u) => u.id)).toEqual(["node:sim", "node:render.1-2", "node:render.3-4", "node:render.5", "node:comp", "node:mail"]);
    expect(m.unitEdges).toHaveLength(7);
    expect(Array.from(m.unitOf)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test("a collapsed group is one unit; its edges are merged, none inside it", () => {
    const m = pipeline();
    m.buildUnits(new Set(["render"]));
    expect(m.units.map((u) => u.id)).toEqual(["node:sim", "group:render", "node:comp", "node:mail"]);
    const g = m.units[1];
    expect(g).toMatchObject({ label: "render", group: "render", members: [1, 2, 3], kind: "task" });
    expect(Array.from(m.unitOf)).toEqual([0, 1, 1, 1, 2, 3]);
    expect(m.unitEdges).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
  });

  test("a group of one chunk is not collapsed", () => {
    const m = new WorkflowModel(graph([["r.1", "task", "open", "r", "1"]], []));
    m.buildUnits(new Set(["r"]));
    expect(m.units[0]).toMatchObject({ id: "node:r.1", group: null, members: [0] });
  });

  test("per-unit status counts and selected counts", () => {
    const m = pipeline();
    m.buildUnits(new Set(["render"]));
    const c = m.unitCounts(1);
    expect([c[STATUS_INDEX.running], c[STATUS_INDEX.failed], c[STATUS_INDEX.open]]).toEqual([1, 1, 1]);
    m.setSelection(new Set([2, 3, 4]));
    expect(m.unitSelectedCount(1)).toBe(2);
    expect(m.unitSelectedCount(2)).toBe(1);
    expect(m.unitSelectedCount(0)).toBe(0);
  });
});

describe("subscriptions", () => {
  test("a selection change notifies only the units whose selection changed", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    const calls: number[] = [];
    for (let u = 0; u < m.units.length; u++) m.subscribeUnit(u, () => calls.push(u));
    const global = vi.fn();
    m.subscribe(global);
    m.setSelection(new Set([1, 4]));
    m.setSelection(new Set([4, 5]));
    expect(calls).toEqual([1, 4, 1, 5]);
    expect(global).toHaveBeenCalledTimes(2);
    expect(m.getVersion()).toBe(2);
    expect([m.getUnitVersion(1), m.getUnitVersion(4), m.getUnitVersion(0)]).toEqual([2, 1, 0]);
  });

  test("unsubscribing stops the calls", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    const cb = vi.fn();
    const off = m.subscribeUnit(4, cb);
    const offGlobal = m.subscribe(cb);
    off();
    offGlobal();
    m.applyChanges([{ node: "comp", new: "running" }]);
    expect(cb).not.toHaveBeenCalled();
  });
});

describe("applyChanges (an action's answer)", () => {
  test("statuses and counts move; the changed units are notified", () => {
    const m = pipeline();
    m.buildUnits(new Set(["render"]));
    const group = vi.fn();
    const comp = vi.fn();
    m.subscribeUnit(1, group);
    m.subscribeUnit(2, comp);
    m.applyChanges([
      { node: "render.3-4", new: "open" },
      { node: "render.1-2", new: "skipped" },
    ]);
    expect(m.statusOf(2)).toBe("open");
    expect(m.statusOf(1)).toBe("skipped");
    expect([count(m, "failed"), count(m, "running"), count(m, "open"), count(m, "skipped")]).toEqual([0, 0, 3, 1]);
    expect(group).toHaveBeenCalledTimes(1);
    expect(comp).not.toHaveBeenCalled();
  });

  test("no change, an unknown node or an unknown status notifies nobody", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    const global = vi.fn();
    m.subscribe(global);
    m.applyChanges([
      { node: "comp", new: "open" },
      { node: "nope", new: "failed" },
      { node: "mail", new: "paused" as Status },
    ]);
    expect(global).not.toHaveBeenCalled();
    expect(m.statusOf(5)).toBe("holding");
    expect(m.counts.reduce((a, b) => a + b, 0)).toBe(6);
  });

  test("a node that starts running gets attempt 1, queued (no start yet); leaving running forgets it", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    m.applyChanges([{ node: "comp", new: "running" }], 5000);
    expect(m.running.get(4)).toMatchObject({ attempt: 1, since: null, phase: "queued" });
    expect(m.queuedCount).toBe(1);
    m.applyChanges([{ node: "comp", new: "canceled" }], 6000);
    expect(m.running.has(4)).toBe(false);
    expect(m.queuedCount).toBe(0);
  });
});

describe("setRunInfo (attempts read from the API)", () => {
  test("only for a running node", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    m.setRunInfo("render.1-2", { attempt: 3, since: 1000, phase: "executing" });
    m.setRunInfo("comp", { attempt: 2, since: 1000, phase: "executing" });
    m.setRunInfo("nope", { attempt: 2, since: 1000, phase: "executing" });
    expect(m.running.get(1)).toEqual({ attempt: 3, since: 1000, phase: "executing" });
    expect(m.running.has(4)).toBe(false);
    expect([m.executingCount, m.queuedCount]).toEqual([1, 0]);
  });
});

describe("SSE events", () => {
  test("a run, its start, an automatic retry and success", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    m.push(ev("comp", "run", { old: "open", new: "running", at: 100, payload: { token: "comp#1" } }));
    m.push(ev("comp", "attempt-started", { at: 101, payload: { token: "comp#1", attempt: 1, worker: "w1" } }));
    m.flush();
    expect(m.statusOf(4)).toBe("running");
    // elapsed counts from the attempt's start, as after a reload (the API's started_at)
    expect(m.running.get(4)).toMatchObject({ attempt: 1, since: 101_000, phase: "executing", worker: "w1" });
    m.push(
      ev("comp", "attempt-failed", {
        old: "running",
        new: "running",
        at: 110,
        payload: { token: "comp#1", attempt: 1, exit_code: 1, next_token: "comp#2", not_before: 112 },
      }),
    );
    m.flush();
    // the automatic retry waits for its backoff and a slot: queued, no timer
    expect(m.running.get(4)).toMatchObject({ attempt: 2, since: null, phase: "queued" });
    m.push(ev("comp", "attempt-started", { at: 113, payload: { token: "comp#2", attempt: 2, worker: "w1" } }));
    m.flush();
    expect(m.running.get(4)).toMatchObject({ attempt: 2, since: 113_000, phase: "executing" });
    expect([m.executingCount, m.queuedCount]).toEqual([1, 0]);
    m.push(ev("comp", "succeed", { old: "running", new: "succeeded", at: 120, payload: { token: "comp#2", attempt: 2, exit_code: 0 } }));
    m.flush();
    expect(m.statusOf(4)).toBe("succeeded");
    expect(m.running.has(4)).toBe(false);
    expect(count(m, "succeeded")).toBe(2);
  });

  test("attempt numbers come from the payload, not from the token (tokens keep counting after a manual retry)", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    // comp ran twice before a manual retry: its next run has token comp#3 but is attempt 1.
    m.push(ev("comp", "run", { old: "open", new: "running", at: 200, payload: { token: "comp#3" } }));
    m.flush();
    expect(m.running.get(4)?.attempt).toBe(1);
    m.push(ev("comp", "attempt-started", { at: 201, payload: { token: "comp#3", attempt: 1 } }));
    m.push(
      ev("comp", "attempt-lost", {
        old: "running",
        new: "running",
        at: 210,
        payload: { token: "comp#3", attempt: 1, next_token: "comp#4", not_before: 210 },
      }),
    );
    m.flush();
    expect(m.running.get(4)?.attempt).toBe(2);
  });

  test("a stale result for an old token changes nothing", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    m.setRunInfo("render.1-2", { attempt: 2, since: 5000, phase: "executing" });
    m.push(ev("render.1-2", "stale-result", { old: "running", new: "running", at: 300, payload: { token: "render.1-2#1", result: "fail" } }));
    m.flush();
    expect(m.running.get(1)).toEqual({ attempt: 2, since: 5000, phase: "executing" });
  });

  test("attempt-started for a running node the model had no attempt for", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    m.push(ev("render.1-2", "attempt-started", { at: 400, payload: { token: "render.1-2#7", attempt: 2 } }));
    m.flush();
    expect(m.running.get(1)).toMatchObject({ attempt: 2, since: 400_000, phase: "executing", run: 7 });
    // ... and not for a node that is not running.
    m.push(ev("comp", "attempt-started", { at: 401, payload: { attempt: 1 } }));
    m.flush();
    expect(m.running.has(4)).toBe(false);
  });

  test("events already applied (by sequence number) are skipped", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    m.push(ev("comp", "hold", { old: "open", new: "holding", actor: "ann" }));
    m.flush();
    const last = m.lastSeq;
    m.push({ ...ev("comp", "unhold", { old: "holding", new: "open" }), seq: last });
    m.push({ ...ev("comp", "skip", { old: "holding", new: "skipped" }), seq: last - 1 });
    m.flush();
    expect(m.statusOf(4)).toBe("holding");
    expect(m.lastSeq).toBe(last);
  });

  test("workflow events (no node) move the sequence and notify, changing no node", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    const global = vi.fn();
    m.subscribe(global);
    const e = ev(null, "archive");
    m.push(e);
    m.flush();
    expect(m.lastSeq).toBe(e.seq);
    expect(global).toHaveBeenCalledTimes(1);
    expect(m.counts.reduce((a, b) => a + b, 0)).toBe(6);
  });

  test("events are applied together once per animation frame", () => {
    const frames: (() => void)[] = [];
    vi.stubGlobal("requestAnimationFrame", (cb: () => void) => frames.push(cb));
    vi.stubGlobal("cancelAnimationFrame", vi.fn());
    const m = pipeline();
    m.buildUnits(new Set(["render"]));
    const group = vi.fn();
    const global = vi.fn();
    m.subscribeUnit(1, group);
    m.subscribe(global);
    m.push(ev("render.5", "run", { old: "open", new: "running", payload: { token: "render.5#1" } }));
    m.push(ev("render.1-2", "succeed", { old: "running", new: "succeeded", payload: { attempt: 1 } }));
    m.push(ev("sim", "retry", { old: "succeeded", new: "open", actor: "ann" }));
    expect(frames).toHaveLength(1);
    expect(m.statusOf(3)).toBe("open"); // not yet
    frames[0]();
    expect([m.statusOf(3), m.statusOf(1), m.statusOf(0)]).toEqual(["running", "succeeded", "open"]);
    expect(group).toHaveBeenCalledTimes(1);
    expect(global).toHaveBeenCalledTimes(1);
    m.push(ev("comp", "skip", { old: "open", new: "skipped" }));
    expect(frames).toHaveLength(2);
    m.dispose();
    expect(cancelAnimationFrame).toHaveBeenCalledTimes(1);
  });

  test("event times are epoch seconds", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    m.push(ev("comp", "run", { old: "open", new: "running", at: 1_700_000_000, payload: { token: "comp#1" } }));
    m.push(ev("comp", "attempt-started", { at: 1_700_000_000.5, payload: { token: "comp#1", attempt: 1 } }));
    m.flush();
    expect(m.running.get(4)?.since).toBe(1_700_000_000_500);
  });
});

describe("natural order", () => {
  test("digit runs compare as numbers: frames and chunks", () => {
    const names = ["render.10", "render.1", "render.100", "render.2", "render.13-16", "render.5-8", "render.1-4", "render.9-12"];
    expect(Array.from(naturalOrder(names), (i) => names[i])).toEqual([
      "render.1",
      "render.1-4",
      "render.2",
      "render.5-8",
      "render.9-12",
      "render.10",
      "render.13-16",
      "render.100",
    ]);
    expect(naturalCompare("t000010", "t10")).toBeLessThan(0); // equal numbers: the text decides
    expect(naturalCompare("a2", "a10")).toBeLessThan(0);
    expect(naturalCompare("b", "a10")).toBeGreaterThan(0);
  });

  test("group members and units' ranks follow it; the graph's index order stays", () => {
    const rows: Row[] = ["r.10", "r.2", "r.1"].map((n) => [n, "task", "open", "r", n.slice(2)] as Row);
    const m = new WorkflowModel(graph(rows, []));
    expect(m.groupMembers.get("r")).toEqual([2, 1, 0]);
    m.buildUnits(new Set());
    expect(m.units.map((u) => u.label)).toEqual(["r.10", "r.2", "r.1"]);
    expect(Array.from(m.unitRank)).toEqual([2, 1, 0]);
    m.buildUnits(new Set(["r"]));
    expect(m.units[0].members).toEqual([2, 1, 0]);
  });
});

describe("automatic groups", () => {
  test("distinct-named siblings with a common prefix, parent and child collapse together", () => {
    const n = AUTO_GROUP_MIN + 10;
    const names = ["start", ...Array.from({ length: n }, (_, i) => `t${String(i).padStart(6, "0")}`), "end"];
    const rows: Row[] = names.map((x) => [x, "task", "open", null, null]);
    const edges: [string, string][] = names.slice(1, -1).flatMap((x) => [["start", x], [x, "end"]] as [string, string][]);
    const m = new WorkflowModel(graph(rows, edges));
    expect([...m.autoGroups]).toEqual(["t*"]);
    expect(m.groupMembers.get("t*")).toHaveLength(n);
    expect(m.unitGroup[0]).toBeNull();
    m.buildUnits(new Set(m.autoGroups));
    expect(m.units.map((u) => u.label)).toEqual(["start", "t*", "end"]);
    expect(m.unitEdges).toEqual([
      [0, 1],
      [1, 2],
    ]);
  });

  test("too few, or a chain (different parents), or the server's groups: left alone", () => {
    const few = Array.from({ length: AUTO_GROUP_MIN - 1 }, (_, i) => [`x${i}`, "task", "open", null, null] as Row);
    expect(new WorkflowModel(graph(few, [])).autoGroups.size).toBe(0);
    const chain = Array.from({ length: AUTO_GROUP_MIN + 5 }, (_, i) => [`c${i}`, "task", "open", null, null] as Row);
    const links = chain.slice(1).map((r, i) => [chain[i][0], r[0]] as [string, string]);
    expect(new WorkflowModel(graph(chain, links)).autoGroups.size).toBe(0);
    const chunks = Array.from({ length: AUTO_GROUP_MIN + 5 }, (_, i) => [`r.${i + 1}`, "task", "open", "r", String(i + 1)] as Row);
    const m = new WorkflowModel(graph(chunks, []));
    expect(m.autoGroups.size).toBe(0);
    expect(m.unitGroup[0]).toBe("r");
  });

  test("names without a shared prefix group by kind", () => {
    const words = Array.from({ length: AUTO_GROUP_MIN }, (_, i) => [`w${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`, "email", "open", null, null] as Row);
    const m = new WorkflowModel(graph(words, []));
    expect([...m.autoGroups]).toEqual(["email nodes"]);
  });
});

describe("phases: queued and executing", () => {
  test("counted per phase; a running node's retry (running -> running) queues a new attempt", () => {
    const m = pipeline();
    m.buildUnits(new Set(["render"]));
    m.push(ev("comp", "run", { old: "open", new: "running", at: 10, payload: { token: "comp#1" } }));
    m.push(ev("render.5", "run", { old: "open", new: "running", at: 10, payload: { token: "render.5#1" } }));
    m.push(ev("comp", "attempt-started", { at: 12, payload: { token: "comp#1", attempt: 1, worker: "h1" } }));
    m.flush();
    expect([m.queuedCount, m.executingCount]).toEqual([1, 1]);
    expect(m.unitQueued(1)).toBe(1);
    expect(m.phaseOf(4)).toBe("executing");
    m.applyChanges([{ node: "comp", old: "running", new: "running" }]);
    expect(m.running.get(4)).toMatchObject({ phase: "queued", since: null });
    expect([m.queuedCount, m.executingCount]).toEqual([2, 0]);
  });

  test("read on open from the node list (setRunInfos), then kept by events", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    m.setRunInfos([
      ["render.1-2", { attempt: 1, since: 5000, phase: "executing" }],
      ["comp", { attempt: 1, since: null, phase: "queued" }], // not running: ignored
    ]);
    expect([m.queuedCount, m.executingCount]).toEqual([0, 1]);
  });

  test("a manual retry's new run counts runs across configurations (#1, run 3)", () => {
    const m = pipeline();
    m.buildUnits(new Set());
    m.push(ev("comp", "run", { old: "open", new: "running", payload: { token: "comp#3" } }));
    m.flush();
    expect(m.running.get(4)).toMatchObject({ attempt: 1, run: 3 });
    expect(runOfToken("render.1-4#12")).toBe(12);
  });

  test("downstream adjacency", () => {
    const m = pipeline();
    expect(Array.from(m.children(0))).toEqual([1, 2, 3]);
    expect(Array.from(m.children(5))).toEqual([]);
  });
});
