"""Start a real Ethereum JSON-RPC node (Foundry's anvil) on loopback, for tests and instructors.

``make setup-anvil`` installs anvil from the npm registry into ``.venv/npm`` (the package
``@foundry-rs/anvil`` ships the binary). Then::

    with AnvilNode() as node:
        chain = Chain(node.url)      # the same code as Chain(), over JSON-RPC
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from omteach.errors import ChainError, ChainTimeoutError
from omteach.waiting import wait_until

ANVIL_VERSION = "1.7.1"
"""The anvil release the Makefile installs."""


def find_anvil() -> Path | None:
    """The anvil binary: ``$OMTEACH_ANVIL``, the one in the venv's npm folder, or on ``PATH``."""
    env = os.environ.get("OMTEACH_ANVIL")
    if env:
        return Path(env) if Path(env).is_file() else None
    npm_dir = Path(sys.prefix) / "npm" / "node_modules" / "@foundry-rs"
    # The platform package holds the binary itself; the wrapper script would need node.
    for candidate in sorted(npm_dir.glob("anvil-*/bin/anvil")):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("anvil")
    return Path(found) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AnvilNode:
    """An anvil process on 127.0.0.1 and a free port; stopped on ``stop()`` or leaving ``with``.

    ``args`` are passed on to anvil (the classroom adds ``--mnemonic-random``, so that nobody
    knows the development accounts' keys). It always listens on loopback only.
    """

    def __init__(self, binary: Path | None = None, *, startup_timeout: float = 20.0,
                 args: Sequence[str] = ()):
        self.binary = binary or find_anvil()
        if self.binary is None:
            raise ChainError("anvil is not installed: run 'make setup-anvil' (needs npm), "
                             "or set OMTEACH_ANVIL to an anvil binary")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc = subprocess.Popen(
            [str(self.binary), "--host", "127.0.0.1", "--port", str(self.port), "--silent",
             *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(self._started, what=f"anvil to answer on {self.url}",
                       timeout=startup_timeout, interval=0.05, error=ChainTimeoutError)
        except ChainTimeoutError:
            self.stop()
            raise

    def _started(self) -> bool:
        """Whether anvil answers; a ChainError if it exited instead."""
        if self._proc.poll() is not None:
            err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
            raise ChainError(f"anvil exited at start (code {self._proc.returncode}): {err}")
        return self._answers()

    def _answers(self) -> bool:
        body = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the node."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr is not None:
            self._proc.stderr.close()

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
