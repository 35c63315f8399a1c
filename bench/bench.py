"""vmstated's benchmark: run by bench/run (make bench); prints a table.

Every figure is taken against the compiled bhyve stand-ins, with no hooks,
in temporary directories (tests/lib/vmstated_harness.py sets them up):

  status        wall time of `vmstatedctl status` with 1, 100 and 1000 VMs
                defined (bench-spawntime: fork, exec, request, reply, exit)
  start->exec   time from just before a start request is written to the
                socket to the stand-in's main() (its record's exec_time;
                both CLOCK_REALTIME); the path includes the
                `bhyvectl --destroy` run that precedes every start
  crash->exec   a stand-in dies of SIGSEGV (its exit record is written
                just before); time until the replacement's main()
  RSS           VmRSS and VmHWM of the daemon, 1000 VMs defined, 100 running
  wakeups       voluntary + involuntary context switches of the daemon over
                10 idle seconds (each is one return from the kernel)
The time to spawn /bin/true is printed first: it is the floor under every
figure that runs a process, and on slow virtual machines it dominates.

Not a pass/fail test: the targets are printed beside the figures.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lib"))

from vmstated_harness import Daemon, build_dir, wait_for  # noqa: E402


def ms(us):
    return "%.2f ms" % (us / 1000.0)


def spawntime(argv, runs):
    """(median, p10, p90, min) in microseconds from bench-spawntime."""
    out = subprocess.run([str(build_dir() / "bench-spawntime"), "-n",
                          str(runs)] + [str(a) for a in argv],
                         check=True, capture_output=True, text=True).stdout
    return [float(x) for x in out.split()]


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def make_daemon(root, name, nvms, **vm_settings):
    d = Daemon(Path(root) / name, defaults={"stoptimeout": 5})
    for i in range(nvms):
        d.add_vm("vm%04d" % i, config=dict(vm_settings) or None)
    return d


def start_daemon(d):
    """Start it; return the seconds until it answered its first status."""
    t0 = time.monotonic()
    d.start(timeout=600)
    return time.monotonic() - t0


def wait_all(d, names, state, timeout=600):
    names = set(names)

    def done():
        vms = d.request({"command": "status"})["vms"]
        return all(v["state"] == state for v in vms if v["name"] in names)
    wait_for(done, timeout, "%d VMs to reach %s" % (len(names), state))


def bench_status(d, runs):
    return spawntime([build_dir() / "vmstatedctl", "-s", d.sock, "status"],
                     runs)


def bench_start_to_exec(d, vm, rounds):
    """Seconds from the start request to the stand-in's main(), per
    round."""
    deltas = []
    for _ in range(rounds):
        before = len(d.standin_starts(vm))
        t0 = time.time()
        reply = d.request({"command": "start", "vms": [vm]})
        assert reply.get("ok"), reply
        starts = wait_for(lambda: d.standin_starts(vm)[before:],
                          60, "%s's stand-in to start" % vm)
        deltas.append(starts[0]["exec_time"] - t0)
        d.wait_state(vm, "running")
        assert d.request({"command": "kill", "vms": [vm]}).get("ok")
        d.wait_state(vm, "stopped")
    return deltas


def bench_crash_to_exec(d, vm, rounds):
    """Seconds from a stand-in's crash to its replacement's main()."""
    assert d.request({"command": "start", "vms": [vm]}).get("ok")
    wait_for(lambda: len(d.standin_starts(vm)) > rounds, 600,
             "%d restarts of %s" % (rounds, vm),
             lambda: d.explain(vm))
    d.request({"command": "kill", "vms": [vm]})
    d.wait_state(vm, ("stopped", "failed"))
    records = d.standin_records(vm)
    deltas = []
    for i, r in enumerate(records):
        if r["event"] != "exit" or r.get("signal") != "SEGV":
            continue
        nxt = [s for s in records[i + 1:] if s["event"] == "start"]
        if nxt:
            deltas.append(nxt[0]["exec_time"] - r["time"])
    return deltas[:rounds]


def idle_wakeups(pid, seconds):
    def switches():
        s = proc_status(pid)
        return (int(s["voluntary_ctxt_switches"])
                + int(s["nonvoluntary_ctxt_switches"]))
    before = switches()
    time.sleep(seconds)
    return switches() - before


def row(name, value, spread="", target=""):
    print("%-46s %-12s %-24s %s" % (name, value, spread, target))


def summary_us(deltas_s):
    us = sorted(d * 1e6 for d in deltas_s)
    return (statistics.median(us), us[len(us) // 10],
            us[(len(us) * 9) // 10], us[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=200,
                    help="vmstatedctl runs per status figure (200)")
    ap.add_argument("--rounds", type=int, default=30,
                    help="starts and crashes measured (30)")
    ap.add_argument("--idle", type=float, default=10,
                    help="idle seconds for the wakeup count (10)")
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="vmstated-bench-")
    daemons = []
    try:
        print("vmstated benchmark: %s, %d CPUs, in %s"
              % (build_dir(), os.cpu_count(), root))
        print()
        row("measure", "median", "p10 / p90 / min", "target")
        floor = spawntime(["/bin/true"], args.runs)
        row("spawn /bin/true (the floor)", ms(floor[0]),
            "%s / %s / %s" % tuple(ms(x)[:-3] for x in floor[1:]))

        figures = {}
        for n, target in ((1, "<= 1.5 ms"), (100, ""), (1000, "<= 3 ms")):
            d = make_daemon(root, "status%d" % n, n)
            daemons.append(d)
            startup = start_daemon(d)
            st = bench_status(d, args.runs if n < 1000 else
                              max(args.runs // 2, 10))
            figures[n] = (d, startup)
            row("vmstatedctl status, %d VM%s" % (n, "s" if n > 1 else ""),
                ms(st[0]), "%s / %s / %s" % tuple(ms(x)[:-3]
                                                  for x in st[1:]), target)

        d1 = figures[1][0]
        s = summary_us(bench_start_to_exec(d1, "vm0000", args.rounds))
        row("start request -> bhyve exec (%d)" % args.rounds, ms(s[0]),
            "%s / %s / %s" % tuple(ms(x)[:-3] for x in s[1:]), "<= 2 ms")

        dc = make_daemon(root, "crash", 0)
        daemons.append(dc)
        dc.add_vm("vm0000", config={"maxrestart": 1000000,
                                    "maxrestarttime": 1},
                  standin={"signal": "SEGV", "delay": "0.05"})
        start_daemon(dc)
        s = summary_us(bench_crash_to_exec(dc, "vm0000", args.rounds))
        row("bhyve crash -> replacement exec (%d)" % args.rounds, ms(s[0]),
            "%s / %s / %s" % tuple(ms(x)[:-3] for x in s[1:]), "<= 2 ms")

        d, startup = figures[1000]
        names = ["vm%04d" % i for i in range(100)]
        assert d.request({"command": "start", "vms": names}).get("ok")
        wait_all(d, names, "running")
        st = proc_status(d.proc.pid)
        row("daemon RSS, 1000 VMs defined, 100 running", st["VmRSS"],
            "peak %s" % st["VmHWM"], "<= 4 MB")
        wakeups = idle_wakeups(d.proc.pid, args.idle)
        row("daemon wakeups in %g idle seconds" % args.idle, str(wakeups),
            "threads %s" % proc_status(d.proc.pid)["Threads"], "0")
        row("daemon start with 1000 VMs (to first reply)",
            "%.0f ms" % (startup * 1000), "", "")
        row("open descriptors, 1000 VMs, 100 running",
            str(len(os.listdir("/proc/%d/fd" % d.proc.pid))), "", "")
    finally:
        for d in daemons:
            try:
                d.stop(timeout=120)
            except AssertionError as e:
                print("bench: %s" % str(e).splitlines()[0], file=sys.stderr)
            d.cleanup()
        subprocess.run(["rm", "-rf", root])


if __name__ == "__main__":
    main()
