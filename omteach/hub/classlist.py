"""The teacher's class list: a CSV of user names, one student a row.

The names become system accounts (one Jupyter server per student, as that user) and the hub's
``allowed_users``, so they must be valid, unique Linux user names that do not already belong to
someone else on the machine (a row ``root`` must never get root's server).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from omteach.errors import HubError

NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}")
"""A portable Linux user name, at most 31 characters (names are lower-cased first, as JupyterHub
lower-cases the name a student types at login)."""
HEADERS = {"username", "user", "name", "login"}
"""A first row with one of these in the first column is a header, not a student."""


def read_class_list(path: str | Path) -> list[str]:
    """The user names in the CSV at ``path`` (first column; a header row is skipped).

    Blank lines and ``#`` comments are skipped. Raises :class:`HubError` with the row number
    for a name that is not a portable user name, a duplicate, or an empty list.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's export may carry a BOM
    except OSError as exc:
        raise HubError(f"cannot read the class list {path}: {exc.strerror}; give a CSV with one "
                       "user name a row (make hub CLASS_LIST=students.csv)") from None
    names: list[str] = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not row[0].strip() or row[0].strip().startswith("#"):
            continue
        name = row[0].strip().lower()  # JupyterHub lower-cases what students type at login
        if number == 1 and name.lower() in HEADERS:
            continue
        if not NAME.fullmatch(name):
            raise HubError(f"{path}, row {number}: {name!r} is not a user name the hub can "
                           "give a system account: use lower-case letters, digits, '-' or '_', "
                           "starting with a letter, at most 31 characters")
        if name in names:
            raise HubError(f"{path}, row {number}: {name!r} is listed twice; each student once")
        names.append(name)
    if not names:
        raise HubError(f"{path} lists no student: one user name a row (first column)")
    return names
