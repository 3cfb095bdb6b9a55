"""Checkers for chapter 6: the live classroom round."""

from __future__ import annotations

from collections.abc import Callable

from omteach.exercises import Feedback, call_student, correct, not_yet_a_function, wrong

# -- exercise 1: the top-up for latecomers -----------------------------------------------------

TOP_UP_CASES = ((10, 1, 3, 0), (10, 2, 3, 1), (7, 5, 4, 3), (1, 1, 1, 0), (25, 3, 6, 2))


def _top_up(bounty: int, extra: int, rounds: int, current_round: int) -> int:
    # Written differently from the answer on purpose: each remaining round, each new place.
    return sum(bounty for _ in range(current_round, rounds) for _ in range(extra))


TOP_UP_MISTAKES = (
    (lambda b, e, r, c: b * e * r,
     "Your amounts pay for every round, including the ones already closed: those were paid out, "
     "and a latecomer cannot take part in them."),
    (lambda b, e, r, c: b * e * (r - c - 1),
     "Your amounts leave out the current round: it has not closed, so the latecomers take part "
     "in it and its bounty must be in the escrow too."),
    (lambda b, e, r, c: b * (r - c),
     "Your amounts pay for one place, but each latecomer takes a place of their own, and each "
     "place is paid in every round still to run."),
)
"""The usual wrong top-ups, each as the amounts it gives and what it left out or added."""


def _top_up_diagnosis(top_up: Callable[[int, int, int, int], int], case: tuple) -> str:
    """A hint aimed at the mistake ``top_up`` makes, if it gives the same amounts as one of
    :data:`TOP_UP_MISTAKES` in every case; "" when it is none of them. ``case`` is the first
    case it got wrong, to be worked out by hand."""
    bounty, extra, rounds, now = case
    by_hand = (f" Work it out by hand for top_up({bounty}, {extra}, {rounds}, {now}): rounds are "
               f"numbered 0 to {rounds - 1} and round {now} has not closed; write down the rounds "
               f"still to run, then what the {extra} new place(s) earn in each.")
    for mistake, diagnosis in TOP_UP_MISTAKES:
        if all(call_student(top_up, *args)[0] == mistake(*args) for args in TOP_UP_CASES):
            return diagnosis + by_hand
    return ""


def check_top_up(top_up: Callable[[int, int, int, int], int] | None) -> Feedback:
    """Exercise 1: the wei ``add_places`` must bring for ``extra`` latecomers."""
    hint = ("The escrow pays the bounty to every place in every round still to run. Which rounds "
            "are still to run when the current round (counted from 0) has not closed yet?")
    if (verdict := not_yet_a_function(top_up, "top_up", hint)) is not None:
        return verdict
    for bounty, extra, rounds, now in TOP_UP_CASES:
        got, error = call_student(top_up, bounty, extra, rounds, now)
        if error:
            return wrong(f"top_up({bounty}, {extra}, {rounds}, {now}) raised {error}.", hint)
        want = _top_up(bounty, extra, rounds, now)
        if got != want:
            return wrong(f"top_up({bounty}, {extra}, {rounds}, {now}) returned {got!r}; the "
                         "contract would refuse anything less than the right amount.",
                         _top_up_diagnosis(top_up, (bounty, extra, rounds, now)) or hint)
    return correct(f"right in all {len(TOP_UP_CASES)} cases: the contract's add_places asks "
                   "for exactly this.")


# -- exercise 2: how large a class the key shares allow -----------------------------------------

SHARES_CASES = ((65536, 66), (65536, 33), (1000, 10), (131072, 66), (50, 100))


def _largest_class(limit: int, y_bytes: int) -> int:
    n = 1
    while y_bytes * n ** 2 <= limit:  # a class of n + 1 deals n² points each: still fits
        n += 1
    return n


def _class_diagnosis(got: object, want: int, limit: int, y_bytes: int) -> str:
    """A hint aimed at an answer one off, or one that grows linearly; "" for any other."""
    if not isinstance(got, int) or isinstance(got, bool):
        return ""
    if got == want - 1:
        return (f"One too small. Check your answer against the formula: in a class of "
                f"n = {got + 1}, how many points does each participant deal, (n - 1)², and how "
                f"many bytes is that at {y_bytes} bytes each? Is it still at most {limit}? If "
                "your loop or square root finds the number of *others* (n - 1), the class is "
                "one more.")
    if got == want + 1:
        return (f"One too large. In a class of n = {got}, each participant deals (n - 1)² "
                f"points of {y_bytes} bytes: compare that with {limit}. A loop that stops at "
                "the first n that no longer fits has gone one step past the answer.")
    if got == limit // y_bytes:
        return ("That is how many points fit, not how large the class can be: the points grow "
                "with the square of the class, (n - 1)² of them for n participants.")
    return ""


def check_largest_class(largest_class: Callable[[int, int], int] | None) -> Feedback:
    """Exercise 2: the largest class whose raw key shares fit in a blob of ``limit`` bytes."""
    hint = ("In a class of n, each participant deals a share of each of its n - 1 seeds to each "
            "of the n - 1 others: (n - 1)² points of y_bytes each. Find the largest n for which "
            "that is at most the limit.")
    if (verdict := not_yet_a_function(largest_class, "largest_class", hint)) is not None:
        return verdict
    for limit, y_bytes in SHARES_CASES:
        got, error = call_student(largest_class, limit, y_bytes)
        if error:
            return wrong(f"largest_class({limit}, {y_bytes}) raised {error}.", hint)
        want = _largest_class(limit, y_bytes)
        if got != want:
            return wrong(f"largest_class({limit}, {y_bytes}) returned {got!r}.",
                         _class_diagnosis(got, want, limit, y_bytes) or hint)
    return correct("right: the shares grow as the square of the class, which is why large "
                   "classes need a sparser masking graph.")
