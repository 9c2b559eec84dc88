// One shared 1 s ticker for every elapsed-time display.
import { useSyncExternalStore } from "react";

let now = Date.now();
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | null = null;

function subscribe(cb: () => void): () => void {
  listeners.add(cb);
  // A first subscriber after a pause: the cached time may be stale (a page opened after
  // the ticker stopped showed "elapsed –" for a new workflow until the next tick).
  if (!timer) now = Date.now();
  if (!timer)
    timer = setInterval(() => {
      now = Date.now();
      listeners.forEach((l) => l());
    }, 1000);
  return () => {
    listeners.delete(cb);
    if (!listeners.size && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
}

export function useNow(enabled = true): number {
  return useSyncExternalStore(enabled ? subscribe : noop, () => (enabled ? now : 0));
}

function noop(): () => void {
  return () => {};
}
