"""Checkers for chapter 4: a full training round."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omteach.crypto.packing import PackingCodec
from omteach.crypto.paillier import PublicKey
from omteach.exercises import Feedback, correct, not_yet_a_whole_number, wrong
from omteach.learning.model import ModelSpec
from omteach.text import plural


def check_ciphertext_count(answer: int | None, *, layers: Sequence[int], codec: PackingCodec,
                           public: PublicKey) -> Feedback:
    """Exercise 1: how many ciphertexts one owner sends for an MLP with ``layers``, packed by
    ``codec`` under the key ``public``. The numbers come from the library (``ModelSpec.n_params``,
    ``PackingCodec.n_ciphertexts``), so the checker agrees with what a round really sends."""
    params = ModelSpec(layers=tuple(layers)).n_params
    slots = codec.slots_per_ciphertext(public)
    expected = codec.n_ciphertexts(params, public)
    key_bits = public.n.bit_length()
    hint = ("Two steps. Count the parameters: each layer a→b has a·b weights and b biases. "
            f"Then count how many {codec.slot_bits}-bit slots fit in one {key_bits}-bit "
            "plaintext (kept below n), and how many plaintexts the parameters need.")
    if (verdict := not_yet_a_whole_number(answer, hint)) is not None:
        return verdict
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
    if (verdict := not_yet_a_whole_number(answer, hint)) is not None:
        return verdict
    if answer == -sum(m for _, m in masks):
        return wrong("right idea, but masks live modulo n: negative numbers wrap around.",
                     f"Which number from 0 to {n - 1} is equal to yours modulo {n}?")
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
    hint = ("Every bounty the contract owes leaves an event in its public log "
            f"(run.market.contract.events()). Which events credit {owner}, and what do they "
            "say?")
    if (verdict := not_yet_a_whole_number(answer, hint, unit="wei")) is not None:
        return verdict
    if answer == paid:
        return correct(f"{owner} earned {paid:,} wei: a bounty for each round they contributed "
                       "to, credited by the contract when the round closed (withdraw it with "
                       "market.withdraw: the contract never pushes money to anyone).")
    bounty = run.market.spec(run.spec_id).bounty
    if bounty and answer % bounty == 0:
        return wrong(f"that is {plural(answer // bounty, 'bounty')}; count the rounds that "
                     f"closed with {owner} among the contributors.", hint)
    return wrong(f"{answer:,} wei is not what the log says.", hint)
