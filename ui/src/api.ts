// The HTTP contract of docs/api.md, typed. Every request carries the token.
import type { Status, Time } from "./lifecycle";

const TOKEN_KEY = "storm_token";

/** Keep `?token=` from the opening URL in sessionStorage and drop it from the address bar. */
export function captureToken(): void {
  const url = new URL(window.location.href);
  const t = url.searchParams.get("token");
  if (t) {
    sessionStorage.setItem(TOKEN_KEY, t);
    url.searchParams.delete("token");
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public where: string | null = null,
    public details: unknown = null,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const headers = new Headers(init.headers);
  const t = token();
  if (t) headers.set("Authorization", `Bearer ${t}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  // GETs revalidate: the last answer's ETag goes back as If-None-Match and a 304 (nothing
  // changed since) is answered from memory, so polling costs the server one indexed read.
  const get = (init.method ?? "GET").toUpperCase() === "GET";
  const kept = get ? validated.get(path) : undefined;
  if (kept) headers.set("If-None-Match", kept.etag);
  const res = await fetch(API + path, { ...init, headers, body, credentials: "same-origin", ...(get ? { cache: "no-store" as RequestCache } : {}) });
  if (res.status === 304 && kept) return kept.body as T;
  if (res.status === 204) return undefined as T;
  const type = res.headers.get("content-type") ?? "";
  if (!res.ok) {
    if (type.includes("json")) {
      const j = await res.json().catch(() => null);
      const e = j?.error;
      if (e) throw new ApiError(res.status, e.code, e.message, e.where ?? null, e.details ?? null);
    }
    throw new ApiError(res.status, "http", `${res.status} ${res.statusText} for ${path}`);
  }
  const answer = type.includes("json") ? await res.json() : await res.text();
  const etag = res.headers.get("etag");
  if (get && etag) remember(path, etag, answer);
  else if (get) validated.delete(path);
  return answer as T;
}

/** The last validated answer per GET path (bounded: the oldest go first). */
const validated = new Map<string, { etag: string; body: unknown }>();
const VALIDATED_MAX = 64;

function remember(path: string, etag: string, body: unknown): void {
  validated.delete(path);
  validated.set(path, { etag, body });
  while (validated.size > VALIDATED_MAX) validated.delete(validated.keys().next().value as string);
}

/** EventSource for a workflow's events, resuming after `after`. */
export function eventStream(workflowId: string, after: number): EventSource {
  const q = new URLSearchParams({ after: String(after) });
  const t = token();
  if (t) q.set("token", t);
  return new EventSource(`${API}/workflows/${workflowId}/events/stream?${q}`);
}

export type WorkflowStatus = "running" | "succeeded" | "failed" | "holding";

export interface WorkflowSummary {
  id: string;
  name: string;
  owner: string | null;
  created_at: Time;
  archived: boolean;
  expires_at?: Time | null; // submitted with a ttl
  expired?: boolean; // its ttl ran out: running nodes were canceled, nothing more runs
  status: WorkflowStatus;
  counts: Record<Status, number>;
  total: number;
  skipped: number;
  metadata?: Record<string, unknown>;
  seq?: number; // the last event seq this answer reflects (newer servers)
  phases?: { queued: number; executing: number }; // running nodes by attempt phase (newer servers)
  parent?: ParentLink | null; // started by a `workflow` node of another workflow
  children?: ChildOut[]; // the workflows its `workflow` nodes started (the detail only)
  rollup?: Partial<Record<Status, number>>; // nodes per status at every depth (the detail only)
}

/** The `workflow` node (and attempt) that started a child workflow. */
export interface ParentLink {
  workflow_id: string;
  node: string;
  token: string;
}

/** A child workflow, with its live status and counts (GET /workflows/{id}/children). */
export interface ChildOut {
  workflow_id: string;
  name: string;
  node: string;
  token: string;
  created_at: number;
  status: WorkflowStatus;
  counts: Partial<Record<Status, number>>;
  current: boolean; // followed by its node's current run (false: a snapshot keeps it)
}

/** Each `workflow` node's current child: the newest child its current run follows. */
export function currentChildren(children: ChildOut[]): Map<string, ChildOut> {
  const out = new Map<string, ChildOut>();
  for (const c of children) if (c.current) out.set(c.node, c);
  return out;
}

export interface CompactGraph {
  total: number;
  offset: number;
  limit: number;
  nodes: {
    name: string[];
    kind: string[];
    status: Status[];
    group: (string | null)[];
    frames: (string | null)[];
    phase?: ("queued" | "executing" | null)[]; // newer servers
  };
  edges: [number, number][];
  seq?: number; // the last event seq the graph reflects (newer servers)
}

export interface AttemptOut {
  number: number;
  token: string;
  created_at: Time;
  not_before: Time;
  started_at: Time;
  ended_at: Time;
  result: string | null;
  exit_code: number | null;
  error: string | null;
  worker: string | null;
  snapshot: number | null;
}

export interface NodeRow {
  name: string;
  kind: string;
  status: Status;
  group: string | null;
  frames: string | null;
  phase?: "queued" | "executing" | null; // a running node's attempt phase (newer servers)
  started_at?: Time; // the real start of the current attempt, or null
}

export interface NodeDetail extends NodeRow {
  submitted: Status;
  base: Record<string, unknown>;
  patch: Record<string, unknown>;
  current: Record<string, unknown>;
  snapshot_count: number;
  attempts: AttemptOut[];
  upstream: string[];
  downstream: string[];
  allowed_actions: string[];
  wait?: WaitOut | null; // an external job: what its current attempt waits for
}

/** What an external node's attempt waits for (GET /workflows/{id}/nodes/{name}: `wait`). */
export interface WaitOut {
  provider: string;
  state: string; // submitting | waiting | done | cancelling | canceled
  external_id: string | null;
  phase: string; // "submitted", "waiting (external id j42, 40%)", ...
  polls: number;
  polled_at: number | null;
  next_poll: number | null;
  progress: number | null;
  outputs: Record<string, unknown> | null;
  ended_by: string | null;
  error: string | null;
}

export interface Selection {
  names?: string[];
  glob?: string;
  status?: Status[];
  kind?: string[];
}

export interface ActionRequest {
  action: string;
  selection: Selection;
  patch?: Record<string, unknown>;
  target?: "submitted" | "open" | "holding";
  snapshot?: number;
  strict?: boolean;
  dry_run?: boolean; // the same answer, nothing stored (newer servers)
}

export interface ActionAnswer {
  action: string;
  selected: number;
  changed: string[];
  cascaded: string[];
  ineligible: { node: string; status: Status; reason: string }[];
  changes: { node: string; old: Status; new: Status; why: string; caused_by: string | null }[];
  snapshots: { node: string; number: number }[];
  first_seq: number | null;
  last_seq: number | null;
  replayed: boolean;
  dry_run?: boolean;
}

export interface SnapshotOut {
  number: number;
  status: Status;
  patch: Record<string, unknown>;
  config: Record<string, unknown>;
  at: Time;
  actor: string;
  why: string;
  caused_by: string | null;
  attempts: AttemptOut[];
}

export interface History {
  current: { patch: Record<string, unknown>; config: Record<string, unknown> };
  snapshots: SnapshotOut[];
  base: { config: Record<string, unknown> };
}

export interface DiffOut {
  a: string;
  b: string;
  changes: { path: string; a: unknown; b: unknown }[];
}

export interface EventOut {
  seq: number;
  type: string;
  node: string | null;
  old: Status | null;
  new: Status | null;
  actor: string | null;
  at: Time;
  why: string | null;
  caused_by: string | null;
  payload: Record<string, unknown> | null;
  correlation: string | null;
}

export interface EntryOut {
  severity: "error" | "warning" | "info";
  code: string;
  message: string;
  nodes: string[];
  field: string | null;
  line: number | null;
  fixers: { name: string; description: string }[];
}

export interface Draft {
  id: string;
  document: WorkflowDocument;
  entries: EntryOut[];
  created_at: Time;
  updated_at: Time;
  workflow_id: string | null;
}

export type DocNode = Record<string, unknown> & { name?: string; kind?: string; status?: string };
export type DocEdge = [string, string] | { from: string; to: string; mode?: string };

export interface WorkflowDocument {
  schema?: number;
  name?: string;
  metadata?: Record<string, unknown>;
  nodes?: DocNode[];
  edges?: DocEdge[];
  [key: string]: unknown;
}

export const enc = encodeURIComponent;

/** A workflow's owner: the document's `metadata.owner` when it names one, else the submitter. */
export function ownerOf(s: { owner: string | null; metadata?: Record<string, unknown> }): string | null {
  const m = s.metadata?.owner;
  return typeof m === "string" && m.trim() ? m : s.owner;
}

export interface Capabilities {
  /** `"dry_run": true` on the actions endpoint. */
  dryRun: boolean;
  /** The frame previews endpoints. */
  previews: boolean;
}

let capabilities: Promise<Capabilities> | null = null;

/** What this server offers, read once from its OpenAPI schema (nothing on failure). */
export function serverCapabilities(): Promise<Capabilities> {
  capabilities ??= (async () => {
    const headers = new Headers();
    const t = token();
    if (t) headers.set("Authorization", `Bearer ${t}`);
    try {
      const r = await fetch("/openapi.json", { headers, credentials: "same-origin" });
      if (!r.ok) return { dryRun: false, previews: false };
      const spec = (await r.json()) as { paths?: Record<string, unknown>; components?: { schemas?: Record<string, { properties?: Record<string, unknown> }> } };
      const paths = Object.keys(spec.paths ?? {});
      const request = spec.components?.schemas?.ActionRequest?.properties ?? {};
      return { dryRun: "dry_run" in request, previews: paths.some((p) => p.endsWith("/previews")) };
    } catch {
      return { dryRun: false, previews: false };
    }
  })();
  return capabilities;
}
