"""The node for a class: anvil on loopback, the gate in front of it, the faucet, the contracts.

What ``make classroom`` runs (``python -m omteach.classroom.node``)::

    anvil (127.0.0.1 only, random dev keys)  <-  gate (--host/--port, the one TCP port students
        ^                                          need)  <-  students' laptops
        |
    this process: the faucet's key and the teacher's (AI Inc.'s) key, generated here

1. anvil starts on loopback with ``--mnemonic-random``: its unlocked development account has a
   key nobody knows, and only processes on this machine can use it.
2. Two keys are generated in this process (eth_account): AI Inc.'s, for the teacher's notebook,
   and the faucet's. Each is funded from the development account, over loopback.
3. AI Inc. deploys the ``BlobBoard`` (blobs through the node) and the ``Classroom`` roster.
4. The gate listens on the bind address students can reach. Besides the forwarded methods it
   answers ``omteach_faucet``: a student's fresh address gets enough to join, joins the roster
   with a transaction signed by their own key (:mod:`omteach.classroom.student`), then asks
   again and gets the rest of :data:`GRANT_WEI` (:class:`Faucet`: fresh keys cannot drain it).
   The roster's own rules (names, one join per key, joins from keys only, its size) are the
   contract's (``contracts/Classroom.vy``).
5. The state file (mode 0600: it holds AI Inc.'s key) tells the teacher's notebook where
   everything is: :func:`teacher_chain` reads it. Beside it, ``gate.jsonl`` logs every refused
   request and faucet grant, one JSON object a line, for the dashboard (:func:`read_gate_log`).

The faucet has its own key so that it and the teacher's notebook (another process) never race
for the same account's nonce.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omteach.chain.anvil import AnvilNode
from omteach.chain.evm import Chain, DeployedContract
from omteach.classroom.gate import SERVER_ERROR, Gate, GateRefusal
from omteach.errors import ChainError
from omteach.story import COMPANY
from omteach.text import plural

DEV = "anvil dev account"
"""Name of the node's own (unlocked, loopback-only) account in the teacher's process."""
FAUCET = "faucet"
ETHER = 10**18
GRANT_WEI = 5 * ETHER
"""What the faucet gives each student: enough for thousands of blob transactions."""
TEACHER_FUNDS = 1_000 * ETHER
FAUCET_FUNDS = 10_000_000 * ETHER
"""Two million grants: a student making fresh keys at the per-client limit would need years to
drain the faucet and leave a latecomer unfunded (the ether is play money on the class's chain)."""
DEV_BALANCE_ETHER = 20_000_000
FAUCET_METHOD = "omteach_faucet"
PER_CLIENT = 600
"""Faucet grants a minute to one client IP address: a whole class behind one school NAT shares
one, so this only slows a script; the roster's limits are what bound the faucet."""
JOIN_GRANT_WEI = ETHER // 100
"""A fresh address's first grant: enough to join (about 200,000 gas at a base fee that cannot
rise) fifty times over; the rest of :data:`GRANT_WEI` follows once it is on the roster."""
BLOCK_GAS_LIMIT = 60_000_000
"""The class chain's block gas limit. anvil mines each transaction in its own block and the gate
lets no transaction ask for more than :data:`~omteach.classroom.gate.TX_GAS_CAP` (10 million),
so no block passes the EIP-1559 target (half the limit): the base fee can only fall, and no
student can price classmates out. (anvil's ``--base-fee`` sets only the first block's fee; it
still rises with full blocks, measured with anvil 1.7.1.)"""
CLASS_SIZE = 64
"""Places on the roster unless the teacher says otherwise (``--class-size``; the contract's
``set_size`` changes it during the lesson): room for a class, not for a squatter's thousand keys."""
DEFAULT_STATE = Path.home() / ".omteach" / "classroom" / "node.json"
"""In the home folder: the teacher's notebook finds it whatever its kernel's working folder."""
TEACHER_NOTEBOOK = Path("notebooks") / "06_classroom_teacher.ipynb"

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class Faucet:
    """Funds each student address from its own key: a join's worth first, the rest once joined.

    - per address: one first grant (:data:`JOIN_GRANT_WEI`, with ``classroom``: enough to join
      many times over) and, once the address is on the roster, one top-up to ``grant``;
    - per roster: only the class's students (at most the places the teacher set) ever get the
      full grant, so fresh keys cannot drain the faucet, and there is no shared budget that a
      script asking for fresh keys could use up before a latecomer asks;
    - per client IP address: ``per_client`` grants a ``window`` (a minute), generous by default,
      since a class behind one school NAT shares one address: it only slows a script down.

    Without ``classroom`` each address gets ``grant`` at once (a faucet for a bare chain).
    Called by the gate with (params, client address); ``params`` is ``[student address]``.
    """

    def __init__(self, chain: Chain, *, sender: str = FAUCET, grant: int = GRANT_WEI,
                 per_client: int = PER_CLIENT, window: float = 60.0,
                 classroom: DeployedContract | None = None, join_grant: int = JOIN_GRANT_WEI,
                 on_grant: Callable[[str, str, int], None] | None = None):
        self.chain = chain
        self.on_grant = on_grant
        self.sender = sender
        self.grant = grant
        self.per_client = per_client
        self.window = window
        self.classroom = classroom
        self.join_grant = min(join_grant, grant) if classroom is not None else grant
        self.funded: dict[str, str] = {}  # lower-case address -> client that asked first
        self.topped_up: set[str] = set()  # lower-case addresses given the rest, once joined
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def __call__(self, params: list[Any], client: str) -> dict[str, Any]:
        if len(params) != 1 or not isinstance(params[0], str) or not _ADDRESS.fullmatch(
                params[0]):
            raise GateRefusal(-32602, f"{FAUCET_METHOD} takes one address (0x and 40 hex digits)")
        address = params[0].lower()
        with self._lock:
            wei = self._due(address)
            fresh = address not in self.funded
            recent = self._recent[client]
            now = time.monotonic()
            while recent and now - recent[0] > self.window:
                recent.popleft()
            # Only fresh addresses count against the machine: a top-up goes to a student on the
            # roster, which the roster's size already bounds.
            if fresh and len(recent) >= self.per_client:
                raise GateRefusal(SERVER_ERROR, "the faucet funds at most "
                                  f"{plural(self.per_client, 'address', 'addresses')} a minute "
                                  "from one machine: wait")
            result = self.chain.send_value(self.sender, self.chain.address(params[0]), wei)
            if fresh:
                recent.append(now)
            if not fresh:
                self.topped_up.add(address)
            else:
                self.funded[address] = client
        if self.on_grant is not None:
            self.on_grant(client, self.chain.address(params[0]), wei)
        return {"funded": wei, "tx": result.tx_hash}

    def _due(self, address: str) -> int:
        """What ``address`` may be given now (or GateRefusal saying why nothing)."""
        if address not in self.funded:
            return self.join_grant
        if (self.classroom is not None and self.join_grant < self.grant
                and address not in self.topped_up):
            if not self.classroom.call("names", self.chain.address(address)):
                raise GateRefusal(SERVER_ERROR, "the faucet gave this address enough to join the "
                                                "class: join, then ask again for the rest")
            return self.grant - self.join_grant
        raise GateRefusal(SERVER_ERROR, "the faucet already funded this address once")


@dataclass(frozen=True)
class ClassState:
    """Where a running class is: what the state file holds (AI Inc.'s key included)."""

    node_url: str
    gate_url: str
    chain_id: int
    classroom: str
    board: str
    teacher_key: str

    def save(self, path: Path) -> None:
        """Write to ``path``, readable by this user only (it holds the teacher's key)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.__dict__, f, indent=1)

    @classmethod
    def load(cls, path: Path) -> ClassState:
        """Read a state file written by :meth:`save`."""
        try:
            return cls(**json.loads(Path(path).read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise ChainError(f"no running class described in {path} ({exc}); start one with "
                             "'make classroom'") from None


class ClassroomNode:
    """anvil + gate + faucet + the class's contracts, started in this process.

    ``host``/``port`` are where the gate listens (the one port students need; default loopback
    for a rehearsal). ``stop()`` or leaving ``with`` stops everything. ``pass_secret`` and
    ``shared_addresses``: the class hub's, so its gate counts each student apart (see
    :class:`~omteach.classroom.gate.Gate`).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, teacher_key: Any = None,
                 grant: int = GRANT_WEI, per_client: int = PER_CLIENT,
                 state_file: Path | None = None, class_size: int = CLASS_SIZE,
                 pass_secret: bytes | None = None, shared_addresses: Iterable[str] = ()):
        from eth_account import Account

        self._log_lock = threading.Lock()
        self.anvil = AnvilNode(args=["--mnemonic-random", "--accounts", "1",
                                     "--balance", str(DEV_BALANCE_ETHER),
                                     "--gas-limit", str(BLOCK_GAS_LIMIT)])
        try:
            # The teacher's key: made here, or brought along (hex, bytes or LocalAccount).
            self.teacher_key = (Account.create() if teacher_key is None
                                else Account.from_key(getattr(teacher_key, "key", teacher_key)))
            self.chain = Chain(self.anvil.url, cast=(DEV,),
                               keys={COMPANY: self.teacher_key, FAUCET: Account.create()})
            self.chain.send_value(DEV, COMPANY, TEACHER_FUNDS)
            self.chain.send_value(DEV, FAUCET, FAUCET_FUNDS)
            self.board: DeployedContract = self.chain.deploy("BlobBoard", sender=COMPANY)
            self.classroom: DeployedContract = self.chain.deploy(
                "Classroom", self.board.address, COMPANY, class_size, sender=COMPANY)
            self.log_file = (Path(state_file).with_name("gate.jsonl")
                             if state_file is not None else None)
            self.faucet = Faucet(self.chain, grant=grant, per_client=per_client,
                                 classroom=self.classroom, on_grant=self._log_grant)
            self.gate = Gate(self.anvil.url, host=host, port=port,
                             refuse_senders=self.chain.w3.eth.accounts,
                             chain_id=self.chain.chain_id,
                             handlers={FAUCET_METHOD: self.faucet},
                             on_refusal=self._log_refusal, pass_secret=pass_secret,
                             shared_addresses=shared_addresses).start()
        except BaseException:
            self.anvil.stop()
            raise
        self.state = ClassState(self.anvil.url, self.gate.url, self.chain.chain_id,
                                self.classroom.address, self.board.address,
                                "0x" + bytes(self.teacher_key.key).hex())
        self.state_file = state_file
        if state_file is not None:
            self.state.save(Path(state_file))

    def _log(self, record: dict[str, Any]) -> None:
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with self._log_lock, self.log_file.open("a") as f:
                f.write(json.dumps({"time": round(time.time(), 3), **record}) + "\n")

    def _log_refusal(self, client: str, method: str, message: str) -> None:
        self._log({"event": "refused", "client": client, "method": method, "message": message})

    def _log_grant(self, client: str, address: str, wei: int) -> None:
        self._log({"event": "funded", "client": client, "address": address, "wei": wei})

    @property
    def student_url(self) -> str:
        """The gate's URL as students type it (an address of this machine, not 0.0.0.0)."""
        if self.gate.host not in ("0.0.0.0", "::", ""):
            return self.gate.url
        return f"http://{this_machines_address()}:{self.gate.port}"

    @property
    def join_line(self) -> str:
        """What students type to join: the gate's URL and the classroom's address."""
        return f"{self.student_url} {self.classroom.address}"

    def stop(self) -> None:
        """Stop the gate and the node; remove the state file (it holds a key), keep the log."""
        self.gate.stop()
        self.anvil.stop()
        if self.state_file is not None:
            Path(self.state_file).unlink(missing_ok=True)

    def __enter__(self) -> ClassroomNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def this_machines_address() -> str:
    """This machine's address on its main network (where a default route leads), for students.

    Connecting a UDP socket sends nothing; it only asks the kernel which address it would use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed, any route will do
            return s.getsockname()[0]
        except OSError:  # no network at all: only this machine can join
            return "127.0.0.1"


def read_gate_log(path: Path) -> list[dict[str, Any]]:
    """The gate's log (refusals and faucet grants), oldest first; a torn last line is skipped."""
    records = []
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:  # the node was writing it as we read
            continue
    return records


def teacher_chain(state_file: Path = DEFAULT_STATE) -> tuple[Chain, DeployedContract,
                                                             DeployedContract]:
    """For the teacher's notebook: (chain as AI Inc. on loopback, Classroom, BlobBoard)."""
    state = ClassState.load(state_file)
    from omteach.classroom.student import pass_headers

    chain = Chain(state.node_url, cast=(), keys={COMPANY: state.teacher_key},
                  headers=pass_headers(state.node_url))  # on the class hub: the teacher's pass
    return (chain, chain.attach("Classroom", state.classroom),
            chain.attach("BlobBoard", state.board))


def open_teacher_notebook(notebook: Path = TEACHER_NOTEBOOK) -> subprocess.Popen | None:
    """Open the teacher's notebook in JupyterLab (a child process), if the notebook exists."""
    if not Path(notebook).is_file():
        return None
    command = [sys.executable, "-m", "jupyter", "lab", str(notebook)]
    if os.geteuid() == 0:
        command.append("--allow-root")  # as the Makefile's lab target does
    return subprocess.Popen(command)


def main(argv: list[str] | None = None) -> None:
    """``python -m omteach.classroom.node``: start a class and serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="address the gate listens on (0.0.0.0: every network of this "
                             "machine; default loopback, for a rehearsal)")
    parser.add_argument("--port", type=int, default=8546, help="the gate's TCP port")
    parser.add_argument("--per-client", type=int, default=PER_CLIENT,
                        help="faucet grants a minute to one IP address (the roster's size "
                             "bounds the faucet in all)")
    parser.add_argument("--class-size", type=int, default=CLASS_SIZE,
                        help="places on the roster (the teacher's notebook can change it with "
                             "the Classroom contract's set_size)")
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE,
                        help="where to write the class's state (holds AI Inc.'s key)")
    parser.add_argument("--lab", action="store_true",
                        help=f"also open {TEACHER_NOTEBOOK} in JupyterLab, if it exists")
    args = parser.parse_args(argv)
    # A SIGTERM (a test, a service manager) leaves through the `with`, so anvil stops too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with ClassroomNode(host=args.host, port=args.port, per_client=args.per_client,
                       state_file=args.state, class_size=args.class_size) as node:
        print(f"The class's node is up (chain id {node.chain.chain_id}).")
        print(f"  students join with:   {node.join_line}")
        print(f"  gate (the one port students need): {node.gate.url}")
        if node.student_url != node.gate.url:
            print(f"  (students use this machine's address: {node.student_url}; if they cannot "
                  "reach it, try the address 'hostname -I' lists on the room's network)")
        print(f"  AI Inc. (the teacher's own key):   {node.chain.address(COMPANY)}")
        print(f"  state for the teacher's notebook:  {args.state}")
        lab = open_teacher_notebook() if args.lab else None
        if lab is not None:
            print(f"  teacher's notebook: opening {TEACHER_NOTEBOOK} in JupyterLab")
        elif TEACHER_NOTEBOOK.is_file():
            print(f"  teacher's notebook: open {TEACHER_NOTEBOOK} in JupyterLab (make lab)")
        else:
            print(f"  teacher's notebook: {TEACHER_NOTEBOOK} is not written yet (issue 10); "
                  "in a kernel, omteach.classroom.node.teacher_chain() gives AI Inc.'s chain "
                  "and the class's contracts")
        print("Ctrl-C stops the class.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping the class")
        finally:
            if lab is not None:
                lab.terminate()
                lab.wait(timeout=20)


if __name__ == "__main__":
    main()
