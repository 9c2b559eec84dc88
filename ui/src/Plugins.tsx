// The plugins page: DCC integrations first (what artists install, with the download and the
// steps), then the installed plugins with what each adds and whether it is healthy.
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { api } from "./api";
import { addsSummary, downloadHref, ordered, standing, type Integration, type PluginInfo, type PluginsAnswer } from "./plugins";

export function Plugins() {
  const [data, setData] = useState<PluginsAnswer | null>(null);
  const [err, setErr] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    const load = () =>
      api<PluginsAnswer>("/plugins")
        .then((d) => {
          if (!alive) return;
          setData(d);
          setErr(null);
        })
        .catch((e) => alive && setErr((e as Error).message));
    load();
    const t = setInterval(load, 10000); // an add-on talking to the server changes "update available"
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, []);

  return (
    <div className="plugins-page" data-testid="plugins-page">
      <header className="topbar">
        <Link to="/" className="brand">Storm</Link>
        <span className="crumb">Plugins</span>
        <span className="spacer" />
        {data ? <span className="muted small">plugin API v{data.api_version}</span> : null}
      </header>
      {err ? <div className="err pad">{err}</div> : null}
      {!data && !err ? <div className="loading">Loading…</div> : null}
      {data ? (
        <div className="pad">
          <h2>DCC integrations</h2>
          {data.integrations.length ? (
            <div className="cards">
              {data.integrations.map((i) => (
                <IntegrationCard key={i.name} i={i} />
              ))}
            </div>
          ) : (
            <p className="muted">No DCC integration is installed.</p>
          )}
          <h2>Installed plugins</h2>
          <ul className="plugin-list">
            {ordered(data.plugins).map((p) => (
              <PluginRow key={p.name} p={p} />
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}

function IntegrationCard({ i }: { i: Integration }) {
  const s = standing(i);
  const href = downloadHref(i);
  return (
    <section className={`card integration st-${s.state}`} data-testid="integration" data-name={i.name} data-state={s.state}>
      <div className="card-head">
        <h3>{i.title}</h3>
        <span className="version">v{i.version}</span>
      </div>
      {i.description ? <p>{i.description}</p> : null}
      {i.dcc_versions ? <p className="muted small">for {i.dcc_versions}</p> : null}
      <p className={`standing ${s.state}`} data-testid="standing">
        {s.state === "update" ? <strong>Update available: </strong> : null}
        {s.text}
      </p>
      {href && s.state !== "unavailable" ? (
        <a className="button primary" href={href} download={i.filename ?? true} data-testid="download">
          Download{i.filename ? ` ${i.filename}` : ""}
        </a>
      ) : (
        <span className="muted small">no download</span>
      )}
      {i.install.length ? (
        <details open={s.state !== "current"}>
          <summary>Install steps</summary>
          <ol data-testid="install-steps">
            {i.install.map((step, n) => (
              <li key={n}>{step}</li>
            ))}
          </ol>
        </details>
      ) : null}
      <p className="muted small">from {i.plugin}</p>
    </section>
  );
}

function PluginRow({ p }: { p: PluginInfo }) {
  const ok = p.status === "loaded";
  const groups = (["kinds", "notifications", "rules", "providers", "integrations"] as const).filter((k) => p.adds[k].length);
  return (
    <li className={`plugin ${ok ? "healthy" : "failed"}`} data-testid="plugin" data-name={p.name} data-status={p.status}>
      <div className="card-head">
        <strong>{p.name}</strong>
        <span className="version">{p.version ? `v${p.version}` : ""}</span>
        <span className={`health ${p.status}`} data-testid="health">{ok ? "loaded" : "failed"}</span>
        {p.builtin ? <span className="muted small">built in</span> : <span className="muted small mono">{p.entry_point}</span>}
      </div>
      {p.description ? <p className="muted">{p.description}</p> : null}
      {!ok ? (
        <p className="err" data-testid="plugin-error">
          Disabled: failed in {p.failed_in}: {p.error}
        </p>
      ) : null}
      <p className="small">adds {addsSummary(p.adds)}</p>
      {groups.length ? (
        <dl className="adds">
          {groups.map((k) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>
                {p.adds[k].map((x) => (
                  <code key={x} className="chip">{x}</code>
                ))}
              </dd>
            </div>
          ))}
        </dl>
      ) : null}
    </li>
  );
}
