"""The encrypted model: owners train a linear model whose weights they never see.

AI Inc. sends the weights of a logistic-regression model *encrypted* under its Paillier key.
The sigmoid is replaced by its first-order Taylor approximation ``σ(z) ≈ 1/2 + z/4``, so
everything an owner computes is linear in the weights, which Paillier allows:

- ``Enc(z_i) = Π_j Enc(w_j)^{x_ij}`` (pixels ``x_ij`` are the digits' integers 0–16, plus a
  constant 1 for the bias): a ciphertext raised to a small plain integer;
- ``Enc(e_i) = Enc(z_i) · Enc((1/2 − y_i) · S)``: the error ``σ(z_i) − y_i``, in fixed point;
- ``Enc(g_j) = Π_i Enc(e_i)^{x_ij}``: the gradient, again plain integers on ciphertexts.

Each owner masks their 65 gradient ciphertexts pairwise (:mod:`omteach.crypto.secagg`) so that
AI Inc. can decrypt only the sum over owners; it then takes a gradient step and sends the new
encrypted weights. The owners see ciphertexts only; AI Inc. sees only summed gradients.

Task: is the digit even? (64 pixels + bias; the linear model reaches about 87% here.)
Fixed point: weights are scaled by ``2**WEIGHT_BITS``; the error by ``S = 2**WEIGHT_BITS · 64``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import gmpy2
import numpy as np

from omteach.crypto.paillier import KeyPair, PublicKey
from omteach.crypto.secagg import MaskKey, pairwise_mask
from omteach.errors import InvalidValueError
from omteach.learning.data import Dataset

WEIGHT_BITS = 20
PIXEL_MAX = 16  # the digits' pixels are integers 0..16; Dataset holds them divided by 16
ERROR_SCALE = (1 << WEIGHT_BITS) * PIXEL_MAX * 4  # z/4 at the scale of z_int


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
    w = np.zeros(65)
    total = sum(len(d) for d in shares)
    out = []
    for _ in range(rounds):
        w = w - lr * sum(plain_gradient(w, d) for d in shares) / total
        out.append(w.copy())
    return out


@dataclass(frozen=True)
class EncryptedWeights:
    """Ciphertexts of the weights (fixed point) and the public key: all an owner receives."""

    ciphertexts: tuple[int, ...]
    public: PublicKey


class EncryptedModelOwner:
    """A data owner computing an encrypted gradient from encrypted weights and plain data.

    Holds no private key: nothing here can decrypt.
    """

    def __init__(self, name: str, data: Dataset, mask_key: MaskKey | None = None):
        self.name = name
        self.data = data
        self.mask_key = mask_key or MaskKey.generate()

    def encrypted_gradient(self, weights: EncryptedWeights, peers: dict[str, int],
                           round_no: int) -> list[int]:
        """The masked ciphertexts of this owner's summed gradient (65 numbers)."""
        pk = weights.public
        n, nsq = gmpy2.mpz(pk.n), gmpy2.mpz(pk.nsquare)
        x = pixel_ints(self.data)
        y = even_labels(self.data.y)
        # Enc(w_j)^k for k = 0..16, so each Enc(z_i) is a product of table entries.
        powers = []
        for c in weights.ciphertexts:
            row = [gmpy2.mpz(1), gmpy2.mpz(c)]
            for _ in range(PIXEL_MAX - 1):
                row.append(row[-1] * row[1] % nsq)
            powers.append(row)
        errors = []
        for xi, label in zip(x, y, strict=True):
            z = gmpy2.mpz(1)
            for j in np.flatnonzero(xi):
                z = z * powers[j][xi[j]] % nsq
            # + (1/2 - y) at the error's scale: multiply by (1 + n·m), Enc(m) with r = 1.
            const = (ERROR_SCALE // 2 - int(label) * ERROR_SCALE) % n
            errors.append(z * (1 + n * const) % nsq)
        grad = []
        for j in range(x.shape[1]):
            # Π_i e_i^{x_ij} = Π_k B_k^k with B_k = Π_{i: x_ij = k} e_i
            #               = Π_{k=1..16} (Π_{l >= k} B_l): products, no exponentiation.
            buckets = [gmpy2.mpz(1)] * (PIXEL_MAX + 1)
            col = x[:, j]
            for i in np.flatnonzero(col):
                buckets[col[i]] = buckets[col[i]] * errors[i] % nsq
            g, suffix = gmpy2.mpz(1), gmpy2.mpz(1)
            for k in range(PIXEL_MAX, 0, -1):
                suffix = suffix * buckets[k] % nsq
                g = g * suffix % nsq
            grad.append(g)
        mask = pairwise_mask(self.name, self.mask_key, peers, round_no, len(grad), pk.n)
        # Adding a plaintext mask m: multiply by (1 + n·m), the encryption of m with r = 1.
        return [int(g * (1 + n * m) % nsq) for g, m in zip(grad, mask, strict=True)]


@dataclass
class EncryptedModelRun:
    """AI Inc. and owners training the even/odd linear model with encrypted weights."""

    keys: KeyPair
    owners: dict[str, EncryptedModelOwner]
    lr: float = 0.5
    weights: np.ndarray = field(default_factory=lambda: np.zeros(65))
    timings: list[dict[str, float]] = field(default_factory=list)

    @classmethod
    def create(cls, keys: KeyPair, shares: dict[str, Dataset], lr: float = 0.5
               ) -> EncryptedModelRun:
        """Owners from the data shares, each with a fresh masking key."""
        return cls(keys, {n: EncryptedModelOwner(n, d) for n, d in shares.items()}, lr)

    def encrypt_weights(self) -> EncryptedWeights:
        """AI Inc. encrypts its fixed-point weights (this is what it sends)."""
        pk = self.keys.public
        ints = np.rint(self.weights * (1 << WEIGHT_BITS)).astype(np.int64)
        return EncryptedWeights(tuple(pk.raw_encrypt(int(v) % pk.n) for v in ints), pk)

    def run_round(self, round_no: int) -> np.ndarray:
        """One round: encrypt weights, owners compute masked encrypted gradients, AI Inc.
        decrypts only their sum and takes a step. Returns the new weights."""
        t: dict[str, float] = {}
        t0 = time.perf_counter()
        enc = self.encrypt_weights()
        t["encrypt weights"] = time.perf_counter() - t0
        pk = self.keys.public
        nsq = pk.nsquare
        total = [1] * 65
        t0 = time.perf_counter()
        publics = {n: o.mask_key.public for n, o in self.owners.items()}
        for name, owner in self.owners.items():
            peers = {k: v for k, v in publics.items() if k != name}
            for j, c in enumerate(owner.encrypted_gradient(enc, peers, round_no)):
                total[j] = total[j] * c % nsq
        t["owners' encrypted gradients"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        grad = self.decrypt_sum(total)
        t["decrypt the sum"] = time.perf_counter() - t0
        n_total = sum(len(o.data) for o in self.owners.values())
        self.weights = self.weights - self.lr * grad / n_total
        self.timings.append(t)
        return self.weights.copy()

    def decrypt_sum(self, ciphertexts: Sequence[int]) -> np.ndarray:
        """Decrypt summed gradient ciphertexts into floats (signed, fixed point undone)."""
        pk, sk = self.keys.public, self.keys.private
        out = []
        for c in ciphertexts:
            m = sk.raw_decrypt(int(c))
            if m > pk.n // 2:
                m -= pk.n
            scale = ERROR_SCALE * PIXEL_MAX
            # A masked value alone is a random number the size of n: too large for a float.
            out.append(m / scale if abs(m) < scale * 10**300 else math.inf if m > 0 else -math.inf)
        return np.array(out)

    def train(self, rounds: int) -> list[np.ndarray]:
        """Run ``rounds`` rounds; the weights after each."""
        if rounds < 1:
            raise InvalidValueError("train for at least one round")
        return [self.run_round(r) for r in range(rounds)]
