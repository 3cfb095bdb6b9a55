"""Exercise checkers: each returns a :class:`Feedback` that says what is right, or gives a hint.

Checkers never raise on a wrong answer: whatever a student passes in (``None``, a function that
crashes, the wrong type) comes back as feedback with a hint towards the idea.
"""

from __future__ import annotations

from dataclasses import dataclass

from omteach.ui import message_html


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
