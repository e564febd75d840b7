"""
Tests for L{occid.accounting.usage}: the checkpoint arithmetic over stops,
starts, hibernation and termination, with EC2's times and without them,
the tag's round trip, and a property: over any schedule of runs the
totals are exact when EC2 dates each change, and off by at most half a
run interval per change when it does not.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from occid.accounting.usage import Sample, Usage, advance, decode, encode

T0 = 1_800_000_000
HOUR = 3600


def test_first_sight_of_a_running_instance():
    """A running instance never seen starts at its launch; its usage grows with no new checkpoint."""
    usage = advance(None, Sample(now=T0 + HOUR, state="running", launch=T0, first_hint=T0 + 1))
    assert usage == Usage(first=T0, running=0, stopped=0, since=T0, state="pending")
    assert usage.totals(T0 + HOUR) == (HOUR, 0)
    later = advance(usage, Sample(now=T0 + 2 * HOUR, state="running", launch=T0))
    assert later is usage
    assert later.totals(T0 + 2 * HOUR) == (2 * HOUR, 0)


def test_attach_just_before_launch_is_the_launch():
    """An interface attached a few seconds before LaunchTime is the same launch: all of it runs."""
    usage = advance(None, Sample(now=T0 + HOUR, state="running", launch=T0 + 5, first_hint=T0))
    assert (usage.first, usage.totals(T0 + HOUR)) == (T0, (HOUR, 0))


def test_first_launch_survives_a_restart():
    """
    EC2's LaunchTime moves on a start; the first launch comes from the
    attach time it keeps, and the unknown time in between counts as stopped.
    """
    usage = advance(None, Sample(now=T0 + 3 * HOUR, state="running", launch=T0 + 2 * HOUR,
                                 first_hint=T0))
    assert usage.first == T0
    assert usage.totals(T0 + 3 * HOUR) == (HOUR, 2 * HOUR)


def test_stop_and_start_dated_by_ec2():
    """A stop dated by StateTransitionReason and a start dated by LaunchTime split the time exactly."""
    usage = advance(None, Sample(now=T0 + HOUR, state="running", launch=T0))
    stopped = advance(usage, Sample(now=T0 + 4 * HOUR, state="stopped", launch=T0,
                                    changed_at=T0 + 3 * HOUR))
    assert stopped.since == T0 + 4 * HOUR and stopped.state == "stopped"
    assert stopped.totals(T0 + 4 * HOUR) == (3 * HOUR, HOUR)
    assert stopped.totals(T0 + 2 * HOUR) is None
    again = advance(stopped, Sample(now=T0 + 10 * HOUR, state="running", launch=T0 + 9 * HOUR,
                                    changed_at=T0 + 3 * HOUR))
    assert again.totals(T0 + 10 * HOUR) == (4 * HOUR, 6 * HOUR)


def test_stop_and_start_between_two_runs():
    """A stop and a start both between two runs are both placed: the instance looks unchanged."""
    usage = advance(None, Sample(now=T0 + HOUR, state="running", launch=T0))
    after = advance(usage, Sample(now=T0 + 5 * HOUR, state="running", launch=T0 + 4 * HOUR),
                    last_seen=T0 + HOUR)
    # The stop is undated (a running instance's reason is empty): half-way
    # between the last run (T0 + 1 h) and the start (T0 + 4 h).
    assert after.totals(T0 + 5 * HOUR) == (3 * HOUR + HOUR // 2, HOUR + HOUR // 2)


def test_undated_change_goes_half_way_from_the_last_run():
    """With no time from EC2, a change is placed half-way between the last run and now."""
    usage = advance(None, Sample(now=T0, state="running", launch=T0))
    stopped = advance(usage, Sample(now=T0 + 10 * HOUR, state="stopped", launch=T0),
                      last_seen=T0 + 9 * HOUR)
    assert stopped.totals(T0 + 10 * HOUR) == (9 * HOUR + HOUR // 2, HOUR // 2)


def test_hibernation_is_stopped_time():
    """A hibernated instance is stopped as far as durations go."""
    usage = advance(None, Sample(now=T0, state="running", launch=T0))
    hibernated = advance(usage, Sample(now=T0 + 2 * HOUR, state="stopped", launch=T0,
                                       changed_at=T0 + HOUR))
    assert hibernated.totals(T0 + 5 * HOUR) == (HOUR, 4 * HOUR)


def test_termination_ends_the_usage():
    """A terminated instance ends at the time EC2 gives; nothing accrues afterwards."""
    usage = advance(None, Sample(now=T0, state="running", launch=T0))
    ended = advance(usage, Sample(now=T0 + 2 * HOUR, state="terminated", launch=T0,
                                  changed_at=T0 + HOUR))
    assert ended.final and ended.end == T0 + HOUR
    assert ended.totals(T0 + 9 * HOUR) == (HOUR, 0)
    assert advance(ended, Sample(now=T0 + 3 * HOUR, state="terminated", launch=T0)) is ended


def test_terminated_before_first_seen():
    """An instance first seen terminated is accounted from its launch to its end."""
    ended = advance(None, Sample(now=T0 + 2 * HOUR, state="terminated", launch=T0,
                                 changed_at=T0 + HOUR))
    assert (ended.first, ended.end, ended.totals(T0 + 2 * HOUR)) == (T0, T0 + HOUR, (HOUR, 0))


def test_clock_behind_the_checkpoint():
    """A sample older than the checkpoint (a clock set back) changes nothing and loses nothing."""
    usage = advance(None, Sample(now=T0 + HOUR, state="running", launch=T0))
    stopped = advance(usage, Sample(now=T0 + 2 * HOUR, state="stopped", launch=T0,
                                    changed_at=T0 + HOUR))
    assert advance(stopped, Sample(now=T0, state="stopped", launch=T0)) is stopped


def test_tag_round_trip():
    """The tag value reads back as the checkpoint, ended or not, and fits a tag."""
    for usage in (Usage(T0, 10, 20, T0 + 30, "running"),
                  Usage(T0, 10, 20, T0 + 30, "terminated", end=T0 + 30)):
        value = encode(usage)
        assert decode(value) == usage and len(value) <= 256
    assert decode(None) is None


@pytest.mark.parametrize("value", ["", "2 1 0 0 1 running", "1 1 0 0 1 sleeping",
                                   "1 1 5 0 1 running", "1 a 0 0 1 running", "1 1 0 0 1"])
def test_bad_tag_values(value):
    """A value L{encode} would not write is refused."""
    with pytest.raises(ValueError):
        decode(value)


@st.composite
def schedules(draw):
    """Alternating running/stopped spells of whole minutes, and run times every few minutes."""
    spells = draw(st.lists(st.integers(1, 600), min_size=1, max_size=8))
    step = draw(st.integers(5, 60))
    lost = draw(st.sets(st.integers(0, 400), max_size=20))
    return [60 * s for s in spells], 60 * step, lost


def simulate(spells, step, lost, dated):
    """
    Run L{advance} over a VM launched at T0 whose spells alternate running
    and stopped, every C{step} seconds except the runs in C{lost}; return
    the totals at the end and the truth.
    """
    edges, time = [], T0
    for spell in spells:
        time += spell
        edges.append(time)
    end = edges[-1]

    def state_at(t):
        index = next(i for i, edge in enumerate(edges) if t < edge) if t < end else len(edges) - 1
        running = index % 2 == 0
        spell_start = edges[index - 1] if index else T0
        last_start = spell_start if running else (edges[index - 2] if index >= 2 else T0)
        return ("running" if running else "stopped"), last_start, (spell_start if not running else None)

    usage, last, run = None, None, 0
    for now in range(T0, end + 1, step):
        if run in lost:
            run += 1
            continue
        state, launch, stopped_at = state_at(now)
        sample = Sample(now=now, state=state, launch=launch, first_hint=T0,
                        changed_at=stopped_at if dated else None)
        usage = advance(usage, sample, last)
        last, run = now, run + 1
    if usage is None:
        return None, None
    at = (end - T0) // step * step + T0
    truth = [0, 0]
    for i, edge in enumerate(edges):
        start = edges[i - 1] if i else T0
        truth[i % 2] += max(0, min(edge, at) - start)
    return usage.totals(at), tuple(truth)


@settings(max_examples=200, deadline=None)
@given(schedules())
def test_exact_when_ec2_dates_every_change(schedule):
    """
    With every stop dated and LaunchTime on every start, any schedule of
    runs that sees each spell gives the truth.  (A stop and a start both
    between two runs leave the stop undated: a running instance's
    StateTransitionReason is empty.)
    """
    spells, step, lost = schedule
    runs = [n for n in range(T0, T0 + sum(spells) + 1, step) if (n - T0) // step not in lost]
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assume(runs and runs[0] == T0 and all(spell > max(gaps, default=0) for spell in spells[:-1]))
    totals, truth = simulate(spells, step, lost, dated=True)
    assert totals is None or totals == truth


@settings(max_examples=200, deadline=None)
@given(schedules())
def test_undated_stops_err_by_half_an_interval_each(schedule):
    """Without stop times, each change is off by at most half the gap between two runs that saw it."""
    spells, step, lost = schedule
    totals, truth = simulate(spells, step, lost, dated=False)
    if totals is not None:
        gap = step * (len(lost) + 1)
        assert sum(totals) == sum(truth)
        assert abs(totals[0] - truth[0]) <= gap * len(spells)
