"""The classroom's private data: a shard per seat, and digits a student draws on the pad."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omteach.errors import InvalidValueError, OmteachError
from omteach.learning.data import (
    dataset_from_drawings,
    digit_from_strokes,
    load_digits_dataset,
    seat_shard,
)
from omteach.ui.ch06 import PAD_SIZE, DigitPad, digit_png

points = st.lists(st.tuples(st.floats(0, PAD_SIZE), st.floats(0, PAD_SIZE)), min_size=1,
                  max_size=60)


def test_seats_are_disjoint_cover_the_training_part_and_share_one_test_set():
    shards = [seat_shard(s, 5) for s in range(5)]
    tests = [t for _, t in shards]
    assert all(np.array_equal(tests[0].x, t.x) for t in tests)
    rows = [tuple(r) for shard, _ in shards for r in shard.x]
    assert len(rows) + len(tests[0]) == len(load_digits_dataset())
    sizes = [len(s) for s, _ in shards]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("seat, seats", [(-1, 5), (5, 5), (0, 0), (1.0, 5), (True, 5),
                                         (0, "30")])
def test_a_bad_seat_is_a_clear_error(seat, seats):
    with pytest.raises(InvalidValueError, match="whole number"):
        seat_shard(seat, seats)


@settings(max_examples=60, deadline=None)
@given(points)
def test_any_drawing_becomes_64_pixel_values_in_range(pts):
    img = digit_from_strokes(pts, width=PAD_SIZE, height=PAD_SIZE)
    assert img.shape == (64,) and img.min() >= 0 and img.max() <= 1 and img.max() > 0


@settings(max_examples=40, deadline=None)
@given(points, st.floats(-50, 50), st.floats(-50, 50))
def test_where_on_the_pad_a_digit_is_drawn_does_not_matter(pts, dx, dy):
    moved = [(x + dx, y + dy) for x, y in pts]
    a = digit_from_strokes(pts, width=PAD_SIZE, height=PAD_SIZE)
    b = digit_from_strokes(moved, width=PAD_SIZE, height=PAD_SIZE)
    assert np.abs(a - b).max() <= 1 / 16 + 1e-6  # at most one pixel of 16 in a cell flips


def _ring(cx=100, cy=100, r=60, n=120):
    return [(cx + 0.7 * r * math.cos(t), cy + r * math.sin(t))
            for t in np.linspace(0, 2 * math.pi, n)]


def test_drawn_digits_look_like_the_course_digits_to_a_model():
    """A drawn 0 and a drawn 1 are recognised by a model trained only on the shipped digits."""
    from sklearn.linear_model import LogisticRegression

    data = load_digits_dataset()
    clf = LogisticRegression(max_iter=2000).fit(data.x, data.y)
    one = digit_from_strokes([(100, 20 + 2 * i) for i in range(80)], width=200, height=200)
    zero = digit_from_strokes(_ring(), width=200, height=200)
    assert clf.predict(np.stack([zero, one])).tolist() == [0, 1]


def test_no_strokes_non_finite_or_bad_canvas_are_clear_errors():
    with pytest.raises(InvalidValueError, match="draw a digit first"):
        digit_from_strokes([], width=200, height=200)
    with pytest.raises(InvalidValueError, match="finite"):
        digit_from_strokes([(float("nan"), 1.0)], width=200, height=200)
    with pytest.raises(InvalidValueError, match="positive width"):
        digit_from_strokes([(1, 1)], width=0, height=200)


def test_drawings_become_a_checked_dataset():
    img = digit_from_strokes(_ring(), width=200, height=200)
    ds = dataset_from_drawings([img, img], [0, 0])
    assert ds.x.shape == (2, 64) and ds.y.tolist() == [0, 0]
    for images, labels, match in [([img], [0, 1], "labels"), ([], [], "at least one"),
                                  ([img[:10]], [0], "64 pixel"), ([img * 2], [0], "between 0"),
                                  ([img], [10], "0 to 9"), ([img], [0.5], "0 to 9")]:
        with pytest.raises(InvalidValueError, match=match):
            dataset_from_drawings(images, labels)


def test_the_pad_keeps_labelled_drawings_and_says_so():
    pad = DigitPad()
    assert pad.keep(3) == 0 and "draw a digit first" in pad.status_text
    assert pad.add_strokes(_ring(), 0) == 1
    assert pad.add_strokes([(100, 20 + 2 * i) for i in range(80)], 1) == 2
    assert "kept 2 drawings (0: 1, 1: 1)" in pad.status_text
    assert pad.add_strokes(_ring(), 12) == 2 and "digit 0–9" in pad.status_text
    ds = pad.dataset()
    assert ds.y.tolist() == [0, 1] and repr(pad) == "DigitPad(2 drawings kept)"
    pad.clear()
    assert "2 drawings kept" in pad.status_text and len(pad) == 2


def test_the_pad_draws_through_its_mouse_events():
    pad = DigitPad()
    pad._down(100, 20)
    for i in range(1, 80):
        pad._move(100, 20 + 2 * i)
    pad._up(100, 180)
    pad._move(10, 10)  # pen up: ignored
    assert bytes(pad._preview.value).startswith(b"\x89PNG")
    assert pad.keep(1) == 1
    with pytest.raises(OmteachError, match="at least one"):
        DigitPad().dataset()


def test_digit_png_is_a_png_of_the_requested_size():
    import io

    from PIL import Image

    png = digit_png(np.linspace(0, 1, 64), scale=4)
    assert Image.open(io.BytesIO(png)).size == (32, 32)
