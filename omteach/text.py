"""Plain-text formatting shared by every layer: short hex, aligned tables, counted nouns, and
the one canonical JSON encoding (:func:`canonical_json`) that hashes and blob ids are taken over.

Domain objects show themselves as plain text with these (their ``repr`` is what nbval compares
and what tests read); :mod:`omteach.ui` turns the same rows into HTML.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def canonical_json(obj: Any, *, ensure_ascii: bool = False) -> bytes:
    """One exact byte string per JSON value: keys sorted, no spaces, UTF-8; NaN and Infinity
    refused (ValueError: they are not JSON).

    A hash is over bytes, so "the same content" must always become the same bytes; ordinary
    ``json.dumps`` may order keys or space them differently. Non-ASCII letters stay UTF-8 (the
    teaching ledger's blocks, whose hashes the course prints); ``ensure_ascii=True`` writes them
    as ``\\u`` escapes instead (the blob store's JSON, whose ids the course prints).
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii,
                      allow_nan=False).encode()


def short_hex(value: str, keep: int = 10) -> str:
    """``value`` (hex, with or without ``0x``) cut to its first ``keep`` digits and an ellipsis.

    An address keeps its ``0x`` and also shows its last four digits, so two addresses that share
    a prefix stay distinguishable.
    """
    if value.startswith("0x"):
        return value if len(value) <= 2 + keep + 4 else f"{value[:2 + keep]}…{value[-4:]}"
    return value if len(value) <= keep else f"{value[:keep]}…"


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as an aligned plain-text table under a header and a rule."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``1 attempt``, ``2 attempts``, ``1,000 bounties``: a count with its noun agreed."""
    if count == 1:
        return f"1 {noun}"
    if plural_form is None:
        plural_form = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" \
            else noun + "s"
    return f"{count:,} {plural_form}"


__all__ = ["plural", "short_hex", "text_table"]
