"""A small, readable Ethereum chain for the course: web3.py over eth-tester, or any JSON-RPC node.

``Chain()`` runs an in-process py-evm chain (nothing to install, nothing to start);
``Chain("http://127.0.0.1:8545")`` talks to a real node (anvil, hardhat, geth) through the same
code. Either way the cast of the course has funded accounts by name ("AI Inc.", "Joe", "Jane",
"Jack"), contracts from ``contracts/`` are compiled in-process with the ``vyper`` package, and
everything that goes wrong comes back as an :mod:`omteach.errors` exception: a refused
transaction as :class:`ContractRevertError` carrying the contract's own reason.

Named accounts are either the node's unlocked development accounts (the single-kernel chapters:
the node signs) or *local keys* (the classroom: ``Chain(url, cast=(), keys={"Ana": key})`` or
:meth:`Chain.add_account`), whose transactions are signed in this process and sent with
``eth_sendRawTransaction``, so the key never leaves its owner's machine.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omteach.chain.records import BlockRecord, EventLog, EventRecord, StateTable, TxResult
from omteach.errors import ChainError, ContractCompileError, ContractRevertError, InvalidValueError
from omteach.story import CAST, COMPANY
from omteach.text import short_hex

_COMPILED: dict[str, CompiledContract] = {}


# -- compiling --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledContract:
    """A compiled Vyper contract: its ABI, deploy bytecode, storage layout and source."""

    name: str
    source: str
    abi: list[dict]
    bytecode: str
    layout: dict[str, dict]
    source_hash: str


def contracts_dir() -> Path:
    """Where the ``.vy`` files are: ``contracts/`` in a checkout, package data in a wheel."""
    return Path(str(importlib.resources.files("omteach.contracts")))


def contract_source(name: str) -> str:
    """The Vyper source of ``contracts/<name>.vy``."""
    path = contracts_dir() / f"{name}.vy"
    if not path.is_file():
        known = sorted(p.stem for p in contracts_dir().glob("*.vy"))
        raise ChainError(f"no contract named {name!r}; the course has: {', '.join(known)}")
    return path.read_text()


def _source_key(source: str) -> str:
    """SHA-256 of the compiler's version and the source: what a compiled contract is kept under."""
    try:  # the installed distribution's version: what ``vyper.__version__`` reads, without
        # importing the compiler (0.15 s) when the contract is already compiled
        from importlib.metadata import version

        vyper_version = version("vyper")
    except ImportError:
        import vyper

        vyper_version = vyper.__version__
    return hashlib.sha256(f"{vyper_version}\n{source}".encode()).hexdigest()


def compile_cache_dir() -> Path | None:
    """Where compiled contracts are kept between sessions (None: nowhere).

    ``$OMTEACH_CACHE_DIR`` if set (set it empty to keep nothing), else ``omteach/contracts`` in
    the user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``; ``%LOCALAPPDATA%`` on Windows).
    """
    env = os.environ.get("OMTEACH_CACHE_DIR")
    if env is not None:
        return Path(env) / "contracts" if env.strip() else None
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "omteach" / "contracts"


def _cache_file(name: str, key: str) -> Path | None:
    folder = compile_cache_dir()
    return None if folder is None else folder / f"{name}-{key}.json"


def _read_cached(name: str, source: str, key: str) -> CompiledContract | None:
    """A contract compiled in an earlier session from the same source by the same compiler.

    Anything unexpected in the file (cut short, edited, another contract's) means: compile.
    """
    path = _cache_file(name, key)
    if path is None or not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        ok = (isinstance(doc, dict) and doc.get("name") == name and doc.get("source_hash") == key
              and isinstance(doc.get("abi"), list) and isinstance(doc.get("layout"), dict)
              and isinstance(doc.get("bytecode"), str)
              and re.fullmatch(r"0x(?:[0-9a-f]{2})+", doc["bytecode"]) is not None)
    except (OSError, ValueError):
        return None
    if not ok:
        return None
    return CompiledContract(name, source, doc["abi"], doc["bytecode"], doc["layout"], key)


def _write_cached(compiled: CompiledContract) -> None:
    """Keep a compiled contract for the next session; a cache folder we cannot write is no error
    (the next session compiles again)."""
    path = _cache_file(compiled.name, compiled.source_hash)
    if path is None:
        return
    doc = {"name": compiled.name, "source_hash": compiled.source_hash, "abi": compiled.abi,
           "bytecode": compiled.bytecode, "layout": compiled.layout}
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a kernel reading meanwhile sees the old file or the new.
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def compile_contract(name: str, source: str | None = None) -> CompiledContract:
    """Compile a contract with the in-process Vyper compiler, cached by the source's SHA-256.

    ``source`` defaults to ``contracts/<name>.vy``; pass your own text to compile an edited copy.
    The course's own contracts are also kept on disk (:func:`compile_cache_dir`), under the hash
    of Vyper's version and the source: compiling ModelMarket takes seconds, every chapter that
    deploys it would pay them again in each fresh kernel.
    """
    given = source is not None
    if source is None:
        source = contract_source(name)
    key = _source_key(source)
    if key in _COMPILED and _COMPILED[key].name == name:
        return _COMPILED[key]
    # Only the files of contracts/ go to disk: an edited copy (an exercise) is compiled afresh,
    # so the cache holds one entry per contract and version of its source, not every attempt.
    file = contracts_dir() / f"{name}.vy"
    ours = not given or (file.is_file() and source == file.read_text())
    compiled = _read_cached(name, source, key) if ours else None
    if compiled is None:
        compiled = _compile(name, source, key)
        if ours:
            _write_cached(compiled)
    _COMPILED[key] = compiled
    return compiled


def compile_all() -> list[CompiledContract]:
    """Compile every contract of ``contracts/`` (the set-up does it once, so that no chapter's
    first run waits for the compiler)."""
    return [compile_contract(path.stem) for path in sorted(contracts_dir().glob("*.vy"))]


def _compile(name: str, source: str, key: str) -> CompiledContract:
    from vyper.compiler import compile_code
    from vyper.exceptions import VyperException

    try:
        out = compile_code(source, contract_path=f"{name}.vy",
                           output_formats=["abi", "bytecode", "layout"])
    except VyperException as exc:
        raise ContractCompileError(f"{name}.vy does not compile: {_vyper_message(exc)}") from None
    layout = dict(out["layout"].get("storage_layout", {}))
    return CompiledContract(name, source, out["abi"], out["bytecode"], layout, key)


def share_compiled(compiled: CompiledContract) -> None:
    """Use a contract another process compiled (a spawned rehearsal student: no recompiling).

    Kept under the hash of ``vyper``'s version and the source, so it only stands for the same
    source compiled by the same compiler.
    """
    key = _source_key(compiled.source)
    if key != compiled.source_hash:
        raise ContractCompileError(f"{compiled.name} was compiled by another Vyper version or "
                                   "from another source: compile it here")
    _COMPILED[key] = compiled


def _vyper_message(exc: Exception) -> str:
    # Vyper's own text names the line and shows the source around it: keep all of it.
    return str(exc).strip() or type(exc).__name__


# -- the chain --------------------------------------------------------------------------------


def _read_retries() -> Any:
    """Retry reads (web3's allowlist: eth_call, eth_getLogs, ...; never a transaction) when the
    connection drops.

    web3's default lists the built-in ``ConnectionError``, but requests raises its own (an
    ``OSError``, not a ``ConnectionError``) for a reset connection, so a busy node's reset was
    never retried: in a rehearsal with 30 students, about one read in ten thousand failed.
    """
    import requests
    from web3.providers.rpc.utils import ExceptionRetryConfiguration

    return ExceptionRetryConfiguration(
        errors=(ConnectionError, requests.ConnectionError, requests.HTTPError, requests.Timeout),
        retries=3, backoff_factor=0.1)


def _revert_reason(exc: Exception) -> str | None:
    """The contract's revert message inside an eth-tester or web3 error, if there is one."""
    text = getattr(exc, "message", None) or (str(exc.args[0]) if exc.args else str(exc))
    match = re.search(r"execution reverted:?\s*(.*)", str(text), re.S)
    if match is None:
        return None
    reason = match.group(1).strip()
    if reason in ("b''", 'b""', "0x"):  # eth-tester shows empty revert data as b''
        reason = ""
    return reason.strip("'\"") or "(the contract gave no reason)"


def quick_gas_estimate(state: Any, transaction: Any) -> int:
    """py-evm's gas estimate in two runs of the transaction instead of about fourteen.

    py-evm's default estimator searches by bisection between 21,000 and the block's gas limit,
    running the transaction about 14 times; every transaction the course sends is estimated
    (web3 fills in ``gas``), so on eth-tester estimating cost about three times the transaction
    itself. Here: one run with the whole block's gas (a refusal raises here, with its reason,
    as before) gives the gas used before refunds; one run confirms that this, plus 1/63 for the
    gas a call must keep back (EIP-150) and the 2,300 an SSTORE needs left (EIP-2200), suffices.
    If it does not, py-evm's bisection decides. Either way the answer is a limit the
    transaction was seen to succeed with; web3 then adds its usual 100,000 buffer.
    """
    from eth.estimators.gas import _get_computation_error, binary_gas_search_intrinsic_tolerance
    from eth.vm.spoof import SpoofTransaction

    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(
            SpoofTransaction(transaction, gas=state.gas_limit, gas_price=0))
        if computation.is_error:
            raise computation.error
        used = transaction.intrinsic_gas + computation.get_gas_used()
    finally:
        state.revert(snapshot)
    guess = min(state.gas_limit, used + used // 63 + 2_300)
    # The same check as py-evm's bisection steps: the transaction's own gas price, so a sender
    # who cannot pay for the gas is refused here, as before.
    if _get_computation_error(state, SpoofTransaction(transaction, gas=guess)) is None:
        return guess
    return binary_gas_search_intrinsic_tolerance(state, transaction)


def _use_quick_gas_estimate(backend: Any) -> None:
    """Make an eth-tester backend's py-evm chain estimate gas with :func:`quick_gas_estimate`."""
    chain = getattr(backend, "chain", None)
    if chain is None or not hasattr(chain, "gas_estimator"):
        return  # another backend: keep its own estimator
    # On the class too: eth-tester builds a fresh chain of the same class on a snapshot revert.
    type(chain).gas_estimator = staticmethod(quick_gas_estimate)
    chain.gas_estimator = quick_gas_estimate


class Chain:
    """A chain the course can talk to: eth-tester in-process by default, or a JSON-RPC ``url``.

    The first accounts of the node are given the names in ``cast`` (funded on a local chain).
    ``keys`` names local signing keys (a private key, hex or bytes, or an eth_account
    ``LocalAccount``): their transactions are signed here, never by the node. A chain reached
    through the classroom's gate has no node accounts: pass ``cast=()``.
    """

    def __init__(self, url: str | None = None, *, cast: Sequence[str] = CAST,
                 keys: Mapping[str, Any] | None = None):
        from web3 import Web3

        if url is None:
            from web3.providers.eth_tester import EthereumTesterProvider

            self._provider = EthereumTesterProvider()
            _use_quick_gas_estimate(self._provider.ethereum_tester.backend)
            self.kind = "eth-tester (in-process py-evm)"
        else:
            # web3 asks the node for its chain id before every eth_call and gas estimate (its
            # validation): half of a classroom's requests. A node's chain id never changes, so
            # that one answer is cached (nothing else is: every read sees the chain as it is).
            self._provider = Web3.HTTPProvider(url, request_kwargs={"timeout": 30},
                                               exception_retry_configuration=_read_retries(),
                                               cache_allowed_requests=True,
                                               cacheable_requests={"eth_chainId"})
            self.kind = f"JSON-RPC node at {url}"
        self.w3 = Web3(self._provider)
        try:
            self.chain_id = int(self.w3.eth.chain_id)
            node_accounts = list(self.w3.eth.accounts) if cast else []
        except Exception as exc:  # connection refused, bad URL, not a node
            raise ChainError(f"cannot reach an Ethereum node at {url}: {exc}; "
                             "start the node (e.g. anvil) or use Chain() for the built-in one"
                             ) from None
        if len(node_accounts) < len(cast):
            raise ChainError(f"the node has {len(node_accounts)} unlocked accounts but the cast "
                             f"needs {len(cast)}; start a local development node (anvil, "
                             "hardhat) that provides funded accounts")
        self.accounts: dict[str, str] = dict(zip(cast, node_accounts, strict=False))
        self._names: dict[str, str] = {a.lower(): n for n, a in self.accounts.items()}
        self._local: dict[str, Any] = {}  # lower-case address -> LocalAccount
        self.labels: dict[str, str] = {}  # name -> address of someone else (no key here)
        self._nonce_lock = threading.Lock()
        self.contracts: dict[str, DeployedContract] = {}
        for name, key in (keys or {}).items():
            self.add_account(name, key)

    def add_account(self, name: str, key: Any) -> str:
        """Name a local signing key (private key, hex or bytes, or ``LocalAccount``); its address.

        Transactions from ``name`` are then signed in this process and sent raw: the node never
        sees the key. A name already given to another address is refused.
        """
        from eth_account import Account
        from eth_account.signers.local import LocalAccount

        if not isinstance(name, str) or not name.strip():
            raise InvalidValueError(f"an account needs a name (text), got {name!r}")
        if isinstance(key, LocalAccount):
            account = key
        else:
            try:
                account = Account.from_key(key)
            except Exception:  # wrong length, not hex, out of the curve's range
                raise InvalidValueError(
                    f"{name}'s key is not a private key (32 bytes, or 64 hex digits); make one "
                    "with new_account()") from None
        if name in self.accounts and self.accounts[name].lower() != account.address.lower():
            raise InvalidValueError(f"{name!r} already names {self.accounts[name]}; "
                                    "choose another name")
        self.accounts[name] = account.address
        self._names[account.address.lower()] = name
        self._local[account.address.lower()] = account
        return account.address

    def new_account(self, name: str) -> str:
        """Generate a fresh key on this machine, name it, and return its address (unfunded)."""
        from eth_account import Account

        return self.add_account(name, Account.create())

    def label(self, name: str, address: str) -> None:
        """Name someone else's address (a classmate): readable everywhere, but no key here.

        Every process that labels from the same on-chain roster names everyone alike, so names
        can stand for people across machines. A name that is one of this chain's own accounts is
        refused.
        """
        address = self.address(address)
        if not isinstance(name, str) or not name.strip():
            raise InvalidValueError(f"a label is a name (text), got {name!r}")
        if name in self.accounts and self.accounts[name].lower() != address.lower():
            raise InvalidValueError(f"{name!r} already names {self.accounts[name]}, an account "
                                    "of this chain")
        if address.lower() in self._local:
            return  # our own key keeps the name it was added under
        self.labels[name] = address
        self._names[address.lower()] = name

    def is_local(self, who: str) -> bool:
        """True if ``who`` signs here with a local key (not an unlocked account of the node)."""
        return self.address(who).lower() in self._local

    def send_value(self, sender: str, to: str, wei: int) -> TxResult:
        """Send ``wei`` from ``sender`` to ``to`` (name, contract or address): a plain transfer."""
        if isinstance(wei, bool) or not isinstance(wei, int) or wei < 0:
            raise InvalidValueError(f"send a whole number of wei >= 0, got {wei!r}")
        tx = {"from": self.address(sender), "to": self.address(to), "value": wei}
        receipt = self._send(None, tx, f"transfer to {self.name_of(tx['to'])}", sender)
        return TxResult("transfer", sender, receipt["transactionHash"].to_0x_hex(),
                        int(receipt["blockNumber"]), int(receipt["gasUsed"]), EventLog())

    def attach(self, name: str, address: str, *, label: str | None = None) -> DeployedContract:
        """The contract ``contracts/<name>.vy`` already deployed at ``address`` (by someone else).

        Refuses an address with no code: a typo, or a contract on another chain.
        """
        compiled = compile_contract(name)
        addr = self.address(address)
        if not bytes(self.w3.eth.get_code(addr)):
            raise ChainError(f"there is no contract at {addr} on this chain; check the address "
                             "(and that you joined the right node)")
        contract = DeployedContract(self, compiled, addr, label or name)
        self.contracts[contract.name] = contract
        return contract

    # people and addresses

    def address(self, who: str) -> str:
        """The address of a cast member ("Joe"), a deployed contract, or a hex address."""
        if who in self.accounts:
            return self.accounts[who]
        if who in self.labels:
            return self.labels[who]
        if who in self.contracts:
            return self.contracts[who].address
        if isinstance(who, str) and re.fullmatch(r"0x[0-9a-fA-F]{40}", who):
            return self.w3.to_checksum_address(who)
        names = ", ".join(list(self.accounts) + list(self.labels) + list(self.contracts))
        raise InvalidValueError(f"unknown account {who!r}: use one of {names}, or a 0x address")

    def name_of(self, address: str) -> str:
        """A readable name for an address: a cast member, a contract, or a shortened address."""
        if not isinstance(address, str):
            return str(address)
        low = address.lower()
        if low in self._names:
            return self._names[low]
        for c in self.contracts.values():
            if c.address.lower() == low:
                return c.name
        if low == "0x" + "0" * 40:
            return "nobody (0x0)"
        return short_hex(address, 6)

    def balance(self, who: str) -> int:
        """Balance in wei."""
        return int(self.w3.eth.get_balance(self.address(who)))

    # time and blocks

    def now(self) -> int:
        """Timestamp of the latest block (seconds since 1970)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance_time(self, seconds: int) -> int:
        """Move the chain's clock forward and mine a block; returns the new block's timestamp."""
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise InvalidValueError(
                f"advance time by a whole number of seconds >= 0, got {seconds!r}")
        tester = getattr(self._provider, "ethereum_tester", None)
        if tester is not None:
            tester.time_travel(self.now() + seconds)
            tester.mine_blocks(1)
        else:
            self.w3.provider.make_request("evm_increaseTime", [seconds])
            self.w3.provider.make_request("evm_mine", [])
        return self.now()

    @property
    def block_number(self) -> int:
        """Number of the latest block."""
        return int(self.w3.eth.block_number)

    def block(self, number: int | str = "latest") -> BlockRecord:
        """A block as a readable record, with each transaction named by sender and function."""
        b = self.w3.eth.get_block(number, full_transactions=True)
        txs = tuple(self._describe_tx(tx) for tx in b["transactions"])
        return BlockRecord(int(b["number"]), b["hash"].to_0x_hex(), b["parentHash"].to_0x_hex(),
                           int(b["timestamp"]), txs, int(b["gasUsed"]))

    def blocks(self, start: int = 0, stop: int | None = None) -> list[BlockRecord]:
        """Blocks ``start`` to ``stop`` (default: the latest), oldest first."""
        stop = self.block_number if stop is None else stop
        return [self.block(n) for n in range(start, stop + 1)]

    def state_root(self, number: int | str = "latest") -> str:
        """The hash of the whole state (every balance, every contract's storage) after a block."""
        return self.w3.eth.get_block(number)["stateRoot"].to_0x_hex()

    def _describe_tx(self, tx: Any) -> str:
        sender = self.name_of(tx["from"])
        if not tx.get("to"):  # None from a node, "" from eth-tester
            return f"{sender} deploys a contract"
        target = self.name_of(tx["to"])
        for c in self.contracts.values():
            if c.address.lower() == tx["to"].lower():
                try:
                    # JSON-RPC nodes name the call data "input"; eth-tester's provider "data".
                    data = tx["input"] if "input" in tx else tx["data"]
                    fn, _ = c._contract.decode_function_input(data)
                    return f"{sender} → {target}.{fn.fn_name}"
                except Exception:  # input that matches no function of the ABI
                    break
        return f"{sender} → {target}"

    # contracts

    def deploy(self, name: str, *args: Any, sender: str = COMPANY, value: int = 0,
               source: str | None = None, label: str | None = None) -> DeployedContract:
        """Compile ``contracts/<name>.vy`` (or ``source``) and deploy it; returns the contract.

        Arguments may name cast members ("Joe") where the constructor expects an address.
        ``label`` names the deployed copy (default: the contract's name).
        """
        compiled = compile_contract(name, source)
        factory = self.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        ctor = next((f for f in compiled.abi if f.get("type") == "constructor"), {"inputs": []})
        call_args = _convert_args(self, "constructor", ctor["inputs"], args)
        tx = {"from": self.address(sender), "value": int(value)}
        receipt = self._send(factory.constructor(*call_args), tx, f"deploy {name}", sender)
        contract = DeployedContract(self, compiled, receipt["contractAddress"], label or name)
        self.contracts[contract.name] = contract
        return contract

    def _send(self, fn: Any, tx: dict[str, Any], what: str, sender: str) -> Any:
        """Send ``fn`` (a web3 contract call or constructor; None for a plain transfer) as ``tx``.

        A local key signs here and the transaction goes out raw; otherwise the node signs.
        """
        from eth_utils import ValidationError as EthValidationError
        from web3.exceptions import Web3Exception

        if sender in self.labels and sender not in self.accounts:
            raise ChainError(f"{sender} → {what}: there is no key for {sender} here; only "
                             f"{', '.join(self.accounts) or 'nobody'} can send from this chain")
        try:
            local = self._local.get(str(tx["from"]).lower())
            if local is None:
                tx_hash = fn.transact(tx) if fn is not None else self.w3.eth.send_transaction(tx)
            else:
                tx_hash = self._send_signed(local, fn, tx)
        except ContractRevertError:
            raise
        except Exception as exc:
            reason = _revert_reason(exc)
            if reason is not None:
                raise ContractRevertError(f"{sender} → {what} was refused: {reason}",
                                          reason=reason, function=what, sender=sender) from None
            # eth-tester refuses an unaffordable transaction with eth_utils' ValidationError.
            if isinstance(exc, Web3Exception | ValueError | TypeError | EthValidationError):
                raise ChainError(f"{sender} → {what} failed: {_node_message(exc)}") from None
            raise
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise ContractRevertError(f"{sender} → {what} was refused (no reason given)",
                                      reason="(the contract gave no reason)", function=what,
                                      sender=sender)
        return receipt

    def _send_signed(self, account: Any, fn: Any, tx: dict[str, Any]) -> Any:
        # One lock per chain: two threads of one process must not take the same nonce.
        with self._nonce_lock:
            tx = dict(tx, chainId=self.chain_id,
                      nonce=self.w3.eth.get_transaction_count(account.address, "pending"))
            if fn is not None:
                # Estimating the gas runs the call: a refusal surfaces here, with its reason.
                full = fn.build_transaction(tx)
            else:
                full = dict(tx, gas=self.w3.eth.estimate_gas(tx))
                fees = self._fees()
                full.update(fees)
            full.pop("from", None)
            signed = account.sign_transaction(full)
            return self.w3.eth.send_raw_transaction(signed.raw_transaction)

    def _fees(self) -> dict[str, int]:
        """EIP-1559 fee fields as web3 fills them for a contract call (tip + twice the base fee)."""
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
        tip = int(self.w3.eth.max_priority_fee)
        return {"maxPriorityFeePerGas": tip, "maxFeePerGas": tip + 2 * base}


def _node_message(exc: Exception) -> str:
    """The node's own error text (e.g. "insufficient funds ...") rather than a dict's repr."""
    arg = exc.args[0] if exc.args else exc
    if isinstance(arg, dict) and "message" in arg:
        return str(arg["message"])
    return str(exc)


def _convert_args(chain: Chain, fn: str, inputs: list[dict], args: Sequence[Any]) -> list[Any]:
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


class DeployedContract:
    """A contract on the chain: call its views, send it transactions, read its state and log."""

    def __init__(self, chain: Chain, compiled: CompiledContract, address: str, name: str):
        self.chain = chain
        self.compiled = compiled
        self.address = address
        self.name = name
        self._contract = chain.w3.eth.contract(address=address, abi=compiled.abi)

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
        call_args = _convert_args(self.chain, fn, abi["inputs"], args)
        # A chain with no account named like the default sender (a student's, through the
        # gate) calls views from nobody: a view's answer does not depend on who asks.
        tx = ({} if sender == COMPANY and COMPANY not in self.chain.accounts
              else {"from": self.chain.address(sender)})
        try:
            result = getattr(self._contract.functions, fn)(*call_args).call(tx)
        except Exception as exc:
            reason = _revert_reason(exc)
            if reason is not None:
                raise ContractRevertError(f"{sender} → {self.name}.{fn} was refused: {reason}",
                                          reason=reason, function=fn, sender=sender) from None
            raise ChainError(f"calling {self.name}.{fn} failed: {exc}") from None
        return result

    def transact(self, fn: str, *args: Any, sender: str, value: int = 0) -> TxResult:
        """Send a transaction from ``sender``; returns what it did, or raises ContractRevertError.

        A refused transaction changes nothing (the contract's state is as before).
        """
        abi = self._abi(fn)
        if self.is_view(fn):
            raise InvalidValueError(f"{fn} only reads state: use .call({fn!r}), not a transaction")
        call_args = _convert_args(self.chain, fn, abi["inputs"], args)
        if value and abi.get("stateMutability") != "payable":
            raise InvalidValueError(f"{fn} does not accept payment; send it without value")
        tx = {"from": self.chain.address(sender), "value": int(value)}
        receipt = self.chain._send(getattr(self._contract.functions, fn)(*call_args), tx,
                                   f"{self.name}.{fn}", sender)
        return TxResult(fn, sender, receipt["transactionHash"].to_0x_hex(),
                        int(receipt["blockNumber"]), int(receipt["gasUsed"]),
                        self._decode_logs(receipt["logs"]))

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
