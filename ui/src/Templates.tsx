// The template library: stored templates (`storm templates add`), and for the one chosen a
// form built from its params that submits a workflow (`POST /workflows {template, params}`)
// or opens its document in the Composer.
import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, enc, type EntryOut } from "./api";
import { formProblems, initialValues, paramLabel, paramsOf, type TemplateDetail, type TemplateParam, type TemplateSummary } from "./templateForm";

export function Templates() {
  const { name = "" } = useParams();
  const navigate = useNavigate();
  const [items, setItems] = useState<TemplateSummary[] | null>(null);
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    api<{ templates: TemplateSummary[] }>("/templates")
      .then((r) => setItems(r.templates))
      .catch((e) => setErr((e as Error).message));
  }, []);
  return (
    <div className="templates" data-testid="templates">
      <header className="topbar">
        <Link to="/" className="brand">Storm</Link>
        <span className="crumb">Templates</span>
        <span className="spacer" />
        <span className="muted small">storm templates add FILE stores one</span>
      </header>
      {err ? <div className="err" data-testid="templates-error">{err}</div> : null}
      <div className="templates-main">
        <nav className="template-list" data-testid="template-list">
          {!items ? <div className="loading">Loading…</div> : null}
          {items && !items.length ? <p className="muted pad" data-testid="no-templates">No stored templates yet.</p> : null}
          {(items ?? []).map((t) => (
            <button
              key={t.name}
              className={"template-item" + (t.name === name ? " selected" : "")}
              data-testid="template-item"
              data-name={t.name}
              onClick={() => navigate(`/templates/${enc(t.name)}`)}
            >
              <b>{t.name}</b>
              {t.description ? <span className="muted small"> {t.description}</span> : null}
              <span className="params small">{t.params.map(paramLabel).join(" · ") || "no params"}</span>
            </button>
          ))}
        </nav>
        {name ? <TemplateForm key={name} name={name} /> : <p className="muted pad">Choose a template to fill in its params.</p>}
      </div>
    </div>
  );
}

function TemplateForm({ name }: { name: string }) {
  const navigate = useNavigate();
  const [template, setTemplate] = useState<TemplateDetail | null>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  const [entries, setEntries] = useState<EntryOut[]>([]);
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const gen = useRef(0);
  useEffect(() => {
    api<TemplateDetail>(`/templates/${enc(name)}`)
      .then((t) => {
        setTemplate(t);
        setValues(initialValues(t.params));
      })
      .catch((e) => setErr((e as Error).message));
  }, [name]);
  const params: TemplateParam[] = template?.params ?? [];
  const problems = useMemo(() => formProblems(params, values), [params, values]);
  const ready = template !== null && Object.keys(problems).length === 0;

  // The server's word on the instance these values make (debounced), once the form is whole.
  useEffect(() => {
    if (!ready) {
      setEntries([]);
      return;
    }
    const g = ++gen.current;
    const t = setTimeout(() => {
      api<{ entries: EntryOut[] }>("/validate", { method: "POST", json: { template: name, params: paramsOf(params, values) } })
        .then((r) => g === gen.current && setEntries(r.entries.filter((e) => e.severity !== "info")))
        .catch((e) => g === gen.current && setErr((e as Error).message));
    }, 250);
    return () => clearTimeout(t);
  }, [ready, name, params, values]);

  const errors = entries.filter((e) => e.severity === "error").length;
  const submit = async () => {
    setBusy(true);
    setErr(null);
    try {
      const wf = await api<{ id: string }>("/workflows", { method: "POST", json: { template: name, params: paramsOf(params, values) } });
      navigate(`/workflows/${wf.id}`);
    } catch (e) {
      setErr((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const compose = async () => {
    if (!template) return;
    try {
      const d = await api<{ id: string }>("/drafts", { method: "POST", json: template.document });
      navigate(`/composer/${d.id}`);
    } catch (e) {
      setErr((e as Error).message);
    }
  };

  if (!template) return <div className="panel">{err ? <span className="err" data-testid="template-error">{err}</span> : "Loading…"}</div>;
  return (
    <div className="panel template-form" data-testid="template-form">
      <h3>
        {template.name} {template.description ? <span className="muted small">{template.description}</span> : null}
      </h3>
      <div className="form">
        {params.length === 0 ? <p className="muted small">This template has no params.</p> : null}
        {params.map((p) => (
          <label key={p.name} className="field">
            <span>
              {p.name} <em className="muted small">{p.type}{p.default === undefined || p.default === null ? ", required" : ""}</em>
            </span>
            {p.type === "choice" ? (
              <select data-testid={"param-" + p.name} value={values[p.name] ?? ""} onChange={(e) => setValues((v) => ({ ...v, [p.name]: e.target.value }))}>
                {(p.choices ?? []).map((c) => (
                  <option key={c} value={c}>{c}</option>
                ))}
              </select>
            ) : (
              <input
                data-testid={"param-" + p.name}
                inputMode={p.type === "int" ? "numeric" : undefined}
                placeholder={p.type === "frames" ? "1-100, 1-100x2" : p.description ?? ""}
                value={values[p.name] ?? ""}
                onChange={(e) => setValues((v) => ({ ...v, [p.name]: e.target.value }))}
              />
            )}
            {p.description ? <span className="muted small">{p.description}</span> : null}
            {problems[p.name] ? <span className="err small" data-testid={"problem-" + p.name}>{p.name} {problems[p.name]}</span> : null}
          </label>
        ))}
      </div>
      {entries.map((e, k) => (
        <div key={k} className={"entry " + e.severity} data-testid="entry" data-code={e.code}>
          <b>{e.severity}</b> <code>{e.code}</code> {e.message}
        </div>
      ))}
      {err ? <div className="err" data-testid="template-error">{err}</div> : null}
      <div className="actions">
        <button className="primary" data-testid="template-submit" disabled={!ready || errors > 0 || busy} onClick={submit}>
          Submit workflow
        </button>
        <button data-testid="template-compose" onClick={compose}>Open in Composer</button>
      </div>
    </div>
  );
}
