"""Checkers for chapter 3: ledger immutability."""

from __future__ import annotations

from collections.abc import Callable

from omteach.exercises import Feedback, call_student, correct, not_yet_a_function, wrong
from omteach.exercises import not_answered as no_answer_yet
from omteach.ledger import Block, Ledger, Network, example_ledger, example_network

CHECK_DIFFICULTY = 4  # the checkers mine small ledgers: a few attempts per block, instant


# -- exercise 1: find the first broken block ---------------------------------------------------


GENESIS_LINK_HINT = (
    "Block 0 checks out here. Which block did you compare block 0's prev_hash with? In Python, "
    "blocks[i - 1] at i = 0 is blocks[-1], the newest block, and the genesis block has no block "
    "before it.")


def broken_ledgers() -> list[tuple[str, list[Block], int | None, str]]:
    """The cases exercise 1 is checked on: (what was done, blocks, right answer, hint)."""
    cases: list[tuple[str, list[Block], int | None, str]] = []
    honest = example_ledger(CHECK_DIFFICULTY)
    cases.append(("an untouched ledger", list(honest.blocks), None,
                  "When every block checks out there is no broken block: return None."))
    edited = honest.copy()
    edited.tamper(2, 1, "AI Inc. uses Joe's data for face-recognition-v2")
    cases.append(("a transaction of block 2 edited", list(edited.blocks), 2,
                  "Recompute each block's hash with block_hash(block) and compare it with the "
                  "hash the block stores (block.hash)."))
    edited.rewrite_from(2, blocks=1)
    cases.append(("block 2 edited, then block 2 alone re-mined", list(edited.blocks), 3,
                  "Block 2 now checks out by itself; but does block 3's prev_hash still equal the "
                  "hash of block 2? Check every block's link to the block before it."))
    genesis = honest.copy()
    genesis.tamper(0, 0, "genesis: AI Inc. owns everything")
    cases.append(("the genesis block edited", list(genesis.blocks), 0,
                  "Start checking at block 0: the genesis block has a hash too."))
    last = honest.copy()
    last.tamper(len(last) - 1, 0, "Joe revokes nothing")
    cases.append(("the newest block edited", list(last.blocks), len(last) - 1,
                  "Check every block up to and including the newest one."))
    return cases


def check_find_first_broken(find_first_broken: Callable[[list[Block]], int | None] | None
                            ) -> Feedback:
    """Exercise 1: a function from a list of blocks to the first broken block's index, or None."""
    hint = ("The exercise names two ways a block can be broken. Which blocks must you look at, "
            "in which order, and what do you return when none of them is broken?")
    if (verdict := not_yet_a_function(find_first_broken, "find_first_broken", hint)) is not None:
        return verdict
    cases = broken_ledgers()
    for what, blocks, expected, case_hint in cases:
        got, error = call_student(find_first_broken, list(blocks))
        if error:
            return wrong(f"on {what}, your function raised {error}.", hint)
        if got is not None and (isinstance(got, bool) or not isinstance(got, int)):
            return wrong(f"on {what}, your function returned {got!r}: return a block index "
                         "(a whole number) or None.", hint)
        if got != expected:
            said = "None (nothing broken)" if got is None else f"block {got}"
            right = "no block is broken" if expected is None else "a different block is broken"
            if got == 0:  # block 0 is fine here: often its link was checked against blocks[-1]
                case_hint = f"{GENESIS_LINK_HINT} {case_hint}"
            return wrong(f"on {what}, your function says {said}, but {right}.", case_hint)
    return correct(f"right on all {len(cases)} ledgers, including the case where one block "
                   "checks out by itself but its successor no longer links to it.")


# -- exercise 2: the expected cost of a rewrite ------------------------------------------------


def check_expected_attempts(expected_attempts: Callable[[int, int], float] | None) -> Feedback:
    """Exercise 2: ``expected_attempts(bits, depth)``, the average attempts to re-mine ``depth``
    blocks at a difficulty of ``bits`` leading zero bits: ``depth * 2 ** bits``."""
    hint = ("A hash is like 256 coin flips. What is the chance that the first `bits` flips all "
            "come up zero? One over that is the average number of tries for one block; then "
            "think about `depth` blocks.")
    if (verdict := not_yet_a_function(expected_attempts, "expected_attempts", hint)) is not None:
        return verdict
    grid = [(bits, depth) for bits in (0, 1, 4, 8, 12, 20) for depth in (1, 2, 5, 10)]
    answers = {}
    for bits, depth in grid:
        got, error = call_student(expected_attempts, bits, depth)
        if error:
            return wrong(f"expected_attempts({bits}, {depth}) raised {error}.", hint)
        if isinstance(got, bool) or not isinstance(got, int | float):
            return wrong(f"expected_attempts({bits}, {depth}) returned {got!r}: return a number.",
                         hint)
        answers[bits, depth] = float(got)

    def matches(formula: Callable[[int, int], float]) -> bool:
        return all(abs(answers[k] - formula(*k)) <= 0.01 * max(1.0, formula(*k)) for k in grid)

    if matches(lambda b, d: d * 2 ** b):
        return correct("depth × 2^bits: each bit halves the chance of success, and every block "
                       "from the edited one to the newest must be mined again, one after another.")
    diagnoses: list[tuple[Callable[[int, int], float], str, str]] = [
        (lambda b, d: 2 ** b, "your answer does not grow with the depth.",
         "That is the cost of one block. Every block after the edited one must be re-mined too."),
        (lambda b, d: d * 16 ** b, "your answer grows 16× per unit of difficulty.",
         "Difficulty here counts zero *bits*, not hex digits: one bit halves the chance, a hex "
         "digit (4 bits) divides it by 16."),
        (lambda b, d: 2 ** (b * d), "your answer multiplies the blocks' costs.",
         "The blocks are mined one after another, so their attempts add up; they do not "
         "multiply."),
        (lambda b, d: d * 2 ** (b - 1), "your answer is half the expected cost.",
         "2^(bits-1) tries give a 50% chance for one block; the *average* number of tries is "
         "2^bits."),
        (lambda b, d: b * d, "your answer grows by a constant amount per bit of difficulty.",
         "Each extra bit doubles the work: the cost grows exponentially with the bits."),
    ]
    for formula, message, diagnosis in diagnoses:
        if matches(formula):
            return wrong(message, diagnosis)
    worst = max(grid, key=lambda k: abs(answers[k] - k[1] * 2 ** k[0]))
    return wrong(f"for bits={worst[0]}, depth={worst[1]} your function gives "
                 f"{answers[worst]:g}; compare with the measured costs in the plot above.", hint)


# -- exercise 3: make the tamper stick -------------------------------------------------------


ATTACKER = "Jack"
ATTACK_BLOCK = 3
ATTACK_TEXT = "AI Inc. pays Jack 1000 wei"


def fresh_network() -> Network:
    """The network of exercise 3: the example ledger on the four machines, small difficulty."""
    return example_network(CHECK_DIFFICULTY)


def check_tamper_sticks(network: Network | None) -> Feedback:
    """Exercise 3: on Jack's machine only, make block 3's first transaction read ATTACK_TEXT and
    make his copy verify again; the checker then shows what the other replicas say."""
    hint = ("Two steps, both on Jack's replica of net = checks.fresh_network(): "
            "net.tamper(...) changes the text (and breaks Jack's copy), net.rewrite_from(...) "
            "re-mines it. Which block must the re-mining start from?")
    if network is None:
        return no_answer_yet(hint)
    if not isinstance(network, Network):
        return wrong(f"pass the network you attacked (a Network), got "
                     f"{type(network).__name__}.", hint)
    original = example_ledger(CHECK_DIFFICULTY)
    if set(network.participants) != {"AI Inc.", "Joe", "Jane", "Jack"}:
        return wrong("this is not the network of the exercise.", hint)
    others = [n for n in network.participants if n != ATTACKER and network.replicas[n] != original]
    if len(others) == 3 and all(network.replicas[n] == network.replicas[others[0]]
                                for n in others):
        return wrong("the other replicas hold a different ledger than the exercise's.",
                     "Start from net = checks.fresh_network(), not from another network.")
    if others:
        return wrong(f"the copies of {', '.join(others)} changed, but only Jack's machine is "
                     "yours.", f"Start again from checks.fresh_network() and change only "
                     f"{ATTACKER}'s replica.")
    mine: Ledger = network.replicas[ATTACKER]
    if len(mine) != len(original):
        return wrong(f"Jack's copy has {len(mine)} blocks, the ledger has {len(original)}.", hint)
    if mine[ATTACK_BLOCK].transactions[0] != ATTACK_TEXT:
        return wrong(f"block {ATTACK_BLOCK}'s first transaction on Jack's machine reads "
                     f"{mine[ATTACK_BLOCK].transactions[0]!r}, not {ATTACK_TEXT!r}.", hint)
    check = mine.verify()
    if not check.ok:
        return wrong(f"Jack's copy does not verify: {check.reason}.",
                     f"Re-mine with net.rewrite_from({ATTACKER!r}, k): k must be the block you "
                     "edited, and every block after it must be re-mined too (the default).")
    verdict = network.consensus()
    if ATTACKER not in verdict.outvoted:  # cannot happen while the other three are untouched
        return wrong("Jack's copy is not outvoted, so the others changed too.", hint)
    return correct(f"Jack's copy verifies on its own, yet {', '.join(verdict.majority)} still "
                   f"outvote it: {verdict.reason(ATTACKER)}. A rewrite on one machine convinces "
                   "nobody else; it takes most of the machines.")
