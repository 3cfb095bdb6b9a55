# pragma version ~=0.4.3
"""
@title The roster of a live class: who joined, under which display name, and where things are
@notice DATA  - the teacher (who deployed it), the blob board and the market of this class;
        STATE - each student's display name, by the address of the key on their own machine
                (the teacher's name is reserved at deploy);
        CODE  - a student joins once, by a transaction signed with their own key (so nobody can
                join as someone else's address); display names are unique; only the teacher
                points the class at its market.
        Students find everything from this one address: it is what the teacher's node prints.
"""

MAX_NAME: constant(uint256) = 40

event Joined:
    student: indexed(address)
    name: String[MAX_NAME]

event MarketSet:
    market: indexed(address)

teacher: public(address)
board: public(address)
market: public(address)
names: public(HashMap[address, String[MAX_NAME]])
name_taken: public(HashMap[bytes32, address])   # keccak256(name) -> who took it
students: public(DynArray[address, 1024])


@deploy
def __init__(board: address, teacher_name: String[MAX_NAME]):
    assert len(teacher_name) > 0, "the teacher needs a display name too"
    self.teacher = msg.sender
    self.board = board
    # The teacher's name is taken from the start: no student can appear as the teacher.
    self.names[msg.sender] = teacher_name
    self.name_taken[keccak256(teacher_name)] = msg.sender


@external
def join(name: String[MAX_NAME]):
    """
    @notice Join the class under a display name (1 to 40 characters, not taken).
    """
    assert len(name) > 0, "choose a display name (1 to 40 characters)"
    assert msg.sender != self.teacher, "the teacher runs the class and does not join it"
    assert len(self.names[msg.sender]) == 0, "this key already joined the class"
    key: bytes32 = keccak256(name)
    assert self.name_taken[key] == empty(address), "that display name is taken: choose another"
    assert len(self.students) < 1024, "the class is full (1024 students)"
    self.names[msg.sender] = name
    self.name_taken[key] = msg.sender
    self.students.append(msg.sender)
    log Joined(student=msg.sender, name=name)


@external
def set_market(market: address):
    """
    @notice The teacher points the class at its market contract.
    """
    assert msg.sender == self.teacher, "only the teacher sets the class's market"
    assert market.is_contract, "the market must be a deployed contract"
    self.market = market
    log MarketSet(market=market)


@view
@external
def class_size() -> uint256:
    """
    @notice How many students joined.
    """
    return len(self.students)
