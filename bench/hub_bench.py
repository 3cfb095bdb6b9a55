"""The class hub's costs, for sizing a class (docs/hub.md): as root, on this machine.

    sudo .venv/bin/python bench/hub_bench.py                 # 30 servers, 4 kernels
    sudo .venv/bin/python bench/hub_bench.py --servers 10 --kernels 2

1. **start**: from ``ClassHub.start()`` (what ``make hub`` runs after its set-up) until the hub
   answers its API and the classroom node has written the join line.
2. **spawn**: ``--servers`` students' servers asked for at once through the REST API, until the
   hub reports every one ready.
3. **idle server**: memory of each student's server with no kernel (PSS: shared pages split
   between the processes that share them, so the sum is what the machine holds; RSS beside it).
4. **kernel after chapter 6's first cell**: ``--kernels`` students open an ``omteach`` kernel and
   run chapter 6's imports and join (the cell that makes them a member of the live class): the
   kernel's memory then, and the whole machine's (MemAvailable) per student.
5. the hub's own processes (JupyterHub, the proxy, the classroom node with anvil, the culler).

The last line is ``start_s=... spawn_s=... server_pss_mib=... kernel_pss_mib=...``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from omteach.hub.accounts import processes_of  # noqa: E402
from omteach.hub.drive import Kernel, class_hub, start_servers  # noqa: E402

CH06 = ROOT / "notebooks" / "06_classroom_round.ipynb"


def pss_rss_kib(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in KiB, from /proc/PID/smaps_rollup (0, 0 if it is gone)."""
    values = {"Pss:": 0, "Rss:": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key = line.split()[0]
            if key in values:
                values[key] = int(line.split()[1])
    except OSError:
        pass
    return values["Pss:"], values["Rss:"]


def mem_available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def user_memory(uid: int) -> tuple[float, float]:
    """(PSS, RSS) in MiB of every process running as ``uid``."""
    pairs = [pss_rss_kib(pid) for pid in processes_of(uid)]
    return sum(p for p, _ in pairs) / 1024, sum(r for _, r in pairs) / 1024


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (the hub's own: not other jobs' anvils)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def hub_memory(hub_pid: int, words: tuple[str, ...]) -> dict[str, float]:
    """PSS (MiB) of the hub's root processes, by the first of ``words`` in their command."""
    out: dict[str, float] = {}
    for pid in descendants(hub_pid):
        try:
            if Path(f"/proc/{pid}").stat().st_uid != 0:
                continue  # a student's server: counted per student
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        word = next((w for w in words if w in cmd), None)
        if word is not None:
            out[word] = out.get(word, 0.0) + pss_rss_kib(pid)[0] / 1024
    return out


def join_code(name: str) -> str:
    """Chapter 6's first cells: the join line from OMTEACH_CLASS, then imports and join."""
    cells = ["".join(c["source"]) for c in json.loads(CH06.read_text())["cells"]
             if c["cell_type"] == "code"]
    return ("import os\nCLASS, CLASSROOM = os.environ['OMTEACH_CLASS'].split()\n"
            f"NAME = {name!r}\n" + cells[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=30)
    parser.add_argument("--kernels", type=int, default=4)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the hub bench runs as root (system accounts, a network namespace)")
    model = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in model.splitlines()
                  if line.startswith("Model name")), platform.processor())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {model}; "
          f"{mem_available_mib() / 1024:.1f} GiB available; python {platform.python_version()}")
    t0 = time.monotonic()
    with class_hub(args.servers) as hub:
        start_s = time.monotonic() - t0  # includes making the accounts and the course folder
        print(f"start: {start_s:.1f} s to a ready hub with its classroom node "
              f"({args.servers} accounts made)")
        before = mem_available_mib()
        t1 = time.monotonic()
        tokens = start_servers(hub, hub.students, timeout=900)
        spawn_s = time.monotonic() - t1
        print(f"spawn: {spawn_s:.1f} s for {args.servers} servers asked at once "
              f"({spawn_s / args.servers:.2f} s each)")
        time.sleep(5)  # let the servers settle (their first requests done)
        import pwd

        servers = [user_memory(pwd.getpwnam(n).pw_uid) for n in hub.students]
        server_pss = statistics.median(p for p, _ in servers)
        server_rss = statistics.median(r for _, r in servers)
        print(f"idle server: PSS median {server_pss:.0f} MiB (RSS {server_rss:.0f} MiB); "
              f"machine: {(before - mem_available_mib()) / args.servers:.0f} MiB per server")
        hub_parts = hub_memory(hub._proc.pid, (
            "jupyterhub -f", "configurable-http-proxy", "omteach.hub.service", "anvil",
            "jupyterhub_idle_culler"))
        print("hub's own processes (PSS MiB): " + ", ".join(f"{k} {v:.0f}"
                                                            for k, v in hub_parts.items()))
        names = hub.students[: args.kernels]
        before_k = mem_available_mib()
        base = {n: user_memory(pwd.getpwnam(n).pw_uid) for n in names}
        kernels = [Kernel(hub, n, tokens[n]) for n in names]
        t2 = time.monotonic()
        requests = [k.submit(join_code(k.user)) for k in kernels]
        for k, m in zip(kernels, requests, strict=True):
            k.wait(m)
        joined_s = time.monotonic() - t2
        time.sleep(2)
        after = {n: user_memory(pwd.getpwnam(n).pw_uid) for n in names}
        kernel_pss = statistics.median(after[n][0] - base[n][0] for n in names)
        kernel_rss = statistics.median(after[n][1] - base[n][1] for n in names)
        per_student = (before_k - mem_available_mib()) / len(names)
        print(f"kernel after chapter 6's first cell (imports + join), {len(names)} at once in "
              f"{joined_s:.1f} s: PSS median {kernel_pss:.0f} MiB (RSS {kernel_rss:.0f} MiB); "
              f"machine: {per_student:.0f} MiB "
              "per student")
        for k in kernels:
            k.close()
        total = server_pss + kernel_pss
        alone = server_rss + kernel_rss  # nothing shared: a pod of its own
        print(f"a student with an open chapter 6: about {total:.0f} MiB on one machine "
              f"({1024 / total:.1f} students per GiB), {alone:.0f} MiB alone (RSS: a pod)")
    print(f"start_s={start_s:.1f} spawn_s={spawn_s:.1f} server_pss_mib={server_pss:.0f} "
          f"kernel_pss_mib={kernel_pss:.0f} student_rss_mib={alone:.0f}")


if __name__ == "__main__":
    main()
