# pragma version ~=0.4.3
"""
@title The roster of a live class: who joined, under which display name, and where things are
@notice DATA  - the teacher (who deployed it), the blob board and the market of this class;
        STATE - each student's display name, by the address of the key on their own machine
                (the teacher's name is reserved at deploy), and the class's size;
        CODE  - a student joins once, by a transaction signed with their own key (so nobody can
                join as someone else's address), from that key itself (not from a contract,
                unless the teacher approved it), while there is room; display names follow
                the rules below and no two look alike; only the teacher sets the size, approves
                contracts, removes a student, points the class at its market, and announces
                when the next round opens (the pause between rounds is the teacher's: a
                waiting student reads it here and counts down to it).
        Students find everything from this one address: it is what the teacher's node prints.

        Why the name rules are a byte alphabet and a fold, checked here: a rule a client applies
        can be skipped by a student who sends raw calldata, so what protects classmates must be
        checked on chain. Full Unicode (NFKC, TR39 confusable skeletons) needs tables far too
        large for a contract, and a skeleton hash computed by the client cannot be verified here.
        So the contract accepts one script with no invisible characters: ASCII letters and
        digits, accented Latin letters (U+00C0-U+017F, minus the look-alikes x, /, dotless i,
        kra, long s and 'n), single spaces between words and the marks - ' . ; no control,
        format, zero-width, bidirectional or combining character can get in, and nothing that
        is not UTF-8. Uniqueness is on a fold of the name (name_key) that mirrors TR39's
        skeleton for this alphabet: case folded, I l i 1 alike, O o 0 alike, rn = m, vv = w,
        cl = d, separators ignored. The client (omteach.classroom.names) normalizes (NFC,
        spaces) and explains a refusal before a transaction is sent.
"""

MAX_NAME: constant(uint256) = 40
MAX_CLASS: constant(uint256) = 1024

event Joined:
    student: indexed(address)
    name: String[MAX_NAME]

event Removed:
    student: indexed(address)

event MarketSet:
    market: indexed(address)

event RoundAnnounced:
    opens_at: uint256
    pause: uint256

teacher: public(address)
board: public(address)
market: public(address)
names: public(HashMap[address, String[MAX_NAME]])
name_taken: public(HashMap[bytes32, address])   # name_key(name) -> who took it
students: public(DynArray[address, MAX_CLASS])
size: public(uint256)                           # places in the class (the teacher sets it)
approved: public(HashMap[address, bool])        # contracts the teacher lets join
removed: public(HashMap[address, bool])         # keys the teacher removed: they do not rejoin
next_round_at: public(uint256)                  # chain time the next round opens (0: not said)
pause: public(uint256)                          # seconds between two rounds, as last announced

MAX_PAUSE: constant(uint256) = 3600


@deploy
def __init__(board: address, teacher_name: String[MAX_NAME], size: uint256):
    assert len(teacher_name) > 0, "the teacher needs a display name too"
    assert size > 0 and size <= MAX_CLASS, "a class has 1 to 1024 places"
    self.teacher = msg.sender
    self.board = board
    self.size = size
    # The teacher's name (and every name that looks like it) is taken from the start: no
    # student can appear as the teacher.
    self.names[msg.sender] = teacher_name
    self.name_taken[self._name_key(teacher_name)] = msg.sender


@internal
@pure
def _byte(raw: Bytes[MAX_NAME], i: uint256) -> uint256:
    return convert(convert(slice(raw, i, 1), bytes1), uint256)


@internal
@pure
def _name_key(name: String[MAX_NAME]) -> bytes32:
    """
    @dev Checks the name's bytes (reverting with the rule it breaks) and returns its fold.
    """
    n: uint256 = len(name)
    assert n > 0, "choose a display name (1 to 40 characters)"
    raw: Bytes[MAX_NAME] = convert(name, Bytes[MAX_NAME])
    assert self._byte(raw, 0) != 32 and self._byte(raw, n - 1) != 32, \
        "a display name does not start or end with a space"
    folded: DynArray[uint256, MAX_NAME] = []
    letters: uint256 = 0
    lead: uint256 = 0  # the first byte of a two-byte letter, while waiting for the second
    previous: uint256 = 0
    for i: uint256 in range(n, bound=MAX_NAME):
        b: uint256 = self._byte(raw, i)
        if lead != 0:
            assert b >= 128 and b < 192, "a display name must be UTF-8 text"
            cp: uint256 = ((lead & 31) << 6) | (b & 63)
            lead = 0
            # Look-alikes of ASCII letters and signs in this range: refused outright.
            assert cp != 215 and cp != 247 and cp != 305 and cp != 312 and cp != 329 \
                and cp != 383, "use Latin letters, digits, single spaces and - ' . in a name"
            if cp >= 192 and cp <= 222:  # À..Þ -> à..þ (× was refused above)
                cp += 32
            elif cp == 376:  # Ÿ -> ÿ
                cp = 255
            elif (cp >= 256 and cp <= 311) or (cp >= 330 and cp <= 375):
                cp = cp | 1  # Ā ā, ..., Ŋ ŋ, ...: capital even, small odd
            elif (cp >= 313 and cp <= 328) or (cp >= 377 and cp <= 382):
                cp = cp + (cp & 1)  # Ĺ ĺ, ..., Ź ź, ...: capital odd, small even
            folded.append(cp)
            letters += 1
            previous = b
            continue
        if b >= 195 and b <= 197:  # 0xC3..0xC5: U+00C0..U+017F, two bytes
            lead = b
            previous = b
            continue
        if b == 32 or b == 45 or b == 39 or b == 46:  # space - ' . : ignored by the fold
            assert not (b == 32 and previous == 32), "a display name has no two spaces in a row"
            previous = b
            continue
        c: uint256 = b
        if c >= 65 and c <= 90:  # A..Z -> a..z
            c += 32
        is_letter: bool = c >= 97 and c <= 122
        assert is_letter or (c >= 48 and c <= 57), \
            "use Latin letters, digits, single spaces and - ' . in a name"
        if is_letter:
            letters += 1
        if c == 105 or c == 49:  # i 1 -> l (I was lowered to i)
            c = 108
        elif c == 48:  # 0 -> o
            c = 111
        last: uint256 = 0
        if len(folded) > 0:
            last = folded[len(folded) - 1]
        if (last == 114 and c == 110) or (last == 118 and c == 118) or \
                (last == 99 and c == 108):  # rn -> m, vv -> w, cl -> d
            folded.pop()
            if c == 110:
                c = 109
            elif c == 118:
                c = 119
            else:
                c = 100
        folded.append(c)
        previous = b
    assert lead == 0, "a display name must be UTF-8 text"
    assert letters > 0, "a display name needs at least one letter"
    return keccak256(abi_encode(folded))


@view
@external
def name_key(name: String[MAX_NAME]) -> bytes32:
    """
    @notice The fold two names must not share, or the rule the name breaks (as a revert).
    """
    return self._name_key(name)


@external
def join(name: String[MAX_NAME]):
    """
    @notice Join the class under a display name (see the rules above), from your own key.
    """
    key: bytes32 = self._name_key(name)
    assert msg.sender != self.teacher, "the teacher runs the class and does not join it"
    assert tx.origin == msg.sender or self.approved[msg.sender], \
        "join with your own key, not from a contract (or ask the teacher to approve it)"
    assert not self.removed[msg.sender], "the teacher removed this key from the class"
    assert len(self.names[msg.sender]) == 0, "this key already joined the class"
    assert self.name_taken[key] == empty(address), \
        "that display name is taken, or looks like one that is: choose another"
    assert len(self.students) < self.size, "the class is full: ask the teacher to make room"
    self.names[msg.sender] = name
    self.name_taken[key] = msg.sender
    self.students.append(msg.sender)
    log Joined(student=msg.sender, name=name)


@external
def set_size(size: uint256):
    """
    @notice The teacher sets how many places the class has (not fewer than have joined).
    """
    assert msg.sender == self.teacher, "only the teacher sets the class's size"
    assert size >= len(self.students) and size > 0, \
        "the class cannot be smaller than the students who joined"
    assert size <= MAX_CLASS, "a class has 1 to 1024 places"
    self.size = size


@external
def approve(who: address):
    """
    @notice The teacher lets a contract (e.g. a student's smart wallet) join the class.
    """
    assert msg.sender == self.teacher, "only the teacher approves a contract"
    self.approved[who] = True


@external
def remove(student: address):
    """
    @notice The teacher removes a student (e.g. a key that squats places): their place and
            name are free again, and that key cannot join again.
    """
    assert msg.sender == self.teacher, "only the teacher removes a student"
    name: String[MAX_NAME] = self.names[student]
    assert len(name) > 0 and student != self.teacher, "that address is not a student"
    # A name already on chain was checked when it joined; its key is recomputed to free it.
    self.name_taken[self._name_key(name)] = empty(address)
    self.names[student] = ""
    self.removed[student] = True
    count: uint256 = len(self.students)
    for i: uint256 in range(count, bound=MAX_CLASS):
        if self.students[i] == student:
            self.students[i] = self.students[count - 1]  # order is not kept: the last moves up
            self.students.pop()
            break
    log Removed(student=student)


@external
def set_market(market: address):
    """
    @notice The teacher points the class at its market contract.
    """
    assert msg.sender == self.teacher, "only the teacher sets the class's market"
    assert market.is_contract, "the market must be a deployed contract"
    self.market = market
    log MarketSet(market=market)


@external
def announce_round(opens_in: uint256, pause: uint256):
    """
    @notice The teacher says when the next round opens (``opens_in`` seconds from this block;
            0: now) and how long the pause between two rounds is: a student waiting between
            rounds counts down to ``next_round_at``, and one who arrives mid-round knows the
            next round opens ``pause`` seconds after this one closes.
    """
    assert msg.sender == self.teacher, "only the teacher announces the next round"
    assert opens_in <= MAX_PAUSE and pause <= MAX_PAUSE, \
        "a pause between rounds is 0 to 3600 seconds"
    self.next_round_at = block.timestamp + opens_in
    self.pause = pause
    log RoundAnnounced(opens_at=block.timestamp + opens_in, pause=pause)


@view
@external
def class_size() -> uint256:
    """
    @notice How many students joined.
    """
    return len(self.students)
