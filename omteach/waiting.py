"""One way to wait for something on the chain or in another process: :func:`wait_until`.

Every "poll until this, or until a deadline" in omteach goes through it, so each wait has a
deadline, a poll interval, a progress callback and the same error: a
:class:`~omteach.errors.WaitTimeoutError` (or a subclass the caller names) that says what was
waited for and for how long.

::

    count = wait_until(lambda: market.round_state(spec_id).submission_count,
                       lambda n, _quiet: n == expected,
                       what="every participant's update", timeout=300)

Two clocks: ``timeout`` counts from the start; ``idle`` from the last time the polled value
changed (a wait that should go on while something still happens, and give up when nothing does).
``done`` gets the value and the seconds it has been unchanged, so a caller can accept a value
once it has been quiet for long enough (the teacher's grace period).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from omteach.errors import WaitTimeoutError

T = TypeVar("T")


def _truthy(value: object, _quiet: float) -> bool:
    return bool(value)


def wait_until(poll: Callable[[], T], done: Callable[[T, float], bool] = _truthy, *,
               what: str, timeout: float | None = 60.0, idle: float | None = None,
               interval: float = 0.2, progress: Callable[[T], None] | None = None,
               hint: str = "", error: type[WaitTimeoutError] = WaitTimeoutError,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``poll`` every ``interval`` s until ``done(value, quiet_seconds)``; that value.

    ``what`` names what is awaited (it goes into the error). ``timeout``: seconds from the start
    (None: no limit); ``idle``: seconds without a change of the polled value (None: no limit).
    ``progress`` is called with each new value (the first one included). On either limit the
    wait raises ``error`` (a :class:`~omteach.errors.WaitTimeoutError`), whose message names
    ``what``, the last value and ``hint`` (what to do about it). ``clock`` and ``sleep`` are
    for tests.
    """
    if timeout is None and idle is None:
        raise ValueError("a wait needs a timeout or an idle limit: it must be able to end")
    start = clock()
    changed_at = start
    last: object = _Unset
    while True:
        value = poll()
        now = clock()
        if last is _Unset or value != last:
            last, changed_at = value, now
            if progress is not None:
                progress(value)
        if done(value, now - changed_at):
            return value
        if timeout is not None and now - start > timeout:
            message = f"waited {timeout:g} s for {what}, in vain (last seen: {value})"
            raise error(_with_hint(message, hint), what=what, waited=now - start)
        if idle is not None and now - changed_at > idle:
            message = f"nothing happened for {idle:g} s while waiting for {what} ({value})"
            raise error(_with_hint(message, hint), what=what, waited=now - start)
        sleep(interval)


class _Unset:
    """Marks "nothing polled yet" (None is a value a poll may return)."""


def _with_hint(message: str, hint: str) -> str:
    return f"{message}: {hint}" if hint else message


def countdown(seconds: float) -> str:
    """A countdown as a lesson says it: "in 42 s", "in 3 min", "in 2 h 5 min"; "now" once
    passed (the dashboard's deadlines and a waiting student's next round)."""
    if seconds <= 0:
        return "now"
    if seconds < 100:
        return f"in {seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"in {minutes} min"
    if minutes < 48 * 60:
        return f"in {minutes // 60} h {minutes % 60} min"
    return f"in {minutes / (24 * 60):.0f} days"
