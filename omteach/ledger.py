"""A teaching ledger: hash-linked blocks of transactions, a copy on every participant's machine.

A :class:`Block` holds a few transactions (short sentences such as "Joe grants consent to AI Inc."),
the hash of the block before it (``prev_hash``), a ``nonce`` found by proof-of-work, and its own
``hash``: SHA-256 over a canonical JSON encoding of everything else. A :class:`Ledger` is an
append-only chain of blocks; :meth:`Ledger.verify` names the first block that does not check out
and why. :meth:`Ledger.tamper` edits a past entry *without* fixing any hash (what a forger does
first), :meth:`Ledger.rewrite_from` re-mines from a block onward and reports what that cost.
A :class:`Network` keeps one copy per participant (AI Inc., Joe, Jane, Jack) and decides by
majority which copy is the ledger.

Time is a logical clock (block ``i`` is stamped ``start_time + i * interval``) and mining counts
nonces up from 0, so the same transactions always give the same blocks, hashes and attempt counts.

Why one module of some 650 lines: the teaching ledger is chapter 3's whole subject (hashing,
blocks, verification, replicas, proof-of-work, measurements) and is read top to bottom beside
the notebook; each section below is headed, and nothing else in the package imports it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from omteach.errors import LedgerError
from omteach.story import CAST
from omteach.text import canonical_json, plural, short_hex

GENESIS_TIME = 1_767_225_600
"""2026-01-01 00:00 UTC: a fixed start, so every run stamps (and hashes) the same blocks."""

BLOCK_INTERVAL = 600
"""Seconds between two blocks on the logical clock (ten minutes, as in Bitcoin)."""

ZERO_HASH = "0" * 64
"""The parent hash the genesis block names: it has no parent."""

DEFAULT_DIFFICULTY = 8
MAX_DIFFICULTY = 24  # 2**24 ≈ 17 million attempts: already tens of seconds in pure Python
PROGRESS_EVERY = 1 << 15  # report mining progress every 32,768 attempts (a few ms apart)

GENESIS_TEXT = "genesis: AI Inc., Joe, Jane and Jack open the ledger"

STORY: tuple[tuple[str, ...], ...] = (
    ("AI Inc. deposits 3000 wei escrow for digits-mlp-v1", "Joe grants consent to AI Inc."),
    ("Jane grants consent to AI Inc.", "AI Inc. uses Joe's data for digits-mlp-v1"),
    ("AI Inc. pays Joe 1000 wei", "Jack grants consent to AI Inc."),
    ("AI Inc. uses Jane's data for digits-mlp-v1", "AI Inc. pays Jane 1000 wei"),
    ("Joe revokes consent", "AI Inc. refunds 1000 wei of escrow"),
)
"""The transactions of the example ledger, one tuple per block after the genesis block."""

Progress = Callable[[int, int], None]
"""A mining progress callback: ``progress(attempts_so_far, expected_attempts)``."""


# -- hashing ----------------------------------------------------------------------------------


def sha256_hex(data: str | bytes) -> str:
    """SHA-256 of text (UTF-8) or bytes, as 64 hex digits."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def leading_zero_bits(hex_hash: str) -> int:
    """How many zero bits a 256-bit hash starts with."""
    return 256 - int(hex_hash, 16).bit_length()


def meets_difficulty(hex_hash: str, difficulty: int) -> bool:
    """True if the hash starts with at least ``difficulty`` zero bits."""
    return int(hex_hash, 16) >> (256 - difficulty) == 0


def _check_difficulty(difficulty: Any) -> int:
    if isinstance(difficulty, bool) or not isinstance(difficulty, int) \
            or not 0 <= difficulty <= MAX_DIFFICULTY:
        raise LedgerError(
            f"difficulty must be a whole number of bits from 0 to {MAX_DIFFICULTY}, got "
            f"{difficulty!r}: each bit doubles the expected work (8 bits ≈ 256 attempts, "
            f"{MAX_DIFFICULTY} bits ≈ {2 ** MAX_DIFFICULTY:,})")
    return difficulty


def _check_transactions(transactions: Any) -> tuple[str, ...]:
    if isinstance(transactions, str):
        raise LedgerError("pass a list of transactions, e.g. ['Joe grants consent to AI Inc.'], "
                          "not a single string")
    try:
        txs = tuple(transactions)
    except TypeError:
        raise LedgerError(f"pass a list of transactions (short texts), got "
                          f"{type(transactions).__name__}") from None
    if not txs:
        raise LedgerError("a block needs at least one transaction: pass a non-empty list, "
                          "e.g. ['Jane grants consent to AI Inc.']")
    for t in txs:
        if not isinstance(t, str) or not t.strip():
            raise LedgerError(f"every transaction must be a non-empty text, got {t!r}")
    return txs


# -- blocks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One block: its place, time, transactions, parent's hash, difficulty, nonce and own hash."""

    index: int
    timestamp: int
    transactions: tuple[str, ...]
    prev_hash: str
    difficulty: int
    nonce: int
    hash: str

    def content(self) -> dict[str, Any]:
        """Everything the block's hash covers: all fields but the hash itself."""
        return {"index": self.index, "timestamp": self.timestamp,
                "transactions": list(self.transactions), "prev_hash": self.prev_hash,
                "difficulty": self.difficulty, "nonce": self.nonce}

    @property
    def time(self) -> str:
        """The block's logical time as a date and time (UTC)."""
        return dt.datetime.fromtimestamp(self.timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M")


def block_hash(block: Block) -> str:
    """SHA-256 of the canonical JSON of a block's contents, as 64 hex digits."""
    return sha256_hex(canonical_json(block.content()))


@dataclass(frozen=True)
class MiningResult:
    """A mined block and what finding its nonce cost: attempts (deterministic) and seconds."""

    block: Block
    attempts: int
    seconds: float

    @property
    def expected(self) -> int:
        """The average number of attempts at this difficulty: 2 ** difficulty."""
        return 2 ** self.block.difficulty

    def __repr__(self) -> str:  # no seconds here: this text is the same on every run
        return (f"block {self.block.index} mined at difficulty "
                f"{plural(self.block.difficulty, 'bit')}: "
                f"nonce {self.block.nonce}, {plural(self.attempts, 'attempt')} (expected about "
                f"{self.expected:,}), hash {short_hex(self.block.hash)}")


def mine(index: int, timestamp: int, transactions: Sequence[str], prev_hash: str,
         difficulty: int, *, progress: Progress | None = None,
         progress_every: int = PROGRESS_EVERY) -> MiningResult:
    """Find the first nonce (counting from 0) whose block hash starts with ``difficulty`` zero bits.

    Counting from 0 makes the attempt count a property of the block's contents: the same block
    always costs the same number of attempts. ``progress(attempts, expected)`` is called every
    ``progress_every`` attempts and once at the end.
    """
    difficulty = _check_difficulty(difficulty)
    txs = _check_transactions(transactions)
    probe = Block(index, timestamp, txs, prev_hash, difficulty, 0, "")
    encoded = canonical_json(probe.content())
    # Only the nonce changes between attempts: hash the bytes before it once, then copy that
    # state and add the nonce and the rest (about 7x faster than re-encoding the JSON).
    marker = b',"nonce":0,'
    cut = encoded.index(marker) + len(marker) - 2
    head, tail = encoded[:cut], encoded[cut + 1:]
    base = hashlib.sha256(head)
    limit = 1 << (256 - difficulty)
    expected = 2 ** difficulty
    start = time.perf_counter()
    nonce = 0
    while True:
        h = base.copy()
        h.update(str(nonce).encode() + tail)
        digest = h.digest()
        if int.from_bytes(digest, "big") < limit:
            break
        nonce += 1
        if progress is not None and nonce % progress_every == 0:
            progress(nonce, expected)
    seconds = time.perf_counter() - start
    if progress is not None:
        progress(nonce + 1, expected)
    block = replace(probe, nonce=nonce, hash=digest.hex())
    return MiningResult(block, nonce + 1, seconds)


# -- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why one block fails: ``kind`` is "hash", "link", "work" or "index"."""

    index: int
    kind: str
    message: str


@dataclass(frozen=True)
class Verification:
    """The result of checking every block: ``ok``, and the first broken block and why."""

    blocks: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_broken(self) -> int | None:
        """Index of the first block that fails a check, or None."""
        return self.problems[0].index if self.problems else None

    @property
    def reason(self) -> str:
        """Why the first broken block fails ("" if every block checks out)."""
        return self.problems[0].message if self.problems else ""

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        if self.ok:
            return (f"✔ all {self.blocks} blocks check out: every stored hash matches its block "
                    "and every block names its parent's hash")
        k = self.first_broken
        last = self.blocks - 1
        verb = "builds" if k + 1 == last else "build"
        tail = "" if k == last else f" (and {block_range(k + 1, last)} {verb} on it)"
        return f"✖ block {k} is the first broken block{tail}: {self.reason}"


def block_range(first: int, last: int) -> str:
    """``block 5`` or ``blocks 5–7``: never "blocks 5–5"."""
    return f"block {first}" if first == last else f"blocks {first}–{last}"


def check_blocks(blocks: Sequence[Block]) -> tuple[Problem, ...]:
    """Every problem of every block, in block order (a block may have several)."""
    problems: list[Problem] = []
    parent_hash = ZERO_HASH
    for pos, b in enumerate(blocks):
        actual = block_hash(b)
        if b.index != pos:
            problems.append(Problem(pos, "index", f"the block at position {pos} says it is "
                                                  f"block {b.index}"))
        if b.hash != actual:
            problems.append(Problem(
                pos, "hash", f"block {pos}'s stored hash does not match its contents (stored "
                f"{short_hex(b.hash)}, its contents hash to {short_hex(actual)})"))
        elif not meets_difficulty(b.hash, b.difficulty):
            problems.append(Problem(pos, "work", f"block {pos}'s hash {short_hex(b.hash)} does not "
                                                 f"start with {b.difficulty} zero bits: it was "
                                                 "not mined"))
        if b.prev_hash != parent_hash:
            # Compare with what the parent hashes to *now*: an edited parent breaks this link.
            parent = "nothing (it is the genesis block)" if pos == 0 else f"block {pos - 1}"
            problems.append(Problem(
                pos, "link", f"block {pos} names parent {short_hex(b.prev_hash)}, but {parent} "
                f"hashes to {short_hex(parent_hash)}"))
        parent_hash = actual
    return tuple(problems)


@dataclass(frozen=True)
class RewriteCost:
    """What re-mining blocks ``start`` … ``start + blocks - 1`` cost."""

    start: int
    blocks: int
    attempts: int
    seconds: float
    per_block: tuple[int, ...]
    per_block_seconds: tuple[float, ...] = ()

    def __repr__(self) -> str:  # no seconds here: this text is the same on every run
        last = self.start + self.blocks - 1
        return (f"re-mined {block_range(self.start, last)}: "
                f"{plural(self.attempts, 'hash attempt')} in all")


# -- the ledger -------------------------------------------------------------------------------


class Ledger:
    """An append-only chain of hash-linked, mined blocks, starting from a genesis block."""

    def __init__(self, difficulty: int = DEFAULT_DIFFICULTY, *, genesis: str = GENESIS_TEXT,
                 start_time: int = GENESIS_TIME, interval: int = BLOCK_INTERVAL):
        self._difficulty = _check_difficulty(difficulty)
        self.start_time = start_time
        self.interval = interval
        self._blocks: list[Block] = []
        self._blocks.append(mine(0, start_time, (genesis,), ZERO_HASH, self._difficulty).block)

    @classmethod
    def build(cls, batches: Iterable[Sequence[str]], difficulty: int = DEFAULT_DIFFICULTY,
              **kwargs: Any) -> Ledger:
        """A ledger with one block per batch of transactions after the genesis block."""
        ledger = cls(difficulty, **kwargs)
        for txs in batches:
            ledger.append(txs)
        return ledger

    # reading

    @property
    def difficulty(self) -> int:
        """Zero bits a new block's hash must start with (each bit doubles the work)."""
        return self._difficulty

    @difficulty.setter
    def difficulty(self, value: int) -> None:
        self._difficulty = _check_difficulty(value)

    @property
    def blocks(self) -> tuple[Block, ...]:
        """The blocks, genesis first."""
        return tuple(self._blocks)

    @property
    def tip(self) -> Block:
        """The newest block."""
        return self._blocks[-1]

    def __len__(self) -> int:
        return len(self._blocks)

    def __iter__(self) -> Iterator[Block]:
        return iter(tuple(self._blocks))

    def __getitem__(self, index: int) -> Block:
        return self._blocks[self._check_index(index)]

    def _check_index(self, index: Any, what: str = "block index") -> int:
        n = len(self._blocks)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise LedgerError(f"{what} must be a whole number from 0 to {n - 1} (this ledger has "
                              f"{plural(n, 'block')}), got {index!r}")
        return index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ledger) and self._blocks == other._blocks

    __hash__ = None  # type: ignore[assignment]  # mutable: not a dict key

    def copy(self) -> Ledger:
        """An independent copy (what another participant's machine holds)."""
        twin = Ledger.__new__(Ledger)
        twin._difficulty, twin.start_time, twin.interval = (self._difficulty, self.start_time,
                                                            self.interval)
        twin._blocks = list(self._blocks)  # blocks are immutable: sharing them is safe
        return twin

    def fingerprint(self) -> str:
        """One hash of this whole copy, every field of every block: equal copies, equal prints."""
        return sha256_hex(canonical_json({"blocks": [dict(b.content(), hash=b.hash)
                                                     for b in self._blocks]}))

    # changing

    def append(self, transactions: Sequence[str], *, difficulty: int | None = None,
               progress: Progress | None = None) -> MiningResult:
        """Mine a new block of ``transactions`` on top of the tip and add it; returns the cost."""
        d = self._difficulty if difficulty is None else _check_difficulty(difficulty)
        index = len(self._blocks)
        result = mine(index, self.start_time + index * self.interval, transactions,
                      self.tip.hash, d, progress=progress)
        self._blocks.append(result.block)
        return result

    def tamper(self, index: int, tx_index: int, new_text: str) -> Block:
        """Edit transaction ``tx_index`` of block ``index`` and fix *no* hash; returns the block.

        This is what editing a file of past entries does: the stored hashes still describe the
        old contents, so :meth:`verify` finds the edit.
        """
        block = self[index]
        n = len(block.transactions)
        if isinstance(tx_index, bool) or not isinstance(tx_index, int) or not 0 <= tx_index < n:
            raise LedgerError(f"block {index} has {plural(n, 'transaction')}, numbered 0 to "
                              f"{n - 1}; got transaction {tx_index!r}")
        if not isinstance(new_text, str) or not new_text.strip():
            raise LedgerError(f"the new text must be a non-empty text, got {new_text!r}")
        if new_text == block.transactions[tx_index]:
            raise LedgerError(f"block {index}'s transaction {tx_index} already reads "
                              f"{new_text!r}: type a different text to tamper with it")
        txs = list(block.transactions)
        txs[tx_index] = new_text
        edited = replace(block, transactions=tuple(txs))  # hash, nonce, links: all left as were
        self._blocks[index] = edited
        return edited

    def rewrite_from(self, index: int, *, blocks: int | None = None,
                     progress: Progress | None = None) -> RewriteCost:
        """Re-mine ``blocks`` blocks from ``index`` on (default: up to the tip); returns the cost.

        Each re-mined block names the new hash of the block before it and keeps its time,
        transactions and difficulty: what a forger must do so that an edited ledger verifies.
        """
        self._check_index(index)
        left = len(self._blocks) - index
        if blocks is None:
            blocks = left
        if isinstance(blocks, bool) or not isinstance(blocks, int) or not 1 <= blocks <= left:
            raise LedgerError(f"from block {index} there are {left} block(s) to re-mine; "
                              f"blocks must be a whole number from 1 to {left}, got {blocks!r}")
        per_block: list[int] = []
        per_block_seconds: list[float] = []
        for i in range(index, index + blocks):
            old = self._blocks[i]
            parent = ZERO_HASH if i == 0 else self._blocks[i - 1].hash
            result = mine(i, old.timestamp, old.transactions, parent, old.difficulty,
                          progress=progress)
            self._blocks[i] = result.block
            per_block.append(result.attempts)
            per_block_seconds.append(result.seconds)
        return RewriteCost(index, blocks, sum(per_block), sum(per_block_seconds),
                           tuple(per_block), tuple(per_block_seconds))

    # checking

    def verify(self) -> Verification:
        """Check every block: its stored hash, its proof-of-work, and its link to its parent."""
        return Verification(len(self._blocks), check_blocks(self._blocks))

    def statuses(self) -> list[str]:
        """One line per block: "ok", its own problem, or that it builds on a broken block."""
        problems = check_blocks(self._blocks)
        first = problems[0].index if problems else None
        out = []
        for i in range(len(self._blocks)):
            own = [p.message for p in problems if p.index == i]
            if own:
                out.append("✖ " + "; ".join(own))
            elif first is not None and i > first:
                out.append(f"✖ builds on broken block {first}")
            else:
                out.append("✔ ok")
        return out

    # views

    header = ("block", "time", "transactions", "parent hash", "nonce", "hash", "status")

    def rows(self) -> list[tuple[Any, ...]]:
        return [(b.index, b.time, " | ".join(b.transactions), short_hex(b.prev_hash), b.nonce,
                 short_hex(b.hash), status)
                for b, status in zip(self._blocks, self.statuses(), strict=True)]

    def __repr__(self) -> str:
        rows = [[str(c) for c in r] for r in self.rows()]
        cells = [list(self.header)] + rows
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.header) - 1)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
                 for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths) + "  ------")
        return (f"Ledger: {plural(len(self), 'block')}, "
                f"difficulty {plural(self.difficulty, 'bit')}\n"
                + "\n".join(line.rstrip() for line in lines))



# -- many machines ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaView:
    """One participant's copy as the network sees it."""

    name: str
    fingerprint: str
    blocks: int
    verification: Verification


@dataclass(frozen=True)
class Consensus:
    """Which copy the majority of replicas hold, who agrees, who is outvoted and why.

    A copy counts only if it verifies, and wins only if more than half of all replicas hold it.
    ``outvoted`` copies fail verification or differ from the majority's; with no majority, a
    copy that verifies is ``undecided``, not outvoted: nobody out-voted it.
    """

    replicas: tuple[ReplicaView, ...]
    winner: str | None
    majority: tuple[str, ...]
    outvoted: tuple[str, ...]
    reasons: tuple[tuple[str, str], ...]
    undecided: tuple[str, ...] = ()

    @property
    def agreed(self) -> bool:
        """True if one copy is held by a majority."""
        return self.winner is not None

    def reason(self, name: str) -> str:
        """Why ``name``'s copy was outvoted or is undecided ("" if it agrees with the majority)."""
        return dict(self.reasons).get(name, "")

    def __repr__(self) -> str:
        n = len(self.replicas)
        if self.winner is None:
            lines = [f"✖ no majority: no single verifying copy is held by more than {n // 2} of "
                     f"the {n} replicas"]
        else:
            lines = [f"✔ majority: {', '.join(self.majority)} hold the same copy "
                     f"({short_hex(self.winner)}), {len(self.majority)} of {n} replicas"]
        lines += [f"○ {name} is undecided: {self.reason(name)}" for name in self.undecided]
        lines += [f"✖ {name} is outvoted: {self.reason(name)}" for name in self.outvoted]
        return "\n".join(lines)



class Network:
    """The same ledger copied onto every participant's machine; the majority decides."""

    def __init__(self, ledger: Ledger, participants: Sequence[str] = CAST):
        names = tuple(participants)
        if not names or len(set(names)) != len(names) or not all(
                isinstance(p, str) and p for p in names):
            raise LedgerError(f"participants must be distinct non-empty names, got {names!r}")
        self._start = ledger.copy()
        self.replicas: dict[str, Ledger] = {name: ledger.copy() for name in names}

    @property
    def participants(self) -> tuple[str, ...]:
        return tuple(self.replicas)

    def replica(self, name: str) -> Ledger:
        """``name``'s copy of the ledger."""
        if name not in self.replicas:
            raise LedgerError(f"unknown replica {name!r}: the ledger is copied on the machines of "
                              f"{', '.join(self.replicas)}")
        return self.replicas[name]

    def tamper(self, name: str, index: int, tx_index: int, new_text: str) -> Block:
        """Edit a past entry on ``name``'s machine only (no hash fixed); returns the block."""
        return self.replica(name).tamper(index, tx_index, new_text)

    def rewrite_from(self, name: str, index: int, **kwargs: Any) -> RewriteCost:
        """Re-mine ``name``'s copy from block ``index`` on; returns the cost."""
        return self.replica(name).rewrite_from(index, **kwargs)

    def consensus(self) -> Consensus:
        """Group the replicas by their exact copy; a verifying copy held by a majority wins."""
        views = tuple(ReplicaView(name, led.fingerprint(), len(led), led.verify())
                      for name, led in self.replicas.items())
        holders: dict[str, list[str]] = {}
        for v in views:
            if v.verification.ok:
                holders.setdefault(v.fingerprint, []).append(v.name)
        winner = next((fp for fp, names in holders.items() if 2 * len(names) > len(views)), None)
        majority = tuple(holders[winner]) if winner else ()
        reasons, outvoted, undecided = [], [], []
        for v in views:
            if v.name in majority:
                continue
            if not v.verification.ok:
                why = f"its copy fails verification: {v.verification.reason}"
                outvoted.append(v.name)
            elif winner is None:
                why = (f"its copy verifies, but only {len(holders[v.fingerprint])} of "
                       f"{len(views)} replicas hold it, and no copy has a majority")
                undecided.append(v.name)
            else:
                why = (f"its copy verifies on its own, but differs from the majority's copy "
                       f"from block {self.first_difference(v.name, majority[0])} on")
                outvoted.append(v.name)
            reasons.append((v.name, why))
        return Consensus(views, winner, majority, tuple(outvoted), tuple(reasons),
                         tuple(undecided))

    def first_difference(self, a: str, b: str) -> int:
        x, y = self.replicas[a].blocks, self.replicas[b].blocks
        return next((i for i, (p, q) in enumerate(zip(x, y, strict=False)) if p != q),
                    min(len(x), len(y)))

    def append(self, transactions: Sequence[str], *, difficulty: int | None = None,
               progress: Progress | None = None) -> MiningResult:
        """Mine a block on the majority's copy and add it to every replica of the majority.

        Outvoted replicas are left as they are (:meth:`sync` replaces them with the majority's
        copy); with no majority there is no agreed tip to build on.
        """
        verdict = self.consensus()
        if not verdict.agreed:
            raise LedgerError("the replicas do not agree (no copy is held by a majority), so "
                              "there is no agreed tip to build on: sync() or reset() first")
        result = self.replicas[verdict.majority[0]].append(transactions, difficulty=difficulty,
                                                          progress=progress)
        for name in verdict.majority[1:]:
            self.replicas[name]._blocks.append(result.block)
        return result

    def sync(self) -> tuple[str, ...]:
        """Replace every outvoted copy with the majority's; returns whose copies were replaced."""
        verdict = self.consensus()
        if not verdict.agreed:
            raise LedgerError("no copy is held by a majority of the replicas: there is nothing "
                              "to sync to; reset() the network or repair replicas by hand")
        good = self.replicas[verdict.majority[0]]
        for name in verdict.outvoted:
            self.replicas[name] = good.copy()
        return verdict.outvoted

    def reset(self) -> None:
        """Every replica back to the ledger the network started with."""
        for name in self.replicas:
            self.replicas[name] = self._start.copy()

    def __repr__(self) -> str:
        lines = []
        for name, led in self.replicas.items():
            marks = "".join("✔" if s.startswith("✔") else "✖" for s in led.statuses())
            lines.append(f"{name:<8} {marks}  ({plural(len(led), 'block')})")
        return "\n".join(lines + [repr(self.consensus())])



# -- examples and measurements ----------------------------------------------------------------


def example_ledger(difficulty: int = DEFAULT_DIFFICULTY) -> Ledger:
    """The course's example: a genesis block and the five blocks of :data:`STORY`."""
    return Ledger.build(STORY, difficulty)


def example_network(difficulty: int = DEFAULT_DIFFICULTY) -> Network:
    """The example ledger copied on the machines of AI Inc., Joe, Jane and Jack."""
    return Network(example_ledger(difficulty))


def measure_rewrite_costs(difficulties: Iterable[int] = (4, 8, 12, 16), depth: int = 8, *,
                          progress: Callable[[int, int], None] | None = None,
                          ) -> dict[int, list[RewriteCost]]:
    """Really re-mine history, and read off the cost of rewriting the newest 1 … ``depth`` blocks.

    For each difficulty, a ledger of ``depth`` blocks after genesis is mined, its block 1 edited,
    and every block from 1 to the newest re-mined, as a forger must. Rewriting the newest ``n``
    blocks costs what those ``n`` blocks took, so entry ``n - 1`` of each list is the cost at
    depth ``n``. Attempt counts depend only on the blocks' contents, so they are the same on
    every run (the seconds are not). ``progress(done, total)`` is called after each difficulty.
    """
    diffs = [_check_difficulty(d) for d in difficulties]
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise LedgerError(f"depth must be a whole number of blocks >= 1, got {depth!r}")
    batches = [STORY[i % len(STORY)] for i in range(depth)]
    out: dict[int, list[RewriteCost]] = {}
    for done, d in enumerate(diffs, 1):
        forged = Ledger.build(batches, d)
        forged.tamper(1, 0, f"{forged[1].transactions[0]} (edited)")
        full = forged.rewrite_from(1)
        out[d] = []
        for n in range(1, depth + 1):
            tries, secs = full.per_block[-n:], full.per_block_seconds[-n:]
            out[d].append(RewriteCost(len(forged) - n, n, sum(tries), sum(secs), tries, secs))
        if progress is not None:
            progress(done, len(diffs))
    return out
