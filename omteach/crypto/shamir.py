"""Shamir's secret sharing over a prime field: any ``t`` shares give the secret, fewer give nothing.

To share a secret ``s`` among ``n`` people with threshold ``t``, pick a random polynomial of degree
``t - 1`` whose value at 0 is ``s``: ``f(x) = s + a1·x + … + a(t-1)·x^(t-1)  (mod P)``, and give
person ``i`` the point ``(i, f(i))``. Any ``t`` points fix the polynomial, so Lagrange interpolation
at 0 gives ``s`` back. With ``t - 1`` points every value of ``s`` is equally possible: for each
candidate secret there is exactly one polynomial through those points and ``(0, candidate)``.

A worked example, with ``P = 97``, ``s = 42`` and ``t = 2`` (a line): ``f(x) = 42 + 13·x``.
The shares are ``(1, 55), (2, 68), (3, 81)``. From ``(1, 55)`` and ``(3, 81)``: the slope is
``(81 - 55) / (3 - 1) = 13``, so ``f(0) = 55 - 13 = 42``. From ``(1, 55)`` alone, any line through
it is possible, so any secret is.

The default field is the Mersenne prime ``2**521 - 1``: larger than any 256-bit seed, and cheap to
reduce modulo. The round's key shares (:mod:`omteach.crypto.doublemask`) use the smallest prime
above ``2**256`` instead, so that one share fits 33 bytes.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

from omteach.errors import InvalidValueError

PRIME = 2**521 - 1
"""The field's modulus: a Mersenne prime, larger than any 256-bit secret."""


def split(secret: int, xs: Sequence[int], threshold: int, *, prime: int = PRIME,
          coefficients: Sequence[int] | None = None) -> dict[int, int]:
    """Share ``secret`` as points ``x → f(x)`` of a random polynomial of degree ``threshold - 1``.

    ``xs``: the distinct, non-zero x-coordinates (one per recipient). ``coefficients``: the
    polynomial's other coefficients, for worked examples; default: random.
    """
    if not isinstance(secret, int) or not 0 <= secret < prime:
        raise InvalidValueError(f"the secret must be a whole number from 0 to {prime - 1}")
    xs = list(xs)
    if not isinstance(threshold, int) or not 1 <= threshold <= len(xs):
        raise InvalidValueError(
            f"the threshold must be between 1 and the number of shares ({len(xs)}), "
            f"got {threshold!r}")
    if len(set(x % prime for x in xs)) != len(xs) or any(x % prime == 0 for x in xs):
        raise InvalidValueError("share x-coordinates must be distinct and not 0 (0 is the secret)")
    if coefficients is None:
        coefficients = [secrets.randbelow(prime) for _ in range(threshold - 1)]
    elif len(coefficients) != threshold - 1:
        raise InvalidValueError(f"a threshold of {threshold} needs {threshold - 1} coefficients")
    poly = [secret, *coefficients]
    return {x: _evaluate(poly, x, prime) for x in xs}


def _evaluate(poly: Sequence[int], x: int, prime: int) -> int:
    value = 0
    for c in reversed(poly):  # Horner's rule
        value = (value * x + c) % prime
    return value


def interpolate(points: Mapping[int, int], at: int = 0, *, prime: int = PRIME) -> int:
    """The value at ``at`` of the lowest-degree polynomial through ``points`` (Lagrange)."""
    if not points:
        raise InvalidValueError("interpolation needs at least one point")
    total = 0
    for xi, yi in points.items():
        num, den = 1, 1
        for xj in points:
            if xj != xi:
                num = num * (at - xj) % prime
                den = den * (xi - xj) % prime
        if den == 0:
            raise InvalidValueError("two shares have the same x-coordinate")
        total = (total + yi * num * pow(den, -1, prime)) % prime
    return total


def reconstruct(shares: Mapping[int, int], threshold: int, *, prime: int = PRIME) -> int:
    """The secret from at least ``threshold`` shares ``x → y``.

    Fewer shares raise :class:`InvalidValueError` (they determine nothing). With more than
    ``threshold`` shares, every extra share is checked to lie on the same polynomial: a wrong
    share is then detected instead of silently giving a wrong secret.
    """
    if len(shares) < threshold:
        raise InvalidValueError(
            f"{len(shares)} share(s) cannot rebuild a secret shared with threshold {threshold}: "
            f"collect at least {threshold}")
    points = dict(list(shares.items())[:threshold])
    for x, y in list(shares.items())[threshold:]:
        if interpolate(points, x, prime=prime) != y % prime:
            raise InvalidValueError(
                f"the share at x={x} does not lie on the polynomial of the others: "
                "at least one share is wrong")
    return interpolate(points, 0, prime=prime)
