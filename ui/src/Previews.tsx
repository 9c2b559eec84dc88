// Frame previews: the images a node's attempts leave under its `output` (docs/api.md,
// "Frame previews"): thumbnails in the node panel with a running render's latest frame, a
// contact sheet per frame-ranged group, a frame opened large with its chunk's status,
// attempt and log. Image URLs carry the token as the event stream does (an <img> sends no
// header).
import { useEffect, useState } from "react";
import { api, enc, token } from "./api";
import { COLOURS, type Status, type Time } from "./lifecycle";

export interface PreviewImage {
  path: string;
  frame: number | null;
  format: string;
  bytes: number;
  mtime: number;
  thumb: string;
  image: string;
}

export interface NodePreviews {
  node: string;
  group: string | null;
  frames: string | null;
  status: Status;
  attempt: { number: number; started_at: Time; ended_at: Time; result: string | null } | null;
  output: string | null;
  images: PreviewImage[];
  latest: PreviewImage | null;
  truncated: boolean;
}

export interface SheetFrame {
  frame: number;
  node: string;
  status: Status;
  attempt: number | null;
  image: PreviewImage | null;
}

export interface ContactSheet {
  group: string;
  total: number;
  with_image: number;
  offset: number;
  limit: number;
  frames: SheetFrame[];
}

/** A same-origin image URL from the API, with the token; `size` replaces the thumb size. */
export function withToken(url: string, size?: number): string {
  const u = new URL(url, window.location.origin);
  if (size) u.searchParams.set("size", String(size));
  const t = token();
  if (t) u.searchParams.set("token", t);
  return u.pathname + u.search;
}

export function NodePreviewsView(props: { workflowId: string; name: string; version: number; onOpen: (img: PreviewImage, label: string) => void }) {
  const [p, setP] = useState<NodePreviews | null>(null);
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    api<NodePreviews>(`/workflows/${props.workflowId}/nodes/${enc(props.name)}/previews`)
      .then((x) => alive && setP(x))
      .catch((e) => alive && setErr(e.message));
    return () => {
      alive = false;
    };
  }, [props.workflowId, props.name, props.version]);
  if (err) return <div className="muted pad">{err}</div>;
  if (!p) return <div className="muted pad">Loading previews…</div>;
  if (!p.images.length)
    return (
      <div className="muted pad" data-testid="previews-empty">
        {p.output ? `no image under ${p.output} yet` : "this node has no output to preview"}
      </div>
    );
  return (
    <div className="previews" data-testid="previews">
      {p.latest && p.status === "running" ? (
        <figure className="latest" data-testid="preview-latest">
          <img src={withToken(p.latest.thumb, 320)} alt={p.latest.path} onClick={() => props.onOpen(p.latest!, `${p.node} · latest`)} />
          <figcaption>latest: {p.latest.path}</figcaption>
        </figure>
      ) : null}
      <div className="thumbs">
        {p.images.slice(0, 200).map((img) => (
          <img
            key={img.path}
            src={withToken(img.thumb, 128)}
            loading="lazy"
            alt={img.path}
            title={img.path}
            data-testid="preview-thumb"
            data-frame={img.frame ?? undefined}
            onClick={() => props.onOpen(img, `${p.node}${img.frame !== null ? ` · frame ${img.frame}` : ""}`)}
          />
        ))}
      </div>
      {p.images.length > 200 || p.truncated ? <div className="muted small">{p.images.length}{p.truncated ? "+" : ""} images; the first 200 shown</div> : null}
    </div>
  );
}

/** The contact sheet of a frame-ranged group: every frame, its chunk's status, its image. */
export function ContactSheetDialog(props: {
  workflowId: string;
  group: string;
  onClose: () => void;
  onOpenNode: (node: string) => void;
}) {
  const [sheet, setSheet] = useState<ContactSheet | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [large, setLarge] = useState<SheetFrame | null>(null);
  useEffect(() => {
    api<ContactSheet>(`/workflows/${props.workflowId}/groups/${enc(props.group)}/previews`)
      .then(setSheet)
      .catch((e) => setErr(e.message));
  }, [props.workflowId, props.group]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      e.stopImmediatePropagation();
      if (large) setLarge(null);
      else props.onClose();
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  });
  return (
    <div className="modal-back" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div className="modal sheet" role="dialog" data-testid="contact-sheet">
        <h2>
          {props.group}: contact sheet
          {sheet ? <span className="muted small"> · {sheet.with_image} of {sheet.total} frames with an image</span> : null}
          <button className="link" onClick={props.onClose} style={{ float: "right" }}>×</button>
        </h2>
        {err ? <div className="err">{err}</div> : null}
        {!sheet && !err ? <p>Loading…</p> : null}
        {large ? (
          <FrameLarge frame={large} onBack={() => setLarge(null)} onOpenNode={props.onOpenNode} />
        ) : (
          <div className="sheet-grid">
            {sheet?.frames.map((f) => (
              <button
                key={f.frame}
                className="sheet-cell"
                data-testid="sheet-frame"
                data-frame={f.frame}
                data-node={f.node}
                title={`frame ${f.frame} · ${f.node} · ${f.status}`}
                style={{ borderColor: COLOURS[f.status]?.border }}
                onClick={() => setLarge(f)}
              >
                {f.image ? <img src={withToken(f.image.thumb, 128)} loading="lazy" alt={`frame ${f.frame}`} /> : <span className="noimg" style={{ background: COLOURS[f.status]?.fill }} />}
                <span className="fno">{f.frame}</span>
              </button>
            ))}
          </div>
        )}
      </div>
    </div>
  );
}

function FrameLarge(props: { frame: SheetFrame; onBack: () => void; onOpenNode: (node: string) => void }) {
  const f = props.frame;
  return (
    <div className="frame-large" data-testid="frame-large">
      <div className="frame-meta">
        <button onClick={props.onBack}>← all frames</button>
        <b>frame {f.frame}</b>
        <span>chunk {f.node}</span>
        <span className={"badge"} style={{ background: COLOURS[f.status]?.fill, color: COLOURS[f.status]?.text }} data-testid="frame-status">
          {f.status}
        </span>
        <span>{f.attempt !== null ? `attempt #${f.attempt}` : "no attempt"}</span>
        <button data-testid="frame-log" onClick={() => props.onOpenNode(f.node)}>
          Log and attempts
        </button>
      </div>
      {f.image ? <img src={withToken(f.image.image)} alt={`frame ${f.frame}`} data-testid="frame-image" /> : <p className="muted">no image for this frame yet</p>}
    </div>
  );
}

/** One image large (from the node panel). */
export function ImageLightbox(props: { img: PreviewImage; label: string; onClose: () => void }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopImmediatePropagation();
        props.onClose();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  });
  return (
    <div className="modal-back" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div className="modal sheet" data-testid="lightbox">
        <h2>
          {props.label} <span className="muted small">{props.img.path}</span>
          <button className="link" onClick={props.onClose} style={{ float: "right" }}>×</button>
        </h2>
        <img className="large" src={withToken(props.img.image)} alt={props.img.path} />
      </div>
    </div>
  );
}

// The latest image of a node, for its thumbnail on the graph: fetched once per node and
// status (a few at a time), shared by every component that asks.
const latestCache = new Map<string, PreviewImage | null>();
const waiting = new Map<string, Set<() => void>>();
const queue: (() => Promise<void>)[] = [];
let active = 0;

function pump(): void {
  while (active < 3 && queue.length) {
    const job = queue.shift()!;
    active++;
    job().finally(() => {
      active--;
      pump();
    });
  }
}

export function useLatestImage(workflowId: string, name: string, key: string, enabled: boolean): PreviewImage | null {
  const id = `${workflowId}\n${name}\n${key}`;
  const [, bump] = useState(0);
  useEffect(() => {
    if (!enabled || latestCache.has(id)) return;
    const cb = () => bump((v) => v + 1);
    let set = waiting.get(id);
    if (!set) {
      waiting.set(id, (set = new Set()));
      queue.push(async () => {
        const p = await api<NodePreviews>(`/workflows/${workflowId}/nodes/${enc(name)}/previews`).catch(() => null);
        latestCache.set(id, p?.latest ?? null);
        waiting.get(id)?.forEach((f) => f());
        waiting.delete(id);
      });
      pump();
    }
    set.add(cb);
    return () => {
      set!.delete(cb);
    };
  }, [id, enabled, workflowId, name]);
  return enabled ? latestCache.get(id) ?? null : null;
}
