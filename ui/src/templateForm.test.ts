// The template form: starting values, the checks made before sending, what is sent.
import { describe, expect, test } from "vitest";
import { formProblems, initialValues, paramLabel, paramsOf, type TemplateParam } from "./templateForm";

const PARAMS: TemplateParam[] = [
  { name: "shot", type: "string", description: "shot name" },
  { name: "frames", type: "frames", default: "1-24" },
  { name: "chunk", type: "int", default: 4 },
  { name: "quality", type: "choice", choices: ["draft", "final"] },
  { name: "scene", type: "path", default: null },
];

describe("template form", () => {
  test("starts on the defaults, a choice on its first choice", () => {
    expect(initialValues(PARAMS)).toEqual({ shot: "", frames: "1-24", chunk: "4", quality: "draft", scene: "" });
  });

  test("names a missing value, a bad whole number and a bad choice", () => {
    const values = { ...initialValues(PARAMS), chunk: "four", quality: "best" };
    expect(formProblems(PARAMS, values)).toEqual({
      shot: "needs a value",
      chunk: "must be a whole number",
      quality: "must be one of draft, final",
      scene: "needs a value",
    });
    expect(formProblems(PARAMS, { ...values, shot: "sh010", chunk: "8", quality: "final", scene: "a.ma" })).toEqual({});
  });

  test("sends filled fields only, whole numbers as numbers", () => {
    const values = { ...initialValues(PARAMS), shot: " sh010 ", chunk: "8", frames: "" };
    expect(paramsOf(PARAMS, values)).toEqual({ shot: "sh010", chunk: 8, quality: "draft" });
  });

  test("labels show defaults", () => {
    expect(PARAMS.map(paramLabel)).toEqual(["shot", "frames = 1-24", "chunk = 4", "quality", "scene"]);
  });
});
