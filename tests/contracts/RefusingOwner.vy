# pragma version ~=0.4.3
"""
@title A data owner that is a contract and refuses ether (for the tests)
@notice It accepts, posts shares and submits through the market like any owner, but every
        plain transfer of ether to it reverts. With pull payments it cannot block anyone else.
"""

interface Market:
    def accept(spec_id: uint256): nonpayable
    def advertise_keys(spec_id: uint256, round: uint256, cipher: bytes32, mask: bytes32,
                       commitment: bytes32): nonpayable
    def post_shares(spec_id: uint256, round: uint256, shares_blob: bytes32): nonpayable
    def submit(spec_id: uint256, round: uint256, update_blob: bytes32): nonpayable
    def reveal_shares(spec_id: uint256, round: uint256, data: Bytes[64]): nonpayable
    def withdraw(): nonpayable
    def withdraw_to(recipient: address): nonpayable

market: public(address)


@deploy
def __init__(market: address):
    self.market = market


@external
def accept(spec_id: uint256):
    extcall Market(self.market).accept(spec_id)


@external
def advertise_keys(spec_id: uint256, round: uint256, cipher: bytes32, mask: bytes32,
                   commitment: bytes32):
    extcall Market(self.market).advertise_keys(spec_id, round, cipher, mask, commitment)


@external
def post_shares(spec_id: uint256, round: uint256, shares_blob: bytes32):
    extcall Market(self.market).post_shares(spec_id, round, shares_blob)


@external
def submit(spec_id: uint256, round: uint256, update_blob: bytes32):
    extcall Market(self.market).submit(spec_id, round, update_blob)


@external
def reveal_shares(spec_id: uint256, round: uint256, data: Bytes[64]):
    extcall Market(self.market).reveal_shares(spec_id, round, data)


@external
def withdraw():
    extcall Market(self.market).withdraw()


@external
def withdraw_to(recipient: address):
    extcall Market(self.market).withdraw_to(recipient)


@external
@payable
def __default__():
    raise "this owner refuses ether"
