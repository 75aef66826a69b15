"""The accuracy benchmark's NAB rules: which labelled anomalies count as deploy regressions,
and how a regression is injected into a healthy cut."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from benchmarks.corpus import Case, changes, nab
from tests.baseline.test_judge import make


def test_a_spike_that_is_gone_is_transient_and_a_level_shift_is_lasting() -> None:
    rng = np.random.default_rng(3)
    baseline = 10 + rng.standard_normal(48)
    spike = 10 + rng.standard_normal(24)
    spike[0] = 80  # NAB's labelled point, then back to normal
    shifted = 16 + rng.standard_normal(24)

    assert not nab.lasting(baseline, spike)
    assert nab.lasting(baseline, shifted)


def test_a_shift_that_appears_in_the_later_half_is_lasting() -> None:
    rng = np.random.default_rng(4)
    baseline = 10 + rng.standard_normal(48)
    late = 10 + rng.standard_normal(24)
    late[12:] += 6

    assert nab.lasting(baseline, late)


def test_injection_multiplies_only_the_observation_and_skips_cuts_at_zero() -> None:
    rng = np.random.default_rng(5)
    healthy = Case(
        "nab-x-h0", "nab", "g/x.csv", make(5 + rng.random(48), 5 + rng.random(24)), False, 48
    )
    zero = Case("nab-z-h0", "nab", "g/z.csv", make(np.zeros(48), np.zeros(24)), False, 48)

    out = list(nab.injected(iter([healthy, zero])))

    assert [c.id for c in out] == ["nab-x-x0"]
    case = out[0]
    assert case.regression and case.shape == "injected"
    before = healthy.metric["series"]
    after = case.metric["series"]
    assert after[:48] == before[:48]
    assert all(
        a[0] == b[0] and np.isclose(a[1], b[1] * nab.STEP_FACTOR)
        for a, b in zip(after[48:], before[48:], strict=True)
    )
    assert healthy.metric["series"] is before  # the healthy case is left as it was


def test_deploy_shaped_cuts_have_two_days_before_and_keep_healthy_points_off_the_labels(
    tmp_path: Path,
) -> None:
    stamps = _nab_file(tmp_path, [10.0 + i % 7 for i in range(1200)], (895, 905))

    cases = list(nab.deploys(tmp_path))

    [regression] = [c for c in cases if c.regression]
    healthy = [c for c in cases if not c.regression]
    assert regression.change_index == nab.DEPLOY_BASELINE
    assert len(regression.metric["series"]) == nab.DEPLOY_BASELINE + nab.DEPLOY_OBSERVE
    assert regression.metric["series"][nab.DEPLOY_BASELINE][0] == stamps[900].timestamp()
    assert len(healthy) == nab.DEPLOY_HEALTHY_PER_FILE
    margin = stamps[905].timestamp() - stamps[895].timestamp()
    for case in healthy:
        after = case.metric["series"][case.change_index :]
        assert after[-1][0] + margin < stamps[895].timestamp() or (
            stamps[905].timestamp() + margin < after[0][0]
        )
        assert "history" not in case.metric and case.metric["critical"] is True


def test_the_60_s_layout_respaces_real_values_a_minute_apart_and_keeps_them_off_the_labels(
    tmp_path: Path,
) -> None:
    values = [10.0 + (i * 37) % 11 for i in range(4000)]
    stamps = _nab_file(tmp_path, values, (3300, 3310))

    cases = list(changes.cases(tmp_path, at_60s=True))

    assert cases and {c.source for c in cases} == {"change-60s"}
    assert {c.shape for c in cases if not c.regression} == {"untouched", "healthy change"}
    margin = stamps[3310].timestamp() - stamps[3300].timestamp()
    for case in cases:
        series = np.array(case.metric["series"])
        assert case.change_index == changes.BASELINE_60S
        assert len(series) == changes.BASELINE_60S + changes.OBSERVE_60S
        assert set(np.diff(series[:, 0])) == {60.0}  # re-spaced a minute apart
        first = round((series[0, 0] - stamps[0].timestamp()) / 300)
        real = values[first : first + len(series)]
        # The baseline is the real values, in order; the observation stays clear of the label
        # by a whole label's length (in the file's own time).
        assert series[: changes.BASELINE_60S, 1].tolist() == real[: changes.BASELINE_60S]
        assert stamps[first + len(series) - 1].timestamp() + margin < stamps[3300].timestamp() or (
            stamps[3310].timestamp() + margin < stamps[first + changes.BASELINE_60S].timestamp()
        )
        if case.shape == "untouched":
            assert series[changes.BASELINE_60S :, 1].tolist() == real[changes.BASELINE_60S :]
        elif case.shape in ("delayed", "rolled back"):
            # The change keeps its share of the observation: a delayed step begins 10 to 40
            # minutes in, a rolled-back one ends 40 to 90 minutes in (as at five minutes).
            moved = np.flatnonzero(
                series[changes.BASELINE_60S :, 1] != real[changes.BASELINE_60S :]
            )
            lo, hi = (10, 40) if case.shape == "delayed" else (0, 0)
            assert moved.size and lo <= moved[0] <= hi
            if case.shape == "rolled back":
                assert 40 <= moved[-1] + 1 <= 90


def _nab_file(root: Path, values: list[float], label: tuple[int, int]) -> list[dt.datetime]:
    """A NAB-shaped subset under ``root``: one file of five-minute ``values`` with one labelled
    window between the points ``label`` indexes; the points' timestamps."""
    start = dt.datetime(2014, 2, 1, tzinfo=dt.UTC)
    stamps = [start + dt.timedelta(minutes=5 * i) for i in range(len(values))]
    folder = root / "data" / "real"
    folder.mkdir(parents=True)
    rows = "".join(f"{s:%Y-%m-%d %H:%M:%S},{v}\n" for s, v in zip(stamps, values, strict=True))
    (folder / "x.csv").write_text("timestamp,value\n" + rows)
    window = [f"{stamps[i]:%Y-%m-%d %H:%M:%S}.000000" for i in label]
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps({"real/x.csv": [window]}))
    return stamps
