// Upload progress for the Monitor: one SSE stream per open workflow (`/uploads/stream`),
// kept in a small external store that the graph's upload nodes and the node panel read.
import { API, api, enc, token } from "./api";

export interface UploadFigures {
  node: string;
  state: string; // waiting checking sending paused done failed stopped
  paused: boolean;
  host: string | null;
  destination: string;
  files_total: number;
  files_done: number;
  files_skipped: number;
  bytes_total: number;
  bytes_done: number;
  bytes_saved: number;
  rate: number;
  eta: number | null;
  error: string | null;
}

export interface UploadFile {
  path: string;
  key: string;
  size: number;
  bytes_done: number;
  state: string;
  hash?: string | null;
  parts?: number;
  eta: number | null;
  error?: string | null;
}

export interface UploadFrame {
  uploads: UploadFigures[];
  sending: Record<string, UploadFile[]>;
}

type Listener = () => void;

/** The latest frame per workflow, with subscribers (useSyncExternalStore). */
export class UploadProgress {
  frame: UploadFrame = { uploads: [], sending: {} };
  private listeners = new Set<Listener>();
  private es: EventSource | null = null;

  subscribe = (fn: Listener): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  getFrame = (): UploadFrame => this.frame;

  figures(node: string): UploadFigures | undefined {
    return this.frame.uploads.find((u) => u.node === node);
  }

  apply(frame: UploadFrame): void {
    this.frame = { uploads: frame.uploads ?? [], sending: frame.sending ?? {} };
    for (const fn of this.listeners) fn();
  }

  open(workflowId: string): void {
    this.close();
    const q = new URLSearchParams();
    const t = token();
    if (t) q.set("token", t);
    const es = new EventSource(`${API}/workflows/${workflowId}/uploads/stream?${q}`);
    es.addEventListener("uploads", (m) => {
      try {
        this.apply(JSON.parse((m as MessageEvent).data) as UploadFrame);
      } catch {
        /* a malformed frame: the next one replaces it */
      }
    });
    this.es = es;
  }

  close(): void {
    this.es?.close();
    this.es = null;
  }
}

export const uploadProgress = new UploadProgress();

export function pauseUpload(workflowId: string, node: string, paused: boolean): Promise<unknown> {
  return api(`/workflows/${workflowId}/uploads/${enc(node)}/${paused ? "pause" : "resume"}`, { method: "POST" });
}

export function uploadFiles(workflowId: string, node: string): Promise<{ files: UploadFile[] }> {
  return api(`/workflows/${workflowId}/uploads/${enc(node)}/files`);
}

/** "1.2 GB" (decimal units, as the CLI prints them). */
export function bytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** "42s", "3m07s"; "-" when unknown. */
export function eta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "-";
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/** Done fraction in [0, 1]; an empty upload counts as done. */
export function fraction(done: number, total: number): number {
  return total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
}
