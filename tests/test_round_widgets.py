"""Chapter 4 widgets and exercise checkers."""

from __future__ import annotations

import pytest

from omteach.crypto.packing import PackingCodec
from omteach.crypto.paillier import generate_keypair
from omteach.exercises import ch04
from omteach.learning.model import ModelSpec
from omteach.protocol import TrainingRun
from omteach.ui.ch04 import RoundDashboard, WhatAISees
from tests.answer_key import answer


@pytest.fixture(scope="module")
def run():
    with TrainingRun(keys=generate_keypair(2048), workers=1, rounds=2) as r:
        yield r


def test_dashboard_and_panel_through_a_dropout_and_two_rounds(run):
    dash, panel = RoundDashboard(run), WhatAISees(run)
    assert panel.decrypt_one("Joe") is None and "run a round first" in panel._out.text
    dash.run_round("Jack")
    assert "round 0 closed without Jack: Jane, Joe revealed their shares" in dash.status_text
    # The survivors' reveals removed Jack's pairwise masks and their self-masks: the sum reads.
    assert panel.decrypt_sum() <= run.company.codec.error_bound(2) / 2 + 1e-9
    assert "the revealed seeds removed the self-masks" in panel._out.text
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
    assert "all 2 rounds of this spec are done" in dash.status_text  # said with the last round
    assert dash._button.disabled is True
    dash.run_round()  # from code after the last round: says so, shows no "starting…"
    assert dash.status_text.startswith("all 2 rounds of this spec are done")
    assert dash.progress.layout.display == "none" and "starting" not in dash.progress.status.value
    assert dash._accuracy.value.count("→") == 2
    assert dash._button.disabled is True


def test_earnings_checker(run):
    paid = answer(4, "ch04_ex3_earnings_answer", "joe_earned", run=run)
    assert ch04.check_earnings(paid, run)
    fb = ch04.check_earnings(paid + 1000, run)
    assert not fb and "bounties" in fb.message
    for bad in (None, "lots", 1.5):
        assert not ch04.check_earnings(bad, run).passed


def test_ciphertext_count_checker_asks_the_library(run):
    """The expected count is the library's own: ModelSpec.n_params packed by the run's codec."""
    codec, public = run.company.codec, run.company.keys.public
    slots = codec.slots_per_ciphertext(public)

    def check(answer, layers=(64, 16, 10), codec=codec):
        return ch04.check_ciphertext_count(answer, layers=layers, codec=codec, public=public)

    for layers in ((64, 16, 10), (64, 32, 10), (64, 8, 8, 10)):
        params = ModelSpec(layers=layers).n_params
        right = codec.n_ciphertexts(params, public)
        assert check(right, layers), layers
        assert not check(right + 1, layers)
        assert "one ciphertext per value" in check(params, layers).message
        if params % slots:
            assert "round the division up" in check(params // slots, layers).hint.lower()
    # a codec with more headroom has fewer slots: the checker follows it, not a formula of its own
    wide = PackingCodec(clip=codec.clip, bits=16, max_contributions=50)
    right_wide = wide.n_ciphertexts(ModelSpec(layers=(64, 16, 10)).n_params, public)
    assert right_wide != codec.n_ciphertexts(ModelSpec(layers=(64, 16, 10)).n_params, public)
    assert check(right_wide, codec=wide)
    for bad in (None, "11", True, 3):
        fb = check(bad)
        assert not fb and fb.hint


def test_missing_mask_checker():
    jacks = answer(4, "ch04_ex2_mask_answer", "jacks_mask")
    assert (17 + 45 + jacks) % 101 == 0
    assert ch04.check_missing_mask(jacks)
    assert "wrap around" in ch04.check_missing_mask(jacks - 101).message
    assert "between 0 and n" in ch04.check_missing_mask(jacks + 101).message
    for bad in (None, jacks - 1, str(jacks), 2.0):
        fb = ch04.check_missing_mask(bad)
        assert not fb and fb.hint
