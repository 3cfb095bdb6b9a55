"""Chapter 2 checkers: right answers pass, wrong ones get a hint, nothing raises."""

from __future__ import annotations

import inspect

import pytest

from omteach.chain import Chain, contract_source
from omteach.errors import ContractRevertError
from omteach.exercises import ch02
from tests.answer_key import answer


@pytest.fixture(scope="module")
def outcomes() -> list[bool]:
    """What the chain does with each call of the scenario, found by making the calls (the
    expected answers are computed here, not written down)."""
    dua = ch02.deploy_example(Chain())
    out = []
    for who, fn, args in ch02.SCENARIO:
        try:
            dua.transact(fn, *args, sender=who)
            out.append(True)
        except ContractRevertError:
            out.append(False)
    return out


def test_predictions_right_answer_passes(outcomes):
    assert ch02.check_predictions(outcomes)
    assert ch02.check_predictions(answer(2, "ch02_ex1_predictions_answer", "predictions"))


def test_checker_module_exposes_no_answer(outcomes):
    """Issue 11: no public function of the checker module hands out exercise 1's answer."""
    called = []
    for name, obj in vars(ch02).items():
        if name.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != ch02.__name__:
            continue
        if any(p.default is p.empty for p in inspect.signature(obj).parameters.values()):
            continue  # needs arguments from the caller (a chain, an answer): nothing to leak
        result = obj()
        called.append(name)
        if isinstance(result, list | tuple):
            firsts = [r[0] if isinstance(r, tuple) else r for r in result]
            assert firsts != outcomes, f"ch02.{name}() returns exercise 1's answer"
    assert called, "no public function was checked"


def test_predictions_wrong_answers_point_at_the_first_miss(outcomes):
    guess = list(outcomes)
    guess[3] = not guess[3]
    guess[6] = not guess[6]
    fb = ch02.check_predictions(guess)
    assert not fb and "6 of 8 right" in fb.message
    assert "Call 4" in fb.hint and "use_data" in fb.hint


def test_predictions_bad_shapes_get_hints():
    for bad in (None, "TFTF", [True] * 3, [1, 0, 1, 0, 1, 1, 0, 1], 42):
        fb = ch02.check_predictions(bad)
        assert not fb and fb.hint


def good_rule_source() -> str:
    return answer(2, "ch02_ex2_rule_answer", "my_source", contract_source=contract_source)


def test_new_rule_answer_key_passes():
    fb = ch02.check_no_free_data_rule(good_rule_source())
    assert fb, str(fb)
    assert "is not allowed" in fb.message


def test_new_rule_wrong_answers_get_hints():
    src = contract_source("DataUseAgreement")
    cases = {
        "original": (src, "nothing was added"),
        "syntax": (src.replace("self.consent = True", "self.consent = 3"), "does not compile"),
        "dropped old rule": (good_rule_source().replace(
            '    assert msg.sender == self.data_owner, "only the data owner can grant consent"\n',
            ""), "Jane grant consent"),
        "too strict": (src.replace(
            '    assert not self.consent, "consent is already granted"\n',
            '    assert not self.consent, "consent is already granted"\n'
            '    assert self.payment_per_use > 5000, "too cheap"\n'), "even when he is paid"),
        "no reason": (src.replace(
            '    assert not self.consent, "consent is already granted"\n',
            '    assert not self.consent, "consent is already granted"\n'
            "    assert self.payment_per_use > 0\n"), "gives no reason"),
    }
    for name, (source, expected) in cases.items():
        fb = ch02.check_no_free_data_rule(source)
        assert not fb, name
        assert expected in fb.message, (name, fb.message)
        assert fb.hint, name
    assert not ch02.check_no_free_data_rule(None)
    assert not ch02.check_no_free_data_rule(12)
