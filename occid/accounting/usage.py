# -*- test-case-name: tests.test_accounting_usage -*-
"""
The usage of one instance, as a checkpoint kept in its C{occid:acct} tag,
and how a new sample of the instance moves it forward.

A checkpoint holds the first launch, the seconds spent running and stopped
up to its time C{since}, the EC2 state seen then, and, once the instance
has ended, when.  Between checkpoints the state is the checkpoint's, so the
usage at any later moment follows from it (L{Usage.totals}) and a run
writes a new checkpoint only when an instance changed state: a steady
instance costs no write.

When a change is seen, EC2's own times place it: C{LaunchTime} is the last
start, the time in C{StateTransitionReason} the last stop or termination.
A change those times do not place (a missing or unparsable reason) is put
half-way between the last moment the old state was seen and now, so its
error is at most half the interval between two runs.

Pure: no boto3 and no Twisted; times are whole seconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["RUNNING", "STOPPED", "USAGE_TAG", "Sample", "Usage", "advance", "decode", "encode",
           "state_class", "terminal"]

#: The tag holding an instance's checkpoint.
USAGE_TAG = "occid:acct"

#: The classes of EC2 states: time in the first counts as WallDuration,
#: in the second as SuspendDuration.
RUNNING = "running"
STOPPED = "stopped"

_CLASSES = {"pending": RUNNING, "running": RUNNING, "stopping": RUNNING,
            "stopped": STOPPED, "shutting-down": RUNNING, "terminated": STOPPED}

_TERMINAL = ("shutting-down", "terminated")

_OTHER = {RUNNING: STOPPED, STOPPED: RUNNING}

#: Seconds between an instance's first attach times and its LaunchTime
#: that still mean one launch (EC2 attaches a little before or after).
LAUNCH_SLACK = 60

#: The version of the tag's format, its first field.
_VERSION = "1"


def state_class(state: str) -> str:
    """L{RUNNING} or L{STOPPED} for EC2 state name C{state} (an unknown one runs)."""
    return _CLASSES.get(state, RUNNING)


def terminal(state: str) -> bool:
    """Whether an instance in EC2 state C{state} has ended."""
    return state in _TERMINAL


@dataclass(frozen=True)
class Sample:
    """
    What one look at an instance says.

    @ivar now: when it was looked at.
    @ivar state: its EC2 state name.
    @ivar launch: its C{LaunchTime}, the last start.
    @ivar first_hint: the earliest time EC2 keeps across stops and starts
        (the attach time of its primary interface or root volume), if any.
    @ivar changed_at: the time of the last stop or termination, from
        C{StateTransitionReason}, if it gives one.
    """

    now: int
    state: str
    launch: int
    first_hint: int | None = None
    changed_at: int | None = None


@dataclass(frozen=True)
class Usage:
    """
    A checkpoint: seconds C{running} and C{stopped} from C{first} up to
    C{since}, when the instance was seen in C{state}; C{end} is when it
    ended, once a sample saw it end (then nothing accrues any more).
    """

    first: int
    running: int
    stopped: int
    since: int
    state: str
    end: int | None = None

    @property
    def final(self) -> bool:
        """Whether the instance has ended."""
        return self.end is not None

    def totals(self, at: int) -> tuple[int, int] | None:
        """
        (running, stopped) seconds at C{at}; C{None} when C{at} is before
        this checkpoint, which no longer knows that moment.  After the end
        the totals stay those at the end.
        """
        if at < self.since:
            return None
        if self.final:
            return self.running, self.stopped
        elapsed = at - self.since
        if state_class(self.state) == RUNNING:
            return self.running + elapsed, self.stopped
        return self.running, self.stopped + elapsed


class _Timeline:
    """Seconds added to each class while walking from a checkpoint to now."""

    def __init__(self, usage: Usage):
        self.seconds = {RUNNING: usage.running, STOPPED: usage.stopped}
        self.time = usage.since
        self.current = state_class(usage.state)

    def until(self, time: int, then: str | None = None) -> None:
        """The current class held until C{time}; then C{then}, if given."""
        if time > self.time:
            self.seconds[self.current] += time - self.time
            self.time = time
        if then is not None:
            self.current = then


def first_sight(sample: Sample) -> Usage:
    """
    The checkpoint standing for an instance never seen before, at its first
    launch.  Whatever happened between the first launch and the last start
    is unknown to EC2; it counts as stopped, so nobody is charged for time
    that cannot be shown.
    """
    first = min(sample.launch, sample.first_hint or sample.launch, sample.now)
    restarted = sample.launch - first > LAUNCH_SLACK
    return Usage(first=first, running=0, stopped=0, since=first,
                 state="stopped" if restarted else "pending")


def advance(usage: Usage | None, sample: Sample, last_seen: int | None = None) -> Usage:
    """
    The checkpoint after C{sample}.  The same object when nothing changed
    (the caller writes the tag only when the result differs from what the
    tag holds); an ended instance's checkpoint never changes.

    @param usage: the checkpoint in the tag; C{None} for an instance never
        seen (L{first_sight}).
    @param last_seen: the last time the checkpoint's state was seen (the
        previous run), when known: a change EC2's times do not place is put
        half-way between it and C{sample.now}.
    """
    if usage is None:
        usage = first_sight(sample)
    elif usage.final:
        return usage
    now = max(sample.now, usage.since)
    events = []
    restart = not (state_class(usage.state) == RUNNING
                   and sample.launch - usage.since <= LAUNCH_SLACK)
    if usage.since < sample.launch <= now and restart:
        events.append((sample.launch, RUNNING))
    ended = terminal(sample.state)
    stop_class = state_class(sample.state) == STOPPED or ended
    if stop_class and sample.changed_at is not None and usage.since < sample.changed_at <= now:
        events.append((sample.changed_at, STOPPED))
    if not events and not ended and state_class(sample.state) == state_class(usage.state):
        return usage
    floor = max(usage.since, min(last_seen or usage.since, now))
    timeline = _Timeline(usage)
    for time, then in sorted(events):
        if then == timeline.current:  # the change before it is undated: half-way
            timeline.until((max(floor, timeline.time) + time) // 2, _OTHER[then])
        timeline.until(time, then)
    observed = max(floor, timeline.time)
    if ended:
        if events and events[-1][1] == STOPPED:
            end = timeline.time
        else:
            end = (observed + now) // 2
            timeline.until(end)
        return replace(usage, running=timeline.seconds[RUNNING], stopped=timeline.seconds[STOPPED],
                       since=end, state=sample.state, end=end)
    target = state_class(sample.state)
    if timeline.current != target:
        timeline.until((observed + now) // 2, target)
    timeline.until(now)
    return replace(usage, running=timeline.seconds[RUNNING], stopped=timeline.seconds[STOPPED],
                   since=now, state=sample.state)


def encode(usage: Usage) -> str:
    """The L{USAGE_TAG} value of C{usage}: C{1 first running stopped since state [end]}."""
    fields = [_VERSION, usage.first, usage.running, usage.stopped, usage.since, usage.state]
    if usage.end is not None:
        fields.append(usage.end)
    return " ".join(map(str, fields))


def decode(value: str | None) -> Usage | None:
    """
    The checkpoint in a L{USAGE_TAG} value; C{None} for no value.

    @raise ValueError: the value is not one L{encode} writes.
    """
    if value is None:
        return None
    fields = value.split()
    if len(fields) not in (6, 7) or fields[0] != _VERSION or fields[5] not in _CLASSES:
        raise ValueError(f"not an {USAGE_TAG} value: {value!r}")
    first, running, stopped, since = (int(field) for field in fields[1:5])
    end = int(fields[6]) if len(fields) == 7 else None
    if min(first, running, stopped) < 0 or running + stopped != since - first:
        raise ValueError(f"inconsistent {USAGE_TAG} value: {value!r}")
    return Usage(first, running, stopped, since, fields[5], end)
