# pragma version ~=0.4.3
"""
@title A market where a company posts a model to train, and data owners train it in rounds
@notice DATA  - each spec: who posts it, the model (the sha256 id of its blob), the training
                terms everyone can audit before consenting, the bounty, the number of places
                the escrow pays for, and the deadline;
        STATE - who accepted, who takes part in which round (fixed when the round opens), who
                posted the key shares and the update for a round, which shares were revealed to
                recover a dropped owner, what is left in escrow, and each party's balance;
        CODE  - consent first, at most as many owners as the escrow pays for, one submission per
                participant and round, no late work, a round closes when every participant
                submitted (or enough of them to recover the others' masks), bounties are
                credited on close and each party withdraws its own money (pull payments).
        Blobs (models, public keys, key shares, encrypted updates) live off chain; only their
        sha256 ids are here, so anyone can check that a blob is the one the contract names.

        Why pull payments: the contract never sends ether to anyone except the caller of
        `withdraw`, for the caller's own balance. A push in a loop (`for owner in owners:
        send(owner, bounty)`) lets ONE owner whose address refuses ether (a contract that
        reverts on receive) make the whole transaction revert: nobody is paid and the round
        never closes. With pull payments a refusing address only hurts itself, and it can
        always withdraw to another address (`withdraw_to`).
"""

# A class (chapter 6), not just the story's three owners. The lists are bounded, so gas grows
# with the participants, not with the cap: open_round costs ~48 k gas a participant (1.54 M gas
# for 30, 4.86 M for 100, measured on anvil by bench/classroom_bench.py) of a 30 M block.
MAX_OWNERS: constant(uint256) = 128

struct Spec:
    company: address            # who posted the spec and pays the bounties
    model_blob: bytes32         # sha256 id of the model blob for the open round
    key_blob: bytes32           # sha256 id of the company's Paillier public key
    summary: String[200]        # architecture, in words, for the owners to read
    batch_size: uint256         # local training batch size (small batches leak more)
    rounds: uint256             # how many rounds the company will run
    min_owners: uint256         # t: a round closes only with at least t submissions
    places: uint256             # how many owners may accept: the escrow pays all of them
    noise_milli: uint256        # differential-privacy noise scale x 1000 (0 = none)
    bounty: uint256             # wei per contribution (per owner and round)
    deadline: uint256           # no acceptance, submission or close after this time
    escrow: uint256             # wei held for bounties; the rest is credited back at the end
    round: uint256              # the current round, counted from 0
    opened: bool                # the current round's participants are fixed
    recovering: bool            # submissions are over; survivors reveal the dropped' shares
    finished: bool              # all rounds done, or the escrow reclaimed

# ---------------------------------------------------------------------------------------------
# STATE
# ---------------------------------------------------------------------------------------------

spec_count: public(uint256)
specs: public(HashMap[uint256, Spec])
owners: HashMap[uint256, DynArray[address, MAX_OWNERS]]
accepted: public(HashMap[uint256, HashMap[address, bool]])
mask_key: public(HashMap[uint256, HashMap[address, bytes32]])
# spec -> round -> ...
participants: HashMap[uint256, HashMap[uint256, DynArray[address, MAX_OWNERS]]]
is_participant: public(HashMap[uint256, HashMap[uint256, HashMap[address, bool]]])
shares: public(HashMap[uint256, HashMap[uint256, HashMap[address, bytes32]]])
shares_count: public(HashMap[uint256, HashMap[uint256, uint256]])
submission: public(HashMap[uint256, HashMap[uint256, HashMap[address, bytes32]]])
submission_count: public(HashMap[uint256, HashMap[uint256, uint256]])
reveal: public(HashMap[uint256, HashMap[uint256, HashMap[address, bytes32]]])
reveal_count: public(HashMap[uint256, HashMap[uint256, uint256]])
# Pull payments: what each address may withdraw (bounties, refunds of escrow).
balance_of: public(HashMap[address, uint256])

# ---------------------------------------------------------------------------------------------
# EVENTS
# ---------------------------------------------------------------------------------------------

event SpecPosted:
    spec_id: indexed(uint256)
    company: indexed(address)
    model_blob: bytes32
    rounds: uint256
    min_owners: uint256
    places: uint256
    bounty: uint256
    escrow: uint256

event PlacesAdded:
    spec_id: indexed(uint256)
    places: uint256
    escrow: uint256

event Accepted:
    spec_id: indexed(uint256)
    owner: indexed(address)
    mask_key: bytes32

event RoundOpened:
    spec_id: indexed(uint256)
    round: uint256
    participants: uint256

event SharesPosted:
    spec_id: indexed(uint256)
    round: uint256
    owner: indexed(address)
    shares_blob: bytes32

event Submitted:
    spec_id: indexed(uint256)
    round: uint256
    owner: indexed(address)
    update_blob: bytes32

event DropoutsDeclared:
    spec_id: indexed(uint256)
    round: uint256
    survivors: uint256
    dropped: uint256

event SharesRevealed:
    spec_id: indexed(uint256)
    round: uint256
    owner: indexed(address)
    reveal_blob: bytes32

event RoundClosed:
    spec_id: indexed(uint256)
    round: uint256
    contributors: uint256
    next_model_blob: bytes32

event BountyCredited:
    spec_id: indexed(uint256)
    round: uint256
    owner: indexed(address)
    amount: uint256

event EscrowReturned:
    spec_id: indexed(uint256)
    company: indexed(address)
    amount: uint256

event Withdrawn:
    account: indexed(address)
    recipient: indexed(address)
    amount: uint256

# ---------------------------------------------------------------------------------------------
# CODE
# ---------------------------------------------------------------------------------------------


@internal
@pure
def _cost(bounty: uint256, places: uint256, rounds: uint256) -> uint256:
    # bounty * places * rounds, checked BEFORE multiplying: an overflow would otherwise revert
    # with no reason at all (Vyper's built-in overflow check has no message).
    assert places == 0 or rounds <= max_value(uint256) // places, \
        "bounty x places x rounds is too large"
    slots: uint256 = places * rounds
    assert slots == 0 or bounty <= max_value(uint256) // slots, \
        "bounty x places x rounds is too large"
    return bounty * slots


@external
@payable
def post_spec(model_blob: bytes32, key_blob: bytes32, summary: String[200], batch_size: uint256,
              rounds: uint256, min_owners: uint256, places: uint256, noise_milli: uint256,
              bounty: uint256, deadline: uint256) -> uint256:
    """
    @notice The company posts a model to train. The money sent with it is the escrow; it must
            pay the bounty to every place in every round: bounty x places x rounds.
    """
    assert model_blob != empty(bytes32), "the spec must name a model blob"
    assert key_blob != empty(bytes32), "the spec must name the company's public key blob"
    assert batch_size > 0, "the batch size must be at least 1"
    assert rounds > 0, "the spec must have at least one round"
    assert min_owners > 0 and min_owners <= MAX_OWNERS, "min_owners must be between 1 and 128"
    assert places >= min_owners and places <= MAX_OWNERS, \
        "places must be between min_owners and 128"
    assert deadline > block.timestamp, "the deadline must be in the future"
    assert msg.value >= self._cost(bounty, places, rounds), \
        "the escrow must cover the bounty for every place in every round"
    spec_id: uint256 = self.spec_count
    self.spec_count = spec_id + 1
    self.specs[spec_id] = Spec(
        company=msg.sender, model_blob=model_blob, key_blob=key_blob, summary=summary,
        batch_size=batch_size, rounds=rounds, min_owners=min_owners, places=places,
        noise_milli=noise_milli, bounty=bounty, deadline=deadline, escrow=msg.value, round=0,
        opened=False, recovering=False, finished=False)
    log SpecPosted(spec_id=spec_id, company=msg.sender, model_blob=model_blob, rounds=rounds,
                   min_owners=min_owners, places=places, bounty=bounty, escrow=msg.value)
    return spec_id


@internal
@view
def _open_spec(spec_id: uint256) -> Spec:
    assert spec_id < self.spec_count, "there is no spec with this id"
    spec: Spec = self.specs[spec_id]
    assert not spec.finished, "this spec is finished"
    assert block.timestamp <= spec.deadline, "the spec's deadline has passed"
    return spec


@internal
@view
def _company_spec(spec_id: uint256) -> Spec:
    spec: Spec = self._open_spec(spec_id)
    assert msg.sender == spec.company, "only the spec's company can do this"
    return spec


@external
@payable
def add_places(spec_id: uint256, extra: uint256):
    """
    @notice The company tops up the escrow so that more owners can accept: the money sent must
            pay the bounty to each extra place in every round still to run.
    """
    spec: Spec = self._company_spec(spec_id)
    assert extra > 0, "add at least one place"
    assert extra <= MAX_OWNERS - spec.places, "a spec has at most 128 places"
    assert msg.value >= self._cost(spec.bounty, extra, spec.rounds - spec.round), \
        "the top-up must cover the bounty for the extra places in every remaining round"
    spec.places += extra
    spec.escrow += msg.value
    self.specs[spec_id] = spec
    log PlacesAdded(spec_id=spec_id, places=spec.places, escrow=spec.escrow)


@external
def accept(spec_id: uint256, mask_key: bytes32):
    """
    @notice A data owner consents to train the spec's model on their data, and publishes the id
            of their masking key (for the pairwise masks of secure aggregation). An owner who
            accepts takes part from the next round the company opens.
    """
    spec: Spec = self._open_spec(spec_id)
    assert msg.sender != spec.company, "the company cannot accept its own spec"
    assert not self.accepted[spec_id][msg.sender], "you already accepted this spec"
    assert len(self.owners[spec_id]) < spec.places, \
        "every place the escrow pays for is taken; wait for the company to add places"
    assert mask_key != empty(bytes32), "publish the id of your masking key"
    self.accepted[spec_id][msg.sender] = True
    self.mask_key[spec_id][msg.sender] = mask_key
    self.owners[spec_id].append(msg.sender)
    log Accepted(spec_id=spec_id, owner=msg.sender, mask_key=mask_key)


@external
def open_round(spec_id: uint256, participants: DynArray[address, MAX_OWNERS]):
    """
    @notice The company fixes who takes part in the current round. Masks are agreed between
            exactly these owners, so the set cannot change once anyone has submitted. Before
            that, the company may open the round again with another set (for instance without
            an owner who never posted its key shares).
    """
    spec: Spec = self._company_spec(spec_id)
    rnd: uint256 = spec.round
    assert self.submission_count[spec_id][rnd] == 0, \
        "owners have submitted: this round's participants are fixed"
    assert len(participants) >= spec.min_owners, "a round needs at least min_owners participants"
    for old: address in self.participants[spec_id][rnd]:  # opened again: forget the old set
        self.is_participant[spec_id][rnd][old] = False
        self.shares[spec_id][rnd][old] = empty(bytes32)
    self.shares_count[spec_id][rnd] = 0
    for owner: address in participants:
        assert self.accepted[spec_id][owner], "every participant must have accepted the spec"
        assert not self.is_participant[spec_id][rnd][owner], "a participant is listed twice"
        self.is_participant[spec_id][rnd][owner] = True
    self.participants[spec_id][rnd] = participants
    spec.opened = True
    self.specs[spec_id] = spec
    log RoundOpened(spec_id=spec_id, round=rnd, participants=len(participants))


@internal
@view
def _participant_spec(spec_id: uint256, round: uint256) -> Spec:
    spec: Spec = self._open_spec(spec_id)
    assert round == spec.round, "this round is not open"
    assert spec.opened, "the company has not opened this round yet"
    assert self.is_participant[spec_id][round][msg.sender], \
        "only this round's participants can do this"
    return spec


@external
def post_shares(spec_id: uint256, round: uint256, shares_blob: bytes32):
    """
    @notice A participant posts the id of its key shares for the round: its mask seeds, split
            by Shamir's scheme, one share encrypted to each other participant. Any min_owners
            of them can later remove this owner's masks if it drops out.
    """
    spec: Spec = self._participant_spec(spec_id, round)
    assert self.shares[spec_id][round][msg.sender] == empty(bytes32), \
        "you already posted your shares for this round"
    assert shares_blob != empty(bytes32), "the shares blob id is empty"
    self.shares[spec_id][round][msg.sender] = shares_blob
    self.shares_count[spec_id][round] += 1
    log SharesPosted(spec_id=spec_id, round=round, owner=msg.sender, shares_blob=shares_blob)


@external
def submit(spec_id: uint256, round: uint256, update_blob: bytes32):
    """
    @notice A participant posts the id of its encrypted update for the round. Only once every
            participant's key shares are on chain: then any dropout can be recovered.
    """
    spec: Spec = self._participant_spec(spec_id, round)
    assert not spec.recovering, \
        "submissions are closed: the company declared the dropouts of this round"
    assert self.shares_count[spec_id][round] == len(self.participants[spec_id][round]), \
        "wait until every participant has posted its key shares"
    assert self.submission[spec_id][round][msg.sender] == empty(bytes32), \
        "you already submitted in this round"
    assert update_blob != empty(bytes32), "the update blob id is empty"
    self.submission[spec_id][round][msg.sender] = update_blob
    self.submission_count[spec_id][round] += 1
    log Submitted(spec_id=spec_id, round=round, owner=msg.sender, update_blob=update_blob)


@external
def declare_dropouts(spec_id: uint256):
    """
    @notice The company ends the round's submissions: every participant that has not submitted
            is dropped from this round, and can no longer submit in it (its masks are about to
            be removed, so a late update would be readable). Needs at least min_owners
            submissions, enough to reconstruct the dropped owners' mask seeds.
    """
    spec: Spec = self._company_spec(spec_id)
    rnd: uint256 = spec.round
    assert spec.opened, "the company has not opened this round yet"
    assert not spec.recovering, "the dropouts of this round are already declared"
    count: uint256 = self.submission_count[spec_id][rnd]
    total: uint256 = len(self.participants[spec_id][rnd])
    assert count < total, "every participant submitted: there is nothing to recover"
    assert count >= spec.min_owners, \
        "too few owners submitted to recover the others: min_owners must submit"
    spec.recovering = True
    self.specs[spec_id] = spec
    log DropoutsDeclared(spec_id=spec_id, round=rnd, survivors=count, dropped=total - count)


@external
def reveal_shares(spec_id: uint256, round: uint256, reveal_blob: bytes32):
    """
    @notice A survivor (a participant that submitted) posts the id of the shares it holds of
            the dropped owners' mask seeds, decrypted: with min_owners of these, the company
            removes the dropped owners' masks from the sum.
    """
    spec: Spec = self._participant_spec(spec_id, round)
    assert spec.recovering, "the company has not declared any dropouts in this round"
    assert self.submission[spec_id][round][msg.sender] != empty(bytes32), \
        "only owners who submitted in this round can reveal shares"
    assert self.reveal[spec_id][round][msg.sender] == empty(bytes32), \
        "you already revealed your shares for this round"
    assert reveal_blob != empty(bytes32), "the reveal blob id is empty"
    self.reveal[spec_id][round][msg.sender] = reveal_blob
    self.reveal_count[spec_id][round] += 1
    log SharesRevealed(spec_id=spec_id, round=round, owner=msg.sender, reveal_blob=reveal_blob)


@external
def close_round(spec_id: uint256, next_model_blob: bytes32):
    """
    @notice The company closes the current round: each participant who submitted is credited
            the bounty (withdraw it with `withdraw`), and the next round starts from the new
            model. After the last round the rest of the escrow is credited to the company.
    """
    spec: Spec = self._company_spec(spec_id)
    closed: uint256 = spec.round
    assert spec.opened, "the company has not opened this round yet"
    count: uint256 = self.submission_count[spec_id][closed]
    if count < len(self.participants[spec_id][closed]):
        assert spec.recovering, \
            "not every participant submitted: declare the dropouts and recover their masks"
        assert self.reveal_count[spec_id][closed] >= spec.min_owners, \
            "fewer than min_owners survivors revealed their shares of the dropped owners"
    assert next_model_blob != empty(bytes32), "name the blob of the updated model"
    # Cannot fail: at most `places` owners take part, and the escrow holds the bounty for every
    # place in every remaining round (post_spec and add_places check it).
    spec.escrow -= count * spec.bounty
    spec.round = closed + 1
    spec.model_blob = next_model_blob
    spec.opened = False
    spec.recovering = False
    refund: uint256 = 0
    if spec.round == spec.rounds:
        spec.finished = True
        refund = spec.escrow
        spec.escrow = 0
    self.specs[spec_id] = spec
    log RoundClosed(spec_id=spec_id, round=closed, contributors=count,
                    next_model_blob=next_model_blob)
    # Credit, do not send: no ether leaves the contract here (pull payments, see the top).
    if spec.bounty > 0:
        for owner: address in self.participants[spec_id][closed]:
            if self.submission[spec_id][closed][owner] != empty(bytes32):
                self.balance_of[owner] += spec.bounty
                log BountyCredited(spec_id=spec_id, round=closed, owner=owner,
                                   amount=spec.bounty)
    if spec.finished:
        self._return_escrow(spec_id, spec.company, refund)


@external
def reclaim_escrow(spec_id: uint256):
    """
    @notice After the deadline the spec ends: the owners who submitted in a round the company
            never closed are credited their bounty (the company holds their updates, it must
            not be able to use them for free by stalling), and what is left of the escrow is
            credited to the company. Anyone may call it, so the money never stays locked.
    """
    assert spec_id < self.spec_count, "there is no spec with this id"
    spec: Spec = self.specs[spec_id]
    assert not spec.finished, "this spec is finished"
    assert block.timestamp > spec.deadline, "the deadline has not passed yet"
    rnd: uint256 = spec.round
    if spec.opened and spec.bounty > 0:
        for owner: address in self.participants[spec_id][rnd]:
            if self.submission[spec_id][rnd][owner] != empty(bytes32):
                # Cannot underflow: the escrow holds the bounty for every place this round.
                spec.escrow -= spec.bounty
                self.balance_of[owner] += spec.bounty
                log BountyCredited(spec_id=spec_id, round=rnd, owner=owner, amount=spec.bounty)
    refund: uint256 = spec.escrow
    spec.finished = True
    spec.escrow = 0
    self.specs[spec_id] = spec
    self._return_escrow(spec_id, spec.company, refund)


@internal
def _return_escrow(spec_id: uint256, company: address, amount: uint256):
    self.balance_of[company] += amount
    log EscrowReturned(spec_id=spec_id, company=company, amount=amount)


@internal
def _withdraw(recipient: address):
    amount: uint256 = self.balance_of[msg.sender]
    assert amount > 0, "you have nothing to withdraw"
    assert recipient != empty(address), "name an address to withdraw to"
    # Checks-effects-interactions: the balance is zero BEFORE the ether leaves, so a recipient
    # that calls back into the contract (re-entrancy) finds nothing left to take.
    self.balance_of[msg.sender] = 0
    ok: bool = raw_call(recipient, b"", value=amount, revert_on_failure=False)
    assert ok, "the recipient refused the ether: withdraw to another address with withdraw_to"
    log Withdrawn(account=msg.sender, recipient=recipient, amount=amount)


@external
@nonreentrant
def withdraw():
    """@notice Send the caller's whole balance (bounties, refunds) to the caller."""
    self._withdraw(msg.sender)


@external
@nonreentrant
def withdraw_to(recipient: address):
    """
    @notice Send the caller's whole balance to another address: for an account (e.g. a
            contract) that cannot receive ether itself.
    """
    self._withdraw(recipient)


@view
@external
def owners_of(spec_id: uint256) -> DynArray[address, MAX_OWNERS]:
    """@notice The owners who accepted the spec, in the order they accepted."""
    return self.owners[spec_id]


@view
@external
def participants_of(spec_id: uint256, round: uint256) -> DynArray[address, MAX_OWNERS]:
    """@notice The owners who take part in a round, in the order the company listed them."""
    return self.participants[spec_id][round]
