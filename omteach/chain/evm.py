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

The chain's parts, by seam: compiling (:mod:`omteach.chain.compiler`), a deployed contract
(:mod:`omteach.chain.contract`), eth-tester's gas estimate (:mod:`omteach.chain.gas`), and here
the chain itself (accounts, time, blocks, sending). Their public names are importable from here
too, where they were first.

Why some 360 lines: the :class:`Chain` is one object (accounts, time, blocks and sending share
its node connection and nonce lock); what could leave it has left (above).
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from omteach.chain.compiler import (
    CompiledContract,
    compile_all,
    compile_cache_dir,
    compile_contract,
    contract_source,
    contracts_dir,
    share_compiled,
)
from omteach.chain.contract import DeployedContract, convert_args, revert_reason
from omteach.chain.gas import quick_gas_estimate, use_quick_gas_estimate
from omteach.chain.records import BlockRecord, EventLog, TxResult
from omteach.chain.transport import RpcError, kept_alive_provider
from omteach.errors import ChainError, ContractRevertError, InvalidValueError
from omteach.story import CAST, COMPANY
from omteach.text import short_hex

__all__ = ["Chain", "CompiledContract", "DeployedContract", "compile_all", "compile_cache_dir",
           "compile_contract", "contract_source", "contracts_dir", "quick_gas_estimate",
           "share_compiled"]


FEE_SECONDS = 10.0
"""How long a process reuses the fee fields it read (:meth:`Chain._cached_fees`)."""
GAS_MARGIN = 30_000
"""Gas added to a locally signed contract call's estimate: one storage slot set from zero
(22,100) and change, for state that changed between the estimate and the block."""


def _read_retries() -> Any:
    """Retry reads (web3's allowlist: eth_call, eth_getLogs, ...; never a transaction) when the
    connection drops or the gate says "not now" (:class:`~omteach.chain.transport.NodeBusyError`
    is a ``ConnectionError``): three tries, 0.1 and 0.2 s apart. (Under ``requests``, web3's
    former transport, a reset connection was not retried: in a rehearsal with 30 students,
    about one read in ten thousand failed.)"""
    from web3.providers.rpc.utils import ExceptionRetryConfiguration

    return ExceptionRetryConfiguration(
        errors=(ConnectionError, TimeoutError, http.client.HTTPException), retries=3,
        backoff_factor=0.1)


RECEIPT_TIMEOUT_S = 120.0
"""How long a sent transaction may take to be mined before the sender is told (web3's wait)."""


class Chain:
    """A chain the course can talk to: eth-tester in-process by default, or a JSON-RPC ``url``.

    The first accounts of the node are given the names in ``cast`` (funded on a local chain).
    ``keys`` names local signing keys (a private key, hex or bytes, or an eth_account
    ``LocalAccount``): their transactions are signed here, never by the node. A chain reached
    through the classroom's gate has no node accounts: pass ``cast=()``. ``headers`` go with
    every request to ``url`` (the class hub's class pass, for its gate).
    """

    def __init__(self, url: str | None = None, *, cast: Sequence[str] = CAST,
                 keys: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                 fee_seconds: float = FEE_SECONDS):
        from web3 import Web3

        if url is None:
            from web3.providers.eth_tester import EthereumTesterProvider

            self._provider = EthereumTesterProvider()
            self._lean = None
            use_quick_gas_estimate(self._provider.ethereum_tester.backend)
            self.kind = "eth-tester (in-process py-evm)"
            # eth-tester refuses the "pending" tag for a gas estimate, and its own estimate
            # already runs in a fresh block on top of the latest, stamped with the wall clock.
            self._next_block_tag: str | None = None
        else:
            # web3 asks the node for its chain id before every eth_call and gas estimate (its
            # validation): half of a classroom's requests. A node's chain id never changes, so
            # that one answer is cached (nothing else is: every read sees the chain as it is).
            kwargs: dict[str, Any] = {"timeout": 30}
            if headers:  # e.g. a class pass for the class hub's gate
                kwargs["headers"] = {**Web3.HTTPProvider.get_request_headers(), **headers}
            # Kept-open connections (omteach.chain.transport): the frequent reads below skip
            # web3's pipeline too (_read).
            self._provider = kept_alive_provider(url, request_kwargs=kwargs,
                                                 exception_retry_configuration=_read_retries(),
                                                 cache_allowed_requests=True,
                                                 cacheable_requests={"eth_chainId"})
            self._lean = (self._provider.transport, url, kwargs)
            self.kind = f"JSON-RPC node at {url}"
            # A node estimates against its latest block unless told otherwise; anvil stamps its
            # pending block with the wall clock (the time the next block will have).
            self._next_block_tag = "pending"
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
        self._nonces: dict[str, int] = {}  # lower-case address -> next nonce of a local key
        self._fee_fields: dict[str, int] = {}
        self._fees_at: float | None = None  # time.monotonic() when the fee fields were read
        self.fee_seconds = fee_seconds
        """How long the fee fields read are reused (:meth:`_cached_fees`); a node's refusal of
        them makes them read again at once, whatever their age."""
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
        if self._lean is not None:
            return self._read_hex("eth_blockNumber", [])
        return int(self.w3.eth.block_number)

    def _read(self, method: str, params: list[Any], *, retries: int = 3) -> Any:
        """One JSON-RPC read sent straight to the node, not through web3's request pipeline:
        its raw ``result`` (hex strings, dicts), or :class:`~omteach.chain.transport.RpcError`.
        A chain on a node only (:attr:`_lean`); the class's most frequent reads (views, the
        block number, receipts) cost a student a fifth of their CPU this way (issue 21)."""
        transport, url, kwargs = self._lean
        try:
            return transport.rpc(url, method, params, timeout=kwargs["timeout"],
                                 headers=kwargs.get("headers"), retries=retries)
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out
            raise ChainError(f"{method} to the node at {url} failed: {exc}") from None

    def _read_hex(self, method: str, params: list[Any], *, retries: int = 3,
                  number: bool = True) -> Any:
        """:meth:`_read` of a 0x-hex answer: a number (``number``), else its bytes; a node that
        answers anything else gets a ChainError, not a bare ValueError."""
        result = self._read(method, params, retries=retries)
        try:
            if not (isinstance(result, str) and result.startswith("0x")):
                raise ValueError
            return int(result, 16) if number else bytes.fromhex(result[2:])
        except ValueError:
            raise ChainError(f"the node answered {method} with {str(result)[:80]!r}, not "
                             "0x-hex: is this URL an Ethereum node?") from None

    def call_raw(self, tx: dict[str, Any]) -> bytes:
        """``eth_call`` of ``tx`` (``to``, ``data``, maybe ``from``) at the latest block: the
        answer's bytes. A revert raises as web3 raises it, or as an
        :class:`~omteach.chain.transport.RpcError` with the node's message (both read by
        :func:`~omteach.chain.contract.revert_reason`)."""
        if self._lean is None:
            return bytes(self.w3.eth.call(tx))
        return self._read_hex("eth_call", [tx, "latest"], number=False)

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
        call_args = convert_args(self, "constructor", ctor["inputs"], args)
        tx = {"from": self.address(sender), "value": int(value)}
        receipt = self._send(factory.constructor(*call_args), tx, f"deploy {name}", sender)
        contract = DeployedContract(self, compiled, receipt["contractAddress"], label or name)
        self.contracts[contract.name] = contract
        return contract

    def _send(self, fn: Any, tx: dict[str, Any], what: str, sender: str, *,
              next_block: bool = False, call: tuple[str, str] | None = None) -> Any:
        """Send ``fn`` (a web3 contract call or constructor; None for a plain transfer) as ``tx``.

        A local key signs here and the transaction goes out raw; otherwise the node signs.
        ``next_block``: estimate the gas (which runs the call, and so checks the contract's
        rules) as the next block will run it, at its time, not the latest block's
        (:meth:`_next_block_gas`). ``call``: (contract address, call data) of a contract
        call, which a local key on a node then estimates, signs and sends past web3's request
        pipeline (:meth:`_lean_gas`).
        """
        from eth_utils import ValidationError as EthValidationError
        from web3.exceptions import Web3Exception

        if sender in self.labels and sender not in self.accounts:
            raise ChainError(f"{sender} → {what}: there is no key for {sender} here; only "
                             f"{', '.join(self.accounts) or 'nobody'} can send from this chain")
        try:
            local = self._local.get(str(tx["from"]).lower())
            lean = call if local is not None and self._lean is not None else None
            if next_block and fn is not None and self._next_block_tag is not None:
                # (eth-tester's own estimate already runs on the next block: left to web3 there,
                # so its gas limits, and the block hashes the notebooks print, stay as they were)
                tx = dict(tx, gas=(self._lean_gas(tx, lean, self._next_block_tag)
                                   if lean is not None else self._next_block_gas(fn, tx)))
            if local is None:
                tx_hash = fn.transact(tx) if fn is not None else self.w3.eth.send_transaction(tx)
            else:
                tx_hash = self._send_signed(local, fn, tx, lean)
        except ContractRevertError:
            raise
        except Exception as exc:
            reason = revert_reason(exc)
            if reason is not None:
                raise ContractRevertError(f"{sender} → {what} was refused: {reason}",
                                          reason=reason, function=what, sender=sender) from None
            # eth-tester refuses an unaffordable transaction with eth_utils' ValidationError.
            if isinstance(exc, Web3Exception | ValueError | TypeError | EthValidationError
                          | RpcError):
                raise ChainError(f"{sender} → {what} failed: {_node_message(exc)}") from None
            raise
        receipt = self._receipt(tx_hash, what, sender)
        if receipt["status"] != 1:
            reason = self._replayed_reason(fn, tx, receipt)
            if reason is not None:
                raise ContractRevertError(f"{sender} → {what} was refused: {reason}",
                                          reason=reason, function=what, sender=sender)
            raise ContractRevertError(f"{sender} → {what} was refused (no reason given)",
                                      reason="(the contract gave no reason)", function=what,
                                      sender=sender)
        return receipt

    def _receipt(self, tx_hash: Any, what: str, sender: str, *,
                 timeout: float = RECEIPT_TIMEOUT_S) -> Any:
        """The receipt of a sent transaction, asked for again after 5, 10, 20, 40 ms, then every
        0.1 s. (web3's own wait asks every 0.1 s: a node that mines on arrival usually has the
        receipt within milliseconds, and a class under load waited a tenth of a second for half
        of its transactions.)"""
        delay, deadline = 0.005, time.monotonic() + timeout
        while True:
            receipt = self._receipt_now(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise ChainError(f"{sender} → {what} was sent (0x{bytes(tx_hash).hex()}) "
                                 f"but is in no block after {timeout:.0f} s: is the node still "
                                 "mining? Check it, then look the transaction up before "
                                 "sending it again")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _receipt_now(self, tx_hash: Any) -> Any:
        """A transaction's receipt as web3 gives it, or None while it is in no block (or the
        node is still indexing it). On a node it is read straight from it, past web3's
        pipeline: a class's receipts are asked for again within milliseconds, and a miss then
        costs a fifth of what it did through web3."""
        from web3.exceptions import TransactionIndexingInProgress, TransactionNotFound

        if self._lean is None:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)
            except (TransactionNotFound, TransactionIndexingInProgress):
                return None
        from web3._utils.method_formatters import receipt_formatter
        from web3.datastructures import AttributeDict

        try:
            raw = self._read("eth_getTransactionReceipt", ["0x" + bytes(tx_hash).hex()])
        except RpcError as exc:
            if "index" in exc.message.lower():  # web3's TransactionIndexingInProgress
                return None
            raise ChainError(f"the node refused to give a receipt: {exc.message}") from None
        if raw is None:
            return None
        return AttributeDict.recursive(receipt_formatter(raw))

    def _lean_gas(self, tx: dict[str, Any], call: tuple[str, str],
                  block: str | None = None) -> int:
        """The gas estimate of the contract call ``call`` (address, data) as ``tx``, asked of
        the node straight (the fields web3 would send; ``block``: the block tag web3 would add,
        e.g. "pending"). A refusal raises with the contract's reason, as through web3."""
        fields = {k: v for k, v in tx.items() if k not in ("gas", "to", "data")}
        request = {k: (hex(v) if isinstance(v, int) else v) for k, v in fields.items()}
        request.update(to=call[0], data=call[1])
        return self._read_hex("eth_estimateGas", [request] if block is None
                              else [request, block])

    def _next_block_gas(self, fn: Any, tx: dict[str, Any]) -> int:
        """The gas estimate of calling ``fn`` as ``tx`` in the next block (the pending one).

        A node estimates against its latest block by default, and a contract's rule on the
        clock reads that block's timestamp: on a quiet chain it can be seconds old, so an action
        allowed only after a deadline (ending the submissions) was refused until some other
        transaction had a block stamped past it. The pending block has the node's clock (anvil:
        the wall clock), as the block this transaction lands in will. A refusal still raises
        here, with the contract's reason.
        """
        call = {k: v for k, v in tx.items() if k in ("from", "value")}
        return int(fn.estimate_gas(call, block_identifier=self._next_block_tag))

    def _replayed_reason(self, fn: Any, tx: dict[str, Any], receipt: Any) -> str | None:
        """Why a mined transaction reverted: its call replayed in its block's context.

        The gas estimate runs the call against the latest (or pending) block, so a rule on the
        clock (a deadline that passed between the estimate and the block) surfaces only when
        mined; the replay sees that block's timestamp and gives the contract's reason.
        """
        if fn is None or not hasattr(fn, "call"):
            return None
        try:
            fn.call({k: v for k, v in tx.items() if k in ("from", "value")},
                    block_identifier=receipt["blockNumber"])
        except Exception as exc:  # the revert we are after, or a node that cannot replay
            return revert_reason(exc)
        return None

    def _send_signed(self, account: Any, fn: Any, tx: dict[str, Any],
                     lean: tuple[str, str] | None = None) -> Any:
        """Sign ``tx`` (a call of ``fn``, or a plain transfer) with a local key and send it raw.

        Three requests to the node: the gas estimate (which also surfaces a refusal, with its
        reason, before anything is signed), the raw transaction and, in :meth:`_send`, its
        receipt. The nonce and the fees are this process's own: the next nonce of a key that
        only this process uses is known once the last one was sent, and the fees move little
        (:meth:`_cached_fees`). Asking for them before every transaction doubled a class's
        requests through the gate (issue 21). Should the node refuse them (another process
        sent with the same key, the base fee rose), both are read again and the transaction
        is sent once more. ``lean``: see :meth:`_send`'s ``call``.
        """
        for attempt in (1, 2):
            try:
                return self._sign_and_send(account, fn, tx, lean)
            except Exception as exc:
                # A contract's refusal is final (its reason may say "fee" too): only the node's
                # complaints about the nonce or the fee are worth a second try.
                if attempt == 2 or revert_reason(exc) is not None or not _STALE.search(str(exc)):
                    raise
                self._fees_at = None  # fresh fees and nonce for the second try

    def _sign_and_send(self, account: Any, fn: Any, tx: dict[str, Any],
                       lean: tuple[str, str] | None) -> Any:
        # One lock per chain: two threads of one process must not take the same nonce.
        with self._nonce_lock:
            address = account.address.lower()
            nonce = self._nonces.pop(address, None)  # gone until this one is sent
            if nonce is None:
                nonce = (self._read_hex("eth_getTransactionCount", [account.address, "pending"])
                         if lean is not None
                         else self.w3.eth.get_transaction_count(account.address, "pending"))
            tx = dict(tx, chainId=self.chain_id, nonce=nonce, **self._cached_fees())
            if lean is not None:
                # The same transaction as web3 builds it, its gas estimated as web3 asks
                full = dict(tx, to=lean[0], data=lean[1])
                full.setdefault("gas", self._lean_gas(full, lean))
                full["gas"] = int(full["gas"]) + GAS_MARGIN
            elif fn is not None:
                # Estimating the gas runs the call: a refusal surfaces here, with its reason
                # (unless the caller estimated already: ``gas`` in ``tx``, and no estimate).
                full = fn.build_transaction(tx)
                # The estimate runs against the latest state; classmates' transactions mined
                # first can make this one dearer (the round's last key shares also start the
                # submit clock: one more storage slot), and out of gas reverts with no reason.
                full["gas"] = int(full["gas"]) + GAS_MARGIN
            else:
                full = dict(tx, gas=self.w3.eth.estimate_gas(tx))
            full.pop("from", None)
            signed = account.sign_transaction(full)
            if lean is not None:  # sent once: a transaction is never retried blindly
                tx_hash = self._read_hex("eth_sendRawTransaction", [
                    "0x" + bytes(signed.raw_transaction).hex()], retries=1, number=False)
            else:
                tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            # Sent: the node holds this nonce now, so this key's next one follows it. A refusal
            # before this line leaves no entry, and the next transaction asks the node again.
            self._nonces[address] = nonce + 1
            return tx_hash

    def _cached_fees(self) -> dict[str, int]:
        """:meth:`_fees`, read again after :attr:`fee_seconds` (default :data:`FEE_SECONDS`;
        or after a refusal).

        ``maxFeePerGas`` allows twice the base fee it was read at, and a block pays only the
        base fee of its own time: on the class's node the base fee only falls (no block passes
        half the gas limit, :mod:`omteach.classroom.node`), and on any node it rises at most
        12.5 % a full block, so a few seconds' old fee still pays."""
        now = time.monotonic()
        if self._fees_at is None or now - self._fees_at > self.fee_seconds:
            self._fee_fields, self._fees_at = self._fees(), now
        return dict(self._fee_fields)

    def _fees(self) -> dict[str, int]:
        """EIP-1559 fee fields as web3 fills them for a contract call (tip + twice the base fee)."""
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
        tip = int(self.w3.eth.max_priority_fee)
        return {"maxPriorityFeePerGas": tip, "maxFeePerGas": tip + 2 * base}


_STALE = re.compile(r"nonce|fee|underpriced", re.IGNORECASE)
"""What a node says when a transaction's nonce or fees are out of date (anvil: "nonce too low",
"max fee per gas less than block base fee"; geth: "replacement transaction underpriced")."""


def _node_message(exc: Exception) -> str:
    """The node's own error text (e.g. "insufficient funds ...") rather than a dict's repr."""
    arg = exc.args[0] if exc.args else exc
    if isinstance(arg, dict) and "message" in arg:
        return str(arg["message"])
    return str(exc)
