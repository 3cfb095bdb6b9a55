"""Chapter 4 widgets and exercise checkers."""

from __future__ import annotations

import pytest

from omteach.crypto.paillier import generate_keypair
from omteach.exercises import ch04
from omteach.protocol import TrainingRun
from omteach.ui.ch04 import RoundDashboard, WhatAISees


@pytest.fixture(scope="module")
def run():
    with TrainingRun(keys=generate_keypair(2048), workers=1, rounds=2) as r:
        yield r


def test_dashboard_and_panel_through_a_dropout_and_two_rounds(run):
    dash, panel = RoundDashboard(run), WhatAISees(run)
    assert panel.decrypt_one("Joe") is None and "run a round first" in panel._out.text
    dash.run_round("Jack")
    assert "round 0 closed without Jack: Jane, Joe revealed their shares" in dash.status_text
    assert panel.decrypt_sum() is None and "do not cancel" in panel._out.text
    assert panel.decrypt_one("Jack") is None and "did not submit" in panel._out.text
    corr = panel.decrypt_one("Joe")
    assert corr is not None and abs(corr) < 0.2
    assert "SharesRevealed" in dash._events.value and "recovery" in dash._steps.value
    dash._drop.value = "nobody"
    dash._button.click()
    assert "round 1 closed: Jack, Jane, Joe contributed" in dash.status_text
    assert panel.decrypt_sum() <= run.company.codec.error_bound(3) / 3 + 1e-9
    assert "RoundClosed" in dash._events.value and "BountyCredited" in dash._events.value
    assert "encryption" in dash._steps.value and "Jack" in dash._blobs.value
    dash.run_round()
    assert "all 2 rounds are done" in dash.status_text
    assert dash._accuracy.value.count("→") == 2
    assert dash._button.disabled is False


def test_earnings_checker(run):
    paid = sum(e.args["amount"] for e in run.market.contract.events()
               if e.name == "BountyCredited" and e.args["owner"] == "Joe")
    assert ch04.check_earnings(paid, run)
    fb = ch04.check_earnings(paid + 1000, run)
    assert not fb and "bounties" in fb.message
    for bad in (None, "lots", 1.5):
        assert not ch04.check_earnings(bad, run).passed


def test_ciphertext_count_checker():
    assert ch04.check_ciphertext_count(11, layers=(64, 16, 10))
    assert ch04.check_ciphertext_count(22, layers=(64, 32, 10))
    assert "round the division up" in ch04.check_ciphertext_count(10).hint.lower()
    assert "one ciphertext per value" in ch04.check_ciphertext_count(1210).message
    for bad in (None, "11", True, 3):
        fb = ch04.check_ciphertext_count(bad)
        assert not fb and fb.hint


def test_missing_mask_checker():
    assert ch04.check_missing_mask(39)
    assert "wrap around" in ch04.check_missing_mask(-62).message
    assert "between 0 and n" in ch04.check_missing_mask(140).message
    for bad in (None, 38, "39", 2.0):
        fb = ch04.check_missing_mask(bad)
        assert not fb and fb.hint
