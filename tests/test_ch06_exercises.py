"""Chapter 6 checkers: the answer key passes, wrong answers get a hint, nothing raises."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from omteach.exercises import ch06
from tests.answer_key import graded_cells

SOURCES = Path(__file__).resolve().parents[1] / "source" / "course"


def key(grade_id: str, name: str):
    """Run the answer cell ``grade_id`` of chapter 6's two sources; the variable ``name``."""
    cells = {}
    for path in sorted(SOURCES.glob("06_*.ipynb")):
        cells.update(graded_cells(nbformat.read(path, as_version=4)))
    namespace: dict = {}
    exec(compile(cells[grade_id].source, f"<{grade_id}>", "exec"), namespace)
    return namespace[name]


def test_the_answer_key_passes_and_agrees_with_the_contracts_rule():
    top_up = key("ch06_ex1_top_up_answer", "top_up")
    assert ch06.check_top_up(top_up)
    assert ch06.check_largest_class(key("ch06_ex2_shares_answer", "largest_class"))
    # the contract's add_places asks for bounty x extra x (rounds - round): the key agrees with it
    bounty, extra, rounds, current = 10, 2, 3, 1
    assert top_up(bounty, extra, rounds, current) == bounty * extra * (rounds - current)


@pytest.mark.parametrize("wrong", [
    lambda b, e, r, c: b * e * r,               # forgets the rounds already closed
    lambda b, e, r, c: b * e * (r - c - 1),     # forgets the current round
    lambda b, e, r, c: b * (r - c),             # one place only
    lambda b, e, r, c: 1 / 0,                   # raises
    None,
])
def test_wrong_top_ups_get_a_hint(wrong):
    feedback = ch06.check_top_up(wrong)
    assert not feedback and "round" in str(feedback)


@pytest.mark.parametrize("wrong", [
    lambda limit, y: int((limit / y) ** 0.5),      # n - 1 is the square root, not n
    lambda limit, y: limit // y,                   # linear, not quadratic
    lambda limit, y: "32",
    None,
])
def test_wrong_class_sizes_get_a_hint(wrong):
    feedback = ch06.check_largest_class(wrong)
    assert not feedback and "n - 1" in str(feedback)


def test_the_checker_matches_the_encoding_limit():
    """The board's 64 KiB and 66-byte points allow 32 raw; the course's hex JSON about 20."""
    assert ch06._largest_class(65536, 66) == 32
    assert ch06._largest_class(65536, 2 * 66) == 23  # hex alone; the JSON around it: ~20


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda b, e, r, c: b * e * r, "including the ones already closed"),
    (lambda b, e, r, c: b * e * (r - c - 1), "leave out the current round"),
    (lambda b, e, r, c: b * (r - c), "pay for one place"),
])
def test_a_usual_top_up_mistake_gets_a_hint_aimed_at_it(wrong, diagnosis):
    """Not only the general hint: what the amount shows was left out, and a case to do by hand;
    never the formula itself."""
    feedback = ch06.check_top_up(wrong)
    assert not feedback and diagnosis in feedback.hint and "by hand" in feedback.hint
    assert "(rounds - current_round)" not in feedback.hint


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda limit, y: int((limit / y) ** 0.5), "One too small"),  # finds n - 1, not n
    (lambda limit, y: int((limit / y) ** 0.5) + 2, "One too large"),
    (lambda limit, y: limit // y, "grow with the square"),
])
def test_an_off_by_one_class_size_is_named(wrong, diagnosis):
    feedback = ch06.check_largest_class(wrong)
    assert not feedback and diagnosis in feedback.hint and "n - 1" in feedback.hint


def test_the_unanswered_hints_are_the_general_ones():
    """What an untouched notebook shows (committed in chapter 6's outputs) is the general hint."""
    assert "Which rounds are still to run" in ch06.check_top_up(None).hint
    assert ch06.check_largest_class(None).hint.startswith("In a class of n, each participant")
