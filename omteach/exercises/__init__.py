"""Exercise checkers: each returns a :class:`Feedback` that says what is right, or gives a hint.

Checkers never raise on a wrong answer: whatever a student passes in (``None``, a function that
crashes, the wrong type) comes back as feedback with a hint towards the idea.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omteach.ui.toolkit import message_html


@dataclass(frozen=True)
class Feedback:
    """The verdict of a checker: ``passed``, a message, and a hint when not passed."""

    passed: bool
    message: str
    hint: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.passed:
            return f"✅ Correct. {self.message}"
        text = f"❌ Not yet. {self.message}"
        return f"{text}\n💡 Hint: {self.hint}" if self.hint else text

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return message_html(str(self), kind="ok" if self.passed else "error")

    def _ipython_display_(self) -> None:
        """Shown, not returned: a checker cell ends with its verdict (``feedback``), and
        nbgrader reads a graded cell's result (an ``execute_result``) as a partial grade,
        warning "cannot be converted to a float" for every verdict. Displayed (a
        ``display_data``), the verdict looks the same and nbgrader grades the cell by its
        assertion alone."""
        from IPython.display import display

        display({"text/plain": str(self), "text/html": self._repr_html_()}, raw=True)


def correct(message: str) -> Feedback:
    """A passing verdict."""
    return Feedback(True, message)


def wrong(message: str, hint: str = "") -> Feedback:
    """A failing verdict with a hint."""
    return Feedback(False, message, hint)


def not_answered(hint: str) -> Feedback:
    """The verdict for an exercise cell still holding its placeholder."""
    return Feedback(False, "No answer yet: replace the None above with your answer and re-run.",
                    hint)


def not_yet_a_function(answer: Any, name: str, hint: str) -> Feedback | None:
    """The verdict for an answer that should be a function but is still ``None`` or is not
    callable; ``None`` when it is a function and the checker can go on."""
    if answer is None:
        return not_answered(hint)
    if not callable(answer):
        return wrong(f"{name} should be a function (pass it itself, without parentheses), got "
                     f"{type(answer).__name__}.", hint)
    return None


def not_yet_a_whole_number(answer: Any, hint: str, *, unit: str = "") -> Feedback | None:
    """The verdict for an answer that should be a whole number (``unit`` names what it counts)
    but is still ``None`` or is not one; ``None`` when the checker can go on."""
    if answer is None:
        return not_answered(hint)
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        what = f"a whole number of {unit}" if unit else "a whole number"
        return wrong(f"answer with {what}, got {answer!r}.", hint)
    return None


def call_student(fn: Callable[..., Any], *args: Any) -> tuple[Any, str]:
    """Call a student's function: ``(result, "")``, or ``(None, what went wrong)`` if it raised."""
    try:
        return fn(*args), ""
    except Exception as exc:  # any bug in a student's function becomes feedback, not a traceback
        return None, f"{type(exc).__name__}: {exc}"
