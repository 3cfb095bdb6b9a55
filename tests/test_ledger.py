"""omteach.ledger: hashing, links, verification, tampering, proof-of-work, majority of replicas."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from omteach.errors import LedgerError
from omteach.ledger import (
    BLOCK_INTERVAL,
    GENESIS_TIME,
    MAX_DIFFICULTY,
    STORY,
    ZERO_HASH,
    Block,
    Ledger,
    MiningResult,
    Network,
    RewriteCost,
    block_hash,
    canonical_json,
    example_ledger,
    example_network,
    leading_zero_bits,
    measure_rewrite_costs,
    meets_difficulty,
    mine,
    sha256_hex,
)
from omteach.ui.ch03 import replica_label
from omteach.ui.formatters import render_html

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

texts = st.text(min_size=1, max_size=24).filter(lambda s: s.strip() != "")
batches = st.lists(st.lists(texts, min_size=1, max_size=3), min_size=1, max_size=6)


@st.composite
def ledgers(draw, max_difficulty: int = 3) -> Ledger:
    return Ledger.build(draw(batches), draw(st.integers(0, max_difficulty)))


@st.composite
def tampered(draw):
    """A ledger, a block and a transaction in it, and a new text different from the old one."""
    ledger = draw(ledgers())
    index = draw(st.integers(0, len(ledger) - 1))
    tx = draw(st.integers(0, len(ledger[index].transactions) - 1))
    new = draw(texts)
    assume(new != ledger[index].transactions[tx])
    return ledger, index, tx, new


# -- hashing ----------------------------------------------------------------------------------


def test_sha256_is_the_standard_one_and_one_character_changes_everything():
    assert sha256_hex("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    a = sha256_hex("Joe grants consent to AI Inc.")
    b = sha256_hex("Joe grants consent to AI Inc!")
    differing_bits = bin(int(a, 16) ^ int(b, 16)).count("1")
    assert 80 < differing_bits < 176  # about half of 256 bits flip


def test_canonical_json_ignores_key_order_and_spacing():
    assert canonical_json({"b": 1, "a": ["é"]}) == canonical_json({"a": ["é"], "b": 1})
    assert canonical_json({"b": 1, "a": ["é"]}) == '{"a":["é"],"b":1}'.encode()


def test_block_hash_is_sha256_of_the_canonical_json_of_everything_but_the_hash():
    block = example_ledger(2)[3]
    content = {k: v for k, v in block.__dict__.items() if k != "hash"}
    content["transactions"] = list(content["transactions"])
    manual = hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"),
                                       ensure_ascii=False).encode()).hexdigest()
    assert block_hash(block) == manual == block.hash


def test_difficulty_counts_leading_zero_bits():
    assert leading_zero_bits("0" * 64) == 256
    assert leading_zero_bits("1" + "0" * 63) == 3
    assert meets_difficulty("1" + "f" * 63, 3) and not meets_difficulty("1" + "f" * 63, 4)
    assert meets_difficulty("f" * 64, 0)


# -- mining -----------------------------------------------------------------------------------


@FAST
@given(txs=st.lists(texts, min_size=1, max_size=3), difficulty=st.integers(0, 7),
       index=st.integers(0, 50))
def test_mining_finds_the_first_nonce_that_meets_the_difficulty(txs, difficulty, index):
    result = mine(index, GENESIS_TIME, txs, ZERO_HASH, difficulty)
    block = result.block
    assert block.hash == block_hash(block)
    assert meets_difficulty(block.hash, difficulty)
    assert result.attempts == block.nonce + 1
    for nonce in range(block.nonce):  # no smaller nonce would have done
        earlier = Block(index, GENESIS_TIME, tuple(txs), ZERO_HASH, difficulty, nonce, "")
        assert not meets_difficulty(block_hash(earlier), difficulty)
    assert mine(index, GENESIS_TIME, txs, ZERO_HASH, difficulty).block == block  # deterministic


def test_mining_reports_progress_and_a_final_count():
    calls = []
    result = mine(1, GENESIS_TIME, ["x"], ZERO_HASH, 12, progress=lambda a, e: calls.append((a, e)),
                  progress_every=512)
    assert calls[-1] == (result.attempts, 4096)
    assert [a for a, _ in calls] == sorted(a for a, _ in calls)
    assert len(calls) == result.attempts // 512 + 1


def test_average_attempts_are_about_two_to_the_difficulty():
    ledger = Ledger.build([[f"entry {i}"] for i in range(60)], 6)
    mean = sum(b.nonce + 1 for b in ledger.blocks) / len(ledger)
    assert 32 < mean < 128, mean  # 2**6 = 64 on average


def test_a_ledger_is_deterministic_and_time_is_a_logical_clock():
    a, b = example_ledger(), example_ledger()
    assert a == b and a.fingerprint() == b.fingerprint()
    assert [blk.timestamp for blk in a] == [GENESIS_TIME + i * BLOCK_INTERVAL
                                            for i in range(len(STORY) + 1)]
    assert a[1].time == "2026-01-01 00:10"
    assert a[0].prev_hash == ZERO_HASH
    pairs = zip(a.blocks, a.blocks[1:], strict=False)
    assert all(blk.prev_hash == parent.hash for parent, blk in pairs)


# -- verification and tampering --------------------------------------------------------------


@FAST
@given(ledger=ledgers())
def test_untouched_ledgers_verify(ledger):
    result = ledger.verify()
    assert result.ok and result.first_broken is None and result.reason == ""
    assert "✔ all" in repr(result)
    assert all(s == "✔ ok" for s in ledger.statuses())


@FAST
@given(case=tampered())
def test_any_tamper_makes_verify_name_exactly_that_block(case):
    ledger, index, tx, new = case
    stored = ledger[index].hash
    edited = ledger.tamper(index, tx, new)
    assert edited.hash == stored and edited.transactions[tx] == new  # no hash was fixed
    result = ledger.verify()
    assert not result and result.first_broken == index
    assert result.reason.startswith(f"block {index}'s stored hash does not match its contents")
    statuses = ledger.statuses()
    assert all(s == "✔ ok" for s in statuses[:index])
    assert all(s.startswith("✖") for s in statuses[index:])  # red from the tampered block on


@FAST
@given(case=tampered())
def test_fixing_one_hash_breaks_the_next_link_and_rewriting_to_the_tip_verifies(case):
    ledger, index, tx, new = case
    ledger.tamper(index, tx, new)
    ledger.rewrite_from(index, blocks=1)
    result = ledger.verify()
    if index == len(ledger) - 1:
        assert result.ok
    else:
        assert result.first_broken == index + 1
        named, actual = ledger[index + 1].prev_hash[:10], ledger[index].hash[:10]
        assert result.reason == (f"block {index + 1} names parent {named}…, but block {index} "
                                 f"hashes to {actual}…")
        cost = ledger.rewrite_from(index + 1)
        assert cost.blocks == len(ledger) - index - 1
        assert cost.attempts == sum(cost.per_block) == sum(
            b.nonce + 1 for b in ledger.blocks[index + 1:])
    assert ledger.verify().ok
    assert ledger[index].transactions[tx] == new


def test_an_unmined_block_fails_the_work_check():
    ledger = example_ledger(8)
    lazy = Block(6, ledger.tip.timestamp + 600, ("free lunch",), ledger.tip.hash, 8, 0, "")
    lazy = Block(**{**lazy.__dict__, "hash": block_hash(lazy)})
    assert not meets_difficulty(lazy.hash, 8)  # nonce 0 happens not to be lucky here
    ledger._blocks.append(lazy)
    result = ledger.verify()
    assert result.first_broken == 6 and "does not start with 8 zero bits" in result.reason


def test_rewrite_from_keeps_time_transactions_and_difficulty():
    ledger = example_ledger(4)
    before = ledger.blocks
    ledger.tamper(2, 0, "Jane grants consent to Jack")
    cost = ledger.rewrite_from(2)
    assert repr(cost) == f"re-mined blocks 2–5: {cost.attempts:,} hash attempts in all"
    assert len(cost.per_block_seconds) == 4 and cost.seconds >= 0
    for old, new in zip(before[2:], ledger.blocks[2:], strict=True):
        assert (old.timestamp, old.difficulty, old.index) == (new.timestamp, new.difficulty,
                                                              new.index)
        assert new.hash != old.hash
    assert ledger.blocks[:2] == before[:2]


def test_rewrite_costs_grow_with_depth_and_difficulty():
    costs = measure_rewrite_costs((2, 6, 10), depth=6)
    for bits, runs in costs.items():
        attempts = [r.attempts for r in runs]
        assert [r.blocks for r in runs] == [1, 2, 3, 4, 5, 6]
        assert all(a < b for a, b in zip(attempts, attempts[1:], strict=False)), (bits, attempts)
        assert runs[-1].start == 1 and runs[0].start == 6
    assert costs[2][-1].attempts < costs[6][-1].attempts < costs[10][-1].attempts


def test_copies_are_independent():
    a = example_ledger(2)
    b = a.copy()
    b.tamper(1, 0, "edited")
    assert a.verify().ok and not b.verify().ok and a != b


def test_views_mark_blocks_red_from_the_first_broken_one():
    ledger = example_ledger(2)
    ledger.tamper(3, 1, "Jack grants consent to nobody")
    html = render_html(ledger)
    assert html.count("background:#fdecea") == 3 and html.count("background:#e6f4ea") == 3
    text = repr(ledger)
    assert text.startswith("Ledger: 6 blocks, difficulty 2 bits")
    assert "✖ builds on broken block 3" in text and "Jack grants consent to nobody" in text
    assert "(and blocks 4–5 build on it)" in repr(ledger.verify())


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("call, message", [
    (lambda led: led[6], r"block index must be a whole number from 0 to 5 .* got 6"),
    (lambda led: led[-1], r"from 0 to 5 .* got -1"),
    (lambda led: led.tamper(True, 0, "x"), r"got True"),
    (lambda led: led.tamper("2", 0, "x"), r"got '2'"),
    (lambda led: led.tamper(2, 2, "x"), r"block 2 has 2 transactions, numbered 0 to 1"),
    (lambda led: led.tamper(2, 0, ""), r"non-empty text"),
    (lambda led: led.tamper(2, 0, 42), r"non-empty text"),
    (lambda led: led.tamper(2, 0, "Jane grants consent to AI Inc."), r"already reads"),
    (lambda led: led.append([]), r"at least one transaction"),
    (lambda led: led.append("Joe pays"), r"not a single string"),
    (lambda led: led.append(["ok", ""]), r"every transaction must be a non-empty text"),
    (lambda led: led.append(5), r"got int"),
    (lambda led: led.append(["x"], difficulty=MAX_DIFFICULTY + 1), r"from 0 to 24, got 25"),
    (lambda led: led.append(["x"], difficulty=-1), r"got -1"),
    (lambda led: led.append(["x"], difficulty=2.0), r"got 2.0"),
    (lambda led: setattr(led, "difficulty", True), r"got True"),
    (lambda led: led.rewrite_from(9), r"from 0 to 5"),
    (lambda led: led.rewrite_from(4, blocks=3), r"from block 4 there are 2 block\(s\)"),
    (lambda led: led.rewrite_from(4, blocks=0), r"got 0"),
])
def test_errors_say_what_went_wrong_and_what_to_do(call, message):
    ledger = example_ledger(1)
    before = ledger.copy()
    with pytest.raises(LedgerError, match=message):
        call(ledger)
    assert ledger == before  # a refused call changes nothing


def test_network_and_measurement_errors():
    net = example_network(1)
    with pytest.raises(LedgerError, match="unknown replica 'Zed'.*AI Inc., Joe, Jane, Jack"):
        net.tamper("Zed", 1, 0, "x")
    with pytest.raises(LedgerError, match="distinct"):
        Network(example_ledger(1), ["Joe", "Joe"])
    with pytest.raises(LedgerError, match="distinct"):
        Network(example_ledger(1), [])
    with pytest.raises(LedgerError, match="depth must be"):
        measure_rewrite_costs((2,), depth=0)
    with pytest.raises(LedgerError, match="difficulty"):
        measure_rewrite_costs((99,), depth=2)


# -- the network: one copy per participant, majority decides ---------------------------------


@st.composite
def attacks(draw):
    """Replica names, a minority of them tampering (some re-mining), and their edits."""
    n = draw(st.integers(3, 7))
    names = [f"node{i}" for i in range(n)]
    bad = draw(st.lists(st.sampled_from(names), unique=True, max_size=(n - 1) // 2))
    edits = [(name, draw(st.integers(0, len(STORY))), draw(st.integers(0, 1)), draw(texts),
              draw(st.booleans())) for name in bad]
    return names, edits


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=attacks())
def test_majority_picks_the_honest_copy_when_fewer_than_half_tamper(case):
    names, edits = case
    honest = Ledger.build(STORY, 1)
    net = Network(honest, names)
    tamperers = set()
    for name, index, tx, text, remine in edits:
        blk = net.replica(name)[index]
        tx = min(tx, len(blk.transactions) - 1)
        if text == blk.transactions[tx]:
            continue
        net.tamper(name, index, tx, text)
        if remine:
            net.rewrite_from(name, index)
        tamperers.add(name)
    verdict = net.consensus()
    assert verdict.winner == honest.fingerprint()
    assert set(verdict.majority) == set(names) - tamperers
    assert set(verdict.outvoted) == tamperers
    for name in tamperers:
        assert verdict.reason(name).startswith(("its copy fails verification",
                                                "its copy verifies on its own"))


def test_the_tampered_replica_is_outvoted_with_its_reason():
    net = example_network(2)
    net.tamper("AI Inc.", 1, 1, "Joe grants consent to AI Inc. for any model")
    verdict = net.consensus()
    assert verdict.majority == ("Joe", "Jane", "Jack") and verdict.outvoted == ("AI Inc.",)
    assert "block 1's stored hash does not match its contents" in verdict.reason("AI Inc.")
    assert repr(verdict).startswith("✔ majority: Joe, Jane, Jack hold the same copy")
    net.rewrite_from("AI Inc.", 1)
    verdict = net.consensus()
    assert net.replica("AI Inc.").verify().ok
    assert verdict.reason("AI Inc.") == ("its copy verifies on its own, but differs from the "
                                         "majority's copy from block 1 on")
    html = render_html(net)
    assert html.count("✖ outvoted") == 1 and html.count("✔ with the majority") == 3
    assert html.count("background:#fef7e0") == 5  # AI Inc.'s blocks 1-5: valid but different


def test_a_re_mined_majority_wins_even_if_it_lies():
    net = example_network(2)
    for name in ("AI Inc.", "Jane", "Jack"):
        net.tamper(name, 5, 0, "Joe never revoked consent")
        net.rewrite_from(name, 5)
    verdict = net.consensus()
    assert verdict.majority == ("AI Inc.", "Jane", "Jack") and verdict.outvoted == ("Joe",)
    assert "differs from the majority's copy from block 5 on" in verdict.reason("Joe")


def test_copies_that_fail_verification_never_win():
    net = example_network(1)
    for name in ("AI Inc.", "Jane", "Jack"):
        net.tamper(name, 2, 0, "same forgery everywhere")
    verdict = net.consensus()
    assert not verdict.agreed and verdict.majority == ()
    # Joe's honest copy verifies: with no majority it is undecided, not "outvoted".
    assert verdict.outvoted == ("AI Inc.", "Jane", "Jack") and verdict.undecided == ("Joe",)
    assert "only 1 of 4 replicas hold it" in verdict.reason("Joe")
    assert repr(verdict).startswith("✖ no majority")
    assert "○ Joe is undecided" in repr(verdict) and "Joe is outvoted" not in repr(verdict)


def test_without_a_majority_honest_replicas_are_not_labelled_outvoted():
    net = example_network(1)
    for name in ("AI Inc.", "Jane"):  # two of four copies tampered: no majority
        net.tamper(name, 1, 0, "forged")
    verdict = net.consensus()
    assert not verdict.agreed
    labels = {n: replica_label(verdict, n) for n in net.participants}
    assert labels["Joe"] == labels["Jack"] == ("○ verifies, no majority", "warn")
    assert labels["AI Inc."] == labels["Jane"] == ("✖ outvoted", "error")
    html = render_html(net)
    assert html.count("✖ outvoted") == 2 and html.count("○ verifies, no majority") == 2


def test_append_goes_to_the_majority_and_sync_repairs_the_rest():
    net = example_network(2)
    result = net.append(["Jack revokes consent"])
    assert result.block.index == 6 and all(len(r) == 7 for r in net.replicas.values())
    assert len({r.fingerprint() for r in net.replicas.values()}) == 1
    assert repr(result).startswith("block 6 mined at difficulty 2 bits: nonce ")
    net.tamper("Jane", 6, 0, "Jack grants consent forever")
    net.append(["AI Inc. pays Jack 1000 wei"])
    assert [len(net.replica(n)) for n in net.participants] == [8, 8, 7, 8]
    assert net.sync() == ("Jane",)
    assert net.consensus().majority == net.participants and len(net.replica("Jane")) == 8
    net.reset()
    assert all(r == example_ledger(2) for r in net.replicas.values())


def test_append_without_a_majority_is_refused():
    net = Network(example_ledger(1), ["A", "B"])
    net.tamper("A", 1, 0, "forged")
    net.rewrite_from("A", 1)
    with pytest.raises(LedgerError, match="no copy is held by a majority"):
        net.append(["x"])
    with pytest.raises(LedgerError, match="nothing to sync to"):
        net.sync()


# -- the same facts on the EVM chain ------------------------------------------------------------


def test_evm_blocks_link_to_parents_and_replay_gives_the_same_state():
    from omteach.chain import Chain

    def run(chain):
        dua = chain.deploy("DataUseAgreement", "Joe", "digits-mlp-v1", "train", 2_000_000_000,
                           1_000, 3, value=3_000)
        txs = [dua.transact("grant_consent", sender="Joe").tx_hash,
               dua.transact("use_data", "digits-mlp-v1", sender="AI Inc.").tx_hash]
        return dua, txs

    one, two = Chain(), Chain()
    (dua1, txs1), (dua2, txs2) = run(one), run(two)
    blocks = one.blocks()
    assert all(c.parent_hash == p.hash for p, c in zip(blocks, blocks[1:], strict=False))
    assert txs1 == txs2 and dua1.state().rows == dua2.state().rows
    assert one.state_root() == two.state_root() and one.state_root().startswith("0x")
    assert one.state_root(1) != one.state_root()  # the state changed after block 1
    assert [b.hash for b in one.blocks(1)] != [b.hash for b in two.blocks(1)]


def test_texts_count_blocks_and_attempts_in_proper_english():
    ledger = example_ledger(1)
    ledger.tamper(len(ledger) - 2, 0, "forged")
    text = repr(ledger.verify())
    assert "(and block 5 builds on it)" in text and "5–5" not in text
    ledger = example_ledger(1)
    ledger.tamper(2, 0, "forged")
    assert "(and blocks 3–5 build on it)" in repr(ledger.verify())
    one = RewriteCost(start=5, blocks=1, attempts=1, seconds=0.0, per_block=(1,))
    assert repr(one) == "re-mined block 5: 1 hash attempt in all"
    many = RewriteCost(start=2, blocks=3, attempts=1234, seconds=0.0, per_block=(1, 2, 1231))
    assert repr(many) == "re-mined blocks 2–4: 1,234 hash attempts in all"
    block = ledger[1]
    assert ", 1 attempt (expected" in repr(MiningResult(block, 1, 0.0))


def test_counts_of_one_read_as_one():
    ledger = example_ledger(1)
    assert ledger[1].difficulty == 1 and len(ledger[0].transactions) == 1
    assert repr(ledger).startswith("Ledger: 6 blocks, difficulty 1 bit\n")
    assert "mined at difficulty 1 bit:" in repr(MiningResult(ledger[1], 3, 0.0))
    with pytest.raises(LedgerError, match=r"has 1 transaction, numbered 0 to 0"):
        ledger.tamper(0, 5, "x")
