"""Checkers for chapter 2: smart contracts (state and code)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omteach.chain import Chain, DeployedContract, contract_source, deploy_agreement
from omteach.errors import ContractCompileError, ContractRevertError, OmteachError
from omteach.exercises import Feedback, correct, not_answered, wrong
from omteach.story import COMPANY, DIGITS_MODEL

MODEL = DIGITS_MODEL

SCENARIO: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    ("Jane", "grant_consent", ()),
    (COMPANY, "use_data", (MODEL,)),
    ("Joe", "grant_consent", ()),
    (COMPANY, "use_data", ("face-recognition-v2",)),
    (COMPANY, "use_data", (MODEL,)),
    ("Joe", "revoke_consent", ()),
    (COMPANY, "use_data", (MODEL,)),
    (COMPANY, "refund_escrow", ()),
)
"""The calls of exercise 1, in order, on a fresh agreement between AI Inc. and Joe."""


def scenario_text() -> str:
    """The scenario of exercise 1, one numbered line per call."""
    return "\n".join(f"{i}. {who} calls {fn}({', '.join(repr(a) for a in args)})"
                     for i, (who, fn, args) in enumerate(SCENARIO, 1))


def deploy_example(chain: Chain, *, pay: int = 1_000, source: str | None = None,
                   label: str | None = None) -> DeployedContract:
    """The agreement the exercises use: AI Inc. and Joe, MODEL, 30 days, 3 uses, escrow 3 uses."""
    return deploy_agreement(chain, pay=pay, source=source, label=label)


def _outcomes() -> list[bool]:
    # Private on purpose: what the chain does with each call is exercise 1's answer.
    chain = Chain()
    dua = deploy_example(chain)
    out = []
    for who, fn, args in SCENARIO:
        try:
            dua.transact(fn, *args, sender=who)
            out.append(True)
        except ContractRevertError:
            out.append(False)
    return out


def check_predictions(predictions: Sequence[bool] | None) -> Feedback:
    """Exercise 1: predict, for each call of the scenario, whether the contract accepts it."""
    hint = ("For each call, find the function in the contract and read its assert lines from "
            "the top: who is msg.sender, what is the state at that moment?")
    if predictions is None:
        return not_answered(hint)
    if isinstance(predictions, str | bytes) or not isinstance(predictions, Sequence):
        return wrong(f"answer with a list of {len(SCENARIO)} True/False values, "
                     f"got {type(predictions).__name__}.", hint)
    if len(predictions) != len(SCENARIO):
        return wrong(f"the scenario has {len(SCENARIO)} calls, your list has {len(predictions)} "
                     "answers.", "One True (accepted) or False (refused) per numbered call.")
    if not all(isinstance(p, bool) for p in predictions):
        return wrong("every answer must be True (accepted) or False (refused).", hint)
    actual = _outcomes()
    misses = [i for i, (p, ok) in enumerate(zip(predictions, actual, strict=True)) if p != ok]
    if not misses:
        return correct(f"all {len(SCENARIO)} predictions are right: the code, not a person, "
                       "decides, and it decides the same way for everyone.")
    i = misses[0]
    who, fn, _ = SCENARIO[i]
    said = "accepted" if predictions[i] else "refused"
    step_hint = (f"Call {i + 1} ({who} → {fn}) is the first one you got wrong (you said "
                 f"{said}). Read the asserts of {fn}: which one applies to {who} at that point "
                 "of the story? Remember that earlier calls changed the state.")
    return wrong(f"{len(SCENARIO) - len(misses)} of {len(SCENARIO)} right.", step_hint)


def check_no_free_data_rule(source: str | None) -> Feedback:
    """Exercise 2: add a rule so that Joe cannot consent to an agreement that pays nothing.

    ``source`` is the edited contract text; grant_consent must revert with a reason when
    ``payment_per_use`` is 0, and every other rule must still hold.
    """
    hint = ("grant_consent states its rules as assert lines, each with a reason. Which piece of "
            "the agreement's data says what Joe is paid, and what must be true of it?")
    if source is None:
        return not_answered(hint)
    if not isinstance(source, str):
        return wrong(f"pass the edited contract as text, got {type(source).__name__}.", hint)
    if source.strip() == contract_source("DataUseAgreement").strip():
        return wrong("this is the original contract: nothing was added yet.", hint)
    chain = Chain()
    try:
        free = deploy_example(chain, pay=0, source=source, label="free")
        paid = deploy_example(chain, pay=1_000, source=source, label="paid")
    except ContractCompileError as exc:
        return wrong(f"the contract does not compile:\n{exc}",
                     "Vyper is indented like Python; an assert reads "
                     'assert <condition>, "<reason>"')
    except OmteachError as exc:
        return wrong(f"the contract compiles but cannot be deployed as before: {exc}",
                     "Change only grant_consent; keep the constructor as it is.")
    try:
        free.transact("grant_consent", sender="Joe")
    except ContractRevertError as exc:
        free_reason = exc.reason
    else:
        return wrong("Joe could still consent to an agreement that pays 0 wei per use.", hint)
    try:
        paid.transact("grant_consent", sender="Jane")
        return wrong("your change lets Jane grant consent for Joe: the old rule is gone.",
                     "Add your assert; do not remove the ones that are there.")
    except ContractRevertError:
        pass
    try:
        paid.transact("grant_consent", sender="Joe")
    except ContractRevertError as exc:
        return wrong(f"now Joe cannot consent even when he is paid ({exc.reason}).",
                     "Your condition should fail only when payment_per_use is 0.")
    if free_reason == "(the contract gave no reason)":
        return wrong("the rule works but gives no reason when it refuses.",
                     "Give the assert a reason string so the refusal explains itself.")
    return correct(f"free agreements are refused with \"{free_reason}\", paid ones still work, "
                   "and the old rules still hold.")
