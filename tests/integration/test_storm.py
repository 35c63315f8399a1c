"""A request storm leaves nothing stuck (issue 10 item 3).

Clients send start, stop, restart, kill, failreset and reload at random
to ten VMs behind the bhyve stand-in -- some with hooks that take a little
time, some whose guests reboot, crash or power off now and then, one
whose guest ignores the power button, one whose start hook fails now and
then -- while reloads rewrite their configurations, in bursts and calm
spells.  Throughout, the daemon answers and no VM ever has two
hypervisors.  When the requests stop, half the VMs are killed at once:
those end stopped or failed, the others come to rest (stopped, failed or
running); after a kill of every VM, each is stopped or failed, with no
hypervisor, hook or helper left, and the daemon exits 0 on SIGTERM.

The same storm, shorter, under attack: the daemon SIGKILLed at random
instants and started again (every VM is taken back or torn down, none
runs twice); the daemon with few descriptors to spare; two hostile local
users holding connections, leaving lines half-sent and flooding the
socket with refused requests and garbage (root is served throughout,
their refusals are logged at a bounded rate).

The storm is bounded in time and in count, and replayable:

    VMSTATED_STORM_SECONDS   how long the clients send (default 20)
    VMSTATED_STORM_CLIENTS   how many clients (default 50)
    VMSTATED_STORM_REQUESTS  at most this many requests (default 100000)
    VMSTATED_STORM_SEED      the random seed (default 10); "random" picks
                             one.  The seed decides the VMs' guests and
                             each client's requests; the interleaving is
                             the machine's.

The attacks last half of VMSTATED_STORM_SECONDS.  The full run of the
issue, 50 clients for 40 s (the attacks 20 s), with what each storm did:

    VMSTATED_STORM_SECONDS=40 sh scripts/pytest -q -s tests/integration/test_storm.py

A failure prints the seed, what was sent, and each VM's position and
intent (vmstatedctl -j info NAME).
"""
import json
import os
import pwd
import random
import resource
import subprocess
import sys
import threading
import time
import uuid

import pytest

from vmstated_harness import connect_unix, pid_alive, tail, ucl_document, \
    wait_for, write_file

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


class Hypervisors:
    """The stand-in processes that run, by VM name: {name: [pid, ...]}.

    A stand-in is a hypervisor from the moment it records its start (its
    first act, in records/NAME.jsonl) until it is gone; the records are
    read as they grow.  Its pid must still run the stand-in (titled
    "bhyve: NAME" once up), not a hook that reused the number.  Whatever
    a stand-in forks does not count: a sanitizer's leak checker is such
    a process, with the stand-in's title, at its exit.  Without Linux's
    /proc, none is seen."""

    def __init__(self, d):
        self.d = d
        self.offsets = {}
        self.started = {}           # pid -> VM name
        self.lock = threading.Lock()

    def read_records(self):
        for path in self.d.records.glob("*.jsonl"):
            offset = self.offsets.get(path, 0)
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
            end = data.rfind(b"\n") + 1
            self.offsets[path] = offset + end
            for line in data[:end].splitlines():
                # A stand-in killed while it wrote its record left half a
                # line, which the next one's record follows.
                line = line[line.rfind(b'{"event": '):]
                if not line.startswith(b'{"event": "start"'):
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                self.started[rec["pid"]] = rec["vm"]

    def now(self):
        with self.lock:
            self.read_records()
        found = {}
        for pid, name in list(self.started.items()):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv0 = f.read().split(b"\0")[0]
            except OSError:
                continue
            if (argv0 == ("bhyve: %s" % name).encode() or
                    argv0.endswith(b"bhyve-standin")) and pid_alive(pid):
                found.setdefault(name, []).append(pid)
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
        self.seconds, self.clients = SECONDS, CLIENTS
        self.tolerate = False       # the daemon is killed now and then
        self.per_request = False    # one connection per request
        self.dropped = 0            # requests lost with a killed daemon
        self.expected = ()          # errors that may come: their words
        self.done = threading.Event()
        self.hypervisors = Hypervisors(d)

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
        try:
            self.requests(index)
        except Exception as e:      # a client that dies says why
            with self.lock:
                self.errors.append(("client %d died" % index, repr(e)))
            raise

    def requests(self, index):
        """One client: a connection it keeps (or one per request, with
        per_request), random requests until the storm ends.  While the
        daemon is being killed (tolerate), a connection that fails is
        made again a moment later."""
        rng = random.Random("%d/%d" % (self.seed, index))
        commands = [c for c, _ in COMMANDS]
        weights = [w for _, w in COMMANDS]
        sock = f = None
        while time.monotonic() < self.stop_at:
            with self.lock:
                if self.total >= REQUESTS:
                    break
                self.total += 1
            command = rng.choices(commands, weights)[0]
            req = {"command": command}
            if command == "reload":
                if rng.random() < 0.5:
                    self.rewrite_config(rng)
            else:
                req["vms"] = rng.sample(self.names,
                                        rng.choice((1, 1, 1, 2, 3)))
            try:
                if sock is None:
                    sock = connect_unix(self.d.sock, 60)
                    f = sock.makefile("rb")
                reply = self.request(sock, f, req)
            except (OSError, ValueError) as e:
                if f is not None:
                    f.close()
                if sock is not None:
                    sock.close()
                sock = f = None
                with self.lock:
                    if not self.tolerate:
                        self.errors.append(("client %d" % index, repr(e)))
                        break
                    self.dropped += 1
                time.sleep(0.05)
                continue
            with self.lock:
                self.sent[command] += 1
                if reply.get("ok"):
                    self.accepted[command] += 1
                elif ((command == "reload" or "results" not in reply) and
                      not any(e in reply.get("error", "")
                              for e in self.expected)):
                    self.errors.append((req, reply))
            if self.per_request:
                f.close()
                sock.close()
                sock = f = None
            self.pause(rng)
        if sock is not None:
            f.close()
            sock.close()

    def monitor(self):
        try:
            self.watch()
        except Exception as e:
            with self.lock:
                self.errors.append(("monitor died", repr(e)))
            raise

    def watch(self):
        """Until the storm ends: the daemon answers status (the longest
        wait is kept), and no VM has two hypervisors at once."""
        while not self.done.is_set():
            began = time.monotonic()
            try:
                self.d.request({"command": "status"}, timeout=60)
            except (OSError, ValueError) as e:
                with self.lock:
                    if not self.tolerate:
                        self.errors.append(("monitor", repr(e)))
            self.slowest = max(self.slowest, time.monotonic() - began)
            for name, pids in self.hypervisors.now().items():
                if len(pids) > 1:
                    with self.lock:
                        self.duplicates.append((time.monotonic(), name,
                                                pids))
            self.done.wait(0.2)

    def run(self, seconds, clients):
        self.seconds, self.clients = seconds, clients
        self.waves = self.plan_waves(seconds)
        if not self.began:
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
                 % (self.seed, self.seed, self.seconds, self.clients),
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


def settle(d, storm, mon, what="storm"):
    """After the storm: half the VMs killed at once end stopped or failed,
    the others come to rest; after a kill of all, each is stopped or
    failed with nothing of it running, and the daemon exits 0 on SIGTERM
    leaving nothing behind.  No VM ever had two hypervisors."""
    print("%s: seed %d, %g s, %d clients, %d requests: %r; accepted %r; "
          "lost with the daemon %d; slowest status %.2f s"
          % (what, storm.seed, storm.seconds, storm.clients, storm.total,
             storm.sent, storm.accepted, storm.dropped, storm.slowest))
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
        assert storm.hypervisors.now() == {}
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


def test_a_request_storm_leaves_every_vm_at_rest(vmstated):
    d = vmstated
    storm = Storm(d, SEED)
    storm.add_vms()
    d.start()
    mon = storm.run(SECONDS, CLIENTS)
    settle(d, storm, mon)


# ---- the daemon attacked during a storm (issue 10 item 3, brief item 4) ----

# The attacks run for half the storm's time.
ATTACK_SECONDS = SECONDS / 2


@pytest.mark.skipif(not os.path.isdir("/proc/self"),
                    reason="counts hypervisors in Linux's /proc")
def test_a_daemon_killed_at_random_instants_of_a_storm_loses_no_vm(
        vmstated):
    # SIGKILL at any instant, and a new daemon on the same directories:
    # each VM is taken back or torn down, never started twice, and at the
    # end nothing the killed daemons started is left unsupervised.
    d = vmstated
    storm = Storm(d, SEED)
    storm.tolerate = True
    storm.add_vms()
    d.start()
    kills = []

    def killer():
        rng = random.Random("%d/killer" % SEED)
        while True:
            time.sleep(rng.uniform(0.5, 3))
            if time.monotonic() >= storm.stop_at:
                break
            d.kill()
            kills.append(time.monotonic() - storm.began)
            d.start()
    storm.began = time.monotonic()
    storm.stop_at = storm.began + ATTACK_SECONDS
    k = threading.Thread(target=killer, daemon=True)
    k.start()
    mon = storm.run(ATTACK_SECONDS, CLIENTS)
    k.join(120)
    storm.tolerate = False
    print("the daemon was killed %d times, at %s s" % (
        len(kills), ", ".join("%.1f" % t for t in kills)))
    assert len(kills) >= 1
    settle(d, storm, mon, "storm with kills")


@pytest.mark.skipif(not hasattr(resource, "prlimit") or
                    not os.path.isdir("/proc/self/fd"),
                    reason="needs prlimit(2) and /proc")
def test_a_storm_with_few_descriptors_leaves_every_vm_at_rest(vmstated):
    # The daemon has 24 descriptors more than it holds at rest: clients,
    # hooks, helpers and hypervisors compete for them.
    d = vmstated
    storm = Storm(d, SEED)
    storm.per_request = True
    # A reload that cannot read the configuration changes nothing.
    storm.expected = ("Too many open files; nothing changed",)
    storm.add_vms()
    d.start()
    fds = len(os.listdir("/proc/%d/fd" % d.proc.pid))
    hard = resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE)[1]
    resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (fds + 24, hard))
    mon = storm.run(ATTACK_SECONDS, CLIENTS)
    log = d.stderr()
    print("%d lines say a descriptor was missing" %
          log.count("Too many open files"))
    assert "[warn]" not in log, log          # libevent's own complaints
    settle(d, storm, mon, "storm with few descriptors")


# What a hostile local user runs: idle connections up to near its cap, a
# subscription it never reads, half-sent lines, and four connections that
# send refused requests, garbage, overlong lines and reloads as fast as the
# daemon answers.  Prints how many replies it got.
HOSTILE = r"""if True:
    import json, socket, sys, threading, time
    path, seconds, names = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    end = time.monotonic() + seconds
    names = names.split(",")

    def connect():
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(path)
        return s
    held = []
    for i in range(48):
        try:
            held.append(connect())
        except OSError:
            break
    for s in held[:8]:
        try:
            s.sendall(b'{"command": "sta')
        except OSError:
            pass
    try:
        held[-1].sendall(b'{"command": "events"}\n')
    except (OSError, IndexError):
        pass
    lines = [json.dumps({"command": "start", "vms": names}).encode(),
             b"\x00\xff{{{ not json",
             b'{"command": "kill", "vms": ["' + b"A" * 70000 + b'"]}',
             json.dumps({"command": "reload"}).encode()]
    replies = [0] * len(lines)

    def flood(k):
        while time.monotonic() < end:
            try:
                s = connect()
                f = s.makefile("rb")
                while time.monotonic() < end:
                    s.sendall(lines[k] + b"\n")
                    if not f.readline():
                        break
                    replies[k] += 1
                s.close()
            except OSError:
                time.sleep(0.05)
    threads = [threading.Thread(target=flood, args=(k,))
               for k in range(len(lines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"held": len(held), "replies": replies}))
"""


@pytest.fixture
def hostile_users():
    """Two local users created for the test (useradd), removed after."""
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/useradd") or \
            not os.path.exists("/usr/bin/setpriv"):
        pytest.skip("needs root, useradd(8) and setpriv(1)")
    names = ["vmst-h%d-%s" % (i, uuid.uuid4().hex[:6]) for i in range(2)]
    made = []
    try:
        for name in names:
            subprocess.run(["useradd", "-M", "-N", "-d", "/nonexistent",
                            "-s", "/usr/sbin/nologin", name], check=True,
                           capture_output=True)
            made.append(name)
        yield names
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True)


def test_hostile_local_users_flooding_the_socket_during_a_storm(
        vmstated, hostile_users):
    # Root's storm goes on while two other users hold connections, leave
    # lines half-sent and flood the socket with refused requests and
    # garbage: root is served throughout, the VMs come to rest, nothing
    # the users asked for is done, and their refusals are logged at a
    # bounded rate.
    d = vmstated
    d.conf_settings["socket_mode"] = "0666"
    storm = Storm(d, SEED)
    storm.add_vms()
    d.start()
    d.short.chmod(0o755)
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
        else sys.executable
    attackers = [subprocess.Popen(
        ["/usr/bin/setpriv", "--reuid", user, "--regid",
         str(pwd.getpwnam(user).pw_gid), "--clear-groups", python, "-c",
         HOSTILE, str(d.sock), str(ATTACK_SECONDS), ",".join(storm.names)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for user in hostile_users]
    mon = storm.run(ATTACK_SECONDS, CLIENTS)
    results = []
    for p in attackers:
        out, err = p.communicate(timeout=ATTACK_SECONDS + 120)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    print("hostile users: %r" % results)
    assert all(sum(r["replies"]) > 0 for r in results), results
    log = d.stderr()
    denied = log.count("permission denied")
    print("%d lines of the log say permission denied" % denied)
    # At most 10 refusal lines per 5 s, and a count of those left out.
    assert denied <= 11 * (ATTACK_SECONDS / 5 + 3), denied
    for user in hostile_users:
        uid = pwd.getpwnam(user).pw_uid
        for name in storm.names:
            assert "by uid %d)" % uid not in d.log(name)
    settle(d, storm, mon, "storm with hostile users")
