"""Shared helpers for the contract tests: the agreement is deployed as the course deploys it."""

from __future__ import annotations

from typing import Any

from omteach.chain import deploy_agreement
from omteach.story import DAY
from omteach.story import DIGITS_MODEL as MODEL

__all__ = ["DAY", "MODEL", "asked_of_node", "deploy_agreement"]


def asked_of_node(chain: Any) -> list[str]:
    """Every JSON-RPC method ``chain`` asks its node from now on (appended as they go)."""
    from web3.middleware import Web3Middleware

    asked: list[str] = []

    class Counting(Web3Middleware):
        def wrap_make_request(self, make_request):
            def counted(method, params):
                asked.append(str(method))
                return make_request(method, params)
            return counted
    chain.w3.middleware_onion.add(Counting, "counting")
    return asked
