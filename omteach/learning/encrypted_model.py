"""The encrypted model: owners train a linear model whose weights they never see.

AI Inc. sends the weights of a logistic-regression model *encrypted* under its Paillier key.
The sigmoid is replaced by its first-order Taylor approximation ``σ(z) ≈ 1/2 + z/4``, so
everything an owner computes is linear in the weights, which Paillier allows:

- ``Enc(z_i) = Π_j Enc(w_j)^{x_ij}`` (pixels ``x_ij`` are the digits' integers 0–16, plus a
  constant 1 for the bias): a ciphertext raised to a small plain integer;
- ``Enc(e_i) = Enc(z_i) · Enc((1/2 − y_i) · S)``: the error ``σ(z_i) − y_i``, in fixed point;
- ``Enc(g_j) = Π_i Enc(e_i)^{x_ij}``: the gradient, again plain integers on ciphertexts.

An owner computes the same integers in one step, ``g = (XᵀX)·w + Xᵀc`` with ``c_i = (1/2 − y_i)·S``:
its 65×65 Gram matrix ``XᵀX`` applied to the encrypted weights, plus a plain vector. That is a
few times fewer multiplications modulo n² than two passes over every image (see
``bench/encrypted_model_bench.py``), and the randomness of each result is the same function of
the weights' randomness as before (what :func:`recover_summed_image` reads).

(The arithmetic is :mod:`omteach.crypto.linear`'s.) Each owner packs their 65 gradient
ciphertexts into two (slots of a width AI Inc. sets from a bound on the gradients,
:func:`gradient_slot_bits`), masks them pairwise (:mod:`omteach.crypto.secagg`) so that AI Inc.
can decrypt only the sum over owners, and rerandomizes them: the randomness of a computed
ciphertext is a function of the weights' randomness, which AI Inc. chose, and of the owner's
pixels, so without fresh randomness a malicious AI Inc. reads the owner's summed image from
it (:func:`chosen_randomness_weights`, :func:`recover_summed_image`). AI Inc. then takes a
gradient step and sends the new encrypted weights. The owners see ciphertexts only; AI Inc. sees
only summed gradients.

Task: is the digit even? (64 pixels + bias; the linear model reaches about 85% here.)
Fixed point: weights are scaled by ``2**WEIGHT_BITS``; the error by ``S = 2**WEIGHT_BITS · 64``.

Why one module of some 350 lines: chapter 5's encrypted model is one protocol (weights, owner,
run) whose three classes only make sense together.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from omteach.crypto.linear import (
    add_plain,
    check_ciphertexts,
    encrypt_with_randomness,
    encrypted_matvec,
    pack_ciphertexts,
    randomness_logs,
    refuse_visibly_non_random,
    slots_per_ciphertext,
    unpack_signed,
)
from omteach.crypto.paillier import KeyPair, PublicKey, rerandomize
from omteach.crypto.secagg import MaskKey, pairwise_mask
from omteach.errors import AggregationError, InvalidValueError
from omteach.learning.data import Dataset

WEIGHT_BITS = 20
PIXEL_MAX = 16  # the digits' pixels are integers 0..16; Dataset holds them divided by 16
ERROR_SCALE = (1 << WEIGHT_BITS) * PIXEL_MAX * 4  # z/4 at the scale of z_int
N_WEIGHTS = 65  # 64 pixels and the bias


def even_labels(y: np.ndarray) -> np.ndarray:
    """The binary task of this model: 1 for an even digit, 0 for an odd one."""
    return (np.asarray(y) % 2 == 0).astype(np.int64)


def pixel_ints(data: Dataset) -> np.ndarray:
    """Pixels as the integers 0–16, with a constant 16 (meaning 1.0) for the bias input."""
    x = np.rint(np.asarray(data.x) * PIXEL_MAX).astype(np.int64)
    return np.c_[x, np.full(len(x), PIXEL_MAX, dtype=np.int64)]


def plain_gradient(w: np.ndarray, data: Dataset) -> np.ndarray:
    """The Taylor-approximated logistic-regression gradient, summed over ``data`` (no division)."""
    x = pixel_ints(data) / PIXEL_MAX
    s = 0.5 + (x @ w) / 4
    return x.T @ (s - even_labels(data.y))


def linear_accuracy(w: np.ndarray, data: Dataset) -> float:
    """Share of ``data`` whose even/odd label the linear model gets right."""
    x = pixel_ints(data) / PIXEL_MAX
    return float(((x @ w > 0).astype(np.int64) == even_labels(data.y)).mean())


def train_plain(shares: Sequence[Dataset], rounds: int, lr: float = 0.5) -> list[np.ndarray]:
    """The same approximation trained in the clear: the weights after each round."""
    w = np.zeros(N_WEIGHTS)
    total = sum(len(d) for d in shares)
    out = []
    for _ in range(rounds):
        w = w - lr * sum(plain_gradient(w, d) for d in shares) / total
        out.append(w.copy())
    return out


def gradient_slot_bits(weights: np.ndarray, n_images: int) -> int:
    """Slot width (bits) that holds any summed fixed-point gradient entry of this model.

    With pixels ``0..16`` and fixed-point weights ``w_int``, an image's error is at most
    ``16·Σ|w_int| + ERROR_SCALE/2`` in size and a gradient entry sums ``n_images`` errors times
    a pixel: that bound, plus a sign bit. Any width is safe for the owners (what AI Inc.
    decrypts is a linear function of the summed gradients whatever it chooses); too narrow a
    width only spoils AI Inc.'s own sum.
    """
    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
        raise InvalidValueError(f"n_images must be a positive whole number, got {n_images!r}")
    ints = np.rint(np.asarray(weights, dtype=float) * (1 << WEIGHT_BITS))
    if ints.shape != (N_WEIGHTS,) or not np.isfinite(ints).all():
        raise InvalidValueError(f"expected {N_WEIGHTS} finite weights, got shape {ints.shape}")
    error = PIXEL_MAX * int(np.abs(ints).sum()) + ERROR_SCALE // 2
    return (n_images * PIXEL_MAX * error).bit_length() + 1


@dataclass(frozen=True)
class EncryptedWeights:
    """Ciphertexts of the weights (fixed point) and the public key: all an owner receives.

    ``slot_bits``: the slot width owners pack their gradient into (None: one ciphertext per
    gradient entry, 65 of them).
    """

    ciphertexts: tuple[int, ...]
    public: PublicKey
    slot_bits: int | None = None


class EncryptedModelOwner:
    """A data owner computing an encrypted gradient from encrypted weights and plain data.

    Holds no private key: nothing here can decrypt. Before computing, the owner refuses weight
    ciphertexts whose randomness is visibly chosen (:func:`refuse_visibly_non_random`); every
    ciphertext it sends back is rerandomized, so that its randomness says nothing about the data
    (see :func:`recover_summed_image` for what leaks otherwise).

    ``rerandomize=False`` and ``check_weights=False`` restore the old, leaking behaviour: they
    exist only so that chapter 5 and the tests can show the attack they stop.
    """

    def __init__(self, name: str, data: Dataset, mask_key: MaskKey | None = None, *,
                 rerandomize: bool = True, check_weights: bool = True):
        self.name = name
        self.data = data
        self.mask_key = mask_key or MaskKey.generate()
        self.rerandomize = rerandomize
        self.check_weights = check_weights
        self.last_timings: dict[str, float] = {}

    def encrypted_gradient(self, weights: EncryptedWeights, peers: dict[str, int],
                           round_no: int) -> list[int]:
        """The masked, rerandomized ciphertexts of this owner's summed gradient: 65 numbers,
        or as few as ``weights.slot_bits`` packs them into (two for a 2048-bit key)."""
        pk = weights.public
        if len(weights.ciphertexts) != N_WEIGHTS:
            raise InvalidValueError(
                f"expected {N_WEIGHTS} weight ciphertexts (64 pixels and a bias), got "
                f"{len(weights.ciphertexts)}")
        if weights.slot_bits is not None:
            slots_per_ciphertext(pk, weights.slot_bits)  # refuses a width that fits no key
        t0 = time.perf_counter()
        if self.check_weights:
            refuse_visibly_non_random(pk, weights.ciphertexts)
        x = pixel_ints(self.data)
        y = even_labels(self.data.y)
        # g = X^T (X w + c), c = (1/2 - y) at the error's scale (the Taylor sigmoid's error),
        # computed as (X^T X) w + X^T c: the same integers, one 65x65 product on ciphertexts.
        shift = ERROR_SCALE // 2 - y * ERROR_SCALE
        grad = add_plain(pk, encrypted_matvec(pk, weights.ciphertexts, x.T @ x), x.T @ shift)
        t_pack = time.perf_counter()
        if weights.slot_bits is not None:
            grad = pack_ciphertexts(pk, grad, weights.slot_bits)
        mask = pairwise_mask(self.name, self.mask_key, peers, round_no, len(grad), pk.n)
        masked = add_plain(pk, grad, np.array(mask, dtype=object))
        t1 = time.perf_counter()
        if self.rerandomize:
            # Fresh randomness on everything that leaves: otherwise the randomness of each result
            # is a function of the weights' randomness (AI Inc.'s choice) and of these pixels.
            masked = [rerandomize(pk, c) for c in masked]
        self.last_timings = {"gradient": t_pack - t0, "pack and mask": t1 - t_pack,
                             "rerandomize": time.perf_counter() - t1}
        return masked


@dataclass
class EncryptedModelRun:
    """AI Inc. and owners training the even/odd linear model with encrypted weights."""

    keys: KeyPair
    owners: dict[str, EncryptedModelOwner]
    lr: float = 0.5
    weights: np.ndarray = field(default_factory=lambda: np.zeros(N_WEIGHTS))
    timings: list[dict[str, float]] = field(default_factory=list)
    pack: bool = True
    slot_bits: int | None = field(default=None, init=False)
    """The slot width of the last round (None: unpacked)."""
    sent_per_owner: int = field(default=0, init=False)
    """How many ciphertexts each owner sent in the last round."""

    @classmethod
    def create(cls, keys: KeyPair, shares: dict[str, Dataset], lr: float = 0.5, *,
               rerandomize: bool = True, pack: bool = True) -> EncryptedModelRun:
        """Owners from the data shares, each with a fresh masking key.

        ``rerandomize=False`` gives owners the old, leaking behaviour (to measure what
        rerandomizing costs, or to show the attack it stops); ``pack=False`` has owners send one
        ciphertext per gradient entry (to measure what packing saves).
        """
        return cls(keys, {n: EncryptedModelOwner(n, d, rerandomize=rerandomize)
                          for n, d in shares.items()}, lr, pack=pack)

    @property
    def n_images(self) -> int:
        """Images across all owners (what AI Inc. divides the summed gradient by)."""
        return sum(len(o.data) for o in self.owners.values())

    def encrypt_weights(self) -> EncryptedWeights:
        """AI Inc. encrypts its fixed-point weights (this is what it sends): as the key's owner
        it may use the fastest method (CRT, or a fast key's table). With ``pack`` it also sets
        the slot width owners pack their gradients into."""
        pk = self.keys.public
        ints = np.rint(self.weights * (1 << WEIGHT_BITS)).astype(np.int64)
        slot_bits = gradient_slot_bits(self.weights, self.n_images) if self.pack else None
        if slot_bits is not None:
            try:
                slots_per_ciphertext(pk, slot_bits)
            except InvalidValueError:
                slot_bits = None  # weights too large to pack: one ciphertext per entry
        return EncryptedWeights(tuple(self.keys.encrypt_many([int(v) % pk.n for v in ints])), pk,
                                slot_bits)

    def run_round(self, round_no: int) -> np.ndarray:
        """One round: encrypt weights, owners compute masked encrypted gradients, AI Inc.
        decrypts only their sum and takes a step. Returns the new weights."""
        t: dict[str, float] = {}
        t0 = time.perf_counter()
        enc = self.encrypt_weights()
        t["encrypt weights"] = time.perf_counter() - t0
        pk = self.keys.public
        nsq = pk.nsquare
        expected = N_WEIGHTS if enc.slot_bits is None else -(
            -N_WEIGHTS // slots_per_ciphertext(pk, enc.slot_bits))
        total = [1] * expected
        steps = {"owners' encrypted gradients": "gradient", "owners' packing and masking":
                 "pack and mask", "owners' rerandomization": "rerandomize"}
        t.update(dict.fromkeys(steps, 0.0))
        publics = {n: o.mask_key.public for n, o in self.owners.items()}
        for name, owner in self.owners.items():
            peers = {k: v for k, v in publics.items() if k != name}
            sent = self._checked(name, owner.encrypted_gradient(enc, peers, round_no), expected)
            self.sent_per_owner = len(sent)
            for j, c in enumerate(sent):
                total[j] = total[j] * c % nsq
            for step, key in steps.items():
                t[step] += owner.last_timings[key]
        t0 = time.perf_counter()
        self.slot_bits = enc.slot_bits
        grad = self.decrypt_sum(total, enc.slot_bits)
        t["decrypt the sum"] = time.perf_counter() - t0
        self.weights = self.weights - self.lr * grad / self.n_images
        self.timings.append(t)
        return self.weights.copy()

    def _checked(self, name: str, sent: Sequence[int], expected: int) -> list[int]:
        """An owner's submission, refused (:class:`AggregationError`) unless it is ``expected``
        ciphertexts of AI Inc.'s key: a wrong count or a non-ciphertext spoils the whole sum."""
        try:
            cts = check_ciphertexts(self.keys.public, sent, f"{name}'s gradient")
        except InvalidValueError as exc:
            raise AggregationError(f"{exc}: refused, not added to the sum") from None
        if len(cts) != expected:
            raise AggregationError(
                f"{name} sent {len(cts)} gradient ciphertexts; this round takes {expected}: "
                "refused, not added to the sum")
        return cts

    def decrypt_sum(self, ciphertexts: Sequence[int], slot_bits: int | None = None) -> np.ndarray:
        """Decrypt summed gradient ciphertexts into floats (signed, fixed point undone).

        ``slot_bits``: the width the owners packed with (None: one ciphertext per entry). A
        packed sum whose masks did not cancel raises :class:`PlaintextOverflowError`.
        """
        pk, sk = self.keys.public, self.keys.private
        plain = [sk.raw_decrypt(int(c)) for c in ciphertexts]
        if slot_bits is not None:
            plain = unpack_signed(pk, plain, N_WEIGHTS, slot_bits)
        out = []
        for m in plain:
            if m > pk.n // 2:
                m -= pk.n
            scale = ERROR_SCALE * PIXEL_MAX
            # A masked value alone is a random number the size of n: too large for a float.
            out.append(m / scale if abs(m) < scale * 10**300 else math.inf if m > 0 else -math.inf)
        return np.array(out)

    def train(self, rounds: int,
              progress: Callable[[int, int, str], None] | None = None) -> list[np.ndarray]:
        """Run ``rounds`` rounds; the weights after each. ``progress`` is called with (rounds
        done, rounds, a message) before each round and after the last."""
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise InvalidValueError(
                f"train for at least one round (a whole number), got {rounds!r}")
        out = []
        for r in range(rounds):
            if progress:
                progress(r, rounds, f"round {r + 1} of {rounds}: owners compute on ciphertexts…")
            out.append(self.run_round(r))
        if progress:
            progress(rounds, rounds, f"{rounds} encrypted rounds done")
        return out


# What a malicious AI Inc. can do when owners do not rerandomize (chapter 5, section 8).

BIAS = N_WEIGHTS - 1
"""Index of the bias weight, whose input is the constant 16 for every image."""

MAX_IMAGES = 5_000
"""How many images an owner may hold, as far as the attack below needs to assume."""


def chosen_randomness_weights(public: PublicKey, weights: np.ndarray, r: int) -> EncryptedWeights:
    """Weights encrypted the malicious way: randomness 1 for all but the bias, ``r`` for it.

    They decrypt to the same weights as honest ones. An owner who computes on them and sends the
    result back without rerandomizing sends ``r`` raised to a function of their pixels.
    """
    ints = np.rint(np.asarray(weights, dtype=float) * (1 << WEIGHT_BITS)).astype(np.int64)
    if ints.shape != (N_WEIGHTS,):
        raise InvalidValueError(f"expected {N_WEIGHTS} weights, got shape {ints.shape}")
    return EncryptedWeights(tuple(
        encrypt_with_randomness(public, int(v), r if j == BIAS else 1)
        for j, v in enumerate(ints)), public)


def recover_summed_image(public: PublicKey, submission: Sequence[int], r: int) -> np.ndarray:
    """The attack: an owner's summed image (64 pixel sums, 0..16 scale) and image count, read
    from the *randomness* of their masked submission to :func:`chosen_randomness_weights`.

    Gradient ciphertext ``k`` is ``Π_i Enc(e_i)^{x_ik}`` and ``Enc(e_i)`` has randomness
    ``r^{x_i,bias} = r^16``, so its randomness is ``r^{16 · Σ_i x_ik}`` (the mask and the
    constants add randomness 1): a discrete logarithm in a small range, solved without
    decrypting anything (:func:`randomness_logs`). Entry 64, the bias column (input 16 on every
    image), comes out as the number of images. A column whose randomness is no such power (a
    rerandomized submission) comes back as NaN: nothing recovered.
    """
    if len(submission) != N_WEIGHTS:
        raise InvalidValueError(f"expected {N_WEIGHTS} ciphertexts, got {len(submission)}")
    bound = PIXEL_MAX * PIXEL_MAX * MAX_IMAGES
    out = np.full(N_WEIGHTS, np.nan)
    for k, e in enumerate(randomness_logs(public, submission, r, bound)):
        if e is not None:
            out[k] = e / (PIXEL_MAX * (PIXEL_MAX if k == BIAS else 1))
    return out
