"""Driving a hub as its students' browsers would, for the hub's tests and bench: a hub of
throw-away accounts, students' servers started through the REST API, and a kernel run through a
student's own server (its REST API and kernel websocket, with the student's token).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

from omteach.errors import HubError
from omteach.hub.accounts import kill_processes_of
from omteach.hub.launch import ClassHub, free_port

T = TypeVar("T")
R = TypeVar("R")


def at_once(job: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``job(item)`` for every item, each in a thread of its own (students acting at the same
    time, or requests the hub answers slowly); results in order, the first error raised."""
    from concurrent.futures import ThreadPoolExecutor

    items = list(items)
    with ThreadPoolExecutor(max_workers=min(32, len(items) or 1)) as pool:
        return list(pool.map(job, items))


def free_slot(first: int = 100, count: int = 150) -> int:
    """A node slot (network namespace) no hub on this machine uses now, tried from one that
    depends on this process's id: pytest-xdist's workers each start a hub of their own at about
    the same moment, and two on one slot would share a namespace's name."""
    from omteach.hub.netns import NodeNamespace

    start = os.getpid() % count
    for k in range(count):
        slot = first + (start + k) % count
        if not NodeNamespace(slot).exists():
            return slot
    raise HubError(f"every node slot from {first} to {first + count - 1} is in use: stop a hub "
                   "or delete namespaces left behind ('ip netns list')")


@contextmanager
def class_hub(students: int, *, idle_timeout: int = 3600,
              memory_limit_mib: int = 1024) -> Iterator[ClassHub]:
    """A hub on loopback for ``students`` test accounts (unique names), removed afterwards:
    servers, services, namespace, accounts with their homes, memory cgroups, and its data
    folder. ``memory_limit_mib``: per user (a chapter-6 student needs about 400)."""
    tag = secrets.token_hex(2)
    data = Path(f"/tmp/omteach-hub-test-{tag}")
    data.mkdir(mode=0o755)
    class_list = data / "class.csv"
    class_list.write_text("username\n" + "".join(f"ht{tag}s{i}\n" for i in range(students)))
    hub = ClassHub(class_list, port=free_port(), data=data, teacher=f"ht{tag}t",
                   gate_port=8546, slot=free_slot(), idle_timeout=idle_timeout,
                   memory_limit_mib=memory_limit_mib)
    try:
        hub.start(timeout=180)
        yield hub
    finally:
        # Throw-away accounts: their servers and kernels are killed, not shut down one by one
        # (a server's orderly stop costs about 0.8 s of CPU; the hub then finds them gone).
        for name in [*hub.students, hub.teacher]:
            kill_processes_of(name)
        for pid in hub.namespace.pids():  # the node too: its SIGINT stop hung the hub's at times
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        hub.stop()
        hub.remove_accounts()
        shutil.rmtree(data, ignore_errors=True)


def start_servers(hub: ClassHub, names: list[str], *, timeout: float = 180.0) -> dict[str, str]:
    """Ask the hub for each student's server, all at once, and wait until every one is ready;
    returns name -> a token of that student's (what their browser's session would carry).

    The requests go out in parallel: the hub answers a spawn request only when the server is up
    or after its 10 s ``slow_spawn_timeout``, so asking one by one would measure the client.
    """
    def spawn(name: str) -> None:
        if not hub.api("GET", f"/users/{name}")["servers"].get("", {}).get("ready"):
            hub.api("POST", f"/users/{name}/server", timeout=300)  # (400 if already running)

    at_once(spawn, names)
    tokens = {name: hub.api("POST", f"/users/{name}/tokens", {"note": "test"})["token"]
              for name in names}
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        for name in list(pending):
            if hub.api("GET", f"/users/{name}")["servers"].get("", {}).get("ready"):
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise HubError(f"servers not ready after {timeout} s: {sorted(pending)}\n"
                           f"{hub.log_tail()}")
        time.sleep(0.3)
    return tokens


def server_request(hub: ClassHub, user: str, token: str, path: str, body: object = None,
                   method: str = "GET") -> tuple[int, object]:
    """A request to ``user``'s server (through the proxy) with ``token``: (status, JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{hub.port}/user/{user}{path}", data,
                                     method=method,
                                     headers={"Authorization": f"token {token}"})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # a redirect to the login page: refused
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=60) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        return exc.code, None


class Kernel:
    """An ``omteach`` kernel in ``user``'s server, run through the kernel websocket; closing it
    shuts the kernel down (its memory is the student's, under their limit)."""

    def __init__(self, hub: ClassHub, user: str, token: str):
        import websocket  # websocket-client: a dependency of jupyter_server

        self.hub, self.user, self.token = hub, user, token
        status, model = server_request(hub, user, token, "/api/kernels", {"name": "omteach"},
                                       method="POST")
        if status != 201:
            raise HubError(f"{user}'s server started no kernel (HTTP {status})")
        self.id = model["id"]
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{hub.port}/user/{user}/api/kernels/{self.id}/channels",
            header=[f"Authorization: token {token}"], timeout=600)
        self.session = uuid.uuid4().hex

    def submit(self, code: str) -> str:
        """Send ``code`` to run; returns the request's id (collect its output with :meth:`wait`)."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": self.user, "session": self.session,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
        return msg_id

    def wait(self, msg_id: str) -> str:
        """The stdout of request ``msg_id``; raises with the traceback if it failed."""
        from websocket import WebSocketException

        out, error = [], None
        while True:
            try:
                opcode, frame = self.ws.recv_data()
            except (WebSocketException, OSError) as exc:
                # The server closed it (its kernel or itself killed: the user's memory limit, a
                # crash): say whose, with the hub's log, where the servers' own lines are too.
                raise HubError(f"{self.user}'s kernel connection closed while running a cell "
                               f"({type(exc).__name__}: {exc}); the hub's log ends:\n"
                               f"{self.hub.log_tail(80)}") from None
            if opcode != 0x1:  # a binary frame: a message with buffers (widgets), not ours
                continue
            msg = json.loads(frame)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                out.append(content["text"])
            elif kind == "error":
                error = "\n".join(content["traceback"])
            elif kind == "status" and content["execution_state"] == "idle":
                break
        if error is not None:
            raise HubError(f"{self.user}'s kernel: {error}")
        return "".join(out)

    def run(self, code: str) -> str:
        return self.wait(self.submit(code))

    def close(self) -> None:
        """Close the websocket and shut the kernel down through the server's REST API."""
        self.ws.close()
        server_request(self.hub, self.user, self.token, f"/api/kernels/{self.id}",
                       method="DELETE")

    @classmethod
    def open_many(cls, hub: ClassHub, tokens: dict[str, str]) -> list[Kernel]:
        """A kernel for each of ``tokens``' students (name -> token), started all at once: each
        server starts its kernel process while the others do."""
        def start(name: str) -> Kernel | HubError:
            try:
                return cls(hub, name, tokens[name])
            except HubError as exc:
                return exc

        started = at_once(start, tokens)
        kernels = [k for k in started if isinstance(k, Kernel)]
        if len(kernels) < len(started):  # close the ones that started, then say why
            cls.close_many(kernels)
            raise next(k for k in started if isinstance(k, HubError))
        return kernels

    @staticmethod
    def close_many(kernels: list[Kernel]) -> None:
        """Close these kernels (shut them down), all at once."""
        at_once(Kernel.close, kernels)


def process_rss_kib(pid: int) -> int:
    """A process's resident memory (KiB), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
