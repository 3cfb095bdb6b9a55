"""Property tests of the gate: whatever bytes arrive, a clean JSON-RPC answer, never a crash.

The suite runs a few dozen examples; ``make fuzz`` runs thousands (``OMTEACH_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omteach.classroom.gate import MAX_BODY, READ_METHODS, Gate, GateRefusal, parse_body

from .test_gate import post

EXAMPLES = int(os.environ.get("OMTEACH_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
           | st.text(max_size=12) | st.sampled_from(["latest", "0x0", "0x" + "f" * 40, "0x"]))
keys = st.sampled_from(["to", "from", "gas", "data", "topics", "fromBlock", "toBlock", "address",
                        "x", "stateOverride"]) | st.text(max_size=4)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(keys, inner, max_size=4), max_leaves=12)
methods = (st.sampled_from(sorted(READ_METHODS) + [
    "eth_sendRawTransaction", "eth_accounts", "anvil_mine", "evm_snapshot", "debug_x",
    "eth_sendTransaction", "x_handler"]) | st.text(max_size=16))
requests = st.fixed_dictionaries({
    "jsonrpc": st.sampled_from(["2.0", "2.0", "1.0"]),
    "id": st.none() | st.integers(-5, 2**40) | st.text(max_size=6),
    "method": methods,
    "params": st.lists(values, max_size=4) | values,
})
encodings = st.sampled_from(["utf-8", "utf-8", "utf-16", "utf-16-le", "utf-32", "latin-1"])


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A request body: one request, a batch (sometimes too long), deep nesting, quotes and
    escapes, or raw bytes."""
    kind = draw(st.sampled_from(["one", "batch", "deep", "bytes", "quotes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    if kind == "quotes":  # what makes a string scanner backtrack: quotes, escapes, brackets
        return draw(st.text(st.sampled_from('"\\[]{}a'), max_size=3000)).encode()
    if kind == "deep":
        depth = draw(st.integers(0, 3000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('["\\"[', "]")]))
        text = opener * depth + "1" + closer * depth
    elif kind == "batch":
        text = json.dumps(draw(st.lists(requests, max_size=55)))
    else:
        text = json.dumps(draw(requests))
    return text.encode(draw(encodings), errors="replace")


def _clean(answer: object) -> bool:
    if not isinstance(answer, dict) or answer.get("jsonrpc") != "2.0":
        return False
    if "error" in answer:
        error = answer["error"]
        return isinstance(error, dict) and isinstance(error.get("code"), int) and isinstance(
            error.get("message"), str)
    return "result" in answer


@pytest.fixture(scope="module")
def gate(anvil_node):
    def handler(params, client):
        return params[:1]
    with Gate(anvil_node.url, handlers={"x_handler": handler}) as g:
        yield g


@FUZZ
@given(body=bodies())
def test_any_body_gets_a_clean_json_rpc_answer(gate, body):
    started = time.monotonic()
    status, answer = post(gate.url, body[:MAX_BODY])
    assert time.monotonic() - started < 10
    assert status in (200, 408, 411, 413)
    if isinstance(answer, list):
        assert answer and all(_clean(a) for a in answer)
    else:
        assert _clean(answer), answer


@settings(max_examples=EXAMPLES * 5, deadline=None, database=None)
@given(body=bodies())
def test_parse_body_returns_a_value_or_refuses_whatever_the_recursion_limit(body):
    started = time.monotonic()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)  # as py_ecc sets it: the C stack would overflow first
    try:
        parse_body(body)
    except GateRefusal as exc:
        assert exc.code == -32700
    finally:
        sys.setrecursionlimit(limit)
    assert time.monotonic() - started < 2  # linear: a few kB take well under a millisecond
