"""Which ranges and steps the collector asks Prometheus for (pure planning, no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webhooks.baseline.windows import MAX_POINTS, MIN_STEP_SECONDS, choose_step, plan_ranges

CHANGE = datetime(2026, 11, 27, 10, 0, 7, tzinfo=UTC)


def test_the_window_runs_from_baseline_before_to_observe_after_the_change() -> None:
    plan = plan_ranges(
        CHANGE,
        CHANGE + timedelta(hours=1),
        observe=timedelta(minutes=10),
        baseline=timedelta(minutes=30),
    )
    current = plan.current
    assert current.step == MIN_STEP_SECONDS  # 40 minutes need no coarser step
    assert current.end == (CHANGE + timedelta(minutes=10)).timestamp()
    # The start is aligned down to the step, at most one step before changeAt - baseline.
    raw_start = (CHANGE - timedelta(minutes=30)).timestamp()
    assert current.start % current.step == 0
    assert raw_start - current.step < current.start <= raw_start
    assert plan.history == ()


def test_the_window_never_reaches_into_the_future() -> None:
    now = CHANGE + timedelta(minutes=4)
    plan = plan_ranges(
        now=now, change_at=CHANGE, observe=timedelta(minutes=10), baseline=timedelta(minutes=30)
    )
    assert plan.current.end == now.timestamp()


def test_history_windows_are_the_same_span_shifted_back_with_the_same_step() -> None:
    plan = plan_ranges(
        CHANGE,
        CHANGE + timedelta(hours=1),
        observe=timedelta(minutes=10),
        baseline=timedelta(minutes=30),
        history=(timedelta(days=1), timedelta(weeks=1)),
    )
    for rng, offset in zip(plan.history, (86400, 604800), strict=True):
        assert rng.offset_seconds == offset
        assert rng.start == plan.current.start - offset
        assert rng.end == plan.current.end - offset
        assert rng.step == plan.current.step


@pytest.mark.parametrize(
    "span",
    [
        timedelta(minutes=1),
        timedelta(minutes=40),
        timedelta(hours=7),
        timedelta(days=1),
        timedelta(days=8),
        timedelta(days=400),
        timedelta(days=3000),
    ],
)
def test_every_window_stays_within_the_point_budget(span: timedelta) -> None:
    plan = plan_ranges(CHANGE, CHANGE + span, observe=span / 2, baseline=span / 2)
    assert plan.current.points <= MAX_POINTS
    assert plan.current.step >= MIN_STEP_SECONDS


def test_steps_are_as_fine_as_the_budget_allows() -> None:
    assert choose_step(3600) == 15
    assert choose_step(86400) == 60  # 1,441 points
    assert choose_step(7 * 86400) == 600  # 1,009 points; 300s would be 2,017
    assert 86400 % choose_step(7 * 86400) == 0  # daily history offsets stay in phase


def test_a_clock_before_the_change_still_yields_the_baseline() -> None:
    plan = plan_ranges(
        CHANGE,
        CHANGE - timedelta(minutes=5),
        observe=timedelta(minutes=10),
        baseline=timedelta(minutes=30),
    )
    assert plan.current.end == (CHANGE - timedelta(minutes=5)).timestamp()


def test_naive_datetimes_are_a_caller_mistake() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_ranges(
            CHANGE.replace(tzinfo=None),
            CHANGE,
            observe=timedelta(minutes=1),
            baseline=timedelta(minutes=1),
        )
