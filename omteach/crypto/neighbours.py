"""SecAgg+ neighbourhoods (Bell et al., CCS 2020): who masks with and holds shares of whom.

Bonawitz et al.'s secure aggregation (CCS 2017, :mod:`omteach.crypto.doublemask`) has every
participant agree a pairwise mask with, and deal a Shamir share to, *every* other participant:
each one's work and bytes grow linearly with the class, the company's recovery quadratically.
Bell et al. observe that the masks only need to connect the participants, and the shares only need
to reach enough honest survivors: it is enough to mask and share with ``k`` neighbours on a random
``k``-regular graph, with ``k`` of the order of ``log n``.

Two things decide a round's neighbourhoods:

- :func:`choose_parameters` picks ``k`` (neighbours per participant) and ``t`` (the Shamir
  threshold) from the class size ``n`` and the fractions of dropouts and of participants colluding
  with the company that the round must tolerate, and returns the numbers behind the choice (the
  failure probabilities) so that a dashboard can show them.
- :func:`neighbour_graph` draws the random ``k``-regular graph from the round's seed, the same on
  every machine (a SHAKE-256 stream, no :mod:`random`, no hash randomization).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from omteach.errors import InvalidValueError

#: Default tolerated fraction of participants who drop out after dealing their shares.
DEFAULT_DROPOUT = 0.1
#: Default tolerated fraction of participants colluding with the company.
DEFAULT_CORRUPTION = 0.1
#: Default privacy target: a union bound of 2^-30 that some honest participant is exposed.
DEFAULT_SECURITY_BITS = 30
#: Default recovery target: a union bound of 2^-20 that a round cannot remove a dropout's masks.
DEFAULT_CORRECTNESS_BITS = 20


@dataclass(frozen=True)
class SecAggParameters:
    """A round's neighbourhood size and threshold, with the numbers that justify them.

    ``k``: neighbours per participant; each secret is dealt as ``k + 1`` shares, one to each
    neighbour and one kept (Flower's ``num_shares`` counts the same ``k + 1``). ``threshold``:
    shares needed to rebuild a secret (Flower's ``reconstruction_threshold``).
    ``max_dropouts`` / ``max_corrupted``: the tolerated counts the fractions give for ``n``.
    ``p_recovery_fails``: bound on the probability that some secret keeps fewer than
    ``threshold`` surviving holders (the round would have to be opened again; not counted: the
    survivors' graph falling in pieces, which honest participants refuse to reveal for).
    ``p_privacy_fails``: bound on the probability that the colluders among some honest
    participant's neighbours could rebuild a secret of it without the honest ones.
    ``complete``: ``k = n - 1``, i.e. plain Bonawitz et al.
    """

    n: int
    k: int
    threshold: int
    dropout: float
    corruption: float
    max_dropouts: int
    max_corrupted: int
    p_recovery_fails: float
    p_privacy_fails: float
    security_bits: int
    correctness_bits: int
    consistent_view: bool
    complete: bool

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain JSON-able values (for a dashboard or a blob)."""
        return asdict(self)

    def summary(self) -> str:
        """One line for a dashboard: k, t and the numbers behind them."""
        return (f"{self.n} participants, {self.k} neighbours each, threshold {self.threshold}: "
                f"tolerates {self.max_dropouts} dropouts (recovery fails with p <= "
                f"{self.p_recovery_fails:.1e}) and {self.max_corrupted} colluders (privacy fails "
                f"with p <= {self.p_privacy_fails:.1e})")


def _hypergeometric_tail(population: int, marked: int, draws: int, at_least: int) -> float:
    """P[X >= at_least] for X the marked items among ``draws`` drawn without replacement."""
    if at_least <= 0:
        return 1.0
    top = min(marked, draws)
    if at_least > top:
        return 0.0
    hits = sum(math.comb(marked, i) * math.comb(population - marked, draws - i)
               for i in range(at_least, top + 1))
    return hits / math.comb(population, draws)


def _count(fraction: float, n: int, what: str) -> int:
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not (
            0 <= fraction < 1):
        raise InvalidValueError(f"the {what} fraction must be a number from 0 to below 1, "
                                f"got {fraction!r}")
    # 0.1 * 30 is 3.0000000000000004 in floating point: 10% of 30 students is 3, not 4.
    return math.floor(fraction * n + 1e-9)


def choose_parameters(n: int, dropout: float = DEFAULT_DROPOUT,
                      corruption: float = DEFAULT_CORRUPTION, *,
                      security_bits: int = DEFAULT_SECURITY_BITS,
                      correctness_bits: int = DEFAULT_CORRECTNESS_BITS,
                      consistent_view: bool = True) -> SecAggParameters:
    """The smallest ``k`` (and a threshold ``t`` for it) meeting SecAgg+'s two conditions.

    Bell et al. tolerate a ``δ`` fraction of dropouts and a ``γ`` fraction of clients colluding
    with the server, and choose the degree of a random graph so that, except with a small
    probability, every secret keeps ``t`` surviving holders and no honest client's secrets can be
    rebuilt by colluders. Their bounds are asymptotic; for a class this function computes the two
    probabilities exactly instead: each participant's ``k`` neighbours are a uniformly random
    ``k``-subset of the others, so the tolerated ``D = δ·n`` dropouts and ``C = γ·n`` colluders
    fall among them as in drawing without replacement (hypergeometric tails), and a union bound
    over the participants gives:

    - *correctness*: every secret keeps at least ``t`` holders who survive, so a survivor's
      self-mask seed (``k + 1`` holders: its neighbours and itself) and a dropout's mask key
      (``k`` holders: its neighbours) can be rebuilt; the sum of both tails over the participants
      is at most ``2^-correctness_bits``;
    - *privacy*: no honest participant's secrets can be rebuilt by colluders alone. Honest
      participants reveal, for each participant, one kind of share only (never both). When every
      honest participant reads the same dropout set (``consistent_view``: the chain is the one
      broadcast, which is what Bonawitz's consistency round gives), the company gets the other
      kind only from colluders: ``(n - C) · P[colluding neighbours >= t] <= 2^-security_bits``.
      Without a consistent view a company could tell half the neighbours "dropped" and half
      "survived", so the condition becomes ``colluding neighbours >= 2t - k`` (the rule of the
      malicious setting; Flower's ``t > num_shares / 2`` when no colluders are tolerated).

    The third condition, that the survivors' graph stays in one piece, is not in these numbers:
    it is checked on the actual graph by every honest participant before it reveals anything
    (:func:`components`).

    ``k`` is kept so that ``n · k`` is even (a ``k``-regular graph exists); when no ``k < n - 1``
    suffices, every participant neighbours every other (``complete``). No ``(k, t)`` at all (too
    many dropouts and colluders for ``n``) raises :class:`InvalidValueError`.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 3:
        raise InvalidValueError(f"secure aggregation needs at least 3 participants, got {n!r} "
                                "(with 2, each learns the other's update from the sum)")
    for bits, what in ((security_bits, "security_bits"), (correctness_bits, "correctness_bits")):
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 128:
            raise InvalidValueError(f"{what} must be a whole number from 1 to 128, got {bits!r}")
    max_dropouts = _count(dropout, n, "dropout")
    max_corrupted = _count(corruption, n, "corruption")
    recovery_goal, privacy_goal = 2.0 ** -correctness_bits, 2.0 ** -security_bits
    honest = n - max_corrupted
    # At least 3 neighbours: a 2-regular graph is a ring (or several), which one dropout cuts.
    # At least 2 shares to rebuild a secret: with 1, every neighbour holds the secret itself.
    for k in range(min(3, n - 1), n):
        if (n * k) % 2:
            continue
        for t in range(2, k + 1):
            # Each participant's neighbours are k of the n - 1 others. A survivor's self-mask
            # seed has k + 1 holders (it keeps a share itself, as in Bonawitz et al.), so it needs
            # no more than k + 1 - t of its neighbours dropped; a dropout's key has k holders,
            # and only D - 1 other dropouts can be among them.
            p_recovery = (
                (n - max_dropouts) * _hypergeometric_tail(n - 1, max_dropouts, k, k - t + 2)
                + max_dropouts * _hypergeometric_tail(n - 1, max_dropouts - 1, k, k - t + 1))
            if p_recovery > recovery_goal:
                break  # a larger t only needs more survivors
            exposed_at = t if consistent_view else 2 * t - k
            p_privacy = honest * _hypergeometric_tail(n - 1, max_corrupted, k, exposed_at)
            if p_privacy <= privacy_goal:
                return SecAggParameters(
                    n=n, k=k, threshold=t, dropout=float(dropout), corruption=float(corruption),
                    max_dropouts=max_dropouts, max_corrupted=max_corrupted,
                    p_recovery_fails=min(p_recovery, 1.0), p_privacy_fails=min(p_privacy, 1.0),
                    security_bits=security_bits, correctness_bits=correctness_bits,
                    consistent_view=consistent_view, complete=k == n - 1)
    raise InvalidValueError(
        f"no neighbourhood size and threshold tolerate {max_dropouts} dropouts and "
        f"{max_corrupted} colluders among {n} participants: even with everyone as neighbours, "
        "the survivors must outnumber the colluders. Tolerate fewer dropouts or colluders")


# -- the random k-regular graph, from the round's seed ------------------------------------------


class _SeededStream:
    """Uniform whole numbers from a seed: SHAKE-256 in counter blocks (same on every machine)."""

    def __init__(self, seed: bytes):
        self._seed = seed
        self._block = 0
        self._buffer = b""

    def _bytes(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._buffer += hashlib.shake_256(
                b"omteach-neighbours|%d|" % self._block + self._seed).digest(4096)
            self._block += 1
        out, self._buffer = self._buffer[:count], self._buffer[count:]
        return out

    def below(self, bound: int) -> int:
        """A uniform number in ``[0, bound)`` (rejection sampling: no modulo bias)."""
        bits = max(1, (bound - 1).bit_length())
        width = (bits + 7) // 8
        while True:
            value = int.from_bytes(self._bytes(width), "big") >> (8 * width - bits)
            if value < bound:
                return value

    def shuffle(self, items: list[int]) -> None:
        """Fisher-Yates, in place."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


def _try_pairing(n: int, k: int, stream: _SeededStream) -> list[set[int]] | None:
    """One attempt of the pairing model, keeping only pairs that make a simple graph.

    Each node has ``k`` stubs; rounds of random matching of the remaining stubs keep every pair
    that joins two different, not yet joined nodes (Steger and Wormald's refinement of the
    configuration model, which stays close to uniform). None when the leftover stubs cannot be
    joined any more: the caller starts again from the next part of the stream.
    """
    adjacent: list[set[int]] = [set() for _ in range(n)]
    stubs = [node for node in range(n) for _ in range(k)]
    while stubs:
        stream.shuffle(stubs)
        left: list[int] = []
        for a, b in zip(stubs[::2], stubs[1::2], strict=True):
            if a != b and b not in adjacent[a]:
                adjacent[a].add(b)
                adjacent[b].add(a)
            else:
                left += [a, b]
        if len(left) == len(stubs):
            # Nothing was joined this round: give up unless some pair could still be joined.
            waiting = sorted(set(left))
            if not any(b not in adjacent[a] for i, a in enumerate(waiting)
                       for b in waiting[i + 1:]):
                return None
        stubs = left
    return adjacent


def neighbour_graph(n: int, k: int, seed: bytes) -> tuple[tuple[int, ...], ...]:
    """A random ``k``-regular graph on participants ``0 .. n-1``, fixed by ``seed``.

    SecAgg+'s communication graph (Bell et al. replace Bonawitz's complete graph by a
    ``k``-regular graph of logarithmic degree): entry ``i`` lists the sorted neighbours of
    participant ``i`` (its position in the round's participant list). Everyone computes it from
    the round's seed, which must be fixed after the participants are (e.g. from the block that
    opened the round), so that colluders cannot choose to be someone's neighbours.
    ``k >= n - 1`` gives the complete graph (plain Bonawitz).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise InvalidValueError(f"a graph needs at least 2 participants, got {n!r}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidValueError(f"each participant needs at least 1 neighbour, got k={k!r}")
    if not isinstance(seed, bytes) or len(seed) < 16:
        raise InvalidValueError("the round seed must be at least 16 bytes")
    if k >= n - 1:
        return tuple(tuple(j for j in range(n) if j != i) for i in range(n))
    if k < 3 or (n * k) % 2:
        raise InvalidValueError(f"no connected {k}-regular graph on {n} participants exists "
                                "(k < 3, or n·k odd): take k from choose_parameters")
    stream = _SeededStream(hashlib.sha256(b"omteach-graph|%d|%d|" % (n, k) + seed).digest())
    while True:
        adjacent = _try_pairing(n, k, stream)
        # A graph in several pieces would let the company read each piece's sum: draw again.
        if adjacent is not None and len(components(adjacent, range(n))) == 1:
            return tuple(tuple(sorted(a)) for a in adjacent)


def components(adjacent: Sequence[Collection[int]], members: Iterable[int]) -> list[set[int]]:
    """The connected pieces of the graph restricted to ``members``.

    Why it matters (SecAgg+ needs the honest survivors connected): masks cancel within each
    piece of the survivors' graph, so the company could read the sum of every piece on its own.
    An honest participant reveals nothing unless the survivors' graph is in one piece.
    """
    inside = set(members)
    pieces: list[set[int]] = []
    seen: set[int] = set()
    for start in sorted(inside):
        if start in seen:
            continue
        piece, todo = {start}, [start]
        while todo:
            node = todo.pop()
            for other in adjacent[node]:
                if other in inside and other not in piece:
                    piece.add(other)
                    todo.append(other)
        seen |= piece
        pieces.append(piece)
    return pieces
