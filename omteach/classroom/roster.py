"""The class's roster, read from the Classroom contract: the same names on every machine.

Reading is tolerant by design: the contract refuses bad names, but a reader must not depend on
that (an older contract, a hostile one at the address a student typed). Names are read as raw
bytes and shown with :func:`~omteach.classroom.names.show_name`; whatever is on chain, the
roster reads, and no name can stop the class's dashboard or the teacher's round.
"""

from __future__ import annotations

from typing import Any

from omteach.chain.evm import DeployedContract
from omteach.classroom.names import show_name
from omteach.errors import InvalidValueError
from omteach.text import short_hex

NO_NAME = "(no visible name)"


def short_address(address: str) -> str:
    """An address as the dashboard shows it beside a name: ``0x1234…abcd``."""
    return short_hex(address, 4)


def read_roster(classroom: DeployedContract) -> dict[str, str]:
    """Display name -> address of everyone who joined, in the order they joined.

    Each student's address (and the teacher's) is also labelled with their display name on the
    contract's chain (unless it is one of that chain's own accounts), so events and tables name
    everyone alike in the teacher's process and on every student's machine. The contract keeps
    names unique (look-alikes included) and reserves the teacher's; a name that is empty or
    invisible, not UTF-8, shown like another, or that names an account of this process is
    shown with the student's short address after it, so it stays one row per student.
    """
    chain = classroom.chain
    teacher = classroom.call("teacher")
    teacher_name = show_name(classroom.call_text_as_bytes("names", teacher)) or NO_NAME
    _label(chain, teacher_name, teacher)
    out: dict[str, str] = {}
    for i in range(int(classroom.call("class_size"))):
        address = classroom.call("students", i)
        name = show_name(classroom.call_text_as_bytes("names", address))
        if not name or name in out or name == teacher_name:
            name = f"{name or NO_NAME} ({short_address(address)})"
        name = _label(chain, name, address)
        out[name] = address
    return out


def _label(chain: Any, name: str, address: str) -> str:
    """Label ``address`` as ``name`` on ``chain``; the name it is labelled under."""
    if name in chain.accounts:
        if chain.accounts[name].lower() == address.lower():
            return name  # this process's own key (the teacher's, a student's own)
        name = f"{name} ({short_address(address)})"  # someone else took a name we use here
    try:
        chain.label(name, address)
    except InvalidValueError:  # e.g. a label this process already gave someone else
        name = f"{name} ({short_address(address)})"
        chain.label(name, address)
    return name
