"""The Classroom roster contract: every rule and revert reason, on eth-tester and anvil."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omteach.classroom.names import name_key, normalize_name
from omteach.errors import ContractRevertError, InvalidValueError
from omteach.protocol.chainblobs import deploy_board
from omteach.story import COMPANY

ETHER = 10**18
HELPERS = Path(__file__).parent / "contracts"
TAKEN = "that display name is taken, or looks like one that is: choose another"
ALPHABET = "use Latin letters, digits, single spaces and - ' . in a name"


@pytest.fixture
def room(chain):
    board = deploy_board(chain, sender=COMPANY)
    room = chain.deploy("Classroom", board.address, COMPANY, 40, sender=COMPANY)
    for name in ("Ana", "Bob"):
        chain.new_account(name)  # keys made here, as on a student's laptop
        chain.send_value("Joe", name, ETHER)
    return room


def refused(room, fn, *args, sender):
    """The revert reason of a refused transaction (and that it was refused)."""
    with pytest.raises(ContractRevertError, match="refused") as e:
        room.transact(fn, *args, sender=sender)
    return e.value.reason


def test_students_join_under_unique_names(chain, room):
    result = room.transact("join", "Ana", sender="Ana")
    assert result.events[0].name == "Joined" and result.events[0].args == {
        "student": "Ana", "name": "Ana"}
    room.transact("join", "Bobby", sender="Bob")
    assert room.call("class_size") == 2
    assert [room.call("students", i) for i in range(2)] == [chain.address("Ana"),
                                                           chain.address("Bob")]
    assert room.call("names", chain.address("Bob")) == "Bobby"
    assert chain.name_of(room.call("teacher")) == COMPANY


JOIN_RULES = [
    ("Ana", "", "choose a display name (1 to 40 characters)"),
    ("Ana", COMPANY, TAKEN),  # the teacher's
    ("Ana", "Al lnc", TAKEN),  # ... and what looks like it
    ("Ana", "ai-INC", TAKEN),
    ("Ana", "A1 1nc", TAKEN),
    (COMPANY, "Teacher", "the teacher runs the class and does not join it"),
    ("Ana", " ", "a display name does not start or end with a space"),
    ("Ana", "Ana ", "a display name does not start or end with a space"),
    ("Ana", "A  na", "a display name has no two spaces in a row"),
    ("Ana", "A\u200bna", ALPHABET),  # zero-width space
    ("Ana", "A\u00adna", ALPHABET),  # soft hyphen
    ("Ana", "\u202eanA", ALPHABET),  # right-to-left override
    ("Ana", "Ana\u200f", ALPHABET),  # right-to-left mark
    ("Ana", "\u0410na", ALPHABET),  # Cyrillic A
    ("Ana", "\u0391na", ALPHABET),  # Greek Alpha
    ("Ana", "Ana\u0301", ALPHABET),  # a combining accent
    ("Ana", "A\tna", ALPHABET),
    ("Ana", "x\u00d7y", ALPHABET),  # the multiplication sign, like an x
    ("Ana", "\u0131da", ALPHABET),  # dotless i
    ("Ana", "2024", "a display name needs at least one letter"),
    ("Ana", "-.'", "a display name needs at least one letter"),
]


def test_join_rules(room):
    """Each rule, in one class (a fresh contract per case would cost the suite seconds)."""
    for who, name, reason in JOIN_RULES:
        assert refused(room, "join", name, sender=who) == reason, name
    assert room.call("class_size") == 0


def test_look_alikes_of_a_classmate_are_taken(chain, room):
    room.transact("join", "Mamie O'Neil", sender="Ana")
    for look_alike in ("MAMIE ONEIL", "Marnie O'Neil", "Mamie 0'Neil", "Mam1e O-Neil",
                       "mamie.o.neil"):
        assert refused(room, "join", look_alike, sender="Bob") == TAKEN, look_alike
    room.transact("join", "Mamie O'Neill", sender="Bob")  # one letter more: another name
    assert room.call("class_size") == 2


def test_accented_latin_names_join_and_fold_their_case(chain, room):
    room.transact("join", "Zoë Łukasiewicz", sender="Ana")
    assert room.call("names", chain.address("Ana")) == "Zoë Łukasiewicz"
    assert refused(room, "join", "ZOË ŁUKASIEWICZ", sender="Bob") == TAKEN
    room.transact("join", "Zoe Lukasiewicz", sender="Bob")  # without accents: another name


RAW_NAMES = [
    (b"\xff\xfeAna", ALPHABET),  # not UTF-8 at all
    (b"Ana\xc3", "a display name must be UTF-8 text"),  # a letter cut in half
    (b"A\xc3na", "a display name must be UTF-8 text"),
    (b"\x80na", ALPHABET),  # a continuation byte alone
    (b"Ana\x00", ALPHABET),
]


def test_bytes_that_are_not_a_name_are_refused_on_chain(chain, room):
    """A student can skip every client-side check and send raw calldata: the contract decides."""
    from eth_abi import encode
    from eth_utils import function_signature_to_4byte_selector

    selector = function_signature_to_4byte_selector("join(string)")
    for raw, reason in RAW_NAMES:
        # join(string)'s selector with any bytes where the string goes: a hostile client's call.
        data = selector + encode(["bytes"], [raw])
        tx = {"from": chain.address("Ana"), "to": room.address, "value": 0, "data": data}
        with pytest.raises(ContractRevertError) as e:
            chain._send(None, tx, "Classroom.join", "Ana")
        assert e.value.reason == reason, raw
    assert room.call("class_size") == 0


def test_a_key_joins_once_and_a_name_is_taken_once(chain, room):
    room.transact("join", "Ana", sender="Ana")
    assert refused(room, "join", "Ana 2", sender="Ana") == "this key already joined the class"
    assert refused(room, "join", "Ana", sender="Bob") == TAKEN
    assert room.call("class_size") == 1 and room.call("names", chain.address("Bob")) == ""


def test_a_name_longer_than_forty_bytes_is_refused(room):
    with pytest.raises(ContractRevertError):
        room.transact("join", "x" * 41, sender="Ana")
    with pytest.raises(ContractRevertError):  # 21 letters of two bytes each
        room.transact("join", "é" * 21, sender="Ana")
    room.transact("join", "x" * 40, sender="Ana")


def test_contracts_join_only_when_the_teacher_approves_them(chain, room):
    squatter = chain.deploy("RosterSquatter", source=(HELPERS / "RosterSquatter.vy").read_text(),
                            sender="Ana")
    own_key = "join with your own key, not from a contract (or ask the teacher to approve it)"
    assert refused(squatter, "flood", room.address, 20, sender="Ana") == own_key
    assert refused(squatter, "join", room.address, "Wallet", sender="Ana") == own_key
    assert refused(room, "approve", squatter.address, sender="Ana") == (
        "only the teacher approves a contract")
    assert room.call("class_size") == 0
    room.transact("approve", squatter.address, sender=COMPANY)
    squatter.transact("join", room.address, "Wallet", sender="Ana")
    assert room.call("students", 0) == squatter.address
    assert refused(squatter, "flood", room.address, 2, sender="Ana") == own_key  # its proxies


def test_the_teacher_sets_the_size_of_the_class(chain, room):
    room.transact("set_size", 1, sender=COMPANY)
    assert room.call("size") == 1
    room.transact("join", "Ana", sender="Ana")
    assert refused(room, "join", "Bob", sender="Bob") == (
        "the class is full: ask the teacher to make room")
    assert refused(room, "set_size", 5, sender="Ana") == "only the teacher sets the class's size"
    for too_small in (0,):
        assert refused(room, "set_size", too_small, sender=COMPANY) == (
            "the class cannot be smaller than the students who joined")
    assert refused(room, "set_size", 1025, sender=COMPANY) == "a class has 1 to 1024 places"
    room.transact("set_size", 2, sender=COMPANY)
    room.transact("join", "Bob", sender="Bob")
    assert room.call("class_size") == 2
    for size in (0, 1025):
        with pytest.raises(ContractRevertError) as e:
            chain.deploy("Classroom", room.call("board"), COMPANY, size, sender=COMPANY)
        assert e.value.reason == "a class has 1 to 1024 places"


def test_the_teacher_removes_a_squatter_and_frees_the_name(chain, room):
    chain.new_account("Cy")
    chain.send_value("Joe", "Cy", ETHER)
    room.transact("join", "Ana", sender="Bob")  # Bob squats Ana's name
    room.transact("join", "Cy", sender="Cy")
    assert refused(room, "remove", chain.address("Bob"), sender="Cy") == (
        "only the teacher removes a student")
    assert refused(room, "remove", chain.address("Ana"), sender=COMPANY) == (
        "that address is not a student")
    result = room.transact("remove", chain.address("Bob"), sender=COMPANY)
    assert result.events[0].name == "Removed"
    assert room.call("class_size") == 1 and room.call("students", 0) == chain.address("Cy")
    assert refused(room, "join", "Bob", sender="Bob") == (
        "the teacher removed this key from the class")
    room.transact("join", "Ana", sender="Ana")  # the name is free again
    assert room.call("class_size") == 2


def test_only_the_teacher_sets_the_market_and_only_to_a_contract(chain, room):
    board = room.call("board")
    assert refused(room, "set_market", board, sender="Ana") == (
        "only the teacher sets the class's market")
    assert refused(room, "set_market", "Joe", sender=COMPANY) == (
        "the market must be a deployed contract")
    result = room.transact("set_market", board, sender=COMPANY)
    assert result.events[0].name == "MarketSet" and room.call("market") == board


def test_only_the_teacher_announces_the_next_round_and_a_student_reads_it(chain, room):
    """Issue 23: the pause between rounds is on chain, where a waiting student can read it."""
    assert (room.call("next_round_at"), room.call("pause")) == (0, 0)  # nothing said yet
    assert refused(room, "announce_round", 30, 30, sender="Ana") == (
        "only the teacher announces the next round")
    for opens_in, pause in ((3601, 30), (30, 3601)):
        assert refused(room, "announce_round", opens_in, pause, sender=COMPANY) == (
            "a pause between rounds is 0 to 3600 seconds")
    result = room.transact("announce_round", 30, 45, sender=COMPANY)
    stamped = chain.w3.eth.get_block(result.block)["timestamp"]
    assert result.events[0].name == "RoundAnnounced" and result.events[0].args == {
        "opens_at": stamped + 30, "pause": 45}
    assert (room.call("next_round_at"), room.call("pause")) == (stamped + 30, 45)
    result = room.transact("announce_round", 0, 45, sender=COMPANY)  # the pause ended early
    assert room.call("next_round_at") == chain.w3.eth.get_block(result.block)["timestamp"]


def test_the_teacher_needs_a_name_and_it_is_reserved(chain, room):
    assert room.call("names", room.call("teacher")) == COMPANY
    with pytest.raises(ContractRevertError) as e:
        chain.deploy("Classroom", room.call("board"), "", 40, sender=COMPANY)
    assert e.value.reason == "the teacher needs a display name too"


NAME_CHARS = st.sampled_from(list("AaBIilL10OoMmNnRrVvCcDdZz -'.") + ["é", "É", "Ł", "ł", "Ÿ",
                                                                     "ÿ", "Ő", "ő", "ß"])


@pytest.fixture(scope="module")
def tester_room():
    from omteach.chain import Chain

    chain = Chain()
    return chain.deploy("Classroom", chain.address("Joe"), COMPANY, 40, sender=COMPANY)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(NAME_CHARS, min_size=1, max_size=18))
def test_the_clients_fold_is_the_contracts(tester_room, text):
    """What the client computes before sending is what the contract enforces."""
    try:
        name = normalize_name(text)
    except InvalidValueError:
        with pytest.raises(ContractRevertError):
            tester_room.call("name_key", text)
        return
    assert name_key(name) == tester_room.call("name_key", name)


@pytest.mark.parametrize("typed,expected", [
    ("  Ana   Lee ", "Ana Lee"), ("Zoe\u0308", "Zoë"), ("Ana\u00a0Lee", "Ana Lee")])
def test_the_client_normalizes_what_a_student_typed(typed, expected):
    assert normalize_name(typed) == expected


@pytest.mark.parametrize("typed,message", [
    ("", "choose a display name"), ("A\u200bna", r"U\+200B ZERO WIDTH SPACE"),
    ("\u0410na", "CYRILLIC CAPITAL LETTER A"), ("é" * 21, "at most 40"),
    ("42", "at least one letter"), (7, "is text")])
def test_the_client_says_what_to_change_before_sending(typed, message):
    with pytest.raises(InvalidValueError, match=message):
        normalize_name(typed)
