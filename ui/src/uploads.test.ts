import { describe, expect, test } from "vitest";
import { bytes, eta, fraction, UploadProgress } from "./uploads";

describe("upload figures", () => {
  test("bytes in decimal units, as the CLI prints them", () => {
    expect(bytes(999)).toBe("999 B");
    expect(bytes(1500)).toBe("1.5 KB");
    expect(bytes(2_340_000_000)).toBe("2.3 GB");
  });
  test("eta: seconds, minutes, unknown", () => {
    expect(eta(42.4)).toBe("42s");
    expect(eta(187)).toBe("3m07s");
    expect(eta(null)).toBe("-");
    expect(eta(Infinity)).toBe("-");
  });
  test("fraction is clamped and an empty upload is done", () => {
    expect(fraction(5, 10)).toBe(0.5);
    expect(fraction(15, 10)).toBe(1);
    expect(fraction(0, 0)).toBe(1);
  });
  test("a frame reaches subscribers and figures are found by node", () => {
    const p = new UploadProgress();
    let calls = 0;
    const off = p.subscribe(() => calls++);
    p.apply({
      uploads: [{ node: "up", state: "sending", paused: false, host: null, destination: "file:///x", files_total: 2, files_done: 1,
        files_skipped: 0, bytes_total: 10, bytes_done: 4, bytes_saved: 0, rate: 2, eta: 3, error: null }],
      sending: {},
    });
    expect(calls).toBe(1);
    expect(p.figures("up")?.bytes_done).toBe(4);
    off();
    p.apply({ uploads: [], sending: {} });
    expect(calls).toBe(1);
    expect(p.figures("up")).toBeUndefined();
  });
});
