// The status panel item, its flyout, the TruthCheck resource tab and the application tab.
import { useMemo, useState } from "react";
import { appKey, readApi } from "./api.js";
import { MetricChart } from "./Chart.jsx";
import { Findings } from "./Findings.jsx";
import { COLORS, WRAP, age, headline, lastSyncEnd, short, timeline, truthChecks, truthcheckHealth, verdictAge, verdictOf, worstFirst } from "./model.js";
import { ReadError, useRead } from "./useRead.jsx";

function Verdict({ verdict }) {
  return (
    <span data-testid="verdict" style={{ color: COLORS[verdict] || COLORS.Unknown, fontWeight: 600 }}>
      {verdict}
    </span>
  );
}

// Status panel: verdict, finding count and age, straight from application.status.resources
// (the health Argo CD's Lua gave each TruthCheck); the worst TruthCheck speaks for the rest.
export function StatusPanel({ application, openFlyout }) {
  const checks = worstFirst(truthChecks(application));
  if (!checks.length) return null;
  const worst = checks[0];
  const verdict = verdictOf(worst);
  const { count, text } = headline(worst.health?.message);
  const since = age(lastSyncEnd(application));
  const more = checks.length > 1 ? ` · ${checks.length} TruthChecks` : "";
  return (
    <div data-testid="status-panel" style={{ cursor: "pointer", lineHeight: 1.4, maxWidth: 260 }} onClick={() => openFlyout && openFlyout()} title={text}>
      <div style={{ fontSize: 18 }}>
        <Verdict verdict={verdict} />
      </div>
      <div data-testid="status-detail" style={{ fontSize: 12, color: "#6d7f8b", overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>
        {`${count || text || verdict}${since ? ` · sync ${since} ago` : ""}${more}`}
      </div>
    </div>
  );
}

// The flyout: the latest verification's findings and metrics, from the read API.
export function Flyout({ application }) {
  const key = appKey(application);
  const api = useMemo(() => readApi(application), [key]);
  const latest = useRead(key, () => api.verifications(1));
  const checks = truthChecks(application);
  const v = latest.data?.items?.[0];
  return (
    <div data-testid="flyout" style={{ padding: 16, ...WRAP }}>
      <h3 style={{ marginTop: 0 }}>truthgate: {application?.metadata?.name}</h3>
      {worstFirst(checks).map((c) => (
        <p key={`${c.namespace}/${c.name}`} style={WRAP}>
          TruthCheck {c.namespace}/{c.name}: <Verdict verdict={verdictOf(c)} /> — {c.health?.message}
        </p>
      ))}
      {latest.loading ? <div>Loading the latest verification…</div> : null}
      {latest.error ? <ReadError error={latest.error} /> : null}
      {v ? (
        <div>
          <div data-testid="flyout-summary">
            Revision {short(v.revision)}, verified {v.time}: <Verdict verdict={v.verdict} />
          </div>
          <Findings application={application} findings={v.findings} total={v.findingsTotal} />
          {v.hasEvidence ? <Charts api={api} id={v.id} /> : null}
        </div>
      ) : latest.data ? (
        <div>No verification recorded yet.</div>
      ) : null}
    </div>
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

function Charts({ api, id }) {
  const ev = useRead(id, () => api.evidence(id));
  if (ev.loading) return <div>Loading the behaviour metrics…</div>;
  if (ev.error) return <ReadError error={ev.error} />;
  const metrics = ev.data?.evidence?.metrics || [];
  if (!metrics.length) return <div>No behaviour metrics configured for this application.</div>;
  return (
    <div data-testid="charts">
      <h4>Behaviour around revision {short(ev.data.revision)}</h4>
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
  const latest = verifications.items.find((v) => v.hasEvidence);
  return (
    <div data-testid="app-tab" style={{ padding: 16, display: "flex", gap: 24, flexWrap: "wrap" }}>
      <div style={{ flex: "1 1 380px", minWidth: 320 }}>
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
      <div style={{ flex: "1 1 420px", minWidth: 320 }}>
        {latest ? <Charts api={api} id={latest.id} /> : <div>No behaviour evidence recorded yet.</div>}
      </div>
    </div>
  );
}
