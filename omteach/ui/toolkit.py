"""The one display toolkit of the course: palette, messages, tables, progress.

Every chapter's widgets are built from these, so a message, a table or a colour looks the same
everywhere. Widgets keep the plain text of what they show (``MessagePanel.text``): tests and
exercises read that, never the HTML.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

import ipywidgets as widgets

from omteach.text import short_hex

PALETTE = {
    "info": "#eef3fb", "ok": "#e6f4ea", "error": "#fdecea", "warn": "#fef7e0",
    "ok_line": "#1e8e3e", "error_line": "#d93025", "warn_line": "#f9ab00",
}
"""Background and border colours: ``ok`` green, ``error`` red, ``warn`` amber, ``info`` blue."""

MONO = "font-family:var(--jp-code-font-family, monospace)"


def message_html(text: str, *, kind: str = "info") -> str:
    """An HTML box for a result (``info``), a success (``ok``), a caution (``warn``), an error.

    Whitespace is kept as typed (``pre-wrap``), so indented text such as a compiler's excerpt
    reads as it was written.
    """
    if kind not in ("info", "ok", "warn", "error"):
        raise ValueError(f"kind must be info, ok, warn or error, not {kind!r}")
    return (f'<div style="background:{PALETTE[kind]};padding:6px 10px;border-radius:4px;'
            f'white-space:pre-wrap;{MONO}">{html.escape(text)}</div>')


def error_text(exc: BaseException) -> str:
    """How an error reads in a widget: its message, never a traceback."""
    return f"⚠ {exc}"


def error_html(exc: BaseException) -> str:
    """How a widget shows an error: the message, never a traceback."""
    return message_html(error_text(exc), kind="error")


def html_table(header: Sequence[str], rows: Iterable[Sequence[Any]], *,
               row_kinds: Sequence[str] | None = None, wrap: Sequence[int] = ()) -> str:
    """Rows as an HTML table; ``row_kinds`` colours rows from the palette, ``wrap`` lists the
    columns allowed to wrap (the rest, times and hashes, stay on one line)."""
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in header)
    body = []
    for i, r in enumerate(rows):
        bg = f" style='background:{PALETTE[row_kinds[i]]}'" if row_kinds else ""
        cells = "".join(
            f"<td style='text-align:left{'' if col in wrap else ';white-space:nowrap'}'>"
            f"{html.escape(str(c))}</td>" for col, c in enumerate(r))
        body.append(f"<tr{bg}>{cells}</tr>")
    return (f"<table style='{MONO};font-size:90%'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


class MessagePanel(widgets.HTML):
    """A message box that remembers its plain text (``.text``) beside the HTML it shows."""

    def __init__(self, text: str = "", *, kind: str = "info", **kwargs: Any):
        super().__init__(**kwargs)
        self.text = ""
        self.kind = kind
        self.show(text, kind=kind)

    def show(self, text: str, *, kind: str = "info") -> None:
        """Show ``text`` in a box of ``kind`` (info, ok, warn, error)."""
        self.text, self.kind = text, kind
        self.value = message_html(text, kind=kind)

    def show_error(self, exc: BaseException) -> None:
        """Show an error's message (never a traceback)."""
        self.show(error_text(exc), kind="error")

    def show_html(self, text: str, markup: str, *, kind: str = "info") -> None:
        """Show prepared ``markup`` (a table, a figure) whose plain-text reading is ``text``."""
        self.text, self.kind = text, kind
        self.value = markup


def panel_text(panel: str, doc: str) -> property:
    """A read-only property: the plain text of the widget's :class:`MessagePanel` ``panel``
    (what tests and exercises read instead of the HTML)."""
    return property(lambda self: getattr(self, panel).text, doc=doc)


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

    def update(self, done: int, total: int, message: str = "") -> None:
        """``done`` of ``total`` steps: the ``progress=`` callback of the library's long steps
        (``TrainingRun(progress=bar.update)``)."""
        self.bar.max = max(1, int(total))
        self.set(done, message)

    def step(self, message: str = "") -> None:
        """Advance by one step."""
        self.bar.value = min(self.bar.value + 1, self.bar.max)
        if message:
            self.status.value = message

    def __repr__(self) -> str:
        return f"ProgressBar(total={self.bar.max}, description={self.bar.description!r})"


__all__ = ["MONO", "PALETTE", "MessagePanel", "ProgressBar", "error_html", "error_text",
           "html_table", "message_html", "panel_text", "short_hex"]
