// Selections made by a query (status chips, name glob, kind): resolved here for display and
// sent as the query itself, so the server resolves them when the action runs.
import type { Selection } from "./api";
import { STATUSES, STATUS_INDEX, type Status } from "./lifecycle";
import type { WorkflowModel } from "./model";

export interface Filter {
  statuses: Set<Status>;
  glob: string;
  kind: string;
}

/** Nodes matching a filter, in natural order. */
export function resolveFilter(model: Pick<WorkflowModel, "order" | "status" | "kinds" | "names">, f: Filter, re: RegExp | null): number[] {
  const st = new Set([...f.statuses].map((s) => STATUS_INDEX[s]));
  const out: number[] = [];
  for (const i of model.order) {
    if (st.size && !st.has(model.status[i])) continue;
    if (f.kind && model.kinds[i] !== f.kind) continue;
    if (re && !re.test(model.names[i])) continue;
    out.push(i);
  }
  return out;
}

/** A filter as the API's selection query (everything: glob "*"). */
export function toSelection(f: Filter): Selection {
  const q: Selection = {};
  if (f.statuses.size) q.status = STATUSES.filter((s) => f.statuses.has(s));
  if (f.glob.trim()) q.glob = f.glob.trim();
  if (f.kind) q.kind = [f.kind];
  if (!q.status && !q.glob && !q.kind) q.glob = "*";
  return q;
}

export function filterLabel(f: Filter): string {
  return describeQuery(toSelection(f));
}

export function describeQuery(q: Selection): string {
  const parts: string[] = [];
  if (q.status) parts.push(`status ${q.status.join("|")}`);
  if (q.glob && q.glob !== "*") parts.push(`name ${q.glob}`);
  if (q.kind) parts.push(`kind ${q.kind.join("|")}`);
  return parts.length ? parts.join(", ") : "all nodes";
}

