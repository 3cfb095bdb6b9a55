"""Chapter 6: how long a student's first submission takes in a fresh process (the submit grace).

    .venv/bin/python bench/cold_submit_bench.py              # 3 repetitions
    .venv/bin/python bench/cold_submit_bench.py --repeat 5

A class node on loopback, AI Inc. and three light classmates in this process, and one student in
a fresh Python process (what a student's new kernel is): it joins, accepts, takes its seat's
share of the digits (a class of 30), and times the step that trains, packs, masks, encrypts and
submits, from "every key share is in" to "submitted", in round 0 (cold) and round 1 (warm).
AI Inc. waits as long as it takes (grace 60 s), so nobody is cut off while measured.

The default submit deadline (:data:`omteach.protocol.market.SUBMIT_SECONDS`) comes from this.
The last line is ``cold_s=<min>/<median>/<max> warm_s=<median>``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading

STUDENT = r'''
import json, sys, time
from omteach.classroom.owner import ClassOwner
from omteach.classroom.student import Student
from omteach.learning.data import seat_shard

owner = ClassOwner(Student.join(sys.argv[1], sys.argv[2], "cold"), seat_shard(1, 30)[0])
spec = owner.find_spec()
owner.accept(spec)
times = []
for rnd in range(2):
    while "shares" not in owner.step(spec):
        time.sleep(0.1)
    while not owner.market.round_state(spec, of=[owner.address]).all_shares_in:
        time.sleep(0.05)
    start = time.perf_counter()
    line = owner.step(spec)
    times.append(time.perf_counter() - start)
    assert "submitted" in line, line
    while owner.market.spec(spec).round == rnd:
        time.sleep(0.1)
print(json.dumps(times), flush=True)
'''


def once() -> list[float]:
    """One fresh student's (cold, warm) submission steps, in seconds."""
    import numpy as np

    from omteach.classroom.node import ClassroomNode
    from omteach.classroom.owner import ClassOwner
    from omteach.classroom.rehearsal import light_update
    from omteach.classroom.student import Student
    from omteach.classroom.teacher import ClassTeacher
    from omteach.learning.data import Dataset

    none = Dataset(np.zeros((1, 64), np.float32), np.zeros(1, np.int64))
    with ClassroomNode(per_client=10) as node:
        teacher = ClassTeacher.from_node(node)
        spec = teacher.post(rounds=2, places=4, min_owners=3)
        proc = subprocess.Popen([sys.executable, "-c", STUDENT, node.gate.url,
                                 node.classroom.address], stdout=subprocess.PIPE, text=True)
        for seat in range(3):
            owner = ClassOwner(Student.join(node.gate.url, node.classroom.address, f"s{seat}"),
                               none, seed=seat, update=light_update)
            owner.accept(spec)
            threading.Thread(target=owner.take_part, args=(spec,), kwargs={"timeout": 120},
                             daemon=True).start()
        teacher.run_rounds(wait_for=4, grace=60.0, pause=0.0)
        times = json.loads(proc.stdout.readline())
        proc.wait(timeout=30)
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [once() for _ in range(args.repeat)]
    for cold, warm in runs:
        print(f"cold {cold:.2f} s, warm {warm:.2f} s")
    cold = sorted(c for c, _ in runs)
    print(f"cold_s={cold[0]:.1f}/{statistics.median(cold):.1f}/{cold[-1]:.1f} "
          f"warm_s={statistics.median(w for _, w in runs):.1f}")


if __name__ == "__main__":
    main()
