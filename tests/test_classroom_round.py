"""The live classroom round: the teacher as AI Inc. on the node, students as data owners.

The first test is the issue's: the node plus 8 student processes (each with its own key and its
own seat's digits) complete 3 rounds with one dropout and one latecomer. The others run students
in this process (each still with its own key, reaching the node only through the gate), step by
step, so that each cheating attempt is played at the exact moment it matters.
"""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest

from omteach.chain.anvil import find_anvil
from omteach.classroom.node import ClassroomNode
from omteach.classroom.owner import LEFT, ClassOwner
from omteach.classroom.rehearsal import CHEATS, light_update, rehearse_round, round_table
from omteach.classroom.student import Student
from omteach.classroom.teacher import BOUNTY, ClassTeacher
from omteach.crypto.paillier import generate_keypair
from omteach.errors import AggregationError, ContractRevertError, ProtocolError
from omteach.learning.data import Dataset
from omteach.protocol.round import Phase, Seat

from .chain_fixtures import asked_of_node

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(find_anvil() is None and os.environ.get("CI") != "true",
                                 reason="anvil not installed: run 'make setup-anvil'")]

ACCURACY_FLOOR = 0.70
"""After 3 rounds the class's model must beat this on the held-out digits (measured: 0.80; seats
hold about 170 digits each; the untrained model scores about 0.10)."""
NO_DATA = Dataset(np.zeros((1, 64), np.float32), np.zeros(1, np.int64))


def test_eight_student_processes_three_rounds_a_dropout_and_a_latecomer():
    """Seat 7 arrives once round 0 is open (takes part from round 1); seat 2 posts its key
    shares in round 1 and leaves. Every round closes; the model learns; everyone is paid for
    exactly the rounds they contributed to."""
    result = rehearse_round(8, rounds=3, late={7: 1}, leave={2: 1}, timeout=150,
                            phase_seconds={"share_seconds": 90, "submit_seconds": 20})
    print(round_table(result))
    reports = {r.name: r for r in result.reports}
    assert {n: r.error for n, r in reports.items() if r.error} == {}
    first, second, third = result.records
    assert len(first.participants) == 7 and "student-07" not in first.participants
    assert len(second.participants) == 8 and second.dropped == ["student-02"]
    assert len(second.submitted) == 7
    assert len(third.participants) == 7 and "student-02" not in third.participants
    assert [len(r.submitted) for r in result.records] == [7, 7, 7]
    assert result.initial_accuracy < 0.3 < ACCURACY_FLOOR < third.accuracy
    # the latecomer: not in round 0, then a participant; the dropout: left in round 1
    assert reports["student-07"].extra["rounds"] == {1: "revealed", 2: "revealed"}
    assert reports["student-02"].left and reports["student-02"].extra["rounds"] == {
        0: "revealed", 1: "left"}
    # pull payments: each finisher withdrew one bounty per round it contributed to; the dropout
    # was credited round 0 (it never came back to withdraw), nothing for round 1
    for name, report in reports.items():
        contributed = sum(s in ("submitted", "revealed") for s in report.extra["rounds"].values())
        if name == "student-02":
            assert report.extra["balance"] == BOUNTY and report.extra["withdrawn"] == 0
        else:
            assert report.extra["withdrawn"] == contributed * BOUNTY
            assert report.extra["balance"] == 0
        assert report.extra["audit_passed"]
    # what AI Inc. saw: one update is noise spread over the clip range, the mean is small
    for record in result.records:
        assert np.mean(np.abs(record.one_update)) > 10 * np.mean(np.abs(record.mean_update))


def test_students_who_vanish_after_dealing_shares_cost_the_class_only_the_submit_deadline():
    """The issue's rehearsal at suite size (30 and 100 run in bench/classroom_bench.py): 10
    light student processes, one of whom advertises, deals its key shares and vanishes in
    round 0. Each round closes soon after the submit deadline, waiting for no later deadline
    (round 1, without it, as soon as everyone submitted), and the model moved by exactly the
    others' mean (up to the packing's rounding)."""
    from omteach.classroom.classmates import light_values
    from omteach.learning import tasks

    n, gone = 10, 9
    with ClassroomNode(per_client=n + 1) as node:  # still up after the round, to read it
        result = rehearse_round(n, rounds=2, light=True, min_owners=3, leave={gone: 0},
                                timeout=120, interval=0.2, node=node,
                                phase_seconds={"share_seconds": 60, "submit_seconds": 8,
                                               "reveal_seconds": 30})
        teacher = result.teacher
        deadlines = [teacher.market.round_info(teacher.spec_id, r).submit_deadline
                     for r in (0, 1)]
    assert {r.name: r.error for r in result.reports if r.error} == {}
    first, second = result.records
    assert first.dropped == ["student-09"] and len(first.submitted) == n - 1
    assert second.dropped == [] and len(second.participants) == n - 1
    # Nothing waits for a later deadline (the reveals' 30 s, the 120 s timeout): the vanished
    # student costs the class the submit deadline and the survivors' reveals. How many seconds
    # that takes is the bench's to measure (bench/classroom_bench.py: the 3 s goal); here, on a
    # suite's shared cores, only that it is well under the reveal deadline.
    for record, deadline in zip(result.records, deadlines, strict=True):
        assert record.closed_at <= deadline + 15, (record.round, record.closed_at - deadline)
    size = teacher.company.weights.size
    survivors = [s for s in range(n) if s != gone]
    expected = sum(np.mean([light_values(s, r, size) for s in survivors], axis=0)
                   for r in (0, 1))
    moved = teacher.company.weights - tasks.initial_weights(teacher.model, 0)
    assert np.max(np.abs(moved - expected)) <= 2 * teacher.codec.error_bound(n - 1) / (n - 1)


# -- cheating students, step by step, in this process -------------------------------------------


@pytest.fixture(scope="module")
def keys():
    return generate_keypair(2048, fast=True)


@pytest.fixture
def klass(keys):
    """A class node, its teacher with a spec posted (min_owners 2; 5 s to submit once every
    share is in), and four students who accepted."""
    with ClassroomNode(per_client=10) as node:
        teacher = ClassTeacher.from_node(node, keys=keys)
        spec_id = teacher.post(rounds=2, places=4, min_owners=2, share_seconds=30,
                               submit_seconds=5, reveal_seconds=30)
        owners = []
        for seat in range(4):
            me = Student.join(node.gate.url, node.classroom.address, f"s{seat}")
            owner = ClassOwner(me, NO_DATA, seed=seat, update=light_update)
            assert owner.find_spec() == spec_id
            owner.accept(spec_id)
            owners.append(owner)
        yield teacher, spec_id, owners


def _play(teacher, spec_id, owners, *, skip=()):
    """Open round and step each owner (but ``skip``) until it submitted."""
    for owner in owners:
        if owner not in skip:
            assert "advertised my keys" in owner.step(spec_id)
    for owner in owners:
        if owner not in skip:
            assert "dealt my key shares" in owner.step(spec_id)
    for owner in owners:
        if owner not in skip:
            assert "submitted" in owner.step(spec_id)


def _finish(teacher, spec_id, owners):
    """Everyone submitted: AI Inc. ends the submissions, each owner reveals, AI Inc. closes."""
    teacher.company.end_submissions(spec_id)
    for owner in owners:
        assert "revealed my shares" in owner.step(spec_id)
    return teacher.close(teacher_record(teacher, spec_id))


def _three_reveal(teacher, spec_id, owners):
    """Everyone submitted, AI Inc. ended the submissions and the first three revealed: the
    fourth owner, and the round as it reads it now (its reveal is due)."""
    teacher.open_round()
    _play(teacher, spec_id, owners)
    teacher.company.end_submissions(spec_id)
    for owner in owners[:3]:
        assert "revealed my shares" in owner.step(spec_id)
    last = owners[3]
    return last, last.market.round_state(spec_id, of=[last.address])


def test_a_student_cannot_submit_twice_or_outside_its_round(klass):
    teacher, spec_id, owners = klass
    teacher.open_round()
    _play(teacher, spec_id, owners)
    cheat = owners[0]
    with pytest.raises(ContractRevertError, match="you already submitted in this round"):
        cheat.market.submit(spec_id, 0, "ab" * 32, sender=cheat.address)
    with pytest.raises(ContractRevertError, match="this round is not open"):
        cheat.market.submit(spec_id, 1, "ab" * 32, sender=cheat.address)
    record = _finish(teacher, spec_id, owners)
    assert len(record.submitted) == 4


def teacher_record(teacher, spec_id):
    from omteach.classroom.teacher import RoundRecord

    rnd = teacher.market.spec(spec_id).round
    return RoundRecord(rnd, teacher.market.participants(spec_id, rnd))


def test_a_student_cannot_submit_as_another_or_use_the_nodes_accounts(klass):
    """Only the key's owner can sign for an address; the gate refuses every way around it."""
    teacher, spec_id, owners = klass
    cheat, victim = owners[0], owners[1]
    tx = {"from": victim.address, "to": teacher.market.contract.address, "data": "0x"}
    assert cheat.student.rpc("eth_sendTransaction", [tx])["error"]["code"] == -32601
    for method, params in CHEATS:
        assert cheat.student.rpc(method, params)["error"]["code"] == -32601
    outsider = Student.join(cheat.student.chain.w3.provider.endpoint_uri,
                            teacher.classroom.address, "outsider")
    market = ClassOwner(outsider, NO_DATA).market
    teacher.open_round()
    with pytest.raises(ContractRevertError, match="only this round's participants can do this"):
        market.submit(spec_id, 0, "ab" * 32, sender=outsider.name)


def test_a_forged_or_malformed_update_is_refused_and_never_paid(klass):
    """s0 submits a blob that is not a packed ciphertext of the spec: AI Inc. refuses to decrypt
    the round (naming s0), and nobody is credited anything for it."""
    teacher, spec_id, owners = klass
    teacher.open_round()
    cheat = owners[0]
    for _ in range(2):
        for owner in owners:
            owner.step(spec_id)  # keys, then shares
    junk = cheat.student.blobs.put_json({"kind": "omteach.PackedCiphertext", "length": 3})
    cheat.market.submit(spec_id, 0, junk, sender=cheat.address)
    for owner in owners[1:]:
        owner.step(spec_id)
    with pytest.raises(AggregationError, match="s0's update"):
        _finish(teacher, spec_id, owners)
    assert [o.balance() for o in owners] == [0, 0, 0, 0]
    assert teacher.market.spec(spec_id).round == 0


def test_an_id_whose_blob_never_arrives_is_named_not_waited_for_forever(klass):
    """s0 posts the id of an update and never publishes its bytes."""
    teacher, spec_id, owners = klass
    teacher.open_round()
    for _ in range(2):
        for owner in owners:
            owner.step(spec_id)  # keys, then shares
    cheat = owners[0]
    cheat.market.submit(spec_id, 0, "cd" * 32, sender=cheat.address)
    for owner in owners[1:]:
        owner.step(spec_id)
    with pytest.raises(AggregationError, match="s0 named a blob on chain that is not on the "
                                               "board after 1 s"):
        teacher.close(teacher_record(teacher, spec_id), blob_timeout=1.0)
    assert [o.balance() for o in owners] == [0, 0, 0, 0]


def test_reading_anothers_update_gives_noise(klass):
    """Every blob is public on the node, but an update is masked and encrypted: even AI Inc.,
    who holds the private key, decrypts one update to noise; only the sum is signal."""
    teacher, spec_id, owners = klass
    teacher.open_round()
    _play(teacher, spec_id, owners)
    victim = owners[1]
    blob = teacher.market.submission(spec_id, 0, victim.address)
    doc = owners[0].student.blobs.get_json(blob)  # a classmate reads it: ciphertexts
    assert doc["kind"] == "omteach.PackedCiphertext" and "update" not in doc
    seen = teacher.company.decrypt_one(teacher.company.load_update(spec_id, victim.address,
                                                                   blob))
    truth = victim.owner.last_update
    assert abs(np.corrcoef(seen, truth)[0, 1]) < 0.2
    record = _finish(teacher, spec_id, owners)
    mean = np.mean([o.owner.last_update for o in owners], axis=0)
    assert np.allclose(record.mean_update, mean[record.shown], atol=1e-3)  # the ones shown


def test_a_student_cannot_block_the_round(klass):
    """s3 never advertises its keys: the teacher reopens without it. s2 posts its shares and
    leaves: it misses the submit deadline, the others reveal theirs and the round closes
    without it, seconds after that deadline. Both are paid nothing."""
    import time

    teacher, spec_id, owners = klass
    teacher.open_round()
    for owner in owners[:3]:
        owner.step(spec_id)
    assert "waiting for every participant's keys" in owners[0].step(spec_id)
    left_out = teacher.wait_for_shares(timeout=1.0)
    assert left_out == [owners[3].address]
    assert owners[3].address not in teacher.market.participants(spec_id, 0)
    owners[2].leave_at = 0
    for _ in range(2):
        for owner in owners[:3]:
            owner.step(spec_id)  # the reopened round: keys and shares again
    assert owners[2].step(spec_id) == LEFT
    for owner in owners[:2]:
        assert "submitted" in owner.step(spec_id)
    deadline = teacher.market.round_info(spec_id, 0).submit_deadline
    dropped = teacher.wait_for_submissions(timeout=10)
    assert dropped == [owners[2].address] and time.time() < deadline + 2
    with pytest.raises(ContractRevertError, match="the submit deadline has passed"):
        owners[2].owner.submit(spec_id, 0, light_update(owners[2].owner, spec_id, 0))
    with pytest.raises(ProtocolError, match="revealed their shares"):
        teacher.recover(dropped, timeout=0.5)
    for owner in owners[:2]:
        assert "revealed" in owner.step(spec_id)
    teacher.recover(dropped, timeout=5)
    teacher.close(teacher_record(teacher, spec_id))
    assert [o.balance() for o in owners] == [BOUNTY, BOUNTY, 0, 0]
    assert owners[0].withdraw() == BOUNTY and owners[0].balance() == 0


def test_a_round_with_a_wrong_revealed_share_is_abandoned_and_the_class_goes_on(klass):
    """s3 reveals shares it altered: they count on chain, the reveals look complete, but the
    sum cannot be unmasked. AI Inc. abandons the round (every submitter paid, the model kept,
    the dashboard says why) and the next round opens."""
    from omteach.crypto.doublemask import SHARE_PRIME, Reveal
    from omteach.protocol.parties import REVEAL_KIND
    from omteach.protocol.round import Action
    from omteach.text import canonical_json
    from omteach.ui.ch06 import TeacherDashboard

    teacher, spec_id, owners = klass
    cheat, state = _three_reveal(teacher, spec_id, owners)
    honest = cheat.owner._open_shares(state).reveal(cheat.market.submitters(spec_id, 0), [])
    bad = Reveal(honest.sender, honest.keys,
                 {u: (y + 1) % SHARE_PRIME for u, y in honest.seeds.items()})
    data = canonical_json({**bad.to_json(), "kind": REVEAL_KIND, "spec_id": spec_id,
                           "round": 0})
    cheat.market.reveal_shares(spec_id, 0, data, sender=cheat.address)
    weights = teacher.company.weights.copy()
    step = teacher.recover((), timeout=5)
    assert step.action is Action.CLOSE_ROUND  # on chain, every secret has its t shares
    record = teacher.finish(teacher_record(teacher, spec_id), step, timeout=5)
    assert "the sum cannot be unmasked" in record.abandoned
    assert [o.balance() for o in owners] == [BOUNTY] * 4  # they did their work
    assert np.array_equal(teacher.company.weights, weights)
    after = teacher.market.round_state(spec_id, 0)
    assert after.abandoned and after.recovered == () and len(after.paid) == 4
    teacher.history.append(record)
    board = TeacherDashboard(teacher)
    board.refresh()
    assert "abandoned, model kept, submitters paid" in board.rounds.value
    assert len(teacher.open_round()) == 4  # round 1 opens with the class


def test_ai_inc_ends_the_submissions_in_one_transaction_at_the_submit_deadline(klass):
    """Issue 21: at the submit deadline, with a dropout and a chain quiet since the last
    submission (its latest block older than the deadline), AI Inc. ends the submissions in one
    transaction: the market estimates it in the pending block, at the node's clock. (It once
    sent a transfer to itself first, to have a block stamped past the deadline.)"""
    teacher, spec_id, owners = klass
    teacher.open_round()
    owners[3].leave_at = 0
    for _ in range(2):
        for owner in owners:
            owner.step(spec_id)  # keys, then shares
    assert owners[3].step(spec_id) == LEFT
    for owner in owners[:3]:
        assert "submitted" in owner.step(spec_id)
    deadline = teacher.market.round_info(spec_id, 0).submit_deadline
    dropped = teacher.wait_for_submissions(timeout=10)
    assert dropped == [owners[3].address]
    assert teacher.chain.now() < deadline <= time.time()
    asked = asked_of_node(teacher.chain)
    # AI Inc. checked each update while waiting: none is left to fetch for the close.
    assert teacher.company.check_arrivals(spec_id, 0) == 3
    assert "eth_getLogs" not in asked, asked
    asked.clear()
    with pytest.raises(ProtocolError, match="revealed their shares"):
        teacher.recover(dropped, timeout=0.2)
    assert asked.count("eth_sendRawTransaction") == 1
    assert teacher.market.round_state(spec_id, of=()).phase is Phase.RECOVERING


def _refused_once(company, action: str, reason: str) -> list[str]:
    """Make AI Inc.'s ``action`` refused once with ``reason`` (the contract's words), then sent
    as usual; the list empties when the refusal was used."""
    from omteach.errors import ContractRevertError

    real, refusals = getattr(company, action), [reason]

    def not_yet(spec):
        if refusals:
            why = refusals.pop()
            raise ContractRevertError(f"refused: {why}", reason=why, function=action,
                                      sender="AI Inc.")
        return real(spec)
    setattr(company, action, not_yet)
    return refusals


def test_ending_refused_for_a_deadline_the_node_has_not_reached_is_sent_again(klass):
    """This machine's clock says the submit deadline passed, the node's next block is stamped a
    second before it (seen once in a rehearsal): AI Inc. sends end_submissions again rather than
    stopping the round; another refusal is raised as it is."""
    teacher, spec_id, owners = klass
    teacher.open_round()
    for _ in range(2):
        for owner in owners:
            owner.step(spec_id)  # keys, then shares
    for owner in owners[:3]:
        assert "submitted" in owner.step(spec_id)
    dropped = teacher.wait_for_submissions(timeout=10)
    refusals = _refused_once(teacher.company, "end_submissions",
                             "the submit deadline has not passed: participants may still submit")
    with pytest.raises(ProtocolError, match="revealed their shares"):
        teacher.recover(dropped, timeout=0.2)
    assert not refusals and teacher.ended_at > 0
    assert teacher.market.round_state(spec_id, of=()).phase is Phase.RECOVERING
    teacher.company.end_submissions = lambda spec: (_ for _ in ()).throw(ContractRevertError(
        "refused: not the owner", reason="only the spec's company", function="end_submissions",
        sender="AI Inc."))
    with pytest.raises(ContractRevertError, match="not the owner"):
        teacher._when_due(teacher.company.end_submissions)


def _only_the_first_submits(klass):
    """Round 0 opened, every student's keys and shares in, and only the first one's update."""
    teacher, spec_id, owners = klass
    teacher.open_round()
    for _ in range(2):
        for owner in owners:
            owner.step(spec_id)  # keys, then shares
    assert "submitted" in owners[0].step(spec_id)
    return teacher, spec_id, owners


def test_abandoning_refused_for_a_deadline_the_node_has_not_reached_is_sent_again(klass):
    """The same clock gap at the other action allowed only after the submit deadline: a round
    with too few submissions is still abandoned, not left open."""
    from omteach.protocol.round import Action

    teacher, spec_id, owners = _only_the_first_submits(klass)
    step = teacher.recover(teacher.wait_for_submissions(timeout=10), timeout=1)
    assert step.action is Action.ABANDON_ROUND
    refusals = _refused_once(
        teacher.company, "abandon_round",
        "wait for the submit deadline: participants may still share and submit")
    record = teacher.finish(teacher_record(teacher, spec_id), step)
    assert not refusals and record.abandoned == step.why
    assert teacher.market.spec(spec_id).round == 1


def test_a_round_with_too_few_submissions_is_abandoned_at_the_submit_deadline(klass):
    """Only s0 submits (min_owners is 2): at the submit deadline AI Inc. abandons the round
    instead of waiting for the spec's deadline; s0 is paid, the others are dropouts."""
    from omteach.protocol.round import Action

    teacher, spec_id, owners = _only_the_first_submits(klass)
    dropped = teacher.wait_for_submissions(timeout=10)
    assert len(dropped) == 3
    step = teacher.recover(dropped, timeout=1)
    assert step.action is Action.ABANDON_ROUND and "min_owners" in step.why
    assert teacher.chain.now() < teacher.market.round_info(spec_id, 0).submit_deadline
    asked = asked_of_node(teacher.chain)
    record = teacher.finish(teacher_record(teacher, spec_id), step)
    assert asked.count("eth_sendRawTransaction") == 1  # no block stamped past the deadline first
    assert record.abandoned == step.why
    assert [o.balance() for o in owners] == [BOUNTY, 0, 0, 0]
    assert teacher.market.spec(spec_id).round == 1
    assert "round 1: waiting for AI Inc. to open it" in owners[0].step(spec_id)


def test_the_student_panel_and_the_teacher_dashboard_read_the_chain(klass):
    from omteach.ui.ch06 import StudentPanel, TeacherDashboard

    teacher, spec_id, owners = klass
    panel = StudentPanel(owners[0], spec_id)
    # this class's spec has t = 2: the audit (chapter 5's policy asks for 3) says so
    assert panel.audit() is False and panel.message.kind == "warn"
    assert "✘ owners per round" in panel.message.text and "✔ model hash" in panel.message.text
    panel._accept.click()
    assert panel.message.text == "already accepted"
    teacher.open_round()
    _play(teacher, spec_id, owners)
    panel.refresh()
    assert panel.table.text == "round 0: ✔ submitted"
    board = TeacherDashboard(teacher)
    board.refresh()
    assert board.students.text == "4 students"
    assert board.students.value.count("submitted") == 4
    status = teacher.status()["round"]
    assert (status.k, status.threshold) == (3, 2) and status.phase_deadline > 0
    teacher.history.append(_finish(teacher, spec_id, owners))  # as run_round does
    board.say("round 0 closed")
    assert "round 0 closed" in board.line.text and "masked values, not weights" in board.seen.text
    panel.spec_id = 99  # a spec that is not there: the error shows in the panel, not raised
    panel._accept.click()
    assert panel.message.kind == "error" and "no spec 99" in panel.message.text


def test_a_waiting_student_reads_the_chain_again_only_after_a_new_block(klass):
    """Between blocks a student asks only for the block number: nothing it reads can change
    without one. While it waits for AI Inc. alone (after submitting, after revealing), it asks
    only for the spec: classmates' blocks (their reveals) do not make it read the round again.
    Once the teacher ends the submissions or closes the round, it steps on at once."""
    teacher, spec_id, owners = klass
    teacher.open_round()
    for _ in range(2):
        for owner in owners:
            owner.step(spec_id)  # keys, then shares
    me = owners[0]
    steps = []
    real_step = me.step
    me.step = lambda sid: steps.append(real_step(sid)) or steps[-1]
    with pytest.raises(ProtocolError, match="nothing happened"):
        me.take_part(spec_id, timeout=1.0, interval=0.05)  # about 20 polls of a quiet chain
    assert steps == ["round 0: trained, masked, encrypted and submitted"]
    for owner in owners[1:]:
        assert "submitted" in owner.step(spec_id)  # three new blocks: still nothing for me
    with pytest.raises(ProtocolError, match="nothing happened"):
        me.take_part(spec_id, timeout=1.0, interval=0.05)
    assert len(steps) == 1
    teacher.company.end_submissions(spec_id)
    with pytest.raises(ProtocolError, match="nothing happened"):
        me.take_part(spec_id, timeout=1.0, interval=0.05)
    assert len(steps) == 2 and "revealed my shares" in steps[1]
    for owner in owners[1:]:
        assert "revealed my shares" in owner.step(spec_id)  # three more blocks
    with pytest.raises(ProtocolError, match="nothing happened"):
        me.take_part(spec_id, timeout=1.0, interval=0.05)
    assert len(steps) == 2
    teacher.close(teacher_record(teacher, spec_id))
    with pytest.raises(ProtocolError, match="nothing happened"):
        me.take_part(spec_id, timeout=1.0, interval=0.05)
    assert steps[2:] == ["round 1: waiting for AI Inc. to open it"]


def test_a_survivors_reveal_reads_the_round_once(klass):
    """The step's read of the round already says who submitted: the reveal does not ask the
    chain again (issue 21: 90 survivors revealing at once through one gate)."""
    teacher, spec_id, owners = klass
    teacher.open_round()
    _play(teacher, spec_id, owners)
    teacher.company.end_submissions(spec_id)
    me = owners[0]
    calls: list[str] = []
    real = me.market.contract.call
    me.market.contract.call = lambda fn, *args: calls.append(fn) or real(fn, *args)
    assert "revealed my shares" in me.step(spec_id)
    assert calls.count("round_view") == 1, calls


def test_a_survivors_reveal_is_one_read_of_the_round_and_one_transaction(klass):
    """Issue 21: 90 survivors reveal at once through one gate, so each request counts. Once
    the parked survivor's read of the spec says AI Inc. ended the submissions, its reveal asks
    the gate for the round (one read) and sends one transaction (estimate, send, receipt): no
    block number, no blob on the board first, no fees (read for its first transaction, a
    submit phase ago: the class's node pins them)."""
    teacher, spec_id, owners = klass
    teacher.open_round()
    _play(teacher, spec_id, owners)
    me = owners[0]
    me.student.chain._fees_at -= 3600  # the submission was long ago
    asked = asked_of_node(me.student.chain)
    with pytest.raises(ProtocolError, match="nothing happened"):
        me.take_part(spec_id, timeout=0.5, interval=0.05)  # parked: the spec, nothing else
    assert set(asked) - {"eth_chainId"} == {"eth_call"}
    teacher.company.end_submissions(spec_id)
    asked.clear()
    with pytest.raises(ProtocolError, match="nothing happened"):
        me.take_part(spec_id, timeout=0.5, interval=0.05)
    assert me.rounds[0] is Seat.REVEALED
    sent = [m for i, m in enumerate(asked) if m != "eth_chainId" and not (
        m == "eth_getTransactionReceipt" and asked[i - 1] == m)]  # a busy node's second poll
    assert sent[:5] == ["eth_call", "eth_call", "eth_estimateGas", "eth_sendRawTransaction",
                        "eth_getTransactionReceipt"], sent
    assert set(sent[5:]) == {"eth_call"}, sent  # parked again: the spec


def test_a_survivor_polls_quickly_when_the_submit_deadline_is_due_and_only_then(klass):
    """After submitting, a student waits for AI Inc. to end the submissions, at the submit
    deadline on chain at the latest: its nap ends at the deadline, and it polls every
    DUE_POLL s for DUE_WINDOW s after it (issue 21: a once-a-second poll cost every survivor's
    reveal up to a second); before and long after, at its usual interval (injected clocks)."""
    from omteach.classroom.owner import DUE_POLL, DUE_WINDOW

    teacher, spec_id, owners = klass
    teacher.open_round()
    _play(teacher, spec_id, owners)
    me = owners[0]
    deadline = teacher.market.round_info(spec_id, 0).submit_deadline
    assert me.due == deadline
    naps: list[float] = []
    me.sleep = naps.append
    for at in (deadline - 30, deadline - 0.25, deadline, deadline + DUE_WINDOW - 1,
               deadline + DUE_WINDOW + 1):
        me.clock = lambda at=at: at
        me._skew = 0.0
        me.nap(1.0)
    assert naps == pytest.approx([1.0, 0.25, DUE_POLL, DUE_POLL, 1.0])
    # take_part waits through it: the first nap after the submission ends at the deadline
    naps.clear()
    me.clock = lambda: deadline - 0.5

    class Enough(Exception):
        pass

    def nap(seconds: float) -> None:
        naps.append(seconds)
        raise Enough
    me.sleep = nap
    with pytest.raises(Enough):
        me.take_part(spec_id, interval=1.0)
    assert naps == pytest.approx([0.5])
    teacher.company.end_submissions(spec_id)
    assert "revealed my shares" in me.step(spec_id) and me.due is None


def test_ai_inc_closes_the_round_before_decrypting_one_update_for_the_dashboard(klass):
    """The class waits for the close, not for the dashboard: decrypting one update (to show
    that it is noise) is a second decryption, done once the round is closed on chain."""
    teacher, spec_id, owners = klass
    teacher.open_round()
    _play(teacher, spec_id, owners)
    seen = []
    real = teacher.company.decrypt_one
    teacher.company.decrypt_one = lambda packed: seen.append(
        teacher.market.round_state(spec_id, 0).phase) or real(packed)
    record = _finish(teacher, spec_id, owners)
    assert seen == [Phase.CLOSED] and len(record.one_update) == 6


def test_the_dashboard_reads_a_closed_round_once(klass):
    """A closed round's states are final (the contract takes shares, updates and reveals only
    for the open round): status() reads them once, then only the open round."""
    teacher, spec_id, owners = klass
    teacher.open_round()
    _play(teacher, spec_id, owners)
    _finish(teacher, spec_id, owners)
    teacher.open_round()
    owners[0].step(spec_id)  # round 1: keys (no shares before every key is in)
    first = teacher.status()
    reads = []
    real = teacher.market.contract.call

    def spy(fn, *args, **kwargs):  # every read of a round's blobs goes through round_view
        if fn in ("round_view", "blobs_of"):
            reads.append(args[1])
        return real(fn, *args, **kwargs)

    teacher.market.contract.call = spy
    again = teacher.status()
    assert reads and set(reads) == {1}  # round 0 is not read again
    assert again["students"] == first["students"]
    assert {s["rounds"][0] for s in again["students"].values()} == {"revealed"}
    assert again["students"]["s0"]["rounds"][1] == "participant"


def test_the_live_dashboard_names_who_is_missing_counts_down_and_shows_credits(klass):
    """What issue 23's walk missed: while the teacher waits, the dashboard says for whom and
    until when; after a paid round the credited and withdrawable columns show the bounty; a
    background thread redraws it without a call from the (busy) kernel."""
    from omteach.ui.ch06 import TeacherDashboard

    teacher, spec_id, owners = klass
    board = TeacherDashboard(teacher)
    board.refresh()
    assert "round 0: not open yet" in board.live.text and "everyone" in board.live.text
    assert "Spec deadline in" in board.live.text
    teacher.open_round()
    board.refresh()
    assert "key shares 0 of 4; waiting for: s0, s1, s2, s3" in board.live.text
    assert "phase deadline in" in board.live.text  # the sharing deadline, on chain
    for owner in owners:
        owner.step(spec_id)  # advertise keys
    for owner in owners:
        owner.step(spec_id)  # deal key shares
    for owner in owners[:2]:
        owner.step(spec_id)  # submit
    board.refresh()
    assert "submitted 2 of 4; waiting for: s2, s3; phase deadline in" in board.live.text
    board.start(interval=0.05)
    try:
        owners[2].step(spec_id)  # the kernel does nothing: the thread sees the new submission
        for _ in range(100):
            if "submitted 3 of 4; waiting for: s3" in board.live.text:
                break
            time.sleep(0.05)
        assert "submitted 3 of 4; waiting for: s3" in board.live.text
        assert board.running
    finally:
        board.stop()
    assert not board.running
    dropped = teacher.wait_for_submissions(timeout=15)  # until the 5 s submit deadline
    teacher.chain.send_value("AI Inc.", "AI Inc.", 0)  # a block stamped past the deadline
    teacher.company.end_submissions(spec_id)
    board.refresh()
    assert "dropped s3; revealed 0 of 3; waiting for: s0, s1, s2" in board.live.text
    for owner in owners[:3]:
        owner.step(spec_id)  # reveal
    teacher.recover(dropped, timeout=5)
    teacher.history.append(teacher.close(teacher_record(teacher, spec_id)))
    board.refresh()
    rows = {r[0]: r for r in _table_rows(board.students.value)}
    assert rows["s0"][-2:] == ["0.01 ETH", "0.01 ETH"]  # credited, withdrawable
    assert rows["s3"][-2:] == ["0.00 ETH", "0.00 ETH"]  # dropped: not paid
    owners[0].withdraw()
    board.refresh()
    assert _table_rows(board.students.value)[0][-2:] == ["0.01 ETH", "0.00 ETH"]
    # a second spec: its tables start empty, the first spec's round stays out of them
    teacher.post(rounds=1, places=4, min_owners=2)
    board.refresh()
    assert board.rounds.text == "0 rounds closed" and teacher.records() == []
    assert len(teacher.history) == 1


def test_the_pause_between_rounds_counts_down_and_refuses_nonsense(klass):
    from omteach.errors import InvalidValueError
    from omteach.ui.ch06 import TeacherDashboard

    teacher, spec_id, owners = klass
    board = TeacherDashboard(teacher)
    said: list[str] = []

    def look(_seconds):  # what the dashboard draws while the teacher pauses
        board.refresh()
        said.append(board.live.text)
    teacher.pause(5, progress=said.append, sleep=look)  # everyone accepted: over at once
    assert said == ["pause over: everyone on the roster accepted; round 0 opens"]
    said.clear()

    def look_once(_seconds):  # the dashboard's view, then the pause is over: no timed wait
        look(_seconds)
        teacher.next_round_at = time.time()
    teacher.pause(30, early=False, progress=said.append, sleep=look_once)
    first = re.fullmatch(r"pause: round 0 opens in (\d+) s \(latecomers: accept now\)", said[0])
    assert first and 20 <= int(first.group(1)) <= 30, said[0]
    shown = re.search(r"opens in (\d+) s \(the pause", said[1])
    assert shown and 20 <= int(shown.group(1)) <= 30, said[1]  # however slow the refresh
    assert teacher.next_round_at is None
    for bad in (-1, "10", True, 1e9):
        with pytest.raises(InvalidValueError, match="pause between rounds"):
            teacher.pause(bad)
    with pytest.raises(InvalidValueError, match="pause must be"):
        teacher.run_rounds(pause=-1)


def test_a_waiting_student_counts_down_to_the_round_the_teacher_announced(klass):
    """Issue 23: between rounds a student's kernel knows only the chain. The teacher's pause is
    announced there (Classroom.next_round_at); the student's line counts down to it, redrawn
    from its own clock without reading the chain again, and says so when the pause ends early."""
    teacher, spec_id, owners = klass
    teacher.open_round()
    _play(teacher, spec_id, owners)
    _finish(teacher, spec_id, owners)
    me = owners[0]
    now = [time.time()]
    me.clock = lambda: now[0]
    assert me.step(spec_id) == "round 1: waiting for AI Inc. to open it"  # nothing announced
    teacher.announce(40, 40)  # what teacher.pause(40) says on chain first
    first = me.step(spec_id)
    left = int(re.fullmatch(r"round 0 closed; round 1 opens in (\d+) s \(the teacher's pause "
                            r"between rounds\)", first).group(1))
    assert 35 <= left <= 45  # the chain's clock and this one's agree to a few seconds
    now[0] += 20
    assert me.ticking() == first.replace(f"in {left} s", f"in {left - 20} s")
    now[0] += 60
    assert me.ticking() == "round 0 closed; round 1 opens now (the teacher's pause between rounds)"
    assert [line for _, line in me.log].count(first) == 1  # the log holds the wait once
    # take_part redraws the countdown from the clock between blocks: one step, many lines
    now[0] -= 60
    steps, lines = [], []
    real_step = me.step
    me.step = lambda sid: steps.append(real_step(sid)) or steps[-1]

    class Stop(Exception):
        pass

    def tick(line):
        lines.append(line)
        now[0] += 1
        if len(lines) == 4:
            raise Stop  # the student stops the cell
    with pytest.raises(Stop):
        me.take_part(spec_id, interval=0.01, on_step=tick)
    counts = [int(re.search(r"in (\d+) s", x).group(1)) for x in lines]
    # At most the one step that finds the pause: a student waiting for AI Inc. alone is parked
    # (ClassOwner.parked: one read of the spec per poll), and the line still counts down.
    assert len(steps) <= 1 and abs(counts[0] - (left - 20)) <= 2
    assert counts == [counts[0] - i for i in range(4)]
    me.step = real_step
    teacher.pause(30, sleep=lambda _s: None)  # everyone accepted: over at once, said on chain
    assert me.step(spec_id) == "round 1: waiting for AI Inc. to open it"
    assert teacher.classroom.call("pause") == 30


def _table_rows(markup: str) -> list[list[str]]:
    import re

    body = markup.split("<tbody>")[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in body.split("</tr>") if "<td" in row]


def test_a_latecomer_is_told_what_the_chain_shows(klass):
    """Issue 23: a latecomer got "has the teacher posted it? (waited 60 s)" while rounds ran.
    Mid-round it now hears that the round is under way and which round it joins; after the
    last round, that the spec finished before it arrived (not that none was posted)."""
    teacher, spec_id, owners = klass
    teacher.open_round()
    node_url = owners[0].student.chain.w3.provider.endpoint_uri  # the gate's URL
    room = owners[0].student.classroom.address
    late = ClassOwner(Student.join(node_url, room, "late"), NO_DATA, seed=9, update=light_update)
    assert late.find_spec(timeout=5) == spec_id
    teacher.make_room()  # the teacher adds a place for the fifth student (as open_round does)
    late.accept(spec_id, timeout=5)
    assert late.step(spec_id).startswith(
        "round 0 is under way without me (I accepted after AI Inc. opened it; 0 of 4 "
        "submitted): I take part in round 1, which AI Inc. opens as soon as this one closes; "
        "its sharing phase ends in ")
    teacher.announce(0, 30)  # as run_rounds(pause=30) does before its first round
    assert re.search(r"I take part in round 1, which AI Inc. opens 30 s after this one closes "
                     r"\(the teacher's pause\); its sharing phase ends in \d+ s at the latest$",
                     late.step(spec_id))
    for rnd in range(2):
        if rnd:
            teacher.open_round()
        _play(teacher, spec_id, owners + ([late] if rnd else []))
        _finish(teacher, spec_id, owners + ([late] if rnd else []))
    assert late.rounds == {1: "revealed"}  # took part in round 1 only, to the end
    later = ClassOwner(Student.join(node_url, room, "later"), NO_DATA, update=light_update)
    with pytest.raises(ProtocolError, match=r"spec 0 ran all its 2 round\(s\) before you arrived"):
        later.find_spec(timeout=0.5)


def test_the_live_dashboard_survives_a_failed_read_and_a_click_answers_at_once():
    """The thread's reads can fail (the node restarting): the dashboard says so and goes on,
    instead of a traceback landing in whichever cell runs. A click says "reading" first."""
    from types import SimpleNamespace

    from omteach.ui.ch06 import TeacherDashboard

    calls = []

    def status():
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("node restarting")
        return {"spec": SimpleNamespace(finished=True, spec_id=0, rounds=0), "students": {},
                "rounds": [], "state": None, "closed": set(), "grace": 20.0,
                "next_round_at": None}
    fake = SimpleNamespace(status=status, spec_id=0, name=str, initial_accuracy=None,
                           model=SimpleNamespace(update_clip=0.5))
    board = TeacherDashboard(fake, interval=0.01)
    board.start()
    board._thread.join(5)  # a finished spec ends the loop by itself
    assert not board.running and len(calls) == 2
    assert board.live.text.startswith("spec 0 finished")
    shown = []
    board.live.observe(lambda change: shown.append(change["new"]), "value")
    board._refresh.click()
    assert "reading the chain" in shown[0] and "finished" in board.live.text


def test_a_survivor_whose_reveal_came_after_the_early_close_is_told_and_not_lost(klass):
    """AI Inc. closes once the reveals hold t shares of every secret; a slower survivor then
    finds the round closed. Its step says so (its update counts and is paid), not a crash."""
    teacher, spec_id, owners = klass
    slow, state = _three_reveal(teacher, spec_id, owners)  # the fourth read: reveal now
    record = teacher.close(teacher_record(teacher, spec_id))  # t shares of every secret: closed
    assert sorted(record.submitted) == ["s0", "s1", "s2", "s3"]
    real = slow.market.round_state
    slow.market.round_state = lambda sid, rnd=None, **kw: state  # its reveal goes out after
    try:
        said = slow.step(spec_id)
    finally:
        slow.market.round_state = real
    assert said == ("round 0: closed before my reveal was needed (enough classmates revealed; "
                    "my update counts and is paid)")
    assert slow.rounds[0] is Seat.SUBMITTED
    assert teacher.market.balance(slow.address) > 0  # paid as a submitter
