"""The classroom node as the hub runs it (a managed service, inside its own network namespace).

``python -m omteach.hub.service --host ADDR --port N --run DIR --teacher USER``, started by
JupyterHub through ``ip netns exec`` (see :mod:`omteach.hub.netns`), so anvil's loopback port is
the namespace's own. It writes three files:

- ``DIR/node.json`` (root only): the node's own state, anvil's URL and AI Inc.'s key;
- ``DIR/join.json`` (everyone): the gate's URL and the Classroom's address, what every student's
  kernel gets as ``OMTEACH_CLASS`` (see ``jupyterhub_config.py``): joining is one click;
- (read, not written) ``DIR/class-pass.key`` (root only): the secret of the students' class
  passes, which the hub's spawner gives each student's server (``OMTEACH_CLASS_PASS``): the gate
  counts connections, queue turns and faucet grants per student, though every kernel on the hub
  reaches it from one address (``--shared-address``, the host's end of the veth pair);
- the teacher's ``~/.omteach/classroom/node.json`` (the teacher only): the same state with the
  gate's URL as the node URL, because the teacher's kernel runs on the host, outside the
  namespace, and goes through the gate like everyone (its transactions are signed by its key).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pwd
import secrets
import signal
import sys
import time
from pathlib import Path

JOIN_FILE = "join.json"
STATE_FILE = "node.json"
PASS_SECRET_FILE = "class-pass.key"


def make_pass_secret(run_dir: Path) -> bytes:
    """The class-pass secret in ``run_dir`` (root only), made (32 random bytes) if missing."""
    path = run_dir / PASS_SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


def write_join_file(run_dir: Path, gate_url: str, classroom: str) -> Path:
    """The public join details (no key), replaced atomically so a spawn never reads half."""
    path = run_dir / JOIN_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"gate": gate_url, "classroom": classroom}))
    tmp.chmod(0o644)
    tmp.replace(path)
    return path


def write_teacher_state(state, teacher: str) -> Path:
    """The teacher's copy of the class state, in the teacher's home, readable by them only."""
    account = pwd.getpwnam(teacher)
    path = Path(account.pw_dir) / ".omteach" / "classroom" / STATE_FILE
    for folder in (path.parent.parent, path.parent):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chown(folder, account.pw_uid, account.pw_gid)
    dataclasses.replace(state, node_url=state.gate_url).save(path)
    os.chown(path, account.pw_uid, account.pw_gid)
    return path


def main(argv: list[str] | None = None) -> None:
    """Start the node, write the join details, serve until the hub stops the service."""
    from omteach.classroom.node import ClassroomNode

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", required=True, help="the gate's address (the namespace's)")
    parser.add_argument("--port", type=int, default=8546, help="the gate's TCP port")
    parser.add_argument("--run", type=Path, required=True, help="where to write the state")
    parser.add_argument("--teacher", required=True, help="the teacher's system user")
    parser.add_argument("--per-client", type=int, default=1000,
                        help="faucet grants a minute per address: every kernel on the hub "
                             "shares one address (the host's veth)")
    parser.add_argument("--shared-address", action="append", default=[],
                        help="an address every student's kernel comes from (the host's veth): "
                             "counted per class pass, not as one client")
    parser.add_argument("--class-size", type=int, default=None,
                        help="roster places: the class list's length (the node's default "
                             "otherwise)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    os.umask(0o077)
    size = {} if args.class_size is None else {"class_size": max(args.class_size, 1)}
    with ClassroomNode(host=args.host, port=args.port, per_client=args.per_client,
                       state_file=args.run / STATE_FILE, pass_secret=make_pass_secret(args.run),
                       shared_addresses=args.shared_address, **size) as node:
        write_teacher_state(node.state, args.teacher)
        write_join_file(args.run, node.gate.url, node.classroom.address)
        print(f"classroom node up: students join with {node.join_line}", flush=True)
        try:
            while True:
                time.sleep(3600)
        finally:
            (args.run / JOIN_FILE).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
