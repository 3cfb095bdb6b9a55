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
    main(["--students", "5", "--rounds", "2", "--submit-seconds", "15"])
    out = capsys.readouterr().out
    assert "every student finished" in out, out
    assert "students=5 rounds=2 accuracy=" in out


def test_student_processes_come_from_a_preloaded_server_and_draw_their_own_randomness():
    """Forked from one server that imported the students' modules once (not from this process):
    each child still draws its own secrets, and none holds this process's objects."""
    import multiprocessing
    import sys

    from omteach.classroom.rehearsal import STUDENT_MODULES, student_context

    ctx = student_context()
    if "forkserver" not in multiprocessing.get_all_start_methods():
        assert ctx.get_start_method() == "spawn"
        return
    assert ctx.get_start_method() == "forkserver"
    sys.modules[__name__].SECRET_OF_THE_TEACHER = "not for students"  # noqa: B010
    q = ctx.Queue()
    code = ("import sys, secrets; q.put((secrets.token_hex(16), "
            f"all(m in sys.modules for m in {list(STUDENT_MODULES)!r}), "
            f"getattr(sys.modules.get({__name__!r}), 'SECRET_OF_THE_TEACHER', None)))")
    procs = [ctx.Process(target=exec, args=(code, {"q": q})) for _ in range(3)]
    for p in procs:
        p.start()
    answers = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    assert len({token for token, _, _ in answers}) == 3
    assert all(preloaded for _, preloaded, _ in answers)
    assert all(secret is None for _, _, secret in answers)


def test_a_local_class_reports_its_start_and_runs_a_round_with_the_notebooks_student():
    """What notebook 06 does: three simulated classmates, AI Inc. in a thread, and one more
    owner here; starting the class says each step (a progress bar's steps)."""
    import numpy as np

    from omteach.classroom.owner import ClassOwner
    from omteach.classroom.rehearsal import LocalClass, light_update
    from omteach.classroom.student import Student
    from omteach.learning.data import Dataset

    lines: list[str] = []
    local = LocalClass(simulated=3, rounds=1, progress=lines.append, timeout=60)
    try:
        assert len(lines) == LocalClass.steps() and "node" in lines[0] and "3 simulated" in lines[1]
        me = Student.join(local.url, local.classroom, "Ana")
        owner = ClassOwner(me, Dataset(np.zeros((1, 64), np.float32), np.zeros(1, np.int64)),
                           update=light_update)
        spec_id = owner.find_spec()
        owner.accept(spec_id)
        assert owner.take_part(spec_id, timeout=60) == "finished"
        local.wait(60)
        assert local.error is None
        [record] = local.records
        assert len(record.submitted) == 4 and "Ana" in record.submitted
        assert owner.withdrawn > 0
    finally:
        local.stop()
    assert LocalClass.steps(teacher=False) == 2


def test_a_missing_network_namespace_is_named_with_what_to_do():
    """A rehearsal's student sent to a namespace that is not there says which, and how to make
    it, before it opens any connection (nothing entered, nothing changed)."""
    from omteach.classroom.classmates import enter_netns
    from omteach.errors import SetupError

    with pytest.raises(SetupError, match="no network namespace 'omt-none-here'.*ip netns add"):
        enter_netns("omt-none-here")
