"""Chapter 3 checkers: right answers pass, wrong ones get a hint, nothing raises."""

from __future__ import annotations

import pytest

from omteach.exercises import ch03
from omteach.ledger import block_hash, check_blocks
from tests.answer_key import answer


@pytest.fixture(scope="module")
def find_first_broken():
    return answer(3, "ch03_ex1_first_broken_answer", "find_first_broken", block_hash=block_hash)


def test_find_first_broken_answer_key_passes(find_first_broken):
    fb = ch03.check_find_first_broken(find_first_broken)
    assert fb, str(fb)
    # the cases' expected answers agree with the library's own verification
    for what, blocks, expected, _ in ch03.broken_ledgers():
        problems = check_blocks(blocks)
        assert (problems[0].index if problems else None) == expected, what


def test_find_first_broken_wrong_answers_get_hints(find_first_broken):
    def hash_only(blocks):
        return next((i for i, b in enumerate(blocks) if block_hash(b) != b.hash), None)

    def skips_genesis(blocks):
        return next((i for i, b in enumerate(blocks) if i > 0 and (
            block_hash(b) != b.hash or b.prev_hash != blocks[i - 1].hash)), None)

    def genesis_against_newest(blocks):  # blocks[i - 1] at i = 0 is the newest block
        return next((i for i, b in enumerate(blocks) if block_hash(b) != b.hash
                     or b.prev_hash != blocks[i - 1].hash), None)

    def crashes(blocks):
        return blocks[99]

    cases = {
        "hash only": (hash_only, "block 2 alone re-mined", "prev_hash"),
        "skips genesis": (skips_genesis, "genesis block edited", "block 0"),
        "crashes": (crashes, "raised IndexError", "two ways"),
        "always zero": (lambda blocks: 0, "untouched ledger", "return None"),
        "genesis vs blocks[-1]": (genesis_against_newest, "says block 0", "blocks[-1]"),
        "returns text": (lambda blocks: "block 2", "return a block index", "two ways"),
        "returns bool": (lambda blocks: False, "return a block index", "two ways"),
        "misses the newest": (lambda blocks: find_first_broken(blocks[:-1]),
                              "newest block edited", "newest"),
    }
    for name, (fn, in_message, in_hint) in cases.items():
        fb = ch03.check_find_first_broken(fn)
        assert not fb, name
        assert in_message in fb.message, (name, fb.message)
        assert in_hint in fb.hint, (name, fb.hint)
    for bad in (None, 42, "find_first_broken"):
        fb = ch03.check_find_first_broken(bad)
        assert not fb and fb.hint
    assert "No answer yet" in ch03.check_find_first_broken(None).message


def test_expected_attempts_answer_key_passes():
    expected_attempts = answer(3, "ch03_ex2_attempts_answer", "expected_attempts")
    assert ch03.check_expected_attempts(expected_attempts)
    assert ch03.check_expected_attempts(lambda bits, depth: float(expected_attempts(bits, depth)))


def test_expected_attempts_wrong_answers_get_their_diagnosis():
    cases = {
        "one block": (lambda b, d: 2 ** b, "does not grow with the depth", "cost of one block"),
        "hex digits": (lambda b, d: d * 16 ** b, "16×", "not hex digits"),
        "multiplies": (lambda b, d: 2 ** (b * d), "multiplies", "add up"),
        "half": (lambda b, d: d * 2 ** (b - 1), "half", "average"),
        "linear": (lambda b, d: b * d, "constant amount", "doubles"),
        "other": (lambda b, d: d * 3 ** b, "for bits=20, depth=10", "coin flips"),
        "crash": (lambda b, d: 1 / b, "raised ZeroDivisionError", "coin flips"),
        "text": (lambda b, d: "many", "return a number", "coin flips"),
    }
    for name, (fn, in_message, in_hint) in cases.items():
        fb = ch03.check_expected_attempts(fn)
        assert not fb, name
        assert in_message in fb.message, (name, fb.message)
        assert in_hint in fb.hint, (name, fb.hint)
    for bad in (None, 4096, [1, 2]):
        fb = ch03.check_expected_attempts(bad)
        assert not fb and fb.hint


def test_tamper_sticks_answer_key_passes():
    net = answer(3, "ch03_ex3_tamper_answer", "attacked", checks=ch03)
    fb = ch03.check_tamper_sticks(net)
    assert fb, str(fb)
    assert "AI Inc., Joe, Jane still outvote it" in fb.message


def test_tamper_sticks_wrong_answers_get_hints():
    from omteach.ledger import example_network

    untouched = ch03.fresh_network()
    not_remined = ch03.fresh_network()
    not_remined.tamper("Jack", 3, 0, ch03.ATTACK_TEXT)
    remined_too_late = ch03.fresh_network()
    remined_too_late.tamper("Jack", 3, 0, ch03.ATTACK_TEXT)
    remined_too_late.rewrite_from("Jack", 4)
    remined_one = ch03.fresh_network()
    remined_one.tamper("Jack", 3, 0, ch03.ATTACK_TEXT)
    remined_one.rewrite_from("Jack", 3, blocks=1)
    someone_else = ch03.fresh_network()
    someone_else.tamper("Jack", 3, 0, ch03.ATTACK_TEXT)
    someone_else.rewrite_from("Jack", 3)
    someone_else.tamper("Joe", 1, 0, "Joe pays Jack")
    other_network = example_network()
    other_network.tamper("Jack", 3, 0, ch03.ATTACK_TEXT)
    other_network.rewrite_from("Jack", 3)
    wrong_text = ch03.fresh_network()
    wrong_text.tamper("Jack", 3, 1, ch03.ATTACK_TEXT)
    wrong_text.rewrite_from("Jack", 3)
    cases = {
        "untouched": (untouched, "not 'AI Inc. pays Jack 1000 wei'", "net.tamper"),
        "not re-mined": (not_remined, "does not verify: block 3's stored hash", "rewrite_from"),
        "too late": (remined_too_late, "does not verify: block 3's", "the block you edited"),
        "one block": (remined_one, "block 4 names parent", "every block after it"),
        "someone else": (someone_else, "copies of Joe changed", "only Jack's replica"),
        "other network": (other_network, "a different ledger", "fresh_network()"),
        "wrong transaction": (wrong_text, "first transaction", "net.tamper"),
    }
    for name, (net, in_message, in_hint) in cases.items():
        fb = ch03.check_tamper_sticks(net)
        assert not fb, name
        assert in_message in fb.message, (name, fb.message)
        assert in_hint in fb.hint, (name, fb.hint)
    for bad in (None, "Jack", ch03.fresh_network().replica("Jack")):
        fb = ch03.check_tamper_sticks(bad)
        assert not fb and fb.hint


def test_the_lesson_does_not_write_out_exercise_2s_formula():
    """Neither the chapter's text (its summary included) nor the rewrite-cost plot's legend says
    "depth × 2^bits": the exercise asks for it, and the plot is there to check it against."""
    import re
    from pathlib import Path

    import matplotlib
    import nbformat

    matplotlib.use("Agg")
    from omteach.ledger import measure_rewrite_costs
    from omteach.ui.ch03 import plot_rewrite_cost

    formula = re.compile(r"(\bn\b|\*n\*|depth)\s*(×|\*|·|x)\s*2", re.I)
    sources = Path(__file__).resolve().parents[1] / "source" / "course"
    chapter = sources / "03_ledger_immutability.ipynb"
    lesson = [c.source for c in nbformat.read(chapter, as_version=4).cells
              if c.cell_type == "markdown"]
    assert not [text for text in lesson if formula.search(text)]
    fig = plot_rewrite_cost(measure_rewrite_costs((2,), depth=2))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend and not [label for label in legend if formula.search(label) or "^" in label]
