import { expect, test } from "vitest";
import { EMAIL_FIELDS, TASK_FIELDS, WORKFLOW_FIELDS } from "./fields";
import { fieldsForKind, kindNames, type KindInfo } from "./kinds";

const param = (name: string, field: KindInfo["params"][number]["field"], required = false, options: unknown[] = []) => ({
  name, expected: "", description: `the ${name}`, required, default: null, field, options,
});

const FFMPEG: KindInfo = {
  name: "ffmpeg", description: "encodes", provider: "storm-ffmpeg", runs: "commands", frame_ranged: false,
  params: [
    param("fps", "int"),
    param("input", "text", true),
    param("codec", "select", false, ["h264", "prores"]),
    param("matrix", null),
    param("output", "text", true),
    param("instance_type", "text"),
  ],
};

test("a plugin kind gets one field per editable parameter, required ones first", () => {
  const fields = fieldsForKind("ffmpeg", [FFMPEG]);
  expect(fields.map((f) => f.key)).toEqual(["input", "output", "fps", "codec", "instance_type"]);
  expect(fields[0]).toEqual({ key: "input", label: "input", type: "text", hint: "the input (required)" });
  expect(fields.find((f) => f.key === "codec")).toMatchObject({ type: "select", options: ["h264", "prores"] });
  expect(fields.find((f) => f.key === "instance_type")?.label).toBe("instance type");
});

test("built-in kinds keep their own fields; an unknown kind falls back as before", () => {
  expect(fieldsForKind("task", [FFMPEG])).toBe(TASK_FIELDS);
  expect(fieldsForKind("email", null)).toBe(EMAIL_FIELDS);
  expect(fieldsForKind("workflow", [FFMPEG])).toBe(WORKFLOW_FIELDS);
  expect(fieldsForKind("ffmpeg", null)).toBe(TASK_FIELDS); // the server has not answered yet
});

test("kind names: built-in first, then the plugins' by name", () => {
  const other = { ...FFMPEG, name: "blender_render" };
  expect(kindNames([FFMPEG, other, { ...FFMPEG, name: "task" }])).toEqual(["task", "email", "workflow", "blender_render", "ffmpeg"]);
  expect(kindNames(null)).toEqual(["task", "email", "workflow"]);
});
