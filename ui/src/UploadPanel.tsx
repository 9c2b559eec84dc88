// Upload progress in the Monitor: a bar on each upload node of the graph, and in the node
// panel the node's figures (bytes, rate, ETA), pause/resume, and its files with their bars.
import { useEffect, useState, useSyncExternalStore } from "react";
import { bytes, eta, fraction, pauseUpload, uploadFiles, uploadProgress, type UploadFile, type UploadFigures } from "./uploads";

function useFrame() {
  return useSyncExternalStore(uploadProgress.subscribe, uploadProgress.getFrame);
}

function Bar({ done, total, testid }: { done: number; total: number; testid?: string }) {
  const pct = Math.round(fraction(done, total) * 1000) / 10;
  return (
    <div className="upbar" data-testid={testid} data-pct={pct} title={`${pct}%`}>
      <span style={{ width: `${pct}%` }} />
    </div>
  );
}

/** The thin bar on an upload node of the graph (nothing before its upload started). */
export function UploadNodeBar({ name }: { name: string }) {
  const frame = useFrame();
  const u = frame.uploads.find((x) => x.node === name);
  if (!u) return null;
  return <Bar done={u.bytes_done} total={u.bytes_total} testid="upload-node-bar" />;
}

function figuresLine(u: UploadFigures): string {
  const parts = [`${bytes(u.bytes_done)} / ${bytes(u.bytes_total)}`, `${u.files_done}/${u.files_total} files`];
  if (u.rate > 0) parts.push(`${bytes(u.rate)}/s`, `ETA ${eta(u.eta)}`);
  if (u.bytes_saved > 0) parts.push(`${bytes(u.bytes_saved)} already there`);
  return parts.join(" · ");
}

/** The node panel's upload section. */
export function UploadPanel({ workflowId, name }: { workflowId: string; name: string }) {
  const frame = useFrame();
  const u = frame.uploads.find((x) => x.node === name);
  const [files, setFiles] = useState<UploadFile[]>([]);
  const [err, setErr] = useState<string | null>(null);
  const state = u?.state;
  useEffect(() => {
    let alive = true;
    uploadFiles(workflowId, name)
      .then((a) => alive && setFiles(a.files))
      .catch(() => alive && setFiles([]));
    return () => {
      alive = false;
    };
  }, [workflowId, name, state, u?.files_done]);
  const moving = new Map((frame.sending[name] ?? []).map((f) => [f.path, f]));
  const shown = files.map((f) => moving.get(f.path) ?? f);
  const toggle = (paused: boolean) => pauseUpload(workflowId, name, paused).catch((e: Error) => setErr(e.message));
  return (
    <section className="upload-panel" data-testid="upload-panel">
      <h3>
        Upload {u ? <span className="upstate" data-testid="upload-state">{u.state}</span> : <span className="upstate">not started</span>}
      </h3>
      {u ? (
        <>
          <Bar done={u.bytes_done} total={u.bytes_total} testid="upload-bar" />
          <div className="upfigures" data-testid="upload-figures">{figuresLine(u)}</div>
          <div className="upactions">
            {u.paused ? (
              <button data-testid="upload-resume" onClick={() => toggle(false)}>Resume upload</button>
            ) : (
              <button data-testid="upload-pause" onClick={() => toggle(true)} disabled={u.state === "done"}>Pause upload</button>
            )}
          </div>
          {u.error ? <div className="error">{u.error}</div> : null}
        </>
      ) : (
        <div className="upactions">
          <button data-testid="upload-pause" onClick={() => toggle(true)}>Start paused</button>
        </div>
      )}
      {err ? <div className="error">{err}</div> : null}
      <ul className="upfiles" data-testid="upload-files">
        {shown.map((f) => (
          <li key={f.path} data-state={f.state} title={f.path}>
            <span className="upkey">{f.key}</span>
            <Bar done={f.bytes_done} total={f.size} />
            <span className="upsize">
              {f.state === "sending" ? `${bytes(f.bytes_done)} / ${bytes(f.size)} · ETA ${eta(f.eta)}` : `${bytes(f.size)} ${f.state}`}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
