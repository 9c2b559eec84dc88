import { describe, expect, test } from "vitest";
import { addsSummary, ago, downloadHref, ordered, standing, type Integration, type PluginInfo } from "./plugins";

const NOW = 1_000_000;

function integration(over: Partial<Integration> = {}): Integration {
  return {
    name: "blender", title: "Blender", version: "1.2.0", description: "", plugin: "storm", plugin_ok: true,
    client: "blender-addon", dcc_versions: "", install: [], download_url: "/api/v1/x.zip", filename: null,
    last_seen: null, update_available: false, ...over,
  };
}

function plugin(over: Partial<PluginInfo> = {}): PluginInfo {
  return {
    name: "p", entry_point: "p = p:plugin", distribution: "p", version: "1", api_version: 1, description: "",
    status: "loaded", failed_in: null, error: null, builtin: false,
    adds: { kinds: [], rules: [], providers: [], notifications: [], integrations: [] }, about: {}, ...over,
  };
}

describe("standing", () => {
  test("an add-on never seen", () => {
    expect(standing(integration(), NOW)).toEqual({ state: "unseen", text: "no copy has talked to this server yet" });
  });
  test("an older add-on seen: update available, with both versions", () => {
    const i = integration({ last_seen: { client: "blender-addon", version: "1.1.0", seen_at: NOW - 300 }, update_available: true });
    expect(standing(i, NOW)).toEqual({ state: "update", text: "1.1.0 → 1.2.0 (last seen 5 min ago)" });
  });
  test("the current add-on seen", () => {
    const i = integration({ last_seen: { client: "blender-addon", version: "1.2.0", seen_at: NOW - 10 } });
    expect(standing(i, NOW).state).toBe("current");
    expect(standing(i, NOW).text).toBe("up to date: 1.2.0 (last seen just now)");
  });
  test("a failed plugin's integration is unavailable whatever was seen", () => {
    const i = integration({ plugin: "storm-x", plugin_ok: false, update_available: true, last_seen: { client: "c", version: "0", seen_at: NOW } });
    expect(standing(i, NOW)).toEqual({ state: "unavailable", text: "its plugin storm-x failed" });
  });
});

test("ago", () => {
  expect(ago(NOW - 7200, NOW)).toBe("2 h ago");
  expect(ago(NOW - 86400, NOW)).toBe("1 day ago");
  expect(ago(NOW - 3 * 86400, NOW)).toBe("3 days ago");
  expect(ago(NOW + 50, NOW)).toBe("just now"); // a clock ahead of ours
});

test("addsSummary counts what a plugin adds", () => {
  const adds = { kinds: ["ffmpeg"], rules: ["a", "b"], providers: [], notifications: [], integrations: ["x"] };
  expect(addsSummary(adds)).toBe("1 kind, 2 rules, 1 integration");
  expect(addsSummary(plugin().adds)).toBe("nothing");
});

test("failed plugins come first, then the built-in one, then by name", () => {
  const list = [plugin({ name: "zeta" }), plugin({ name: "storm", builtin: true }), plugin({ name: "alpha" }), plugin({ name: "broken", status: "failed" })];
  expect(ordered(list).map((p) => p.name)).toEqual(["broken", "storm", "alpha", "zeta"]);
});

test("downloadHref opens http(s) URLs and server paths only", () => {
  expect(downloadHref(integration({ download_url: "https://example.com/a.zip" }))).toBe("https://example.com/a.zip");
  expect(downloadHref(integration({ download_url: "/api/v1/plugins/integrations/x/download" }))).toBe("/api/v1/plugins/integrations/x/download");
  expect(downloadHref(integration({ download_url: "javascript:alert(1)" }))).toBeNull();
  expect(downloadHref(integration({ download_url: null }))).toBeNull();
  expect(downloadHref(integration({ download_url: "//evil.example/a.zip" }))).toBeNull();
});
