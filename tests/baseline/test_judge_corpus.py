"""The accuracy benchmark's NAB rules: which labelled anomalies count as deploy regressions,
and how a regression is injected into a healthy cut."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from benchmarks.corpus import Case, nab
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
    start = dt.datetime(2014, 2, 1, tzinfo=dt.UTC)
    stamps = [start + dt.timedelta(minutes=5 * i) for i in range(1200)]
    folder = tmp_path / "data" / "real"
    folder.mkdir(parents=True)
    rows = "".join(f"{s:%Y-%m-%d %H:%M:%S},{10 + i % 7}\n" for i, s in enumerate(stamps))
    (folder / "x.csv").write_text("timestamp,value\n" + rows)
    label = [f"{stamps[895]:%Y-%m-%d %H:%M:%S}.000000", f"{stamps[905]:%Y-%m-%d %H:%M:%S}.000000"]
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps({"real/x.csv": [label]}))

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
