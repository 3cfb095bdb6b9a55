"""Display names on the class's roster: what the contract accepts, and how any name is shown.

The ``Classroom`` contract checks every name's bytes on chain (a rule a client applies can be
skipped by a student who sends raw calldata): one script (Latin letters, digits, accented Latin
letters), single spaces and the marks ``- ' .``, nothing invisible, nothing that is not UTF-8;
and no two names may share a fold (``name_key``) that mirrors Unicode TR39's confusable skeleton
for that alphabet (case, ``I l i 1``, ``O o 0``, ``rn``/``m``, ``vv``/``w``, ``cl``/``d``,
separators ignored). This module is the client's half:

- :func:`normalize_name` turns what a student typed into the form the contract expects (Unicode
  NFC, so an accent typed as a combining mark becomes one letter; spaces trimmed and single) and
  says in plain words what to change when it would be refused, before any transaction;
- :func:`name_key` is the contract's fold in Python (a property test checks they agree);
- :func:`show_name` renders whatever bytes are on chain (an older contract's, a hostile one's)
  as visible text: invisible and control characters become ``\\u{..}`` escapes, so a reader
  never fails and two names never look alike without showing why.
"""

from __future__ import annotations

import unicodedata

from omteach.errors import InvalidValueError

MAX_NAME_BYTES = 40
"""The contract's String[40]: forty bytes of UTF-8 (an accented letter takes two)."""
SEPARATORS = frozenset(" -'.")
_LOOKALIKES = frozenset("\u00d7\u00f7\u0131\u0138\u0149\u017f")
"""Refused in names: × ÷ ı ĸ ŉ ſ look like x / i k 'n f."""


def _allowed(ch: str) -> bool:
    code = ord(ch)
    if code < 128:
        return ch.isascii() and (ch.isalnum() or ch in SEPARATORS)
    return 0xC0 <= code <= 0x17F and ch not in _LOOKALIKES


def normalize_name(text: str) -> str:
    """``text`` as the contract takes it (NFC, single spaces, trimmed), or an error saying why not.

    Raises :class:`~omteach.errors.InvalidValueError` naming the rule: no letters, too long,
    characters outside the class's alphabet (invisible ones are named by their code point).
    """
    if not isinstance(text, str):
        raise InvalidValueError(f"a display name is text, got {text!r}")
    name = " ".join(unicodedata.normalize("NFC", text).split())
    if not name:
        raise InvalidValueError("choose a display name (1 to 40 characters)")
    bad = sorted({ch for ch in name if not _allowed(ch)})
    if bad:
        shown = ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}" for ch in bad)
        raise InvalidValueError(
            f"display names use Latin letters (accents welcome), digits, single spaces and "
            f"- ' . only; {name!r} has {shown}: write it in Latin letters")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise InvalidValueError(f"{name!r} is {len(name.encode())} bytes of UTF-8; a display "
                                f"name takes at most {MAX_NAME_BYTES}: shorten it")
    if not any(ch.isalpha() for ch in name):
        raise InvalidValueError("a display name needs at least one letter")
    return name


def _fold(name: str) -> list[int]:
    folded: list[int] = []
    for ch in name:
        if ch in SEPARATORS:
            continue
        code = ord(ch)
        if code >= 128:
            if 0xC0 <= code <= 0xDE:
                code += 32
            elif code == 0x178:
                code = 0xFF
            elif 0x100 <= code <= 0x137 or 0x14A <= code <= 0x177:
                code |= 1
            elif 0x139 <= code <= 0x148 or 0x179 <= code <= 0x17E:
                code += code & 1
            folded.append(code)
            continue
        code = ord(ch.lower())
        code = {ord("i"): ord("l"), ord("1"): ord("l"), ord("0"): ord("o")}.get(code, code)
        pair = (folded[-1] if folded else 0, code)
        merged = {(ord("r"), ord("n")): "m", (ord("v"), ord("v")): "w",
                  (ord("c"), ord("l")): "d"}.get(pair)
        if merged is not None:
            folded[-1] = ord(merged)
        else:
            folded.append(code)
    return folded


def name_key(name: str) -> bytes:
    """The contract's ``name_key`` of a valid name: keccak256 of the fold, ABI-encoded."""
    from eth_abi import encode
    from eth_utils import keccak

    return keccak(encode(["uint256[]"], [_fold(normalize_name(name))]))


def show_name(raw: bytes | str) -> str:
    """Any bytes from the chain as visible, one-line text ("" when there is nothing visible).

    Bytes that are not UTF-8 become U+FFFD; control, format (zero-width, bidirectional marks,
    soft hyphen), private-use and unassigned characters and line breaks become ``\\u{XXXX}``;
    surrounding spaces go. Never raises.
    """
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes | bytearray) else raw
    out = []
    for ch in str(text):
        if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"):
            out.append(f"\\u{{{ord(ch):04X}}}")
        else:
            out.append(ch)
    return "".join(out).strip()

