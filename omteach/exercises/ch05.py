"""Checkers for chapter 5: attacks and defences."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from omteach.exercises import Feedback, correct, not_answered, not_yet_a_function, wrong


def check_inversion(invert: Callable[[np.ndarray, np.ndarray], Any] | None) -> Feedback:
    """Exercise 1: ``invert(dW, db)`` must return the image from a one-image first-layer gradient.

    ``dW`` has one row per first-layer unit (64 columns), ``db`` one value per unit.
    """
    hint = ("Write the first layer as z = W·x + b and apply the chain rule to one unit i: what "
            "do dL/dW[i] and dL/db[i] have in common, and what is left over?")
    if (verdict := not_yet_a_function(invert, "invert", hint)) is not None:
        return verdict
    rng = np.random.default_rng(5)
    for trial in range(3):
        x = rng.random(64)
        dz = rng.normal(0, 1, 32)
        dz[rng.random(32) < 0.5] = 0.0  # dead ReLU units give zero gradients
        try:
            result = invert(np.outer(dz, x), dz.copy())
            if result is None:
                return not_answered(hint)
            got = np.asarray(result, dtype=float).reshape(-1)
        except Exception as exc:  # a student's function may fail in any way
            return wrong(f"your function raised {type(exc).__name__}: {exc}", hint)
        if got.shape != (64,):
            return wrong(f"return the 64 pixels of the image, got shape {got.shape}.", hint)
        if not np.all(np.isfinite(got)):
            return wrong("the result has NaN or infinity: you divided by a zero db[i].",
                         "Units whose ReLU was off have db[i] = 0; choose one where it is not.")
        if not np.allclose(got, x, atol=1e-6):
            return wrong(f"on test {trial + 1} the image is not recovered.", hint)
    return correct("one division recovers the image exactly: a single image's gradient is the "
                   "image, scaled.")


def check_specs_to_refuse(answer: Iterable[int] | None, reports: dict[int, Any]) -> Feedback:
    """Exercise 2: which spec ids should Joe refuse? ``reports``: spec id → audit report."""
    expected = {sid for sid, rep in reports.items() if not rep.passed}
    hint = ("Read each spec's terms on chain (batch size, owners per round) and look at the "
            "model's first layer: what makes a gradient easy to invert?")
    if answer is None:
        return not_answered(hint)
    try:
        got = {int(a) for a in answer}
    except (TypeError, ValueError):
        return wrong("answer with a list of spec ids, e.g. [0, 2].", hint)
    if got == expected:
        return correct(f"refuse {sorted(expected)}: each breaks a rule that protects the "
                       "owners, and the audit says which.")
    missing, extra = expected - got, got - expected
    parts = []
    if missing:
        parts.append(f"{len(missing)} spec(s) you would accept should be refused")
    if extra:
        parts.append(f"{len(extra)} spec(s) you would refuse are fine")
    first = sorted(missing or extra)[0]
    return wrong("; ".join(parts) + ".",
                 f"Look again at spec #{first}: its batch size, its owners per round, its "
                 "architecture, and whether its first-layer units differ from each other.")
