"""CPU per test, of the whole process tree (kernels, servers, Chromium, anvil, students' processes
included): where `make test`'s CPU goes, which wall times under load cannot say.

A pytest plugin and its report. Run the suite one test at a time inside bench/cpu_tree.sh's cgroup
(root, cgroup v1 cpuacct): the cgroup's CPU counter, read before and after each test, is that
test's CPU, whatever process spent it.

    sudo bench/cpu_tree.sh env PYTHONPATH=bench .venv/bin/python -m pytest -n 0 -p suite_cpu \\
        -p no:cacheprovider -q            # writes build/suite_cpu.json
    python bench/suite_cpu.py [build/suite_cpu.json] [--top 40]

Background work between tests (a session fixture's server ticking) is counted in the next test,
so the per-file sums are the figures to trust; the suite's total is the cgroup's.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "build" / "suite_cpu.json"


def _usage_file() -> Path | None:
    """This process's cpuacct counter (cgroup v1), or None where there is none."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpuacct" in controllers.split(","):
            usage = Path("/sys/fs/cgroup/cpuacct") / path.lstrip("/") / "cpuacct.usage"
            return usage if usage.exists() else None
    return None


_USAGE = _usage_file()
_rows: dict[str, list[float]] = {}
_started: dict[str, tuple[int, float]] = {}


def _cpu_ns() -> int:
    return int(_USAGE.read_text()) if _USAGE is not None else 0


def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    _started[nodeid] = (_cpu_ns(), time.monotonic())


def pytest_runtest_logfinish(nodeid: str, location: object) -> None:
    cpu0, wall0 = _started.pop(nodeid)
    _rows[nodeid] = [(_cpu_ns() - cpu0) / 1e9, time.monotonic() - wall0]


def pytest_sessionfinish(session: object) -> None:
    if _USAGE is None:
        print("\nsuite_cpu: no cpuacct cgroup (run under bench/cpu_tree.sh as root): "
              "nothing written")
        return
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(_rows, indent=0))
    print(f"\nsuite_cpu: {len(_rows)} tests, {sum(r[0] for r in _rows.values()):.0f} s of CPU "
          f"-> {OUT}")


def report(rows: dict[str, list[float]], top: int) -> str:
    """Per file, then the ``top`` tests: CPU and wall seconds, most CPU first."""
    cpu: collections.Counter[str] = collections.Counter()
    wall: collections.Counter[str] = collections.Counter()
    for nodeid, (c, w) in rows.items():
        path = nodeid.split("::")[0]
        cpu[path] += c
        wall[path] += w
    lines = [f"{sum(cpu.values()):.0f} s of CPU, {sum(wall.values()):.0f} s of wall, "
             f"{len(rows)} tests", "", "   CPU s   wall s  file"]
    lines += [f"{c:8.1f} {wall[p]:8.1f}  {p}" for p, c in cpu.most_common()]
    lines += ["", "   CPU s   wall s  test"]
    lines += [f"{c:8.1f} {w:8.1f}  {n}" for n, (c, w) in
              sorted(rows.items(), key=lambda kv: -kv[1][0])[:top]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=Path, nargs="?", default=OUT)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    print(report(json.loads(args.rows.read_text()), args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
