"""A deployed contract, read and written by name: :class:`DeployedContract`.

Calls and transactions take the contract's function names and readable arguments (cast names
where an address is expected, checked counts and types); results, state and events come back as
the records of :mod:`omteach.chain.records`, and a refusal as a
:class:`~omteach.errors.ContractRevertError` carrying the contract's own reason.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from eth_abi.exceptions import DecodingError
from eth_abi.grammar import ABIType, TupleType, parse
from eth_utils import (
    function_abi_to_4byte_selector,
    get_abi_input_types,
    get_abi_output_types,
    to_checksum_address,
)

from omteach.chain.compiler import CompiledContract
from omteach.chain.records import EventLog, EventRecord, StateTable, TxResult
from omteach.errors import ChainError, ContractRevertError, InvalidValueError
from omteach.story import COMPANY
from omteach.text import short_hex

if TYPE_CHECKING:  # the chain builds its contracts: it imports this module, not the reverse
    from omteach.chain.evm import Chain


def revert_reason(exc: Exception) -> str | None:
    """The contract's revert message inside an eth-tester or web3 error, if there is one."""
    text = getattr(exc, "message", None) or (str(exc.args[0]) if exc.args else str(exc))
    match = re.search(r"execution reverted:?\s*(.*)", str(text), re.S)
    if match is None:
        return None
    reason = match.group(1).strip()
    if reason in ("b''", 'b""', "0x"):  # eth-tester shows empty revert data as b''
        reason = ""
    return reason.strip("'\"") or "(the contract gave no reason)"


def convert_args(chain: Chain, fn: str, inputs: list[dict], args: Sequence[Any]) -> list[Any]:
    """Check the argument count and turn names into addresses, with a readable error."""
    if len(args) != len(inputs):
        sig = ", ".join(f"{i['name']}: {i['type']}" for i in inputs)
        raise InvalidValueError(f"{fn} takes {len(inputs)} argument(s) ({sig}), "
                                f"got {len(args)}")
    out = []
    for spec, value in zip(inputs, args, strict=True):
        kind = spec["type"]
        if kind == "address" and isinstance(value, str):
            value = chain.address(value)
        elif kind.startswith(("uint", "int")):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidValueError(f"{fn}: {spec['name']} must be a whole number "
                                        f"({kind}), got {value!r}")
            if kind.startswith("uint") and value < 0:
                raise InvalidValueError(f"{fn}: {spec['name']} cannot be negative ({kind}), "
                                        f"got {value}")
        elif kind.startswith("string") and not isinstance(value, str):
            raise InvalidValueError(f"{fn}: {spec['name']} must be text, got {value!r}")
        elif kind == "bool" and not isinstance(value, bool):
            raise InvalidValueError(f"{fn}: {spec['name']} must be True or False, got {value!r}")
        out.append(value)
    return out


@functools.lru_cache(maxsize=8192)
def _checksummed(address: str) -> str:
    """An address as web3 returns it (EIP-55 mixed case); cached: a round's view names the same
    hundred addresses at every poll, and each costs a keccak."""
    return to_checksum_address(address)


def _normalizer(kind: ABIType) -> Callable[[Any], Any] | None:
    """What turns eth_abi's decoded value of ``kind`` into what web3's ``.call()`` returns:
    every address checksummed, every array a list, every tuple a tuple; None when the value
    stays as decoded (a number, bytes, text, a bool)."""
    if kind.is_array:
        item = _normalizer(kind.item_type)
        return list if item is None else (lambda values: [item(v) for v in values])
    if isinstance(kind, TupleType):
        parts = [_normalizer(c) for c in kind.components]
        return lambda values: tuple(v if f is None else f(v)
                                    for f, v in zip(parts, values, strict=True))
    return _checksummed if kind.to_type_str() == "address" else None


_FLAT = re.compile(r"(u?int\d*|address|bool|bytes\d*|string)")
"""ABI types whose argument this module encodes itself: every input of the course's contracts
(no tuple, no array; those go through web3's encoder)."""


def _plainly_encoded(kind: str, value: Any) -> bool:
    """Whether eth_abi encodes ``value`` as ``kind`` exactly as web3 would, with nothing of
    web3's checks to repeat: bytes for bytes (of the exact size for bytesN: web3 refuses a
    shorter value, eth_abi pads it), a checksummed address (web3 refuses the others)."""
    if kind.startswith("bytes"):
        return isinstance(value, bytes) and (kind == "bytes" or len(value) == int(kind[5:]))
    if kind == "address":
        if not isinstance(value, str):
            return False
        try:
            return value == _checksummed(value)  # web3 refuses any other spelling
        except ValueError:  # not an address at all: web3 refuses it in its own words
            return False
    return True


class DeployedContract:
    """A contract on the chain: call its views, send it transactions, read its state and log."""

    def __init__(self, chain: Chain, compiled: CompiledContract, address: str, name: str):
        self.chain = chain
        self.compiled = compiled
        self.address = address
        self.name = name
        self._contract = chain.w3.eth.contract(address=address, abi=compiled.abi)
        self._outputs: dict[str, tuple[list[str], list[Callable[[Any], Any] | None]]] = {}
        self._inputs: dict[str, tuple[bytes, list[str]] | None] = {}

    @property
    def functions(self) -> dict[str, dict]:
        """Function name → ABI entry (inputs, outputs, whether it changes state)."""
        return {f["name"]: f for f in self.compiled.abi if f.get("type") == "function"}

    def _abi(self, fn: str) -> dict:
        if fn not in self.functions:
            raise InvalidValueError(f"{self.name} has no function {fn!r}; it has: "
                                    f"{', '.join(sorted(self.functions))}")
        return self.functions[fn]

    def is_view(self, fn: str) -> bool:
        """True if ``fn`` only reads state (a call, free, no transaction)."""
        return self._abi(fn).get("stateMutability") in ("view", "pure")

    def call(self, fn: str, *args: Any, sender: str = COMPANY) -> Any:
        """Run a view function locally and return its (readable) result; changes nothing."""
        abi = self._abi(fn)
        call_args = convert_args(self.chain, fn, abi["inputs"], args)
        # A chain with no account named like the default sender (a student's, through the
        # gate) calls views from nobody: a view's answer does not depend on who asks.
        tx = ({} if sender == COMPANY and COMPANY not in self.chain.accounts
              else {"from": self.chain.address(sender)})
        try:
            # web3's own .call() spends most of a large view's time mapping the decoded value
            # through its normalizers (a round's view of 100 participants: 30 ms of a student's
            # 46 ms of CPU to reveal); the same request, decoded by eth_abi and checksummed here.
            raw = self.chain.call_raw({**tx, "to": self.address,
                                       "data": self.call_data(fn, call_args)})
        except Exception as exc:
            reason = revert_reason(exc)
            if reason is not None:
                raise ContractRevertError(f"{sender} → {self.name}.{fn} was refused: {reason}",
                                          reason=reason, function=fn, sender=sender) from None
            raise ChainError(f"calling {self.name}.{fn} failed: {exc}") from None
        return self._decode_output(fn, abi, raw)

    def call_data(self, fn: str, call_args: Sequence[Any]) -> str:
        """The transaction data of calling ``fn`` with ``call_args`` (as
        :func:`convert_args` gives them): 0x-hex of its selector and its encoded arguments.

        Encoded with eth_abi here, as web3 encodes them, where every input is a plain type
        (numbers, addresses, bytes, text, bools): web3's own path maps each argument through
        its normalizers first, a millisecond or more of a student's every read of the round
        (issue 21). A text where bytes are expected, and any tuple or array, go through web3.
        """
        if fn not in self._inputs:
            abi = self._abi(fn)
            types = list(get_abi_input_types(abi))
            self._inputs[fn] = ((function_abi_to_4byte_selector(abi), types)
                                if all(_FLAT.fullmatch(t) for t in types) else None)
        plan = self._inputs[fn]
        if plan is not None and all(map(_plainly_encoded, plan[1], call_args)):
            selector, types = plan
            return "0x" + (selector + self.chain.w3.codec.encode(types, call_args)).hex()
        return getattr(self._contract.functions, fn)(*call_args)._encode_transaction_data()

    def _decode_output(self, fn: str, abi: dict, raw: bytes) -> Any:
        """A view's answer as web3's ``.call()`` gives it (a single output unwrapped)."""
        if fn not in self._outputs:
            types = list(get_abi_output_types(abi))
            self._outputs[fn] = (types, [_normalizer(parse(t)) for t in types])
        types, normalizers = self._outputs[fn]
        try:
            values = self.chain.w3.codec.decode(types, raw)
        except DecodingError:
            raise ChainError(f"calling {self.name}.{fn} failed: its answer ({len(raw)} bytes) "
                             f"is not the {', '.join(types) or 'nothing'} it returns (is "
                             f"{self.address} this contract, deployed on this chain?)") from None
        values = [v if f is None else f(v) for f, v in zip(normalizers, values, strict=True)]
        return values[0] if len(values) == 1 else values

    def transact(self, fn: str, *args: Any, sender: str, value: int = 0,
                 next_block: bool = False) -> TxResult:
        """Send a transaction from ``sender``; returns what it did, or raises ContractRevertError.

        A refused transaction changes nothing (the contract's state is as before).
        ``next_block``: check it as the next block will run it, at the node's clock rather than
        the latest block's time (for an action allowed only once a deadline passed: no other
        transaction needs to have a block stamped past the deadline first).
        """
        abi = self._abi(fn)
        if self.is_view(fn):
            raise InvalidValueError(f"{fn} only reads state: use .call({fn!r}), not a transaction")
        call_args = convert_args(self.chain, fn, abi["inputs"], args)
        if value and abi.get("stateMutability") != "payable":
            raise InvalidValueError(f"{fn} does not accept payment; send it without value")
        tx = {"from": self.chain.address(sender), "value": int(value)}
        receipt = self.chain._send(getattr(self._contract.functions, fn)(*call_args), tx,
                                   f"{self.name}.{fn}", sender, next_block=next_block,
                                   call=(self.address, self.call_data(fn, call_args)))
        return TxResult(fn, sender, receipt["transactionHash"].to_0x_hex(),
                        int(receipt["blockNumber"]), int(receipt["gasUsed"]),
                        self._decode_logs(receipt["logs"]))

    def call_text_as_bytes(self, fn: str, *args: Any) -> bytes:
        """Run a view function that returns a ``string`` and get its raw bytes, whatever they
        are. The ABI encodes ``string`` and ``bytes`` alike; web3 refuses a ``string`` that is
        not UTF-8, so a tolerant reader (the class's roster, whatever a student wrote on chain)
        asks for bytes and decides itself how to show them."""
        abi = self._abi(fn)
        if [o["type"] for o in abi["outputs"]] != ["string"]:
            raise InvalidValueError(f"{self.name}.{fn} does not return one string")
        as_bytes = dict(abi, outputs=[dict(abi["outputs"][0], type="bytes")])
        raw = self.chain.w3.eth.contract(address=self.address, abi=[as_bytes])
        call_args = convert_args(self.chain, fn, abi["inputs"], args)
        try:
            return bytes(getattr(raw.functions, fn)(*call_args).call())
        except Exception as exc:
            raise ChainError(f"calling {self.name}.{fn} failed: {exc}") from None

    def state(self) -> StateTable:
        """Every public variable with its storage slot and current value, as a table."""
        rows = []
        for var, where in self.compiled.layout.items():
            if var not in self.functions or self.functions[var]["inputs"]:
                continue
            value = self.call(var)
            kind = self.functions[var]["outputs"][0]["type"]
            rows.append((var, kind, str(where.get("slot", "")), self._readable(kind, value)))
        rows.append(("(balance)", "wei", "-", self.chain.w3.eth.get_balance(self.address)))
        return StateTable(f"{self.name} at {short_hex(self.address, 6)}", tuple(rows))

    def events(self, from_block: int = 0) -> EventLog:
        """Every event this contract logged since ``from_block``, oldest first."""
        logs = self.chain.w3.eth.get_logs({"address": self.address, "fromBlock": from_block,
                                          "toBlock": "latest"})
        return self._decode_logs(logs)

    def _decode_logs(self, logs: Iterable[Any]) -> EventLog:
        from eth_utils import event_abi_to_log_topic

        by_topic = {event_abi_to_log_topic(e): e for e in self.compiled.abi
                    if e.get("type") == "event"}
        out = EventLog()
        for log in logs:
            if log["address"].lower() != self.address.lower() or not log["topics"]:
                continue
            abi = by_topic.get(bytes(log["topics"][0]))
            if abi is None:
                continue
            decoded = getattr(self._contract.events, abi["name"])().process_log(log)
            types = {i["name"]: i["type"] for i in abi["inputs"]}
            args = {k: self._readable(types[k], v) for k, v in decoded["args"].items()}
            out.append(EventRecord(abi["name"], int(log["blockNumber"]), args, self.name))
        return out

    def _readable(self, kind: str, value: Any) -> Any:
        if kind == "address":
            return self.chain.name_of(value)
        if kind.startswith("bytes") and isinstance(value, bytes | bytearray):
            return "0x" + bytes(value).hex()
        return value

    def __repr__(self) -> str:
        return f"{self.name} at {self.address}"
