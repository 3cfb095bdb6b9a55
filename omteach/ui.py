"""Small widget helpers shared by the chapters: progress bars and error panels."""

from __future__ import annotations

import html

import ipywidgets as widgets


def message_html(text: str, *, kind: str = "info") -> str:
    """An HTML box for a result (``info``), a success (``ok``) or an error (``error``)."""
    colours = {"info": "#eef3fb", "ok": "#e6f4ea", "error": "#fdecea"}
    body = html.escape(text).replace("\n", "<br>")
    return (f'<div style="background:{colours[kind]};padding:6px 10px;border-radius:4px;'
            f'font-family:var(--jp-code-font-family, monospace)">{body}</div>')


def error_html(exc: BaseException) -> str:
    """How a widget shows an error: the message, never a traceback."""
    return message_html(f"⚠ {exc}", kind="error")


class ProgressBar(widgets.VBox):
    """A progress bar with a status line, for long steps (key generation, training, mining)."""

    def __init__(self, total: int, description: str = ""):
        self.bar = widgets.IntProgress(value=0, min=0, max=total, description=description)
        self.status = widgets.Label(value="")
        super().__init__(children=[self.bar, self.status])

    def note(self, message: str) -> None:
        """Show what is happening now, without advancing."""
        self.status.value = message

    def set(self, value: int, message: str = "") -> None:
        """Jump to ``value`` (clamped to the bar), e.g. a share of expected work done."""
        self.bar.value = max(self.bar.min, min(int(value), self.bar.max))
        if message:
            self.status.value = message

    def step(self, message: str = "") -> None:
        """Advance by one step."""
        self.bar.value = min(self.bar.value + 1, self.bar.max)
        if message:
            self.status.value = message

    def __repr__(self) -> str:
        return f"ProgressBar(total={self.bar.max}, description={self.bar.description!r})"
