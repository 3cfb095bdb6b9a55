# pragma version ~=0.4.3
"""
@title A data owner that tries to withdraw twice (for the tests)
@notice When the market sends it ether, it calls `withdraw` again from inside the transfer
        (re-entrancy). The market zeroes the balance before sending and locks re-entry, so the
        second call fails, the transfer fails, and nothing is paid twice.
"""

interface Market:
    def accept(spec_id: uint256): nonpayable
    def advertise_keys(spec_id: uint256, round: uint256, cipher: bytes32, mask: bytes32,
                       commitment: bytes32): nonpayable
    def post_shares(spec_id: uint256, round: uint256, shares_blob: bytes32): nonpayable
    def submit(spec_id: uint256, round: uint256, update_blob: bytes32): nonpayable
    def reveal_shares(spec_id: uint256, round: uint256, data: Bytes[64]): nonpayable
    def withdraw(): nonpayable

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
@payable
def __default__():
    extcall Market(self.market).withdraw()  # again, while the first withdraw is running
