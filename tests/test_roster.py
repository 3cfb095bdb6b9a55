"""Reading the roster is tolerant: whatever names are on chain, it reads, one row per student."""

from __future__ import annotations

from pathlib import Path

from omteach.chain import Chain
from omteach.chain.evm import compile_contract
from omteach.classroom.names import show_name
from omteach.classroom.roster import NO_NAME, read_roster, short_address
from omteach.story import COMPANY

HELPERS = Path(__file__).parent / "contracts"


def join_raw(chain: Chain, room, sender: str, raw: bytes) -> None:
    """join(string) with any bytes where the string goes (what raw calldata can do)."""
    from eth_abi import encode
    from eth_utils import function_signature_to_4byte_selector

    data = function_signature_to_4byte_selector("join(string)") + encode(["bytes"], [raw])
    chain._send(None, {"from": chain.address(sender), "to": room.address, "value": 0,
                       "data": data}, "join", sender)


def test_any_bytes_on_chain_read_as_one_visible_row_per_student():
    chain = Chain(cast=(COMPANY,))
    chain.new_account("Bea")  # this process's own key: a classmate cannot take its name here
    source = (HELPERS / "LooseRoster.vy").read_text()
    compile_contract("Classroom", source)  # the reader attaches it as a Classroom
    room = chain.deploy("Classroom", COMPANY, source=source, sender=COMPANY)
    hostile = [b" ", b"", b"\xff\xfe\xfd", b"Ana", "Ana\u200b".encode(),
               b"Ana", b"AI Inc.", b"Bea", "\u202eenaJ\nx".encode()]
    # Classmates: the node's spare accounts, no key and no name in this process (as through
    # the gate).
    senders = [a for a in chain.w3.eth.accounts if a not in chain.accounts.values()][:9]
    for address, raw in zip(senders, hostile, strict=True):
        join_raw(chain, room, address, raw)
    roster = read_roster(room)
    assert list(roster.values()) == senders  # every student, in order, once
    names = list(roster)
    for name, address in roster.items():
        assert name.strip() and not {"\n", "\u200b", "\u202e"} & set(name)
        assert chain.name_of(address) == name  # labelled, so tables show the same name
    assert names[0] == f"{NO_NAME} ({short_address(senders[0])})"
    assert names[2] == "\ufffd\ufffd\ufffd"
    assert names[3] == "Ana" and names[5] == f"Ana ({short_address(senders[5])})"
    assert names[4] == "Ana\\u{200B}"
    assert names[6] == f"AI Inc. ({short_address(senders[6])})"  # not the teacher's row
    assert names[7] == f"Bea ({short_address(senders[7])})"
    assert names[8] == "\\u{202E}enaJ\\u{000A}x"
    assert chain.name_of(chain.address("Bea")) == "Bea"


def test_show_name_never_fails_and_hides_nothing():
    assert show_name(b"\xc3") == "\ufffd"
    assert show_name("a\u00adb\u200fc") == "a\\u{00AD}b\\u{200F}c"
    assert show_name("  Zoë  ") == "Zoë"
    assert show_name(b"") == ""
