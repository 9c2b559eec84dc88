"""UI scale measurement in headless Chromium against a real `storm server` (not a pytest test).

    .venv/bin/python -m tests.ui.scale_bench [--nodes 5000] [--big 100000] [--rate 200]
        [--seconds 10]

1. A flat 5,000-node workflow (a fan-out/fan-in, no groups, so the graph holds 5,000
   nodes): time from navigation to the Monitor showing its graph and counts.
2. 200 status changes per second for N seconds (hold/unhold actions of 20 nodes, ten
   a second, through the API: each change reaches the page over SSE): frame gaps
   measured in the page, and the time a click on a filter takes to show.
3. A 100,000-chunk workflow (one frame-ranged node, collapsed into one group) and a
   flat 100,000-node one (list view): time to open each.
4. Issue 13, on the flat 5,000 and a 5,000-chunk workflow, then at 100,000: expanding a
   group, select all / clear / glob-select / status-select (timed in the page, from the
   key or click to the next painted frame), pan and zoom frame rate with everything
   selected, a batch action on 5,000 nodes applied and painted, and each figure's target.
The server runs with --no-scheduler so statuses only change by the actions sent here.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .conftest import CHROMIUM, CHROMIUM_ARGS, REPO, Server

SHOTS = REPO / "docs" / "screenshots"


def flat(n: int, name: str) -> dict[str, Any]:
    nodes = [{"name": "start", "commands": [["true"]]}]
    nodes += [{"name": f"t{i:06d}", "commands": [["true"]]} for i in range(n - 2)]
    nodes.append({"name": "end", "commands": [["true"]]})
    edges = [["start", f"t{i:06d}"] for i in range(n - 2)] + [
        [f"t{i:06d}", "end"] for i in range(n - 2)
    ]
    return {"schema": 1, "name": name, "nodes": nodes, "edges": edges}


def flat_no_edges(n: int, name: str) -> dict[str, Any]:
    return {
        "schema": 1,
        "name": name,
        "nodes": [{"name": f"t{i:06d}", "commands": [["true"]]} for i in range(n)],
        "edges": [],
    }


def ranged(n: int, name: str) -> dict[str, Any]:
    return {
        "schema": 1,
        "name": name,
        "nodes": [
            {"name": "sim", "commands": [["true"]]},
            {"name": "render", "frames": f"1-{n}", "chunk_size": 1, "commands": [["true"]]},
            {"name": "encode", "commands": [["true"]]},
        ],
        "edges": [["sim", "render"], ["render", "encode"]],
    }


def submit(srv: Server, doc: dict[str, Any]) -> tuple[str, float]:
    t = time.monotonic()
    r = srv.api.post(
        "/workflows",
        content=json.dumps(doc),
        headers={"Content-Type": "application/json"},
        timeout=600,
    )
    assert r.status_code == 201, r.text[:500]
    return r.json()["id"], time.monotonic() - t


def open_monitor(pg: Any, srv: Server, wid: str, ready: str) -> float:
    t = time.monotonic()
    pg.goto(srv.page_url(f"workflows/{wid}"))
    pg.wait_for_selector(ready, timeout=120_000)
    return time.monotonic() - t


# Timed in the page: from the event to the frame painted after React's update.
PAINTED = "new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))"

KEY_MS = (
    "async (key) => { const t = performance.now();"
    " window.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}));"
    f" await {PAINTED}; return performance.now() - t; }}"
)

CLICK_MS = (
    "async (sel) => { const t = performance.now(); document.querySelector(sel).click();"
    f" await {PAINTED}; return performance.now() - t; }}"
)

FILL_MS = (
    "async ([sel, text]) => { const el = document.querySelector(sel); const t = performance.now();"
    " const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;"
    " set.call(el, text); el.dispatchEvent(new Event('input', {bubbles: true}));"
    f" await {PAINTED}; return performance.now() - t; }}"
)

WAIT_TEXT_MS = (
    "async ([sel, text, t0]) => { for (;;) { const el = document.querySelector(sel);"
    " if (el && el.textContent.includes(text)) return performance.now() - t0;"
    f" await {PAINTED}; }} }}"
)

PAN_FPS = """async (ms) => {
  const pane = document.querySelector('.react-flow__pane');
  const r = pane.getBoundingClientRect();
  const gaps = []; let last = performance.now(); let on = true;
  const tick = (t) => { gaps.push(t - last); last = t; if (on) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const t0 = performance.now(); let k = 0;
  while (performance.now() - t0 < ms) {
    pane.dispatchEvent(new WheelEvent('wheel', {deltaY: (k++ % 20 < 10 ? -60 : 60),
      clientX: r.x + r.width / 2, clientY: r.y + r.height / 2, bubbles: true, cancelable: true}));
    await new Promise(res => requestAnimationFrame(res));
  }
  on = false;
  gaps.sort((a, b) => a - b);
  return {fps: Math.round(1000 / gaps[Math.floor(gaps.length / 2)]),
          p95_gap_ms: Math.round(gaps[Math.floor(gaps.length * 0.95)])};
}"""


def interactions(pg: Any, n: int, glob: str) -> dict[str, Any]:
    """Select all, clear, glob-select, status-select and pan/zoom with all selected."""
    out: dict[str, Any] = {}
    out["select_all_ms"] = round(pg.evaluate(KEY_MS, "a"))
    assert pg.inner_text('[data-testid="selection-count"]') == f"{n} selected"
    out["pan_zoom_all_selected"] = pg.evaluate(PAN_FPS, 2000)
    out["clear_ms"] = round(pg.evaluate(KEY_MS, "Escape"))
    ms = pg.evaluate(FILL_MS, ['[data-testid="filter-glob"]', glob])
    ms += pg.evaluate(CLICK_MS, '[data-testid="select-matching"]')
    out["glob_select_ms"] = round(ms)
    out["glob_selected"] = pg.inner_text('[data-testid="selection-count"]')
    pg.evaluate(FILL_MS, ['[data-testid="filter-glob"]', ""])
    ms = pg.evaluate(CLICK_MS, '[data-testid="count-open"]')
    ms += pg.evaluate(CLICK_MS, '[data-testid="select-matching"]')
    out["status_select_ms"] = round(ms)
    pg.evaluate(CLICK_MS, '[data-testid="count-open"]')
    pg.evaluate(KEY_MS, "Escape")
    return out


def batch_hold(pg: Any, n: int) -> float:
    """Select all, press h (hold: no confirmation), until the counts show n held."""
    pg.evaluate(KEY_MS, "a")
    t0 = pg.evaluate("() => performance.now()")
    pg.evaluate(KEY_MS, "h")
    return float(pg.evaluate(WAIT_TEXT_MS, ['[data-testid="count-holding"] b', str(n), t0]))


def expand_ms(pg: Any) -> float:
    """Click a group's expand button until the grid's tiles are painted."""
    t0 = pg.evaluate("() => performance.now()")
    pg.evaluate("() => document.querySelector('[data-testid=expand-group]').click()")
    pg.wait_for_function("() => !document.querySelector('[data-testid=group-node]')")
    return float(
        pg.evaluate(f"async (t0) => {{ await {PAINTED}; return performance.now() - t0; }}", t0)
    )


def issue13(pg: Any, srv: Server, args: Any, out: dict[str, Any], errors: list[str]) -> None:
    n = args.nodes
    rows: list[tuple[str, Any, str]] = []
    wid, _ = submit(srv, flat(n, "flat5k-i13"))
    t = open_monitor(pg, srv, wid, '[data-testid="group-node"], [data-testid="graph-node"]')
    rows.append((f"flat {n}: open (auto-grouped by prefix)", f"{t:.2f} s", "< 3 s"))
    pg.wait_for_timeout(500)
    rows.append((f"flat {n}: expand the prefix group", f"{expand_ms(pg):.0f} ms", "< 1000 ms"))
    r = interactions(pg, n, "t0001*")
    rows.append((f"flat {n}: select all (a)", f"{r['select_all_ms']} ms", "< 100 ms"))
    rows.append((f"flat {n}: clear (Esc)", f"{r['clear_ms']} ms", "< 100 ms"))
    rows.append(
        (f"flat {n}: glob select ({r['glob_selected']})", f"{r['glob_select_ms']} ms", "< 100 ms")
    )
    rows.append((f"flat {n}: status select (open)", f"{r['status_select_ms']} ms", "< 100 ms"))
    pz = r["pan_zoom_all_selected"]
    rows.append(
        (
            f"flat {n}: pan/zoom, all selected",
            f"{pz['fps']} fps (p95 gap {pz['p95_gap_ms']} ms)",
            "> 30 fps",
        )
    )
    rows.append(
        (f"flat {n}: hold all, applied and painted", f"{batch_hold(pg, n - 0):.0f} ms", "< 1000 ms")
    )
    pg.screenshot(path=str(SHOTS / "monitor-flat-5000.png"))

    wid, _ = submit(srv, ranged(n, "ranged5k"))
    t = open_monitor(pg, srv, wid, '[data-testid="group-node"]')
    rows.append((f"{n} chunks: open (collapsed)", f"{t:.2f} s", "< 3 s"))
    pg.wait_for_timeout(300)
    rows.append((f"{n} chunks: expand the group", f"{expand_ms(pg):.0f} ms", "< 1000 ms"))
    pg.screenshot(path=str(SHOTS / "monitor-5000-chunks.png"))

    if args.big:
        big = args.big
        wid, _ = submit(srv, ranged(big, "ranged100k-i13"))
        t = open_monitor(pg, srv, wid, '[data-testid="group-node"]')
        rows.append((f"{big} chunks: open", f"{t:.2f} s", "< 3 s"))
        pg.wait_for_timeout(300)
        rows.append((f"{big} chunks: expand the group", f"{expand_ms(pg):.0f} ms", "< 3000 ms"))
        pg.screenshot(path=str(SHOTS / "monitor-100000-chunks.png"))
        r = interactions(pg, big + 2, "render.9999*")
        rows.append((f"{big} chunks: select all (a)", f"{r['select_all_ms']} ms", "< 500 ms"))
        rows.append((f"{big} chunks: clear (Esc)", f"{r['clear_ms']} ms", "< 500 ms"))
        rows.append(
            (
                f"{big} chunks: glob select ({r['glob_selected']})",
                f"{r['glob_select_ms']} ms",
                "< 500 ms",
            )
        )
        rows.append(
            (f"{big} chunks: status select (open)", f"{r['status_select_ms']} ms", "< 500 ms")
        )
        pz = r["pan_zoom_all_selected"]
        rows.append(
            (
                f"{big} chunks: pan/zoom, all selected",
                f"{pz['fps']} fps (p95 gap {pz['p95_gap_ms']} ms)",
                "> 30 fps",
            )
        )
    out["issue13"] = rows
    print("\n| measure | result | target |\n|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")


FRAME_PROBE = """() => {
  window.__gaps = []; let last = performance.now(); window.__probe = true;
  const tick = (t) => {
    window.__gaps.push(t - last); last = t; if (window.__probe) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--rate", type=int, default=200, help="status changes per second")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--only-issue13", action="store_true", help="only the issue-13 figures")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        srv = Server(Path(tmp) / "data", extra=("--no-scheduler",))
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            pg = browser.new_page(viewport={"width": 1500, "height": 900})
            errors: list[str] = []
            pg.on("console", lambda m: m.type == "error" and errors.append(m.text))
            pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            issue13(pg, srv, args, out, errors)
            if args.only_issue13:
                out["console_errors"] = errors
                print(json.dumps(out, indent=2))
                return

            wid, t_submit = submit(srv, flat(args.nodes, "flat5k"))
            out["flat_submit_s"] = round(t_submit, 2)
            out["flat_load_s"] = round(open_monitor(pg, srv, wid, '[data-testid="graph-node"]'), 2)
            names = [f"t{i:06d}" for i in range(args.nodes - 2)]

            # The stream: hold then unhold batches of 20 nodes, `rate` changes a second.
            batch = 20
            per_s = max(1, args.rate // batch)
            stop = time.monotonic() + args.seconds
            sent = [0]

            def pump() -> None:
                k = 0
                held: list[list[str]] = []
                while time.monotonic() < stop:
                    t0 = time.monotonic()
                    if held and (k % 2):
                        sel, action = held.pop(0), "unhold"
                    else:
                        start = (k * batch) % len(names)
                        sel, action = names[start : start + batch], "hold"
                        held.append(sel)
                    r = srv.api.post(
                        f"/workflows/{wid}/actions",
                        json={"action": action, "selection": {"names": sel}},
                    )
                    if r.status_code == 200:
                        sent[0] += len(r.json()["changed"])
                    k += 1
                    time.sleep(max(0.0, 1 / per_s - (time.monotonic() - t0)))

            pg.evaluate(FRAME_PROBE)
            th = threading.Thread(target=pump)
            th.start()
            time.sleep(args.seconds / 2)
            t = time.monotonic()
            pg.click('[data-testid="count-holding"]')
            pg.wait_for_selector('[data-testid="count-holding"].active')
            out["click_during_stream_ms"] = round((time.monotonic() - t) * 1000)
            th.join()
            time.sleep(1.0)
            gaps = pg.evaluate("() => { window.__probe = false; return window.__gaps; }")
            gaps.sort()
            out["stream_changes_sent"] = sent[0]
            out["stream_changes_per_s"] = round(sent[0] / args.seconds)
            out["frames"] = len(gaps)
            out["frame_gap_p50_ms"] = round(gaps[len(gaps) // 2], 1)
            out["frame_gap_p95_ms"] = round(gaps[int(len(gaps) * 0.95)], 1)
            out["frame_gap_max_ms"] = round(gaps[-1], 1)
            ui_holding = int(pg.inner_text('[data-testid="count-holding"] b'))
            api_holding = srv.api.get(f"/workflows/{wid}").json()["counts"]["holding"]
            out["holding_ui_vs_api"] = [ui_holding, api_holding]

            if args.big:
                wid2, t2 = submit(srv, ranged(args.big, "ranged100k"))
                out["ranged_submit_s"] = round(t2, 1)
                out["ranged_load_s"] = round(
                    open_monitor(pg, srv, wid2, '[data-testid="group-node"]'), 2
                )
                wid3, t3 = submit(srv, flat_no_edges(args.big, "flat100k"))
                out["flat100k_submit_s"] = round(t3, 1)
                out["flat100k_load_s"] = round(
                    open_monitor(pg, srv, wid3, '[data-testid="list-row"]'), 2
                )
                t = time.monotonic()
                pg.fill('[data-testid="filter-glob"]', "t09999*")
                pg.wait_for_selector('[data-testid="list-row"][data-name="t099999"]')
                out["flat100k_filter_ms"] = round((time.monotonic() - t) * 1000)
            out["console_errors"] = errors
        finally:
            browser.close()
            srv.stop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
