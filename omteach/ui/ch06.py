"""Chapter 6 widgets: the pad on which a student draws the digits that stay on their machine.

:class:`DigitPad` is an ipycanvas drawing surface: draw a digit with the mouse (or a finger),
pick its label, press "Keep it". Each drawing becomes an 8×8 image like the course's digits
(:func:`omteach.learning.data.digit_from_strokes`); :meth:`DigitPad.dataset` is the student's
private training data. Everything happens in this kernel: no drawing is sent anywhere.
Usable from plain code too: :meth:`DigitPad.add_strokes` does what drawing and pressing do.
"""

from __future__ import annotations

import html
import io
import threading
import time
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import numpy as np

from omteach.errors import OmteachError
from omteach.learning.data import Dataset, dataset_from_drawings, digit_from_strokes
from omteach.learning.defences import AuditPolicy, Finding
from omteach.protocol.round import Phase, Seat
from omteach.text import plural, short_hex
from omteach.ui.toolkit import MessagePanel, html_table, panel_text
from omteach.waiting import countdown

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
        # A blank digit before the first stroke: an Image with no bytes shows a broken icon.
        self._preview = widgets.Image(value=digit_png(np.zeros(64)), format="png", width=48,
                                      height=48, layout=widgets.Layout(border="1px solid #ccc"))
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
        self._preview.value = digit_png(np.zeros(64))

    def dataset(self) -> Dataset:
        """The kept drawings as a dataset (raises if none has been kept yet)."""
        return dataset_from_drawings(self._images, self._labels)

    status_text = panel_text("_status", "The status line as text.")

    def __len__(self) -> int:
        return len(self._labels)

    def __repr__(self) -> str:
        return f"DigitPad({plural(len(self._labels), 'drawing')} kept)"


def own_batches(batch_size: int, n: int, policy: AuditPolicy | None = None) -> Finding:
    """The audit's finding about the student's own batches, which the spec's terms cannot see.

    The spec names a batch size (32), but a student with ``n`` digits trains on batches of
    ``batch_size`` and a last one of what is left (all ``n`` when ``n`` < ``batch_size``): a
    student with 4 drawings computes gradients of 4 images, which chapter 5 inverts.
    """
    p = policy or AuditPolicy()
    full, rest = divmod(n, batch_size)
    sizes = ([batch_size] if full else []) + ([rest] if rest else [])
    smallest = min(sizes) if sizes else 0
    said = " and ".join(str(b) for b in sizes) or "none"
    detail = (f"your {plural(n, 'digit')} train in batches of {said} (the spec says "
              f"{batch_size}; need ≥ {p.min_batch_size} in every batch")
    if smallest < p.min_batch_size:
        detail += ": a gradient of so few images can be inverted into them, chapter 5"
    return Finding("your batches", smallest >= p.min_batch_size, detail + ")")


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
                                            description="rounds done",
                                            style={"description_width": "initial"})
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
        mine = own_batches(self.owner.market.spec(self.spec_id).batch_size,
                           len(self.owner.owner.data))
        findings = [*report.findings, mine]
        lines = [f"{'✔' if f.passed else '✘'} {f.check}: {f.detail}" for f in findings]
        passed = report.passed and mine.passed
        self.message.show("\n".join(lines), kind="ok" if passed else "warn")
        return passed

    def accept(self) -> str:
        """Consent on chain."""
        line = self.owner.accept(self.spec_id)
        self.message.show(line, kind="ok")
        return line

    def run(self, *, timeout: float = 300.0) -> str:
        """Take part in every round until the spec is finished; show each step."""
        def on_step(line: str) -> None:
            self.message.show(line)
            if len(self.owner.log) != seen[0]:  # a countdown's tick reads nothing new
                seen[0] = len(self.owner.log)
                self.refresh()
        seen = [-1]
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

    ``teacher`` is a :class:`~omteach.classroom.teacher.ClassTeacher`. Shows what the open
    round waits for and from whom (who has not accepted, posted shares, submitted, revealed),
    with countdowns (the phase's deadline on chain, the pause before the next round, the spec's
    deadline);
    every student's state per round with the bounty credited and what is still withdrawable;
    accuracy per round; what AI Inc. sees of one update and of the mean.

    While a round runs the kernel is busy and a button's click waits for it: :meth:`start`
    refreshes the widgets from a background thread every ``interval`` s instead (ipywidgets
    sends state from any thread), until the spec is finished or :meth:`stop`.
    :meth:`say` is the progress line a round reports to.
    """

    def __init__(self, teacher, *, title: str = "", interval: float = 1.0,
                 clock: Callable[[], float] = time.time):
        self.teacher = teacher
        # Says whose class this is ("rehearsal: spec 1"): a saved rehearsal's dashboard must
        # not pass for the live class's.
        self.title = widgets.HTML(f"<b>{html.escape(title)}</b>" if title else "")
        self.interval = interval
        self._clock = clock
        self.line = MessagePanel("")
        self.live = MessagePanel("")
        self.students = MessagePanel("")
        self.rounds = MessagePanel("")
        self.seen = MessagePanel("")
        for panel, css in ((self.live, "omteach-live"), (self.students, "omteach-students")):
            panel.add_class(css)  # what the browser test reads
        self._refresh = widgets.Button(description="Refresh")
        self._refresh.on_click(lambda _: self._clicked())
        self._lock = threading.Lock()  # one refresh at a time: the thread's or a button's
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        super().__init__(children=[widgets.HBox([self._refresh, self.title]), self.line,
                                   self.live, self.students, self.rounds, self.seen])

    def __repr__(self) -> str:
        return f"TeacherDashboard(spec {self.teacher.spec_id})"

    # -- live ----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the background refresh is on."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, interval: float | None = None) -> None:
        """Refresh every ``interval`` s in a background thread (until the spec is finished)."""
        if interval is not None:
            self.interval = interval
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="dashboard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the background refresh (the last drawing stays)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _clicked(self) -> None:
        # A read of a big class takes a second: say so at once (the click answers in 0.1 s)
        self.live.show("reading the chain…")
        self.refresh()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                status = self.refresh()
            except Exception as exc:  # noqa: BLE001 - a thread's traceback would land in
                # whatever cell runs now; the node may be briefly unreachable: say it, go on
                self.live.show(f"could not read the chain ({type(exc).__name__}: {exc}); "
                               "trying again", kind="warn")
                status = None
            if status is not None and status["spec"] is not None and status["spec"].finished:
                return  # the last round closed: nothing on chain moves any more
            self._stop.wait(self.interval)

    def say(self, line: str) -> None:
        """Show what the round is doing now, then redraw (unless a refresh is under way)."""
        self.line.show(line)
        self.refresh(block=False)

    # -- drawing -------------------------------------------------------------------------------

    def refresh(self, *, block: bool = True) -> dict | None:
        """Read the class's state from the chain and redraw every table; the status read."""
        if not self._lock.acquire(blocking=block):
            return None  # the background thread is drawing right now
        try:
            try:
                status = self.teacher.status()
            except OmteachError as exc:
                self.line.show_error(exc)
                return None
            self._draw(status)
            return status
        finally:
            self._lock.release()

    def _draw(self, status: dict) -> None:
        spec = status["spec"]
        n_rounds = spec.rounds if spec is not None else 0
        # The address beside each name: the contract keeps names apart, and the address says
        # who is who even when a name looks like another.
        header = ["student", "address", "accepted", *[f"round {r}" for r in range(n_rounds)],
                  "credited", "withdrawable"]
        rows = []
        for name, s in status["students"].items():
            rows.append([name, short_hex(s["address"], 4), "yes" if s["accepted"] else "no",
                         *[ROUND_STATES.get(s["rounds"].get(r, ""), "")
                           for r in range(n_rounds)],
                         _ether(s["credited"]), _ether(s["balance"])])
        self.students.show_html(f"{len(rows)} students", html_table(header, rows))
        self.live.show(live_line(status, self.teacher.name, self._clock()),
                       kind="ok" if spec is not None and spec.finished else "info")
        records = status["rounds"]
        closed = [r for r in records if r.closed_at]  # the open round's record is filled at close
        acc = [("start", "-", "-", _pct(self.teacher.initial_accuracy))] + [
            (r.round, len(r.submitted), ", ".join(r.dropped) or "-", _outcome(r))
            if r.closed_at else (r.round, "running", "-", "-") for r in records]
        self.rounds.show_html(f"{plural(len(closed), 'round')} closed",
                              html_table(["round", "submitted", "dropped", "accuracy"], acc))
        if closed and closed[-1].one_update:
            last = closed[-1]
            self.seen.show_html(seen_text(last, self.teacher.model.update_clip),
                                seen_html(last, self.teacher.model.update_clip))



def _outcome(record) -> str:
    """A finished round's last column: its accuracy, or why it was abandoned (model kept)."""
    if record.abandoned:
        return (f"{_pct(record.accuracy)}: abandoned, model kept, submitters paid "
                f"({record.abandoned})")
    return _pct(record.accuracy)


def _names(addresses, name) -> str:
    return ", ".join(sorted(name(a) for a in addresses)) or "nobody"


def live_line(status: dict, name, now: float) -> str:
    """What the open round waits for, from whom, and until when: the dashboard's live line.

    ``name`` turns an address into a display name; ``now`` is the dashboard's clock (the pause
    counts against it). The phases' deadlines are the contract's, in chain time: they count
    against ``status["now"]`` (the chain's clock, when the status has it).
    """
    spec, state = status["spec"], status["state"]
    if spec is None:
        return "no spec yet: post one (teacher.post)"
    if spec.finished or state is None:
        return f"spec {spec.spec_id} finished: every round closed; students withdraw their bounties"
    n = len(state.participants)
    k = state.round
    # Counts from the same per-participant reads as the names (the contract's counters are read
    # a moment earlier: "0 of 3; waiting for: nobody" mixed the two)
    shared, submitted = len(state.shared), len(state.submitted)
    if state.phase is Phase.ACCEPTING:
        opens = status.get("next_round_at")
        when = (f"opens {countdown(opens - now)} (the pause between rounds)" if opens
                else "opens when AI Inc. runs it")
        late = sorted(n_ for n_, s in status["students"].items() if not s["accepted"])
        line = (f"round {k}: not open yet, {when}; {len(state.owners)} accepted; "
                + (f"not accepted yet: {', '.join(late)}" if late
                   else "everyone on the roster accepted"))
    elif state.phase is Phase.SHARING:
        line = (f"round {k}: {state.k} neighbours each, threshold {state.threshold}; key shares "
                f"{shared} of {n}; waiting for: {_names(state.missing_shares(), name)}")
    elif state.phase is Phase.SUBMITTING and submitted == n:
        line = f"round {k}: all {n} submitted; AI Inc. sums, decrypts and closes the round"
    elif state.phase is Phase.SUBMITTING:
        line = (f"round {k}: submitted {submitted} of {n}; waiting for: "
                f"{_names(state.not_submitted(), name)}")
    else:  # RECOVERING
        survivors = [p for p in state.participants if p in state.submitted]
        short = state.short_of_shares()
        line = (f"round {k}: dropped {_names(state.dropped, name)}; revealed "
                f"{len(state.revealed)} of {len(survivors)}"
                + (f" ({len(short)} secret(s) still short of t = {state.threshold} shares)"
                   if short and state.revealed else "")
                + f"; waiting for: "
                f"{_names([p for p in survivors if p not in state.revealed], name)}")
    chain_now = status.get("now", now)
    deadline = state.phase_deadline if state.phase is not Phase.ACCEPTING else None
    if deadline:
        line += f"; phase deadline {countdown(deadline - chain_now)}"
    return f"{line}. Spec deadline {countdown(state.deadline - chain_now)}."


def seen_text(record, clip: float) -> str:
    """The heading of "what AI Inc. sees": what the numbers are, in a sentence."""
    lo, hi = record.one_range
    return (f"What AI Inc. decrypts in round {record.round}, at the {len(record.shown)} weights "
            f"the round moved most. One update alone: the student's update plus their masks, "
            f"decoded as if it were an update: values from {lo:+.1f} to {hi:+.1f} although every "
            f"update is clipped to ±{clip:g}: masked values, not weights, noise. The mean of "
            "all: the masks cancel, what is left is the class's average change of each weight.")


def seen_html(record, clip: float) -> str:
    """The table of "what AI Inc. sees" (:func:`seen_text` above it)."""
    rows = [("one update, masked (noise)", *(f"{v:+.3f}" for v in record.one_update)),
            ("the mean of all (the signal)", *(f"{v:+.3f}" for v in record.mean_update))]
    table = html_table(["AI Inc. decrypts", *[f"w{i}" for i in record.shown]], rows)
    return f"<p>{html.escape(seen_text(record, clip))}</p>{table}"


def _ether(wei: int) -> str:
    return f"{wei / 10**18:.2f} ETH"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
