// Node kinds as the server knows them (GET /api/v1/kinds): the built-in ones and the ones
// plugins add. The Composer offers every kind and, for a plugin's kind, a field per parameter.
import { api } from "./api";
import { fieldsFor, type FieldDef, type FieldType } from "./fields";

export type KindParam = {
  name: string;
  expected: string;
  description: string;
  required: boolean;
  default: unknown;
  field: "text" | "int" | "number" | "list" | "kv" | "select" | null;
  options: unknown[];
};

export type KindInfo = {
  name: string;
  description: string;
  provider: string;
  runs: string;
  frame_ranged: boolean;
  params: KindParam[];
};

/** The kinds the Composer always offers, even before the server answered. */
export const BUILTIN_KINDS = ["task", "email", "workflow"];

/** A plugin's kind: one field per parameter a form can edit (others stay in the document),
 * required ones first. The built-in kinds keep their hand-made fields and hints. */
export function fieldsForKind(kind: string, known: KindInfo[] | null): FieldDef[] {
  const info = known?.find((k) => k.name === kind);
  if (!info || BUILTIN_KINDS.includes(kind)) return fieldsFor(kind);
  const editable = info.params.filter((p) => p.field !== null);
  const ordered = [...editable.filter((p) => p.required), ...editable.filter((p) => !p.required)];
  return ordered.map((p) => ({
    key: p.name,
    label: p.name.replace(/_/g, " "),
    type: p.field as FieldType,
    ...(p.field === "select" ? { options: p.options.map(String) } : {}),
    hint: p.required ? `${p.description} (required)` : p.description,
  }));
}

/** Kind names for the Composer's select: the built-in ones first, then the plugins', by name. */
export function kindNames(known: KindInfo[] | null): string[] {
  const others = (known ?? []).map((k) => k.name).filter((n) => !BUILTIN_KINDS.includes(n)).sort();
  return [...BUILTIN_KINDS, ...others];
}

let cached: Promise<KindInfo[]> | null = null;

/** The server's kinds, asked once per page load (plugins load when the server starts). */
export function loadKinds(): Promise<KindInfo[]> {
  if (!cached) {
    cached = api<KindInfo[]>("/kinds").catch((e) => {
      cached = null; // asked again next time
      throw e;
    });
  }
  return cached;
}
