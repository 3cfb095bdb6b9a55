# pragma version ~=0.4.3
"""
@title Data-use agreement between one data owner and one company
@notice Read it in three parts, like any smart contract:
        DATA  - the parties and the terms, fixed when the contract is deployed;
        STATE - what is true today (consent, uses so far, money paid), changed only by the code;
        CODE  - the rules: who may change the state, when, and what happens to the money.
        Every change is logged as an event; every refusal carries a reason.
"""

# ---------------------------------------------------------------------------------------------
# DATA: the parties and the terms. Set once by the deployer, never changed afterwards.
# ---------------------------------------------------------------------------------------------

company: public(address)            # who wants to use the data (AI Inc.)
data_owner: public(address)         # whose data it is (Joe, Jane or Jack)
model_name: public(String[64])      # the only model that may be trained on the data
purpose: public(String[100])        # what the data is for, in words
expires_at: public(uint256)         # after this time (seconds since 1970) no use is allowed
payment_per_use: public(uint256)    # wei paid to the data owner for each use
max_uses: public(uint256)           # how many uses the owner agrees to at most

# ---------------------------------------------------------------------------------------------
# STATE: what is true today. Only the functions below can change it.
# ---------------------------------------------------------------------------------------------

consent: public(bool)               # does the data owner consent today?
times_used: public(uint256)         # how many times the data was used so far
paid_to_owner: public(uint256)      # wei released to the data owner so far

# ---------------------------------------------------------------------------------------------
# EVENTS: the contract's log. Everyone can read every change.
# ---------------------------------------------------------------------------------------------

event ConsentGranted:
    data_owner: indexed(address)

event ConsentRevoked:
    data_owner: indexed(address)

event DataUsed:
    company: indexed(address)
    model_name: String[64]
    use_number: uint256

event PaymentReleased:
    data_owner: indexed(address)
    amount: uint256

event EscrowDeposited:
    company: indexed(address)
    amount: uint256

event EscrowRefunded:
    company: indexed(address)
    amount: uint256

# ---------------------------------------------------------------------------------------------
# CODE: the rules.
# ---------------------------------------------------------------------------------------------


@deploy
@payable
def __init__(data_owner: address, model_name: String[64], purpose: String[100],
             expires_at: uint256, payment_per_use: uint256, max_uses: uint256):
    """
    @notice The company deploys the agreement and may send money with it (the escrow).
            Consent starts as "no": only the data owner can say yes.
    """
    assert data_owner != empty(address), "the data owner must be a real address"
    assert data_owner != msg.sender, "the company cannot be its own data owner"
    assert expires_at > block.timestamp, "the agreement must expire in the future"
    assert max_uses > 0, "the agreement must allow at least one use"
    self.company = msg.sender
    self.data_owner = data_owner
    self.model_name = model_name
    self.purpose = purpose
    self.expires_at = expires_at
    self.payment_per_use = payment_per_use
    self.max_uses = max_uses
    if msg.value > 0:
        log EscrowDeposited(company=msg.sender, amount=msg.value)


@external
def grant_consent():
    """@notice The data owner says yes. Nobody else can."""
    assert msg.sender == self.data_owner, "only the data owner can grant consent"
    assert not self.consent, "consent is already granted"
    assert block.timestamp <= self.expires_at, "the agreement has expired"
    self.consent = True
    log ConsentGranted(data_owner=msg.sender)


@external
def revoke_consent():
    """@notice The data owner says no again. From now on every use is refused."""
    assert msg.sender == self.data_owner, "only the data owner can revoke consent"
    assert self.consent, "consent is not granted, so it cannot be revoked"
    self.consent = False
    log ConsentRevoked(data_owner=msg.sender)


@external
@payable
def deposit():
    """@notice The company adds money to the escrow that pays for uses."""
    assert msg.sender == self.company, "only the company can deposit escrow"
    assert msg.value > 0, "send some wei to deposit"
    log EscrowDeposited(company=msg.sender, amount=msg.value)


@external
def use_data(model_name: String[64]):
    """
    @notice The company records one use of the data for training `model_name`.
            The payment for this use goes to the data owner in the same transaction:
            the money moves only when the data is used.
    """
    assert msg.sender == self.company, "only the company can use the data"
    assert self.consent, "the data owner has not given consent"
    assert block.timestamp <= self.expires_at, "the agreement has expired"
    assert model_name == self.model_name, "this model is not covered by the agreement"
    assert self.times_used < self.max_uses, "all agreed uses are used up"
    assert self.balance >= self.payment_per_use, "not enough escrow to pay for this use"
    self.times_used += 1
    log DataUsed(company=msg.sender, model_name=model_name, use_number=self.times_used)
    if self.payment_per_use > 0:
        self.paid_to_owner += self.payment_per_use
        send(self.data_owner, self.payment_per_use)
        log PaymentReleased(data_owner=self.data_owner, amount=self.payment_per_use)


@external
def refund_escrow():
    """
    @notice The company takes back the unspent escrow, once no more use can happen:
            after the agreement expired, or once consent is revoked.
    """
    assert msg.sender == self.company, "only the company can take back the escrow"
    assert block.timestamp > self.expires_at or not self.consent, \
        "the agreement is still running: wait until it expires or consent is revoked"
    amount: uint256 = self.balance
    assert amount > 0, "there is no escrow left to refund"
    send(self.company, amount)
    log EscrowRefunded(company=msg.sender, amount=amount)


@view
@external
def escrow() -> uint256:
    """@notice Wei held by the contract, waiting to pay for uses."""
    return self.balance
