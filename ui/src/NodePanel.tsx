// The node panel: attributes (read-only), history with diffs, replay and revert,
// attempts with exit codes and the live log.
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { api, enc, token, API, type ActionAnswer, type ActionRequest, type AttemptOut, type DiffOut, type History, type NodeDetail } from "./api";
import { COLOURS, formatDuration, toMs } from "./lifecycle";
import type { WorkflowModel } from "./model";
import { ImageLightbox, NodePreviewsView, type PreviewImage } from "./Previews";
import { UploadPanel } from "./UploadPanel";

type Run = (req: Omit<ActionRequest, "selection">, names?: string[]) => Promise<ActionAnswer | undefined>;

export function NodePanel(props: {
  workflowId: string;
  name: string;
  model: WorkflowModel;
  onClose: () => void;
  runAction: Run;
  /** The server lists frame previews (newer servers). */
  previews?: boolean;
  tab?: "attributes" | "history" | "attempts" | "previews";
  onOpenSheet?: (group: string) => void;
}) {
  const { workflowId, name, model } = props;
  const idx = model.index.get(name);
  const unit = idx === undefined ? -1 : model.unitOf[idx];
  const ver = useSyncExternalStore(
    useCallback((cb: () => void) => (unit >= 0 ? model.subscribeUnit(unit, cb) : () => {}), [model, unit]),
    () => (unit >= 0 ? model.getUnitVersion(unit) : 0),
  );
  const status = idx === undefined ? null : model.statusOf(idx);
  const run = idx === undefined ? undefined : model.running.get(idx);
  const [detail, setDetail] = useState<NodeDetail | null>(null);
  const [history, setHistory] = useState<History | null>(null);
  const [attempts, setAttempts] = useState<AttemptOut[]>([]);
  const [tab, setTab] = useState<"attributes" | "history" | "attempts" | "previews">(props.tab ?? "attributes");
  const [large, setLarge] = useState<{ img: PreviewImage; label: string } | null>(null);
  const group = idx === undefined ? null : model.groups[idx];
  const [err, setErr] = useState<string | null>(null);
  const path = `/workflows/${workflowId}/nodes/${enc(name)}`;

  useEffect(() => {
    let alive = true;
    Promise.all([api<NodeDetail>(path), api<History>(path + "/history"), api<AttemptOut[]>(path + "/attempts")])
      .then(([d, h, a]) => {
        if (!alive) return;
        setDetail(d);
        setHistory(h);
        setAttempts(a);
      })
      .catch((e) => alive && setErr(e.message));
    return () => {
      alive = false;
    };
  }, [path, status, ver]);

  return (
    <aside className="side node-panel" data-testid="node-panel">
      <div className="side-head">
        <h2 title={name}>{name}</h2>
        {status ? (
          <span className="badge" style={{ background: COLOURS[status].fill, color: COLOURS[status].text }} data-testid="panel-status">
            {status}
            {run?.phase ? ` · ${run.phase}` : ""}
          </span>
        ) : null}
        <button className="link" onClick={props.onClose}>×</button>
      </div>
      {idx !== undefined && model.kinds[idx] === "upload" ? <UploadPanel workflowId={workflowId} name={name} /> : null}
      <div className="tabs">
        {(props.previews ? (["attributes", "history", "attempts", "previews"] as const) : (["attributes", "history", "attempts"] as const)).map((t) => (
          <button key={t} className={tab === t ? "on" : ""} data-testid={"tab-" + t} onClick={() => setTab(t)}>
            {t}
            {t === "history" && detail ? ` (${detail.snapshot_count})` : ""}
            {t === "attempts" ? ` (${attempts.length})` : ""}
          </button>
        ))}
      </div>
      {err ? <div className="err">{err}</div> : null}
      {tab === "attributes" && detail ? <Attributes d={detail} /> : null}
      {tab === "history" && history && detail ? (
        <HistoryView path={path} history={history} detail={detail} name={name} runAction={props.runAction} />
      ) : null}
      {tab === "attempts" ? <Attempts path={path} attempts={attempts} live={status === "running"} /> : null}
      {tab === "previews" ? (
        <>
          {group && props.onOpenSheet ? (
            <div className="panel">
              <button data-testid="open-sheet" onClick={() => props.onOpenSheet!(group)}>
                Contact sheet of {group}
              </button>
            </div>
          ) : null}
          <NodePreviewsView workflowId={workflowId} name={name} version={ver} onOpen={(img, label) => setLarge({ img, label })} />
        </>
      ) : null}
      {large ? <ImageLightbox img={large.img} label={large.label} onClose={() => setLarge(null)} /> : null}
    </aside>
  );
}

function Attributes({ d }: { d: NodeDetail }) {
  return (
    <div className="attrs" data-testid="attributes">
      <dl>
        <dt>kind</dt>
        <dd>{d.kind}</dd>
        <dt>submitted</dt>
        <dd>{d.submitted}</dd>
        {d.group ? (
          <>
            <dt>group</dt>
            <dd>{d.group}</dd>
          </>
        ) : null}
        {d.frames ? (
          <>
            <dt>frames</dt>
            <dd>{d.frames}</dd>
          </>
        ) : null}
        <dt>upstream</dt>
        <dd>{d.upstream.join(", ") || "–"}</dd>
        <dt>downstream</dt>
        <dd>{d.downstream.length > 20 ? `${d.downstream.slice(0, 20).join(", ")} … (${d.downstream.length})` : d.downstream.join(", ") || "–"}</dd>
        <dt>allowed</dt>
        <dd>{d.allowed_actions.join(", ")}</dd>
        {d.wait ? (
          <>
            <dt>external job</dt>
            <dd data-testid="external-wait">
              {d.wait.provider}: {d.wait.phase}
              {d.wait.ended_by ? ` (by ${d.wait.ended_by})` : ""}
              {d.wait.polls ? `, ${d.wait.polls} poll${d.wait.polls === 1 ? "" : "s"}` : ""}
              {d.wait.error ? ` — ${d.wait.error}` : ""}
            </dd>
          </>
        ) : null}
      </dl>
      <h3>current configuration</h3>
      <ConfigTable config={d.current} patch={d.patch} />
    </div>
  );
}

function ConfigTable({ config, patch }: { config: Record<string, unknown>; patch?: Record<string, unknown> }) {
  return (
    <table className="config">
      <tbody>
        {Object.entries(config).map(([k, v]) => (
          <tr key={k} className={patch && k in patch ? "patched" : ""}>
            <th>{k}</th>
            <td><code>{fmt(v)}</code></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function fmt(v: unknown): string {
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

function HistoryView(props: {
  path: string;
  history: History;
  detail: NodeDetail;
  name: string;
  runAction: Run;
}) {
  const { history, detail } = props;
  const [a, setA] = useState("current");
  const [b, setB] = useState("base");
  const [diff, setDiff] = useState<DiffOut | null>(null);
  useEffect(() => {
    if (a === b) {
      setDiff({ a, b, changes: [] });
      return;
    }
    api<DiffOut>(`${props.path}/diff?a=${enc(a)}&b=${enc(b)}`).then(setDiff).catch(() => setDiff(null));
  }, [a, b, props.path, history]);
  const canUpdate = detail.allowed_actions.includes("update") || detail.allowed_actions.includes("replay");
  const entries: { key: string; label: string; sub: string; patch?: Record<string, unknown> }[] = [
    { key: "current", label: "current", sub: `patch ${JSON.stringify(history.current.patch)}`, patch: history.current.patch },
    ...history.snapshots.map((s) => ({
      key: String(s.number),
      label: `snap(${s.number})`,
      sub: `${s.why}${s.caused_by ? " from " + s.caused_by : ""} · left ${s.status} · ${s.actor} · ${new Date(toMs(s.at)).toLocaleTimeString()} · ${s.attempts.length} attempts`,
      patch: s.patch,
    })),
    { key: "base", label: "base", sub: "as submitted" },
  ];
  return (
    <div className="history" data-testid="history">
      <div className="hist-actions">
        <button
          data-testid="revert"
          disabled={!canUpdate || Object.keys(history.current.patch ?? {}).length === 0}
          onClick={() => props.runAction({ action: "revert" }, [props.name])}
          title="make the current configuration the base one again"
        >
          Revert to base
        </button>
      </div>
      <table className="hist">
        <thead>
          <tr>
            <th>A</th>
            <th>B</th>
            <th>version</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.key} data-testid={"history-" + (e.key === "current" || e.key === "base" ? e.key : "snap")}>
              <td><input type="radio" name="ha" checked={a === e.key} onChange={() => setA(e.key)} /></td>
              <td><input type="radio" name="hb" checked={b === e.key} onChange={() => setB(e.key)} /></td>
              <td>
                <b>{e.label}</b>
                <div className="muted small">{e.sub}</div>
                {e.patch && e.key !== "current" ? <code className="small">{JSON.stringify(e.patch)}</code> : null}
              </td>
              <td>
                {e.key !== "current" && e.key !== "base" ? (
                  <button
                    disabled={!canUpdate}
                    data-testid={"replay-" + e.key}
                    onClick={() => props.runAction({ action: "replay", snapshot: Number(e.key) }, [props.name])}
                  >
                    Replay
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>
        diff {a} → {b}
      </h3>
      {diff ? (
        diff.changes.length ? (
          <table className="diff" data-testid="diff">
            <tbody>
              {diff.changes.map((c) => (
                <tr key={c.path}>
                  <th>{c.path}</th>
                  <td className="del"><code>{fmt(c.a)}</code></td>
                  <td className="add"><code>{fmt(c.b)}</code></td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <div className="muted" data-testid="diff">no difference</div>
        )
      ) : null}
    </div>
  );
}

function Attempts({ path, attempts, live }: { path: string; attempts: AttemptOut[]; live: boolean }) {
  const [sel, setSel] = useState<number | null>(attempts.length ? attempts.length : null);
  useEffect(() => {
    if (sel === null && attempts.length) setSel(attempts.length);
  }, [attempts.length, sel]);
  return (
    <div className="attempts" data-testid="attempts">
      <table>
        <thead>
          <tr>
            <th>#</th>
            <th>result</th>
            <th>exit</th>
            <th>took</th>
            <th>worker</th>
            <th>snap</th>
          </tr>
        </thead>
        <tbody>
          {attempts.map((a, k) => {
            const took = a.started_at ? ((a.ended_at ? toMs(a.ended_at) : Date.now()) - toMs(a.started_at)) / 1000 : NaN;
            return (
              <tr key={a.token + k} className={sel === k + 1 ? "on" : ""} onClick={() => setSel(k + 1)}>
                <td>{a.number}</td>
                <td>{a.result ?? (a.started_at ? "running" : "pending")}</td>
                <td className={a.exit_code ? "bad" : ""}>{a.exit_code ?? "–"}</td>
                <td>{formatDuration(took)}</td>
                <td>{a.worker ?? "–"}</td>
                <td>{a.snapshot ?? ""}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {sel !== null ? <LogView key={sel + ":" + attempts.length} path={path} attempt={sel} live={live && sel === attempts.length} /> : null}
    </div>
  );
}

function LogView({ path, attempt, live }: { path: string; attempt: number; live: boolean }) {
  const [text, setText] = useState("");
  const [follow, setFollow] = useState(live);
  const ref = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const ctl = new AbortController();
    const headers: Record<string, string> = {};
    const t = token();
    if (t) headers.Authorization = `Bearer ${t}`;
    setText("");
    (async () => {
      try {
        const res = await fetch(`${API}${path}/log?attempt=${attempt}&tail=500&follow=${follow}`, { headers, signal: ctl.signal });
        if (!res.ok || !res.body) {
          setText(res.ok ? "" : `(no log: ${res.status})`);
          return;
        }
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          const chunk = dec.decode(value, { stream: true });
          setText((s) => (s + chunk).slice(-200_000));
        }
      } catch {
        /* aborted */
      }
    })();
    return () => ctl.abort();
  }, [path, attempt, follow]);
  useEffect(() => {
    if (follow && ref.current) ref.current.scrollTop = ref.current.scrollHeight;
  }, [text, follow]);
  return (
    <div className="log">
      <label>
        <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} data-testid="log-follow" /> follow
      </label>
      <pre ref={ref} data-testid="log">{text || "(empty)"}</pre>
    </div>
  );
}
