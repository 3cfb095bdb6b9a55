"""The architecture the README draws, checked: layers import downwards only, and above the
protocol nobody calls the market contract or spells a round's phase as a string."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from omteach.protocol.round import Phase, Seat

PACKAGE = Path(__file__).resolve().parents[1] / "omteach"
RANK = {"errors": 0, "story": 0, "text": 0, "waiting": 0,
        "chain": 1, "crypto": 1, "ledger": 1,
        "learning": 2, "protocol": 3, "classroom": 4, "ui": 5, "exercises": 5, "hub": 5}
"""The README's layers, bottom up. The bottom layer's leaves may use each other (no cycle there),
and a chapter's checkers may use its widgets; every other import points to a lower rank. The
class hub sits at the top beside the chapters: it starts the classroom node, nothing imports it."""
ABOVE_PROTOCOL = ("classroom", "ui", "exercises", "hub")


def _top(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """The omteach layers ``path`` imports, lazy imports inside functions included."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "omteach" and len(parts) > 1:
                found.add(parts[1])
    return found


LAYERED = sorted(p for p in PACKAGE.rglob("*.py") if _top(p) in RANK)


@pytest.mark.parametrize("path", LAYERED, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_layers_import_downwards_only(path):
    top = _top(path)
    upward = {m for m in _imports(path) - {top} if m in RANK and RANK[m] >= RANK[top]
              and RANK[top] not in (0, 5)}
    assert not upward, f"{path.name} ({top}) imports {sorted(upward)}, not below it"


def test_the_layer_table_knows_every_package():
    tops = {_top(p) for p in PACKAGE.rglob("*.py")}
    # deferred: run by a .pth line at every start of .venv's Python, before any layer
    tools = {"__init__", "__main__", "doctor", "links", "setup_tools", "contracts", "deferred"}
    assert tops - tools == set(RANK)


# -- the round in one place ---------------------------------------------------------------------

ROUND_WORDS = {p.value for p in Phase} | {s.value for s in Seat}


def _phase_strings(path: Path) -> list[str]:
    """Lines where a round's phase or seat is compared with, or set to, a bare string."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            consts = [c for o in operands for c in ([o] if isinstance(o, ast.Constant)
                      else o.elts if isinstance(o, ast.Tuple | ast.List | ast.Set) else [])]
        elif isinstance(node, ast.Assign):
            consts = [node.value]
        else:
            continue
        out += [f"{path.name}:{node.lineno}: {c.value!r}" for c in consts
                if isinstance(c, ast.Constant) and c.value in ROUND_WORDS]
    return out


ROUND_DRIVERS = sorted([p for layer in ABOVE_PROTOCOL for p in (PACKAGE / layer).rglob("*.py")]
                       + [PACKAGE / "protocol" / "run.py"])


def test_no_round_driver_spells_a_phase_as_a_string():
    found = [hit for path in ROUND_DRIVERS for hit in _phase_strings(path)]
    assert found == []


def test_the_phase_check_finds_a_string_comparison(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('if state == "recovering":\n    seat = "dropped"\nok = line in ("left",)\n')
    assert len(_phase_strings(bad)) == 3


MARKET_CALL = re.compile(r"\.contract\.(call|transact)\(|\.functions\.|contract\.call\(\"spec")


def test_no_module_above_the_protocol_calls_the_market_contract():
    found = [f"{p.relative_to(PACKAGE)}:{n}" for layer in ABOVE_PROTOCOL
             for p in (PACKAGE / layer).rglob("*.py")
             for n, line in enumerate(p.read_text().splitlines(), 1) if MARKET_CALL.search(line)]
    assert found == []
