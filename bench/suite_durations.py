"""Write tests/durations.json from a pytest run's ``--durations=0`` report: the seconds each
test took (setup + call + teardown), which the root conftest.py uses to hand the longest groups
of tests out first (`make test`'s scheduling). Run by ``make durations``; commit the file when
the suite's slowest tests change.

    python bench/suite_durations.py REPORT.txt [--min 0.5] [--out tests/durations.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

LINE = re.compile(r"^\s*([0-9.]+)s (setup|call|teardown)\s+(\S.*?)\s*$")


def read_report(text: str) -> dict[str, float]:
    """Seconds per test id in a pytest durations report (setup, call and teardown added)."""
    seconds: dict[str, float] = {}
    for line in text.splitlines():
        match = LINE.match(line)
        if match:
            nodeid = match.group(3)
            seconds[nodeid] = seconds.get(nodeid, 0.0) + float(match.group(1))
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--min", type=float, default=0.5, help="keep tests of at least this")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent.parent / "tests" / "durations.json")
    args = parser.parse_args(argv)
    seconds = read_report(args.report.read_text())
    if not seconds:
        print(f"no durations in {args.report}: run pytest with --durations=0", file=sys.stderr)
        return 1
    kept = {k: round(v, 1) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])
            if v >= args.min}
    args.out.write_text(json.dumps(kept, indent=0) + "\n")
    print(f"{args.out}: {len(kept)} tests of {len(seconds)} take >= {args.min} s, "
          f"{sum(seconds.values()):.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
