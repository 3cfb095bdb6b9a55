"""The chapter 3 widgets: the ledger explorer and the mining lab, through code and buttons."""

from __future__ import annotations

import pytest

from omteach.errors import LedgerError
from omteach.ledger import Consensus, Ledger, MiningResult, RewriteCost, example_network
from omteach.ui.ch03 import LedgerExplorer, MiningLab


@pytest.fixture
def explorer():
    return LedgerExplorer(example_network(2))


def test_explorer_starts_all_green_on_every_replica(explorer):
    assert repr(explorer) == "LedgerExplorer(4 replicas)"
    assert explorer._network_view.value.count("✔ with the majority") == 4
    assert "#fdecea" not in explorer._network_view.value
    assert explorer._block.value == 1 and explorer._tx.value == 0
    assert explorer._new_text.value == "AI Inc. deposits 3000 wei escrow for digits-mlp-v1"


def test_tamper_turns_the_chain_red_from_that_block_and_the_majority_rejects_it(explorer):
    verdict = explorer.tamper("Jack", 3, 1, "Jack grants consent to nobody")
    assert isinstance(verdict, Consensus) and verdict.outvoted == ("Jack",)
    text = explorer.result_text
    assert "Jack changed block 3" in text
    assert "block 3 is the first broken block (and blocks 4–5 build on it)" in text
    assert "Jack is outvoted" in text
    assert explorer._detail.value.count("background:#fdecea") == 3  # blocks 3, 4, 5
    assert explorer._network_view.value.count("✖ outvoted") == 1
    assert explorer._replica.value == "Jack" and explorer._block.value == 3
    assert explorer._tx.value == 1 and explorer._new_text.value == "Jack grants consent to nobody"


def test_re_mining_makes_the_copy_verify_but_it_is_still_outvoted(explorer):
    explorer.tamper("AI Inc.", 1, 1, "Joe grants consent to AI Inc. for any model")
    cost = explorer.rewrite("AI Inc.", 1)
    assert isinstance(cost, RewriteCost) and cost.blocks == 5
    text = explorer.result_text
    assert "✔ all 6 blocks check out" in text
    assert "AI Inc. is outvoted: its copy verifies on its own" in text
    assert "#fef7e0" in explorer._network_view.value


def test_errors_are_shown_in_the_widget_not_raised(explorer):
    out = explorer.tamper("Zed", 1, 0, "x")
    assert isinstance(out, LedgerError) and "unknown replica 'Zed'" in explorer.result_text
    out = explorer.tamper("Joe", 2, 0, "Jane grants consent to AI Inc.")
    assert isinstance(out, LedgerError) and "already reads" in explorer.result_text
    assert "⚠" in explorer._result.value
    assert isinstance(explorer.rewrite("Joe", 17), LedgerError)
    assert "from 0 to 5" in explorer.result_text


def test_the_buttons_and_reset(explorer):
    explorer._replica.value = "Jane"
    explorer._block.value = 2
    explorer._tx.value = 1
    assert explorer._new_text.value == "AI Inc. uses Joe's data for digits-mlp-v1"
    explorer._new_text.value = "AI Inc. uses Joe's data for anything"
    explorer._tamper_button.click()
    assert "Jane is outvoted" in explorer.result_text
    explorer._rewrite_button.click()
    assert "re-mined blocks 2–5" in explorer.result_text
    explorer._reset_button.click()
    assert "Every replica holds the original ledger again" in explorer.result_text
    assert explorer.network.consensus().majority == explorer.network.participants
    assert explorer._network_view.value.count("✔ with the majority") == 4


def test_mining_lab_mines_at_the_chosen_difficulty_with_progress():
    lab = MiningLab(difficulty=6)
    assert repr(lab) == "MiningLab(difficulty=6, blocks=1)"
    result = lab.mine()
    assert isinstance(result, MiningResult) and result.block.difficulty == 6
    assert result.block.hash.startswith("0") and int(result.block.hash, 16) >> 250 == 0
    assert lab.progress.bar.value == lab.progress.bar.max
    assert f"done: {result.attempts:,} attempts" == lab.progress.status.value
    assert f"{result.attempts:,} attempts in" in lab.result_text
    assert lab.ledger.verify().ok and len(lab.ledger) == 2
    lab._difficulty.value = 14
    assert "about 16,384 attempts" in lab._bits_note.value
    notes = []
    lab.progress.status.observe(lambda ch: notes.append(ch["new"]), names="value")
    lab._button.click()
    assert lab.ledger.tip.difficulty == 14 and lab.ledger.tip.index == 2
    assert any("attempts so far" in n for n in notes)
    assert repr(lab) == "MiningLab(difficulty=14, blocks=3)"


def test_mining_lab_shows_errors():
    lab = MiningLab(Ledger(1), difficulty=1)
    assert isinstance(lab.mine(30), LedgerError)
    assert "from 0 to 24, got 30" in lab.result_text
    assert isinstance(lab.mine(2, "   "), LedgerError)
    assert "non-empty text" in lab.result_text
    assert lab._button.disabled is False and len(lab.ledger) == 1
