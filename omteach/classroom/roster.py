"""The class's roster, read from the Classroom contract: the same names on every machine."""

from __future__ import annotations

from omteach.chain.evm import DeployedContract


def read_roster(classroom: DeployedContract) -> dict[str, str]:
    """Display name -> address of everyone who joined, in the order they joined.

    Each student's address (and the teacher's) is also labelled with their display name on the
    contract's chain (unless it is one of that chain's own accounts), so events and tables name
    everyone alike in the teacher's process and on every student's machine. The contract keeps
    names unique and reserves the teacher's, so no student can appear as the teacher.
    """
    chain = classroom.chain
    teacher = classroom.call("teacher")
    teacher_name = classroom.call("names", teacher)
    if teacher_name not in chain.accounts:  # a student's machine: name the teacher too
        chain.label(teacher_name, teacher)
    out = {}
    for i in range(int(classroom.call("class_size"))):
        address = classroom.call("students", i)
        name = classroom.call("names", address)
        out[name] = address
        if name not in chain.accounts:
            chain.label(name, address)
    return out
