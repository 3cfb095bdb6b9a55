"""The chain layer: web3 over eth-tester or JSON-RPC, the course's contracts, a real anvil node.

- :mod:`omteach.chain.evm`: :class:`Chain` (accounts by name, time, blocks, sending);
- :mod:`omteach.chain.contract`: :class:`DeployedContract` (calls, transactions, state, events);
- :mod:`omteach.chain.compiler`: Vyper compiled in-process, cached in memory and on disk;
- :mod:`omteach.chain.gas`: eth-tester's quick gas estimate (py-evm's configured chain class);
- :mod:`omteach.chain.records`: readable records of what happened (events, state, blocks);
- :mod:`omteach.chain.agreement`: chapter 2's data-use agreement, deployed one way everywhere;
- :mod:`omteach.chain.anvil`: Foundry's anvil as a local JSON-RPC node.
"""

from omteach.chain.agreement import deploy_agreement
from omteach.chain.evm import (
    Chain,
    CompiledContract,
    DeployedContract,
    compile_contract,
    contract_source,
    contracts_dir,
)
from omteach.chain.records import BlockRecord, EventLog, EventRecord, StateTable, TxResult
from omteach.story import CAST

__all__ = [
    "CAST", "BlockRecord", "Chain", "CompiledContract", "DeployedContract", "EventLog",
    "EventRecord", "StateTable", "TxResult", "compile_contract", "contract_source",
    "contracts_dir", "deploy_agreement",
]
