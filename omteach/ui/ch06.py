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
from omteach.text import plural
from omteach.ui.toolkit import MessagePanel, panel_text

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
