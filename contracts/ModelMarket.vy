# pragma version ~=0.4.3
"""
@title A market where a company posts a model to train, and data owners train it in rounds
@notice DATA  - each spec: who posts it, the model (the sha256 id of its blob), the training
                terms everyone can audit before consenting, the bounty and the deadline;
        STATE - who accepted, who submitted in which round (the id of their encrypted update),
                which round is open, what is left in escrow;
        CODE  - consent first, one submission per owner and round, no late work, a round closes
                only with enough owners, bounties paid on close, the rest returned at the end.
        Blobs (models, public keys, encrypted updates) live off chain; only their sha256 ids are
        here, so anyone can check that a blob is the one the contract names.
"""

MAX_OWNERS: constant(uint256) = 16

struct Spec:
    company: address            # who posted the spec and pays the bounties
    model_blob: bytes32         # sha256 id of the model blob for the open round
    key_blob: bytes32           # sha256 id of the company's Paillier public key
    summary: String[200]        # architecture, in words, for the owners to read
    batch_size: uint256         # local training batch size (small batches leak more)
    rounds: uint256             # how many rounds the company will run
    min_owners: uint256         # a round closes only with at least this many submissions
    noise_milli: uint256        # differential-privacy noise scale x 1000 (0 = none)
    bounty: uint256             # wei per accepted contribution
    deadline: uint256           # no acceptance, submission or close after this time
    escrow: uint256             # wei held for bounties, returned when the spec ends
    round: uint256              # the open round, counted from 0
    finished: bool              # all rounds done, or the escrow reclaimed

# ---------------------------------------------------------------------------------------------
# STATE
# ---------------------------------------------------------------------------------------------

spec_count: public(uint256)
specs: public(HashMap[uint256, Spec])
owners: HashMap[uint256, DynArray[address, MAX_OWNERS]]
accepted: public(HashMap[uint256, HashMap[address, bool]])
mask_key: public(HashMap[uint256, HashMap[address, bytes32]])
submission: public(HashMap[uint256, HashMap[uint256, HashMap[address, bytes32]]])
submission_count: public(HashMap[uint256, HashMap[uint256, uint256]])

# ---------------------------------------------------------------------------------------------
# EVENTS
# ---------------------------------------------------------------------------------------------

event SpecPosted:
    spec_id: indexed(uint256)
    company: indexed(address)
    model_blob: bytes32
    rounds: uint256
    min_owners: uint256
    bounty: uint256
    escrow: uint256

event Accepted:
    spec_id: indexed(uint256)
    owner: indexed(address)
    mask_key: bytes32

event Submitted:
    spec_id: indexed(uint256)
    round: uint256
    owner: indexed(address)
    update_blob: bytes32

event RoundClosed:
    spec_id: indexed(uint256)
    round: uint256
    contributors: uint256
    next_model_blob: bytes32

event BountyPaid:
    spec_id: indexed(uint256)
    round: uint256
    owner: indexed(address)
    amount: uint256

event EscrowReturned:
    spec_id: indexed(uint256)
    company: indexed(address)
    amount: uint256

# ---------------------------------------------------------------------------------------------
# CODE
# ---------------------------------------------------------------------------------------------


@external
@payable
def post_spec(model_blob: bytes32, key_blob: bytes32, summary: String[200], batch_size: uint256,
              rounds: uint256, min_owners: uint256, noise_milli: uint256, bounty: uint256,
              deadline: uint256) -> uint256:
    """
    @notice The company posts a model to train. The money sent with it is the escrow; it must
            cover the bounty for the minimum number of owners in every round.
    """
    assert model_blob != empty(bytes32), "the spec must name a model blob"
    assert key_blob != empty(bytes32), "the spec must name the company's public key blob"
    assert batch_size > 0, "the batch size must be at least 1"
    assert rounds > 0, "the spec must have at least one round"
    assert min_owners > 0 and min_owners <= MAX_OWNERS, "min_owners must be between 1 and 16"
    assert deadline > block.timestamp, "the deadline must be in the future"
    assert msg.value >= bounty * min_owners * rounds, \
        "the escrow must cover the bounty for min_owners in every round"
    spec_id: uint256 = self.spec_count
    self.spec_count = spec_id + 1
    self.specs[spec_id] = Spec(
        company=msg.sender, model_blob=model_blob, key_blob=key_blob, summary=summary,
        batch_size=batch_size, rounds=rounds, min_owners=min_owners, noise_milli=noise_milli,
        bounty=bounty, deadline=deadline, escrow=msg.value, round=0, finished=False)
    log SpecPosted(spec_id=spec_id, company=msg.sender, model_blob=model_blob, rounds=rounds,
                   min_owners=min_owners, bounty=bounty, escrow=msg.value)
    return spec_id


@internal
@view
def _open_spec(spec_id: uint256) -> Spec:
    assert spec_id < self.spec_count, "there is no spec with this id"
    spec: Spec = self.specs[spec_id]
    assert not spec.finished, "this spec is finished"
    assert block.timestamp <= spec.deadline, "the spec's deadline has passed"
    return spec


@external
def accept(spec_id: uint256, mask_key: bytes32):
    """
    @notice A data owner consents to train the spec's model on their data, and publishes the id
            of their masking key (for the pairwise masks of secure aggregation).
    """
    spec: Spec = self._open_spec(spec_id)
    assert msg.sender != spec.company, "the company cannot accept its own spec"
    assert not self.accepted[spec_id][msg.sender], "you already accepted this spec"
    assert len(self.owners[spec_id]) < MAX_OWNERS, "this spec has the most owners it can take"
    assert mask_key != empty(bytes32), "publish the id of your masking key"
    self.accepted[spec_id][msg.sender] = True
    self.mask_key[spec_id][msg.sender] = mask_key
    self.owners[spec_id].append(msg.sender)
    log Accepted(spec_id=spec_id, owner=msg.sender, mask_key=mask_key)


@external
def submit(spec_id: uint256, round: uint256, update_blob: bytes32):
    """@notice A data owner who accepted posts the id of their encrypted update for a round."""
    spec: Spec = self._open_spec(spec_id)
    assert self.accepted[spec_id][msg.sender], "only owners who accepted the spec can submit"
    assert round == spec.round, "this round is not open"
    assert self.submission[spec_id][round][msg.sender] == empty(bytes32), \
        "you already submitted in this round"
    assert update_blob != empty(bytes32), "the update blob id is empty"
    self.submission[spec_id][round][msg.sender] = update_blob
    self.submission_count[spec_id][round] += 1
    log Submitted(spec_id=spec_id, round=round, owner=msg.sender, update_blob=update_blob)


@external
def close_round(spec_id: uint256, next_model_blob: bytes32):
    """
    @notice The company closes the open round: each owner who submitted is paid the bounty, and
            the next round starts from the new model. After the last round the rest of the
            escrow goes back to the company.
    """
    spec: Spec = self._open_spec(spec_id)
    assert msg.sender == spec.company, "only the spec's company can close a round"
    count: uint256 = self.submission_count[spec_id][spec.round]
    assert count >= spec.min_owners, "not enough data owners submitted in this round"
    assert spec.escrow >= count * spec.bounty, "the escrow cannot pay every contributor"
    assert next_model_blob != empty(bytes32), "name the blob of the updated model"
    closed: uint256 = spec.round
    # Effects first, payments last (checks-effects-interactions): the state is final before
    # any money leaves the contract.
    spec.escrow -= count * spec.bounty
    spec.round = closed + 1
    spec.model_blob = next_model_blob
    refund: uint256 = 0
    if spec.round == spec.rounds:
        spec.finished = True
        refund = spec.escrow
        spec.escrow = 0
    self.specs[spec_id] = spec
    log RoundClosed(spec_id=spec_id, round=closed, contributors=count,
                    next_model_blob=next_model_blob)
    for owner: address in self.owners[spec_id]:
        if self.submission[spec_id][closed][owner] != empty(bytes32) and spec.bounty > 0:
            send(owner, spec.bounty)
            log BountyPaid(spec_id=spec_id, round=closed, owner=owner, amount=spec.bounty)
    if spec.finished:
        self._return_escrow(spec_id, spec.company, refund)


@external
def reclaim_escrow(spec_id: uint256):
    """@notice After the deadline, the company takes back what is left and the spec ends."""
    assert spec_id < self.spec_count, "there is no spec with this id"
    spec: Spec = self.specs[spec_id]
    assert msg.sender == spec.company, "only the spec's company can reclaim its escrow"
    assert not spec.finished, "this spec is finished"
    assert block.timestamp > spec.deadline, "the deadline has not passed yet"
    refund: uint256 = spec.escrow
    spec.finished = True
    spec.escrow = 0
    self.specs[spec_id] = spec
    self._return_escrow(spec_id, spec.company, refund)


@internal
def _return_escrow(spec_id: uint256, company: address, amount: uint256):
    if amount > 0:
        send(company, amount)
    log EscrowReturned(spec_id=spec_id, company=company, amount=amount)


@view
@external
def owners_of(spec_id: uint256) -> DynArray[address, MAX_OWNERS]:
    """@notice The owners who accepted the spec, in the order they accepted."""
    return self.owners[spec_id]
