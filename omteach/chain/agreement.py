"""Chapter 2's data-use agreement between AI Inc. and one data owner, deployed one way.

The exercises, the tests and the ledger examples all deploy it through :func:`deploy_agreement`,
so its terms are written once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omteach.story import COMPANY, DAY, DIGITS_MODEL

if TYPE_CHECKING:
    from omteach.chain.evm import Chain, DeployedContract


def deploy_agreement(chain: Chain, *, owner: str = "Joe", model: str = DIGITS_MODEL,
                     purpose: str = "train a digit classifier", expires_in: int = 30 * DAY,
                     pay: int = 1_000, max_uses: int = 3, value: int | None = None,
                     sender: str = COMPANY, source: str | None = None,
                     label: str | None = None) -> DeployedContract:
    """Deploy a ``DataUseAgreement``: ``sender`` pays ``pay`` wei per use of ``owner``'s data.

    ``value`` (the escrow) defaults to ``pay * max_uses``; ``source`` deploys an edited contract
    (chapter 2's exercise) under ``label``.
    """
    escrow = pay * max_uses if value is None else value
    return chain.deploy("DataUseAgreement", owner, model, purpose, chain.now() + expires_in, pay,
                        max_uses, sender=sender, value=escrow, source=source, label=label)
