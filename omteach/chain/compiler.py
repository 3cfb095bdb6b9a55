"""Vyper contracts compiled in-process, kept in memory and on disk: :func:`compile_contract`.

The ``vyper`` package compiles ``contracts/<name>.vy`` in about 0.25 s; the result is kept for
the process (``_COMPILED``) and, for the course's own files, on disk under the hash of the
compiler's version and the source (``~/.cache/omteach``, ``$OMTEACH_CACHE_DIR``), so no chapter's
first run waits for the compiler and an edited contract is compiled again.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from omteach.errors import ChainError, ContractCompileError

_COMPILED: dict[str, CompiledContract] = {}

MAX_CODE_SIZE = 24_576
"""Bytes of code a chain stores for one contract (EIP-170; anvil and py-evm enforce it)."""


@dataclass(frozen=True)
class CompiledContract:
    """A compiled Vyper contract: its ABI, deploy bytecode, storage layout and source."""

    name: str
    source: str
    abi: list[dict]
    bytecode: str
    layout: dict[str, dict]
    source_hash: str


def contracts_dir() -> Path:
    """Where the ``.vy`` files are: ``contracts/`` in a checkout, package data in a wheel."""
    return Path(str(importlib.resources.files("omteach.contracts")))


def contract_source(name: str) -> str:
    """The Vyper source of ``contracts/<name>.vy``."""
    path = contracts_dir() / f"{name}.vy"
    if not path.is_file():
        known = sorted(p.stem for p in contracts_dir().glob("*.vy"))
        raise ChainError(f"no contract named {name!r}; the course has: {', '.join(known)}")
    return path.read_text()


def _source_key(source: str) -> str:
    """SHA-256 of the compiler's version and the source: what a compiled contract is kept under."""
    try:  # the installed distribution's version: what ``vyper.__version__`` reads, without
        # importing the compiler (0.15 s) when the contract is already compiled
        from importlib.metadata import version

        vyper_version = version("vyper")
    except ImportError:
        import vyper

        vyper_version = vyper.__version__
    return hashlib.sha256(f"{vyper_version}\n{source}".encode()).hexdigest()


def compile_cache_dir() -> Path | None:
    """Where compiled contracts are kept between sessions (None: nowhere).

    ``$OMTEACH_CACHE_DIR`` if set (set it empty to keep nothing), else ``omteach/contracts`` in
    the user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``; ``%LOCALAPPDATA%`` on Windows).
    """
    env = os.environ.get("OMTEACH_CACHE_DIR")
    if env is not None:
        return Path(env) / "contracts" if env.strip() else None
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "omteach" / "contracts"


def _cache_file(name: str, key: str, folder: Path | None = None) -> Path | None:
    folder = compile_cache_dir() if folder is None else folder
    return None if folder is None else folder / f"{name}-{key}.json"


def _read_cached(name: str, source: str, key: str) -> CompiledContract | None:
    """A contract compiled in an earlier session from the same source by the same compiler.

    Anything unexpected in the file (cut short, edited, another contract's) means: compile.
    """
    path = _cache_file(name, key)
    if path is None or not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        ok = (isinstance(doc, dict) and doc.get("name") == name and doc.get("source_hash") == key
              and isinstance(doc.get("abi"), list) and isinstance(doc.get("layout"), dict)
              and isinstance(doc.get("bytecode"), str)
              and re.fullmatch(r"0x(?:[0-9a-f]{2})+", doc["bytecode"]) is not None)
    except (OSError, ValueError):
        return None
    if not ok:
        return None
    return CompiledContract(name, source, doc["abi"], doc["bytecode"], doc["layout"], key)


def _write_cached(compiled: CompiledContract, folder: Path | None = None) -> Path | None:
    """Keep a compiled contract for the next session (in ``folder``, by default the cache); a
    cache folder we cannot write is no error (the next session compiles again). Returns the file
    written, or None."""
    path = _cache_file(compiled.name, compiled.source_hash, folder)
    if path is None:
        return None
    doc = {"name": compiled.name, "source_hash": compiled.source_hash, "abi": compiled.abi,
           "bytecode": compiled.bytecode, "layout": compiled.layout}
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a kernel reading meanwhile sees the old file or the new.
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600: a shared cache is read by other users
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return None
    return path


def compile_contract(name: str, source: str | None = None) -> CompiledContract:
    """Compile a contract with the in-process Vyper compiler, cached by the source's SHA-256.

    ``source`` defaults to ``contracts/<name>.vy``; pass your own text to compile an edited copy.
    The course's own contracts are also kept on disk (:func:`compile_cache_dir`), under the hash
    of Vyper's version and the source: compiling ModelMarket takes seconds, every chapter that
    deploys it would pay them again in each fresh kernel.
    """
    given = source is not None
    if source is None:
        source = contract_source(name)
    key = _source_key(source)
    if key in _COMPILED and _COMPILED[key].name == name:
        return _COMPILED[key]
    # Only the files of contracts/ go to disk: an edited copy (an exercise) is compiled afresh,
    # so the cache holds one entry per contract and version of its source, not every attempt.
    file = contracts_dir() / f"{name}.vy"
    ours = not given or (file.is_file() and source == file.read_text())
    compiled = _read_cached(name, source, key) if ours else None
    if compiled is None:
        compiled = _compile(name, source, key)
        if ours:
            _write_cached(compiled)
    _COMPILED[key] = compiled
    return compiled


def compile_all() -> list[CompiledContract]:
    """Compile every contract of ``contracts/`` (the set-up does it once, so that no chapter's
    first run waits for the compiler)."""
    return [compile_contract(path.stem) for path in sorted(contracts_dir().glob("*.vy"))]


def export_compiled(cache_root: Path) -> list[Path]:
    """Every contract of ``contracts/``, compiled (from this user's cache where it holds them),
    written where ``OMTEACH_CACHE_DIR=cache_root`` reads them: a cache other accounts share.

    The class hub makes one, root-owned and read-only for students, so that no student's kernel
    compiles ModelMarket again (seconds of CPU each, all at once when a class opens chapter 6);
    a student's own edit of a contract is compiled afresh as before (and not kept there).
    """
    folder = Path(cache_root) / "contracts"
    written = []
    for compiled in compile_all():
        path = _write_cached(compiled, folder)
        if path is None:
            raise ChainError(f"cannot write the compiled {compiled.name} into {folder}")
        written.append(path)
    return written


def _compile(name: str, source: str, key: str) -> CompiledContract:
    from vyper.compiler import compile_code
    from vyper.exceptions import VyperException
    from vyper.warnings import ContractSizeLimit

    try:
        with warnings.catch_warnings():  # the size is checked below, with what to do
            warnings.simplefilter("ignore", ContractSizeLimit)
            out = compile_code(source, contract_path=f"{name}.vy",
                               output_formats=["abi", "bytecode", "bytecode_runtime", "layout"])
    except VyperException as exc:
        raise ContractCompileError(f"{name}.vy does not compile: {_vyper_message(exc)}") from None
    size = len(out["bytecode_runtime"].removeprefix("0x")) // 2
    if size > MAX_CODE_SIZE:
        # A chain refuses to store it (EIP-170): the deployment would fail deep inside the
        # node with "out of gas", naming nothing.
        raise ContractCompileError(
            f"{name}.vy compiles to {size:,} bytes of code, more than the {MAX_CODE_SIZE:,} a "
            "chain stores (EIP-170): remove or merge functions (each external function and "
            "public variable adds code), or add '# pragma optimize codesize' at its top")
    layout = dict(out["layout"].get("storage_layout", {}))
    return CompiledContract(name, source, out["abi"], out["bytecode"], layout, key)


def share_compiled(compiled: CompiledContract) -> None:
    """Use a contract another process compiled (a spawned rehearsal student: no recompiling).

    Kept under the hash of ``vyper``'s version and the source, so it only stands for the same
    source compiled by the same compiler.
    """
    key = _source_key(compiled.source)
    if key != compiled.source_hash:
        raise ContractCompileError(f"{compiled.name} was compiled by another Vyper version or "
                                   "from another source: compile it here")
    _COMPILED[key] = compiled


def _vyper_message(exc: Exception) -> str:
    # Vyper's own text names the line and shows the source around it: keep all of it.
    return str(exc).strip() or type(exc).__name__
