"""Shared pytest set-up: the chains the contract tests run on."""

from __future__ import annotations

import os
import warnings

import pytest

# Fixture notebooks of the browser test are broken on purpose; nbval must not run them.
collect_ignore_glob = ["browser_fixtures/*"]


@pytest.fixture(scope="session")
def anvil_node():
    """A real JSON-RPC node (anvil) on loopback for the whole session, stopped at the end."""
    from omteach.chain.anvil import AnvilNode, find_anvil

    if find_anvil() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("anvil is missing on CI: 'make setup-anvil' should have installed it")
        pytest.skip("anvil not installed (needs npm): run 'make setup-anvil' to test on a real "
                    "JSON-RPC node")
    with AnvilNode() as node:
        yield node


@pytest.fixture(params=["eth-tester", "anvil"])
def chain(request):
    """A fresh eth-tester chain, or a connection to the session's anvil node."""
    from omteach.chain import Chain

    if request.param == "anvil":
        return Chain(request.getfixturevalue("anvil_node").url)
    return Chain()


def _teaching_keys(bits: int = 512, *, fast: bool = False):
    """A small key pair: fast enough for property tests, with its weak-key warning silenced."""
    from omteach.crypto.paillier import generate_keypair
    from omteach.errors import WeakKeyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakKeyWarning)
        return generate_keypair(bits, fast=fast)


@pytest.fixture(scope="session")
def keys():
    """A 512-bit teaching key pair, shared by the tests that do not define their own."""
    return _teaching_keys()


@pytest.fixture(scope="session")
def other_keys():
    """A second, unrelated teaching key pair, for the tests that mix keys."""
    return _teaching_keys()


@pytest.fixture(scope="session")
def fast_keys():
    """A 512-bit fast (DJN) teaching key pair."""
    return _teaching_keys(fast=True)


@pytest.fixture(scope="session", params=["ordinary", "fast"])
def any_keys(request):
    """Each key mode in turn: an ordinary and a fast teaching key pair."""
    return request.getfixturevalue("keys" if request.param == "ordinary" else "fast_keys")


# -- the browser (test_browser, the hub's login) -------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium (Playwright never downloads a browser here); CI fails without it."""
    from tests.test_browser import find_chromium

    path = find_chromium()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing on CI: install it with "
                        "'sudo apt-get install chromium'")
        pytest.skip("chromium not installed: run 'sudo apt-get install chromium' to run the "
                    "browser tests (no Playwright browser download is needed)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Debian Chromium for the session (fresh temp profile per context), shared by
    every module that drives one: Playwright's sync API runs one instance per thread, a second
    one refuses to start ("using Playwright Sync API inside the asyncio loop")."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM_ARGS

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
