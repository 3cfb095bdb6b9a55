"""The gate: the only way students reach the teacher's node, forwarding a whitelist of methods.

anvil answers everyone who reaches its port, including the methods that make a development node
convenient and a classroom unsafe: ``anvil_impersonateAccount``, ``anvil_setStorageAt``,
``evm_*``, ``hardhat_*``, ``debug_*``, and ``eth_sendTransaction`` from its unlocked accounts. So
anvil listens on loopback only, and students talk to this gate, which forwards

- the standard reads (:data:`READ_METHODS`) and
- ``eth_sendRawTransaction``, a transaction the student signed on their own machine
  (refused if it is signed by one of ``refuse_senders``, the node's development accounts),

answers ``eth_accounts`` itself with ``[]`` (a node reached through the gate holds no key for
anyone: say so rather than list the teacher's accounts), hands the methods the teacher's process
adds (``handlers``, e.g. the faucet) to their handler, and refuses everything else with a JSON-RPC
error (-32601) that says the method is for the teacher's node only.

Why it is written here: it is some two hundred lines of code on the standard library's
``ThreadingHTTPServer``; the JSON-RPC proxies on PyPI are frameworks for *serving* methods, and
none does exactly "forward a whitelist, refuse the rest, survive junk". Every request is bounded
(body size, batch length, nesting depth, socket timeout, open requests per client and in all)
and any bytes at all get a JSON-RPC answer, never a crash: ``tests/test_gate.py`` sends it the
junk. Not bounded: how many valid transactions a funded student sends (each pays gas, and anvil
mines each in its own block, so the teacher's transactions are never crowded out).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from omteach.errors import ChainError, OmteachError

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
MAX_OPEN_PER_CLIENT = 64
"""Requests one client address may have open at once (a class behind one NAT shares one)."""
MAX_OPEN = 512
"""Requests open at once in all: each holds a thread of the teacher's process."""

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR, SERVER_ERROR = (
    -32700, -32600, -32601, -32602, -32603, -32000)

Handler = Callable[[list[Any], str], Any]
"""A method the teacher's process adds: called with (params, client address), returns a result."""


class GateRefusal(Exception):
    """Raised by a handler to answer with a JSON-RPC error (``code``, ``message``)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


MAX_DEPTH = 32
"""Deepest nesting of brackets a request may have (a real one has four or five)."""
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


def _too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """True if the JSON text nests brackets deeper than ``limit`` (strings do not count).

    Checked before ``json.loads``: py_ecc (imported with eth_account) raises Python's recursion
    limit to 100,000, so a 200 kB body of brackets overflows the C stack of a server thread and
    kills the whole process (a segmentation fault) before any RecursionError.
    """
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        depth += 1 if match.group() in b"[{" else -1
        if depth > limit:
            return True
    return False


def _error(req_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "error": {"code": code, "message": message}}


class Gate:
    """A JSON-RPC proxy on ``host``:``port`` (0 = a free port) in front of ``upstream``.

    ``start()`` serves in a background thread; ``stop()`` (or leaving ``with``) shuts it down.
    ``refusals`` keeps the last refused (client, method) pairs, for the teacher's dashboard;
    ``on_refusal(client, method, message)`` is also called for each (e.g. to write a log file).
    """

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0,
                 refuse_senders: Iterable[str] = (), handlers: Mapping[str, Handler] | None = None,
                 max_body: int = MAX_BODY, max_batch: int = MAX_BATCH, timeout: float = 30.0,
                 on_refusal: Callable[[str, str, str], None] | None = None,
                 max_open_per_client: int = MAX_OPEN_PER_CLIENT, max_open: int = MAX_OPEN):
        self.upstream = upstream
        self.refuse_senders = {a.lower() for a in refuse_senders}
        self.handlers = dict(handlers or {})
        self.max_body = max_body
        self.max_batch = max_batch
        self.timeout = timeout
        self.refusals: deque[tuple[str, str]] = deque(maxlen=1000)
        self.on_refusal = on_refusal
        self.max_open_per_client = max_open_per_client
        self.max_open = max_open
        self._open: dict[str, int] = {}
        self._open_lock = threading.Lock()
        gate = self

        class _Handler(BaseHTTPRequestHandler):
            timeout = 10  # seconds a client may take to send its request (no slow-loris)
            server_version = "omteach-gate"

            def handle(self) -> None:
                client = self.client_address[0]
                if not gate._enter(client):  # idle connections must not starve the class
                    self._drain()
                    self.close_connection = True
                    self.requestline, self.request_version, self.command = "", "HTTP/1.0", ""
                    self._reply(503, _error(None, SERVER_ERROR, "too many open requests from "
                                                                "your machine: wait a moment"))
                    return
                try:
                    super().handle()
                finally:
                    gate._leave(client)

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
                status, body = gate._answer_http(self)
                self._reply(status, body)

            def do_GET(self) -> None:  # noqa: N802
                self._reply(405, _error(None, INVALID_REQUEST, "the gate speaks JSON-RPC: POST "
                                                                "a JSON request to this URL"))

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client left before its answer: nobody to tell
                    self.close_connection = True

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

    # -- serving ---------------------------------------------------------------------------------

    def start(self) -> Gate:
        """Serve in a background thread; returns the gate."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="omteach-gate",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Gate:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _enter(self, client: str) -> bool:
        with self._open_lock:
            if (self._open.get(client, 0) >= self.max_open_per_client
                    or sum(self._open.values()) >= self.max_open):
                return False
            self._open[client] = self._open.get(client, 0) + 1
            return True

    def _leave(self, client: str) -> None:
        with self._open_lock:
            self._open[client] -= 1
            if not self._open[client]:
                del self._open[client]

    # -- answering -------------------------------------------------------------------------------

    def _answer_http(self, req: BaseHTTPRequestHandler) -> tuple[int, Any]:
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
            return 408, _error(None, INVALID_REQUEST, "the request did not arrive in time")
        if _too_deep(raw):
            return 200, _error(None, PARSE_ERROR, f"the body nests deeper than {MAX_DEPTH} "
                                                  "levels: no JSON-RPC request does")
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):  # bad UTF-8, bad JSON
            return 200, _error(None, PARSE_ERROR, "the body is not JSON")
        client = req.client_address[0]
        if isinstance(parsed, list):
            if not parsed or len(parsed) > self.max_batch:
                return 200, _error(None, INVALID_REQUEST,
                                   f"a batch holds 1 to {self.max_batch} requests")
            return 200, [self.answer(item, client) for item in parsed]
        return 200, self.answer(parsed, client)

    def answer(self, request: Any, client: str = "?") -> dict[str, Any]:
        """The JSON-RPC answer to one (already parsed) request from ``client``."""
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
        if method == SEND_METHOD:
            refusal = self._check_raw(params)
            if refusal is not None:
                return self._refuse(req_id, client, method, *refusal)
        elif method not in READ_METHODS:
            return self._refuse(req_id, client, method[:80], METHOD_NOT_FOUND,
                                f"{method[:80]} is for the teacher's node only: students reach "
                                "the chain through the gate, which forwards standard reads and "
                                "eth_sendRawTransaction (sign transactions with your own key)")
        return self._forward({"jsonrpc": "2.0", "id": req_id, "method": method,
                              "params": params})

    def _refuse(self, req_id: Any, client: str, method: str, code: int,
                message: str) -> dict[str, Any]:
        self.refusals.append((client, method))
        if self.on_refusal is not None:
            try:
                self.on_refusal(client, method, message)
            except Exception:  # a full disk must not stop the refusal itself
                pass
        return _error(req_id, code, message)

    def _check_raw(self, params: Any) -> tuple[int, str] | None:
        from eth_account import Account

        if not isinstance(params, list) or len(params) != 1 or not isinstance(params[0], str):
            return INVALID_PARAMS, "eth_sendRawTransaction takes one hex string"
        try:
            sender = Account.recover_transaction(params[0])
        except Exception:  # not hex, not RLP, not a signed transaction of any type
            return INVALID_PARAMS, "that is not a signed transaction"
        if sender.lower() in self.refuse_senders:
            return SERVER_ERROR, (f"{sender} is one of the node's development accounts, for the "
                                  "teacher's node only: sign with your own key")
        return None

    def _forward(self, request: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(request).encode()
        http = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(http, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # the node answered, with an HTTP error status
            try:
                return json.loads(exc.read())
            except ValueError:
                return _error(request["id"], SERVER_ERROR, f"the node answered HTTP {exc.code}")
        except (OSError, ValueError):
            return _error(request["id"], SERVER_ERROR,
                          "the teacher's node does not answer: tell the teacher")
