"""Every rule, revert reason and event of contracts/DataUseAgreement.vy, on eth-tester and anvil."""

from __future__ import annotations

import pytest

from omteach.errors import ContractRevertError

from .chain_fixtures import DAY, MODEL, deploy_agreement

PAY = 1_000


def refused(reason: str):
    return pytest.raises(ContractRevertError, match=reason)


def names(events) -> list[str]:
    return [e.name for e in events]


# -- deployment -------------------------------------------------------------------------------


def test_deploy_sets_the_terms_and_starts_without_consent(chain):
    expires = chain.now() + 30 * DAY
    dua = chain.deploy("DataUseAgreement", "Joe", MODEL, "digits", expires, PAY, 2, value=3 * PAY)
    state = dua.state()
    assert state["company"] == "AI Inc."
    assert state["data_owner"] == "Joe"
    assert state["model_name"] == MODEL
    assert state["expires_at"] == expires
    assert (state["payment_per_use"], state["max_uses"]) == (PAY, 2)
    assert (state["consent"], state["times_used"], state["paid_to_owner"]) == (False, 0, 0)
    assert dua.call("escrow") == 3 * PAY == state["(balance)"]
    [event] = dua.events()
    assert event.name == "EscrowDeposited"
    assert event.args == {"company": "AI Inc.", "amount": 3 * PAY}


def test_deploy_without_escrow_logs_nothing(chain):
    assert names(deploy_agreement(chain, value=0).events()) == []


@pytest.mark.parametrize(("owner", "expires_in", "max_uses", "reason"), [
    ("0x" + "0" * 40, DAY, 1, "the data owner must be a real address"),
    ("AI Inc.", DAY, 1, "the company cannot be its own data owner"),
    ("Joe", -DAY, 1, "the agreement must expire in the future"),
    ("Joe", DAY, 0, "the agreement must allow at least one use"),
])
def test_deploy_refuses_bad_terms(chain, owner, expires_in, max_uses, reason):
    with refused(reason) as info:
        chain.deploy("DataUseAgreement", owner, MODEL, "digits", chain.now() + expires_in, PAY,
                     max_uses)
    assert info.value.reason == reason
    assert info.value.sender == "AI Inc."


# -- consent ----------------------------------------------------------------------------------


def test_only_the_data_owner_grants_consent(chain):
    dua = deploy_agreement(chain)
    for who in ("AI Inc.", "Jane", "Jack"):
        with refused("only the data owner can grant consent") as info:
            dua.transact("grant_consent", sender=who)
        assert info.value.function == "DataUseAgreement.grant_consent"
    result = dua.transact("grant_consent", sender="Joe")
    assert names(result.events) == ["ConsentGranted"]
    assert result.events[0].args == {"data_owner": "Joe"}
    assert dua.call("consent") is True


def test_consent_cannot_be_granted_twice(chain):
    dua = deploy_agreement(chain)
    dua.transact("grant_consent", sender="Joe")
    with refused("consent is already granted"):
        dua.transact("grant_consent", sender="Joe")


def test_consent_cannot_be_granted_after_expiry(chain):
    dua = deploy_agreement(chain, expires_in=DAY)
    chain.advance_time(2 * DAY)
    with refused("the agreement has expired"):
        dua.transact("grant_consent", sender="Joe")


def test_only_the_data_owner_revokes_consent(chain):
    dua = deploy_agreement(chain)
    dua.transact("grant_consent", sender="Joe")
    for who in ("AI Inc.", "Jane"):
        with refused("only the data owner can revoke consent"):
            dua.transact("revoke_consent", sender=who)
    result = dua.transact("revoke_consent", sender="Joe")
    assert [(e.name, e.args) for e in result.events] == [("ConsentRevoked", {"data_owner": "Joe"})]
    assert dua.call("consent") is False


def test_consent_not_granted_cannot_be_revoked(chain):
    with refused("consent is not granted, so it cannot be revoked"):
        deploy_agreement(chain).transact("revoke_consent", sender="Joe")


# -- escrow -----------------------------------------------------------------------------------


def test_only_the_company_deposits_and_must_send_something(chain):
    dua = deploy_agreement(chain, value=0)
    with refused("only the company can deposit escrow"):
        dua.transact("deposit", sender="Joe", value=PAY)
    with refused("send some wei to deposit"):
        dua.transact("deposit", sender="AI Inc.")
    result = dua.transact("deposit", sender="AI Inc.", value=5 * PAY)
    assert [(e.name, e.args["amount"]) for e in result.events] == [("EscrowDeposited", 5 * PAY)]
    assert dua.call("escrow") == 5 * PAY


# -- use and payment ----------------------------------------------------------------------------


def test_use_pays_the_owner_in_the_same_transaction(chain):
    dua = deploy_agreement(chain, value=2 * PAY)
    dua.transact("grant_consent", sender="Joe")
    joe_before = chain.balance("Joe")
    result = dua.transact("use_data", MODEL, sender="AI Inc.")
    assert names(result.events) == ["DataUsed", "PaymentReleased"]
    assert result.events[0].args == {"company": "AI Inc.", "model_name": MODEL, "use_number": 1}
    assert result.events[1].args == {"data_owner": "Joe", "amount": PAY}
    assert chain.balance("Joe") == joe_before + PAY
    assert dua.call("escrow") == PAY
    assert (dua.call("times_used"), dua.call("paid_to_owner")) == (1, PAY)


def test_free_use_logs_no_payment(chain):
    dua = deploy_agreement(chain, pay=0, value=0)
    dua.transact("grant_consent", sender="Joe")
    assert names(dua.transact("use_data", MODEL, sender="AI Inc.").events) == ["DataUsed"]


def test_only_the_company_uses_the_data(chain):
    dua = deploy_agreement(chain)
    dua.transact("grant_consent", sender="Joe")
    for who in ("Joe", "Jane"):
        with refused("only the company can use the data"):
            dua.transact("use_data", MODEL, sender=who)


def test_use_needs_consent_and_stops_after_revocation(chain):
    dua = deploy_agreement(chain)
    with refused("the data owner has not given consent"):
        dua.transact("use_data", MODEL, sender="AI Inc.")
    dua.transact("grant_consent", sender="Joe")
    dua.transact("use_data", MODEL, sender="AI Inc.")
    dua.transact("revoke_consent", sender="Joe")
    with refused("the data owner has not given consent"):
        dua.transact("use_data", MODEL, sender="AI Inc.")
    assert dua.call("times_used") == 1


def test_use_is_refused_after_expiry(chain):
    dua = deploy_agreement(chain, expires_in=DAY)
    dua.transact("grant_consent", sender="Joe")
    chain.advance_time(DAY + 60)
    with refused("the agreement has expired"):
        dua.transact("use_data", MODEL, sender="AI Inc.")


def test_use_is_only_for_the_named_model(chain):
    dua = deploy_agreement(chain)
    dua.transact("grant_consent", sender="Joe")
    with refused("this model is not covered by the agreement"):
        dua.transact("use_data", "face-recognition-v2", sender="AI Inc.")


def test_uses_stop_at_the_agreed_number(chain):
    dua = deploy_agreement(chain, max_uses=2, value=5 * PAY)
    dua.transact("grant_consent", sender="Joe")
    results = [dua.transact("use_data", MODEL, sender="AI Inc.") for _ in range(2)]
    assert [r.events[0].args["use_number"] for r in results] == [1, 2]
    with refused("all agreed uses are used up"):
        dua.transact("use_data", MODEL, sender="AI Inc.")


def test_use_needs_enough_escrow(chain):
    dua = deploy_agreement(chain, value=PAY - 1)
    dua.transact("grant_consent", sender="Joe")
    with refused("not enough escrow to pay for this use"):
        dua.transact("use_data", MODEL, sender="AI Inc.")


def test_a_refused_transaction_changes_nothing(chain):
    dua = deploy_agreement(chain)
    before, events_before = dua.state(), dua.events()
    with refused("only the data owner can grant consent"):
        dua.transact("grant_consent", sender="Jack")
    assert dua.state() == before
    assert dua.events() == events_before


# -- refund ---------------------------------------------------------------------------------------


def test_refund_waits_until_the_agreement_ends(chain):
    dua = deploy_agreement(chain, value=3 * PAY, expires_in=DAY)
    dua.transact("grant_consent", sender="Joe")
    with refused("only the company can take back the escrow"):
        dua.transact("refund_escrow", sender="Joe")
    with refused("the agreement is still running"):
        dua.transact("refund_escrow", sender="AI Inc.")
    dua.transact("use_data", MODEL, sender="AI Inc.")
    chain.advance_time(2 * DAY)
    result = dua.transact("refund_escrow", sender="AI Inc.")
    assert [(e.name, e.args) for e in result.events] == [
        ("EscrowRefunded", {"company": "AI Inc.", "amount": 2 * PAY})]
    assert dua.call("escrow") == 0
    with refused("there is no escrow left to refund"):
        dua.transact("refund_escrow", sender="AI Inc.")


def test_refund_is_allowed_once_consent_is_revoked(chain):
    dua = deploy_agreement(chain, value=3 * PAY)
    dua.transact("grant_consent", sender="Joe")
    dua.transact("revoke_consent", sender="Joe")
    result = dua.transact("refund_escrow", sender="AI Inc.")
    assert result.events[0].args["amount"] == 3 * PAY


def test_every_event_of_the_contract_is_covered():
    """Guard: the tests above check each event the contract declares."""
    from pathlib import Path

    from omteach.chain import compile_contract

    declared = {e["name"] for e in compile_contract("DataUseAgreement").abi
                if e["type"] == "event"}
    text = Path(__file__).read_text()
    assert declared == {n for n in declared if f'"{n}"' in text}


def test_a_rule_without_a_reason_says_so(chain):
    from omteach.chain import contract_source

    src = contract_source("DataUseAgreement").replace(
        'assert not self.consent, "consent is already granted"', "assert not self.consent")
    dua = chain.deploy("DataUseAgreement", "Joe", MODEL, "p", chain.now() + DAY, 1, 1,
                       source=src, label="no-reason")
    dua.transact("grant_consent", sender="Joe")
    with pytest.raises(ContractRevertError) as info:
        dua.transact("grant_consent", sender="Joe")
    assert info.value.reason == "(the contract gave no reason)"
