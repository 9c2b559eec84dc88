// A `workflow` node's child workflow at a glance: its status bar and how much of it is ready.
import type { ChildOut } from "./api";
import { COLOURS, STATUSES } from "./lifecycle";

export function childProgress(counts: ChildOut["counts"]): { done: number; total: number } {
  let total = 0;
  for (const s of STATUSES) total += counts[s] ?? 0;
  return { done: (counts.succeeded ?? 0) + (counts.skipped ?? 0), total };
}

export function ChildBar({ child, compact }: { child: ChildOut; compact?: boolean }) {
  const { done, total } = childProgress(child.counts);
  return (
    <div
      className={"childbar" + (compact ? " compact" : "")}
      data-testid="child-bar"
      data-child={child.workflow_id}
      data-child-status={child.status}
      title={`child workflow ${child.workflow_id}: ${child.status}, ${done}/${total} ready (double-click to open it)`}
    >
      <div className="progress-bar small">
        {STATUSES.map((s) =>
          child.counts[s] ? <span key={s} style={{ width: `${(100 * (child.counts[s] ?? 0)) / Math.max(1, total)}%`, background: COLOURS[s].fill }} /> : null,
        )}
      </div>
      <span className="small" data-testid="child-progress">{done}/{total}</span>
    </div>
  );
}
