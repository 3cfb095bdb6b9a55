"""eth-tester's gas estimate in two runs of a transaction instead of about fourteen.

py-evm's default estimator searches by bisection between 21,000 and the block's gas limit,
running the transaction about 14 times; every transaction the course sends is estimated (web3
fills in ``gas``), so on eth-tester estimating cost about three times the transaction itself.
:func:`quick_gas_estimate` does it in two runs, with py-evm's public state API only
(``snapshot``, ``apply_transaction``, ``revert``, ``SpoofTransaction``) and py-evm's public
bisection as its fallback.

It is installed the way py-evm configures a chain: a subclass of the backend's chain class made
with ``configure(gas_estimator=...)`` (``gas_estimator`` is a documented attribute of py-evm's
``Chain``), for that backend only: nothing else in the process changes. eth-tester builds its
chain itself, so the backend's chain is rebuilt from the same database and pending header, and
eth-tester keeps the class when it rebuilds it (``from_genesis_header`` on a snapshot revert).

Why the py-evm version matters: the estimate decides each transaction's gas limit, which is part
of the transaction's hash, so the block hashes the notebooks print depend on it. The versions it
was checked with are :data:`CHECKED_PY_EVM`; ``tests/test_chain.py`` fails on any other, so an
upgrade is looked at (estimates, committed notebook outputs) before it is taken.
"""

from __future__ import annotations

from typing import Any

CHECKED_PY_EVM = ("0.12.1b1",)
"""py-evm releases this estimator and its installation were checked with."""


def _fails(state: Any, transaction: Any) -> Exception | None:
    """The error running ``transaction`` on ``state`` ends in (None: it succeeds); the state is
    left as it was."""
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(transaction)
        return computation.error if computation.is_error else None
    finally:
        state.revert(snapshot)


def quick_gas_estimate(state: Any, transaction: Any) -> int:
    """A gas limit ``transaction`` was seen to succeed with, in two runs (py-evm's estimator).

    One run with the whole block's gas (a refusal raises here, with its reason, as py-evm's own
    estimator does) gives the gas used before refunds; one run confirms that this, plus 1/63 for
    the gas a call must keep back (EIP-150) and the 2,300 an SSTORE needs left (EIP-2200),
    suffices. If it does not, py-evm's bisection decides. web3 then adds its usual 100,000
    buffer.
    """
    from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
    from eth.vm.spoof import SpoofTransaction

    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(
            SpoofTransaction(transaction, gas=state.gas_limit, gas_price=0))
        if computation.is_error:
            raise computation.error
        used = transaction.intrinsic_gas + computation.get_gas_used()
    finally:
        state.revert(snapshot)
    guess = min(state.gas_limit, used + used // 63 + 2_300)
    # The same check as py-evm's bisection steps: the transaction's own gas price, so a sender
    # who cannot pay for the gas is refused here, as before.
    if _fails(state, SpoofTransaction(transaction, gas=guess)) is None:
        return guess
    return binary_gas_search_intrinsic_tolerance(state, transaction)


def use_quick_gas_estimate(backend: Any) -> None:
    """Give an eth-tester py-evm ``backend`` a chain that estimates with
    :func:`quick_gas_estimate`; any other backend keeps its own estimator."""
    chain = getattr(backend, "chain", None)
    if chain is None or not hasattr(type(chain), "configure"):
        return  # not py-evm: nothing to configure
    quick = type(chain).configure(__name__=type(chain).__name__,
                                  gas_estimator=staticmethod(quick_gas_estimate))
    backend.chain = quick(chain.chaindb.db, chain.header)


def py_evm_version() -> str:
    """The installed py-evm release (what :data:`CHECKED_PY_EVM` is compared with)."""
    from importlib.metadata import version

    return version("py-evm")
