"""System accounts for the class: one per student and one for the teacher, made by the hub.

Each account's home is ``HOMES/<name>`` with mode 0700: a student cannot list or read a
classmate's work or the teacher's course (which holds the answer key). Accounts the hub makes
carry :data:`MARK` in their comment field; a name that already belongs to another account on the
machine (``root``, ``daemon``, a colleague's login) is refused rather than handed a server.

Each student's server (and so every kernel it starts) can also get a memory limit of its own: a
memory cgroup made under the hub's own (:func:`memory_cgroup`), which the kernel enforces by
killing a process of that student's, never a classmate's, when the limit is reached. Where no
memory cgroup can be made (no writable cgroup; cgroup v2 without the memory controller delegated
to the hub) there is no limit, and :func:`memory_cgroup` says so by returning None.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from omteach.errors import HubError

MARK = "omteach-hub"
"""The GECOS field of every account the hub made (and so may use and remove)."""


def is_hub_account(name: str) -> bool:
    """Whether ``name`` is a system account this hub (or an earlier one) made."""
    try:
        return pwd.getpwnam(name).pw_gecos == MARK
    except KeyError:
        return False


def ensure_account(name: str, homes: Path) -> pwd.struct_passwd:
    """The account ``name``, made with a private home under ``homes`` if it does not exist."""
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        account = None
    if account is None:
        home = homes / name
        result = subprocess.run(
            ["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash",
             "--comment", MARK, "--user-group", name], capture_output=True, text=True)
        if result.returncode != 0 and not is_hub_account(name):
            raise HubError(f"could not make the system account {name!r}: "
                           f"{result.stderr.strip()} (the hub runs as root)")
        account = pwd.getpwnam(name)
    if account.pw_gecos != MARK:
        raise HubError(f"{name!r} is already an account on this machine that the hub did not "
                       "make: rename the student in the class list (e.g. add a prefix)")
    os.chmod(account.pw_dir, 0o700)  # useradd's mode depends on login.defs: set it here
    return account


def remove_account(name: str) -> None:
    """Remove an account the hub made, its home and its processes; others are left alone."""
    if not is_hub_account(name):
        return
    kill_processes_of(name)  # a server or kernel the hub left behind
    subprocess.run(["userdel", "--remove", name], capture_output=True)


def kill_processes_of(name: str, *, wait: float = 5.0) -> None:
    """SIGKILL every process of an account the hub made (others are left alone), and wait up to
    ``wait`` s until they are gone: ``userdel`` refuses an account a process still runs as."""
    if not is_hub_account(name):
        return
    uid = pwd.getpwnam(name).pw_uid
    for pid in processes_of(uid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait
    while any(_running(pid) for pid in processes_of(uid)) and time.monotonic() < deadline:
        time.sleep(0.05)


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, dead and waiting for its parent, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def processes_of(uid: int) -> list[int]:
    """The ids of the processes running as ``uid`` (read from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except FileNotFoundError:  # it ended while we looked
                continue
    return pids


CGROUP_ROOT = Path("/sys/fs/cgroup")


def _own_memory_cgroup() -> tuple[Path, str] | None:
    """(folder of this process's memory cgroup, limit file's name), v1 or v2, or None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:  # v1: "4:memory:/path"
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(",") and (CGROUP_ROOT / "memory").is_dir():
            return CGROUP_ROOT / "memory" / path.lstrip("/"), "memory.limit_in_bytes"
    for line in lines:  # v2, the unified tree: "0::/path"
        if line.startswith("0::") and (CGROUP_ROOT / "cgroup.controllers").is_file():
            return CGROUP_ROOT / line[3:].lstrip("/"), "memory.max"
    return None


def memory_cgroup(name: str, limit_bytes: int) -> Path | None:
    """A memory cgroup ``name`` under the hub's own, limited to ``limit_bytes`` (swap included
    where the kernel counts it); its ``cgroup.procs`` file, to move a process into; or None
    when this machine gives the hub no memory cgroup to divide."""
    own = _own_memory_cgroup()
    if own is None:
        return None
    parent, limit_file = own
    folder = parent / name
    try:
        folder.mkdir(exist_ok=True)
        if not (folder / limit_file).exists():  # v2 without the memory controller delegated
            folder.rmdir()
            return None
        (folder / limit_file).write_text(str(limit_bytes))
        if (folder / "memory.memsw.limit_in_bytes").exists():  # v1 with swap accounting
            (folder / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
        elif (folder / "memory.swap.max").exists():
            (folder / "memory.swap.max").write_text("0")
    except OSError:
        return None
    return folder / "cgroup.procs"


def remove_memory_cgroup(name: str) -> None:
    """Remove the memory cgroup ``name`` (once its processes are gone; otherwise it stays)."""
    own = _own_memory_cgroup()
    if own is not None:
        try:
            (own[0] / name).rmdir()
        except OSError:
            pass
