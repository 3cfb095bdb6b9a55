"""Chapter 2 checkers: right answers pass, wrong ones get a hint, nothing raises."""

from __future__ import annotations

from omteach.chain import contract_source
from omteach.exercises import ch02

RIGHT = [False, False, True, False, True, True, False, True]


def test_predictions_right_answer_passes():
    assert [ok for ok, _ in ch02.run_scenario()] == RIGHT
    assert ch02.check_predictions(RIGHT)


def test_predictions_wrong_answers_point_at_the_first_miss():
    answer = list(RIGHT)
    answer[3] = True
    answer[6] = True
    fb = ch02.check_predictions(answer)
    assert not fb and "6 of 8 right" in fb.message
    assert "Call 4" in fb.hint and "use_data" in fb.hint


def test_predictions_bad_shapes_get_hints():
    for bad in (None, "TFTF", [True] * 3, [1, 0, 1, 0, 1, 1, 0, 1], 42):
        fb = ch02.check_predictions(bad)
        assert not fb and fb.hint


def good_rule_source() -> str:
    src = contract_source("DataUseAgreement")
    anchor = '    assert not self.consent, "consent is already granted"\n'
    return src.replace(anchor, anchor + '    assert self.payment_per_use > 0, "no free use"\n')


def test_new_rule_right_answer_passes():
    fb = ch02.check_no_free_data_rule(good_rule_source())
    assert fb, str(fb)
    assert "no free use" in fb.message


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
