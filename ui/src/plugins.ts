// The plugins page's data (GET /api/v1/plugins) and what the page derives from it.

export type PluginAdds = {
  kinds: string[];
  rules: string[];
  providers: string[];
  notifications: string[];
  integrations: string[];
};

export type PluginInfo = {
  name: string;
  entry_point: string;
  distribution: string | null;
  version: string | null;
  api_version: number | null;
  description: string;
  status: "loaded" | "failed";
  failed_in: string | null;
  error: string | null;
  builtin: boolean;
  adds: PluginAdds;
  about: Record<string, string>;
};

export type Integration = {
  name: string;
  title: string;
  version: string;
  description: string;
  plugin: string;
  plugin_ok: boolean;
  client: string | null;
  dcc_versions: string;
  install: string[];
  download_url: string | null;
  filename: string | null;
  last_seen: { client: string; version: string; seen_at: number } | null;
  update_available: boolean;
};

export type PluginsAnswer = { api_version: number; plugins: PluginInfo[]; integrations: Integration[] };

/** Where an integration stands for this server's users, in one word and one sentence. */
export type Standing = { state: "update" | "current" | "unseen" | "unavailable"; text: string };

export function standing(i: Integration, now: number = Date.now() / 1000): Standing {
  if (!i.plugin_ok) return { state: "unavailable", text: `its plugin ${i.plugin} failed` };
  if (!i.last_seen) return { state: "unseen", text: "no copy has talked to this server yet" };
  const when = ago(i.last_seen.seen_at, now);
  if (i.update_available)
    return { state: "update", text: `${i.last_seen.version} → ${i.version} (last seen ${when})` };
  return { state: "current", text: `up to date: ${i.last_seen.version} (last seen ${when})` };
}

/** "just now", "5 min ago", "3 h ago", "2 days ago". */
export function ago(at: number, now: number): string {
  const s = Math.max(0, now - at);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  const d = Math.floor(s / 86400);
  return `${d} day${d === 1 ? "" : "s"} ago`;
}

const ADD_LABELS: [keyof PluginAdds, string, string][] = [
  ["kinds", "kind", "kinds"],
  ["notifications", "notification", "notifications"],
  ["rules", "rule", "rules"],
  ["providers", "provider", "providers"],
  ["integrations", "integration", "integrations"],
];

/** "1 kind, 2 rules, 1 integration": what a plugin adds, empty parts left out. */
export function addsSummary(adds: PluginAdds): string {
  const parts = ADD_LABELS.filter(([k]) => adds[k].length).map(([k, one, many]) => `${adds[k].length} ${adds[k].length === 1 ? one : many}`);
  return parts.length ? parts.join(", ") : "nothing";
}

/** Plugins in the order the page lists them: failed ones first (they need attention),
 * then the built-in one, then by name. */
export function ordered(plugins: PluginInfo[]): PluginInfo[] {
  return [...plugins].sort((a, b) => {
    const rank = (p: PluginInfo) => (p.status === "failed" ? 0 : p.builtin ? 1 : 2);
    return rank(a) - rank(b) || a.name.localeCompare(b.name);
  });
}

/** A download link the browser can follow: server paths keep the token cookie. */
export function downloadHref(i: Integration): string | null {
  if (!i.download_url) return null;
  if (/^https?:\/\//.test(i.download_url)) return i.download_url;
  if (i.download_url.startsWith("/") && !i.download_url.startsWith("//")) return i.download_url;
  return null; // anything else is not a link we open
}
