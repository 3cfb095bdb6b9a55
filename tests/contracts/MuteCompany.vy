# pragma version ~=0.4.3
"""
@title A company that is a contract with no way to receive ether (for the tests)
@notice It posts a spec, opens and closes rounds through the market, but has no payable
        fallback: ether sent to it is refused. Owners must still be paid, and the company's own
        refund must stay reachable (it withdraws to another address).
"""

interface Market:
    def post_spec(model_blob: bytes32, key_blob: bytes32, summary: String[200],
                  batch_size: uint256, rounds: uint256, min_owners: uint256, places: uint256,
                  noise_milli: uint256, bounty: uint256, deadline: uint256,
                  share_seconds: uint256, submit_seconds: uint256,
                  reveal_seconds: uint256) -> uint256: payable
    def open_round(spec_id: uint256, participants: DynArray[address, 16], k: uint256,
                   threshold: uint256): nonpayable
    def end_submissions(spec_id: uint256): nonpayable
    def close_round(spec_id: uint256, next_model_blob: bytes32): nonpayable
    def reclaim_escrow(spec_id: uint256): nonpayable
    def withdraw(): nonpayable
    def withdraw_to(recipient: address): nonpayable

market: public(address)


@deploy
def __init__(market: address):
    self.market = market


@external
@payable
def post_spec(model_blob: bytes32, key_blob: bytes32, rounds: uint256, min_owners: uint256,
              places: uint256, bounty: uint256, deadline: uint256) -> uint256:
    return extcall Market(self.market).post_spec(
        model_blob, key_blob, "test model", 32, rounds, min_owners, places, 0, bounty,
        deadline, 60, 60, 60, value=msg.value)


@external
def open_round(spec_id: uint256, participants: DynArray[address, 16], k: uint256,
               threshold: uint256):
    extcall Market(self.market).open_round(spec_id, participants, k, threshold)


@external
def end_submissions(spec_id: uint256):
    extcall Market(self.market).end_submissions(spec_id)


@external
def close_round(spec_id: uint256, next_model_blob: bytes32):
    extcall Market(self.market).close_round(spec_id, next_model_blob)


@external
def reclaim_escrow(spec_id: uint256):
    extcall Market(self.market).reclaim_escrow(spec_id)


@external
def withdraw():
    extcall Market(self.market).withdraw()


@external
def withdraw_to(recipient: address):
    extcall Market(self.market).withdraw_to(recipient)
