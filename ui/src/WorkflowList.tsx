// All workflows: status, progress, owner, age; filter; open a draft from a JSON file.
import { useEffect, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { api, ownerOf, type WorkflowSummary } from "./api";
import { COLOURS, STATUSES, age } from "./lifecycle";

export function WorkflowList() {
  const [items, setItems] = useState<WorkflowSummary[] | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [status, setStatus] = useState("");
  const [archived, setArchived] = useState(false);
  // Sub-workflows (started by `workflow` nodes) are reached from their parent: hidden here.
  const [subs, setSubs] = useState(false);
  const navigate = useNavigate();

  useEffect(() => {
    let alive = true;
    const load = () => {
      const q = new URLSearchParams({ limit: "200", archived: String(archived) });
      if (name.trim()) q.set("name", name.includes("*") || name.includes("?") ? name.trim() : `*${name.trim()}*`);
      if (status) q.set("status", status);
      if (!subs) q.set("children", "false");
      api<{ items: WorkflowSummary[] }>(`/workflows?${q}`)
        .then((r) => {
          if (!alive) return;
          setItems(r.items);
          setErr(null);
        })
        .catch((e) => alive && setErr(e.message));
    };
    load();
    const t = setInterval(load, 3000);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [name, status, archived, subs]);

  const newDraft = async (doc?: unknown) => {
    try {
      const d = await api<{ id: string }>("/drafts", {
        method: "POST",
        json: doc ?? { schema: 1, name: "untitled", nodes: [{ name: "task1", kind: "task", commands: [["echo", "hello"]] }], edges: [] },
      });
      navigate(`/composer/${d.id}`);
    } catch (e) {
      setErr((e as Error).message);
    }
  };

  return (
    <div
      className="wflist"
      data-testid="workflow-list"
      onDragOver={(e) => e.preventDefault()}
      onDrop={async (e) => {
        e.preventDefault();
        const f = e.dataTransfer.files[0];
        if (!f) return;
        try {
          // YAML or JSON: the server parses it as `storm validate` does (anchors, line numbers)
          const d = await api<{ id: string }>("/drafts/import", {
            method: "POST",
            headers: { "Content-Type": "application/yaml" },
            body: await f.text(),
          });
          navigate(`/composer/${d.id}`);
        } catch (err) {
          setErr(`${f.name}: ${(err as Error).message}`);
        }
      }}
    >
      <header className="topbar">
        <Link to="/" className="brand">Storm</Link>
        <span className="crumb">Workflows</span>
        <span className="spacer" />
        <Link to="/templates" data-testid="templates-link">Templates</Link>
        <Link to="/plugins" className="navlink" data-testid="nav-plugins">Plugins</Link>
        <button className="primary" onClick={() => newDraft()} data-testid="new-draft">New draft</button>
      </header>
      <div className="filterbar">
        <input placeholder="name (glob)" value={name} onChange={(e) => setName(e.target.value)} data-testid="wf-filter-name" />
        <select value={status} onChange={(e) => setStatus(e.target.value)} data-testid="wf-filter-status">
          <option value="">any status</option>
          {["running", "holding", "failed", "succeeded"].map((s) => (
            <option key={s} value={s}>{s}</option>
          ))}
        </select>
        <label>
          <input type="checkbox" checked={archived} onChange={(e) => setArchived(e.target.checked)} /> archived
        </label>
        <label title="workflows started by workflow nodes (shots of a sequence)">
          <input type="checkbox" checked={subs} onChange={(e) => setSubs(e.target.checked)} data-testid="wf-show-children" /> sub-workflows
        </label>
        <span className="muted small">drop a workflow document (YAML or JSON) here to open it in the Composer</span>
      </div>
      {err ? <div className="err">{err}</div> : null}
      {!items ? <div className="loading">Loading…</div> : null}
      {items && !items.length ? <p className="muted pad">No workflows yet.</p> : null}
      {items && items.length ? (
        <table className="wftable">
          <thead>
            <tr>
              <th>name</th>
              <th>id</th>
              <th>status</th>
              <th>progress</th>
              <th>nodes</th>
              <th>owner</th>
              <th>age</th>
            </tr>
          </thead>
          <tbody>
            {items.map((w) => {
              const done = (w.counts.succeeded ?? 0) + (w.counts.skipped ?? 0);
              return (
                <tr key={w.id} data-testid="wf-row" data-id={w.id} onClick={() => navigate(`/workflows/${w.id}`)}>
                  <td>
                    <Link to={`/workflows/${w.id}`}>{w.name}</Link>
                    {w.parent ? <span className="muted small" data-testid="wf-parent"> in {w.parent.workflow_id}</span> : null}
                  </td>
                  <td className="mono">{w.id}</td>
                  <td>
                    <span className={"wfstatus s-" + w.status}>{w.status}</span>
                    {w.expired ? <span className="wfstatus s-expired" data-testid="wf-expired">expired</span> : null}
                  </td>
                  <td>
                    <div className="progress-bar small" title={STATUSES.map((s) => `${w.counts[s] ?? 0} ${s}`).join(", ")}>
                      {STATUSES.map((s) =>
                        w.counts[s] ? <span key={s} style={{ width: `${(100 * w.counts[s]) / Math.max(1, w.total)}%`, background: COLOURS[s].fill }} /> : null,
                      )}
                    </div>
                    <span className="small">{Math.round((100 * done) / Math.max(1, w.total))}%</span>
                  </td>
                  <td>{w.total}</td>
                  <td data-testid="wf-owner">{ownerOf(w) ?? "–"}</td>
                  <td>{age(w.created_at)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
