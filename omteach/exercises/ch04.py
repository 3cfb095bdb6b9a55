"""Checkers for chapter 4: a full training round."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from omteach.exercises import Feedback, correct, not_answered, wrong


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def check_ciphertext_count(answer: int | None, layers: Sequence[int] = (64, 16, 10),
                           key_bits: int = 2048, slot_bits: int = 18) -> Feedback:
    """Exercise 1: how many ciphertexts one owner sends for an MLP with ``layers``."""
    params = sum(a * b + b for a, b in zip(layers[:-1], layers[1:], strict=True))
    slots = (key_bits - 1) // slot_bits
    expected = -(-params // slots)
    hint = ("Two steps. Count the parameters: each layer a→b has a·b weights and b biases. "
            f"Then one {key_bits}-bit plaintext holds ⌊({key_bits} − 1) / {slot_bits}⌋ slots "
            "of 18 bits; round the division up.")
    if answer is None:
        return not_answered(hint)
    if not _is_int(answer):
        return wrong(f"answer with a whole number, got {answer!r}.", hint)
    if answer == expected:
        return correct(f"{params:,} parameters in {slots} slots per ciphertext: {expected} "
                       "ciphertexts, against "
                       f"{params:,} if each value had its own.")
    if answer == params:
        return wrong("that is one ciphertext per value: packing puts many values in one.", hint)
    if answer == params // slots:
        return wrong("close: the last ciphertext is only partly full, but it is still sent.",
                     "Round the division up, not down.")
    return wrong(f"{answer} is not it.", hint)


def check_missing_mask(answer: int | None, n: int = 101,
                       masks: tuple[tuple[str, int], ...] = (("Joe", 17), ("Jane", 45))
                       ) -> Feedback:
    """Exercise 2: the third owner's total mask, so that all three cancel modulo ``n``."""
    expected = -sum(m for _, m in masks) % n
    hint = (f"The three masks must add up to 0 modulo {n}: Jack's mask is what you add to "
            f"{' + '.join(str(m) for _, m in masks)} to reach a multiple of {n}.")
    if answer is None:
        return not_answered(hint)
    if not _is_int(answer):
        return wrong(f"answer with a whole number, got {answer!r}.", hint)
    if answer == -sum(m for _, m in masks):
        return wrong("right idea, but masks live modulo n: negative numbers wrap around.",
                     f"Add {n} to your answer.")
    if answer % n == expected and 0 <= answer < n:
        return correct(f"{' + '.join(str(m) for _, m in masks)} + {answer} = "
                       f"{sum(m for _, m in masks) + answer} ≡ 0 (mod {n}): in the sum, the masks "
                       "vanish, and each single mask looked random.")
    if answer % n == expected:
        return wrong("right modulo n, but give the number between 0 and n − 1.",
                     f"Reduce it modulo {n}.")
    return wrong(f"{answer} does not make the masks cancel.", hint)


def check_earnings(answer: int | None, run: Any, owner: str = "Joe") -> Feedback:
    """Exercise 3: how much the contract has credited ``owner`` so far (in wei)."""
    paid = sum(e.args["amount"] for e in run.market.contract.events()
               if e.name == "BountyCredited" and e.args["owner"] == owner)
    hint = ("The contract logs a BountyCredited event for every bounty it owes: "
            "run.market.contract.events() lists them. Add up the amounts credited to "
            f"{owner}.")
    if answer is None:
        return not_answered(hint)
    if not _is_int(answer):
        return wrong(f"answer with a whole number of wei, got {answer!r}.", hint)
    if answer == paid:
        return correct(f"{owner} earned {paid:,} wei: a bounty for each round they contributed "
                       "to, credited by the contract when the round closed (withdraw it with "
                       "market.withdraw: the contract never pushes money to anyone).")
    bounty = run.market.spec(run.spec_id).bounty
    if bounty and answer % bounty == 0:
        return wrong(f"that is {answer // bounty} bounties; count the rounds that closed with "
                     f"{owner} among the contributors.", hint)
    return wrong(f"{answer:,} wei is not what the log says.", hint)
