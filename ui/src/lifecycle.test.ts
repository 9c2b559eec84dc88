// The UI's lifecycle table against the spec (the node-lifecycle rules, written out here by
// hand) and against the Python table the server enforces (read from core/statuses.py).
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import {
  ACTIONS,
  ALLOWED,
  COLOURS,
  READY,
  RETRYABLE,
  START,
  STATUSES,
  STATUS_INDEX,
  age,
  formatDuration,
  globToRegExp,
  isAllowed,
  toMs,
  type Action,
  type Status,
} from "./lifecycle";

// --- The spec, by hand: "Statuses and superstates" and "Manual transitions".
const SPEC_SUPERSTATES: Record<Status, string[]> = {
  open: ["start"],
  holding: ["start"],
  running: ["retryable"],
  succeeded: ["retryable", "final", "ready"],
  skipped: ["retryable", "final", "ready"],
  failed: ["retryable", "final", "bad"],
  canceled: ["retryable", "final", "bad"],
};
const SPEC_MANUAL: Record<Status, Action[]> = {
  open: ["update", "hold", "skip"],
  holding: ["update", "unhold", "skip"],
  running: ["update", "skip", "cancel"],
  skipped: ["update", "cancel"],
  failed: ["update", "skip"],
  canceled: ["update", "skip"],
  succeeded: ["update", "cancel"],
};
const SPEC_ACTIONS = ["hold", "unhold", "skip", "cancel", "update", "retry", "revert", "replay"];
const SPEC_STATUSES = Object.keys(SPEC_MANUAL) as Status[];
const inSuper = (s: Status, name: string) => SPEC_SUPERSTATES[s].includes(name);

/** revert and replay are updates (allowed wherever update is); retry = update, only on retryable statuses. */
function specAllows(status: Status, action: string): boolean {
  const manual: string[] = SPEC_MANUAL[status];
  if (action === "revert" || action === "replay") return manual.includes("update");
  if (action === "retry") return manual.includes("update") && inSuper(status, "retryable");
  return manual.includes(action);
}

// --- The server's table (src/stormflow/core/statuses.py), parsed. The parse must find the
// whole table, so a change of its shape fails here instead of passing vacuously.
const PY = readFileSync(new URL("../../src/stormflow/core/statuses.py", import.meta.url), "utf8");

function pyEnum(cls: string): string[] {
  const body = new RegExp(`^class ${cls}\\(StrEnum\\):\\n((?:(?: {4}.*)?\\n)+)`, "m").exec(PY);
  if (!body) throw new Error(`class ${cls} not found in statuses.py`);
  return [...body[1].matchAll(/^ {4}[A-Z]+ = "(\w+)"$/gm)].map((m) => m[1]);
}
function pyActions(list: string, updates: string[]): string[] {
  return list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((s) => {
      if (s === "*_UPDATES") return updates;
      const m = /^Action\.([A-Z]+)$/.exec(s);
      if (!m) throw new Error(`unexpected item in ALLOWED: ${s}`);
      return [m[1].toLowerCase()];
    });
}
function pyAllowed(): Record<string, string[]> {
  const updates = pyActions(/^_UPDATES = \{([^}]*)\}$/m.exec(PY)![1], []);
  const table = /^ALLOWED: .*= \{\n([\s\S]*?)\n\}/m.exec(PY)![1];
  const out: Record<string, string[]> = {};
  for (const m of table.matchAll(/Status\.([A-Z]+): frozenset\(\{([^}]*)\}\)/g)) out[m[1].toLowerCase()] = pyActions(m[2], updates);
  return out;
}
function pySet(name: string): string[] {
  const m = new RegExp(`^${name}: frozenset\\[Status\\] = frozenset\\(\\{([^}]*)\\}\\)$`, "m").exec(PY);
  if (!m) throw new Error(`${name} not found in statuses.py`);
  return m[1].split(",").map((s) => /Status\.([A-Z]+)/.exec(s)![1].toLowerCase());
}
const PY_STATUSES = pyEnum("Status");
const PY_ACTIONS = pyEnum("Action");
const PY_ALLOWED = pyAllowed();

const sorted = (xs: Iterable<string>) => [...xs].sort();

describe("statuses and actions", () => {
  test("the UI's statuses are the spec's and the server's, in the server's order", () => {
    expect(sorted(STATUSES)).toEqual(sorted(SPEC_STATUSES));
    expect([...STATUSES]).toEqual(PY_STATUSES);
  });

  test("the UI's actions are the spec's and the server's", () => {
    expect(sorted(ACTIONS)).toEqual(sorted(SPEC_ACTIONS));
    expect(sorted(ACTIONS)).toEqual(sorted(PY_ACTIONS));
  });

  test("STATUS_INDEX numbers the statuses 0..6 in STATUSES order", () => {
    STATUSES.forEach((s, i) => expect(STATUS_INDEX[s]).toBe(i));
    expect(Object.keys(STATUS_INDEX)).toHaveLength(7);
  });
});

describe("superstates (spec: Statuses and superstates)", () => {
  test.each(SPEC_STATUSES)("%s: start / ready / retryable membership", (s) => {
    expect(START.has(s)).toBe(inSuper(s, "start"));
    expect(READY.has(s)).toBe(inSuper(s, "ready"));
    expect(RETRYABLE.has(s)).toBe(inSuper(s, "retryable"));
  });

  test("the server's START and READY are the same sets", () => {
    expect(sorted(START)).toEqual(sorted(pySet("START")));
    expect(sorted(READY)).toEqual(sorted(pySet("READY")));
  });
});

describe("allowed actions: every cell of the table", () => {
  const cells = SPEC_STATUSES.flatMap((s) => SPEC_ACTIONS.map((a) => [s, a, specAllows(s, a)] as const));

  test("the table has 7 x 8 cells, 36 of them allowed", () => {
    expect(cells).toHaveLength(56);
    expect(cells.filter((c) => c[2])).toHaveLength(36);
  });

  test.each(cells)("%s / %s: allowed = %s (spec)", (status, action, allowed) => {
    expect(isAllowed(status, action as Action)).toBe(allowed);
    expect(ALLOWED[status].has(action as Action)).toBe(allowed);
  });

  test("the server's table was read whole", () => {
    expect(sorted(Object.keys(PY_ALLOWED))).toEqual(sorted(SPEC_STATUSES));
    for (const actions of Object.values(PY_ALLOWED)) expect(actions.length).toBeGreaterThanOrEqual(4);
  });

  test.each(SPEC_STATUSES)("%s: the UI allows exactly what the server allows", (status) => {
    expect(sorted(ALLOWED[status])).toEqual(sorted(PY_ALLOWED[status]));
  });

  test("no action outside the known ones is allowed, nor anything on an unknown status", () => {
    for (const s of STATUSES) for (const a of ALLOWED[s]) expect(ACTIONS).toContain(a);
    expect(isAllowed("archived" as Status, "update")).toBe(false);
    expect(isAllowed("open", "delete" as Action)).toBe(false);
  });
});

describe("the spec's rules, as rules", () => {
  test("cancel is never allowed on a start status; it is on running, skipped and succeeded", () => {
    for (const s of START) expect(isAllowed(s, "cancel")).toBe(false);
    expect(STATUSES.filter((s) => isAllowed(s, "cancel"))).toEqual(["running", "succeeded", "skipped"]);
  });

  test("skip: any status that is not ready", () => {
    for (const s of STATUSES) expect(isAllowed(s, "skip")).toBe(!READY.has(s));
  });

  test("retry only on retryable statuses (refused on start statuses)", () => {
    for (const s of STATUSES) expect(isAllowed(s, "retry")).toBe(RETRYABLE.has(s));
  });

  test("hold only from open, unhold only from holding", () => {
    expect(STATUSES.filter((s) => isAllowed(s, "hold"))).toEqual(["open"]);
    expect(STATUSES.filter((s) => isAllowed(s, "unhold"))).toEqual(["holding"]);
  });

  test("update, revert and replay are allowed on every status", () => {
    for (const s of STATUSES) for (const a of ["update", "revert", "replay"] as const) expect(isAllowed(s, a)).toBe(true);
  });
});

describe("colours", () => {
  test("every status has its own fill, border and text colour", () => {
    const fills = new Set<string>();
    for (const s of STATUSES) {
      const c = COLOURS[s];
      for (const v of [c.fill, c.border, c.text]) expect(v).toMatch(/^#[0-9a-f]{6}$/);
      fills.add(c.fill);
    }
    expect(fills.size).toBe(STATUSES.length);
  });

  test("skipped is purple, failed red, holding yellow (the seed's colours)", () => {
    const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const [r1, g1, b1] = rgb(COLOURS.skipped.fill);
    expect(r1 > g1 && b1 > g1).toBe(true);
    const [r2, g2, b2] = rgb(COLOURS.failed.fill);
    expect(r2 > 2 * g2 && r2 > 2 * b2).toBe(true);
    const [r3, g3, b3] = rgb(COLOURS.holding.fill);
    expect(r3 > 2 * b3 && g3 > 2 * b3).toBe(true);
  });
});

describe("globToRegExp (fnmatch-style; expectations from Python's fnmatch.fnmatchcase)", () => {
  const cases: [string, string, boolean][] = [
    ["render.*", "render.1-4", true],
    ["render.*", "render.", true],
    ["render.*", "render", false],
    ["render.*", "xrender.1", false],
    ["render.*", "comp.render.1", false],
    ["render.?", "render.1", true],
    ["render.?", "render.12", false],
    ["render.?", "render.", false],
    ["*.1-4", "render.1-4", true],
    ["*.1-4", "render.1-40", false],
    ["render.[13]", "render.1", true],
    ["render.[13]", "render.3", true],
    ["render.[13]", "render.2", false],
    ["render.[13]", "render.13", false],
    ["render.[!13]", "render.1", false],
    ["render.[!13]", "render.2", true],
    ["render.[0-9]*", "render.7-8", true],
    ["render.[0-9]*", "render.x", false],
    ["a[^b]c", "a^c", true],
    ["a[^b]c", "abc", true],
    ["a[^b]c", "axc", false],
    ["a[]]c", "a]c", true],
    ["a[]]c", "abc", false],
    ["a[!]]c", "a]c", false],
    ["a[!]]c", "abc", true],
    ["a[b", "a[b", true],
    ["a[b", "ab", false],
    ["a.b", "a.b", true],
    ["a.b", "axb", false],
    ["a+b(c)|$", "a+b(c)|$", true],
    ["a+b(c)|$", "aab(c)", false],
    ["a\\b", "a\\b", true],
    ["a\\b", "ab", false],
    ["*", "", true],
    ["*", "anything", true],
    ["render.1", "render.1", true],
    ["render.1", "render.10", false],
    ["render.1", "xrender.1", false],
  ];
  test.each(cases)("%s matches %s: %s", (glob, name, expected) => {
    expect(globToRegExp(glob).test(name)).toBe(expected);
  });
});

describe("formatDuration", () => {
  test.each([
    [0, "0s"],
    [0.9, "0s"],
    [59.9, "59s"],
    [60, "1m00s"],
    [61, "1m01s"],
    [3599, "59m59s"],
    [3600, "1h00m"],
    [3661, "1h01m"],
    [90061, "25h01m"],
  ])("%s s -> %s", (s, text) => {
    expect(formatDuration(s)).toBe(text);
  });

  test.each([-1, NaN, Infinity, -Infinity])("%s -> a dash", (s) => {
    expect(formatDuration(s)).toBe("–");
  });
});

describe("toMs and age (server times are epoch seconds)", () => {
  test("epoch seconds become milliseconds, milliseconds stay", () => {
    expect(toMs(1_700_000_000)).toBe(1_700_000_000_000);
    expect(toMs(1_700_000_000.25)).toBe(1_700_000_000_250);
    expect(toMs(1_700_000_000_000)).toBe(1_700_000_000_000);
  });

  test("numeric strings are numbers, other strings are ISO dates", () => {
    expect(toMs("1700000000.5")).toBe(1_700_000_000_500);
    expect(toMs("2024-01-02T03:04:05Z")).toBe(Date.UTC(2024, 0, 2, 3, 4, 5));
    expect(toMs("2024-01-02T03:04:05+02:00")).toBe(Date.UTC(2024, 0, 2, 1, 4, 5));
  });

  test("absent or unreadable times are NaN", () => {
    for (const t of [null, undefined, "", "yesterday"]) expect(toMs(t)).toBeNaN();
  });

  test("age is the time since, formatted; a dash when unknown or in the future", () => {
    const now = 1_700_000_065_000;
    expect(age(1_700_000_000, now)).toBe("1m05s");
    expect(age("1700000000", now)).toBe("1m05s");
    expect(age(1_700_000_000 - 7200, now)).toBe("2h01m");
    expect(age(null, now)).toBe("–");
    expect(age(1_700_000_100, now)).toBe("–");
  });
});
