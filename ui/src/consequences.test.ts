// What a batch action will do, in words: from the server's dry-run answer (shaped as
// stormflow.api.shapes.action_answer) and estimated from the graph on a server without one.
import { describe as suite, expect, test } from "vitest";
import type { ActionAnswer } from "./api";
import { describe, estimate, fromAnswer, needsConfirmation } from "./consequences";
import type { Status } from "./lifecycle";

function answer(fields: Partial<ActionAnswer>): ActionAnswer {
  return { action: "retry", selected: 0, changed: [], cascaded: [], ineligible: [], changes: [], snapshots: [], first_seq: null, last_seq: null, replayed: false, dry_run: true, ...fields };
}

suite("from the server's dry run", () => {
  test("direct changes, running ones stopped, the cascade, snapshots, ineligible by reason", () => {
    const a = answer({
      selected: 4,
      changed: ["r1", "r2", "r3", "comp"],
      cascaded: ["comp"],
      changes: [
        { node: "r1", old: "failed", new: "open", why: "retry", caused_by: null },
        { node: "r2", old: "running", new: "open", why: "retry", caused_by: null },
        { node: "r3", old: "succeeded", new: "open", why: "retry", caused_by: null },
        { node: "comp", old: "succeeded", new: "open", why: "cascade", caused_by: "r1" },
      ],
      snapshots: [{ node: "r1", number: 1 }, { node: "r2", number: 1 }, { node: "r3", number: 1 }],
      ineligible: [{ node: "x", status: "open", reason: "retry is not allowed on open" }],
    });
    const c = fromAnswer(a);
    expect(c).toMatchObject({ selected: 4, direct: 3, stopped: 1, cascaded: 1, snapshots: 3, exact: true });
    expect(c.ineligible).toEqual([{ reason: "retry is not allowed on open", count: 1, example: "x" }]);
    expect(describe("retry", c)).toBe("Retry 4 nodes: 3 restart (1 running stopped), 1 downstream reset, 1 ineligible (snapshots kept)");
  });

  test("the issue's sentence, with thousands separated", () => {
    const changed = Array.from({ length: 1440 }, (_, i) => `n${i}`);
    const c = fromAnswer(answer({ selected: 240, changed, cascaded: changed.slice(240), snapshots: changed.slice(0, 240).map((node) => ({ node, number: 1 })) }));
    expect(describe("retry", c)).toBe("Retry 240 nodes: 240 restart, 1,200 downstream reset (snapshots kept)");
  });

  test("nothing to revert: nothing changes, and it still asks (to say so)", () => {
    const c = fromAnswer(answer({ action: "revert", selected: 1, ineligible: [{ node: "b", status: "succeeded", reason: "nothing to revert" }] }));
    expect(describe("revert", c)).toBe("Revert 1 node: nothing changes, 1 ineligible");
    expect(needsConfirmation("revert", c)).toBe(true);
  });
});

suite("when to confirm", () => {
  const one = { selected: 1, direct: 1, stopped: 0, cascaded: 0, snapshots: 0, ineligible: [], exact: true };
  test("one node without a cascade: no; more than one, or a cascade: yes", () => {
    expect(needsConfirmation("skip", one)).toBe(false);
    expect(needsConfirmation("skip", { ...one, selected: 2, direct: 2 })).toBe(true);
    expect(needsConfirmation("retry", { ...one, cascaded: 3 })).toBe(true);
  });
  test("hold and unhold never ask", () => {
    expect(needsConfirmation("hold", { ...one, selected: 5000, direct: 5000 })).toBe(false);
    expect(needsConfirmation("unhold", { ...one, selected: 5000, direct: 5000 })).toBe(false);
  });
});

suite("estimated from the graph", () => {
  // a -> b -> c, a -> d; statuses below
  const st: Record<number, Status> = { 0: "succeeded", 1: "succeeded", 2: "failed", 3: "open" };
  const down: Record<number, number[]> = { 0: [1, 3], 1: [2], 2: [], 3: [] };
  const status = (i: number) => st[i];
  const children = (i: number) => down[i];

  test("a retry resets the retryable descendants, not the open ones", () => {
    const c = estimate("retry", [0], status, children);
    expect(c).toMatchObject({ selected: 1, direct: 1, cascaded: 2, snapshots: 1, exact: false });
  });
  test("a cancel of a ready node withdraws its descendants; skip does not cascade", () => {
    expect(estimate("cancel", [1], status, children).cascaded).toBe(1);
    expect(estimate("skip", [2], status, children)).toMatchObject({ direct: 1, cascaded: 0 });
  });
  test("ineligible by the table, and revert without a patch", () => {
    const c = estimate("revert", [0, 1], status, children, (i) => i === 0);
    expect(c.direct).toBe(1);
    expect(c.ineligible).toEqual([{ reason: "nothing to revert", count: 1, example: "1" }]);
    expect(estimate("retry", [3], status, children).ineligible[0].reason).toBe("retry is not allowed when open");
  });
  test("stop & hold applies to running nodes only", () => {
    const s = (i: number): Status => (i === 0 ? "running" : "succeeded");
    const c = estimate("stop-hold", [0, 1], s, () => []);
    expect(c).toMatchObject({ direct: 1, stopped: 1 });
    expect(describe("stop-hold", c)).toBe("Stop & hold 2 nodes: 1 stop and hold, 1 ineligible (snapshots kept)");
  });
});
