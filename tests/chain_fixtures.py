"""Shared helpers for the contract tests: the agreement is deployed as the course deploys it."""

from __future__ import annotations

from typing import Any

from omteach.chain import deploy_agreement
from omteach.story import DAY
from omteach.story import DIGITS_MODEL as MODEL

__all__ = ["DAY", "MODEL", "asked_of_node", "deploy_agreement"]


def asked_of_node(chain: Any) -> list[str]:
    """Every JSON-RPC method ``chain`` asks its node from now on (appended as they go): counted
    where the requests leave, web3's and the chain's own reads alike (a chain on a node posts
    both through its provider's transport, omteach.chain.transport)."""
    import json

    asked: list[str] = []
    transport = getattr(chain._provider, "transport", None)
    if transport is not None:
        real = transport.post

        def counted_post(url, data, **kwargs):
            request = json.loads(data)
            for one in request if isinstance(request, list) else [request]:
                asked.append(str(one["method"]))
            return real(url, data, **kwargs)
        transport.post = counted_post
        return asked
    from web3.middleware import Web3Middleware

    class Counting(Web3Middleware):
        def wrap_make_request(self, make_request):
            def counted(method, params):
                asked.append(str(method))
                return make_request(method, params)
            return counted
    chain.w3.middleware_onion.add(Counting, "counting")
    return asked
