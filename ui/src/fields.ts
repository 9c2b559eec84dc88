// Parameter fields shared by the Composer's side panel and the Monitor's edit dialog:
// each knows how to show a value as text and read it back.

export type FieldType = "text" | "number" | "int" | "lines" | "commands" | "kv" | "list" | "select" | "frames";

export interface FieldDef {
  key: string;
  label: string;
  type: FieldType;
  options?: string[];
  hint?: string;
}

export const TASK_FIELDS: FieldDef[] = [
  { key: "commands", label: "commands", type: "commands", hint: "one per line; an argv list as JSON [\"a\",\"b\"] or a shell line" },
  { key: "frames", label: "frames", type: "frames", hint: "1-100, 1-100x2, 1-10,20-30" },
  { key: "chunk_size", label: "chunk size", type: "int" },
  { key: "scout", label: "scout frames", type: "frames" },
  { key: "instance_type", label: "instance type", type: "text", hint: "e.g. cpu-8, mem-64" },
  { key: "retries", label: "retries", type: "int" },
  { key: "env", label: "env", type: "kv", hint: "KEY=value, one per line" },
  { key: "cwd", label: "cwd", type: "text" },
  { key: "min_seconds", label: "min seconds", type: "number" },
  { key: "max_seconds", label: "max seconds", type: "number" },
  { key: "output", label: "output", type: "text" },
  { key: "limits", label: "limits", type: "list", hint: "comma separated" },
];

export const EMAIL_FIELDS: FieldDef[] = [
  { key: "addresses", label: "addresses", type: "lines", hint: "one per line" },
  { key: "subject", label: "subject", type: "text" },
  { key: "body", label: "body", type: "text" },
  { key: "retries", label: "retries", type: "int" },
];

export const WEBHOOK_FIELDS: FieldDef[] = [
  { key: "url", label: "url", type: "text", hint: "http(s) URL the notice is POSTed to" },
  { key: "format", label: "format", type: "select", options: ["json", "slack"] },
  { key: "text", label: "text", type: "text", hint: "${workflow-name} ${status} ..." },
  { key: "secret_env", label: "secret env", type: "text", hint: "name of the env var holding the signing secret (not the secret)" },
  { key: "timeout", label: "timeout", type: "number" },
  { key: "tries", label: "tries", type: "int" },
  { key: "retries", label: "retries", type: "int" },
];

/** A sub-workflow: a stored template's name (or an inline document), the values of its
 *  params, and the param naming each node of a for_each. */
export const WORKFLOW_FIELDS: FieldDef[] = [
  { key: "template", label: "template", type: "text", hint: "a stored template's name" },
  { key: "params", label: "params", type: "kv", hint: "NAME=value, one per line" },
  { key: "key", label: "for_each key", type: "text", hint: "the param naming each node" },
  { key: "retries", label: "retries", type: "int" },
];

/** An upload: files, directories and globs, and where they go (docs/uploads.md). */
export const UPLOAD_FIELDS: FieldDef[] = [
  { key: "files", label: "files", type: "lines", hint: "files, directories, globs; one per line" },
  { key: "destination", label: "destination", type: "text", hint: "file:///mnt/farm/... or s3://bucket/prefix" },
  { key: "root", label: "project root", type: "text", hint: "keys are relative to it" },
  { key: "host", label: "host", type: "text", hint: "the workstation whose uploader sends it" },
  { key: "endpoint_url", label: "S3 endpoint", type: "text", hint: "MinIO, Ceph, Wasabi..." },
  { key: "profile", label: "AWS profile", type: "text" },
  { key: "part_size", label: "part size (bytes)", type: "int" },
  { key: "workers", label: "parallel parts", type: "int" },
  { key: "max_rate", label: "max bytes/s", type: "number" },
  { key: "retries", label: "retries", type: "int" },
];

/** Fields the Monitor's edit dialog offers (parameters of expanded nodes). */
export const EDIT_FIELDS: FieldDef[] = [
  { key: "instance_type", label: "instance type", type: "text", hint: "e.g. cpu-8, mem-64" },
  { key: "retries", label: "retries", type: "int" },
  { key: "max_seconds", label: "max seconds", type: "number" },
  { key: "env", label: "env", type: "kv", hint: "KEY=value, one per line" },
  { key: "commands", label: "commands", type: "commands", hint: "one per line" },
  { key: "limits", label: "limits", type: "list", hint: "comma separated" },
];

export function fieldsFor(kind: string): FieldDef[] {
  if (kind === "upload") return UPLOAD_FIELDS;
  return kind === "email"
    ? EMAIL_FIELDS
    : kind === "webhook"
      ? WEBHOOK_FIELDS
      : kind === "workflow"
        ? WORKFLOW_FIELDS
        : TASK_FIELDS;
}

export function toText(type: FieldType, v: unknown): string {
  if (v === undefined || v === null) return "";
  switch (type) {
    case "commands":
      return Array.isArray(v) ? v.map((c) => (typeof c === "string" ? c : JSON.stringify(c))).join("\n") : JSON.stringify(v);
    case "kv":
      return v && typeof v === "object" ? Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${x}`).join("\n") : String(v);
    case "lines":
      return Array.isArray(v) ? v.join("\n") : String(v);
    case "list":
      return Array.isArray(v) ? v.join(", ") : String(v);
    default:
      return typeof v === "string" ? v : JSON.stringify(v);
  }
}

/** Text back to a value; undefined means "remove the key". Unreadable input stays a string so validation reports it. */
export function fromText(type: FieldType, text: string): unknown {
  const t = text;
  if (!t.trim() && type !== "kv") return undefined;
  switch (type) {
    case "number":
    case "int": {
      const n = Number(t.trim());
      return Number.isFinite(n) && (type === "number" || Number.isInteger(n)) ? n : t;
    }
    case "commands":
      return t
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => {
          const s = l.trim();
          if (s.startsWith("[")) {
            try {
              const a = JSON.parse(s);
              if (Array.isArray(a)) return a.map(String);
            } catch {
              /* a shell line */
            }
          }
          return s;
        });
    case "kv": {
      const out: Record<string, string> = {};
      for (const line of t.split("\n")) {
        if (!line.trim()) continue;
        const eq = line.indexOf("=");
        if (eq < 0) out[line.trim()] = "";
        else out[line.slice(0, eq).trim()] = line.slice(eq + 1);
      }
      return out;
    }
    case "lines":
      return t.split("\n").map((s) => s.trim()).filter(Boolean);
    case "list":
      return t.split(",").map((s) => s.trim()).filter(Boolean);
    case "frames":
      return t.trim(); // a frame spec stays text (the server parses it)
    default:
      return t;
  }
}

/** The shared value of a key across objects, or MIXED. */
export const MIXED = Symbol("mixed");
export function sharedValue(objs: Record<string, unknown>[], key: string): unknown | typeof MIXED {
  if (!objs.length) return undefined;
  const first = JSON.stringify(objs[0][key]);
  for (const o of objs) if (JSON.stringify(o[key]) !== first) return MIXED;
  return objs[0][key];
}
