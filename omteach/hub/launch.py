"""``make hub`` / ``python -m omteach hub``: a whole class served from one machine.

What starts (as root, since every student gets a system account of their own)::

    browser -> configurable-http-proxy (ADDRESS:PORT) -> JupyterHub (127.0.0.1)
                 |-> a Jupyter server per student, as that student (LocalProcessSpawner)
    services: the classroom node (anvil + gate) in its own network namespace, the idle culler

The course is installed once, in this checkout's ``.venv``, and every server and kernel runs
from it (the ``omteach`` kernel). The teacher's course folder (the instructor sources with the
answer key, the gradebook) is a copy in the teacher's private home; students get chapters
through nbgrader's exchange. The instructor sources and the tests in this checkout are made
owner-only, since every student's process can read the shared environment's folder.
"""

from __future__ import annotations

import csv
import dbm
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omteach.errors import HubError
from omteach.hub.accounts import (
    ensure_account,
    memory_cgroup,
    remove_account,
    remove_memory_cgroup,
)
from omteach.hub.classlist import read_class_list
from omteach.hub.netns import NodeNamespace
from omteach.hub.service import JOIN_FILE, make_pass_secret
from omteach.setup_tools import ROOT

COURSE_ID = "omteach"
PROXY_VERSION = "5.3.0"
"""configurable-http-proxy, from npm (the Makefile's setup-hub installs it into .venv/npm-proxy)."""
CONFIG = Path(__file__).with_name("jupyterhub_config.py")
PRIVATE_IN_CHECKOUT = ("source", "tests", "build")
"""Folders of the checkout that hold solutions or hidden tests: owner-only on a hub."""
STUDENT_CHAPTERS = ("01_homomorphic_addition", "02_smart_contracts", "03_ledger_immutability",
                    "04_training_round", "05_attacks_and_defences", "06_classroom_round")


def assignment_id(chapter: str) -> str:
    """nbgrader's assignment name for a chapter: ``02_smart_contracts`` -> ``ch02``."""
    return "ch" + chapter[:2]


def find_proxy() -> Path:
    """configurable-http-proxy: ``$OMTEACH_PROXY``, the venv's npm-proxy folder, or ``PATH``."""
    env = os.environ.get("OMTEACH_PROXY")
    candidates = [Path(env)] if env else []
    candidates.append(Path(sys.prefix) / "npm-proxy" / "node_modules" / ".bin" /
                      "configurable-http-proxy")
    found = shutil.which("configurable-http-proxy")
    candidates += [Path(found)] if found else []
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise HubError("configurable-http-proxy is not installed: run 'make setup-hub' (npm "
                   f"configurable-http-proxy@{PROXY_VERSION}; the PyPI package of that name is "
                   "another program)")


def world_can_reach(path: Path) -> bool:
    """Whether any user may reach ``path``: every folder on the way o+x, the file itself o+r/x.

    (As root, ``os.access`` says yes to everything, so the mode bits are read instead.)
    """
    path = Path(os.path.realpath(path))
    if not path.exists() or not path.stat().st_mode & 0o005:
        return False
    return all(parent.stat().st_mode & 0o001 for parent in path.parents)


def student_python(target: Path) -> Path:
    """This very interpreter, runnable by every student's account: the course's own, or a replica
    of it in ``target`` (hard links where the filesystem allows, else copies; about 150 MB).

    The course's ``.venv`` often sits on an interpreter in a private folder (pyenv under /root)
    that other accounts cannot run. Another Python of the same minor version is not a safe
    substitute: Debian's 3.11.2 mis-parses possessive regex quantifiers (fixed in 3.11.5) that
    soupsieve uses, and nbgrader's feedback fails there. The replica's binary still names its
    original library folder (RUNPATH), so students' processes get ``LD_LIBRARY_PATH`` pointing
    at the replica's (see :attr:`ClassHub.library_path`).
    """
    exe = Path(os.path.realpath(sys.executable))
    minor = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    base = Path(sys.base_prefix)
    if world_can_reach(exe) and world_can_reach(base / "lib" / minor / "os.py"):
        return exe
    if not (target / "bin" / minor).exists():
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "bin").mkdir(parents=True)
        _link_or_copy(exe, staging / "bin" / minor)
        shutil.copytree(base / "lib", staging / "lib", copy_function=_link_or_copy,
                        ignore=shutil.ignore_patterns("site-packages", "test", "pkgconfig"))
        for folder in [staging, *staging.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o755)
        staging.rename(target)
    return target / "bin" / minor


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem: copy
        shutil.copy2(source, target)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the hub's and the proxy's internal ports)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def check_port(host: str, port: int) -> None:
    """Raise :class:`HubError` when ``host:port`` cannot be listened on (in use, bad address)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise HubError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another "
                           "port (make hub HUB_PORT=...) or stop what uses it") from None


def kernel_socket_base() -> Path:
    """Where a hub keeps its kernels' sockets: /run (root's, in memory) where there is one."""
    return Path("/run") if Path("/run").is_dir() else Path(tempfile.gettempdir())


MAX_SOCKET_PATH = 107
"""The longest path a Unix socket can have (Linux's sockaddr_un, less its final NUL)."""
SOCKET_TAIL = len("/4294967295/kernel-") + 36 + len("-ipc-5")
"""What follows the hub's socket folder in a kernel's socket path: .../UID/kernel-ID-ipc-N."""


@dataclass
class ClassHub:
    """A class's hub: accounts, course folder, exchange, then JupyterHub and its services.

    ``data`` holds everything the hub writes: homes, exchange and the students' environment,
    which students reach, and ``data/run`` (root only: database, cookie secret, passwords, log,
    the node's state, the launcher's token);
    ``slot`` (0-249) names the classroom node's network namespace and its subnet 10.251.slot.0/30,
    so that two hubs (or a test beside a class) do not collide;
    ``memory_limit_mib``: each user's server and kernels together, where the machine gives the
    hub memory cgroups (:func:`~omteach.hub.accounts.memory_cgroup`; 0: no limit).
    """

    class_list: Path
    host: str = "127.0.0.1"
    port: int = 8000
    data: Path = Path("/srv/omteach-hub")
    teacher: str = "teacher"
    gate_port: int = 8546
    slot: int = 0
    idle_timeout: int = 3600
    memory_limit_mib: int = 2048
    students: list[str] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = Path(self.data).absolute()
        self.homes = self.data / "homes"
        self.run_dir = self.data / "run"
        self.exchange = self.data / "exchange"
        self.namespace = NodeNamespace(self.slot)
        self.env = self.data / "env"
        self.cache = self.env / "cache"  # OMTEACH_CACHE_DIR of every server: compiled contracts
        self.python_replica = self.data / "python"
        # The kernels' Unix sockets, a folder per user: short (a socket's path has at most 107
        # bytes, and a kernel's id alone is 36) and made by root, on the machine's tmpfs.
        self.kernel_sockets = kernel_socket_base() / f"omteach-hub{self.slot}-kernels"
        self.admin_token = ""
        self._proc: subprocess.Popen | None = None

    # -- preparing the machine ---------------------------------------------------------------

    def check(self) -> None:
        """Everything that can be refused before anything is changed on the machine."""
        if os.geteuid() != 0:
            raise HubError("the hub runs as root: it makes a system account per student and a "
                           "network namespace for the classroom node (sudo make hub)")
        if not 0 <= self.slot < 250:
            raise HubError(f"slot {self.slot}: choose 0-249")
        if len(os.fsencode(self.kernel_sockets)) + SOCKET_TAIL > MAX_SOCKET_PATH:
            raise HubError(f"{self.kernel_sockets} is too long a path for the kernels' sockets "
                           f"(at most {MAX_SOCKET_PATH - SOCKET_TAIL} bytes): set TMPDIR to a "
                           "shorter folder")
        self.students = read_class_list(self.class_list)
        if self.teacher in self.students:
            raise HubError(f"{self.class_list} lists the teacher's name {self.teacher!r} as a "
                           "student: choose another teacher name (HUB_TEACHER=...)")
        self.proxy = find_proxy()
        from omteach.chain.anvil import find_anvil

        if find_anvil() is None:
            raise HubError("anvil is not installed: run 'make setup-anvil' (needs npm)")
        check_port(self.host, self.port)

    def prepare(self) -> None:
        """Accounts, passwords, the teacher's course folder, the exchange, students' config."""
        for folder, mode in ((self.data, 0o711), (self.homes, 0o711), (self.run_dir, 0o700),
                             (self.data / "jupyter-config", 0o755), (self.kernel_sockets, 0o711)):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(mode)
        sockets = self.kernel_sockets.lstat()  # in /tmp anyone could have made it first
        if not stat.S_ISDIR(sockets.st_mode) or sockets.st_uid != 0:
            raise HubError(f"{self.kernel_sockets} is not a folder of root's: remove it, then "
                           "start the hub again")
        for private in PRIVATE_IN_CHECKOUT:
            if (ROOT / private).is_dir():
                (ROOT / private).chmod(0o700)  # the answer key: not for students' processes
        teacher = ensure_account(self.teacher, self.homes)
        for name in self.students:
            ensure_account(name, self.homes)
        self._seed_passwords()
        self._shared_env()
        self._compiled_contracts()
        self._course_folder(teacher)
        self._exchange(teacher)
        (self.data / "jupyter-config" / "nbgrader_config.py").write_text(
            "# Written by omteach's hub for every student's server: the course and its exchange.\n"
            "c = get_config()  # noqa: F821\n"
            f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
            f"c.Exchange.root = {str(self.exchange)!r}\n")

    def _seed_passwords(self) -> None:
        """A random first password per person (kept if one exists), and the handout CSV."""
        handout = self.run_dir / "passwords.csv"
        known: dict[str, str] = {}
        if handout.exists():
            with handout.open() as f:
                known = {row[0]: row[1] for row in csv.reader(f) if len(row) == 2}
        import bcrypt

        with dbm.open(str(self.run_dir / "passwords.dbm"), "c", 0o600) as db:
            for name in [self.teacher, *self.students]:
                if name.encode() in db and name in known:
                    self.passwords[name] = known[name]
                    continue
                if name.encode() in db:  # changed by its owner: no longer ours to hand out
                    continue
                password = secrets.token_urlsafe(9)
                db[name] = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
                self.passwords[name] = password
        fd = os.open(handout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", newline="") as f:
            csv.writer(f).writerows(sorted(self.passwords.items()))

    def _shared_env(self) -> None:
        """The course installed once, runnable by every student: ``DATA/env``.

        ``DATA/env`` is a venv of the course's interpreter as every account may run it
        (:func:`student_python`), whose only content is a ``.pth`` file adding ``.venv``'s
        packages (and deferring an import no server uses: :mod:`omteach.deferred`), the
        course's scripts, and the ``omteach`` kernel pointing at it: no package is installed
        twice.
        """
        python = student_python(self.python_replica)
        packages = Path(sysconfig_paths()["purelib"])
        if not world_can_reach(packages):
            raise HubError(f"students' accounts cannot read the course's packages in {packages}: "
                           "put the checkout where every user can read it (not under /root)")
        if not (self.env / "bin" / "python").exists():
            subprocess.run([str(python), "-m", "venv", "--without-pip", str(self.env)],
                           check=True, capture_output=True)
        minor = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        (self.env / "lib" / minor / "site-packages" / "omteach_hub.pth").write_text(
            f"import site; site.addsitedir({str(packages)!r})\n"
            "import omteach.deferred\n")  # halves a server's start: see that module
        _copy_scripts(Path(sys.prefix) / "bin", self.env / "bin")
        kernel = self.env / "share" / "jupyter" / "kernels" / "omteach"
        kernel.mkdir(parents=True, exist_ok=True)
        (kernel / "kernel.json").write_text(json.dumps({
            "argv": [str(self.env / "bin" / "python"), "-Xfrozen_modules=off", "-m",
                     "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (omteach)", "language": "python"}, indent=1))

    def _compiled_contracts(self) -> None:
        """The course's contracts compiled once for the class, in ``DATA/env/cache`` (root's,
        read-only for everyone else), which every server gets as ``OMTEACH_CACHE_DIR``: without
        it, each student's kernel compiles ModelMarket in chapter 6 (2.5 s of CPU each, a whole
        class at once) into a cache of their own."""
        from omteach.chain.compiler import export_compiled

        export_compiled(self.cache)
        for folder in (self.cache, self.cache / "contracts"):
            folder.chmod(0o755)

    def _course_folder(self, teacher: Any) -> None:
        """The teacher's nbgrader course: one assignment a chapter, the sources with answers."""
        course = Path(teacher.pw_dir) / "course"
        copies = {course / "source" / assignment_id(chapter) / f"{chapter}.ipynb":
                  ROOT / "source" / "course" / f"{chapter}.ipynb" for chapter in STUDENT_CHAPTERS}
        copies[course / "06_classroom_teacher.ipynb"] = (ROOT / "notebooks" /
                                                        "06_classroom_teacher.ipynb")
        for target, source in copies.items():
            if not target.exists():  # a restarted hub keeps the teacher's own edits
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        config = (ROOT / "nbgrader_config.py").read_text()  # the course's own settings
        (course / "nbgrader_config.py").write_text(
            config + "\n\n# Added by omteach's hub: this class's exchange.\n"
            f"c.Exchange.root = {str(self.exchange)!r}\n")
        _chown_tree(course, teacher.pw_uid, teacher.pw_gid)

    def _exchange(self, teacher: Any) -> None:
        """nbgrader's exchange, made before nbgrader would make it, with the sticky bit.

        Every student must be able to write to ``inbound``; nbgrader makes it 0733 without the
        sticky bit, so one student could rename or delete a classmate's submission (nbgrader
        issue #1225). With 1733 only a submission's owner (or the teacher, who owns the folder)
        may. nbgrader checks ownership and access bits only, so it accepts these folders.
        """
        self.exchange.mkdir(exist_ok=True)
        self.exchange.chmod(0o1777)
        for sub, mode in (("", 0o755), ("outbound", 0o755), ("inbound", 0o3733),
                          ("feedback", 0o711)):
            folder = self.exchange / COURSE_ID / sub
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, teacher.pw_uid, teacher.pw_gid)
            folder.chmod(mode)

    # -- running ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = self.host if self.host not in ("0.0.0.0", "::", "") else _this_machine()
        return f"http://{host}:{self.port}"

    @property
    def cgroup_prefix(self) -> str:
        """Names of this hub's memory cgroups: the prefix, then the user's name."""
        return f"omteach-hub{self.slot}-"

    def memory_limit_enforced(self) -> bool:
        """Whether this machine lets the hub give each user a memory cgroup (checked by making,
        then removing, a probe)."""
        probe = f"{self.cgroup_prefix}probe"
        procs = memory_cgroup(probe, max(self.memory_limit_mib, 1) * 2**20)
        remove_memory_cgroup(probe)
        return procs is not None and self.memory_limit_mib > 0

    @property
    def library_path(self) -> str:
        """LD_LIBRARY_PATH for students' processes: the replica's libpython, if there is one."""
        return str(self.python_replica / "lib")

    def settings(self) -> dict[str, Any]:
        """What jupyterhub_config.py reads: everything that differs between classes."""
        venv = Path(sys.prefix)
        service = [*self.namespace.exec_prefix(), sys.executable, "-m", "omteach.hub.service",
                   "--host", self.namespace.node_address, "--port", str(self.gate_port),
                   "--run", str(self.run_dir), "--teacher", self.teacher,
                   "--class-size", str(len(self.students)),
                   "--shared-address", self.namespace.host_address]
        return {"data": str(self.data), "homes": str(self.homes),
                "kernel_sockets": str(self.kernel_sockets),
                "bind_url": f"http://{self.host}:{self.port}", "hub_port": free_port(),
                "proxy_api_port": free_port(), "proxy": str(self.proxy),
                "env": str(self.env), "cache_dir": str(self.cache),
                "ld_library_path": self.library_path,
                # JupyterLab's extensions (nbgrader's Assignments tab) and server extensions:
                # from the course's .venv; the kernel: DATA/env's, found first.
                "jupyter_path": f"{self.env / 'share' / 'jupyter'}:{venv / 'share' / 'jupyter'}",
                "jupyter_config_path": f"{self.data / 'jupyter-config'}:{venv / 'etc' / 'jupyter'}",
                "python": sys.executable, "students": self.students, "teacher": self.teacher,
                "classroom_command": service, "idle_timeout": self.idle_timeout,
                "memory_limit_mib": self.memory_limit_mib, "cgroup_prefix": self.cgroup_prefix,
                "admin_token": self.admin_token}

    def start(self, *, timeout: float = 120.0) -> ClassHub:
        """Check, prepare, start JupyterHub; return once it answers and the node is up."""
        self.check()
        self.prepare()
        self.admin_token = secrets.token_hex(32)
        settings_file = self.run_dir / "settings.json"
        fd = os.open(settings_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.settings(), f)
        (self.run_dir / JOIN_FILE).unlink(missing_ok=True)
        make_pass_secret(self.run_dir)  # before the hub: its spawner and the gate both read it
        self.namespace.create()
        env = {**os.environ, "OMTEACH_HUB_SETTINGS": str(settings_file),
               "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        self.log_file = self.run_dir / "jupyterhub.log"
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(CONFIG)],
                cwd=self.run_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise HubError(f"JupyterHub exited at start (code {self._proc.returncode}):\n"
                               f"{self.log_tail()}")
            try:
                self.api("GET", "/users")
                if (self.run_dir / JOIN_FILE).exists():
                    return
            except (OSError, HubError):
                pass
            if time.monotonic() > deadline:
                raise HubError(f"the hub was not ready within {timeout:.0f} s; its log ends:\n"
                               f"{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def join_line(self) -> str:
        """What the node wrote for students: the gate's URL and the Classroom's address."""
        join = json.loads((self.run_dir / JOIN_FILE).read_text())
        return f"{join['gate']} {join['classroom']}"

    def api(self, method: str, path: str, body: Any = None, *, token: str | None = None,
            timeout: float = 30.0) -> Any:
        """A call to the hub's REST API (``/hub/api`` + ``path``), by default as the launcher."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://{_loopback(self.host)}:{self.port}/hub/api{path}", data=data, method=method,
            headers={"Authorization": f"token {token or self.admin_token}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            raise HubError(f"hub API {method} {path}: {exc.code} "
                           f"{exc.read().decode(errors='replace')[:300]}") from None
        return json.loads(text) if text else None

    def stop(self) -> None:
        """Stop JupyterHub (it stops the servers, the proxy and the services), then the
        namespace. Accounts and homes stay: they hold the students' work."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self.namespace.delete()
        for name in [*self.students, self.teacher]:
            remove_memory_cgroup(self.cgroup_prefix + name)
        shutil.rmtree(self.kernel_sockets, ignore_errors=True)  # the servers are gone

    def remove_accounts(self) -> None:
        """Remove every account this hub made (tests, or the end of a course)."""
        for name in [*self.students, self.teacher]:
            remove_account(name)

    def __enter__(self) -> ClassHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _copy_scripts(source: Path, target: Path) -> None:
    """The course's command-line tools (jupyter, nbgrader, and alembic, which nbgrader runs from
    PATH) for ``target``'s interpreter: pip's scripts with their first line pointed there."""
    for script in source.iterdir():
        if script.name.startswith(("python", "activate")) or not script.is_file():
            continue
        try:
            first, rest = script.read_text().split("\n", 1)
        except (UnicodeDecodeError, ValueError):
            continue  # a binary, or an empty file
        if first.startswith("#!") and "python" in first:
            copy = target / script.name
            copy.write_text(f"#!{target / 'python'}\n{rest}")
            copy.chmod(0o755)


def sysconfig_paths() -> dict[str, str]:
    """This interpreter's install paths (``purelib``: the course's site-packages)."""
    import sysconfig

    return sysconfig.get_paths()


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(Path(folder) / name, uid, gid)


def _loopback(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def _this_machine() -> str:
    from omteach.classroom.node import this_machines_address

    return this_machines_address()


def run_hub(args: Any) -> int:
    """``python -m omteach hub``: start, print the URL and the teacher's login, serve."""
    import signal

    hub = ClassHub(Path(args.class_list), host=args.host, port=args.port, data=args.data,
                   teacher=args.teacher, gate_port=args.gate_port, slot=args.slot,
                   idle_timeout=args.idle_timeout, memory_limit_mib=args.memory_limit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"starting the class hub for {args.class_list} (a minute)…", flush=True)
    hub.start()
    try:
        password = hub.passwords.get(hub.teacher, "(unchanged: the one you set)")
        print(f"The class hub is up: {hub.url}")
        print(f"  teacher's login:   {hub.teacher} / {password}  (admin: {hub.url}/hub/admin)")
        print(f"  students' first passwords (hand them out): {hub.run_dir / 'passwords.csv'}")
        limit = (f"{hub.memory_limit_mib} MiB each (a memory cgroup per user)"
                 if hub.memory_limit_enforced() else "none (this machine gives the hub no "
                 "memory cgroup: docs/hub.md)")
        print(f"  memory limit per student: {limit}")
        print(f"  {len(hub.students)} students; chapters to release are in "
              f"~{hub.teacher}/course/source (nbgrader: Formgrader tab)")
        print(f"  the live round (chapter 6): {hub.join_line()} (in every kernel as "
              "$OMTEACH_CLASS)")
        print(f"  log: {hub.log_file}.  Ctrl-C stops the hub (accounts and work stay).",
              flush=True)
        while hub._proc is not None and hub._proc.poll() is None:
            time.sleep(1)
        print(f"JupyterHub stopped:\n{hub.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping the hub")
        return 0
    finally:
        hub.stop()
