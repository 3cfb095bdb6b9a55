"""The one waiting helper: deadline, idle limit, progress, and the project's own timeout error."""

from __future__ import annotations

import pytest

from omteach.errors import ProtocolError, RoundTimeoutError, WaitTimeoutError
from omteach.waiting import wait_until


class FakeClock:
    """A clock that moves only when the wait sleeps: the tests take no real time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_the_first_value_that_is_done_and_reports_each_change():
    clock, seen = FakeClock(), []
    values = iter([0, 0, 1, 1, 3])
    got = wait_until(lambda: next(values), lambda v, _q: v >= 3, what="three", timeout=10,
                     interval=0.5, progress=seen.append, clock=clock, sleep=clock.sleep)
    assert got == 3 and seen == [0, 1, 3] and clock.sleeps == [0.5] * 4


def test_the_deadline_raises_the_named_error_with_what_was_awaited():
    clock = FakeClock()
    with pytest.raises(RoundTimeoutError, match=r"waited 2 s for the shares, in vain \(last "
                       r"seen: 0\): ask them") as caught:
        wait_until(lambda: 0, what="the shares", timeout=2, interval=1, hint="ask them",
                   error=RoundTimeoutError, clock=clock, sleep=clock.sleep)
    assert isinstance(caught.value, ProtocolError) and caught.value.what == "the shares"
    assert caught.value.waited == pytest.approx(3)


def test_the_idle_limit_counts_from_the_last_change():
    clock = FakeClock()
    values = iter([1, 2, 3] + [3] * 10)
    with pytest.raises(WaitTimeoutError, match="nothing happened for 2 s while waiting for "
                       r"the end \(3\)") as caught:
        wait_until(lambda: next(values), lambda _v, _q: False, what="the end", timeout=None,
                   idle=2, interval=1, clock=clock, sleep=clock.sleep)
    assert caught.value.waited == pytest.approx(5)  # changed at 2 s, quiet for more than 2 s


def test_done_sees_how_long_the_value_has_been_quiet():
    clock = FakeClock()
    values = iter([1, 2, 2, 2, 2, 2])
    got = wait_until(lambda: next(values), lambda v, quiet: v >= 2 and quiet >= 2,
                     what="a quiet count", timeout=100, interval=1, clock=clock,
                     sleep=clock.sleep)
    assert got == 2 and clock.now == 3


def test_a_wait_must_be_able_to_end():
    with pytest.raises(ValueError, match="must be able to end"):
        wait_until(lambda: 0, what="forever", timeout=None)
