"""Checkers for chapter 5: attacks and defences."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class NewSpec:
    """A spec that reached the market after section 7: its terms and its model, not yet audited."""

    spec_id: int
    batch_size: int
    min_owners: int
    noise: float
    layers: tuple[int, ...]
    weights: Any  # the flat weights of the model blob

    def audit(self) -> Any:
        """What Joe's audit says of this spec (the policy of section 7)."""
        from omteach.learning.defences import audit_spec
        from omteach.learning.model import ModelSpec

        return audit_spec(batch_size=self.batch_size, min_owners=self.min_owners,
                          noise=self.noise, weights=self.weights, model_matches_id=True,
                          model=ModelSpec(layers=self.layers, batch_size=self.batch_size))


def new_specs() -> list[NewSpec]:
    """Exercise 2's five specs. Their verdicts are printed nowhere: the student applies the rules
    of section 7 (one spec sits exactly on the limits, one hides its trick in its weights)."""
    from omteach.learning.attacks import crafted_model
    from omteach.learning.model import ModelSpec, build_model, get_weights

    def honest(layers: tuple[int, ...]) -> Any:
        return get_weights(build_model(ModelSpec(layers=layers), seed=7))

    crafted = crafted_model(bins=32)  # 64 -> 32 -> 10, an allowed architecture
    return [
        NewSpec(10, 32, 3, 0.0, (64, 32, 10), honest((64, 32, 10))),
        NewSpec(11, 8, 5, 0.0, (64, 32, 10), honest((64, 32, 10))),
        NewSpec(12, 64, 4, 0.01, crafted.spec.layers, crafted.weights),
        NewSpec(13, 16, 3, 0.0, (64, 64, 10), honest((64, 64, 10))),
        NewSpec(14, 128, 2, 0.0, (64, 16, 10), honest((64, 16, 10))),
    ]


def new_specs_table(specs: list[NewSpec] | None = None) -> str:
    """The five specs as Joe's client reads them: on-chain terms and the model's first layer."""
    from omteach.learning.attacks import first_layer
    from omteach.learning.defences import duplicate_row_share
    from omteach.learning.model import ModelSpec

    rows = ["spec   batch size   owners/round   noise σ   architecture    first-layer units "
            "copying another"]
    for s in specs or new_specs():
        w1 = first_layer(ModelSpec(layers=s.layers), s.weights)[0]
        rows.append(f"#{s.spec_id:<5} {s.batch_size:>10}   {s.min_owners:>12}   {s.noise:>7g}   "
                    f"{' → '.join(map(str, s.layers)):<14}  {duplicate_row_share(w1):>5.0%}")
    return "\n".join(rows)


def check_specs_to_refuse(answer: Iterable[int] | None,
                          reports: dict[int, Any] | None = None) -> Feedback:
    """Exercise 2: which spec ids should Joe refuse? ``reports``: spec id → audit report
    (by default the audits of :func:`new_specs`, which the notebook never prints)."""
    if reports is None:
        reports = {s.spec_id: s.audit() for s in new_specs()}
    expected = {sid for sid, rep in reports.items() if not rep.passed}
    hint = ("Read each spec's terms on chain (batch size, owners per round) and look at the "
            "model's first layer: what makes a gradient easy to invert?")
    if answer is None:
        return not_answered(hint)
    try:
        got = {int(a) for a in answer}
    except (TypeError, ValueError):
        return wrong("answer with a list of spec ids, e.g. [0, 2].", hint)
    unknown = got - set(reports)
    if unknown:
        return wrong(f"there is no spec {', '.join(f'#{i}' for i in sorted(unknown))} in the "
                     f"table: the ids are {', '.join(f'#{i}' for i in sorted(reports))}.", hint)
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
