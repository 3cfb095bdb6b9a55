# pragma version ~=0.4.3
"""
@title A contract that tries to fill a class's roster (for the tests)
@notice flood() deploys minimal proxies of itself and has each join the class under a fresh
        name: the attack that once took all 1,024 places in 1.5 s. The roster takes joins only
        from keys (tx.origin == msg.sender) or from a contract the teacher approved.
"""

interface Room:
    def join(name: String[40]): nonpayable

interface Squatter:
    def join(room: address, name: String[40]): nonpayable


@external
def join(room: address, name: String[40]):
    extcall Room(room).join(name)


@external
def flood(room: address, count: uint256):
    for i: uint256 in range(count, bound=64):
        proxy: address = create_minimal_proxy_to(self)
        name: String[40] = concat("squat ", uint2str(convert(i, uint8)))
        extcall Squatter(proxy).join(room, name)
