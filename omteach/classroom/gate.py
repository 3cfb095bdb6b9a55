"""The gate: the only way students reach the teacher's node, forwarding a whitelist of methods.

anvil answers everyone who reaches its port, including the methods that make a development node
convenient and a classroom unsafe: ``anvil_impersonateAccount``, ``anvil_setStorageAt``,
``evm_*``, ``hardhat_*``, ``debug_*``, and ``eth_sendTransaction`` from its unlocked accounts. So
anvil listens on loopback only, and students talk to this gate, which forwards

- the standard reads (:data:`READ_METHODS`) and
- ``eth_sendRawTransaction``, a transaction the student signed on their own machine for this
  chain (refused without a chain id, i.e. replayable on any chain, with another chain's id, with
  more gas than :data:`TX_GAS_CAP`, or signed by one of ``refuse_senders``, the node's
  development accounts),

answers ``eth_accounts`` itself with ``[]`` (a node reached through the gate holds no key for
anyone: say so rather than list the teacher's accounts), hands the methods the teacher's process
adds (``handlers``, e.g. the faucet) to their handler, and refuses everything else with a JSON-RPC
error (-32601) that says the method is for the teacher's node only.

One hostile student must not crash, freeze or flood the class, so every bound is on a class of
attack rather than on one request seen once:

- **what a request may be** -- the body is decoded as UTF-8 first (anything else is refused:
  Python's JSON reader would guess UTF-16 or UTF-32 and count brackets the checks never saw),
  then its size, nesting and batch length are bounded on the decoded text, so the JSON parser's
  recursion is bounded whatever the encoding (:func:`parse_body`);
- **what the node may spend on it** -- ``eth_call``/``eth_estimateGas`` run with at most
  :data:`CALL_GAS_CAP` gas and without state or block overrides; ``eth_getLogs`` spans at most
  :data:`MAX_LOG_BLOCKS` blocks unless it names an address and a topic, ``eth_feeHistory`` at
  most :data:`MAX_FEE_BLOCKS` blocks and :data:`MAX_PERCENTILES` percentiles (the node's work
  and answer grow with these, not with the request's size); every forwarded request
  has a wall-clock limit and its answer a size cap (:data:`MAX_RESPONSE`, per HTTP request,
  batches included);
- **what one client may hold** -- a whole request (headers and body) must arrive within
  :data:`REQUEST_DEADLINE` seconds (not per read: a byte every few seconds no longer holds a
  slot); each client address (an IPv6 client by its /64) holds at most ``max_open_per_client``
  connections, and when the gate is full a newcomer takes the slot of a waiting connection from
  the address holding most; requests reach the node through a fair queue that serves client
  addresses in turn, so one client's flood delays a classmate by about one request.

A client is its address, except on a class hub, where every student's kernel reaches the gate
from the same address (the host's): there the hub gives each student a **class pass**
(:func:`class_pass`, an HMAC of the student's login under a secret only the hub and the gate
hold), sent as the :data:`PASS_HEADER` header, and the gate counts connections, turns of the
queue and faucet grants per pass holder instead (``pass_secret``). A pass that does not check
out is refused (nobody can count as a classmate); a request without one counts as its address.
Connections from a ``shared_addresses`` address are admitted before their first request says
whose they are (bounded by the gate's total and the request deadline; when the gate is full, a
newcomer from there takes the oldest such unnamed connection's slot), and counted per pass
holder from their first request on.

Why it is written here: it is some hundreds of lines on the standard library's
``ThreadingHTTPServer``; the JSON-RPC proxies on PyPI are frameworks for *serving* methods, and
none does exactly "forward a whitelist, refuse the rest, survive junk". ``tests/test_gate.py``
sends it junk, ``tests/test_gate_fuzz.py`` fuzzes it, ``tests/test_hostile_class.py`` runs the
attacks. Not bounded here: how many valid transactions a funded student sends (each pays gas at
a base fee the node pins, see :mod:`omteach.classroom.node`).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from omteach.chain.transport import node_connection
from omteach.errors import ChainError, GateRefusal, OmteachError

__all__ = ["Gate", "GateRefusal", "FairQueue", "parse_body", "READ_METHODS", "SEND_METHOD",
           "PASS_HEADER", "class_pass", "pass_holder"]

READ_METHODS = frozenset({
    "eth_chainId", "eth_blockNumber", "eth_getBalance", "eth_getTransactionCount", "eth_call",
    "eth_estimateGas", "eth_gasPrice", "eth_maxPriorityFeePerGas", "eth_feeHistory",
    "eth_getBlockByNumber", "eth_getBlockByHash", "eth_getTransactionByHash",
    "eth_getTransactionReceipt", "eth_getLogs", "eth_getCode", "eth_getStorageAt", "eth_syncing",
    "eth_getBlockTransactionCountByNumber", "eth_getBlockTransactionCountByHash",
    "net_version", "net_listening", "web3_clientVersion",
})
"""Standard methods that only read the chain (storage is public on any chain anyway)."""

SEND_METHOD = "eth_sendRawTransaction"
MAX_BODY = 512 * 1024
"""Largest request body: a 64 KiB blob as a signed transaction is about 135 kB of hex."""
MAX_BATCH = 50
MAX_DEPTH = 32
"""Deepest nesting of brackets a request may have (a real one has four or five)."""
MAX_OPEN_PER_CLIENT = 64
"""Connections one client address may hold (a class behind one NAT shares one)."""
MAX_OPEN = 512
"""Connections open at once in all: each holds a thread of the teacher's process."""
REQUEST_DEADLINE = 10.0
"""Seconds a whole request (line, headers, body) may take to arrive, counted from the connection
or the previous answer: a deadline for the request, not for each read."""
FORWARD_TIMEOUT = 10.0
"""Wall-clock seconds the node may take to answer one forwarded request."""
CALL_GAS_CAP = 10_000_000
"""Most gas an ``eth_call`` or ``eth_estimateGas`` may burn (the class's largest transaction,
posting a 64 KiB blob, needs about 1.5 million)."""
TX_GAS_CAP = 10_000_000
"""Most gas a student's transaction may ask for: one transaction cannot hold the node for long."""
MAX_LOG_BLOCKS = 2_000
"""Blocks an ``eth_getLogs`` without an address and a topic may span."""
MAX_FEE_BLOCKS = 1024
MAX_PERCENTILES = 100
"""``eth_feeHistory`` bounds: web3 asks for a few blocks and at most a handful of percentiles."""
MAX_RESPONSE = 16 * 1024 * 1024
"""Largest answer to one HTTP request (a batch's answers together): 100 blobs of 64 KiB fit."""
MAX_HELD = 128 * 1024 * 1024
"""Answer bytes the gate holds for all clients at once (waiting to be written)."""
UPSTREAM_WORKERS = 4
"""Requests the gate works on at once (parsing, forwarding, encoding); the others wait in the
fair queue. The node answers a class's reads in a millisecond or two, but on a busy machine a
forwarded request waits several times that to be scheduled: with two in flight, 100 students
revealing at once were served about a hundred requests a second by a half-idle gate (issue 21).
Many more would only let a flood's threads take the CPU from the request a classmate waits for."""

PASS_HEADER = "X-Omteach-Pass"
"""The header a class-hub student's requests carry: their class pass (see :func:`class_pass`)."""
PASS_PREFIX = "pass:"
"""How a pass holder is named where the gate counts clients (never an IP address)."""
UNNAMED = "#unnamed"
"""Appended to a shared address for its connections that have not yet sent a request."""

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR, SERVER_ERROR = (
    -32700, -32600, -32601, -32602, -32603, -32000)
LIMIT_EXCEEDED = -32005
"""The code Ethereum clients use for "query returns too many results / limit exceeded"."""

Handler = Callable[[list[Any], str], Any]
"""A method the teacher's process adds: called with (params, client address), returns a result."""

CALL_KEYS = frozenset({"from", "to", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas",
                       "value", "data", "input", "nonce", "type", "accessList", "chainId"})
"""Fields of a call object the gate forwards (the standard ones, no overrides in disguise)."""
LOG_KEYS = frozenset({"address", "topics", "fromBlock", "toBlock", "blockHash"})

# A JSON string (any escape), an opening or a closing bracket. DOTALL: an escaped line break is
# one token, so strings are skipped exactly as the JSON parser reads them (see parse_body). A
# string that never closes runs to the end (the parser stops there anyway); with the possessive
# loop, each character is looked at once: a body of '"\\"\\"...' is not quadratic.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)|[\[{]|[\]}]', re.DOTALL)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of a request body, or :class:`GateRefusal` (-32700) saying what is wrong.

    Decoded as UTF-8 first, and only then measured: the nesting is counted on the very text the
    parser reads. The token scan sees every bracket the parser would recurse into before the
    first error (strings are skipped the same way in valid JSON, and the parser stops at the
    first invalid token), so ``json.loads`` never goes deeper than ``max_depth``: it cannot
    overflow a thread's stack, whatever the recursion limit (py_ecc raises it to 100,000).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise GateRefusal(PARSE_ERROR, "the body is not UTF-8 text: send JSON-RPC as UTF-8 "
                                       "JSON") from None
    depth = 0
    for token in _TOKEN.finditer(text):
        first = token.group()[0]
        if first in "[{":
            depth += 1
            if depth > max_depth:
                raise GateRefusal(PARSE_ERROR, f"the body nests deeper than {max_depth} "
                                               "levels: no JSON-RPC request does")
        elif first in "]}":
            depth -= 1
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise GateRefusal(PARSE_ERROR, "the body is not JSON") from None


def _error(req_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "error": {"code": code, "message": message}}


def client_key(address: str) -> str:
    """Whom the per-client limits count: an IPv4 address, or an IPv6 client's /64 network.

    One machine on IPv6 may use any address of its /64; counting each apart would let it hold
    every slot.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def class_pass(secret: bytes, name: str) -> str:
    """The class pass of hub student ``name``: ``name:HMAC-SHA256(secret, name)``, hex.

    The hub's spawner puts it in that student's server environment only (so in their kernels;
    ``/proc/PID/environ`` is readable by the process's owner alone); the gate checks it with the
    same secret. Without the secret nobody can make the pass of another name.
    """
    return f"{name}:{hmac.new(secret, name.encode(), hashlib.sha256).hexdigest()}"


def pass_holder(secret: bytes, token: str) -> str | None:
    """The student whose class pass ``token`` is, or None when it does not check out."""
    name, _, mac = token.partition(":")
    if not name or len(mac) != 64 or len(name) > 64:
        return None
    return name if hmac.compare_digest(class_pass(secret, name), token) else None


def _quantity(value: Any, what: str) -> int:
    """A JSON-RPC quantity ("0x..." or a number) as an int, or GateRefusal."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(r"0x[0-9a-fA-F]{1,64}", value):
        return int(value, 16)
    raise GateRefusal(INVALID_PARAMS, f"{what} must be a hex quantity such as 0x1a")


class FairQueue:
    """At most ``workers`` holders at once; waiting clients are served in turn, one each.

    A client that queues a hundred requests waits behind itself: a classmate's one request is
    served after at most one of the flood's (round robin over client keys, FIFO within one).
    """

    def __init__(self, workers: int):
        self._free = workers
        self._cv = threading.Condition()
        self._waiting: OrderedDict[str, deque[object]] = OrderedDict()
        self._granted: set[object] = set()

    def acquire(self, client: str, timeout: float) -> None:
        """Wait for a turn (at most ``timeout`` s; then GateRefusal: the node is busy)."""
        ticket = object()
        deadline = time.monotonic() + timeout
        with self._cv:
            self._waiting.setdefault(client, deque()).append(ticket)
            self._grant()
            while ticket not in self._granted:
                left = deadline - time.monotonic()
                if left <= 0:
                    queue = self._waiting.get(client)
                    if queue is not None and ticket in queue:
                        queue.remove(ticket)
                        if not queue:
                            del self._waiting[client]
                    raise GateRefusal(SERVER_ERROR, "the class's node is busy: try again in a "
                                                    "moment")
                self._cv.wait(left)
            self._granted.discard(ticket)

    def release(self) -> None:
        """Give the turn back (after the forwarded request is answered)."""
        with self._cv:
            self._free += 1
            self._grant()

    def _grant(self) -> None:
        while self._free > 0 and self._waiting:
            client, queue = self._waiting.popitem(last=False)
            self._granted.add(queue.popleft())
            self._free -= 1
            if queue:  # its next request waits for the other clients' turns
                self._waiting[client] = queue
        self._cv.notify_all()


class _Connection:
    """One client connection as the gate tracks it (for deadlines, slots and eviction)."""

    __slots__ = ("client", "sock", "deadline", "opened", "idle", "evicted")

    def __init__(self, client: str, sock: socket.socket):
        self.client = client
        self.sock = sock
        self.deadline: float | None = time.monotonic() + REQUEST_DEADLINE
        self.opened = time.monotonic()
        self.idle = False  # kept open after an answer, no next request begun (under the lock)
        self.evicted = False  # closed to make room: a request it began is not served

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # a blocked read returns at once
        except OSError:
            pass


class Gate:
    """A JSON-RPC proxy on ``host``:``port`` (0 = a free port) in front of ``upstream``.

    ``start()`` serves in a background thread; ``stop()`` (or leaving ``with``) shuts it down.
    ``refusals`` keeps the last refused (client, method) pairs, for the teacher's dashboard;
    ``on_refusal(client, method, message)`` is also called for each (e.g. to write a log file).
    ``chain_id``: the chain transactions must be signed for (None: asked of the node once).
    ``pass_secret``: the class hub's secret; requests with a valid class pass are counted per
    student, not per address. ``shared_addresses``: addresses many students come from (the
    hub's host), whose connections are counted per pass holder once their first request arrives.
    """

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0,
                 refuse_senders: Iterable[str] = (), handlers: Mapping[str, Handler] | None = None,
                 max_body: int = MAX_BODY, max_batch: int = MAX_BATCH,
                 timeout: float = FORWARD_TIMEOUT,
                 on_refusal: Callable[[str, str, str], None] | None = None,
                 max_open_per_client: int = MAX_OPEN_PER_CLIENT, max_open: int = MAX_OPEN,
                 request_deadline: float = REQUEST_DEADLINE, call_gas_cap: int = CALL_GAS_CAP,
                 tx_gas_cap: int = TX_GAS_CAP, max_log_blocks: int = MAX_LOG_BLOCKS,
                 max_response: int = MAX_RESPONSE, workers: int = UPSTREAM_WORKERS,
                 chain_id: int | None = None, pass_secret: bytes | None = None,
                 shared_addresses: Iterable[str] = ()):
        self.upstream = upstream
        self._upstream = _Upstream(upstream, timeout)
        self.refuse_senders = {a.lower() for a in refuse_senders}
        self.handlers = dict(handlers or {})
        self.max_body = max_body
        self.max_batch = max_batch
        self.timeout = timeout
        self.refusals: deque[tuple[str, str]] = deque(maxlen=1000)
        self.on_refusal = on_refusal
        self.max_open_per_client = max_open_per_client
        self.max_open = max_open
        self.request_deadline = request_deadline
        self.call_gas_cap = call_gas_cap
        self.tx_gas_cap = tx_gas_cap
        self.max_log_blocks = max_log_blocks
        self.max_response = max_response
        self.queue = FairQueue(workers)
        self.pass_secret = pass_secret
        self.shared = {client_key(a) for a in shared_addresses} if pass_secret else set()
        self._chain_id = chain_id
        self._latest: tuple[float, int] = (0.0, 0)  # (when read, latest block number)
        self._held = 0
        self._held_lock = threading.Lock()
        self._open: dict[str, int] = {}  # client key -> open connections
        self._conns: set[_Connection] = set()
        self._open_lock = threading.Lock()
        self._stopping = threading.Event()
        gate = self

        class _Handler(BaseHTTPRequestHandler):
            timeout = request_deadline  # per read; the reaper enforces the whole request's
            server_version = "omteach-gate"
            # Connections kept open between requests: a new one for each request cost the gate
            # and the student about a millisecond of CPU together (issue 21). An idle one makes
            # room first when a client's or the gate's connections are all taken (_enter), and
            # the request deadline closes it after REQUEST_DEADLINE s without a request.
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once, not 40 ms apart

            def handle(self) -> None:
                conn = gate._enter(gate._admission_key(self.client_address[0]),
                                   self.connection)
                if conn is None:  # the client's share, and everyone's, is taken
                    self._drain()
                    self.close_connection = True
                    self.requestline, self.request_version, self.command = "", "HTTP/1.0", ""
                    self._reply(503, _error(None, SERVER_ERROR, "too many open requests from "
                                                                "your machine: wait a moment"))
                    return
                self._conn = conn
                try:
                    super().handle()
                finally:
                    gate._leave(conn)

            def handle_one_request(self) -> None:
                # The next request, whole, must arrive within the deadline from now.
                self._conn.deadline = time.monotonic() + gate.request_deadline
                with gate._open_lock:  # kept open after an answer: the first to make room
                    self._conn.idle = getattr(self, "_answered", False)
                super().handle_one_request()

            def parse_request(self) -> bool:
                # A request began: the connection is no longer idle, unless it was closed to
                # make room a moment ago (then nothing of this request is served).
                with gate._open_lock:
                    self._conn.idle = False
                    if self._conn.evicted:
                        self.close_connection = True
                        return False
                return super().parse_request()

            def _drain(self) -> None:
                # Read the request (one second at most, bounded) before refusing it: closing a
                # socket with unread bytes resets it, and the client would never see the 503.
                self.connection.settimeout(1.0)
                try:
                    length = 0
                    for _ in range(100):
                        line = self.rfile.readline(8192)
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":", 1)[1].strip() or 0)
                        if line in (b"\r\n", b"\n", b""):
                            break
                    self.rfile.read(max(0, min(length, gate.max_body)))
                except (OSError, ValueError):
                    pass

            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                refused = gate._identify(self._conn, self.headers, self.client_address[0])
                if refused is not None:
                    self._skip_body()
                    self._conn.deadline = None
                    self._reply(*refused)
                    return
                status, body = gate._answer_http(self, self._conn.client)
                self._conn.deadline = None  # answering: the forward has its own time limit
                self._reply(status, body)

            def _skip_body(self) -> None:
                # Read a refused request's body (bounded; the request deadline holds) before
                # answering: closing with unread bytes would reset the connection.
                try:
                    length = int(self.headers.get("Content-Length", "0"))
                    self.rfile.read(max(0, min(length, gate.max_body)))
                except (OSError, ValueError):
                    pass

            def do_GET(self) -> None:  # noqa: N802
                self._reply(405, _error(None, INVALID_REQUEST, "the gate speaks JSON-RPC: POST "
                                                                "a JSON request to this URL"))

            def _reply(self, status: int, body: Any) -> None:
                if status != 200:
                    self.close_connection = True  # the rest of the stream is not to be trusted
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                if not gate._hold(len(data)):
                    data = json.dumps(_error(None, SERVER_ERROR, "the gate is answering many "
                                                                 "large requests: try again in "
                                                                 "a moment")).encode()
                    gate._hold(len(data), force=True)
                conn = getattr(self, "_conn", None)
                if conn is not None:  # writing to a reader that never reads has a deadline too
                    conn.deadline = time.monotonic() + gate.request_deadline
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if self.close_connection:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data)
                    self._answered = True
                except OSError:  # the client left before its answer: nobody to tell
                    self.close_connection = True
                finally:
                    gate._hold(-len(data), force=True)

            def log_message(self, *args: Any) -> None:  # quiet: the dashboard shows refusals
                pass

        class _Server(ThreadingHTTPServer):
            # The standard library listens with a backlog of 5: a class connecting at once
            # overflows it and some connections are reset.
            request_queue_size = 128
            daemon_threads = True

        try:
            self._server = _Server((host, port), _Handler)
        except OSError as exc:
            raise ChainError(f"the gate cannot listen on {host}:{port}: {exc}; choose another "
                             "port or address") from None
        self.host, self.port = self._server.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None
        self._reaper: threading.Thread | None = None

    # -- serving ---------------------------------------------------------------------------------

    def start(self) -> Gate:
        """Serve in a background thread; returns the gate."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._server.serve_forever, name="omteach-gate",
                                        daemon=True)
        self._thread.start()
        self._reaper = threading.Thread(target=self._reap, name="omteach-gate-reaper",
                                        daemon=True)
        self._reaper.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        if self._reaper is not None:
            self._reaper.join()
            self._reaper = None
        self._server.server_close()
        self._upstream.close()

    def __enter__(self) -> Gate:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def open_connections(self) -> dict[str, int]:
        """Open connections per client key (for the dashboard and the tests)."""
        with self._open_lock:
            return dict(self._open)

    def _reap(self) -> None:
        """Close every connection whose request (or answer) is past its deadline."""
        while not self._stopping.wait(0.2):
            now = time.monotonic()
            with self._open_lock:
                late = [c for c in self._conns if c.deadline is not None and c.deadline < now]
            for conn in late:
                conn.close()

    def _admission_key(self, address: str) -> str:
        """Whom a new connection counts against until its first request: its address, or, from
        a shared address (the class hub's host), that address's unnamed connections."""
        key = client_key(address)
        return key + UNNAMED if key in self.shared else key

    def _enter(self, client: str, sock: socket.socket) -> _Connection | None:
        """Admit a connection, taking a slot from the heaviest client when the gate is full."""
        unnamed = client.endswith(UNNAMED)
        with self._open_lock:
            mine = self._open.get(client, 0)
            if mine >= self.max_open_per_client and not unnamed:
                # A connection this client keeps open between requests makes room first.
                victim = self._idle_of(lambda c: c.client == client)
                if victim is None:
                    return None
                self._evict(victim)
            elif len(self._conns) >= self.max_open:
                victim = self._idle_of(lambda c: True) or self._evictable(client, mine)
                if victim is None and unnamed:  # the oldest unnamed one from there makes room
                    victim = min((c for c in self._conns
                                  if c.client == client and c.deadline is not None),
                                 key=lambda c: c.opened, default=None)
                if victim is None:
                    return None
                self._evict(victim)
            conn = _Connection(client, sock)
            self._conns.add(conn)
            self._open[client] = mine + 1
            return conn

    def _idle_of(self, whose: Callable[[_Connection], bool]) -> _Connection | None:
        """The connection idle longest of those ``whose`` accepts (under the lock), or None."""
        return min((c for c in self._conns if c.idle and not c.evicted and whose(c)),
                   key=lambda c: c.deadline or 0.0, default=None)

    @staticmethod
    def _evict(victim: _Connection) -> None:
        """Close ``victim`` to make room (under the lock): its thread leaves and frees the slot;
        the newcomer goes on. A request it has begun is not served (see ``parse_request``)."""
        victim.evicted = True
        victim.close()
        victim.deadline = None

    def _evictable(self, client: str, mine: int) -> _Connection | None:
        """A waiting connection of the client holding most slots, if it holds more than ``mine``
        + 1 (max-min fairness: a full gate is shared between addresses, not first come)."""
        heaviest = max(self._open, key=self._open.__getitem__, default=None)
        if heaviest is None or heaviest == client or self._open[heaviest] <= mine + 1:
            return None
        waiting = [c for c in self._conns if c.client == heaviest and c.deadline is not None]
        return min(waiting, key=lambda c: c.opened, default=None)

    def _identify(self, conn: _Connection, headers: Any,
                  address: str) -> tuple[int, dict[str, Any]] | None:
        """Count ``conn`` against whoever its request says it comes from: the holder of a valid
        class pass, else its address. None, or the refusal to send (a pass that does not check
        out; that holder's connections all taken)."""
        token = headers.get(PASS_HEADER) if self.pass_secret is not None else None
        who = client_key(address)
        if token is not None:
            name = pass_holder(self.pass_secret, token)
            if name is None:
                self._refuse(None, who, "class pass", SERVER_ERROR, "bad class pass")
                return 403, _error(None, SERVER_ERROR, "that class pass is not valid: send the "
                                                       "one the hub gave you (OMTEACH_CLASS_PASS)")
            who = PASS_PREFIX + name
        with self._open_lock:
            if who == conn.client:
                return None
            if self._open.get(who, 0) >= self.max_open_per_client:
                return 503, _error(None, SERVER_ERROR, "too many open requests from you: wait "
                                                       "a moment")
            self._open[conn.client] -= 1
            if not self._open[conn.client]:
                del self._open[conn.client]
            conn.client = who
            self._open[who] = self._open.get(who, 0) + 1
        return None

    def _leave(self, conn: _Connection) -> None:
        with self._open_lock:
            self._conns.discard(conn)
            self._open[conn.client] -= 1
            if not self._open[conn.client]:
                del self._open[conn.client]

    def _hold(self, size: int, *, force: bool = False) -> bool:
        """Count answer bytes held at once; False (nothing counted) when over the budget."""
        with self._held_lock:
            if not force and size > 0 and self._held + size > MAX_HELD:
                return False
            self._held += size
            return True

    # -- answering -------------------------------------------------------------------------------

    def _answer_http(self, req: BaseHTTPRequestHandler, client: str) -> tuple[int, Any]:
        if req.headers.get("Transfer-Encoding"):
            return 411, _error(None, INVALID_REQUEST, "send a Content-Length, not chunks")
        try:
            length = int(req.headers.get("Content-Length", ""))
        except ValueError:
            return 411, _error(None, INVALID_REQUEST, "a request needs a Content-Length")
        if length < 0 or length > self.max_body:
            return 413, _error(None, INVALID_REQUEST,
                               f"request too large ({length} bytes; the gate takes at most "
                               f"{self.max_body})")
        try:
            raw = req.rfile.read(length)
        except OSError:
            raw = b""
        if len(raw) != length:
            return 408, _error(None, INVALID_REQUEST, "the request did not arrive in time")
        # The client's turn covers the work the gate does for it (parsing, forwarding, encoding
        # the answer): a flood's threads wait, without using the CPU, while others are served.
        try:
            self.queue.acquire(client, self.timeout)
        except GateRefusal as exc:
            return 200, _error(None, exc.code, exc.message)
        held = [True]
        try:
            return 200, self._answer_body(raw, client, held)
        except Exception as exc:  # a bug of the gate's must cost one answer, not the gate
            return 500, _error(None, INTERNAL_ERROR, f"the gate failed on this request "
                                                     f"({type(exc).__name__}): tell the teacher")
        finally:
            if held[0]:
                self.queue.release()

    def _answer_body(self, raw: bytes, client: str, held: list[bool]) -> Any:
        """The answer (encoded) to a request body, with ``client``'s turn held (``held[0]``
        says whether it still is: a batch gives its turn back between requests)."""
        try:
            parsed = parse_body(raw)
        except GateRefusal as exc:
            return _error(None, exc.code, exc.message)
        budget = [self.max_response]
        if not isinstance(parsed, list):
            return self._encode(self.answer(parsed, client, budget))
        if not parsed or len(parsed) > self.max_batch:
            return _error(None, INVALID_REQUEST, f"a batch holds 1 to {self.max_batch} requests")
        answers = []
        for n, item in enumerate(parsed):
            if n:  # one turn per request of a batch: a batch waits like a flood of requests
                self.queue.release()
                held[0] = False
                try:
                    self.queue.acquire(client, self.timeout)
                except GateRefusal as exc:  # the node is busy: the rest are answered so
                    answers += [_error(None, exc.code, exc.message)] * (len(parsed) - n)
                    break
                held[0] = True
            answers.append(self.answer(item, client, budget))
        return self._encode(answers)

    @staticmethod
    def _encode(answer: Any) -> bytes:
        return json.dumps(answer).encode()

    def answer(self, request: Any, client: str = "?",
               budget: list[int] | None = None) -> dict[str, Any]:
        """The JSON-RPC answer to one (already parsed) request from ``client``.

        ``budget``: answer bytes this HTTP request may still return (shared by a batch). The
        HTTP server calls it with the client's turn of the fair queue held.
        """
        if not isinstance(request, dict):
            return _error(None, INVALID_REQUEST, "a request is a JSON object")
        req_id = request.get("id")
        if not (req_id is None or isinstance(req_id, str | int)) or isinstance(req_id, bool):
            return _error(None, INVALID_REQUEST, "a request id is a number or a string")
        method, params = request.get("method"), request.get("params", [])
        if request.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return _error(req_id, INVALID_REQUEST, 'a request has "jsonrpc": "2.0" and a method')
        if not isinstance(params, list | dict):
            return _error(req_id, INVALID_PARAMS, "params are a list or an object")
        if method == "eth_accounts":
            return {"jsonrpc": "2.0", "id": req_id, "result": []}
        if method in self.handlers:
            try:
                result = self.handlers[method](params if isinstance(params, list) else [params],
                                               client)
            except GateRefusal as exc:
                return self._refuse(req_id, client, method, exc.code, exc.message)
            except OmteachError as exc:  # e.g. the faucet ran dry: say so, keep serving
                return _error(req_id, SERVER_ERROR, f"{method} failed: {exc}")
            except Exception as exc:  # a bug in a handler must not take the gate down
                return _error(req_id, INTERNAL_ERROR, f"{method} failed inside the gate "
                                                      f"({type(exc).__name__}): tell the teacher")
            return {"jsonrpc": "2.0", "id": req_id, "result": result}
        if method != SEND_METHOD and method not in READ_METHODS:
            return self._refuse(req_id, client, method[:80], METHOD_NOT_FOUND,
                                f"{method[:80]} is for the teacher's node only: students reach "
                                "the chain through the gate, which forwards standard reads and "
                                "eth_sendRawTransaction (sign transactions with your own key)")
        try:
            params = self._bounded(method, params)
        except GateRefusal as exc:
            return self._refuse(req_id, client, method, exc.code, exc.message)
        try:
            return self._forward({"jsonrpc": "2.0", "id": req_id, "method": method,
                                  "params": params},
                                 budget if budget is not None else [self.max_response])
        except GateRefusal as exc:
            return self._refuse(req_id, client, method, exc.code, exc.message)

    def _refuse(self, req_id: Any, client: str, method: str, code: int,
                message: str) -> dict[str, Any]:
        self.refusals.append((client, method))
        if self.on_refusal is not None:
            try:
                self.on_refusal(client, method, message)
            except Exception:  # a full disk must not stop the refusal itself
                pass
        return _error(req_id, code, message)

    # -- what the node may spend -----------------------------------------------------------------

    def _bounded(self, method: str, params: Any) -> Any:
        """``params`` as forwarded (a gas cap filled in), or GateRefusal saying what to change."""
        if method == SEND_METHOD:
            self._check_raw(params)
        elif method in ("eth_call", "eth_estimateGas"):
            return self._bounded_call(method, params)
        elif method == "eth_getLogs":
            self._check_logs(params)
        elif method == "eth_feeHistory":
            self._check_fee_history(params)
        return params

    def _check_fee_history(self, params: Any) -> None:
        # The node's answer grows as blocks x percentiles: 20,000 percentiles over 1,024 blocks
        # made anvil build a 123 MB answer from a 100 kB request.
        if not isinstance(params, list) or not 2 <= len(params) <= 3:
            raise GateRefusal(INVALID_PARAMS, "eth_feeHistory takes a block count, a newest "
                                              "block and reward percentiles")
        if _quantity(params[0], "the block count") > MAX_FEE_BLOCKS:
            raise GateRefusal(INVALID_PARAMS, f"eth_feeHistory covers at most {MAX_FEE_BLOCKS} "
                                              "blocks here: ask for fewer")
        percentiles = params[2] if len(params) == 3 else []
        if not isinstance(percentiles, list) or len(percentiles) > MAX_PERCENTILES:
            raise GateRefusal(INVALID_PARAMS, f"eth_feeHistory takes a list of at most "
                                              f"{MAX_PERCENTILES} reward percentiles")

    def _bounded_call(self, method: str, params: Any) -> list[Any]:
        if not isinstance(params, list) or not params or not isinstance(params[0], dict):
            raise GateRefusal(INVALID_PARAMS, f"{method} takes a call object and a block")
        if len(params) > 2:
            raise GateRefusal(INVALID_PARAMS, f"{method} with state or block overrides is for "
                                              "the teacher's node only: send the call object "
                                              "and a block")
        call = dict(params[0])
        extra = sorted(set(call) - CALL_KEYS)
        if extra:
            raise GateRefusal(INVALID_PARAMS, f"{method}: the gate forwards the standard call "
                                              f"fields only, not {', '.join(extra)[:80]}")
        if "gas" in call:
            if _quantity(call["gas"], "gas") > self.call_gas_cap:
                raise GateRefusal(INVALID_PARAMS, f"{method} may use at most "
                                                  f"{self.call_gas_cap:,} gas here: ask for less")
        else:
            call["gas"] = hex(self.call_gas_cap)  # or the node would allow its block's limit
        return [call, *params[1:]]

    def _latest_block(self) -> int:
        when, number = self._latest
        if time.monotonic() - when > 1.0:
            answer = self._post({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber",
                                 "params": []}, 1024)
            try:
                number = int(answer["result"], 16)
            except (KeyError, TypeError, ValueError):
                raise GateRefusal(SERVER_ERROR, "the teacher's node does not answer: tell the "
                                                "teacher") from None
            self._latest = (time.monotonic(), number)
        return number

    def _block(self, tag: Any, what: str) -> int:
        if tag is None or tag in ("latest", "pending", "safe", "finalized"):
            return self._latest_block()
        if tag == "earliest":
            return 0
        return _quantity(tag, what)

    def _check_logs(self, params: Any) -> None:
        if not isinstance(params, list) or len(params) != 1 or not isinstance(params[0], dict):
            raise GateRefusal(INVALID_PARAMS, "eth_getLogs takes one filter object")
        query = params[0]
        extra = sorted(set(query) - LOG_KEYS)
        if extra:
            raise GateRefusal(INVALID_PARAMS, "eth_getLogs: the gate forwards address, topics, "
                                              f"fromBlock, toBlock, blockHash, not "
                                              f"{', '.join(extra)[:80]}")
        if "blockHash" in query:
            return  # one block
        first = self._block(query.get("fromBlock"), "fromBlock")
        last = self._block(query.get("toBlock"), "toBlock")
        topics = query.get("topics")
        narrow = bool(query.get("address")) and isinstance(topics, list) and any(
            t is not None for t in topics)
        if not narrow and last - first + 1 > self.max_log_blocks:
            raise GateRefusal(LIMIT_EXCEEDED, f"eth_getLogs spans {last - first + 1:,} blocks: "
                                              f"ask for at most {self.max_log_blocks:,}, or "
                                              "name an address and a topic")

    def chain_id(self) -> int:
        """The chain id transactions must carry (asked of the node once)."""
        if self._chain_id is None:
            answer = self._post({"jsonrpc": "2.0", "id": 0, "method": "eth_chainId",
                                 "params": []}, 1024)
            try:
                self._chain_id = int(answer["result"], 16)
            except (KeyError, TypeError, ValueError):
                raise GateRefusal(SERVER_ERROR, "the teacher's node does not answer: tell the "
                                                "teacher") from None
        return self._chain_id

    def _check_raw(self, params: Any) -> None:
        from eth_account import Account

        if not isinstance(params, list) or len(params) != 1 or not isinstance(params[0], str):
            raise GateRefusal(INVALID_PARAMS, "eth_sendRawTransaction takes one hex string")
        try:
            raw = bytes.fromhex(params[0].removeprefix("0x"))
            sender = Account.recover_transaction(raw)
            chain_id, gas = _chain_id_and_gas(raw)
        except Exception:  # not hex, not RLP, not a signed transaction of any type
            raise GateRefusal(INVALID_PARAMS, "that is not a signed transaction") from None
        if chain_id is None:
            raise GateRefusal(INVALID_PARAMS, "a transaction without a chain id could be "
                                              "replayed on any chain: sign it with this "
                                              f"chain's id ({self.chain_id()})")
        if chain_id != self.chain_id():
            raise GateRefusal(INVALID_PARAMS, f"that transaction is signed for chain {chain_id}; "
                                              f"this class's chain is {self.chain_id()}")
        if gas > self.tx_gas_cap:
            raise GateRefusal(INVALID_PARAMS, f"a transaction may ask for at most "
                                              f"{self.tx_gas_cap:,} gas here: ask for less")
        if sender.lower() in self.refuse_senders:
            raise GateRefusal(SERVER_ERROR, f"{sender} is one of the node's development "
                                            "accounts, for the teacher's node only: sign with "
                                            "your own key")

    # -- forwarding ------------------------------------------------------------------------------

    def _forward(self, request: dict[str, Any], budget: list[int]) -> dict[str, Any]:
        """The node's answer, within the time limit and the budget."""
        if budget[0] <= 0:
            raise GateRefusal(LIMIT_EXCEEDED, "this request's answers already fill what the gate "
                                              f"returns at once ({self.max_response:,} bytes): "
                                              "send the rest in another request")
        try:
            answer = self._post(request, budget[0])
        except GateRefusal as exc:
            if exc.code == LIMIT_EXCEEDED:
                budget[0] = 0  # spent: the batch's next requests are not sent to the node
            raise
        budget[0] -= answer.pop("_size", 0) if isinstance(answer, dict) else 0
        return answer

    def _post(self, request: dict[str, Any], limit: int) -> dict[str, Any]:
        """POST one request to the node; its answer (with its ``_size``), at most ``limit``
        bytes, within ``self.timeout`` seconds in all."""
        body = json.dumps(request).encode()
        deadline = time.monotonic() + self.timeout
        try:
            status, data = self._upstream.post(body, limit, deadline)
        except GateRefusal:
            raise
        except (OSError, ValueError, http.client.HTTPException):
            return _error(request["id"], SERVER_ERROR,
                          "the teacher's node does not answer: tell the teacher")
        if status >= 400 and not data:  # the node answered with an HTTP error status alone
            return _error(request["id"], SERVER_ERROR, f"the node answered HTTP {status}")
        try:
            answer = json.loads(data)
        except ValueError:
            return _error(request["id"], SERVER_ERROR, "the node's answer is not JSON")
        if isinstance(answer, dict):
            answer["_size"] = len(data)
        return answer


class _Upstream:
    """HTTP/1.1 connections to the node, kept open between requests.

    A new connection for every forwarded request (what ``urllib`` does) cost the gate about a
    millisecond of CPU a request, on two cores shared with the node and a class's processes
    (issue 21). At most the fair queue's workers use a connection at once; a connection is
    taken for one request and given back once its answer was read whole."""

    MAX_IDLE = 16

    def __init__(self, url: str, timeout: float):
        self._url, self._timeout = url, timeout
        self._path = node_connection(url, timeout)[1]  # (refuses a URL that is not http(s))
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connect(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return node_connection(self._url, self._timeout)[0], False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self.MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def post(self, body: bytes, limit: int, deadline: float) -> tuple[int, bytes]:
        """(HTTP status, answer bytes) of one POST, at most ``limit`` bytes before
        ``deadline`` (else GateRefusal); OSError or HTTPException if the node does not answer."""
        while True:
            conn, reused = self._connect()
            try:
                conn.request("POST", self._path, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                if reused:  # the node had closed this idle connection: nothing reached it
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            try:
                data = _read_bounded(resp, limit, deadline)
            except BaseException:
                conn.close()  # unread bytes: this connection cannot carry another request
                raise
            if resp.will_close:
                conn.close()
            else:
                self._give_back(conn)
            return resp.status, data

    def close(self) -> None:
        """Close the idle connections (the gate stops)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _read_bounded(resp: Any, limit: int, deadline: float) -> bytes:
    """Read an HTTP answer of at most ``limit`` bytes before ``deadline`` (else GateRefusal)."""
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise GateRefusal(SERVER_ERROR, "the node took too long to answer: ask for less "
                                            "(a narrower query, a cheaper call)")
        chunk = resp.read(min(1 << 20, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise GateRefusal(LIMIT_EXCEEDED, f"the answer is larger than the gate forwards "
                                              f"({limit:,} bytes left for this request): ask "
                                              "for less, e.g. a narrower eth_getLogs range")


def _chain_id_and_gas(raw: bytes) -> tuple[int | None, int]:
    """(chain id or None, gas limit) of a signed transaction's bytes (any type)."""
    import rlp

    if raw and raw[0] <= 0x7F:  # typed (EIP-2718): type byte, then chain id first
        fields = rlp.decode(raw[1:])
        gas_index = {1: 3, 2: 4, 3: 4, 4: 4}.get(raw[0])  # 2930: no tip field
        if gas_index is None:
            raise ValueError("unknown transaction type")
        return int.from_bytes(fields[0], "big"), int.from_bytes(fields[gas_index], "big")
    fields = rlp.decode(raw)  # legacy: nonce, gasPrice, gas, to, value, data, v, r, s
    v = int.from_bytes(fields[6], "big")
    return ((v - 35) // 2 if v >= 35 else None), int.from_bytes(fields[2], "big")
