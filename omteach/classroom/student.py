"""A student's side of the class: a key made on this machine, the faucet, the roster, the blobs.

::

    me = Student.join("http://10.0.0.5:8546", "0xClassroom…", "Ana")   # what notebook 06 does
    blob = me.blobs.put_json({...})          # a transaction signed here, sent through the gate

The key is generated here (eth_account) and never leaves this machine (it lives in this process,
or in a key file only this user can read, to come back after a restart); every transaction is
signed here and sent raw (``eth_sendRawTransaction``), the only kind the gate forwards.

On the class hub (:mod:`omteach.hub`) every kernel is given the class's join details
(``OMTEACH_CLASS``: the gate's URL and the Classroom's address) and its owner's class pass
(``OMTEACH_CLASS_PASS``, see :func:`omteach.classroom.gate.class_pass`):
:func:`class_to_join` picks them up, so chapter 6 joins the live class without a typed line, and
:class:`Student` sends the pass to that gate, which counts the student's requests apart from
classmates' (every kernel on a hub reaches the gate from one address).

``python -m omteach.classroom.student URL CLASSROOM [--join NAME]`` checks from a terminal that
this machine reaches the class (and says what to check when it does not).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omteach.chain.evm import Chain, DeployedContract
from omteach.classroom.names import normalize_name
from omteach.classroom.node import FAUCET_METHOD
from omteach.classroom.roster import read_roster
from omteach.errors import ChainError, ChainTimeoutError
from omteach.protocol.chainblobs import ChainBlobStore
from omteach.waiting import wait_until

CLASS_VARIABLE = "OMTEACH_CLASS"
"""What the class hub sets in every kernel: ``"<gate URL> <Classroom address>"``."""
PASS_VARIABLE = "OMTEACH_CLASS_PASS"
"""What the class hub sets in each kernel: its owner's class pass for that gate."""


def hub_class(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(gate URL, Classroom address) the class hub gave this kernel, or None (not on a hub, or
    the hub's node was not up yet when the server started)."""
    environ = os.environ if environ is None else environ
    parts = environ.get(CLASS_VARIABLE, "").split()
    if len(parts) != 2 or not parts[0].startswith(("http://", "https://")):
        return None
    return parts[0], parts[1]


def class_to_join(gate_url: str | None, classroom: str | None, name: str,
                  environ: Mapping[str, str] | None = None) -> tuple[str | None, str | None, str]:
    """The class chapter 6 joins: ``(gate URL, Classroom, display name)``.

    The notebook's own lines win when the student filled them in (``gate_url`` not None); else,
    on the class hub, the join details the hub put in this kernel, with the student's hub login
    as the display name (``_`` becomes ``-``: display names have no underscore); else
    ``(None, None, name)``: rehearse alone, as on a laptop, in CI and under nbval.
    """
    environ = os.environ if environ is None else environ
    found = hub_class(environ) if gate_url is None else None
    if found is None:
        return gate_url, classroom, name
    login = environ.get("JUPYTERHUB_USER", "").replace("_", "-")
    return found[0], found[1], login or name


def pass_headers(gate_url: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The class-pass header for requests to ``gate_url``: only to the gate the hub named (the
    pass is sent to no other server), and only when the hub gave this kernel one."""
    from omteach.classroom.gate import PASS_HEADER

    environ = os.environ if environ is None else environ
    found = hub_class(environ)
    token = environ.get(PASS_VARIABLE, "")
    if found is None or not token or found[0].rstrip("/") != gate_url.rstrip("/"):
        return {}
    return {PASS_HEADER: token}


class Student:
    """A student connected to a class through its gate, with a key of their own."""

    def __init__(self, gate_url: str, classroom: str, name: str, *, key: Any = None):
        from eth_account import Account

        self.name = name
        # The class's node pins its fees (its base fee can only fall: omteach.classroom.node),
        # so the fees read for the first transaction pay for the lesson: a reveal minutes after
        # the submission need not ask for them again (two requests of each survivor through
        # the gate at the busiest moment, issue 21). A refusal still makes them read again.
        self.chain = Chain(gate_url, cast=(), headers=pass_headers(gate_url),
                           fee_seconds=math.inf)
        self.address = self.chain.add_account(name, key if key is not None else Account.create())
        self.classroom: DeployedContract = self.chain.attach("Classroom", classroom)
        self.board = self.chain.attach("BlobBoard", self.classroom.call("board"))
        self.blobs = ChainBlobStore(self.chain, self.board, sender=name)

    @classmethod
    def join(cls, gate_url: str, classroom: str, name: str, *, key: Any = None,
             key_file: str | Path | None = None) -> Student:
        """Connect, ask the faucet for ether, and join the roster under ``name``.

        With ``key_file`` the key is kept on this machine (readable by this user only): made
        and saved on the first join, read back on the next, so a student whose kernel restarted
        (or who left mid-round) comes back as the same member of the class, without a second
        faucet grant or join. ``name`` is normalized first (:func:`~omteach.classroom.names.
        normalize_name`): a name the contract would refuse is explained before anything is sent.
        """
        name = normalize_name(name)
        if key_file is not None and key is None:
            key = _load_or_make_key(Path(key_file))
        me = cls(gate_url, classroom, name, key=key)
        joined_as = me.classroom.call("names", me.address)
        if joined_as == name:
            return me  # back after a restart: already funded, already on the roster
        if joined_as:
            raise ChainError(f"this key joined the class as {joined_as!r}, not {name!r}: join "
                             f"as {joined_as!r}, or use another key file")
        if me.chain.balance(name) == 0:
            me.ask_faucet()  # enough to join
        me.classroom.transact("join", name, sender=name)
        me.ask_faucet(top_up=True)  # the rest, now that this key is on the roster
        return me

    def ask_faucet(self, *, timeout: float = 30.0, top_up: bool = False) -> int:
        """Ask the teacher's faucet to fund this key; returns the balance in wei.

        The first grant is enough to join; ``top_up``: ask, once joined, for the rest (a
        faucet without a roster gave everything at once and says so: that is not an error).
        """
        before = self.chain.balance(self.name)
        answer = self.chain.w3.provider.make_request(FAUCET_METHOD, [self.address])
        if "error" in answer:
            message = answer["error"].get("message")
            if top_up and "already funded" in str(message):
                return before
            raise ChainError(f"the faucet refused {self.name}: {message}")
        return wait_until(lambda: self.chain.balance(self.name),
                          lambda balance, _: balance > before,
                          what="the faucet's ether", timeout=timeout, interval=0.1,
                          error=ChainTimeoutError, hint="ask the teacher")

    def roster(self) -> dict[str, str]:
        """Display name -> address of everyone who joined (classmates labelled by name here)."""
        return read_roster(self.classroom)

    def rpc(self, method: str, params: list[Any]) -> dict[str, Any]:
        """A raw JSON-RPC request through the gate (the answer, error included)."""
        return dict(self.chain.w3.provider.make_request(method, params))


def _load_or_make_key(path: Path) -> str:
    """The private key saved at ``path``, or a new one saved there first (mode 0600)."""
    from eth_account import Account

    if path.is_file():
        text = path.read_text().strip()
        try:
            Account.from_key(text)
        except Exception:  # not a key: refuse rather than overwrite someone's file
            raise ChainError(f"{path} does not hold a private key; move it away or choose "
                             "another key file") from None
        return text
    key = "0x" + bytes(Account.create().key).hex()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def check(gate_url: str, classroom: str) -> str:
    """One line saying whether this machine reaches the class (what to try when it does not)."""
    try:
        me = Student(gate_url, classroom, "check")
    except ChainError as exc:
        return (f"cannot join: {exc}\n  check the URL the teacher printed, that this machine is "
                "on the same network, and that the teacher's firewall lets the port in")
    return (f"reached the class at {gate_url}: chain {me.chain.chain_id}, block "
            f"{me.chain.block_number}, {me.classroom.call('class_size')} student(s) joined")


def main(argv: list[str] | None = None) -> None:
    """``python -m omteach.classroom.student URL CLASSROOM [--join NAME]``: check, or join."""
    import argparse

    parser = argparse.ArgumentParser(description="Check that this machine reaches a class, "
                                                 "or join it under a display name.")
    parser.add_argument("gate_url")
    parser.add_argument("classroom")
    parser.add_argument("--join", metavar="NAME", help="join under this display name")
    args = parser.parse_args(argv)
    print(check(args.gate_url, args.classroom))
    if args.join:
        me = Student.join(args.gate_url, args.classroom, args.join)
        print(f"joined as {args.join} ({me.address}); this key lives in this process only")


if __name__ == "__main__":
    main()
