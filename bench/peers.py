"""vmstated beside its peers, in one run (bench/peers, make bench-peers).

Measured in the same run, next to the floor (spawning /bin/true):

  status        `vmstatedctl status` against `virsh list --all`, with 1,
                100 and 1000 VMs (libvirt: domains defined from a template,
                never started)
  start->exec   `vmstatedctl start` against `virsh start`, to the exec of
                a real qemu without KVM; "exec" is the moment a wrapper
                (bench/execstamp.c) is run in qemu's place, for both
  respawn       a small program (execstamp again) that runs a while and
                exits 1, under runit (runsv), s6 (s6-supervise),
                daemontools (supervise) and vmstated (as a qemu VM's
                binary): from its exit stamp to the next exec stamp, for
                runs shorter and longer than a second
  start-up      libvirtd and vmstated with 1000 VMs defined, from the
                spawn to the end of the first answer (vmstated: status on
                its socket; libvirtd: `virsh list --all`)
  RSS, wakeups  of both daemons with 1000 VMs defined, idle; wakeups are
                context switches over the idle seconds, every thread of
                the process counted

libvirtd runs privately: as `nobody`, in session mode, with its
configuration, sockets, cache and domains in a temporary directory.
Everything started here is stopped by its pid; every file written is in
that directory, removed at the end.  The results go to docs/bench.md and
docs/bench.svg (gnuplot); bench/profiles.md (vmstated's own targets, and
where the time goes for those not met, written by hand from profiles) is
appended to docs/bench.md as it is.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402
from vmstated_harness import build_dir, wait_for  # noqa: E402

NOBODY = 65534
QEMU = shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64"
STAMP = build_dir() / "bench-execstamp"

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>{emulator}</emulator>
  </devices>
</domain>
"""


def log(msg):
    print("peers: %s" % msg, file=sys.stderr, flush=True)


def stamps(program, what="exec"):
    """The (time, pid) stamps of a copy of execstamp, in order."""
    try:
        lines = Path(str(program) + ".log").read_text().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        kind, t, pid = line.split()
        if kind == what:
            out.append((float(t), int(pid)))
    return out


def install_stamp(path, real=None, sleep=None):
    """A copy of execstamp at path: a wrapper for real, or a program that
    sleeps and exits 1."""
    shutil.copy(STAMP, path)
    os.chmod(path, 0o755)
    if real is not None:
        os.symlink(real, str(path) + ".real")
    if sleep is not None:
        Path(str(path) + ".sleep").write_text("%g\n" % sleep)
    log_path = Path(str(path) + ".log")
    log_path.touch()
    os.chmod(log_path, 0o666)


def respawn_delays(program, after=0.0):
    """Seconds from each exit stamp to the next exec stamp."""
    execs = [t for t, _ in stamps(program) if t > after]
    out = []
    for t, _ in stamps(program, "exit"):
        if t <= after:
            continue
        nxt = [e for e in execs if e > t]
        if nxt:
            out.append(nxt[0] - t)
    return out


def reap_orphaned_qemus(stop):
    """libvirtd daemonizes qemu: as a subreaper, this process inherits
    each one, and libvirt waits for the one it killed to be gone (not a
    zombie) before `virsh destroy` returns.  Reap those, and only those:
    the other children are waited for where they are started."""
    me = os.getpid()
    while not stop.wait(0.01):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] == "Z" and int(fields[1]) == me and \
                    comm.startswith("qemu"):
                try:
                    os.waitpid(int(entry), os.WNOHANG)
                except ChildProcessError:
                    pass


def kill_pid(pid, sig=signal.SIGTERM):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def wait_gone(proc, timeout=30):
    """Wait for a Popen; SIGKILL it after timeout."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Libvirtd:
    """A private libvirtd: session mode as nobody, everything in dir."""

    def __init__(self, root):
        self.dir = Path(root) / "libvirt"
        self.config = self.dir / "config"
        self.domains = self.config / "libvirt" / "qemu"
        self.run = self.dir / "run"
        for d in (self.dir / "home", self.domains, self.run,
                  self.dir / "cache"):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.run, 0o700)
        # qemu's output to a file: no virtlogd to spawn and stop.
        (self.config / "libvirt" / "qemu.conf").write_text(
            'stdio_handler = "file"\n')
        self.emulator = self.dir / "qemu-stamp"
        install_stamp(self.emulator, real=QEMU)
        self.uri = ("qemu+unix:///session?socket=%s"
                    % (self.run / "libvirt" / "libvirt-sock"))
        self.proc = None
        self.ndomains = 0

    def define(self, n):
        """Have n domains defined (written where libvirtd loads them)."""
        for i in range(self.ndomains, n):
            name = "dom%05d" % i
            (self.domains / (name + ".xml")).write_text(DOMAIN_XML.format(
                name=name, uuid=uuid.uuid5(uuid.NAMESPACE_DNS, name),
                emulator=self.emulator))
        self.ndomains = max(n, self.ndomains)
        self.chown()

    def chown(self):
        for dirpath, dirnames, filenames in os.walk(self.dir):
            for name in dirnames + filenames:
                os.lchown(os.path.join(dirpath, name), NOBODY, NOBODY)
        os.chown(self.dir, NOBODY, NOBODY)

    def virsh(self, *args, check=True):
        return subprocess.run(["virsh", "-q", "-c", self.uri] + list(args),
                              capture_output=True, text=True, check=check)

    def start(self):
        """Start it; return the seconds from its spawn until `virsh list
        --all` answered with every domain."""
        env = {"HOME": str(self.dir / "home"),
               "XDG_CONFIG_HOME": str(self.config),
               "XDG_RUNTIME_DIR": str(self.run),
               "XDG_CACHE_HOME": str(self.dir / "cache"),
               "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        out = open(self.dir / "libvirtd.log", "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
             "--clear-groups", "/usr/sbin/libvirtd"], env=env,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            cwd=str(self.dir))
        out.close()
        sock = self.run / "libvirt" / "libvirt-sock"
        while time.monotonic() - t0 < 300:
            if self.proc.poll() is not None:
                raise AssertionError("libvirtd exited: see %s"
                                     % (self.dir / "libvirtd.log"))
            if not sock.exists():
                time.sleep(0.001)
                continue
            r = self.virsh("list", "--all", "--name", check=False)
            if r.returncode == 0 and len(r.stdout.split()) == self.ndomains:
                return time.monotonic() - t0
        raise AssertionError("libvirtd did not list %d domains in 300 s"
                             % self.ndomains)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            wait_gone(self.proc)
        self.proc = None
        # Any qemu it started and left, by the pids it stamped.
        for _, pid in stamps(self.emulator):
            kill_pid(pid, signal.SIGKILL)


def bench_virsh_start(lv, rounds, floor):
    """Seconds from the spawn of `virsh start` to qemu's exec, per round;
    the first (warm-up) round is left out.  floor: FloorSamples."""
    out = []
    for i in range(rounds + 1):
        floor.take()
        t0 = time.time()
        lv.virsh("start", "dom00000")
        execs = [t for t, _ in stamps(lv.emulator) if t > t0]
        if not execs:
            raise AssertionError("virsh start: qemu was not exec'd")
        if i > 0:
            out.append(execs[0] - t0)
        lv.virsh("destroy", "dom00000")
    return out


def bench_vmstatedctl_start(d, wrapper, rounds, floor):
    """Seconds from the spawn of `vmstatedctl start` to qemu's exec."""
    ctl = [str(build_dir() / "vmstatedctl"), "-s", str(d.sock)]
    out = []
    for i in range(rounds + 1):
        floor.take()
        t0 = time.time()
        subprocess.run(ctl + ["start", "q"], check=True,
                       capture_output=True)
        execs = wait_for(lambda: [t for t, _ in stamps(wrapper) if t > t0],
                         60, "vmstated's qemu to start")
        if i > 0:
            out.append(execs[0] - t0)
        d.wait_state("q", "running")
        subprocess.run(ctl + ["kill", "q"], check=True, capture_output=True)
        d.wait_state("q", ("stopped", "failed"))
    return out


def ctx_switches(pid):
    """Context switches of every thread of pid so far."""
    total = 0
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            s = bench.proc_status_path("/proc/%d/task/%s/status"
                                       % (pid, task))
        except OSError:
            continue
        total += int(s["voluntary_ctxt_switches"])
        total += int(s["nonvoluntary_ctxt_switches"])
    return total


class Supervisors:
    """runit, s6, daemontools and vmstated supervising the same program."""

    def __init__(self, root):
        self.root = Path(root) / "supervise"
        self.root.mkdir(parents=True)
        self.procs = {}
        self.programs = {}

    def service(self, name, seconds):
        d = self.root / name
        d.mkdir()
        install_stamp(d / "run", sleep=seconds)
        self.programs[name] = d / "run"
        return d

    def start(self, seconds):
        env = dict(os.environ)
        for name, cmd in (("runit", "runsv"), ("s6", "s6-supervise"),
                          ("daemontools", "supervise")):
            if shutil.which(cmd) is None:
                log("%s is missing: no %s figure" % (cmd, name))
                continue
            d = self.service(name, seconds)
            self.procs[name] = subprocess.Popen(
                [cmd, str(d)], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd=str(self.root))

    def stop(self):
        """Bring each service down and each supervisor out, by pid."""
        for name, proc in self.procs.items():
            d = self.root / name
            if name == "runit":
                cmd = ["sv", "exit", str(d)]
            elif name == "s6":
                cmd = ["s6-svc", "-xd", str(d)]
            else:
                cmd = ["svc", "-dx", str(d)]
            subprocess.run(cmd, capture_output=True, timeout=30)
            wait_gone(proc, 10)
            for _, pid in stamps(self.programs[name]):
                kill_pid(pid, signal.SIGKILL)
        self.procs = {}


def vmstated_crasher(root, seconds):
    """A vmstated whose one VM's qemu binary is the program that exits."""
    d = bench.make_daemon(root, "respawn-%g" % seconds, 0)
    prog = Path(root) / ("respawn-%g.prog" % seconds)
    install_stamp(prog, sleep=seconds)
    d.add_vm("svc", config={"hypervisor": "qemu", "qemu_binary": str(prog),
                            "memory": "64M", "maxrestart": 1000000,
                            "maxrestarttime": 1}, bhyve_config=None)
    return d, prog


def measure_respawns(root, seconds, rounds, results, daemons, floor):
    """Every supervisor at once, each on its own service; floor
    (FloorSamples) is sampled meanwhile."""
    sup = Supervisors(Path(root) / ("s%g" % seconds))
    d, prog = vmstated_crasher(root, seconds)
    daemons.append(d)
    try:
        bench.start_daemon(d)
        sup.start(seconds)
        assert d.request({"command": "start", "vms": ["svc"]}).get("ok")
        programs = dict(sup.programs, vmstated=prog)
        # A round is a run plus a respawn; the throttles add a second.
        def enough():
            floor.take()
            return all(len(respawn_delays(p)) >= rounds
                       for p in programs.values())
        wait_for(enough,
                 (seconds + 1.5) * (rounds + 2) + 30,
                 "%d respawns under every supervisor" % rounds)
        for name, p in programs.items():
            results[name] = bench.summary_us(respawn_delays(p)[:rounds])
    finally:
        sup.stop()
        d.request({"command": "kill", "vms": ["svc"]})
        d.stop(timeout=60)


def write_markdown(path, floor, rows, notes):
    """rows: (measure, vmstated fig, [(peer, fig)], unit, floor) with figs
    as (median, p10, p90, min) in microseconds, or numbers with a unit;
    floor: the floor measured beside the figure."""
    out = ["# vmstated beside its peers", "",
           "Written by `make bench-peers` (bench/peers.py) on %s, "
           "%d CPUs; every figure from one run, medians. "
           "The floor is the time to spawn /bin/true, measured in the same "
           "run with each figure (its runs interleaved with the figure's, "
           "or sampled while it is measured), since the load of a machine "
           "varies (median over the run: **%.2f ms**). Times are also "
           "given as multiples of their floor (x floor), and vmstated's as "
           "a fraction of the peer's (vs peer: below 1 is faster)." % (
               time.strftime("%Y-%m-%d"), os.cpu_count(), floor / 1000),
           "",
           "| measure | floor | vmstated | x floor | peer | peer's figure "
           "| x floor | vs peer |",
           "|---|---|---|---|---|---|---|---|"]

    def fmt(fig, unit, fl):
        if fig is None:
            return "-", "-"
        if unit == "time":
            return "%.2f ms" % (fig[0] / 1000), "%.1f" % (fig[0] / fl)
        return ("%s %s" % (fig, unit)).strip(), ""

    for measure, mine, peers, unit, fl in rows:
        m, mx = fmt(mine, unit, fl)
        f = "%.2f ms" % (fl / 1000) if fl else ""
        for i, (peer, fig) in enumerate(peers):
            p, px = fmt(fig, unit, fl)
            if mine is None or fig is None or not fig:
                vs = "-"
            elif unit == "time":
                vs = "%.2f" % (mine[0] / fig[0])
            else:
                vs = "%.2f" % (mine / fig)
            first = i == 0
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                measure if first else "", f if first else "",
                m if first else "", mx if first else "", peer, p, px, vs))
    out += ["", "![vmstated beside its peers, as multiples of the floor]"
            "(bench.svg)", ""] + notes
    Path(path).write_text("\n".join(out) + "\n")


def short_label(measure):
    """The measure's name as short as a label under a bar must be."""
    for long, short in (("cold start with 1000 VMs, to the first answer",
                         "cold start, 1000"),
                        ("status, ", "status "), (" VMs", ""), (" VM", ""),
                        ("start request -> qemu exec", "start -> exec"),
                        ("respawn after a run of ", "respawn, run ")):
        measure = measure.replace(long, short)
    return measure


def write_plot(svg, floor, rows, tmp):
    """A bar chart of the times as multiples of the floor (log scale)."""
    if shutil.which("gnuplot") is None:
        log("gnuplot is missing: no plot")
        return
    cols = ["vmstated", "libvirt", "runit", "s6", "daemontools"]
    data = Path(tmp) / "bench.dat"
    lines = ["measure " + " ".join(cols)]
    for measure, mine, peers, unit, fl in rows:
        if unit != "time":
            continue
        figs = dict((p.split()[0], f) for p, f in peers)
        figs["vmstated"] = mine
        vals = []
        for c in cols:
            f = figs.get(c)
            vals.append("%.3f" % (f[0] / fl) if f else "-")
        lines.append('"%s" %s' % (short_label(measure).replace('"', "'"),
                                  " ".join(vals)))
    data.write_text("\n".join(lines) + "\n")
    script = Path(tmp) / "bench.gp"
    script.write_text("""
set terminal svg size 900,520 dynamic font "sans,11" background "white"
set output '%s'
set title "Time as a multiple of spawning /bin/true (median %.2f ms); lower is better"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [0.5:*]
set ylabel "x floor (log scale)"
set xtics rotate by 20 right scale 0 font ",10"
set rmargin 3
set bmargin 6
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2
set key top left
set grid ytics
set datafile missing "-"
plot '%s' using 2:xtic(1) title columnheader(2), \\
     '' using 3 title columnheader(3), \\
     '' using 4 title columnheader(4), \\
     '' using 5 title columnheader(5), \\
     '' using 6 title columnheader(6)
""" % (svg, floor / 1000, data))
    subprocess.run(["gnuplot", str(script)], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20,
                    help="runs per status figure (20)")
    ap.add_argument("--rounds", type=int, default=8,
                    help="starts and respawns measured (8)")
    ap.add_argument("--idle", type=float, default=10,
                    help="idle seconds for the wakeup count (10)")
    ap.add_argument("--out", default=str(HERE.parent / "docs"),
                    help="where bench.md and bench.svg go (docs)")
    args = ap.parse_args()

    bench.become_subreaper()
    stop_reaper = threading.Event()
    threading.Thread(target=reap_orphaned_qemus, args=(stop_reaper,),
                     daemon=True).start()
    root = tempfile.mkdtemp(prefix="vmstated-peers-")
    os.chmod(root, 0o755)		# nobody's libvirtd lives below
    daemons = []
    lv = Libvirtd(root)
    rows = []
    status = {}
    try:
        floor = bench.spawntime(["/bin/true"], 200)
        log("floor %.2f ms" % (floor[0] / 1000))

        # Status of 1, 100, 1000; libvirtd restarted with each count.
        for n in (1, 100, 1000):
            d = bench.make_daemon(root, "status%d" % n, n)
            daemons.append(d)
            startup = bench.start_daemon(d)
            mine = bench.bench_status(d, args.runs)
            lv.define(n)
            lv_start = lv.start()
            theirs = bench.spawntime(["virsh", "-q", "-c", lv.uri, "list",
                                      "--all"], max(args.runs // 2, 5),
                                     floor=True)
            status[n] = (d, startup, lv_start)
            # Each figure's own runs of /bin/true were interleaved.
            rows.append(("status, %d VM%s" % (n, "s" if n > 1 else ""),
                         mine, [("libvirt (virsh list --all)", theirs)],
                         "time", statistics.median([mine[4], theirs[4]])))
            log("status %d: %.2f ms vs %.2f ms" % (n, mine[0] / 1000,
                                                   theirs[0] / 1000))
            if n < 1000:
                if n == 1:
                    start_floor = bench.FloorSamples()
                    virsh = bench.summary_us(
                        bench_virsh_start(lv, args.rounds, start_floor))
                lv.stop()
                d.stop(timeout=60)

        # Start request to qemu's exec, with a real qemu (TCG).
        dq = bench.make_daemon(root, "qemu", 0)
        daemons.append(dq)
        wrapper = Path(root) / "qemu-wrapper"
        install_stamp(wrapper, real=QEMU)
        dq.add_vm("q", config={"hypervisor": "qemu",
                               "qemu_binary": str(wrapper),
                               "memory": "64M"}, bhyve_config=None)
        bench.start_daemon(dq)
        mine = bench.summary_us(bench_vmstatedctl_start(
            dq, wrapper, args.rounds, start_floor))
        dq.stop(timeout=60)
        rows.append(("start request -> qemu exec", mine,
                     [("libvirt (virsh start)", virsh)], "time",
                     start_floor.median()))
        log("start: %.2f ms vs %.2f ms" % (mine[0] / 1000,
                                           virsh[0] / 1000))

        # Respawn of a program that exits, runs under and over a second.
        for seconds, label in ((0.2, "run of 0.2 s"), (1.2, "run of 1.2 s")):
            res = {}
            fs = bench.FloorSamples()
            measure_respawns(root, seconds, args.rounds, res, daemons, fs)
            rows.append(("respawn after a %s" % label, res.get("vmstated"),
                         [(p, res[p]) for p in ("runit", "s6", "daemontools")
                          if p in res], "time", fs.median()))
            log("respawn %s: %s" % (label, ", ".join(
                "%s %.2f ms" % (k, v[0] / 1000) for k, v in res.items())))

        # 1000 VMs defined: start-up (three times each), then RSS and
        # idle wakeups (both daemons at once).
        d, startup, lv_start = status[1000]
        mine, theirs = [startup], [lv_start * 1e6]
        fs = bench.FloorSamples()
        for _ in range(2):
            fs.take(20)
            d.stop(timeout=60)
            mine.append(bench.start_daemon(d))
            lv.stop()
            theirs.append(lv.start() * 1e6)
        fs.take(20)
        rows.append(("cold start with 1000 VMs, to the first answer",
                     bench.summary_us([t / 1e6 for t in mine]),
                     [("libvirt (libvirtd)",
                       bench.summary_us([t / 1e6 for t in theirs]))],
                     "time", fs.median()))
        cold = "vmstated %s; libvirtd %s" % (
            ", ".join("%.0f" % (t / 1000) for t in mine),
            ", ".join("%.0f" % (t / 1000) for t in theirs))
        log("cold start (ms): %s" % cold)
        time.sleep(1)
        before = (ctx_switches(d.proc.pid), ctx_switches(lv.proc.pid))
        time.sleep(args.idle)
        after = (ctx_switches(d.proc.pid), ctx_switches(lv.proc.pid))
        rss = (bench.kb(bench.proc_status(d.proc.pid)["VmRSS"]),
               bench.kb(bench.proc_status(lv.proc.pid)["VmRSS"]))
        threads = bench.proc_status(lv.proc.pid)["Threads"]
        rows.append(("daemon RSS, 1000 VMs defined", rss[0],
                     [("libvirt (libvirtd)", rss[1])], "kB", None))
        rows.append(("wakeups in %g idle seconds, 1000 VMs" % args.idle,
                     after[0] - before[0],
                     [("libvirt (libvirtd, %s threads)" % threads,
                       after[1] - before[1])], "", None))
        lv.stop()
        d.stop(timeout=60)

        notes = [
            "Notes:", "",
            "- libvirt %s, runit, s6, daemontools and qemu %s from Debian; "
            "libvirtd runs in session mode as `nobody`, its files in a "
            "temporary directory, domains of 64 MiB defined from one "
            "template and never started (status), or started without KVM "
            "(start)." % (
                subprocess.run(["libvirtd", "--version"],
                               capture_output=True, text=True
                               ).stdout.split()[-1],
                subprocess.run([QEMU, "--version"], capture_output=True,
                               text=True).stdout.split()[3]),
            "- status and start are timed from the spawn of the command "
            "line client to its exit (status) or to qemu's exec (start); "
            "the exec is stamped by a wrapper run in qemu's place.",
            "- respawn: the same program under each supervisor, stamping "
            "its exit and its next exec. runit and daemontools wait about "
            "a second before restarting a service that ran less than a "
            "second, s6 always keeps a second between two starts: those "
            "throttles, not the supervisors' speed, make the short-run "
            "figures.",
            "- cold start: vmstated to the end of its first status reply "
            "on its socket (tried every 0.5 ms); libvirtd to the end of the "
            "first `virsh list --all` that lists every domain (tried again "
            "after each failure), so the libvirt figure includes one such "
            "listing. The median of three starts each; in order, in ms: "
            "%s. The first start of each creates files (vmstated: one log "
            "per VM, which is slow on this file system)." % cold,
            "- wakeups: voluntary and involuntary context switches over "
            "the idle seconds, summed over every thread.",
        ]
        profiles = HERE / "profiles.md"
        if profiles.exists():
            notes += ["", profiles.read_text().rstrip("\n")]
        os.makedirs(args.out, exist_ok=True)
        run_floor = statistics.median([floor[0]] + [r[4] for r in rows
                                                    if r[4]])
        write_markdown(Path(args.out) / "bench.md", run_floor, rows, notes)
        write_plot(Path(args.out) / "bench.svg", run_floor, rows, root)
        print(Path(Path(args.out) / "bench.md").read_text())
    finally:
        lv.stop()
        for d in daemons:
            try:
                d.stop(timeout=60)
            except AssertionError as e:
                log(str(e).splitlines()[0])
            d.cleanup()
        shutil.rmtree(root, ignore_errors=True)
        stop_reaper.set()


if __name__ == "__main__":
    main()
