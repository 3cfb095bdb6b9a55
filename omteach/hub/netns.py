"""A network namespace of its own for the classroom node, so that anvil is reachable only by
the gate.

On a hub every student's kernel runs on the same host as the node. anvil answers cheat methods
and spends from its unlocked development account for anyone who reaches its port, so it must not
listen anywhere a student's process can connect. The node (anvil + gate) runs inside a namespace
whose only links are its own loopback, where anvil listens, and one veth pair to the host, where
the gate listens::

    host (students' kernels)  --  veth 10.251.S.1  <->  10.251.S.2 gate  --  127.0.0.1 anvil
                                                        (inside the namespace)

Unix sockets are not scoped by network namespaces, but TCP ports are: a student's process can
connect to the gate's address, and to nothing else in the namespace.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from omteach.errors import HubError


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


@dataclass(frozen=True)
class NodeNamespace:
    """A namespace ``name`` joined to the host by a veth pair on 10.251.``slot``.0/30."""

    slot: int

    @property
    def name(self) -> str:
        return f"omteach-hub{self.slot}"

    @property
    def host_link(self) -> str:
        return f"omthub{self.slot}h"  # interface names: at most 15 characters

    @property
    def node_link(self) -> str:
        return f"omthub{self.slot}n"

    @property
    def host_address(self) -> str:
        return f"10.251.{self.slot}.1"

    @property
    def node_address(self) -> str:
        """Where the gate listens: the one address of the namespace the host can reach."""
        return f"10.251.{self.slot}.2"

    def exists(self) -> bool:
        return self.name in _ip("netns", "list", check=False).stdout.split()

    def create(self) -> NodeNamespace:
        """Make the namespace, its loopback (anvil's) and the veth pair (the gate's)."""
        if shutil.which("ip") is None:
            raise HubError("the 'ip' command (iproute2) is missing: the classroom node needs a "
                           "network namespace; install iproute2 (apt-get install iproute2)")
        if self.exists():
            raise HubError(f"the network namespace {self.name} exists already: another hub on "
                           f"this slot is running, or one was left behind ('ip netns del "
                           f"{self.name}' if none runs)")
        try:
            _ip("netns", "add", self.name)
            _ip("-n", self.name, "link", "set", "lo", "up")
            _ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.node_link)
            _ip("link", "set", self.node_link, "netns", self.name)
            _ip("addr", "add", f"{self.host_address}/30", "dev", self.host_link)
            _ip("link", "set", self.host_link, "up")
            _ip("-n", self.name, "addr", "add", f"{self.node_address}/30", "dev",
                self.node_link)
            _ip("-n", self.name, "link", "set", self.node_link, "up")
        except subprocess.CalledProcessError as exc:
            self.delete()
            raise HubError(f"could not make the network namespace {self.name}: "
                           f"{exc.stderr.strip()} (needs root and a kernel with network "
                           "namespaces)") from None
        return self

    def exec_prefix(self) -> list[str]:
        """The command prefix that runs a program inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def pids(self) -> list[int]:
        """The processes running inside the namespace (the node: its service and anvil)."""
        return [int(p) for p in _ip("netns", "pids", self.name, check=False).stdout.split()]

    def delete(self) -> None:
        """Remove the namespace; its end of the veth pair goes with it, and so the host's end."""
        _ip("link", "del", self.host_link, check=False)
        _ip("netns", "del", self.name, check=False)
