"""The ModelMarket contract, read and written in the course's terms: names, blob ids, verbs.

The contract (``contracts/ModelMarket.vy``) decides who accepted, who submitted, when a round may
close and who gets paid; the blob store holds everything else by hash. :class:`Market` is the
one place that turns Python values into the contract's arguments (``bytes32`` ids, wei, days).
"""

from __future__ import annotations

from dataclasses import dataclass

from omteach.chain import Chain, DeployedContract
from omteach.errors import InvalidValueError
from omteach.protocol.blobs import BlobStore
from omteach.story import COMPANY


def to_bytes32(blob: str) -> bytes:
    """A blob id (64 hex digits) as the contract's bytes32."""
    return bytes.fromhex(blob.removeprefix("0x"))


def from_bytes32(value: bytes | str) -> str:
    """The contract's bytes32 (raw or 0x-hex) as a blob id."""
    return value.hex() if isinstance(value, bytes | bytearray) else value.removeprefix("0x")


# -- the market on chain ----------------------------------------------------------------------


@dataclass(frozen=True)
class MarketSpec:
    """A spec as the contract holds it: what every data owner can read before consenting."""

    spec_id: int
    company: str
    model_blob: str
    key_blob: str
    summary: str
    batch_size: int
    rounds: int
    min_owners: int
    noise: float
    bounty: int
    deadline: int
    escrow: int
    round: int
    finished: bool


class Market:
    """The ModelMarket contract, read and written in the course's terms (names, blob ids)."""

    def __init__(self, chain: Chain, blobs: BlobStore, contract: DeployedContract | None = None):
        self.chain = chain
        self.blobs = blobs
        self.contract = contract or chain.deploy("ModelMarket", sender=COMPANY)

    def spec(self, spec_id: int) -> MarketSpec:
        """Read one spec from the chain."""
        if not isinstance(spec_id, int) or not 0 <= spec_id < self.contract.call("spec_count"):
            raise InvalidValueError(f"there is no spec {spec_id!r} on the market")
        (company, model_blob, key_blob, summary, batch, rounds, min_owners, noise_milli, bounty,
         deadline, escrow, rnd, finished) = self.contract.call("specs", spec_id)
        return MarketSpec(spec_id, self.chain.name_of(company), from_bytes32(model_blob),
                          from_bytes32(key_blob), summary, batch, rounds, min_owners,
                          noise_milli / 1000, bounty, deadline, escrow, rnd, finished)

    def open_specs(self) -> list[MarketSpec]:
        """Specs still running (not finished, deadline not passed)."""
        now = self.chain.now()
        specs = [self.spec(i) for i in range(self.contract.call("spec_count"))]
        return [s for s in specs if not s.finished and s.deadline >= now]

    def owners(self, spec_id: int) -> list[str]:
        """Names of the owners who accepted, in order of acceptance."""
        return [self.chain.name_of(a) for a in self.contract.call("owners_of", spec_id)]

    def mask_key_blob(self, spec_id: int, owner: str) -> str:
        """The blob id of ``owner``'s masking public key, as published when accepting."""
        return from_bytes32(self.contract.call("mask_key", spec_id, owner))

    def submission(self, spec_id: int, round_no: int, owner: str) -> str | None:
        """The blob id ``owner`` submitted in a round, or None."""
        value = from_bytes32(self.contract.call("submission", spec_id, round_no, owner))
        return None if int(value, 16) == 0 else value

    def submissions(self, spec_id: int, round_no: int) -> dict[str, str]:
        """Owner name → submitted blob id, for a round."""
        out = {}
        for owner in self.owners(spec_id):
            blob = self.submission(spec_id, round_no, owner)
            if blob is not None:
                out[owner] = blob
        return out
