// Selections made by a query: resolved locally in natural order, sent as the API's query.
import { describe, expect, test } from "vitest";
import { STATUS_INDEX, globToRegExp } from "./lifecycle";
import { describeQuery, filterLabel, resolveFilter, toSelection } from "./selection";

const model = {
  names: ["r.10", "r.2", "comp", "r.1"],
  kinds: ["task", "task", "email", "task"],
  status: Uint8Array.from([STATUS_INDEX.running, STATUS_INDEX.failed, STATUS_INDEX.running, STATUS_INDEX.running]),
  order: Int32Array.from([2, 3, 1, 0]),
};

describe("live selections", () => {
  test("resolved in natural order, every filter applying", () => {
    expect(resolveFilter(model, { statuses: new Set(["running"]), glob: "", kind: "" }, null)).toEqual([2, 3, 0]);
    expect(resolveFilter(model, { statuses: new Set(["running"]), glob: "r.*", kind: "task" }, globToRegExp("r.*"))).toEqual([3, 0]);
  });
  test("sent as the query; everything is glob *", () => {
    expect(toSelection({ statuses: new Set(["failed", "running"]), glob: " r.* ", kind: "task" })).toEqual({ status: ["running", "failed"], glob: "r.*", kind: ["task"] });
    expect(toSelection({ statuses: new Set(), glob: "", kind: "" })).toEqual({ glob: "*" });
  });
  test("labels", () => {
    expect(filterLabel({ statuses: new Set(["running"]), glob: "render.*", kind: "" })).toBe("status running, name render.*");
    expect(describeQuery({ glob: "*" })).toBe("all nodes");
  });
});
