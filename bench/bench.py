"""vmstated's benchmark: run by bench/run (make bench); prints a table.

Every figure is taken against the compiled bhyve stand-ins, with no hooks,
in temporary directories (tests/lib/vmstated_harness.py sets them up):

  status        wall time of `vmstatedctl status` with 1, 100 and 1000 VMs
                defined (bench-spawntime: fork, exec, request, reply, exit);
                "daemon share" is the same request over a raw socket
                (bench-request), without the client
  start->exec   time from just before a start request is written to the
                socket to the stand-in's main() (its record's exec_time;
                both CLOCK_REALTIME); when a `bhyvectl --destroy` runs in
                between, the split at its main() is shown
  crash->exec   a stand-in dies of SIGSEGV (its exit record is written
                just before); time until the replacement's main().  The
                crashed bhyve's instance must go: FreeBSD's way, the
                daemon destroys it itself with the hw.vmm.destroy sysctl
                (modelled for the stand-in: VMSTATED_STANDIN_VMM_SYSCTL,
                src/platform/linux.c); then again as on a system without
                the sysctl, where a `bhyvectl --destroy` runs between
  reboot->exec  the same for a guest reboot (exit status 0): bhyve reuses
                the instance, nothing runs between
  start-up      from the spawn of `vmstated -f` to the end of its first
                reply to status (bench-request -c, tries every 0.5 ms):
                first start (it creates each VM's log), then a restart
  descriptors   open by the daemon with every VM stopped, and with 100
                running
  RSS           VmRSS and VmHWM of the daemon, 100 VMs running
  wakeups       voluntary + involuntary context switches of the daemon over
                10 idle seconds (each is one return from the kernel)
  10,000 VMs    start-up, status, descriptors and RSS again, 100 running
The time to spawn /bin/true is the floor under every figure that runs a
process; it is measured again with each time figure (interleaved with its
runs, or sampled while it is measured), which is also given as a multiple
of that floor: machines differ, and so does the load of one machine from
minute to minute.

Not a pass/fail test: the targets are printed beside the figures.
bench/peers.py imports the functions below to measure vmstated beside its
peers.
"""

import argparse
import atexit
import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lib"))

from vmstated_harness import Daemon, build_dir, wait_for  # noqa: E402

STATUS = '{"command":"status","vms":[]}'


def ms(us):
    return "%.2f ms" % (us / 1000.0)


def spread(fig):
    """'p10 / p90 / min' of a (median, p10, p90, min) in ms."""
    return "%s / %s / %s" % tuple(ms(x)[:-3] for x in fig[1:4])


def spawntime(argv, runs, floor=False):
    """(median, p10, p90, min) in microseconds from bench-spawntime; with
    floor, the median of runs of /bin/true interleaved with them too."""
    out = subprocess.run([str(build_dir() / "bench-spawntime")]
                         + (["-F"] if floor else []) + ["-n", str(runs)]
                         + [str(a) for a in argv],
                         check=True, capture_output=True, text=True).stdout
    return [float(x) for x in out.split()]


class FloorSamples:
    """The floor sampled now and then while something else is measured
    (a start, a crash loop): the median of the samples is its floor."""

    def __init__(self):
        self.samples = []

    def take(self, runs=5):
        self.samples.append(spawntime(["/bin/true"], runs)[0])

    def median(self):
        return statistics.median(self.samples) if self.samples else None


def raw_request(sock, runs, line=STATUS):
    """(median, p10, p90, min) in microseconds of line over the socket."""
    out = subprocess.run([str(build_dir() / "bench-request"), "-n",
                          str(runs), str(sock), line],
                         check=True, capture_output=True, text=True).stdout
    return [float(x) for x in out.split()]


def proc_status(pid):
    return proc_status_path("/proc/%d/status" % pid)


def proc_status_path(path):
    """The fields of a /proc status file, as a dict of strings."""
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def kb(value):
    """'3820 kB' as a number of kB."""
    return int(value.split()[0])


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def become_subreaper():
    """Let this process reap the daemons that bench-request -c spawns
    and leaves behind (PR_SET_CHILD_SUBREAPER; Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class SpawnedProcess:
    """The part of subprocess.Popen the harness uses, for a process that
    bench-request spawned (and this process reaps as a subreaper)."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                # Not ours to reap: see whether it is still there.
                if not os.path.exists("/proc/%d" % self.pid):
                    self.returncode = 0
                return self.returncode
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, sig):
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self):
        self.send_signal(9)

    def wait(self, timeout=None):
        deadline = time.monotonic() + (timeout if timeout else 1e9)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.01)
        return self.returncode


def make_daemon(root, name, nvms, **vm_settings):
    d = Daemon(Path(root) / name, defaults={"stoptimeout": 5})
    for i in range(nvms):
        d.add_vm("vm%05d" % i, config=dict(vm_settings) or None)
    return d


def start_daemon(d, timeout=600):
    """Start it; return the microseconds from its spawn to the end of its
    first reply."""
    if not (d.conf / "vmstated.conf").exists():
        d.write_conf()
    d.stderr_file = open(d.stderr_path, "ab")
    out = subprocess.run(
        [str(build_dir() / "bench-request"), "-c", "-o", str(d.stderr_path),
         "-t", str(timeout), str(d.sock), STATUS, "--"] + d.command(),
        env=d.env, cwd=str(d.root), check=True, capture_output=True,
        text=True).stdout
    us, pid = out.split()
    d.proc = SpawnedProcess(int(pid))
    return float(us)


def wait_all(d, names, state, timeout=600):
    names = set(names)

    def done():
        vms = d.request({"command": "status"})["vms"]
        return all(v["state"] == state for v in vms if v["name"] in names)
    wait_for(done, timeout, "%d VMs to reach %s" % (len(names), state))


def bench_status(d, runs):
    """(median, p10, p90, min, floor): the floor's runs are interleaved."""
    return spawntime([build_dir() / "vmstatedctl", "-s", d.sock, "status"],
                     runs, floor=True)


def bench_start_to_exec(d, vm, rounds, floor=None):
    """Per round, (seconds from the start request to the stand-in's main(),
    seconds from the request to a bhyvectl run in between or None); floor
    (FloorSamples) gets a sample each round."""
    rounds_out = []
    for _ in range(rounds):
        if floor is not None:
            floor.take()
        before = len(d.standin_starts(vm))
        t0 = time.time()
        reply = d.request({"command": "start", "vms": [vm]})
        assert reply.get("ok"), reply
        starts = wait_for(lambda: d.standin_starts(vm)[before:],
                          60, "%s's stand-in to start" % vm)
        exec_time = starts[0]["exec_time"]
        ctl = [c["time"] for c in d.bhyvectl_calls(vm)
               if t0 <= c["time"] <= exec_time]
        rounds_out.append((exec_time - t0, ctl[0] - t0 if ctl else None))
        d.wait_state(vm, "running")
        assert d.request({"command": "kill", "vms": [vm]}).get("ok")
        d.wait_state(vm, "stopped")
    return rounds_out


def bench_crash_to_exec(d, vm, rounds, floor=None,
                        ended=lambda r: r.get("signal") == "SEGV"):
    """Per restart, (seconds from a stand-in's crash (or the end that
    ended(record) accepts) to its replacement's main(), bhyvectl runs in
    between); floor (FloorSamples) is sampled while the restarts go on."""
    assert d.request({"command": "start", "vms": [vm]}).get("ok")

    def enough():
        if floor is not None:
            floor.take()
        return len(d.standin_starts(vm)) > rounds
    wait_for(enough, 600, "%d restarts of %s" % (rounds, vm),
             lambda: d.explain(vm))
    d.request({"command": "kill", "vms": [vm]})
    d.wait_state(vm, ("stopped", "failed"))
    records = d.standin_records(vm)
    ctl = [c["time"] for c in d.bhyvectl_calls(vm)]
    out = []
    for i, r in enumerate(records):
        if r["event"] != "exit" or not ended(r):
            continue
        nxt = [s for s in records[i + 1:] if s["event"] == "start"]
        if nxt:
            between = [t for t in ctl if r["time"] <= t <= nxt[0]["exec_time"]]
            out.append((nxt[0]["exec_time"] - r["time"], len(between),
                        between[0] - r["time"] if between else None))
    return out[:rounds]


def vmm_in_memory(d):
    """FreeBSD keeps its VM instances in memory, shown by devfs as
    /dev/vmm/NAME.  The stand-in's are files (tests/standin/vmm.c): on a
    disk file system, destroying one its bhyve has just rewritten is an
    ext4 unlink that waits for the file's blocks (0.2 ms on these
    machines), a cost devfs does not have.  Where there is a tmpfs
    (/dev/shm), d's instances go there."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        return
    vmm = Path(tempfile.mkdtemp(prefix="vmstated-bench-vmm-", dir=shm))
    atexit.register(shutil.rmtree, vmm, True)
    vmm.chmod(0o755)
    d.vmm = vmm
    d.conf_settings["vmmdir"] = str(vmm)
    d.env["VMSTATED_STANDIN_VMM"] = str(vmm)


def restart_loop(root, name, daemons, env=None, **standin):
    """A started daemon of one VM, vm00000, whose stand-in ends 50 ms
    after each start as standin says, and is restarted without limit;
    env: more of the daemon's environment."""
    d = make_daemon(root, name, 0)
    d.env.update(env or {})
    vmm_in_memory(d)
    daemons.append(d)
    d.add_vm("vm00000", config={"maxrestart": 1000000, "maxrestarttime": 1},
             standin=dict(standin, delay="0.05"))
    start_daemon(d)
    return d


def idle_wakeups(pid, seconds):
    def switches():
        s = proc_status(pid)
        return (int(s["voluntary_ctxt_switches"])
                + int(s["nonvoluntary_ctxt_switches"]))
    before = switches()
    time.sleep(seconds)
    return switches() - before


def summary_us(deltas_s):
    us = sorted(d * 1e6 for d in deltas_s)
    return (statistics.median(us), us[len(us) // 10],
            us[(len(us) * 9) // 10], us[0])


class Table:
    """The printed table: a figure, its spread, the floor measured with
    it, its multiple of that floor, and its target.  The machine's load
    comes and goes (other work, other tenants): a floor taken under the
    same load as each figure (interleaved with its runs, or sampled while
    it is measured) keeps the multiple honest where one floor for the
    whole run would not."""

    FORMAT = "%-46s %-10s %-21s %-8s %-7s %s"

    def __init__(self):
        self.floors = []
        print(self.FORMAT % ("measure", "median", "p10 / p90 / min",
                             "floor", "x floor", "target"))

    def floor(self):
        f = spawntime(["/bin/true"], 50)[0]
        self.floors.append(f)
        return f

    def time(self, name, fig, target="", floor=None):
        """A time figure; its floor is fig's fifth number, or floor, or
        else measured now."""
        if len(fig) > 4:
            floor = fig[4]
            self.floors.append(floor)
        elif floor is not None:
            self.floors.append(floor)
        else:
            floor = self.floor()
        print(self.FORMAT % (name, ms(fig[0]), spread(fig), ms(floor)[:-3],
                             "%.1fx" % (fig[0] / floor), target))
        sys.stdout.flush()

    def value(self, name, value, note="", target=""):
        print(self.FORMAT % (name, value, note, "", "", target))
        sys.stdout.flush()

    def summary(self):
        f = sorted(self.floors)
        print("\nthe floor (spawn /bin/true) over the run: median %s, from "
              "%s to %s ms" % (ms(statistics.median(f)), ms(f[0])[:-3],
                               ms(f[-1])[:-3]))


def bench_big(table, root, n, runs, daemons):
    """The many-VMs case: n defined, 100 running."""
    d = make_daemon(root, "big%d" % n, n)
    daemons.append(d)
    startup = start_daemon(d)
    table.value("daemon start with %d VMs (to first reply)" % n,
                "%.0f ms" % (startup / 1000), "", "reported")
    table.value("open descriptors, %d VMs, all stopped" % n,
                str(open_fds(d.proc.pid)), "", "not growing with VMs")
    st = bench_status(d, runs)
    table.time("vmstatedctl status, %d VMs" % n, st, "reported")
    table.time("  daemon share (raw socket), %d VMs" % n,
               raw_request(d.sock, runs), "", st[4])
    names = ["vm%05d" % i for i in range(100)]
    assert d.request({"command": "start", "vms": names}).get("ok")
    wait_all(d, names, "running")
    st = proc_status(d.proc.pid)
    table.value("daemon RSS, %d VMs defined, 100 running" % n, st["VmRSS"],
                "peak %s" % st["VmHWM"], "<= 8 MB")
    table.value("open descriptors, %d VMs, 100 running" % n,
                str(open_fds(d.proc.pid)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=200,
                    help="vmstatedctl runs per status figure (200)")
    ap.add_argument("--rounds", type=int, default=30,
                    help="starts and crashes measured (30)")
    ap.add_argument("--idle", type=float, default=10,
                    help="idle seconds for the wakeup count (10)")
    ap.add_argument("--big", type=int, default=10000,
                    help="VMs of the many-VMs case (10000; 0: skip it)")
    args = ap.parse_args()

    become_subreaper()
    root = tempfile.mkdtemp(prefix="vmstated-bench-")
    daemons = []
    try:
        print("vmstated benchmark: %s, %d CPUs, in %s"
              % (build_dir(), os.cpu_count(), root))
        print()
        table = Table()
        table.time("spawn /bin/true (the floor)",
                   spawntime(["/bin/true"], args.runs))

        figures = {}
        for n, target in ((1, "<= 1.5x"), (100, ""), (1000, "<= 4x")):
            d = make_daemon(root, "status%d" % n, n)
            daemons.append(d)
            startup = start_daemon(d)
            figures[n] = (d, startup, open_fds(d.proc.pid))
            runs = args.runs if n < 1000 else max(args.runs // 2, 10)
            st = bench_status(d, runs)
            table.time("vmstatedctl status, %d VM%s"
                       % (n, "s" if n > 1 else ""), st, target)
            if n == 1000:
                table.time("  daemon share (raw socket), 1000 VMs",
                           raw_request(d.sock, runs), "", st[4])
                # Again, now that its files (the VMs' logs) exist.
                d.stop(timeout=120)
                restart = start_daemon(d)

        d1 = figures[1][0]
        fs = FloorSamples()
        rounds = bench_start_to_exec(d1, "vm00000", args.rounds, fs)
        table.time("start request -> bhyve exec (%d)" % args.rounds,
                   summary_us([r[0] for r in rounds]), "<= 2.5x",
                   fs.median())
        split = [r[1] for r in rounds if r[1] is not None]
        if split:
            table.time("  request -> bhyvectl --destroy main()",
                       summary_us(split), "", fs.median())
            table.time("  bhyvectl main() -> bhyve exec",
                       summary_us([r[0] - r[1] for r in rounds
                                   if r[1] is not None]), "", fs.median())

        fs = FloorSamples()
        crashes = bench_crash_to_exec(
            restart_loop(root, "crash", daemons,
                         env={"VMSTATED_STANDIN_VMM_SYSCTL": "1"},
                         signal="SEGV"),
            "vm00000", args.rounds, fs)
        assert all(c[1] == 0 for c in crashes), crashes
        table.time("bhyve crash -> exec, hw.vmm.destroy (%d)"
                   % args.rounds, summary_us([c[0] for c in crashes]),
                   "<= 2.5x", fs.median())
        fs = FloorSamples()
        crashes = bench_crash_to_exec(
            restart_loop(root, "crash-bhyvectl", daemons, signal="SEGV"),
            "vm00000", args.rounds, fs)
        table.time("  the same, bhyvectl --destroy between",
                   summary_us([c[0] for c in crashes]), "reported",
                   fs.median())
        runs_between = sorted(c[1] for c in crashes)
        if runs_between and runs_between[-1] > 0:
            table.value("  bhyvectl runs between crash and exec",
                        "%d" % statistics.median(runs_between))
            split = [c for c in crashes if c[2] is not None]
            table.time("  crash -> bhyvectl --destroy main()",
                       summary_us([c[2] for c in split]), "", fs.median())
            table.time("  bhyvectl main() -> bhyve exec",
                       summary_us([c[0] - c[2] for c in split]), "",
                       fs.median())

        # A guest reboot (exit status 0) from a bootrom: bhyve reuses the
        # instance, nothing runs in between.
        fs = FloorSamples()
        reboots = bench_crash_to_exec(
            restart_loop(root, "reboot", daemons, exit="0"),
            "vm00000", args.rounds, fs, lambda r: r.get("status") == 0)
        table.time("bhyve reboot -> replacement exec (%d)" % args.rounds,
                   summary_us([c[0] for c in reboots]), "<= 2.5x",
                   fs.median())

        d, startup, fds_stopped = figures[1000]
        table.value("daemon start with 1000 VMs (to first reply)",
                    "%.0f ms" % (startup / 1000), "first start",
                    "<= 50 ms")
        table.value("  the same, its files there (a restart)",
                    "%.0f ms" % (restart / 1000), "", "<= 50 ms")
        table.value("open descriptors, 1 VM, stopped", str(figures[1][2]))
        table.value("open descriptors, 1000 VMs, all stopped",
                    str(fds_stopped), "", "as with 1 VM")
        names = ["vm%05d" % i for i in range(100)]
        assert d.request({"command": "start", "vms": names}).get("ok")
        wait_all(d, names, "running")
        st = proc_status(d.proc.pid)
        table.value("daemon RSS, 1000 VMs defined, 100 running",
                    st["VmRSS"], "peak %s" % st["VmHWM"], "<= 4 MB")
        table.value("open descriptors, 1000 VMs, 100 running",
                    str(open_fds(d.proc.pid)))
        wakeups = idle_wakeups(d.proc.pid, args.idle)
        table.value("daemon wakeups in %g idle seconds" % args.idle,
                    str(wakeups), "threads %s"
                    % proc_status(d.proc.pid)["Threads"], "0")
        # Free the memory and CPU of the daemons done with.
        for d in daemons:
            d.stop(timeout=120)
        if args.big > 0:
            bench_big(table, root, args.big, max(args.runs // 10, 10),
                      daemons)
        table.summary()
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
