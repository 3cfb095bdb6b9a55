#!/bin/bash
# CPU of a command's whole process tree (as root, cgroup v1 cpuacct): what bench/RESULTS.md's
# "CPU (whole tree)" figures are. Children the command does not wait for (a hub's servers and
# kernels) count too, so the figure does not swing with the machine's load as wall time does.
#   sudo bench/cpu_tree.sh .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_hub.py
cg=/sys/fs/cgroup/cpuacct/omteach-cpu-tree-$$
mkdir "$cg" && echo $$ > "$cg/cgroup.procs" || { echo "needs root and cgroup v1's cpuacct"; exit 2; }
l0=$(cut -d' ' -f1 /proc/loadavg); t0=$(date +%s.%N)
"$@"; rc=$?
t1=$(date +%s.%N); l1=$(cut -d' ' -f1 /proc/loadavg)
cpu=$(cat "$cg/cpuacct.usage")
echo $$ > /sys/fs/cgroup/cpuacct/cgroup.procs
sleep 1; rmdir "$cg" 2>/dev/null
python3 -c "print(f'wall {$t1-$t0:.1f} s, CPU {$cpu/1e9:.1f} s (whole process tree), load $l0 -> $l1, exit $rc')"
exit $rc
