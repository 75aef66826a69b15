// The status panel item, its flyout, the TruthCheck resource tab and the application tab.
import { useMemo, useState } from "react";
import { appKey, readApi } from "./api.js";
import { MetricChart } from "./Chart.jsx";
import { Findings } from "./Findings.jsx";
import {
  COLORS,
  WRAP,
  age,
  chartedVerification,
  headline,
  lastSyncEnd,
  short,
  splitNote,
  timeline,
  truthChecks,
  truthcheckHealth,
  verdictAge,
  verdictOf,
  worstFirst,
} from "./model.js";
import { ReadError, useRead } from "./useRead.jsx";

function Verdict({ verdict }) {
  return (
    <span data-testid="verdict" style={{ color: COLORS[verdict] || COLORS.Unknown, fontWeight: 600 }}>
      {verdict}
    </span>
  );
}

// Status panel: verdict, finding count and age, straight from application.status.resources
// (the health Argo CD's Lua gave each TruthCheck); the worst TruthCheck speaks for the rest, and
// how many share its health comes first, where the line's clipping cannot hide it.
export function StatusPanel({ application, openFlyout }) {
  const checks = worstFirst(truthChecks(application));
  if (!checks.length) return null;
  const worst = checks[0];
  const verdict = verdictOf(worst);
  const { count, text } = headline(splitNote(worst.health?.message).text);
  const since = age(lastSyncEnd(application));
  const alike = checks.filter((c) => verdictOf(c) === verdict).length;
  const several = checks.length > 1 ? `${alike} of ${checks.length} TruthChecks ${verdict} · ` : "";
  const detail = `${several}${count || text || verdict}${since ? ` · sync ${since} ago` : ""}`;
  return (
    <div data-testid="status-panel" style={{ cursor: "pointer", lineHeight: 1.4, maxWidth: 260 }} onClick={() => openFlyout && openFlyout()} title={detail}>
      <div style={{ fontSize: 18 }}>
        <Verdict verdict={verdict} />
      </div>
      <div data-testid="status-detail" style={{ fontSize: 12, color: "#6d7f8b", overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>
        {detail}
      </div>
    </div>
  );
}

const refOf = (c) => ({ namespace: c.namespace || "", name: c.name });

// The flyout: every TruthCheck of the application, worst first, each with the health and age
// Argo CD's Lua gave it and the findings of its own latest verification (the read API, asked
// per TruthCheck so that one verifying often never hides another's record).
export function Flyout({ application }) {
  const key = appKey(application);
  const api = useMemo(() => readApi(application), [key]);
  const checks = worstFirst(truthChecks(application));
  const latest = useRead(`${key}|${checks.map((c) => `${c.namespace}/${c.name}`).join(",")}`, () =>
    Promise.all(checks.map((c) => (c.namespace && c.name ? api.verifications(1, refOf(c)) : { items: [] }))),
  );
  const tally = [...new Set(checks.map(verdictOf))].map((h) => `${checks.filter((c) => verdictOf(c) === h).length} ${h}`);
  return (
    <div data-testid="flyout" style={{ padding: 16, ...WRAP }}>
      <h3 style={{ marginTop: 0, ...WRAP }}>truthgate: {application?.metadata?.name}</h3>
      {checks.length > 1 ? (
        <div data-testid="flyout-tally">{`${checks.length} TruthChecks: ${tally.join(", ")}`}</div>
      ) : null}
      {!checks.length ? <div>This application has no TruthCheck.</div> : null}
      {latest.loading && checks.length ? <div>Loading the latest verifications…</div> : null}
      {latest.error ? <ReadError error={latest.error} /> : null}
      {checks.map((c, i) => (
        <CheckSummary key={`${c.namespace}/${c.name}`} application={application} api={api} check={c} latest={latest.data?.[i]} first={i === 0} />
      ))}
    </div>
  );
}

// One TruthCheck in the flyout; the behaviour charts of the first (the worst) are drawn, the
// others' on demand.
function CheckSummary({ application, api, check, latest, first }) {
  const { text, note, stale } = splitNote(check.health?.message);
  const [charts, setCharts] = useState(first);
  const v = latest?.items?.[0];
  return (
    <section data-testid="flyout-check" style={{ borderTop: "1px solid #dee6eb", marginTop: 12, paddingTop: 8, ...WRAP }}>
      <h4 style={{ margin: "0 0 4px", ...WRAP }}>
        TruthCheck {check.namespace ? `${check.namespace}/` : ""}
        {check.name}: <Verdict verdict={verdictOf(check)} />
      </h4>
      {text ? <div data-testid="flyout-message">{text}</div> : null}
      {note ? (
        <div data-testid={stale ? "stale" : "verdict-age"} style={stale ? { color: "#a56a00", background: "#fdf6e3", padding: "2px 6px" } : { color: "#6d7f8b", fontSize: 12 }}>
          {note}
        </div>
      ) : null}
      {v ? (
        <div>
          <div data-testid="flyout-summary" style={{ marginTop: 6, fontSize: 12, color: "#6d7f8b" }}>
            Revision {short(v.revision)}, recorded {v.time}: <Verdict verdict={v.verdict} />
          </div>
          <Findings application={application} findings={v.findings} total={v.findingsTotal} />
          {v.hasEvidence && charts ? <Charts api={api} id={v.id} /> : null}
          {v.hasEvidence && !charts ? (
            <button type="button" onClick={() => setCharts(true)} style={{ fontSize: 11, marginTop: 6 }}>
              Show the behaviour metrics
            </button>
          ) : null}
        </div>
      ) : latest ? (
        <div style={{ marginTop: 6 }}>No verification of this TruthCheck recorded yet.</div>
      ) : null}
    </section>
  );
}

// Resource tab for a TruthCheck: its live status (Argo CD passes the object), told as the Lua
// health check tells it, and the grouped findings.
export function TruthCheckTab({ application, resource }) {
  const status = resource?.status || {};
  const health = truthcheckHealth(resource);
  const aged = verdictAge(resource);
  const checked = resource?.spec?.application;
  const shown = application?.metadata?.name;
  const gone = application?.metadata?.deletionTimestamp;
  return (
    <div data-testid="truthcheck-tab" style={{ padding: 16, ...WRAP }}>
      <div style={{ fontSize: 18 }}>
        <Verdict verdict={health.status} />
        <span style={{ marginLeft: 12, fontSize: 13, color: "#6d7f8b" }}>
          {status.revision ? `revision ${short(status.revision)}` : null}
          {aged && !aged.stale ? (
            <span data-testid="verdict-age" title={aged.at}>
              {`${status.revision ? " · " : ""}${aged.text}`}
            </span>
          ) : null}
        </span>
      </div>
      {aged?.stale ? (
        <p data-testid="stale" title={aged.at} style={{ color: "#a56a00", background: "#fdf6e3", padding: "6px 10px" }}>
          {aged.text}
        </p>
      ) : null}
      <p data-testid="summary">{health.text}</p>
      {gone || (checked && shown && checked !== shown) ? (
        <p data-testid="other-app" style={{ color: "#6d7f8b" }}>
          {gone
            ? `The application ${shown} is being deleted: this is the TruthCheck's last status.`
            : `This TruthCheck verifies the application ${checked}, not ${shown}.`}
        </p>
      ) : null}
      <Findings application={application} findings={status.findings} total={status.findingsTotal} />
    </div>
  );
}

function Charts({ api, id, check }) {
  const ev = useRead(id, () => api.evidence(id));
  if (ev.loading) return <div>Loading the behaviour metrics…</div>;
  if (ev.error) return <ReadError error={ev.error} />;
  const metrics = ev.data?.evidence?.metrics || [];
  if (!metrics.length) return <div>No behaviour metrics configured for this application.</div>;
  return (
    <div data-testid="charts">
      <h4 style={WRAP}>
        Behaviour around revision {short(ev.data.revision)}
        {check ? ` (TruthCheck ${check})` : ""}
      </h4>
      {metrics.map((m) => (
        <MetricChart key={m.name} metric={m} />
      ))}
    </div>
  );
}

function Event({ e }) {
  const [open, setOpen] = useState(false);
  const color = e.type === "verdict" ? COLORS[e.verdict] : e.type === "break-glass" ? COLORS.warning : e.type === "sync" ? COLORS.Progressing : "#8fa4b1";
  return (
    <li data-testid={`event-${e.type}`} style={{ borderLeft: `3px solid ${color}`, padding: "4px 10px", margin: "6px 0", ...WRAP }}>
      <div>
        <span style={{ color: "#6d7f8b", fontSize: 12, marginRight: 8 }}>{e.time}</span>
        <strong>{e.title}</strong>
      </div>
      <div style={{ fontSize: 12, color: "#495763" }}>{e.detail}</div>
      {e.patch || e.patchOmitted ? (
        <div>
          <button type="button" onClick={() => setOpen(!open)} style={{ fontSize: 11 }}>
            {open ? "Hide patch" : "Show patch"}
          </button>
          {open ? (
            <pre data-testid="patch" style={{ fontSize: 11, background: "#f8fbfb", padding: 6, overflowX: "auto" }}>
              {e.patch ? JSON.stringify(e.patch, null, 1) : `Patch of ${e.patchOmitted.operations} operations (${e.patchOmitted.bytes} bytes) is too large to show here: truthgate intents --app`}
            </pre>
          ) : null}
        </div>
      ) : null}
    </li>
  );
}

// Application tab: the timeline of intent vs behaviour, and the charts of the last verification.
export function AppTab({ application }) {
  const key = appKey(application);
  const api = useMemo(() => readApi(application), [key]);
  const data = useRead(key, () => Promise.all([api.intents(50), api.verifications(20)]));
  const withTruthCheck = truthChecks(application).length > 0;
  if (data.loading) return <div style={{ padding: 16 }}>Loading truthgate's records…</div>;
  if (data.error) {
    return (
      <div data-testid="app-tab" style={{ padding: 16 }}>
        <ReadError error={data.error} />
      </div>
    );
  }
  const [intents, verifications] = data.data;
  const events = timeline(application, intents.items, verifications.items);
  const latest = chartedVerification(application, verifications.items);
  const several = truthChecks(application).length > 1 && latest?.truthCheck?.name;
  return (
    <div data-testid="app-tab" style={{ padding: 16, display: "flex", gap: 24, flexWrap: "wrap" }}>
      <div style={{ flex: "1 1 380px", minWidth: 0 }}>
        <h4 style={{ marginTop: 0 }}>Timeline</h4>
        {!withTruthCheck && !verifications.items.length ? (
          <div data-testid="no-truthcheck">This application has no TruthCheck: truthgate records its intents but does not verify its syncs.</div>
        ) : null}
        {events.length ? (
          <ul data-testid="timeline" style={{ listStyle: "none", paddingLeft: 0 }}>
            {events.map((e, i) => (
              <Event key={e.key || i} e={e} />
            ))}
          </ul>
        ) : (
          <div>Nothing recorded yet.</div>
        )}
      </div>
      <div style={{ flex: "1 1 420px", minWidth: 0 }}>
        {latest ? (
          <Charts api={api} id={latest.id} check={several ? `${latest.truthCheck.namespace}/${latest.truthCheck.name}` : null} />
        ) : (
          <div>No behaviour evidence recorded yet.</div>
        )}
      </div>
    </div>
  );
}
