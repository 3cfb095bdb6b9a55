# pragma version ~=0.4.3
"""
@title A roster with no name rules (for the tests): the readers must survive whatever it holds
@notice The Classroom contract's reading interface, taking any name: as a hostile contract at
        a typed address would, or an older Classroom did.
"""

teacher: public(address)
names: public(HashMap[address, String[40]])
students: public(DynArray[address, 1024])


@deploy
def __init__(teacher_name: String[40]):
    self.teacher = msg.sender
    self.names[msg.sender] = teacher_name


@external
def join(name: String[40]):
    self.names[msg.sender] = name
    self.students.append(msg.sender)


@view
@external
def class_size() -> uint256:
    return len(self.students)
