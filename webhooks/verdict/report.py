"""One static HTML page for a verdict and its Evidence: ``truthgate replay --html``.

For post-mortems and for people without the Argo CD extension: the same report the extension
shows (verdict, summary, findings grouped by layer and severity, the sync's intents, and per
behaviour metric a chart of the series with the baseline window, the change and the tolerated
band), in one self-contained file — inline CSS and SVG, no script, nothing fetched — so it can
be attached to an incident ticket and opened anywhere.

The page is built from the Evidence's digest (:mod:`webhooks.verdict.digest`), so it holds no
more than the ledger keeps: no live objects, no probe URLs. Jinja2 (Flask's template engine)
renders it with autoescaping on: every text from the Evidence is escaped. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, select_autoescape

from webhooks.evidence.model import Evidence, Verdict
from webhooks.verdict.digest import evidence_digest

LAYERS = ("declared", "controller", "runtime", "behaviour")
SEVERITIES = ("critical", "warning", "info")
COLORS = {
    "Healthy": "#18be94",
    "Degraded": "#e96d76",
    "Progressing": "#0dadea",
    "Unknown": "#8fa4b1",
    "critical": "#e96d76",
    "warning": "#d9a400",
    "info": "#8fa4b1",
}
W, H = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 60, 12, 12, 26

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>truthgate: {{ app }} {{ verdict.verdict }}</title>
<style>
body { font-family: Lato, "Helvetica Neue", Arial, sans-serif; color: #363c4a; margin: 24px; max-width: 1100px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 24px 0 6px; } h3 { font-size: 14px; margin: 12px 0 4px; }
.muted { color: #6d7f8b; font-size: 13px; }
.badge { color: #fff; border-radius: 3px; padding: 0 6px; font-size: 12px; }
ul { list-style: none; padding-left: 0; margin: 0; } li { padding: 4px 0; border-bottom: 1px solid #eff3f5; }
table { border-collapse: collapse; font-size: 13px; } td, th { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; }
code { font-size: 12px; }
</style>
</head>
<body>
<h1>{{ app }}: <span id="verdict" style="color: {{ colors.get(verdict.verdict, '#8fa4b1') }}">{{ verdict.verdict }}</span></h1>
<div class="muted">revision {{ (verdict.revision or '?')[:12] }} · evidence collected {{ collected or '?' }} · judged again by <code>truthgate replay</code></div>
<p id="summary">{{ verdict.summary }}</p>

<h2>Findings ({{ verdict.findings | length }})</h2>
{% if not groups %}<p id="no-findings">No findings: declared, controller, runtime and behaviour agree.</p>{% endif %}
{% for g in groups %}
<section class="layer" id="layer-{{ g.layer }}">
<h3>{{ g.layer | capitalize }} <span class="muted">({{ g.findings | length }})</span></h3>
<ul>
{% for f in g.findings %}<li class="finding"><span class="badge" style="background: {{ colors[f.severity] }}">{{ f.severity }}</span>
{% if f.resource %}<strong>{{ f.resource.kind }} {% if f.resource.namespace %}{{ f.resource.namespace }}/{% endif %}{{ f.resource.name }}</strong>{% endif %}
{{ f.message }} <span class="muted">{{ f.check }}</span></li>
{% endfor %}
</ul>
</section>
{% endfor %}

{% if charts %}
<h2>Behaviour around the change</h2>
{% for c in charts %}
<div class="metric">
<h3><code>{{ c.name }}</code> <span class="badge" style="background: {{ c.color }}">{{ c.label }}</span></h3>
{% if c.points %}
<svg viewBox="0 0 {{ w }} {{ h }}" width="100%" style="max-width: {{ w }}px" role="img" aria-label="{{ c.name }} around the change">
<rect x="{{ left }}" y="{{ top }}" width="{{ w - left - right }}" height="{{ h - top - bottom }}" fill="#f8fbfb" stroke="#dee6eb"/>
{% if c.baseline %}<rect class="baseline-window" x="{{ c.baseline[0] }}" y="{{ top }}" width="{{ c.baseline[1] }}" height="{{ h - top - bottom }}" fill="#6d7f8b" opacity="0.08"/>
<text x="{{ c.baseline[0] + 4 }}" y="{{ top + 12 }}" font-size="10" fill="#6d7f8b">baseline</text>{% endif %}
{% if c.band %}<rect class="verdict-band" x="{{ c.band[0] }}" y="{{ c.band[1] }}" width="{{ c.band[2] }}" height="{{ c.band[3] }}" fill="{{ c.color }}" opacity="0.22"/>{% endif %}
<polyline class="series" points="{{ c.points }}" fill="none" stroke="#0dadea" stroke-width="1.5"/>
{% if c.change is not none %}<line class="change-marker" x1="{{ c.change }}" x2="{{ c.change }}" y1="{{ top }}" y2="{{ h - bottom }}" stroke="#495763" stroke-dasharray="4 3"/>
<text x="{{ c.change + 4 }}" y="{{ h - bottom - 4 }}" font-size="10" fill="#495763">change</text>{% endif %}
<text x="{{ left - 6 }}" y="{{ top + 10 }}" font-size="10" text-anchor="end" fill="#6d7f8b">{{ c.vmax }}</text>
<text x="{{ left - 6 }}" y="{{ h - bottom }}" font-size="10" text-anchor="end" fill="#6d7f8b">{{ c.vmin }}</text>
<text x="{{ left }}" y="{{ h - 8 }}" font-size="10" fill="#6d7f8b">{{ c.start }}</text>
<text x="{{ w - right }}" y="{{ h - 8 }}" font-size="10" text-anchor="end" fill="#6d7f8b">{{ c.end }} UTC</text>
</svg>
{% else %}<p class="muted">{{ c.empty }}</p>{% endif %}
{% if c.message %}<div class="muted">{{ c.message }}</div>{% endif %}
</div>
{% endfor %}
{% endif %}

{% if intents %}
<h2>Intents of this sync ({{ intents | length }})</h2>
<table id="intents">
<tr><th>time</th><th>who</th><th>what</th><th></th></tr>
{% for i in intents %}<tr class="intent"><td>{{ i.time }}</td><td>{{ i.actor }} ({{ i.actorClass or 'unknown' }})</td>
<td>{{ i.operation }} {{ i.kind }} {% if i.namespace %}{{ i.namespace }}/{% endif %}{{ i.name }}</td>
<td>{% if i.breakGlass %}break-glass {{ i.breakGlass }}{% endif %}{% if i.allowed == false %} denied{% endif %}</td></tr>
{% endfor %}
</table>
{% endif %}

{% if probes %}
<h2>Probes</h2>
<table id="probes">
{% for p in probes %}<tr><td>{{ p.name }}</td><td>{{ 'ok' if p.ok else 'failed' }}</td><td>{{ p.status if p.status is not none else '' }}</td>
<td>{% if p.latencyMs is not none %}{{ '%.0f' % p.latencyMs }} ms{% endif %}</td><td>{{ p.error or '' }}</td></tr>
{% endfor %}
</table>
{% endif %}
</body>
</html>
"""

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_PAGE = _ENV.from_string(_TEMPLATE)


def render_report(evidence: Evidence, verdict: Verdict) -> str:
    """The page for ``verdict``, reached from ``evidence`` (see the module docstring)."""
    digest = evidence_digest(evidence)
    app = ((evidence.get("application") or {}).get("metadata") or {}).get("name") or "?"
    return _PAGE.render(
        app=app,
        verdict=verdict,
        collected=digest.get("collectedAt"),
        groups=_groups(verdict.get("findings") or []),
        charts=[_chart(m) for m in digest["metrics"]],
        intents=digest["intents"],
        probes=digest["probes"],
        colors=COLORS,
        w=W,
        h=H,
        left=LEFT,
        right=RIGHT,
        top=TOP,
        bottom=BOTTOM,
    )


def _groups(findings: list[Any]) -> list[dict[str, Any]]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    out = []
    for layer in LAYERS:
        mine = [f for f in findings if f.get("layer") == layer]
        if mine:
            mine.sort(key=lambda f: rank.get(f.get("severity", "info"), 3))
            out.append({"layer": layer, "findings": mine})
    return out


def _chart(metric: Mapping[str, Any]) -> dict[str, Any]:
    regression = bool(metric.get("regression"))
    color = COLORS["Degraded"] if regression else COLORS["Healthy"]
    if metric.get("error"):
        label, color = "No data", COLORS["Unknown"]
    else:
        label = "Regression" if regression else str(metric.get("classification") or "?")
    chart: dict[str, Any] = {
        "name": metric.get("name"),
        "label": label,
        "color": color,
        "message": metric.get("message"),
        "points": "",
        "empty": f"Not collected: {metric['error']}" if metric.get("error") else "Too few points.",
    }
    series = metric.get("series") or []
    if len(series) < 2:
        return chart
    ts = [float(p[0]) for p in series]
    vs = [float(p[1]) for p in series]
    baseline = metric.get("baseline")
    band = metric.get("band")
    t0: float = min([*ts, float(baseline[0])] if baseline else ts)
    t1: float = max(ts)
    v0: float = min([*vs, float(band[0])] if band else vs)
    v1: float = max([*vs, float(band[1])] if band else vs)
    pad = (v1 - v0 or abs(v1) or 1.0) * 0.08
    v0, v1 = v0 - pad, v1 + pad

    def x(t: float) -> float:
        return LEFT + (t - t0) / ((t1 - t0) or 1.0) * (W - LEFT - RIGHT)

    def y(v: float) -> float:
        return TOP + (1 - (v - v0) / (v1 - v0)) * (H - TOP - BOTTOM)

    change = metric.get("changeAt")
    obs_start = metric["observation"][0] if metric.get("observation") else change
    chart.update(
        {
            "points": " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in series),
            "change": round(x(change), 1) if change is not None else None,
            "vmin": _number(v0),
            "vmax": _number(v1),
            "start": _clock(t0),
            "end": _clock(t1),
        }
    )
    if baseline:
        start = x(max(baseline[0], t0))
        chart["baseline"] = (round(start, 1), round(max(0.0, x(baseline[1]) - start), 1))
    if band and obs_start is not None:
        chart["band"] = (
            round(x(obs_start), 1),
            round(y(band[1]), 1),
            round(max(0.0, x(t1) - x(obs_start)), 1),
            round(max(1.0, y(band[0]) - y(band[1])), 1),
        )
    return chart


def _number(v: float) -> str:
    a = abs(v)
    return f"{v:.1e}" if a and (a < 0.01 or a >= 10000) else f"{v:.3g}"


def _clock(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M")
