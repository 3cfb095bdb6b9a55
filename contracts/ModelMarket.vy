# pragma version ~=0.4.3
# pragma optimize codesize
"""
@title A market where a company posts a model to train, and data owners train it in rounds
@notice DATA  - each spec: who posts it, the model (the sha256 id of its blob), the training
                terms everyone can audit before consenting, the bounty, the number of places
                the escrow pays for, and the deadline;
        STATE - who accepted, who takes part in which round (fixed when the round opens, with
                the round's public seed, neighbourhood size k and share threshold t), the
                round keys each participant advertised, who posted the key shares, the update
                and the revealed shares for a round, the phases' deadlines, what is left in
                escrow, and each party's balance;
        CODE  - consent first, at most as many owners as the escrow pays for; in each round:
                advertise keys and post shares before the sharing deadline, submit before the
                submit deadline (who does not is a dropout), reveal before the reveal deadline;
                one of each per participant and round; bounties are credited on close and each
                party withdraws its own money (pull payments).
        Blobs (models, public keys, key shares, encrypted updates) live off chain; only their
        sha256 ids are here, so anyone can check that a blob is the one the contract names.
        Revealed shares are the exception: a few kilobytes that every survivor sends at the
        same moment, so they travel in the `reveal_shares` transaction itself (one transaction,
        not a blob and then its id); the contract hashes them, keeps the sha256 id and logs
        the bytes in the SharesRevealed event.

        Secure aggregation (Bonawitz et al. CCS 2017 over SecAgg+ neighbourhoods, Bell et al.
        CCS 2020): every participant masks its update with a self-mask and pairwise masks shared
        with its k neighbours, and deals Shamir shares (threshold t) of both secrets to them.
        After the submissions end, every survivor reveals its shares of the survivors' self-mask
        seeds and of the dropouts' mask keys; honest participants never reveal both for one
        owner, and this contract makes the survivor set one public fact that cannot change
        once the submissions end.

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
# A phase of a lesson's round lasts seconds to minutes; a day bounds a typo (and the overflow).
MAX_PHASE: constant(uint256) = 86400
# One survivor's revealed shares: a share (33 bytes, as hex in JSON) for each of at most k + 1
# = 128 holders' secrets is about 14.7 kB; a round of 100 (k = 20) reveals about 2.5 kB each.
MAX_REVEAL: constant(uint256) = 16384

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
    share_seconds: uint256      # each round: advertise keys and post shares within this
    submit_seconds: uint256     # ... then submit within this, once every share is in
    reveal_seconds: uint256     # ... then reveal within this, once the submissions end
    escrow: uint256             # wei held for bounties; the rest is credited back at the end
    round: uint256              # the current round, counted from 0
    opened: bool                # the current round's participants are fixed
    recovering: bool            # submissions are over; survivors reveal the dropped' shares
    finished: bool              # all rounds done, or the escrow reclaimed

struct RoundInfo:
    seed: bytes32               # public randomness fixed at open_round: draws the neighbour graph
    k: uint256                  # neighbours per participant (SecAgg+)
    threshold: uint256          # shares that rebuild a participant's secret (Shamir's t)
    # A deadline is the first second in which the phase's work is refused (and the company may
    # go on without the late): anvil stamps blocks in whole seconds of the wall clock, so the
    # class is not kept waiting up to a second longer than the deadline says.
    share_deadline: uint256     # advertise and post shares before then
    submit_deadline: uint256    # 0 until every share is in; then submit before then
    reveal_deadline: uint256    # 0 until the submissions end; then reveal before then
    advertised: uint256         # how many participants advertised their round keys
    abandoned: bool             # ended without a sum (abandon_round): submitters paid, model kept

struct RoundBlobs:
    shares: bytes32             # the sealed key shares it dealt (empty: none yet)
    submission: bytes32         # its masked, encrypted update
    reveal: bytes32             # sha256 id of the shares it revealed (bytes in SharesRevealed)

struct RoundView:
    spec: Spec                  # the spec as `specs` reads it
    round: uint256              # the round read: the one asked for, or the spec's current one
    owners: DynArray[address, MAX_OWNERS]
    participants: DynArray[address, MAX_OWNERS]
    info: RoundInfo
    shares_count: uint256
    submission_count: uint256
    reveal_count: uint256
    blobs: DynArray[RoundBlobs, MAX_OWNERS]    # in the participants' order
    keys: DynArray[RoundKeys, MAX_OWNERS]      # in the participants' order

struct RoundKeys:
    cipher: bytes32             # X25519 key the neighbours seal their shares to
    mask: bytes32               # X25519 key the pairwise masks are agreed with
    commitment: bytes32         # sha256 commitment to the self-mask seed

# ---------------------------------------------------------------------------------------------
# STATE
# ---------------------------------------------------------------------------------------------

spec_count: public(uint256)
specs: public(HashMap[uint256, Spec])
owners: HashMap[uint256, DynArray[address, MAX_OWNERS]]
accepted: public(HashMap[uint256, HashMap[address, bool]])
# spec -> round -> ...
round_info: public(HashMap[uint256, HashMap[uint256, RoundInfo]])
participants: HashMap[uint256, HashMap[uint256, DynArray[address, MAX_OWNERS]]]
keys: public(HashMap[uint256, HashMap[uint256, HashMap[address, RoundKeys]]])
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

event RoundOpened:
    spec_id: indexed(uint256)
    round: uint256
    participants: uint256
    seed: bytes32
    k: uint256
    threshold: uint256
    share_deadline: uint256

event KeysAdvertised:
    spec_id: indexed(uint256)
    round: uint256
    owner: indexed(address)

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

event SubmissionsEnded:
    spec_id: indexed(uint256)
    round: uint256
    survivors: uint256
    dropped: uint256
    reveal_deadline: uint256

event SharesRevealed:
    spec_id: indexed(uint256)
    round: indexed(uint256)     # indexed: the company asks the node for one round's reveals
    owner: indexed(address)
    reveal_blob: bytes32        # sha256 of data, computed here
    data: Bytes[MAX_REVEAL]     # the revealed shares themselves

event RoundClosed:
    spec_id: indexed(uint256)
    round: uint256
    contributors: uint256
    next_model_blob: bytes32

event RoundAbandoned:
    spec_id: indexed(uint256)
    round: uint256
    contributors: uint256
    revealed: uint256

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
              bounty: uint256, deadline: uint256, share_seconds: uint256,
              submit_seconds: uint256, reveal_seconds: uint256) -> uint256:
    """
    @notice The company posts a model to train. The money sent with it is the escrow; it must
            pay the bounty to every place in every round: bounty x places x rounds. The three
            phase durations (seconds) bound how long one absent participant can hold up a round.
    """
    assert model_blob != empty(bytes32), "the spec must name a model blob"
    assert key_blob != empty(bytes32), "the spec must name the company's public key blob"
    assert batch_size > 0, "the batch size must be at least 1"
    assert rounds > 0, "the spec must have at least one round"
    assert min_owners > 0 and min_owners <= MAX_OWNERS, "min_owners must be between 1 and 128"
    assert places >= min_owners and places <= MAX_OWNERS, \
        "places must be between min_owners and 128"
    assert deadline > block.timestamp, "the deadline must be in the future"
    assert share_seconds > 0 and submit_seconds > 0 and reveal_seconds > 0, \
        "every phase needs a duration of at least 1 second"
    assert share_seconds <= MAX_PHASE and submit_seconds <= MAX_PHASE and \
        reveal_seconds <= MAX_PHASE, "a phase lasts at most a day"
    assert msg.value >= self._cost(bounty, places, rounds), \
        "the escrow must cover the bounty for every place in every round"
    spec_id: uint256 = self.spec_count
    self.spec_count = spec_id + 1
    self.specs[spec_id] = Spec(
        company=msg.sender, model_blob=model_blob, key_blob=key_blob, summary=summary,
        batch_size=batch_size, rounds=rounds, min_owners=min_owners, places=places,
        noise_milli=noise_milli, bounty=bounty, deadline=deadline, share_seconds=share_seconds,
        submit_seconds=submit_seconds, reveal_seconds=reveal_seconds, escrow=msg.value, round=0,
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
def accept(spec_id: uint256):
    """
    @notice A data owner consents to train the spec's model on their data. An owner who accepts
            takes part from the next round the company opens (its masking keys are fresh in
            every round: see advertise_keys).
    """
    spec: Spec = self._open_spec(spec_id)
    assert msg.sender != spec.company, "the company cannot accept its own spec"
    assert not self.accepted[spec_id][msg.sender], "you already accepted this spec"
    assert len(self.owners[spec_id]) < spec.places, \
        "every place the escrow pays for is taken; wait for the company to add places"
    self.accepted[spec_id][msg.sender] = True
    self.owners[spec_id].append(msg.sender)
    log Accepted(spec_id=spec_id, owner=msg.sender)


@external
def open_round(spec_id: uint256, participants: DynArray[address, MAX_OWNERS], k: uint256,
               threshold: uint256):
    """
    @notice The company fixes who takes part in the current round, the neighbourhood size k and
            the share threshold t. Masks are agreed between exactly these owners, so the set
            cannot change once anyone has submitted. Before that, the company may open the round
            again with another set (for instance without an owner who never posted its key
            shares): every key and share is then forgotten, and the round gets a new seed.

            The seed, which draws the neighbour graph, is fixed here from the previous block's
            hash, after the participants: nobody chose it. (A company that times its call could
            try one seed per block; the graph's guarantees are per random graph, see
            omteach.crypto.neighbours.)
    """
    spec: Spec = self._company_spec(spec_id)
    rnd: uint256 = spec.round
    assert self.submission_count[spec_id][rnd] == 0, \
        "owners have submitted: this round's participants are fixed"
    assert len(participants) >= spec.min_owners, "a round needs at least min_owners participants"
    n: uint256 = len(participants)
    assert k < n, "k (neighbours per participant) must be below the number of participants"
    assert threshold >= 1 and threshold <= k + 1, \
        "the threshold must be from 1 to k + 1 (the neighbours and the owner hold a share each)"
    assert (n * k) % 2 == 0, "no k-regular graph exists when n x k is odd"
    for old: address in self.participants[spec_id][rnd]:  # opened again: forget the old set
        self.is_participant[spec_id][rnd][old] = False
        self.shares[spec_id][rnd][old] = empty(bytes32)
        self.keys[spec_id][rnd][old] = empty(RoundKeys)
    self.shares_count[spec_id][rnd] = 0
    for owner: address in participants:
        assert self.accepted[spec_id][owner], "every participant must have accepted the spec"
        assert not self.is_participant[spec_id][rnd][owner], "a participant is listed twice"
        self.is_participant[spec_id][rnd][owner] = True
    self.participants[spec_id][rnd] = participants
    seed: bytes32 = keccak256(concat(block.prevhash, convert(spec_id, bytes32),
                                     convert(rnd, bytes32)))
    deadline: uint256 = block.timestamp + spec.share_seconds
    self.round_info[spec_id][rnd] = RoundInfo(seed=seed, k=k, threshold=threshold,
                                              share_deadline=deadline, submit_deadline=0,
                                              reveal_deadline=0, advertised=0,
                                              abandoned=False)
    spec.opened = True
    self.specs[spec_id] = spec
    log RoundOpened(spec_id=spec_id, round=rnd, participants=n, seed=seed, k=k,
                    threshold=threshold, share_deadline=deadline)


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
def advertise_keys(spec_id: uint256, round: uint256, cipher: bytes32, mask: bytes32,
                   commitment: bytes32):
    """
    @notice A participant advertises its keys for this round (Bonawitz's AdvertiseKeys): the
            key its neighbours seal their shares to, the key its pairwise masks are agreed with,
            and a commitment to its self-mask seed. Fresh every round: a dropout's mask key is
            revealed, so it must never mask another round. Before the sharing deadline.
    """
    spec: Spec = self._participant_spec(spec_id, round)
    info: RoundInfo = self.round_info[spec_id][round]
    assert block.timestamp < info.share_deadline, \
        "the sharing deadline has passed: the company opens the round again without the late"
    assert self.keys[spec_id][round][msg.sender].mask == empty(bytes32), \
        "you already advertised your keys for this round"
    assert cipher != empty(bytes32) and mask != empty(bytes32) and \
        commitment != empty(bytes32), "advertise three non-empty keys"
    self.keys[spec_id][round][msg.sender] = RoundKeys(cipher=cipher, mask=mask,
                                                      commitment=commitment)
    info.advertised += 1
    self.round_info[spec_id][round] = info
    log KeysAdvertised(spec_id=spec_id, round=round, owner=msg.sender)


@external
def post_shares(spec_id: uint256, round: uint256, shares_blob: bytes32):
    """
    @notice A participant posts the id of its key shares for the round (Bonawitz's ShareKeys):
            its mask key and self-mask seed, split by Shamir's scheme, one pair of shares sealed
            to each neighbour. Any t of the holders can later rebuild one of the two secrets.
            Only once every participant advertised its keys, before the sharing deadline; the
            last share starts the submit phase's clock.
    """
    spec: Spec = self._participant_spec(spec_id, round)
    info: RoundInfo = self.round_info[spec_id][round]
    assert block.timestamp < info.share_deadline, \
        "the sharing deadline has passed: the company opens the round again without the late"
    n: uint256 = len(self.participants[spec_id][round])
    assert info.advertised == n, "wait until every participant has advertised its round keys"
    assert self.shares[spec_id][round][msg.sender] == empty(bytes32), \
        "you already posted your shares for this round"
    assert shares_blob != empty(bytes32), "the shares blob id is empty"
    self.shares[spec_id][round][msg.sender] = shares_blob
    self.shares_count[spec_id][round] += 1
    if self.shares_count[spec_id][round] == n:
        info.submit_deadline = block.timestamp + spec.submit_seconds
        self.round_info[spec_id][round] = info
    log SharesPosted(spec_id=spec_id, round=round, owner=msg.sender, shares_blob=shares_blob)


@external
def submit(spec_id: uint256, round: uint256, update_blob: bytes32):
    """
    @notice A participant posts the id of its masked, encrypted update for the round. Only once
            every participant's key shares are on chain (then any dropout can be recovered), and
            before the submit deadline: who misses it is a dropout of the round.
    """
    spec: Spec = self._participant_spec(spec_id, round)
    assert not spec.recovering, \
        "submissions are closed: the company ended this round's submissions"
    assert self.shares_count[spec_id][round] == len(self.participants[spec_id][round]), \
        "wait until every participant has posted its key shares"
    assert block.timestamp < self.round_info[spec_id][round].submit_deadline, \
        "the submit deadline has passed: you are a dropout of this round"
    assert self.submission[spec_id][round][msg.sender] == empty(bytes32), \
        "you already submitted in this round"
    assert update_blob != empty(bytes32), "the update blob id is empty"
    self.submission[spec_id][round][msg.sender] = update_blob
    self.submission_count[spec_id][round] += 1
    log Submitted(spec_id=spec_id, round=round, owner=msg.sender, update_blob=update_blob)


@external
def end_submissions(spec_id: uint256):
    """
    @notice The company ends the round's submissions, once every participant submitted or the
            submit deadline passed: every participant that has not submitted is a dropout of
            this round and can no longer submit in it (its pairwise masks are about to be
            removed). Needs at least min_owners submissions. The reveal phase's clock starts.
    """
    spec: Spec = self._company_spec(spec_id)
    rnd: uint256 = spec.round
    assert spec.opened, "the company has not opened this round yet"
    assert not spec.recovering, "the submissions of this round already ended"
    info: RoundInfo = self.round_info[spec_id][rnd]
    assert info.submit_deadline != 0, "the participants' key shares are not all in yet"
    count: uint256 = self.submission_count[spec_id][rnd]
    total: uint256 = len(self.participants[spec_id][rnd])
    if count < total:
        assert block.timestamp >= info.submit_deadline, \
            "the submit deadline has not passed: participants may still submit"
    assert count >= spec.min_owners, "too few owners submitted: min_owners must submit"
    info.reveal_deadline = block.timestamp + spec.reveal_seconds
    self.round_info[spec_id][rnd] = info
    spec.recovering = True
    self.specs[spec_id] = spec
    log SubmissionsEnded(spec_id=spec_id, round=rnd, survivors=count, dropped=total - count,
                         reveal_deadline=info.reveal_deadline)


@external
def reveal_shares(spec_id: uint256, round: uint256, data: Bytes[MAX_REVEAL]):
    """
    @notice A survivor (a participant that submitted) reveals the shares it holds, in the
            clear: of its surviving neighbours' self-mask seeds and of its dropped neighbours'
            mask keys (never both for one owner). With t of each, the company removes every
            mask from the sum. Before the reveal deadline, once. The bytes travel in this
            transaction (at most MAX_REVEAL of them): the contract keeps their sha256 id and
            logs them, so every reader checks what it reads against the id.
    """
    spec: Spec = self._participant_spec(spec_id, round)
    assert spec.recovering, "the company has not ended this round's submissions"
    assert block.timestamp < self.round_info[spec_id][round].reveal_deadline, \
        "the reveal deadline has passed"
    assert self.submission[spec_id][round][msg.sender] != empty(bytes32), \
        "only owners who submitted in this round can reveal shares"
    assert self.reveal[spec_id][round][msg.sender] == empty(bytes32), \
        "you already revealed your shares for this round"
    assert len(data) > 0, "an empty reveal carries no shares"
    reveal_blob: bytes32 = sha256(data)
    self.reveal[spec_id][round][msg.sender] = reveal_blob
    self.reveal_count[spec_id][round] += 1
    log SharesRevealed(spec_id=spec_id, round=round, owner=msg.sender, reveal_blob=reveal_blob,
                       data=data)


@external
def close_round(spec_id: uint256, next_model_blob: bytes32):
    """
    @notice The company closes the current round once at least t survivors revealed their
            shares (with fewer, no secret can be rebuilt and no mask removed): each participant
            who submitted is credited the bounty (withdraw it with `withdraw`), and the next
            round starts from the new model. After the last round the rest of the escrow is
            credited to the company.

            The company need not wait for every survivor's reveal: it closes as soon as the
            reveals in rebuild every secret it needs (it checks that itself, from the neighbour
            graph; the contract cannot). Closing early costs no survivor anything, since every
            submitter is credited whether it revealed or not, and the survivors who have not
            revealed yet reveal nothing more (this round takes no reveal once closed).
    """
    spec: Spec = self._company_spec(spec_id)
    closed: uint256 = spec.round
    assert spec.opened, "the company has not opened this round yet"
    assert spec.recovering, \
        "end the submissions first: the survivors then reveal the shares that unmask the sum"
    assert self.reveal_count[spec_id][closed] >= self.round_info[spec_id][closed].threshold, \
        "fewer than t survivors revealed their shares: no mask can be removed"
    assert next_model_blob != empty(bytes32), "name the blob of the updated model"
    count: uint256 = self.submission_count[spec_id][closed]
    log RoundClosed(spec_id=spec_id, round=closed, contributors=count,
                    next_model_blob=next_model_blob)
    self._end_round(spec_id, spec, next_model_blob)


@external
def abandon_round(spec_id: uint256):
    """
    @notice The company gives up the current round when it cannot close it: after the submit
            deadline with fewer than min_owners submissions (the submissions cannot end), or
            once the reveals are over (every survivor revealed, or the reveal deadline passed)
            without the shares the company needs (with SecAgg+ neighbourhoods, t reveals in all
            need not hold t shares of every secret; a reveal can also be unusable).

            What happens is what a close does, without a new model: every participant who
            submitted is credited the bounty (they did their work; the company cannot escape
            paying for a round it could have closed by abandoning it instead), the round counts
            as one of the spec's rounds (the escrow pays for `rounds` rounds, not more), and
            the next round starts from the same model. Only the company may call it, and only
            when no more work can arrive: a round that can still be closed is not cut short.
    """
    spec: Spec = self._company_spec(spec_id)
    rnd: uint256 = spec.round
    assert spec.opened, "the company has not opened this round yet"
    info: RoundInfo = self.round_info[spec_id][rnd]
    count: uint256 = self.submission_count[spec_id][rnd]
    revealed: uint256 = self.reveal_count[spec_id][rnd]
    if spec.recovering:
        if revealed < count:
            assert block.timestamp >= info.reveal_deadline, \
                "wait for every survivor's revealed shares, or for the reveal deadline"
    else:
        assert info.submit_deadline != 0 and block.timestamp >= info.submit_deadline, \
            "wait for the submit deadline: participants may still share and submit"
        assert count < spec.min_owners, \
            "enough owners submitted: end the submissions and let the survivors reveal"
    info.abandoned = True
    self.round_info[spec_id][rnd] = info
    log RoundAbandoned(spec_id=spec_id, round=rnd, contributors=count, revealed=revealed)
    self._end_round(spec_id, spec, spec.model_blob)


@internal
def _end_round(spec_id: uint256, spec_in: Spec, next_model_blob: bytes32):
    """Credit the round's submitters, move to the next round (after the last: finish)."""
    spec: Spec = spec_in
    closed: uint256 = spec.round
    count: uint256 = self.submission_count[spec_id][closed]
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


@view
@external
def round_view(spec_id: uint256, round: uint256) -> RoundView:
    """
    @notice Everything a driver of a round reads, in one call: the spec, its owners, the round's
            participants, phase clock and counts, and each participant's blob ids and keys.
            `round` = 2**256 - 1 reads the spec's current round. A round past the current one
            reads as empty (nothing is fixed for it yet).
    """
    spec: Spec = self.specs[spec_id]
    rnd: uint256 = spec.round if round == max_value(uint256) else round
    blobs: DynArray[RoundBlobs, MAX_OWNERS] = []
    keys: DynArray[RoundKeys, MAX_OWNERS] = []
    for p: address in self.participants[spec_id][rnd]:
        blobs.append(RoundBlobs(shares=self.shares[spec_id][rnd][p],
                                submission=self.submission[spec_id][rnd][p],
                                reveal=self.reveal[spec_id][rnd][p]))
        keys.append(self.keys[spec_id][rnd][p])
    return RoundView(spec=spec, round=rnd, owners=self.owners[spec_id],
                     participants=self.participants[spec_id][rnd],
                     info=self.round_info[spec_id][rnd],
                     shares_count=self.shares_count[spec_id][rnd],
                     submission_count=self.submission_count[spec_id][rnd],
                     reveal_count=self.reveal_count[spec_id][rnd], blobs=blobs, keys=keys)
