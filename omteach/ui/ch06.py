"""Chapter 6 widgets: the pad on which a student draws the digits that stay on their machine.

:class:`DigitPad` is an ipycanvas drawing surface: draw a digit with the mouse (or a finger),
pick its label, press "Keep it". Each drawing becomes an 8×8 image like the course's digits
(:func:`omteach.learning.data.digit_from_strokes`); :meth:`DigitPad.dataset` is the student's
private training data. Everything happens in this kernel: no drawing is sent anywhere.
Usable from plain code too: :meth:`DigitPad.add_strokes` does what drawing and pressing do.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np

from omteach.errors import OmteachError
from omteach.learning.data import Dataset, dataset_from_drawings, digit_from_strokes
from omteach.protocol.round import Seat
from omteach.text import plural, short_hex
from omteach.ui.toolkit import MessagePanel, html_table, panel_text

PAD_SIZE = 200  # pixels: big enough to draw on with a touchpad, small enough to sit beside text
BRUSH = 9  # pixels on the pad


def digit_png(image: np.ndarray, scale: int = 6) -> bytes:
    """An 8×8 digit (64 values in [0, 1]) as a small PNG, ink dark on white."""
    from PIL import Image

    pixels = (255 - np.clip(np.asarray(image, dtype=float), 0, 1) * 255).astype(np.uint8)
    img = Image.fromarray(pixels.reshape(8, 8), mode="L").resize((8 * scale, 8 * scale),
                                                                 Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class DigitPad(widgets.VBox):
    """Draw digits, label them, keep them: the student's private data for the classroom round."""

    def __init__(self) -> None:
        from ipycanvas import Canvas

        self._canvas = Canvas(width=PAD_SIZE, height=PAD_SIZE,
                              layout=widgets.Layout(width=f"{PAD_SIZE}px",
                                                    height=f"{PAD_SIZE}px",
                                                    border="1px solid #999"))
        self._canvas.fill_style = "black"
        self._strokes: list[tuple[float, float]] = []
        self._pen_down = False
        self._images: list[np.ndarray] = []
        self._labels: list[int] = []
        self._label = widgets.Dropdown(options=list(range(10)), value=0, description="Digit",
                                       layout=widgets.Layout(width="150px"))
        self._keep = widgets.Button(description="Keep it", button_style="primary")
        self._clear = widgets.Button(description="Clear")
        self._preview = widgets.Image(format="png", width=48, height=48)
        self._status = MessagePanel("Draw a digit in the box, pick which digit it is, press "
                                    "Keep it. Your drawings never leave this machine.")
        self._canvas.on_mouse_down(self._down)
        self._canvas.on_mouse_move(self._move)
        self._canvas.on_mouse_up(self._up)
        self._canvas.on_mouse_out(self._up)
        self._keep.on_click(lambda _: self.keep(self._label.value))
        self._clear.on_click(lambda _: self.clear())
        controls = widgets.VBox([self._label, widgets.HBox([self._keep, self._clear]),
                                 widgets.HTML("what the model sees:"), self._preview])
        super().__init__(children=[widgets.HBox([self._canvas, controls]), self._status])

    # drawing (the canvas's mouse events)

    def _down(self, x: float, y: float) -> None:
        self._pen_down = True
        self._dot(x, y)

    def _move(self, x: float, y: float) -> None:
        if self._pen_down:
            self._dot(x, y)

    def _up(self, x: float, y: float) -> None:
        self._pen_down = False
        self._update_preview()

    def _dot(self, x: float, y: float) -> None:
        self._strokes.append((float(x), float(y)))
        self._canvas.fill_circle(x, y, BRUSH)

    def _update_preview(self) -> None:
        if self._strokes:
            self._preview.value = digit_png(self.current_image())

    # what the buttons do, usable from code

    def current_image(self) -> np.ndarray:
        """The drawing on the pad as the model will see it (64 values in [0, 1])."""
        return digit_from_strokes(self._strokes, width=PAD_SIZE, height=PAD_SIZE,
                                  brush=BRUSH / PAD_SIZE * 0.9)

    def add_strokes(self, points: Sequence[tuple[float, float]], label: int) -> int:
        """Draw ``points`` (pad pixels) and keep them as digit ``label``; returns the count kept."""
        self.clear()
        for x, y in points:
            self._dot(x, y)
        return self.keep(label)

    def keep(self, label: int) -> int:
        """Keep the drawing on the pad as an example of ``label``; returns how many are kept."""
        try:
            if isinstance(label, bool) or not isinstance(label, int | np.integer) \
                    or not 0 <= label <= 9:
                raise OmteachError(f"the label must be a digit 0–9, not {label!r}")
            image = self.current_image()
        except OmteachError as exc:
            self._status.show_error(exc)
            return len(self._labels)
        self._images.append(image)
        self._labels.append(int(label))
        self._clear_pad()
        counts = np.bincount(self._labels, minlength=10)
        per_digit = ", ".join(f"{d}: {c}" for d, c in enumerate(counts) if c)
        self._status.show(f"kept {plural(len(self._labels), 'drawing')} ({per_digit}); they "
                          "stay on this machine.", kind="ok")
        return len(self._labels)

    def clear(self) -> None:
        """Wipe the pad (the drawings kept so far stay)."""
        self._clear_pad()
        self._status.show(f"pad cleared; {plural(len(self._labels), 'drawing')} kept.")

    def _clear_pad(self) -> None:
        self._strokes = []
        self._canvas.clear()

    def dataset(self) -> Dataset:
        """The kept drawings as a dataset (raises if none has been kept yet)."""
        return dataset_from_drawings(self._images, self._labels)

    status_text = panel_text("_status", "The status line as text.")

    def __len__(self) -> int:
        return len(self._labels)

    def __repr__(self) -> str:
        return f"DigitPad({plural(len(self._labels), 'drawing')} kept)"


# -- the live round: the student's panel and the teacher's dashboard ---------------------------

ROUND_STATES = {Seat.PARTICIPANT: "·", Seat.SHARES: "shares", Seat.SUBMITTED: "✔ submitted",
                Seat.REVEALED: "✔ submitted + revealed", Seat.DROPPED: "✘ dropped",
                Seat.LEFT: "left"}
"""How each seat in a round shows in the panel and the dashboard."""


class StudentPanel(widgets.VBox):
    """A student's side of the round: audit, accept, take part; status per round, with progress.

    ``owner`` is a :class:`~omteach.classroom.owner.ClassOwner` (joined, with its private data).
    Each button does one thing and answers at once; "Take part" steps the round until the spec
    is finished (the same :meth:`run` code uses). Errors show in the panel.
    """

    def __init__(self, owner, spec_id: int):
        self.owner = owner
        self.spec_id = spec_id
        rounds = owner.market.spec(spec_id).rounds
        self._audit = widgets.Button(description="Audit the spec")
        self._accept = widgets.Button(description="Accept", button_style="primary")
        self._run = widgets.Button(description="Take part", button_style="success")
        self.progress = widgets.IntProgress(value=0, min=0, max=rounds,
                                            description="rounds done")
        self.message = MessagePanel(f"Joined as {owner.name}. Audit the spec, accept it, then "
                                    "take part: your data stays in this kernel.")
        self.table = MessagePanel("")
        self._audit.on_click(lambda _: self._guard(self.audit))
        self._accept.on_click(lambda _: self._guard(self.accept))
        self._run.on_click(lambda _: self._guard(self.run))
        super().__init__(children=[widgets.HBox([self._audit, self._accept, self._run]),
                                   self.progress, self.message, self.table])

    def _guard(self, action) -> None:
        try:
            action()
        except OmteachError as exc:
            self.message.show_error(exc)

    def audit(self) -> bool:
        """Run chapter 5's audit on the spec; show each finding. Whether it passed."""
        report = self.owner.audit(self.spec_id)
        lines = [f"{'✔' if f.passed else '✘'} {f.check}: {f.detail}" for f in report.findings]
        self.message.show("\n".join(lines), kind="ok" if report.passed else "warn")
        return report.passed

    def accept(self) -> str:
        """Consent on chain."""
        line = self.owner.accept(self.spec_id)
        self.message.show(line, kind="ok")
        return line

    def run(self, *, timeout: float = 300.0) -> str:
        """Take part in every round until the spec is finished; show each step."""
        def on_step(line: str) -> None:
            self.message.show(line)
            self.refresh()
        line = self.owner.take_part(self.spec_id, timeout=timeout, on_step=on_step)
        self.refresh()
        paid = self.owner.withdrawn
        self.message.show(f"{line}: {plural(len(self.owner.submitted_at), 'round')} "
                          f"contributed, {paid / 10**18:.3f} ether withdrawn to your key",
                          kind="ok")
        return line

    def __repr__(self) -> str:
        return f"StudentPanel({self.owner.name}, spec {self.spec_id})"

    def refresh(self) -> None:
        """Redraw the per-round table and the progress bar from this student's state."""
        spec = self.owner.market.spec(self.spec_id)
        self.progress.value = min(spec.round, self.progress.max)
        rows = [(r, ROUND_STATES.get(s, s)) for r, s in sorted(self.owner.rounds.items())]
        text = "\n".join(f"round {r}: {s}" for r, s in rows)
        self.table.show_html(text, html_table(["round", "me"], rows))


class TeacherDashboard(widgets.VBox):
    """The teacher's live view of the class, read from the chain (:meth:`refresh`).

    ``teacher`` is a :class:`~omteach.classroom.teacher.ClassTeacher`. Shows every student's
    state per round, accuracy per round, what AI Inc. sees of one update and of the sum, and
    each student's credited bounty. :meth:`say` is the progress line a round reports to.
    """

    def __init__(self, teacher):
        self.teacher = teacher
        self.line = MessagePanel("")
        self.students = MessagePanel("")
        self.rounds = MessagePanel("")
        self.seen = MessagePanel("")
        refresh = widgets.Button(description="Refresh")
        refresh.on_click(lambda _: self.refresh())
        super().__init__(children=[refresh, self.line, self.students, self.rounds, self.seen])

    def __repr__(self) -> str:
        return f"TeacherDashboard(spec {self.teacher.spec_id})"

    def say(self, line: str) -> None:
        """Show what the round is doing now, then redraw."""
        self.line.show(line)
        self.refresh()

    def refresh(self) -> None:
        """Read the class's state from the chain and redraw every table."""
        try:
            status = self.teacher.status()
        except OmteachError as exc:
            self.line.show_error(exc)
            return
        spec = status["spec"]
        n_rounds = spec.rounds if spec is not None else 0
        # The address beside each name: the contract keeps names apart, and the address says
        # who is who even when a name looks like another.
        header = ["student", "address", "accepted",
                  *[f"round {r}" for r in range(n_rounds)], "credited"]
        rows = []
        for name, s in status["students"].items():
            rows.append([name, short_hex(s["address"], 4), "yes" if s["accepted"] else "no",
                         *[ROUND_STATES.get(s["rounds"].get(r, ""), "")
                           for r in range(n_rounds)],
                         f"{s['balance'] / 10**18:.2f} ETH"])
        self.students.show_html(f"{len(rows)} students", html_table(header, rows))
        records = status["rounds"]
        acc = [("start", "-", "-", _pct(self.teacher.initial_accuracy))] + [
            (r.round, len(r.submitted), ", ".join(r.dropped) or "-", _pct(r.accuracy))
            for r in records]
        self.rounds.show_html(f"{len(records)} rounds closed",
                              html_table(["round", "submitted", "dropped", "accuracy"], acc))
        if records and records[-1].one_update:
            last = records[-1]
            seen = [("one update (masked)", *(f"{v:+.3f}" for v in last.one_update)),
                    ("the mean of all", *(f"{v:+.3f}" for v in last.mean_update))]
            self.seen.show_html("what AI Inc. sees", html_table(
                ["AI Inc. decrypts", *[f"w{i}" for i in range(len(last.one_update))]], seen))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
