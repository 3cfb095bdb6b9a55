"""Shared helpers for the contract tests."""

from __future__ import annotations

from omteach.chain import Chain, DeployedContract

DAY = 24 * 3600
MODEL = "digits-mlp-v1"


def deploy_agreement(chain: Chain, *, owner: str = "Joe", expires_in: int = 30 * DAY,
                     pay: int = 1_000, max_uses: int = 3, value: int = 3_000
                     ) -> DeployedContract:
    """A data-use agreement between AI Inc. and ``owner`` for MODEL, with ``value`` in escrow."""
    return chain.deploy("DataUseAgreement", owner, MODEL, "train a digit classifier",
                        chain.now() + expires_in, pay, max_uses, value=value)
