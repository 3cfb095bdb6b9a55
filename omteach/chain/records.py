"""Readable records of what happened on chain: events, state tables, transactions, blocks.

Each shows itself as plain text; :mod:`omteach.ui` adds HTML tables for the notebook.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from omteach.text import text_table

LONG_BYTES = 64
"""Bytes values longer than this show as their start and their length (an event that carries
data, e.g. a reveal's shares, would otherwise fill a table with hex)."""


def shown(value: Any) -> Any:
    """``value`` as a record shows it: long 0x-hex bytes cut to their start and length."""
    if isinstance(value, str) and value.startswith("0x") and len(value) > 2 + 2 * LONG_BYTES:
        return f"{value[:18]}… ({(len(value) - 2) // 2:,} bytes)"
    return value


def _args(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={shown(v)}" for k, v in args.items())


@dataclass(frozen=True)
class EventRecord:
    """One event from a contract's log: which event, in which block, with which values."""

    name: str
    block: int
    args: dict[str, Any]
    contract: str = ""

    def __str__(self) -> str:
        return f"block {self.block}: {self.name}({_args(self.args)})"


class EventLog(list):
    """A list of :class:`EventRecord` that shows itself as a table."""

    header = ("block", "event", "values")

    def rows(self) -> list[tuple]:
        return [(e.block, e.name, _args(e.args)) for e in self]

    def __repr__(self) -> str:
        return text_table(self.header, self.rows()) if self else "(no events)"


@dataclass(frozen=True)
class StateTable:
    """A contract's state: each public variable, its type, its storage slot and its value."""

    contract: str
    rows: tuple[tuple[str, str, str, Any], ...]

    header = ("variable", "type", "slot", "value")

    def as_dict(self) -> dict[str, Any]:
        """Variable name → value."""
        return {r[0]: r[3] for r in self.rows}

    def __getitem__(self, name: str) -> Any:
        return self.as_dict()[name]

    def __repr__(self) -> str:
        return f"{self.contract}\n" + text_table(self.header, self.rows)


@dataclass(frozen=True)
class TxResult:
    """What a transaction did: who called what, in which block, for how much gas, which events."""

    function: str
    sender: str
    tx_hash: str
    block: int
    gas_used: int
    events: EventLog = field(default_factory=EventLog)

    def __repr__(self) -> str:
        ev = "; ".join(f"{e.name}({_args(e.args)})" for e in self.events) or "no events"
        return (f"✔ {self.sender} → {self.function}: mined in block {self.block}, "
                f"gas {self.gas_used}, {ev}")


@dataclass(frozen=True)
class BlockRecord:
    """A block as a record: number, its hash, its parent's hash, time, transactions, gas."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int
    transactions: tuple[str, ...]
    gas_used: int

    @property
    def time(self) -> str:
        """The block's timestamp as UTC date and time."""
        return dt.datetime.fromtimestamp(self.timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def rows(self) -> list[tuple[str, Any]]:
        txs = "; ".join(self.transactions) or "(none)"
        return [("number", self.number), ("hash", self.hash), ("parent hash", self.parent_hash),
                ("time", self.time), ("transactions", txs), ("gas used", self.gas_used)]

    def __repr__(self) -> str:
        return "\n".join(f"{k:<13} {v}" for k, v in self.rows())
