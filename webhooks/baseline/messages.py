"""Plain-language messages for baseline assessments.

A finding is read by a person on call in the Argo CD UI: it names the metric, which way it
moved, by how much (ratio, levels, the Hodges-Lehmann shift and its interval) and what it was
compared with, so it can be checked without opening a notebook.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from webhooks.baseline.assessment import Assessment, Windows
from webhooks.baseline.calibrated import Calibrated
from webhooks.baseline.rhythm import DAY
from webhooks.common.durations import format_duration


def number(x: float) -> str:
    """Three significant digits, no scientific notation for everyday magnitudes."""
    if not math.isfinite(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"
    if 1e-4 <= abs(x) < 1e6:
        return f"{x:.3g}"
    return f"{x:.2e}"


def times(ratio: float) -> str:
    """A level's ratio as a finding's headline reads it: "3x", "0.42x", "740x", "1,800x";
    a move under a tenth as a share of the level ("2.4%", not "1x")."""
    if 0.9 < ratio < 1.1:
        share = abs(ratio - 1.0) * 100
        return f"{share:.2g}%" if share >= 0.5 else "<1%"
    text = f"{ratio:.2g}"
    if "e+" in text and ratio < 1e6:
        return f"{float(text):,.0f}x"
    return f"{text}x"


def signed(x: float) -> str:
    return ("+" if x >= 0 else "") + number(x)


def compared_with(a: Assessment) -> str:
    """ "vs 30m before the change and the same windows 1d earlier"."""
    if a.windows is None:
        return ""
    text = f"vs {format_duration(a.windows.baseline_seconds, largest=2)} before the change"
    if a.windows.history_offsets:
        offsets = " and ".join(format_duration(o, largest=2) for o in a.windows.history_offsets)
        text += f" and the same windows {offsets} earlier"
    else:
        text += " (no history: daily rhythm not accounted for)"
    return text


#: What each kind of change is called in a finding (calibrated tests).
KINDS = {
    "step": "a step (the level moved)",
    "burst": "bursts (the mean moved, not the median)",
    "leak": "a leak (a steady trend)",
    "variability": "variability (it turned jumpy)",
}


def _period_words(period: float) -> tuple[str, str]:
    """ "day-over-day" and "the same time the day before" for a day (a week, other periods)."""
    if period == DAY:
        return "day-over-day", "the same time the day before"
    if period == 7 * DAY:
        return "week-over-week", "the same time the week before"
    earlier = format_duration(period, largest=2)
    return f"{earlier}-apart", f"the same time {earlier} earlier"


def _calibrated(a: Assessment) -> str:
    """Metric, direction, kind of change, the difference against the history's usual ones."""
    c, w = a.calibrated, a.windows
    assert c is not None and w is not None
    period = w.period_seconds
    residual, same_time = _period_words(period) if period is not None else ("", "")
    went = {"High": "up", "Low": "down"}.get(a.classification, "unchanged")
    if c.kind == "variability":
        # Only jumpier counts, whichever way the metric's level is bad (a throughput that
        # turned jumpy is classified Low with the rest of its decrease-is-bad side).
        went = "jumpier"
    ratio = f" {times(a.ratio)}" if a.ratio is not None else ""
    history = format_duration(w.baseline_seconds, largest=2)
    if period is not None:
        # The residual's null spans what lies one period after the baseline's start.
        history = "the last " + format_duration(w.baseline_seconds - period, largest=2)
    # Residual levels are differences from the same time one period earlier: signed.
    level = signed if period is not None else number
    detail = _detail(c, level, w)
    if period is not None:
        detail = f"{residual} {detail}"
    text = f"{a.name} {went}{ratio}: {KINDS[c.kind]} ({detail}; {_usual(c)} over {history} of its"
    if a.stood_out is not None:
        text += f" own history; what stood out: {_stood_out(*a.stood_out, level, w)}"
    else:
        text += " own history"
    text += f", p {a.p_value:.2g}"
    if a.tolerance:
        text += f", floor ±{number(a.tolerance)}"
    reference = format_duration(w.reference_seconds or 0.0, largest=2)
    text += f") vs the {reference} before the change"
    if period is not None:
        text += f", each point against {same_time}"
    if w.history_offsets:
        offsets = " and ".join(format_duration(o, largest=2) for o in w.history_offsets)
        text += f", net of the same windows {offsets} earlier"
    return text + _observed(a, w.observation_seconds)


def _detail(c: Calibrated, level: Callable[[float], str], w: Windows) -> str:
    """The statistic a calibrated test compared, before → after (a leak: its rise)."""
    if c.kind == "step":
        return f"median {level(c.before)} → {level(c.after)}"
    if c.kind == "burst":
        return f"mean {level(c.before)} → {level(c.after)}"
    if c.kind == "leak":
        return f"rise {signed(c.after)} over the {format_duration(w.observation_seconds, largest=2)} observed"
    return f"mean point-to-point jump {number(c.before)} → {number(c.after)}"


def _usual(c: Calibrated) -> str:
    """The test's difference against the usual size of the same difference in the history."""
    if c.kind == "variability":
        return f"usual change ±{100 * (math.exp(c.scale) - 1):.0f}%"
    return f"difference {signed(c.value)}, usual ±{number(c.scale)}"


def _stood_out(c: Calibrated, high: bool, level: Callable[[float], str], w: Windows) -> str:
    """The test that made the metric significant, when it is not the kind of change named."""
    if c.kind == "variability":
        return f"the jumps ({_detail(c, level, w)}, {_usual(c)})"
    if c.kind == "leak":
        observed = format_duration(w.observation_seconds, largest=2)
        trend = "rise" if high else "fall"
        return f"a steady {trend} ({signed(c.after)} over the {observed} observed, usual ±{number(c.scale)})"
    what = "level" if c.kind == "step" else "mean"
    going = "up" if high else "down"
    return f"the {what} going {going} ({_detail(c, level, w)}; {_usual(c)})"


def _observed(a: Assessment, observation_seconds: float) -> str:
    """The end every sentence shares: how long was observed, for how long it diverged, why."""
    text = f"; observed {format_duration(observation_seconds, largest=2)} after the change"
    if a.regression and a.divergent_seconds:
        text += f"; divergent for {format_duration(a.divergent_seconds, largest=2)}"
        if a.drift_budget_seconds > 0:
            text += f" (drift budget {format_duration(a.drift_budget_seconds, largest=2)})"
    if a.reasons:
        text += f" — {'; '.join(a.reasons)}"
    return text


def describe(a: Assessment) -> str:
    """One sentence: metric, direction, effect with its interval, what was compared."""
    if a.calibrated is not None and a.windows is not None:
        return _calibrated(a)
    if a.windows is None or a.shift is None or a.baseline_level is None:
        return f"{a.name}: {'; '.join(a.reasons)}"
    w = a.windows
    pct = round(100 * a.confidence)
    went = {"High": "up", "Low": "down", "NoData": "cannot tell"}.get(a.classification, "unchanged")
    moved = a.classification in ("High", "Low")
    ratio = f" {times(a.ratio)}" if a.ratio is not None and moved else ""
    effect = a.effect or a.shift
    adjusted = "seasonally adjusted " if a.seasonal_shift is not None else ""
    interval = f"{pct}% CI [{number(effect.lo)}, {number(effect.hi)}]"
    if a.decisive == "trend":
        what = (
            f"a leak: steady trend {signed(effect.value)} over the {format_duration(w.observation_seconds, largest=2)}"
            f" observed beyond the trend before the change, {interval}"
        )
    elif a.decisive == "recent":
        what = (
            f"a late step: {adjusted}HL shift {signed(effect.value)} over the later half of the"
            f" observation, {interval}"
        )
    elif a.decisive == "mean":
        what = f"bursts: {adjusted}mean {signed(effect.value)}, {interval}"
    elif moved:
        what = f"a step: {adjusted}HL shift {signed(effect.value)}, {interval}"
    else:
        what = f"{adjusted}HL shift {signed(effect.value)}, {interval}"
    level = number(a.baseline_level)
    if a.classification != "Pass":
        base = a.baseline_level
        after = base * a.ratio if a.ratio is not None else base + effect.value
        level += f" → {number(after)}"
    text = f"{a.name} {went}{ratio} ({level}, {what}, tolerance ±{number(a.tolerance or 0.0)})"
    return text + f" {compared_with(a)}" + _observed(a, w.observation_seconds)
