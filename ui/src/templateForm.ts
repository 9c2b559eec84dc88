// The form a stored template's params make: its fields, their initial text, and the params
// a filled form sends (`POST /workflows {template, params}`), with the checks the server
// makes again (a missing value, a whole number, a choice).
export type ParamType = "string" | "int" | "frames" | "path" | "choice";

export interface TemplateParam {
  name: string;
  type: ParamType;
  default?: unknown;
  description?: string | null;
  choices?: string[] | null;
}

export interface TemplateSummary {
  name: string;
  workflow_name: unknown;
  description: string | null;
  params: TemplateParam[];
  created_at: number;
  updated_at: number;
}

export interface TemplateDetail extends TemplateSummary {
  document: Record<string, unknown>;
}

/** Each field's starting text: its default, else empty (a choice starts on its default
 *  or its first choice). */
export function initialValues(params: TemplateParam[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of params) {
    if (p.default !== undefined && p.default !== null) out[p.name] = String(p.default);
    else if (p.type === "choice" && p.choices?.length) out[p.name] = p.choices[0];
    else out[p.name] = "";
  }
  return out;
}

/** Problems with the form as filled, by param name (the server says the same and more). */
export function formProblems(params: TemplateParam[], values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of params) {
    const text = (values[p.name] ?? "").trim();
    const required = p.default === undefined || p.default === null;
    if (!text) {
      if (required) out[p.name] = "needs a value";
      continue;
    }
    if (p.type === "int" && !/^-?\d+$/.test(text)) out[p.name] = "must be a whole number";
    else if (p.type === "choice" && p.choices && !p.choices.includes(text)) out[p.name] = `must be one of ${p.choices.join(", ")}`;
  }
  return out;
}

/** The params a filled form sends: empty fields are left out (their defaults apply), whole
 *  numbers are sent as numbers. */
export function paramsOf(params: TemplateParam[], values: Record<string, string>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const p of params) {
    const text = (values[p.name] ?? "").trim();
    if (!text) continue;
    out[p.name] = p.type === "int" && /^-?\d+$/.test(text) ? Number(text) : text;
  }
  return out;
}

/** How a param reads in the library: `shot`, `frames = 1-24`. */
export function paramLabel(p: TemplateParam): string {
  return p.default !== undefined && p.default !== null ? `${p.name} = ${String(p.default)}` : p.name;
}
