"""The rehearsal skeleton: student processes with their own keys, through the gate, share blobs."""

from __future__ import annotations

import pytest

from omteach.chain.anvil import find_anvil
from omteach.classroom.node import ClassroomNode
from omteach.classroom.rehearsal import CHEATS, main, rehearse, report_table

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(find_anvil() is None, reason="anvil not installed: run "
                                 "'make setup-anvil'")]


def test_three_student_processes_join_publish_and_read_their_neighbours_blob():
    with ClassroomNode(per_client=4) as node:
        reports = rehearse(3, node=node, cheater=True, timeout=90)
        roster = {node.classroom.call("names", node.classroom.call("students", i))
                  for i in range(node.classroom.call("class_size"))}
        teacher_addresses = set(node.chain.accounts.values())
    assert [r.error for r in reports] == ["", "", ""]
    assert [r.neighbour for r in reports] == ["student-01", "student-02", "student-00"]
    assert all(r.read_ok for r in reports)
    assert roster == {"student-00", "student-01", "student-02"}
    # every key made in its own process: distinct, and none of them the teacher's or the node's
    addresses = {r.address for r in reports}
    assert len(addresses) == 3 and not addresses & teacher_addresses
    assert reports[0].refused == {m: -32601 for m, _ in CHEATS}
    assert reports[1].refused == {}
    assert "3/3" in report_table(reports)


def test_a_student_who_cannot_join_is_reported_not_lost():
    """A faucet that funds one student a minute: one is refused, the other waits in vain."""
    with ClassroomNode(per_client=1) as node:
        reports = rehearse(2, node=node, timeout=5)
    errors = sorted(r.error.split(":")[0] for r in reports)
    assert errors == ["ChainError", "TimeoutError"], [r.error for r in reports]
    refused = next(r for r in reports if r.error.startswith("ChainError"))
    assert "the faucet funds at most 1 address a minute" in refused.error
    waited = next(r for r in reports if r.error.startswith("TimeoutError"))
    assert waited.address and not waited.read_ok


def test_the_command_line_prints_a_summary(capsys):
    main(["--students", "2", "--skeleton"])
    assert "students=2 read_ok=2" in capsys.readouterr().out


def test_a_latecomer_and_a_dropout_at_the_process_level():
    """Seat 0 arrives 2 s late, seat 2 leaves right after joining (so seat 1 waits in vain)."""
    with ClassroomNode(per_client=4) as node:
        reports = rehearse(3, node=node, late={0: 2.0}, leave={2}, timeout=8)
        joined = node.classroom.call("class_size")
    first, second, third = reports
    assert joined == 3
    assert first.read_ok and first.error == ""  # the latecomer still reads seat 1's blob
    assert second.error.startswith("TimeoutError: student-02 published nothing")
    assert third.left and third.error == "" and not third.read_ok
    assert "left after joining" in report_table(reports)


def test_the_command_line_rehearses_the_round(capsys):
    """`make rehearsal`: the live round, seat 4 a latecomer, seat 1 a dropout."""
    main(["--students", "5", "--rounds", "2"])
    out = capsys.readouterr().out
    assert "every student finished" in out, out
    assert "students=5 rounds=2 accuracy=" in out
