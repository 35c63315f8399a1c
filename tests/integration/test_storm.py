"""A request storm leaves nothing stuck (issue 10 item 3).

Clients send start, stop, restart, kill, failreset and reload at random
to ten VMs behind the bhyve stand-in -- some with hooks that take a little
time, some whose guests reboot, crash or power off now and then, one
whose guest ignores the power button, one whose start hook fails now and
then -- while reloads rewrite their configurations.  Throughout, the
daemon answers and no VM ever has two hypervisors.  Once the requests
stop, every VM comes to rest (stopped, failed or running); after a kill
of every VM, each is stopped or failed, with no hypervisor, hook or
helper left, and the daemon exits 0 on SIGTERM.

The storm is bounded in time and in count, and replayable:

    VMSTATED_STORM_SECONDS   how long the clients send (default 20)
    VMSTATED_STORM_CLIENTS   how many clients (default 50)
    VMSTATED_STORM_REQUESTS  at most this many requests (default 100000)
    VMSTATED_STORM_SEED      the random seed (default 10); "random" picks
                             one.  The seed decides the VMs' guests and
                             each client's requests; the interleaving is
                             the machine's.

The full run of the issue, 50 clients for 40 s:

    VMSTATED_STORM_SECONDS=40 sh scripts/pytest -q tests/integration/test_storm.py

A failure prints the seed, what was sent, and each VM's position and
intent (vmstatedctl -j info NAME).
"""
import json
import os
import random
import socket
import threading
import time

import pytest

from vmstated_harness import pid_alive, tail, ucl_document, wait_for, \
    write_file

SECONDS = float(os.environ.get("VMSTATED_STORM_SECONDS", "20"))
CLIENTS = int(os.environ.get("VMSTATED_STORM_CLIENTS", "50"))
REQUESTS = int(os.environ.get("VMSTATED_STORM_REQUESTS", "100000"))
_seed = os.environ.get("VMSTATED_STORM_SEED", "10")
SEED = random.SystemRandom().randrange(1 << 30) if _seed == "random" \
    else int(_seed)

NVMS = 10
COMMANDS = (("start", 30), ("stop", 20), ("restart", 20), ("kill", 10),
            ("failreset", 15), ("reload", 5))
# Where a VM is at rest: nothing runs for it but, maybe, its hypervisor.
AT_REST = ("stopped", "failed", "running")
DOWN = ("stopped", "failed")


def ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def hypervisors(token):
    """The live stand-in processes started for this test, by VM name:
    {name: [pid, ...]}.  A running bhyve is titled "bhyve: NAME"; before
    that, the stand-in's -k names NAME/bhyve_config.generated.  A child of
    a stand-in with its title (a sanitizer's leak checker is one, at the
    stand-in's exit) is not another hypervisor."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                if token.encode() not in f.read():
                    continue
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        name = None
        if argv[0].startswith(b"bhyve: "):
            name = argv[0][len(b"bhyve: "):].decode(errors="replace")
        elif argv[0].endswith(b"bhyve-standin") and b"-k" in argv:
            k = argv.index(b"-k") + 1
            if k < len(argv):
                name = os.path.basename(os.path.dirname(
                    argv[k].decode(errors="replace")))
        if name is not None and pid_alive(pid):
            found.setdefault(name, []).append(pid)
    for name, pids in list(found.items()):
        found[name] = [p for p in pids if ppid(p) not in pids]
    return found


class Storm:
    """The VMs, the clients and what they saw."""

    def __init__(self, d, seed):
        self.d = d
        self.seed = seed
        self.rng = random.Random(seed)
        self.names = ["vm%d" % i for i in range(NVMS)]
        self.settings = {}
        self.lock = threading.Lock()
        self.sent = {c: 0 for c, _ in COMMANDS}
        self.accepted = {c: 0 for c, _ in COMMANDS}
        self.errors = []            # protocol-level trouble
        self.duplicates = []        # (time, name, pids)
        self.slowest = 0.0          # the longest wait for a status reply
        self.total = 0
        self.stop_at = self.began = 0.0
        self.waves = []
        self.done = threading.Event()

    # ---- the VMs --------------------------------------------------------

    def guest_plan(self):
        """What runs 1, 2, ... of a guest do: mostly run, now and then
        reboot (0), power off (1) or crash (SEGV)."""
        steps = self.rng.choices(["run", "0", "1", "SEGV"],
                                 weights=[6, 2, 1, 2], k=200)
        return ",".join(steps)

    def add_vms(self):
        d = self.d
        slow = "sleep 0.%d\n" % self.rng.randint(1, 3)
        for i, name in enumerate(self.names):
            settings = {"description": "storm %s" % name,
                        "stoptimeout": 2, "maxrestart": 3,
                        "maxrestarttime": 60}
            standin = {}
            hooks = {}
            if i in (2, 3, 6):
                hooks = {s: slow for s in ("start_network", "start_storage",
                                           "running", "stopping",
                                           "stop_storage", "stop_network",
                                           "stopped", "restarting",
                                           "restarted", "failed")}
            if i in (4, 5, 6):
                standin["exits"] = self.guest_plan()
                standin["delay"] = "%.1f" % self.rng.uniform(0.1, 0.8)
            if i == 7:
                standin["sigterm"] = "ignore"
            if i == 8:
                standin["shutdown_delay"] = "0.5"
            if i == 9:
                # Every third start_storage fails.
                counter = d.root / "vm9.starts"
                hooks["start_storage"] = (
                    "n=$(cat %s 2>/dev/null || echo 0)\n"
                    "echo $((n + 1)) > %s\n"
                    "[ $(((n + 1) %% 3)) -ne 0 ]\n" % (counter, counter))
            self.settings[name] = settings
            d.add_vm(name, dict(settings), hooks=hooks, standin=standin)

    def rewrite_config(self, rng):
        """Change a VM's description, as an administrator would before a
        reload (written aside and renamed: a reload never reads half)."""
        name = rng.choice(self.names)
        with self.lock:
            settings = dict(self.settings[name])
            settings["description"] = "storm %s %d" % (name,
                                                       rng.randrange(1000))
            self.settings[name] = settings
            settings["configfile"] = str(self.d.vm_dir(name) /
                                         "bhyve_config")
            tmp = self.d.vm_dir(name) / ".config.new"
            write_file(tmp, ucl_document(name, settings))
            os.replace(tmp, self.d.vm_dir(name) / "config")

    # ---- the clients ----------------------------------------------------

    def plan_waves(self, seconds):
        """Bursts, where every client sends as fast as it can, between
        calm spells, where each sends about once a second and the VMs have
        time to get somewhere (a hook takes up to 0.3 s, a guest runs for
        0.1 to 0.8 s before it reboots or crashes): [(end, pace), ...]."""
        waves, t = [], 0.0
        while t < seconds:
            burst = len(waves) % 2 == 0
            t += self.rng.uniform(1, 3) if burst else self.rng.uniform(2, 5)
            waves.append((t, 0.01 if burst else 10.0))
        return waves

    def pace(self):
        """The longest pause between two requests of a client, now."""
        elapsed = time.monotonic() - self.began
        for end, pace in self.waves:
            if elapsed < end:
                return pace
        return self.waves[-1][1]

    def pause(self, rng):
        """Wait a random time up to pace(); a calm pause ends early when
        a burst or the end of the storm comes."""
        calm = self.pace() > 1
        until = min(time.monotonic() + rng.uniform(0, self.pace()),
                    self.stop_at)
        while time.monotonic() < until and (not calm or self.pace() > 1):
            time.sleep(max(0, min(0.1, until - time.monotonic())))

    def request(self, sock, f, obj):
        sock.sendall(json.dumps(obj).encode() + b"\n")
        line = f.readline()
        if not line:
            raise ConnectionResetError("the daemon closed the connection")
        return json.loads(line)

    def client(self, index):
        rng = random.Random("%d/%d" % (self.seed, index))
        commands = [c for c, _ in COMMANDS]
        weights = [w for _, w in COMMANDS]
        sock = f = None
        try:
            while time.monotonic() < self.stop_at:
                with self.lock:
                    if self.total >= REQUESTS:
                        break
                    self.total += 1
                if sock is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    sock.settimeout(60)
                    sock.connect(str(self.d.sock))
                    f = sock.makefile("rb")
                command = rng.choices(commands, weights)[0]
                req = {"command": command}
                if command == "reload":
                    if rng.random() < 0.5:
                        self.rewrite_config(rng)
                else:
                    req["vms"] = rng.sample(self.names,
                                            rng.choice((1, 1, 1, 2, 3)))
                reply = self.request(sock, f, req)
                with self.lock:
                    self.sent[command] += 1
                    if reply.get("ok"):
                        self.accepted[command] += 1
                    elif command == "reload" or "results" not in reply:
                        self.errors.append((req, reply))
                self.pause(rng)
        except (OSError, ValueError) as e:
            with self.lock:
                self.errors.append(("client %d" % index, repr(e)))
        finally:
            if sock is not None:
                f.close()
                sock.close()

    def monitor(self):
        """Until the storm ends: the daemon answers status (the longest
        wait is kept), and no VM has two hypervisors at once."""
        while not self.done.is_set():
            began = time.monotonic()
            try:
                self.d.request({"command": "status"}, timeout=60)
            except (OSError, ValueError) as e:
                with self.lock:
                    self.errors.append(("monitor", repr(e)))
            self.slowest = max(self.slowest, time.monotonic() - began)
            for name, pids in hypervisors(self.d.token).items():
                if len(pids) > 1:
                    with self.lock:
                        self.duplicates.append((time.monotonic(), name,
                                                pids))
            self.done.wait(0.2)

    def run(self, seconds, clients):
        self.waves = self.plan_waves(seconds)
        self.began = time.monotonic()
        self.stop_at = self.began + seconds
        threads = [threading.Thread(target=self.client, args=(i,),
                                    daemon=True) for i in range(clients)]
        mon = threading.Thread(target=self.monitor, daemon=True)
        mon.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 120)
        return mon

    # ---- what came of it ------------------------------------------------

    def info(self, name):
        reply = self.d.request({"command": "info", "vms": [name]})
        return reply["vm"]

    def summary(self):
        """Per VM: hypervisors executed, and times it failed."""
        out = []
        for name in self.names:
            log = self.d.log(name)
            out.append("%s %d/%d" % (name, log.count(" exec: "),
                                     log.count(" -> failed ")))
        return "execs/failures: " + ", ".join(out)

    def positions(self):
        return {n: self.info(n) for n in self.names}

    def report(self):
        """Everything a reader needs to replay and understand a failure."""
        lines = ["storm seed %d (VMSTATED_STORM_SEED=%d), %g s, %d clients"
                 % (self.seed, self.seed, SECONDS, CLIENTS),
                 "sent %r" % self.sent, "accepted %r" % self.accepted,
                 "slowest status reply %.2f s" % self.slowest]
        if self.errors:
            lines.append("errors (first 10 of %d): %r"
                         % (len(self.errors), self.errors[:10]))
        if self.duplicates:
            lines.append("duplicate hypervisors: %r" % self.duplicates[:10])
        try:
            for name, v in self.positions().items():
                lines.append("%s: state %s position %s intent %s pid %s "
                             "reason %s" % (name, v["state"], v["position"],
                                            v["intent"], v["pid"],
                                            v["reason"]))
        except (OSError, KeyError, ValueError) as e:
            lines.append("info failed: %r" % e)
        for name in self.names:
            lines.append("--- %s.log (end) ---\n%s"
                         % (name, tail(self.d.log(name), 15)))
        lines.append("--- vmstated stderr (end) ---\n%s"
                     % tail(self.d.stderr(), 30))
        return "\n".join(lines)


def test_a_request_storm_leaves_every_vm_at_rest(vmstated):
    d = vmstated
    storm = Storm(d, SEED)
    storm.add_vms()
    d.start()
    mon = storm.run(SECONDS, CLIENTS)
    print("storm: seed %d, %g s, %d clients, %d requests: %r; accepted %r; "
          "slowest status %.2f s" % (SEED, SECONDS, CLIENTS, storm.total,
                                     storm.sent, storm.accepted,
                                     storm.slowest))
    print(storm.summary())
    try:
        assert d.running(), "vmstated died"
        assert not storm.errors, "requests went wrong"
        # At once, while the VMs are on their way somewhere: kill half of
        # them.  Those end stopped or failed; the others come to rest.
        killed = storm.rng.sample(storm.names, NVMS // 2)
        d.request({"command": "kill", "vms": killed})
        pending = set(storm.names)

        def settled():
            for name in list(pending):
                v = storm.info(name)
                if v["position"] in (DOWN if name in killed else AT_REST):
                    pending.discard(name)
            return not pending
        wait_for(settled, 120, "the killed VMs (%s) to be stopped or failed "
                 "and the others to come to rest" % " ".join(sorted(killed)),
                 lambda: "still moving: %s" % " ".join(sorted(pending)))
        # Then kill of every VM: each ends stopped or failed, nothing of
        # it runs, and nothing will start it again.
        d.request({"command": "kill", "vms": storm.names})

        def all_down():
            return all(v["position"] in DOWN and v["pid"] is None and
                       v["intent"] not in ("up", "restart")
                       for v in storm.positions().values())
        wait_for(all_down, 120, "every VM to be stopped or failed")
        assert hypervisors(d.token) == {}
        assert d.running(), "vmstated died"
    except AssertionError as e:
        storm.done.set()
        raise AssertionError("%s\n%s" % (e, storm.report())) from None
    finally:
        storm.done.set()
        mon.join(120)
    assert not storm.duplicates, storm.report()
    # Nothing of the VMs runs; the daemon exits as asked.
    assert d.stop(60) == 0, storm.report()
    left = [p for p in d.leftovers()]
    assert left == [], left
    assert "outside the table" not in d.stderr()
