// Pure helpers: what the components show, computed from Argo CD's objects and the read API.
export const GROUP = "truthgate.dev";
export const KIND = "TruthCheck";
export const LAYERS = ["declared", "controller", "runtime", "behaviour"];
export const SEVERITIES = ["critical", "warning", "info"];

export const COLORS = {
  Healthy: "#18be94",
  Degraded: "#e96d76",
  Progressing: "#0dadea",
  Unknown: "#ccd6dd",
  Missing: "#f4c030",
  critical: "#e96d76",
  warning: "#f4c030",
  info: "#8fa4b1",
};

// Long words (URLs, image digests, pasted output) wrap instead of widening the panel.
export const WRAP = { overflowWrap: "anywhere", wordBreak: "break-word", minWidth: 0 };

// The one order of health in the extension: the TruthCheck that most needs a look first —
// Degraded, then one still verifying or not there, last Healthy. The app's TruthChecks are listed
// in it, and the worst speaks for them all. (Argo CD's own sum of an app's health puts Unknown
// above Degraded; the Lua never gives a TruthCheck Unknown or Missing, so an entry shows those
// only when Argo CD could not tell its health: a Degraded one is the more telling.)
const HEALTHS = ["Degraded", "Progressing", "Missing", "Unknown", "Suspended", "Healthy"];
export function worstFirst(checks) {
  const rank = (c) => {
    const i = HEALTHS.indexOf(verdictOf(c));
    return i < 0 ? HEALTHS.length : i;
  };
  return [...checks].sort((a, b) => rank(a) - rank(b));
}

// The TruthCheck entries Argo CD already tracks for the app (no call needed).
export function truthChecks(application) {
  const resources = application?.status?.resources || [];
  return resources.filter((r) => r.group === GROUP && r.kind === KIND);
}

// The verification whose behaviour the application tab draws: the newest with evidence of the
// TruthCheck that most needs a look, else the newest with evidence (`verifications` newest first).
export function chartedVerification(application, verifications) {
  const drawn = (verifications || []).filter((v) => v.hasEvidence);
  for (const c of worstFirst(truthChecks(application))) {
    const v = drawn.find((x) => x.truthCheck?.name === c.name && (x.truthCheck?.namespace || "") === (c.namespace || ""));
    if (v) return v;
  }
  return drawn[0] || null;
}

// The count the verdict's summary opens with: "4 critical: ..." or "Healthy with 2 warnings: ...".
export function headline(message) {
  const text = message || "";
  const critical = /^(\d+) critical\b/.exec(text);
  if (critical) return { count: `${critical[1]} critical`, text };
  const warnings = /^Healthy with (\d+) warnings?\b/.exec(text);
  if (warnings) return { count: `${warnings[1]} warning${warnings[1] === "1" ? "" : "s"}`, text };
  return { count: null, text };
}

// A health message from the Lua, split into what it says and the age note it ends with (the
// same words as ageNote's), so the age can be shown on its own.
const NOTE = / \((verified (?:<5m|\d+[mhd]) ago(?: by (?:sync|audit))?|verdict is (?:<5m|\d+[mhd]) old: the truthgate auditor may have stopped or be failing)\)$/;
export function splitNote(message) {
  const text = typeof message === "string" ? message : "";
  const m = NOTE.exec(text);
  if (!m) return { text, note: null, stale: false };
  return { text: text.slice(0, m.index), note: m[1], stale: m[1].startsWith("verdict is ") };
}

export function verdictOf(entry) {
  return entry?.health?.status || "Unknown";
}

export function age(time, now = Date.now()) {
  const t = Date.parse(time || "");
  if (Number.isNaN(t)) return null;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

// Reading a status as the Lua does: a field of the wrong type is absent.
const isTable = (v) => (v !== null && typeof v === "object" ? v : null);
const isNumber = (v) => (typeof v === "number" && !Number.isNaN(v) ? v : null);

// A verdict's age, by the rule of the Lua health check (argocd/health/truthgate.dev/TruthCheck/
// health.lua; docs/truthcheck.md, "A verdict's age"): seconds since status.lastVerifiedEpoch
// (written by every verification, heartbeats included), none when the epoch is not a number
// above 0 or this clock is more than 5 minutes behind it; told in the same coarse steps, and
// stale past the status's own staleAfterSeconds (two auditor heartbeats) when the TruthCheck is
// audited. Only a status without the epoch (written before it existed) is aged from its RFC 3339
// status.lastVerifiedAt, else status.verifiedAt, by the same guards; the Lua shows no age then.
const MINUTE_STEPS = [45, 30, 15, 10, 5];

export function ageStep(seconds) {
  if (seconds >= 86400) return `${Math.floor(seconds / 86400)}d`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)}h`;
  const minutes = MINUTE_STEPS.find((m) => seconds >= m * 60);
  return minutes ? `${minutes}m` : "<5m";
}

// Seconds old at `now` (ms) of a verification at `epoch` (Unix seconds), or null: the Lua's guards.
function secondsSince(epoch, now) {
  if (epoch === null || epoch <= 0) return null;
  const age = Math.floor(now / 1000) - epoch;
  return Number.isNaN(age) || age < -300 ? null : Math.max(0, age);
}

// The note the Lua appends to the message for a verdict `age` seconds old.
function ageNote(truthcheck, age) {
  const status = isTable(truthcheck?.status) || {};
  const bound = isNumber(status.staleAfterSeconds);
  const audited = (isTable((isTable(truthcheck?.spec) || {}).audit) || {}).enabled !== false;
  const stale = audited && bound !== null && bound > 0 && age > bound;
  const by = status.verifiedBy === "audit" || status.verifiedBy === "sync" ? ` by ${status.verifiedBy}` : "";
  const step = ageStep(age);
  return {
    stale,
    text: stale ? `verdict is ${step} old: the truthgate auditor may have stopped or be failing` : `verified ${step} ago${by}`,
  };
}

const rfc3339 = (seconds) => new Date(seconds * 1000).toISOString().replace(".000Z", "Z");

export function verdictAge(truthcheck, now = Date.now()) {
  const status = isTable(truthcheck?.status) || {};
  let at = null;
  let epoch = null;
  if (status.lastVerifiedEpoch === undefined || status.lastVerifiedEpoch === null) {
    at = typeof status.lastVerifiedAt === "string" ? status.lastVerifiedAt : status.verifiedAt;
    const t = Date.parse(typeof at === "string" ? at : "");
    epoch = Number.isNaN(t) ? null : t / 1000;
  } else {
    epoch = isNumber(status.lastVerifiedEpoch);
  }
  const age = secondsSince(epoch, now);
  if (age === null) return null;
  return { at: at || rfc3339(epoch), ...ageNote(truthcheck, age) };
}

// The TruthCheck's health as Argo CD's Lua health check gives it (argocd/health/truthgate.dev/
// TruthCheck/health.lua), step for step, so the tab never says other than the application's
// resource list: `status` and `message` are the Lua's; `text` is the message without its age
// note, `note` that note (or null). tests/ui/test_verdict_age_rule.py runs both on every case.
const isText = (v) => (typeof v === "string" && v !== "" ? v : null);
const LUA_TYPE = { number: "number", boolean: "boolean", object: "table" };

export function truthcheckHealth(truthcheck, now = Date.now()) {
  const status = isTable(truthcheck?.status);
  const spec = isTable(truthcheck?.spec) || {};
  const generation = isNumber((isTable(truthcheck?.metadata) || {}).generation);
  let note = null;
  const result = (health, text) => ({ status: health, text, note, message: note ? `${text} (${note})` : text });
  if (status === null) return result("Healthy", "Awaiting verification by truthgate");
  const summary = isText(status.summary);
  if (status.phase === "Pending") return result("Healthy", summary || "Awaiting verification by truthgate");
  const observed = isNumber(status.observedGeneration);
  if (generation !== null && observed !== null && observed < generation) {
    return result("Healthy", `Awaiting verification of generation ${generation} (the TruthCheck changed)`);
  }
  if (status.phase === "Verifying") return result("Progressing", summary || "Verifying");
  let verdict = status.verdict;
  if (verdict === null || verdict === undefined) return result("Healthy", "Awaiting verification by truthgate");
  if (typeof verdict !== "string") verdict = `of type ${LUA_TYPE[typeof verdict] || typeof verdict}`;
  const message = summary || verdict;
  const age = secondsSince(isNumber(status.lastVerifiedEpoch), now);
  const aged = age === null ? null : ageNote(truthcheck, age);
  const stale = !!aged?.stale;
  note = aged?.text || null;
  if (verdict === "Healthy") return result("Healthy", message);
  if (verdict === "Progressing") {
    return stale ? result("Healthy", `Not judged by truthgate (verdict Progressing): ${message}`) : result("Progressing", message);
  }
  if (verdict === "Degraded") {
    return spec.onDivergence === "fail-sync"
      ? result("Healthy", `Divergence reported by failing the sync (onDivergence: fail-sync): ${message}`)
      : result("Degraded", message);
  }
  if (verdict === "Unknown") {
    return result("Healthy", summary === null ? "Not judged by truthgate (verdict Unknown)" : `Not judged by truthgate (verdict Unknown): ${summary}`);
  }
  return result("Healthy", `Not judged by truthgate: unrecognised verdict ${verdict} in status.verdict`);
}

export function lastSyncEnd(application) {
  return application?.status?.operationState?.finishedAt || null;
}

export function groupFindings(findings) {
  const groups = [];
  for (const layer of LAYERS) {
    const inLayer = (Array.isArray(findings) ? findings : []).filter((f) => f?.layer === layer);
    if (!inLayer.length) continue;
    const bySeverity = SEVERITIES.map((severity) => ({
      severity,
      findings: inLayer.filter((f) => (f.severity || "info") === severity),
    })).filter((g) => g.findings.length);
    groups.push({ layer, count: inLayer.length, bySeverity });
  }
  return groups;
}

// A link to the object in the app's resource tree, when Argo CD tracks it.
export function nodeLink(application, ref) {
  if (!ref || !ref.kind || !ref.name) return null;
  const known = (application?.status?.resources || []).find(
    (r) => r.kind === ref.kind && r.name === ref.name && (r.namespace || "") === (ref.namespace || ""),
  );
  if (!known) return null;
  const meta = application.metadata || {};
  const node = [known.group || "", known.kind, known.namespace || "", known.name, 0].join("/");
  return `/applications/${encodeURIComponent(meta.namespace || "argocd")}/${encodeURIComponent(meta.name)}?resource=&node=${encodeURIComponent(node)}`;
}

export function describeRef(ref) {
  if (!ref) return "";
  return `${ref.kind} ${ref.namespace ? ref.namespace + "/" : ""}${ref.name}`;
}

// Syncs, intents, verdict changes and break-glass edits, newest first.
export function timeline(application, intents, verifications) {
  const events = [];
  for (const h of application?.status?.history || []) {
    events.push({
      type: "sync",
      time: h.deployedAt,
      title: `Sync to ${short(h.revision)}`,
      detail: h.deployStartedAt ? `started ${h.deployStartedAt}` : "",
    });
  }
  for (const i of intents || []) {
    const what = `${i.operation || ""} ${i.kind?.kind || ""} ${i.namespace ? i.namespace + "/" : ""}${i.name || ""}`.trim();
    events.push({
      type: i.breakGlass ? "break-glass" : "intent",
      time: i.time,
      title: i.breakGlass ? `Break-glass: ${what}` : what,
      detail: `${i.actor?.username || "?"} (${i.actor?.class || "unknown"})${i.decision && i.decision.allowed === false ? " — denied" : ""}${i.breakGlass ? ` — ticket ${i.breakGlass}` : ""}`,
      patch: i.patch,
      patchOmitted: i.patchOmitted,
      key: `intent-${i.id ?? i.uid}`,
    });
  }
  // A verdict changes within one TruthCheck: two of them never read as one flipping.
  const ordered = [...(verifications || [])].sort((a, b) => (a.id || 0) - (b.id || 0));
  const checkOf = (v) => (v.truthCheck?.name ? `${v.truthCheck.namespace || ""}/${v.truthCheck.name}` : "");
  const several = new Set(ordered.map(checkOf)).size > 1;
  const previous = new Map();
  for (const v of ordered) {
    const check = checkOf(v);
    const before = previous.get(check);
    if (v.verdict !== before) {
      const what = before ? `Verdict ${before} → ${v.verdict}` : `Verdict ${v.verdict}`;
      events.push({
        type: "verdict",
        time: v.time,
        verdict: v.verdict,
        title: several && check ? `${what} (TruthCheck ${check})` : what,
        detail: `${short(v.revision)}: ${v.summary || ""}`,
      });
    }
    previous.set(check, v.verdict);
  }
  // Newest first; of two at the same second, the one recorded later first.
  return events
    .map((e, i) => ({ ...e, order: i }))
    .filter((e) => e.time)
    .sort((a, b) => Date.parse(b.time) - Date.parse(a.time) || b.order - a.order);
}

export function short(revision) {
  return revision ? String(revision).slice(0, 7) : "?";
}
