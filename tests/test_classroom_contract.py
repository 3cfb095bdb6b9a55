"""The Classroom roster contract: every rule and revert reason, on eth-tester and anvil."""

from __future__ import annotations

import pytest

from omteach.errors import ContractRevertError
from omteach.protocol.chainblobs import deploy_board
from omteach.story import COMPANY

ETHER = 10**18


@pytest.fixture
def room(chain):
    board = deploy_board(chain, sender=COMPANY)
    room = chain.deploy("Classroom", board.address, COMPANY, sender=COMPANY)
    for name in ("Ana", "Bob"):
        chain.new_account(name)  # keys made here, as on a student's laptop
        chain.send_value("Joe", name, ETHER)
    return room


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


@pytest.mark.parametrize("who,name,reason", [
    ("Ana", "", "choose a display name (1 to 40 characters)"),
    ("Ana", COMPANY, "that display name is taken: choose another"),  # the teacher's
    (COMPANY, "Teacher", "the teacher runs the class and does not join it"),
])
def test_join_rules(room, who, name, reason):
    with pytest.raises(ContractRevertError, match="refused") as e:
        room.transact("join", name, sender=who)
    assert e.value.reason == reason
    assert room.call("class_size") == 0


def test_a_key_joins_once_and_a_name_is_taken_once(chain, room):
    room.transact("join", "Ana", sender="Ana")
    with pytest.raises(ContractRevertError) as e:
        room.transact("join", "Ana 2", sender="Ana")
    assert e.value.reason == "this key already joined the class"
    with pytest.raises(ContractRevertError) as e:
        room.transact("join", "Ana", sender="Bob")
    assert e.value.reason == "that display name is taken: choose another"
    assert room.call("class_size") == 1 and room.call("names", chain.address("Bob")) == ""


def test_a_name_longer_than_forty_characters_is_refused(room):
    with pytest.raises(ContractRevertError):
        room.transact("join", "x" * 41, sender="Ana")
    room.transact("join", "x" * 40, sender="Ana")


def test_only_the_teacher_sets_the_market_and_only_to_a_contract(chain, room):
    board = room.call("board")
    with pytest.raises(ContractRevertError) as e:
        room.transact("set_market", board, sender="Ana")
    assert e.value.reason == "only the teacher sets the class's market"
    with pytest.raises(ContractRevertError) as e:
        room.transact("set_market", "Joe", sender=COMPANY)
    assert e.value.reason == "the market must be a deployed contract"
    result = room.transact("set_market", board, sender=COMPANY)
    assert result.events[0].name == "MarketSet" and room.call("market") == board


def test_the_teacher_needs_a_name_and_it_is_reserved(chain, room):
    assert room.call("names", room.call("teacher")) == COMPANY
    with pytest.raises(ContractRevertError) as e:
        chain.deploy("Classroom", room.call("board"), "", sender=COMPANY)
    assert e.value.reason == "the teacher needs a display name too"
