// Parameter fields: a value shown as text and read back, as the Composer and the edit
// dialog do, and the field lists against the parameters the server's kinds accept.
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { EDIT_FIELDS, EMAIL_FIELDS, MIXED, TASK_FIELDS, UPLOAD_FIELDS, WEBHOOK_FIELDS, WORKFLOW_FIELDS, fieldsFor, fromText, sharedValue, toText, type FieldType } from "./fields";

// --- The server's kinds (src/stormflow/kinds/<kind>.py): the parameter names of each kind.
function kindParams(kind: string): string[] {
  const source = readFileSync(new URL(`../../src/stormflow/kinds/${kind}.py`, import.meta.url), "utf8");
  const start = source.indexOf(`Kind(\n        name="${kind}",`);
  if (start < 0) throw new Error(`kind ${kind} not found in kinds/${kind}.py`);
  const end = source.indexOf("\n)\n", start);
  const block = source.slice(start, end);
  const names = [...block.matchAll(/Param\(\s*"(\w+)"/g)].map((m) => m[1]);
  if (/^\s+RETRIES,$/m.test(block)) names.push("retries");
  return names;
}

describe("field lists", () => {
  test("the server's kinds were read", () => {
    expect(kindParams("task")).toContain("commands");
    expect(kindParams("task")).toContain("chunk_size");
    expect(kindParams("email")).toEqual(expect.arrayContaining(["addresses", "subject", "body", "retries"]));
  });

  test.each([
    ["task", TASK_FIELDS],
    ["email", EMAIL_FIELDS],
    ["webhook", WEBHOOK_FIELDS],
    ["workflow", WORKFLOW_FIELDS],
    ["upload", UPLOAD_FIELDS],
  ] as const)("every %s field is a parameter of the kind, once", (kind, fields) => {
    const keys = fields.map((f) => f.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const k of keys) expect(kindParams(kind)).toContain(k);
  });

  test("the task fields cover every task parameter", () => {
    expect(TASK_FIELDS.map((f) => f.key).sort()).toEqual(kindParams("task").sort());
  });

  test("the edit dialog's fields are task fields of the same type", () => {
    for (const f of EDIT_FIELDS) expect(TASK_FIELDS.find((t) => t.key === f.key)?.type).toBe(f.type);
  });

  test("types fit the parameters", () => {
    const type = (k: string) => TASK_FIELDS.find((f) => f.key === k)?.type;
    expect(type("retries")).toBe("int");
    expect(type("chunk_size")).toBe("int");
    expect(type("max_seconds")).toBe("number");
    expect(type("env")).toBe("kv");
    expect(type("limits")).toBe("list");
    expect(type("commands")).toBe("commands");
    expect(type("frames")).toBe("frames");
    expect(type("scout")).toBe("frames");
    expect(EMAIL_FIELDS.find((f) => f.key === "addresses")?.type).toBe("lines");
  });

  test("the webhook fields cover every webhook parameter but the lifecycle ones", () => {
    const lifecycle = ["retry_delay", "lost_retries"];
    expect(WEBHOOK_FIELDS.map((f) => f.key).sort()).toEqual(kindParams("webhook").filter((k) => !lifecycle.includes(k)).sort());
  });

  test("fieldsFor: email nodes get the email fields, everything else the task fields", () => {
    expect(fieldsFor("email")).toBe(EMAIL_FIELDS);
    expect(fieldsFor("webhook")).toBe(WEBHOOK_FIELDS);
    expect(fieldsFor("workflow")).toBe(WORKFLOW_FIELDS);
    expect(fieldsFor("upload")).toBe(UPLOAD_FIELDS);
    expect(fieldsFor("task")).toBe(TASK_FIELDS);
    expect(fieldsFor("")).toBe(TASK_FIELDS);
  });
});

describe("toText", () => {
  test("absent values are empty text", () => {
    for (const t of ["text", "int", "kv", "commands", "list"] as FieldType[]) {
      expect(toText(t, undefined)).toBe("");
      expect(toText(t, null)).toBe("");
    }
  });

  test("commands: one per line, shell lines as they are, argv lists as JSON", () => {
    expect(toText("commands", ["echo hi", ["render", "-f", "{start}"]])).toBe('echo hi\n["render","-f","{start}"]');
    expect(toText("commands", "echo hi")).toBe('"echo hi"'); // not a list: shown as JSON so the validator names it
  });

  test("kv: KEY=value rows", () => {
    expect(toText("kv", { A: "1", PATH: "/bin:/usr/bin", EQ: "x=y" })).toBe("A=1\nPATH=/bin:/usr/bin\nEQ=x=y");
    expect(toText("kv", {})).toBe("");
  });

  test("lines and lists", () => {
    expect(toText("lines", ["a@x.org", "b@x.org"])).toBe("a@x.org\nb@x.org");
    expect(toText("list", ["gpu", "licence"])).toBe("gpu, licence");
    expect(toText("list", "gpu")).toBe("gpu");
  });

  test("scalars: strings as they are, anything else as JSON", () => {
    expect(toText("text", "cpu-8")).toBe("cpu-8");
    expect(toText("int", 3)).toBe("3");
    expect(toText("number", 2.5)).toBe("2.5");
    expect(toText("frames", "1-10x2")).toBe("1-10x2");
    expect(toText("frames", 5)).toBe("5");
    expect(toText("text", { a: 1 })).toBe('{"a":1}');
  });
});

describe("fromText", () => {
  test("empty text removes the key (except env, which becomes empty)", () => {
    for (const t of ["text", "number", "int", "lines", "commands", "list", "frames", "select"] as FieldType[]) {
      expect(fromText(t, "")).toBeUndefined();
      expect(fromText(t, "  \n ")).toBeUndefined();
    }
    expect(fromText("kv", "")).toEqual({});
  });

  test("int: whole numbers; anything else stays text for the validator", () => {
    expect(fromText("int", "3")).toBe(3);
    expect(fromText("int", " 12 ")).toBe(12);
    expect(fromText("int", "-1")).toBe(-1);
    expect(fromText("int", "2.5")).toBe("2.5");
    expect(fromText("int", "three")).toBe("three");
    expect(fromText("int", "Infinity")).toBe("Infinity");
  });

  test("number: any finite number", () => {
    expect(fromText("number", "2.5")).toBe(2.5);
    expect(fromText("number", "60")).toBe(60);
    expect(fromText("number", "1e3")).toBe(1000);
    expect(fromText("number", "soon")).toBe("soon");
    expect(fromText("number", "NaN")).toBe("NaN");
  });

  test("commands: shell lines, and JSON argv lists (as strings)", () => {
    expect(fromText("commands", 'echo hi\n\n  ["render", "-f", "{start}"]  \n[1, 2]\n')).toEqual([
      "echo hi",
      ["render", "-f", "{start}"],
      ["1", "2"],
    ]);
  });

  test("commands: a line that only looks like JSON is a shell line", () => {
    expect(fromText("commands", '[ -f out.exr ] && echo done\n["unclosed"')).toEqual(['[ -f out.exr ] && echo done', '["unclosed"']);
  });

  test("kv: KEY=value rows, split at the first =", () => {
    expect(fromText("kv", "A=1\n\nPATH=/bin:/usr/bin\n EQ =x=y\nFLAG\nEMPTY=")).toEqual({
      A: "1",
      PATH: "/bin:/usr/bin",
      EQ: "x=y",
      FLAG: "",
      EMPTY: "",
    });
  });

  test("lines: one item per line, trimmed, blank lines dropped", () => {
    expect(fromText("lines", " a@x.org \n\nb@x.org\n")).toEqual(["a@x.org", "b@x.org"]);
  });

  test("list: comma separated, trimmed, empty items dropped", () => {
    expect(fromText("list", "gpu, licence,, nuke ,")).toEqual(["gpu", "licence", "nuke"]);
    expect(fromText("list", "gpu")).toEqual(["gpu"]);
  });

  test("frames: the spec as trimmed text (the server reads it)", () => {
    expect(fromText("frames", " 1-100x2 ")).toBe("1-100x2");
    expect(fromText("frames", "5")).toBe("5");
  });

  test("text and select: as typed", () => {
    expect(fromText("text", " cpu-8 ")).toBe(" cpu-8 ");
    expect(fromText("select", "open")).toBe("open");
  });
});

describe("round trips: value -> text -> the same value", () => {
  test.each<[FieldType, unknown]>([
    ["commands", ["echo hi", ["render", "{start}", "{end}"]]],
    ["kv", { A: "1", B: "x=y", C: "" }],
    ["lines", ["a@x.org", "b@x.org"]],
    ["list", ["gpu", "licence"]],
    ["int", 4],
    ["number", 0.5],
    ["text", "cpu-8"],
    ["frames", "1-10,20-30"],
  ])("%s %j", (type, value) => {
    expect(fromText(type, toText(type, value))).toEqual(value);
  });
});

describe("sharedValue", () => {
  test("the value every object shares", () => {
    expect(sharedValue([{ a: 1 }, { a: 1, b: 2 }], "a")).toBe(1);
    expect(sharedValue([{ env: { A: "1" } }, { env: { A: "1" } }], "env")).toEqual({ A: "1" });
    expect(sharedValue([{ a: [1, 2] }], "a")).toEqual([1, 2]);
  });

  test("MIXED when they differ, including set on some and absent on others", () => {
    expect(sharedValue([{ a: 1 }, { a: 2 }], "a")).toBe(MIXED);
    expect(sharedValue([{ a: 1 }, {}], "a")).toBe(MIXED);
    expect(sharedValue([{ a: [1, 2] }, { a: [2, 1] }], "a")).toBe(MIXED);
  });

  test("absent everywhere, or no objects: undefined", () => {
    expect(sharedValue([{}, {}], "a")).toBeUndefined();
    expect(sharedValue([], "a")).toBeUndefined();
  });
});
