"""The course's launch links (Binder, Colab, the ``pip install`` line) and the one fact they
derive from: the repository's address, ``[project.urls] Repository`` in ``pyproject.toml``.

``python -m omteach links OWNER/NAME`` (or with no argument: the ``origin`` remote) records a new
address there and rewrites every link that names the recorded one, in place, touching nothing
else: a notebook's JSON is edited as text, so its other cells and its outputs stay byte for byte
and it need not be re-executed. Running it again with the same address changes nothing.

Standard library only, like the set-up: a teacher may run it in a fresh clone.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from omteach.errors import RepositoryAddressError

ROOT = Path(__file__).resolve().parent.parent
#: Where the links live: every file the command reads (globs under the checkout).
LINKED_FILES = ("pyproject.toml", "README.md", "docs/*.md", "binder/*", "notebooks/*.ipynb",
                "source/course/*.ipynb", "source/course/*.md")

# GitHub's rules: an owner is 1-39 letters, digits and single inner hyphens; a repository name is
# up to 100 letters, digits, '.', '-', '_' ('.' and '..' are not names).
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
_NAME = r"[A-Za-z0-9._-]{1,100}"
_SLUG = re.compile(rf"(?P<owner>{_OWNER})/(?P<name>{_NAME})")
# The forms a remote takes: https://github.com/o/n(.git), git@github.com:o/n.git,
# ssh://git@github.com/o/n.git.
_REMOTE = re.compile(r"(?:https?://(?:www\.)?github\.com/|(?:ssh://)?git@github\.com[:/])"
                     r"(?P<slug>[^/]+/[^/]+?)/?$")
# A link names the repository right after one of these prefixes.
_PREFIXES = ("https://github.com/", "https://mybinder.org/v2/gh/",
             "https://colab.research.google.com/github/")


def parse_slug(text: str) -> str:
    """``OWNER/NAME`` from ``text``: a slug, or a GitHub address (https or ssh, ``.git`` or not).

    Raises :class:`RepositoryAddressError` saying what is wrong with anything else.
    """
    given = text.strip()
    match = _REMOTE.match(given)
    slug = match.group("slug") if match else given
    if slug.endswith(".git"):
        slug = slug[: -len(".git")]
    if not match and ("://" in given or given.startswith("git@") or "github.com" in given):
        raise RepositoryAddressError(
            f"{given!r} is not the address of a GitHub repository (https://github.com/OWNER/NAME)"
            ": Binder and Colab open repositories on GitHub; publish the course there and give "
            "its OWNER/NAME")
    parsed = _SLUG.fullmatch(slug)
    if not parsed or parsed.group("name") in (".", ".."):
        raise RepositoryAddressError(
            f"{given!r} is not a GitHub repository: give it as OWNER/NAME (e.g. ada/omteach), "
            "where OWNER is 1-39 letters, digits or single inner hyphens and NAME is letters, "
            "digits, '.', '-' or '_'")
    return slug


def recorded_slug(root: Path = ROOT) -> str:
    """The address the links are made for: ``[project.urls] Repository`` in pyproject.toml."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    url = project.get("urls", {}).get("Repository")
    if not url:
        raise RepositoryAddressError(
            "pyproject.toml has no [project.urls] Repository: add the line "
            'Repository = "https://github.com/OWNER/NAME" and run this again')
    return parse_slug(url)


def origin_slug(root: Path = ROOT) -> str:
    """``OWNER/NAME`` of the checkout's ``origin`` remote (``git remote get-url origin``)."""
    try:
        out = subprocess.run(["git", "remote", "get-url", "origin"], cwd=root,
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RepositoryAddressError(
            f"could not ask git for the origin remote ({exc}): give the address as OWNER/NAME"
        ) from exc
    if out.returncode != 0:
        raise RepositoryAddressError(
            "this checkout has no 'origin' remote: give the address, e.g. "
            "python -m omteach links OWNER/NAME")
    return parse_slug(out.stdout)


def _link_pattern(slug: str) -> re.Pattern[str]:
    """A link naming ``slug``, possibly followed by ``.git``, but not a longer name (``slug-2``,
    ``slug.io``)."""
    prefixes = "|".join(re.escape(p) for p in _PREFIXES)
    return re.compile(rf"(?P<prefix>{prefixes}){re.escape(slug)}"
                      r"(?![A-Za-z0-9_-]|\.(?!git\b)[A-Za-z0-9_-])")


def find_links(text: str, slug: str) -> list[str]:
    """Every launch link in ``text`` that names ``slug``, up to the end of the slug."""
    return [m.group(0) for m in _link_pattern(slug).finditer(text)]


def _replace(text: str, old: str, new: str) -> str:
    return _link_pattern(old).sub(lambda m: m.group("prefix") + new, text)


@dataclass(frozen=True)
class Change:
    """One rewritten file: its path (relative to the checkout), the links it had, and for a
    notebook the ids (or indices) of the cells whose source changed."""

    path: str
    links: int
    cells: tuple[str, ...] = ()

    def line(self) -> str:
        """How the command reports it."""
        where = f" (cells: {', '.join(self.cells)})" if self.cells else ""
        return f"  {self.path}: {self.links} link{'s' * (self.links != 1)}{where}"


def _changed_cells(before: str, after: str) -> tuple[str, ...]:
    old, new = json.loads(before)["cells"], json.loads(after)["cells"]
    return tuple(str(b.get("id", i)) for i, (a, b) in enumerate(zip(old, new, strict=True))
                 if a != b)


def linked_files(root: Path = ROOT) -> Iterable[Path]:
    """The files that may hold launch links (:data:`LINKED_FILES`), in a stable order."""
    for pattern in LINKED_FILES:
        yield from sorted(p for p in root.glob(pattern) if p.is_file())


def rewrite_links(new: str, root: Path = ROOT, *, dry_run: bool = False) -> list[Change]:
    """Point every launch link in the checkout at ``new`` (``OWNER/NAME`` or a GitHub address)
    and record it in pyproject.toml; return what changed (nothing when it already pointed there).

    Raises :class:`RepositoryAddressError` for an address that is not a GitHub repository.
    """
    new = parse_slug(new)
    old = recorded_slug(root)
    changes, updates = [], {}
    for path in linked_files(root):
        text = path.read_bytes().decode("utf-8")  # bytes: line endings stay as they are
        count = len(find_links(text, old)) if old != new else 0
        if not count:
            continue
        updated = _replace(text, old, new)
        cells = _changed_cells(text, updated) if path.suffix == ".ipynb" else ()
        changes.append(Change(path.relative_to(root).as_posix(), count, cells))
        updates[path] = updated
    if not dry_run:
        # pyproject.toml last: were a write to fail, the recorded address is still the old one,
        # so running the command again finds and rewrites the links left behind.
        for path in sorted(updates, key=lambda p: p.name == "pyproject.toml"):
            path.write_bytes(updates[path].encode("utf-8"))
    return changes


def run_links(address: str | None, root: Path = ROOT, *, dry_run: bool = False,
              out=print) -> int:
    """``python -m omteach links [OWNER/NAME]``: rewrite the links and say what changed."""
    new = parse_slug(address) if address is not None else origin_slug(root)
    old = recorded_slug(root)
    changes = rewrite_links(new, root, dry_run=dry_run)
    if not changes:
        out(f"every launch link already points at github.com/{new}: nothing to change")
        return 0
    verb = "would point" if dry_run else "now point"
    out(f"launch links {verb} at github.com/{new} (were github.com/{old}):")
    for change in changes:
        out(change.line())
    if any(c.cells for c in changes):
        out("notebooks were edited as text (outputs kept): no need to re-execute them")
    if not dry_run:
        out("commit these files and push: the Binder badge and Colab links work once GitHub "
            "has them")
    return 0
