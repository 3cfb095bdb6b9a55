"""The ModelMarket contract, read and written in the course's terms: addresses, blob ids, verbs.

The contract (``contracts/ModelMarket.vy``) decides who accepted, who takes part in a round, who
submitted, when a round may close and who is owed what; the blob store holds everything else by
hash, except the survivors' revealed shares: a few kilobytes each, sent by every survivor at the
same moment, they travel in the ``reveal_shares`` transaction itself (one transaction instead of a
blob and then its id: issue 21), and :meth:`Market.revealed` reads them back from the contract's
events, each checked against the sha256 id the contract computed.

:class:`Market` is the one place that turns Python values into the contract's arguments
(``bytes32`` ids, wei, days): every contract function has a verb here (``post``, ``accept``,
``open_round``, ``advertise_keys``, ``post_shares``, ``submit``, ``end_submissions``,
``reveal_shares``, ``close_round``, ``abandon_round``, ``reclaim_escrow``, ``add_places``,
``withdraw``, ``withdraw_to``).

Parties are identified by **address** (any account, inside the story's cast or not); names are
for display only (:meth:`Market.name`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from omteach.chain import Chain, DeployedContract, TxResult
from omteach.crypto.doublemask import PublicKeys
from omteach.crypto.packing import PackingCodec
from omteach.errors import BlobError, BlobIntegrityError, HeadroomExceededError, InvalidValueError
from omteach.protocol.blobs import BlobStore, blob_id
from omteach.protocol.round import Phase, RoundInfo, RoundState, phase_of
from omteach.story import COMPANY, DAY

_BLOB_ID = re.compile(r"(0x)?[0-9a-f]{64}")
MAX_OWNERS = 128
"""The most owners a spec (and a round) can take: the contract's MAX_OWNERS."""
MAX_PHASE = 86_400
"""The longest a phase of a round may last, in seconds: the contract's MAX_PHASE."""
MAX_REVEAL = 16_384
"""The most bytes one survivor's revealed shares may take: the contract's MAX_REVEAL (a share
for each of 128 holders' secrets is about 14.7 kB)."""

SHARE_SECONDS = 20
"""Default time to advertise keys and post key shares once a round opens (two transactions,
each after reading the round: about a second on a student's laptop; the rest is slack for a
slow network)."""
SUBMIT_SECONDS = 30
"""Default time to train, mask, encrypt and submit once every share is in. A cold student
process (imports, data, first training) took 2.9-4.6 s on this project's 2-core machine
(``bench/RESULTS.md``), a cold laptop about 8 s (issue 21): about four times that."""
REVEAL_SECONDS = 20
"""Default time to reveal shares once the submissions end (one read, one transaction)."""


def to_bytes32(blob: str) -> bytes:
    """A blob id (64 lower-case hex digits) as the contract's bytes32."""
    if not isinstance(blob, str) or not _BLOB_ID.fullmatch(blob):
        raise InvalidValueError(f"{blob!r} is not a blob id (64 lower-case hex digits of SHA-256)")
    return bytes.fromhex(blob.removeprefix("0x"))


def from_bytes32(value: bytes | str) -> str:
    """The contract's bytes32 (raw or 0x-hex) as a blob id."""
    return value.hex() if isinstance(value, bytes | bytearray) else value.removeprefix("0x")


def _topic_int(value: int) -> str:
    """A uint256 as an indexed event topic (32 bytes, big-endian, 0x-hex)."""
    return "0x" + value.to_bytes(32, "big").hex()


def _blob_or_none(value: bytes | str) -> str | None:
    blob = from_bytes32(value)
    return None if int(blob, 16) == 0 else blob


CURRENT_ROUND = 2**256 - 1
"""What ``round_view`` takes for "the spec's current round"."""


class _RoundView(NamedTuple):
    """The contract's ``round_view`` as read; blobs and keys in the participants' order."""

    spec: tuple
    round: int
    owners: list[str]
    participants: list[str]
    info: tuple
    shares_count: int
    submission_count: int
    reveal_count: int
    blobs: list[tuple]
    keys: list[tuple]


def _check_spec_id(spec_id: object) -> None:
    """Refuse what cannot be a spec id (the contract's uint256) before asking the chain."""
    if isinstance(spec_id, bool) or not isinstance(spec_id, int) or not 0 <= spec_id < 2**256:
        raise _no_spec(spec_id)


def _no_spec(spec_id: object) -> InvalidValueError:
    return InvalidValueError(f"there is no spec {spec_id!r} on the market")


def _info_from(fields: tuple) -> RoundInfo:
    """A RoundInfo from the contract's struct as read."""
    seed, k, t, share_dl, submit_dl, reveal_dl, advertised, abandoned = fields
    return RoundInfo(bytes(seed), k, t, share_dl, submit_dl, reveal_dl, advertised,
                     bool(abandoned))


def _keys_from(participants: Collection[str], keys: Collection[tuple]) -> dict[str, PublicKeys]:
    """Participant address -> its advertised round keys, from the contract's RoundKeys in the
    participants' order; who has not advertised (all zeros) is left out."""
    out = {}
    for p, (cipher, mask, commitment) in zip(participants, keys, strict=True):
        if int.from_bytes(bytes(mask), "big"):
            out[p] = PublicKeys(bytes(cipher), bytes(mask), bytes(commitment))
    return out


# -- the market on chain ----------------------------------------------------------------------


@dataclass(frozen=True)
class MarketSpec:
    """A spec as the contract holds it: what every data owner can read before consenting.

    ``company`` is a readable name; ``company_address`` the address the contract knows.
    """

    spec_id: int
    company: str
    model_blob: str
    key_blob: str
    summary: str
    batch_size: int
    rounds: int
    min_owners: int
    places: int
    noise: float
    bounty: int
    deadline: int
    escrow: int
    round: int
    opened: bool
    recovering: bool
    finished: bool
    company_address: str = ""
    share_seconds: int = SHARE_SECONDS
    submit_seconds: int = SUBMIT_SECONDS
    reveal_seconds: int = REVEAL_SECONDS


class Market:
    """The ModelMarket contract, read and written in the course's terms (addresses, blob ids)."""

    def __init__(self, chain: Chain, blobs: BlobStore, contract: DeployedContract | None = None):
        self.chain = chain
        self.blobs = blobs
        self.contract = contract or chain.deploy("ModelMarket", sender=COMPANY)

    @classmethod
    def create(cls, chain: Chain | None = None, blobs: BlobStore | None = None) -> Market:
        """A market on a fresh in-process chain and blob store (or the ones given)."""
        return cls(chain or Chain(), blobs if blobs is not None else BlobStore())

    # -- people ----------------------------------------------------------------------------------

    def address(self, who: str) -> str:
        """The address of a cast member ("Joe") or of a hex address (checksummed)."""
        return self.chain.address(who)

    def name(self, address: str) -> str:
        """A readable name for an address (a cast member, or the shortened address)."""
        return self.chain.name_of(address)

    def _transact(self, fn: str, *args: object, sender: str, value: int = 0,
                  next_block: bool = False) -> TxResult:
        # Parties act by address; receipts and refusals read better with the cast's names.
        address = self.address(sender)
        name = self.name(address)
        return self.contract.transact(fn, *args, sender=name if name in self.chain.accounts
                                      else address, value=value, next_block=next_block)

    # -- reading ---------------------------------------------------------------------------------

    def spec(self, spec_id: int) -> MarketSpec:
        """Read one spec from the chain."""
        _check_spec_id(spec_id)
        # One read, not two (spec_count, then specs): a spec that was never posted reads as
        # zeros, and a posted one always names its company (the sender of post_spec).
        spec = self._spec_from(spec_id, self.contract.call("specs", spec_id))
        if spec is None:
            raise _no_spec(spec_id)
        return spec

    def _spec_from(self, spec_id: int, fields: tuple) -> MarketSpec | None:
        """A MarketSpec from the contract's Spec struct as read (None: never posted)."""
        (company, model_blob, key_blob, summary, batch, rounds, min_owners, places, noise_milli,
         bounty, deadline, share_s, submit_s, reveal_s, escrow, rnd, opened, recovering, finished
         ) = fields
        if int(company, 16) == 0:
            return None
        return MarketSpec(spec_id, self.name(company), from_bytes32(model_blob),
                          from_bytes32(key_blob), summary, batch, rounds, min_owners, places,
                          noise_milli / 1000, bounty, deadline, escrow, rnd, opened, recovering,
                          finished, company, share_s, submit_s, reveal_s)

    def specs(self) -> list[MarketSpec]:
        """Every spec ever posted, oldest first."""
        return [self.spec(i) for i in range(self.contract.call("spec_count"))]

    def open_specs(self) -> list[MarketSpec]:
        """Specs still running (not finished, deadline not passed)."""
        now = self.chain.now()
        return [s for s in self.specs() if not s.finished and s.deadline >= now]

    def owners(self, spec_id: int) -> list[str]:
        """Addresses of the owners who accepted, in order of acceptance."""
        return list(self.contract.call("owners_of", spec_id))

    def participants(self, spec_id: int, round_no: int) -> list[str]:
        """Addresses of a round's participants, fixed on chain when the round opened."""
        return list(self.contract.call("participants_of", spec_id, round_no))

    def round_info(self, spec_id: int, round_no: int) -> RoundInfo:
        """A round's seed, k, threshold, phase deadlines, advertised count and whether it was
        abandoned (zeros: not open)."""
        return _info_from(self.contract.call("round_info", spec_id, round_no))

    def _view(self, spec_id: int, round_no: int) -> _RoundView:
        """The contract's ``round_view`` of a round (``CURRENT_ROUND``: the current one)."""
        return _RoundView(*self.contract.call("round_view", spec_id, round_no))

    def round_keys(self, spec_id: int, round_no: int) -> dict[str, PublicKeys]:
        """Participant address -> the round keys it advertised (one read for the whole round).

        Keys that are not three 32-byte values cannot be advertised (the contract refuses
        empty ones; the ABI fixes the length), so every entry parses; who has not advertised
        is left out.
        """
        view = self._view(spec_id, round_no)
        return _keys_from(view.participants, view.keys)

    def shares_blob(self, spec_id: int, round_no: int, owner: str) -> str | None:
        """The blob id of the key shares ``owner`` posted for a round, or None."""
        return _blob_or_none(self.contract.call("shares", spec_id, round_no,
                                                self.address(owner)))

    def submission(self, spec_id: int, round_no: int, owner: str) -> str | None:
        """The blob id ``owner`` submitted in a round, or None."""
        return _blob_or_none(self.contract.call("submission", spec_id, round_no,
                                                self.address(owner)))

    def reveal(self, spec_id: int, round_no: int, owner: str) -> str | None:
        """The sha256 id of the shares ``owner`` revealed to recover a round's dropouts, or None
        (the bytes: :meth:`revealed`)."""
        return _blob_or_none(self.contract.call("reveal", spec_id, round_no,
                                                self.address(owner)))

    def _by_participant(self, spec_id: int, round_no: int, column: int) -> dict[str, str]:
        """Participant address -> its blob in ``column`` (0 shares, 1 submission, 2 reveal),
        for those who posted one: one read."""
        view = self._view(spec_id, round_no)
        out = {}
        for owner, row in zip(view.participants, view.blobs, strict=True):
            blob = _blob_or_none(row[column])
            if blob is not None:
                out[owner] = blob
        return out

    def round_blobs(self, spec_id: int, round_no: int) -> list[tuple[str | None, ...]]:
        """Each participant's (shares, submission, reveal) blob ids, None where it posted none,
        in the participants' order: one read."""
        return [tuple(_blob_or_none(b) for b in row)
                for row in self._view(spec_id, round_no).blobs]

    def submitters(self, spec_id: int, round_no: int) -> list[str]:
        """Addresses of the participants who submitted in a round, in their order (one read)."""
        return list(self.submissions(spec_id, round_no))

    def submissions(self, spec_id: int, round_no: int) -> dict[str, str]:
        """Participant address → submitted blob id, for a round (one read)."""
        return self._by_participant(spec_id, round_no, 1)

    def reveals(self, spec_id: int, round_no: int) -> dict[str, str]:
        """Survivor address → the sha256 id of its revealed shares, for a round (one read)."""
        return self._by_participant(spec_id, round_no, 2)

    def revealed(self, spec_id: int, round_no: int,
                 ids: Mapping[str, str] | None = None) -> dict[str, bytes]:
        """Survivor address → the bytes of the shares it revealed in a round, read from the
        contract's ``SharesRevealed`` events (one ``eth_getLogs``), each checked against the
        sha256 id the contract computed from them (``ids``: survivor → id, as a read of the
        round gave them; default one more read). A survivor in ``ids`` whose bytes the node
        does not return is left out; a survivor for whom the node returns only bytes that do
        not hash to its id on chain (a node that lies) is refused
        (:class:`~omteach.errors.BlobIntegrityError`)."""
        from eth_abi import decode
        from eth_abi.exceptions import DecodingError

        _check_spec_id(spec_id)
        ids = {a.lower(): b for a, b in (self.reveals(spec_id, round_no) if ids is None
                                         else ids).items()}
        logs = self.chain.w3.eth.get_logs({
            "address": self.contract.address, "fromBlock": 0, "toBlock": "latest",
            "topics": [self._topic("SharesRevealed"), _topic_int(spec_id),
                       _topic_int(round_no)]})
        out: dict[str, bytes] = {}
        lies: set[str] = set()
        for log in logs:
            topics = [bytes(t) for t in log["topics"]]
            owner = "0x" + topics[3][12:].hex() if len(topics) == 4 else ""
            if owner not in ids:
                continue
            try:
                _, data = decode(["bytes32", "bytes"], bytes(log["data"]))
            except DecodingError:
                data = b""  # not this event's layout
            if blob_id(data) == ids[owner]:
                out[self.chain.w3.to_checksum_address(owner)] = data
            else:
                lies.add(owner)
        refused = lies - {a.lower() for a in out}  # only lies: nothing true came for them
        if refused:
            who = ", ".join(sorted(self.name(a) for a in refused))
            raise BlobIntegrityError(
                f"the node returned revealed shares of {who} that do not hash to the ids on "
                "chain: the node or the contract is not what it claims. Refusing them")
        return out

    def _topic(self, event: str) -> str:
        from eth_utils import event_abi_to_log_topic

        abi = next(e for e in self.contract.compiled.abi
                   if e.get("type") == "event" and e["name"] == event)
        return "0x" + event_abi_to_log_topic(abi).hex()

    def round_state(self, spec_id: int, round_no: int | None = None, *,
                    of: Collection[str] | None = None) -> RoundState:
        """The round as the contract holds it now (default: the spec's current round).

        The one read every driver of a round makes: the spec, the owners, the round's
        participants and counts, and for each participant (or only those in ``of``: addresses
        or names) which blobs it posted. A closed round reads the same every time.
        """
        _check_spec_id(spec_id)
        if round_no is not None and (isinstance(round_no, bool) or not isinstance(round_no, int)
                                     or not 0 <= round_no < CURRENT_ROUND):
            raise InvalidValueError(f"spec {spec_id} has no round {round_no!r}")
        # One call for all of it (a dozen otherwise: every driver of a round polls this).
        view = self._view(spec_id, CURRENT_ROUND if round_no is None else round_no)
        spec, rnd = self._spec_from(spec_id, view.spec), view.round
        if spec is None:
            raise _no_spec(spec_id)
        if not rnd <= spec.round:
            raise InvalidValueError(f"spec {spec_id} has no round {round_no!r} yet (the current "
                                    f"one is {spec.round})")
        # The current round, not open yet: nobody takes part yet.
        participants = tuple(view.participants) if spec.opened or rnd < spec.round else ()
        info = _info_from(view.info) if participants else RoundInfo()
        counts = ((view.shares_count, view.submission_count, view.reveal_count) if participants
                  else (0, 0, 0))
        wanted = participants if of is None else tuple(
            p for p in participants if p in {self.address(o) for o in of})
        shared: dict[str, str] = {}
        submitted: dict[str, str] = {}
        revealed: dict[str, str] = {}
        for p, row in zip(participants, view.blobs, strict=True):
            if p not in wanted:
                continue
            for out, blob in zip((shared, submitted, revealed), row, strict=True):
                if (blob := _blob_or_none(blob)) is not None:
                    out[p] = blob
        phase = phase_of(spec, rnd, shares_count=counts[0], submission_count=counts[1],
                         participants=len(participants))
        advertised: tuple[str, ...] = ()
        if phase is Phase.SHARING and (of is None or len(of) > 0):
            # Only while keys are being advertised does anyone need to ask who has.
            advertised = tuple(_keys_from(participants, view.keys))
        return RoundState(spec, rnd, phase, tuple(view.owners), participants, *counts,
                          shared=shared, submitted=submitted, revealed=revealed, info=info,
                          advertised=advertised)

    def balance(self, who: str) -> int:
        """What ``who`` may withdraw from the market (credited bounties and refunds), in wei."""
        return int(self.contract.call("balance_of", self.address(who)))

    # -- the company's verbs ----------------------------------------------------------------------

    def _check_headroom(self, key_blob: str, places: object, what: str) -> None:
        """Refuse more places than the packing codec (in the spec's key blob) can add up.

        A round sums one packed update per participant; past the codec's ``max_contributions`` a
        slot overflows into its neighbour, which only the aggregate would notice, after every
        owner's training and gas. A key blob that is not stored or names no codec is left to the
        owners' audit.
        """
        if not isinstance(places, int) or isinstance(places, bool):
            return  # the contract refuses what is not a count
        try:
            doc = self.blobs.get_json(key_blob) if key_blob in self.blobs else None
            codec = PackingCodec(**doc["codec"]) if isinstance(doc, dict) else None
        except (BlobError, KeyError, TypeError, InvalidValueError):
            return
        if codec is not None and places > codec.max_contributions:
            raise HeadroomExceededError(
                f"{what} would let {places} owners add their updates, but the spec's packing "
                f"codec leaves headroom for the sum of {codec.max_contributions} "
                f"({codec.headroom_bits} headroom bits over {codec.bits}-bit values): a slot "
                f"would overflow after everyone's work. Post with a codec of max_contributions "
                f">= {places}, or fewer places")

    def post(self, *, model_blob: str, key_blob: str, summary: str, batch_size: int, rounds: int,
             min_owners: int, places: int | None = None, noise: float = 0.0, bounty: int,
             days: int = 30, escrow: int | None = None, share_seconds: int = SHARE_SECONDS,
             submit_seconds: int = SUBMIT_SECONDS, reveal_seconds: int = REVEAL_SECONDS,
             sender: str = COMPANY) -> int:
        """Post a spec with the bounty for every place in every round in escrow; its id.

        ``share_seconds``, ``submit_seconds``, ``reveal_seconds``: each round's phase durations
        (the contract refuses work after each deadline; a participant who misses the submit
        deadline is a dropout of the round).
        """
        places = min_owners if places is None else places
        if isinstance(noise, bool) or not isinstance(noise, int | float) or not noise >= 0:
            raise InvalidValueError(f"noise must be a number >= 0, got {noise!r}")
        if escrow is None:
            escrow = bounty * places * rounds if all(
                isinstance(v, int) for v in (bounty, places, rounds)) else 0
        self._check_headroom(key_blob, places, f"a spec with {places} places")
        # The contract's String[200] counts bytes: cut the UTF-8 text, not the characters.
        summary = str(summary).encode()[:200].decode(errors="ignore")
        result = self._transact(
            "post_spec", to_bytes32(model_blob), to_bytes32(key_blob), summary,
            batch_size, rounds, min_owners, places, int(round(noise * 1000)), bounty,
            self.chain.now() + days * DAY, share_seconds, submit_seconds, reveal_seconds,
            sender=sender, value=escrow)
        return int(result.events[0].args["spec_id"])

    def add_places(self, spec_id: int, extra: int, *, value: int | None = None,
                   sender: str = COMPANY) -> TxResult:
        """Top up the escrow so ``extra`` more owners can accept (default: exactly enough).

        Refused before any gas is spent when the spec's packing codec has no headroom for that
        many contributions (:class:`HeadroomExceededError`).
        """
        spec = self.spec(spec_id)
        if isinstance(extra, int):
            self._check_headroom(spec.key_blob, spec.places + extra,
                                 f"{extra} more places ({spec.places + extra} in all)")
        if value is None:
            value = spec.bounty * extra * (spec.rounds - spec.round)
        return self._transact("add_places", spec_id, extra, sender=sender, value=value)

    def open_round(self, spec_id: int, participants: list[str], k: int, threshold: int, *,
                   sender: str = COMPANY) -> TxResult:
        """Fix the current round's participants (names or addresses), its neighbourhood size
        ``k`` and share threshold on chain; the contract draws the round's seed."""
        if len(participants) > MAX_OWNERS:  # the contract holds 128: say so, not an ABI error
            raise InvalidValueError(f"a round takes at most {MAX_OWNERS} participants, "
                                    f"got {len(participants)}")
        return self._transact("open_round", spec_id, [self.address(p) for p in participants],
                              k, threshold, sender=sender)

    def end_submissions(self, spec_id: int, *, sender: str = COMPANY) -> TxResult:
        """End the round's submissions (all in, or the submit deadline passed): participants
        who have not submitted are the round's dropouts; the survivors then reveal."""
        # Allowed once the submit deadline passed: checked at the next block's clock, since a
        # quiet chain's latest block can be older than the deadline (the same for the two below).
        return self._transact("end_submissions", spec_id, sender=sender, next_block=True)

    def close_round(self, spec_id: int, next_model_blob: str, *,
                    sender: str = COMPANY) -> TxResult:
        """Close the current round with the updated model's blob; bounties are credited."""
        return self._transact("close_round", spec_id, to_bytes32(next_model_blob),
                                      sender=sender)

    def abandon_round(self, spec_id: int, *, sender: str = COMPANY) -> TxResult:
        """Give up the current round without a new model, when it cannot close (too few
        submissions by the submit deadline, or reveals over without the shares needed): its
        submitters are credited as on a close, and the next round starts from the same model."""
        return self._transact("abandon_round", spec_id, sender=sender, next_block=True)

    def reclaim_escrow(self, spec_id: int, *, sender: str = COMPANY) -> TxResult:
        """After the deadline, credit what is left of the escrow to the company; the spec ends."""
        return self._transact("reclaim_escrow", spec_id, sender=sender, next_block=True)

    # -- the owners' verbs ------------------------------------------------------------------------

    def accept(self, spec_id: int, *, sender: str) -> TxResult:
        """Consent to the spec (from the next round the company opens)."""
        return self._transact("accept", spec_id, sender=sender)

    def advertise_keys(self, spec_id: int, round_no: int, keys: PublicKeys, *,
                       sender: str) -> TxResult:
        """Advertise the sender's keys for one round (two X25519 keys, a seed commitment)."""
        return self._transact("advertise_keys", spec_id, round_no, keys.cipher, keys.mask,
                              keys.commitment, sender=sender)

    def post_shares(self, spec_id: int, round_no: int, shares_blob: str, *,
                    sender: str) -> TxResult:
        """Post the id of the sender's sealed key shares for a round."""
        return self._transact("post_shares", spec_id, round_no, to_bytes32(shares_blob),
                                      sender=sender)

    def submit(self, spec_id: int, round_no: int, update_blob: str, *, sender: str) -> TxResult:
        """Post the id of the sender's encrypted update for a round."""
        return self._transact("submit", spec_id, round_no, to_bytes32(update_blob),
                                      sender=sender)

    def reveal_shares(self, spec_id: int, round_no: int, data: bytes, *,
                      sender: str) -> TxResult:
        """Reveal the sender's shares (survivors' seeds, dropouts' keys): ``data``, their bytes,
        travel in the transaction; the contract keeps their sha256 id (``blob_id(data)``) and
        logs them (:meth:`revealed` reads them back). At most :data:`MAX_REVEAL` bytes, refused
        here before any gas is spent, as the contract would."""
        if not isinstance(data, bytes | bytearray):
            raise InvalidValueError(f"revealed shares are bytes, got {type(data).__name__}")
        if not data:
            raise InvalidValueError("an empty reveal carries no shares")
        if len(data) > MAX_REVEAL:
            raise InvalidValueError(
                f"{len(data):,} bytes of revealed shares do not fit in one reveal (at most "
                f"{MAX_REVEAL:,}: a share for each of {MAX_OWNERS} holders' secrets is about "
                "14.7 kB); reveal only the shares the round asks for")
        return self._transact("reveal_shares", spec_id, round_no, bytes(data), sender=sender)

    # -- everyone's money -------------------------------------------------------------------------

    def withdraw(self, *, sender: str) -> TxResult:
        """Send the sender's whole balance in the market to the sender."""
        return self._transact("withdraw", sender=sender)

    def withdraw_to(self, recipient: str, *, sender: str) -> TxResult:
        """Send the sender's whole balance to ``recipient`` (for a sender that cannot receive)."""
        return self._transact("withdraw_to", self.address(recipient), sender=sender)
