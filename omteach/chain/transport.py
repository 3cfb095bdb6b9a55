"""JSON-RPC to a node over HTTP/1.1 connections kept open between requests.

web3's ``HTTPProvider`` posts through ``requests``: about 0.65 ms of CPU a request against 0.15 ms
for the standard library's ``http.client`` on a kept-open connection, and web3's request pipeline
(middlewares, formatters) adds about a millisecond more to an ``eth_call``. In a class of 100
students polling the round on two cores, that was most of their CPU after the submit deadline
(issue 21). :class:`KeptAlive` is the transport a :class:`~omteach.chain.Chain` on a node uses for
everything web3 sends (through :func:`kept_alive_provider`), and :meth:`KeptAlive.rpc` is the lean
path the chain takes for its most frequent reads (views, the block number, receipts).

Written here rather than taken from a library: the standard library has the HTTP client, and the
connection policy is the class gate's (an idle connection is given up before the gate would
close it, see :data:`KEEP_IDLE_S`).
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import threading
import time
import urllib.parse
from typing import Any

from omteach.errors import ChainError

__all__ = ["KEEP_IDLE_S", "KeptAlive", "NodeBusyError", "NodeHTTPError", "RpcError",
           "kept_alive_provider", "node_connection"]

KEEP_IDLE_S = 4.0
"""Seconds a connection may stay idle and still be used again. The class gate closes a
connection whose next request has not arrived within its request deadline (10 s): a client that
gives up sooner never sends on a connection the gate is closing."""

BUSY_STATUSES = frozenset({429, 502, 503, 504})
"""HTTP statuses that say "not now" (a gate that is full, a node restarting): reads are retried."""


class NodeHTTPError(ChainError):
    """The node (or the class's gate) answered with an HTTP error status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class NodeBusyError(NodeHTTPError, ConnectionError):
    """An HTTP status that says "try again in a moment" (429, 502, 503, 504): a read is retried
    like a dropped connection (it is a ``ConnectionError`` for web3's retry configuration)."""


class RpcError(ChainError):
    """A JSON-RPC error answer: ``message`` (e.g. "execution reverted: ..."), ``code``, ``data``."""

    def __init__(self, message: str, code: Any = None, data: Any = None):
        super().__init__(message)
        self.message, self.code, self.data = message, code, data


def _path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def node_connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    """A new (not yet connected) HTTP connection to the node at ``url``, and the path to POST
    to; a URL that is not http(s) is refused."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChainError(f"a node's URL starts with http:// or https://, not {url!r}")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return kind(parts.hostname, parts.port, timeout=timeout), _path(url)


class _Held:
    """One thread's connection to one node, and when it was last used."""

    __slots__ = ("conn", "pid", "used")

    def __init__(self, conn: http.client.HTTPConnection):
        self.conn, self.pid, self.used = conn, os.getpid(), time.monotonic()


class KeptAlive:
    """HTTP POSTs to JSON-RPC nodes, one kept-open connection per thread and node.

    Has the method web3's ``HTTPProvider`` calls on its session manager
    (:meth:`make_post_request`), so it can stand in for ``requests``.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._ids = itertools.count(1)
        self._every: set[_Held] = set()  # every thread's, to close them all (close, __del__)
        self._every_lock = threading.Lock()

    def close(self) -> None:
        """Close every connection this process holds (any thread's); the next request opens
        one again."""
        with self._every_lock:
            every, self._every = self._every, set()
        for held in every:
            if held.pid == os.getpid():
                held.conn.close()

    def __del__(self) -> None:  # a chain let go of: its sockets closed now, not at exit
        self.close()

    def _held(self, url: str, timeout: float) -> tuple[_Held, bool]:
        """This thread's connection to ``url`` (a fresh one if it is idle too long or was made
        in another process), and whether it was used before."""
        conns: dict[str, _Held] = self._local.__dict__.setdefault("conns", {})
        held = conns.get(url)
        if held is not None and (held.pid != os.getpid()
                                 or time.monotonic() - held.used > KEEP_IDLE_S):
            self._drop(url)
            held = None
        if held is not None:
            held.conn.timeout = timeout
            return held, True
        held = conns[url] = _Held(node_connection(url, timeout)[0])
        with self._every_lock:
            self._every.add(held)
        return held, False

    def _drop(self, url: str) -> None:
        held = self._local.__dict__.get("conns", {}).pop(url, None)
        if held is not None:
            with self._every_lock:
                self._every.discard(held)
            if held.pid == os.getpid():
                held.conn.close()

    def post(self, url: str, data: bytes, *, timeout: float = 30.0,
             headers: dict[str, str] | None = None) -> bytes:
        """POST ``data`` to ``url``; the answer's bytes (HTTP 200), else :class:`NodeHTTPError`
        (:class:`NodeBusyError` for "not now"). A connection the node closed while it was idle
        is opened again and the request sent once more (nothing had reached the node); any
        other failure is raised (``OSError``, ``http.client.HTTPException``)."""
        path = _path(url)
        sent_headers = {"Content-Type": "application/json", **(headers or {})}
        while True:
            held, reused = self._held(url, timeout)
            try:
                held.conn.request("POST", path, data, sent_headers)
                resp = held.conn.getresponse()
                body = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._drop(url)
                if reused:
                    continue
                raise
            except BaseException:
                self._drop(url)
                raise
            held.used = time.monotonic()
            if resp.will_close:
                self._drop(url)
            if resp.status == 200:
                return body
            raise (NodeBusyError if resp.status in BUSY_STATUSES else NodeHTTPError)(
                f"the node at {url} answered HTTP {resp.status}{_said(body)}", resp.status)

    def make_post_request(self, endpoint_uri: str, data: bytes | dict[str, Any],
                          **kwargs: Any) -> bytes:
        """web3's session-manager call: ``kwargs`` are the provider's request kwargs."""
        if isinstance(data, dict):
            data = json.dumps(data).encode()
        return self.post(str(endpoint_uri), data, timeout=float(kwargs.get("timeout") or 30.0),
                         headers=kwargs.get("headers"))

    def rpc(self, url: str, method: str, params: list[Any], *, timeout: float = 30.0,
            headers: dict[str, str] | None = None, retries: int = 3) -> Any:
        """One JSON-RPC read: its ``result``, or :class:`RpcError` with the node's message. A
        dropped connection or a busy gate is tried again (``retries`` in all, 0.1 s, 0.2 s
        apart), as web3 retries reads: use it for reads only."""
        body = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                           "params": params}).encode()
        for attempt in range(retries):
            try:
                raw = self.post(url, body, timeout=timeout, headers=headers)
                break
            except (ConnectionError, TimeoutError, http.client.HTTPException):
                if attempt == retries - 1:
                    raise
                time.sleep(0.1 * 2 ** attempt)
        try:
            answer = json.loads(raw)
        except ValueError:
            raise ChainError(f"the node at {url} answered {method} with something that is not "
                             "JSON") from None
        if not isinstance(answer, dict):
            raise ChainError(f"the node at {url} answered {method} with {type(answer).__name__}")
        error = answer.get("error")
        if error is not None:
            if isinstance(error, dict):
                raise RpcError(str(error.get("message", error)), error.get("code"),
                               error.get("data"))
            raise RpcError(str(error))
        return answer.get("result")


def _said(body: bytes) -> str:
    """": <the JSON-RPC error's message>" from an error answer's body, or nothing."""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f": {message}" if isinstance(message, str) else ""


_PROVIDER: type | None = None


def kept_alive_provider(url: str, **kwargs: Any) -> Any:
    """web3's ``HTTPProvider`` for ``url`` with :class:`KeptAlive` as its transport (its
    ``transport`` attribute), so that web3's requests and the chain's lean reads share this
    thread's connection. ``kwargs``: the provider's own (``request_kwargs``,
    ``exception_retry_configuration``, ...)."""
    global _PROVIDER
    if _PROVIDER is None:
        from web3 import HTTPProvider

        class KeptAliveProvider(HTTPProvider):
            def __init__(self, url: str, **kwargs: Any):
                super().__init__(url, **kwargs)
                self.transport = KeptAlive()
                self._request_session_manager = self.transport

        _PROVIDER = KeptAliveProvider
    return _PROVIDER(url, **kwargs)
