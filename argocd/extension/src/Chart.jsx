// One behaviour metric as the judge saw it, drawn by hand in SVG: the series, the baseline
// window, the change, and the band the baseline tolerates, coloured by the metric's verdict.
import { COLORS } from "./model.js";

const W = 600;
const H = 170;
const PAD = { left: 56, right: 12, top: 12, bottom: 24 };

function fmt(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.01 || a >= 10000)) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

function clock(t) {
  const d = new Date(t * 1000);
  return `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
}

// The drawable points, in runs: a point that is not two finite numbers (a NaN the query
// answered, a null) ends a run, and so does a gap in time over three times the usual step, so
// missing data shows as a break in the line, never as a made-up slope.
export function runs(series) {
  const all = Array.isArray(series) ? series : [];
  const finite = (p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]);
  const steps = [];
  for (let i = 1; i < all.length; i++) {
    if (finite(all[i]) && finite(all[i - 1]) && all[i][0] > all[i - 1][0]) steps.push(all[i][0] - all[i - 1][0]);
  }
  steps.sort((a, b) => a - b);
  const step = steps.length ? steps[Math.floor(steps.length / 2)] : Infinity;
  const out = [];
  let run = [];
  for (const p of all) {
    const prev = run[run.length - 1];
    if (!finite(p) || (prev && (p[0] <= prev[0] || p[0] - prev[0] > 3 * step))) {
      if (run.length) out.push(run);
      run = finite(p) ? [p] : [];
    } else run.push(p);
  }
  if (run.length) out.push(run);
  return out;
}

const num = (v) => (Number.isFinite(v) ? v : null);

export function MetricChart({ metric }) {
  const parts = runs(metric.series);
  const points = parts.flat();
  const verdictColor = metric.regression ? COLORS.Degraded : COLORS.Healthy;
  const label = metric.error ? "No data" : metric.regression ? "Regression" : metric.classification || "?";
  const header = (
    <div style={{ display: "flex", gap: 8, alignItems: "baseline" }}>
      <strong style={{ fontFamily: "monospace" }}>{metric.name}</strong>
      <span
        data-testid="metric-verdict"
        style={{ background: metric.error ? COLORS.Unknown : verdictColor, color: "#fff", borderRadius: 3, padding: "0 6px", fontSize: 12 }}
      >
        {label}
      </span>
    </div>
  );
  if (points.length < 2) {
    return (
      <div data-testid="metric" style={{ margin: "12px 0" }}>
        {header}
        <div style={{ color: "#6d7f8b" }}>{metric.error ? `Not collected: ${metric.error}` : "Too few points to draw."}</div>
      </div>
    );
  }
  const ts = points.map((p) => p[0]);
  const vs = points.map((p) => p[1]);
  const band = Array.isArray(metric.band) && num(metric.band[0]) !== null && num(metric.band[1]) !== null ? metric.band : null;
  const baseline = Array.isArray(metric.baseline) && num(metric.baseline[0]) !== null && num(metric.baseline[1]) !== null ? metric.baseline : null;
  const t0 = Math.min(...ts, baseline ? baseline[0] : Infinity);
  const t1 = Math.max(...ts);
  let v0 = Math.min(...vs, band ? band[0] : Infinity);
  let v1 = Math.max(...vs, band ? band[1] : -Infinity);
  const pad = (v1 - v0 || Math.abs(v1) || 1) * 0.08;
  v0 -= pad;
  v1 += pad;
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0 || 1)) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - v0) / (v1 - v0)) * (H - PAD.top - PAD.bottom);
  const line = parts.map((run) => "M" + run.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join("L")).join("");
  const change = num(metric.changeAt);
  const obsStart = Array.isArray(metric.observation) && num(metric.observation[0]) !== null ? metric.observation[0] : change;
  return (
    <div data-testid="metric" style={{ margin: "12px 0" }}>
      {header}
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" style={{ maxWidth: W, display: "block" }} role="img" aria-label={`${metric.name} around the change`}>
        <rect x={PAD.left} y={PAD.top} width={W - PAD.left - PAD.right} height={H - PAD.top - PAD.bottom} fill="#f8fbfb" stroke="#dee6eb" />
        {baseline ? (
          <g data-testid="baseline-window">
            <rect x={x(Math.max(baseline[0], t0))} y={PAD.top} width={Math.max(0, x(baseline[1]) - x(Math.max(baseline[0], t0)))} height={H - PAD.top - PAD.bottom} fill="#6d7f8b" opacity="0.08" />
            <text x={x(Math.max(baseline[0], t0)) + 4} y={PAD.top + 12} fontSize="10" fill="#6d7f8b">baseline</text>
          </g>
        ) : null}
        {band && obsStart != null ? (
          <g data-testid="verdict-band">
            <rect x={x(obsStart)} y={y(band[1])} width={Math.max(0, x(t1) - x(obsStart))} height={Math.max(1, y(band[0]) - y(band[1]))} fill={verdictColor} opacity="0.22" />
            <line x1={x(t0)} x2={x(t1)} y1={y(band[1])} y2={y(band[1])} stroke={verdictColor} strokeDasharray="2 3" />
            <line x1={x(t0)} x2={x(t1)} y1={y(band[0])} y2={y(band[0])} stroke={verdictColor} strokeDasharray="2 3" />
          </g>
        ) : null}
        <path data-testid="series" d={line} fill="none" stroke="#0dadea" strokeWidth="1.5" />
        {change != null ? (
          <g data-testid="change-marker">
            <line x1={x(change)} x2={x(change)} y1={PAD.top} y2={H - PAD.bottom} stroke="#495763" strokeDasharray="4 3" />
            <text x={x(change) + 4} y={H - PAD.bottom - 4} fontSize="10" fill="#495763">change</text>
          </g>
        ) : null}
        <text x={PAD.left - 6} y={PAD.top + 10} fontSize="10" textAnchor="end" fill="#6d7f8b">{fmt(v1)}</text>
        <text x={PAD.left - 6} y={H - PAD.bottom} fontSize="10" textAnchor="end" fill="#6d7f8b">{fmt(v0)}</text>
        <text x={PAD.left} y={H - 8} fontSize="10" fill="#6d7f8b">{clock(t0)}</text>
        <text x={W - PAD.right} y={H - 8} fontSize="10" textAnchor="end" fill="#6d7f8b">{clock(t1)} UTC</text>
      </svg>
      {metric.message ? <div style={{ fontSize: 12, color: "#495763" }}>{metric.message}</div> : null}
    </div>
  );
}
