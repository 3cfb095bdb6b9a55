"""JupyterHub's configuration for a class, read by ``jupyterhub -f`` (what ``make hub`` starts).

Every choice that varies (addresses, paths, the class list) comes from the JSON file that
:mod:`omteach.hub.launch` writes and names in ``OMTEACH_HUB_SETTINGS``; what is written here is
the same for every class.
"""

import json
import os
import pwd
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner

from omteach.classroom.gate import class_pass
from omteach.hub.accounts import ensure_account, memory_cgroup
from omteach.hub.service import PASS_SECRET_FILE

c = get_config()  # noqa: F821 (JupyterHub defines get_config when it reads this file)
S = json.loads(Path(os.environ["OMTEACH_HUB_SETTINGS"]).read_text())
DATA = Path(S["data"])
PRIVATE = DATA / "run"  # root only (0700): database, cookie secret, passwords, the node's state

c.JupyterHub.bind_url = S["bind_url"]
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{S['hub_port']}"
c.JupyterHub.db_url = f"sqlite:///{PRIVATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(PRIVATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(PRIVATE / "jupyterhub.pid")
c.JupyterHub.log_level = S.get("log_level", "INFO")

# configurable-http-proxy from npm (the Makefile installs it beside anvil), its API on loopback.
c.ConfigurableHTTPProxy.command = [S["proxy"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{S['proxy_api_port']}"
c.ConfigurableHTTPProxy.pid_file = str(PRIVATE / "proxy.pid")

# Who may log in: the class list and the teacher, nobody else (JupyterHub 5+ refuses everyone
# unless allowed_users says so). Passwords: first-use (>= 1.1.1, past CVE-2021-41194), but
# seeded by the launcher with a random one per student (the handout in passwords.csv), so a
# classmate cannot claim a name first; students may change theirs at /hub/auth/change-password.
c.JupyterHub.authenticator_class = "firstuseauthenticator.FirstUseAuthenticator"
c.FirstUseAuthenticator.dbm_path = str(PRIVATE / "passwords.dbm")
c.FirstUseAuthenticator.create_users = False
c.FirstUseAuthenticator.min_password_length = 8
c.Authenticator.allowed_users = set(S["students"]) | {S["teacher"]}
c.Authenticator.admin_users = {S["teacher"]}

# One server per student, as the student's own system account (private home, mode 0700), in a
# memory cgroup of its own where the machine allows (see omteach.hub.accounts.memory_cgroup).
class ClassSpawner(LocalProcessSpawner):
    """LocalProcessSpawner that first moves the server into its user's memory cgroup, so the
    server and every kernel it starts share that user's limit (a runaway kernel is killed,
    not a classmate's)."""

    cgroup_procs: Path | None = None  # set by _pre_spawn

    def make_preexec_fn(self, name):
        drop_privileges = super().make_preexec_fn(name)
        procs = None if self.cgroup_procs is None else str(self.cgroup_procs)

        def preexec() -> None:
            if procs is not None:  # still root here: join the cgroup, then become the user
                fd = os.open(procs, os.O_WRONLY)
                try:
                    os.write(fd, str(os.getpid()).encode())
                finally:
                    os.close(fd)
            drop_privileges()

        return preexec


c.JupyterHub.spawner_class = ClassSpawner
ENV = Path(S["env"])  # the course for students: see ClassHub._shared_env
c.Spawner.cmd = [str(ENV / "bin" / "python"), "-m", "jupyterhub.singleuser"]
# Kernels talk to their server over Unix sockets in the user's private folder, not TCP ports on
# loopback: thirty servers starting kernels at once each pick five "free" ports, two can pick the
# same one, and jupyter_client restarts the loser on the same ports until it gives up (a
# student's kernel dead at the start of the lesson). A socket file also keeps classmates out.
c.Spawner.args = ["--KernelManager.transport=ipc"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120  # thirty servers starting at once on two cores
c.Spawner.http_timeout = 120


def _join(spawner) -> str:
    """The live round's join line, read when the server starts (the node writes it once up)."""
    try:
        join = json.loads((PRIVATE / "join.json").read_text())
    except (OSError, ValueError):
        return ""
    return f"{join['gate']} {join['classroom']}"


PASS_SECRET = (PRIVATE / PASS_SECRET_FILE).read_bytes()  # the launcher made it (root only)


def _pass(spawner) -> str:
    """This user's class pass for the gate: in their server's environment only, so in their
    kernels and nowhere a classmate can read (/proc/PID/environ is the owner's)."""
    return class_pass(PASS_SECRET, spawner.user.name)


def _kernel_sockets(spawner) -> str:
    """The folder of this user's kernel sockets (made by _pre_spawn): short, since a socket's
    path has at most 107 bytes (ClassHub.kernel_sockets)."""
    return str(Path(S["kernel_sockets"]) / str(pwd.getpwnam(spawner.user.name).pw_uid))


c.Spawner.environment = {
    "JUPYTER_RUNTIME_DIR": _kernel_sockets,
    "OMTEACH_CLASS": _join,
    "OMTEACH_CLASS_PASS": _pass,
    # nbgrader's exchange and course id for every server (no file in /etc/jupyter: other
    # JupyterLabs on this machine must not see this class's settings).
    "JUPYTER_CONFIG_PATH": S["jupyter_config_path"],
    "JUPYTER_PATH": S["jupyter_path"],
    "PATH": f"{ENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "LD_LIBRARY_PATH": S["ld_library_path"],  # the interpreter's replica (launch.student_python)
    "OMTEACH_CACHE_DIR": S["cache_dir"],  # the contracts compiled once (ClassHub's prepare)
    "OMP_NUM_THREADS": "1",  # torch: one thread per kernel on a shared machine (TOOLING-NOTES)
}


def _pre_spawn(spawner) -> None:
    """Make the account on first spawn (a student added through the admin page or the API),
    and open the teacher's server on the course folder."""
    account = ensure_account(spawner.user.name, Path(S["homes"]))
    sockets = Path(_kernel_sockets(spawner))
    sockets.mkdir(mode=0o700, exist_ok=True)  # in a root-owned folder: nobody else makes it
    os.chown(sockets, account.pw_uid, account.pw_gid)
    sockets.chmod(0o700)
    if S.get("memory_limit_mib"):
        spawner.cgroup_procs = memory_cgroup(f"{S['cgroup_prefix']}{spawner.user.name}",
                                             S["memory_limit_mib"] * 2**20)
    if spawner.user.name == S["teacher"]:
        spawner.notebook_dir = str(Path(account.pw_dir) / "course")


c.Spawner.pre_spawn_hook = _pre_spawn

c.JupyterHub.services = [
    {"name": "classroom", "command": S["classroom_command"]},
    {"name": "idle-culler",
     "command": [S["python"], "-m", "jupyterhub_idle_culler", f"--timeout={S['idle_timeout']}"]},
    {"name": "omteach-admin", "api_token": S["admin_token"]},
]
c.JupyterHub.load_roles = [
    # The culler's minimal role (its README): see activity, stop servers, nothing else.
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
    # The launcher's own token (root-only file): add students, start servers, issue tokens.
    {"name": "omteach-admin", "services": ["omteach-admin"],
     "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"]},
]
