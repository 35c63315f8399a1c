"""vmstated_harness: run vmstated in a temporary directory and talk to it.

Shared by tests/integration (bhyve stand-ins) and tests/e2e (real qemu).
A test gets a `Daemon` from the `vmstated` fixture of its conftest.py:

    def test_start(vmstated):
        vmstated.add_vm("vm1", hooks={"start_network": "exit 0"})
        vmstated.start()
        vmstated.ctl("start", "vm1", check=0)
        vmstated.wait_state("vm1", "running")
        assert vmstated.hook_order("vm1") == [...]

Everything lives under one temporary directory: the configuration
directory (CONF), the VM logs (LOG), the stand-ins' records (RECORDS), the
simulated /dev/vmm (VMM), the daemon's stderr.  The socket and the run
directory sit in a short directory under /tmp, because UNIX socket paths
are limited to about 100 bytes.

A daemon can run with the clock shifter preloaded (preload_clockshift(),
then shift_clock(seconds)): its wall clock steps, its monotonic clock
does not.

Programs are found in $VMSTATED_BUILD (default <repo>/build).  Waits poll
with a short interval and a generous bound; nothing sleeps a fixed time.
Teardown kills whatever the test left running: the daemon, hypervisors,
hooks and their children, found by a token in their environment or by the
temporary directory in their command line.
"""

import json
import re
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# States of SPEC section 5, in the order a VM meets them.
STATES = ("stopped", "start_network", "start_storage", "running",
          "restarting", "restarted", "stopping", "stop_storage",
          "stop_network", "failed")

# What the recording hook writes, one tab-separated line per hook run.
HOOK_ENV = ("VMSTATED_STATE", "VMSTATED_REASON", "VMSTATED_PREVIOUS_STATE",
            "VMSTATED_VM", "VMSTATED_PID", "VMSTATED_EXIT_STATUS",
            "VMSTATED_CONFIGDIR")

# vmstated refuses files that group or others may write (vmstated(8)
# SECURITY): whatever the umask the suite is run with, what the tests
# write is 0644 and their directories 0755.
os.umask(0o022)

# The start of each of the daemon's own lines in a VM log (vmstated(8)).
DAEMON_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ vmstated: "
                         r"([^:\s]+): (.*)$")

POLL = 0.02          # seconds between two looks at a condition
TIMEOUT = 60         # default bound for any wait


def build_dir():
    """The directory holding the built programs ($VMSTATED_BUILD)."""
    d = Path(os.environ.get("VMSTATED_BUILD", "build"))
    return d if d.is_absolute() else REPO / d


def program(name):
    """Absolute path of a built program (vmstated, bhyve-standin...)."""
    return build_dir() / name


def wait_for(predicate, timeout=TIMEOUT, what="condition", details=None):
    """Poll predicate() until it returns something true; return that.

    On timeout raise AssertionError naming `what`, with details() (if
    given) appended, so that the failure explains itself."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            msg = "timed out after %gs waiting for %s" % (timeout, what)
            if details is not None:
                msg += "\n" + details()
            raise AssertionError(msg)
        time.sleep(POLL)


def ucl_value(value, indent="\t"):
    """A Python value as UCL text (dicts become sections)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(ucl_value(v, indent) for v in value) + "]"
    if isinstance(value, dict):
        inner = "".join("%s\t%s\n" % (indent, ucl_entry(k, v, indent + "\t"))
                        for k, v in value.items())
        return "{\n" + inner + indent + "}"
    return json.dumps(str(value))


def ucl_entry(key, value, indent="\t"):
    if isinstance(value, dict):
        return "%s %s" % (key, ucl_value(value, indent))
    return "%s = %s;" % (key, ucl_value(value, indent))


def ucl_document(name, settings):
    """`name { key = value; ... }` as the man page writes it."""
    return "%s %s\n" % (name, ucl_value(settings, ""))


def write_file(path, data, mode=0o644):
    """Write a file (str or bytes) with exactly this mode, whatever the
    umask: vmstated refuses files that group or others may write."""
    path = Path(path)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    path.chmod(mode)
    return path


def read_json_lines(path):
    """Every JSON line of a file (missing file: [])."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def hook_script(body, record_line=None):
    """A hook's text: #!/bin/sh unless body has its own #!, with the
    recording line first so the hook is seen even when it then fails."""
    if body.startswith("#!"):
        first, _, rest = body.partition("\n")
    else:
        first, rest = "#!/bin/sh", body
    lines = [first]
    if record_line:
        lines.append(record_line)
    lines.append(rest)
    return "\n".join(lines).rstrip("\n") + "\n"


def connect_unix(path, timeout=TIMEOUT):
    """A connected AF_UNIX stream socket with timeout set.  Python's
    timeouts make the socket non-blocking, and Linux then answers a
    connect() to a full listen queue with EAGAIN at once, where a
    blocking client (vmstatedctl) would wait: wait the same way."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(str(path))
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.005)
        except BaseException:
            s.close()
            raise


class Events:
    """A connection subscribed to the daemon's state events."""

    def __init__(self, sock_path, timeout=TIMEOUT):
        self.sock = connect_unix(sock_path, timeout)
        self.file = self.sock.makefile("rb")
        self.sock.sendall(b'{"command": "events"}\n')
        reply = json.loads(self.file.readline())
        if not reply.get("ok"):
            raise AssertionError("events refused: %r" % reply)
        self.seen = []

    def next(self, timeout=TIMEOUT):
        """The next event (a dict); AssertionError after timeout."""
        self.sock.settimeout(timeout)
        try:
            line = self.file.readline()
        except socket.timeout:
            raise AssertionError("no event within %gs; seen %r"
                                 % (timeout, self.seen))
        if not line:
            raise AssertionError("the daemon closed the events stream; "
                                 "seen %r" % self.seen)
        event = json.loads(line)
        self.seen.append(event)
        return event

    def wait(self, predicate, timeout=TIMEOUT, what="event"):
        """Read events until predicate(event) holds; return that event."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for %s; seen %r"
                                     % (what, self.seen))
            event = self.next(left)
            if predicate(event):
                return event

    def close(self):
        self.file.close()
        self.sock.close()


class Daemon:
    """One vmstated under test, with its configuration directory."""

    def __init__(self, root, defaults=None, conf=None, build=None):
        self.root = Path(root)
        self.build = Path(build) if build else build_dir()
        self.short = Path(tempfile.mkdtemp(prefix="vsd-", dir="/tmp"))
        self.conf = self.root / "conf"
        self.logdir = self.root / "log"
        self.records = self.root / "records"
        self.vmm = self.root / "vmm"
        self.rundir = self.short / "run"
        self.sock = self.short / "vmstated.sock"
        self.pidfile = self.short / "vmstated.pid"
        self.stderr_path = self.root / "vmstated.stderr"
        self.bhyvectl_log = self.root / "bhyvectl.jsonl"
        self.hook_log = self.root / "hooks.txt"
        self.hook_env_log = self.root / "hooks-env.txt"
        self.bootrom = self.root / "BHYVE_UEFI.fd"
        # vmstated trusts only files and directories that root alone can
        # change (vmstated(8) SECURITY): whatever the umask, everything
        # it reads or runs is created 0755 / 0644.
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(self.root.stat().st_mode & 0o7755)
        for d in (self.conf, self.logdir, self.records, self.vmm):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o755)
        write_file(self.bootrom, b"\0" * 4096)
        self.token = "vmstated-test-" + uuid.uuid4().hex
        self.env = dict(os.environ)
        self.env.update({
            "VMSTATED_TEST_TOKEN": self.token,
            "VMSTATED_STANDIN_VMM": str(self.vmm),
            "VMSTATED_STANDIN_LOG": str(self.bhyvectl_log),
        })
        self.defaults = {"hooktimeout": 10, "stoptimeout": 10}
        self.defaults.update(defaults or {})
        self.conf_settings = {
            "rundir": str(self.rundir),
            "bhyve_path": str(self.build / "bhyve-standin"),
            "bhyvectl_path": str(self.build / "bhyvectl-standin"),
            "vmmdir": str(self.vmm),
        }
        self.conf_settings.update(conf or {})
        self.conf_text = None        # set it to write vmstated.conf verbatim
        self.preload = []            # shared objects LD_PRELOADed at start
        self.clock_file = None       # preload_clockshift()'s offset file
        self.proc = None
        self.stderr_file = None
        self.killed_at_teardown = []

    # ---- configuration ------------------------------------------------

    def write_conf(self):
        """Write CONF/vmstated.conf from conf_settings and defaults."""
        if self.conf_text is not None:
            text = self.conf_text
        else:
            settings = dict(self.conf_settings)
            if self.defaults:
                settings["defaults"] = dict(self.defaults)
            text = "".join(ucl_entry(k, v, "") + "\n"
                           for k, v in settings.items())
        write_file(self.conf / "vmstated.conf", text)

    def vm_dir(self, name):
        return self.conf / name

    def record_path(self, name):
        """The stand-in's record file for a VM."""
        return self.records / ("%s.jsonl" % name)

    def recording_line(self):
        """A shell line that logs the hook's state, reason and previous
        state to hooks.txt, and its environment to hooks-env.txt."""
        fields = "\\t".join("%s" for _ in HOOK_ENV)
        args = " ".join('"${%s-}"' % v for v in HOOK_ENV)
        return ('echo "$VMSTATED_VM $VMSTATED_STATE $VMSTATED_REASON '
                '$VMSTATED_PREVIOUS_STATE" >> %s; printf "%s\\n" %s >> %s'
                % (shlex.quote(str(self.hook_log)), fields, args,
                   shlex.quote(str(self.hook_env_log))))

    def add_vm(self, name, config=None, hooks=None, standin=None,
               bhyve_config="", bootrom=True, record_hooks=False,
               dirname=None):
        """Create CONF/<dirname or name>/ for a VM and return its path.

        config: the config file's text (str, written verbatim) or a dict
          of settings written as `name { ... }`; with a dict, configfile
          defaults to the VM's bhyve_config.
        standin: dict of stand-in keys (exit, delay, sigterm, ...), written
          as standin.<key>=<value> into bhyve_config.
        bhyve_config: extra key=value lines for bhyve_config.  The harness
          adds lpc.bootrom (unless bootrom=False) and standin.record.
          bhyve_config=None writes no bhyve_config (qemu VMs).
        hooks: {state: shell text}; record_hooks=True installs a recording
          hook for every state and prefixes the given hooks with it.
        """
        d = self.conf / (dirname or name)
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
        settings = None
        if config is None or isinstance(config, dict):
            settings = dict(config or {})
            if settings.get("hypervisor") == "qemu" and "configfile" \
                    not in settings:
                bhyve_config = None
            elif bhyve_config is not None:
                settings.setdefault("configfile", str(d / "bhyve_config"))
            settings = {k: v for k, v in settings.items() if v is not None}
            write_file(d / "config", ucl_document(name, settings))
        else:
            write_file(d / "config", config)
        if bhyve_config is not None:
            lines = []
            if bootrom:
                lines.append("lpc.bootrom=%s" % self.bootrom)
            lines.append("standin.record=%s" % self.record_path(name))
            for k, v in (standin or {}).items():
                lines.append("standin.%s=%s" % (k, v))
            text = "\n".join(lines) + "\n" + bhyve_config
            if text and not text.endswith("\n"):
                text += "\n"
            write_file(d / "bhyve_config", text)
        hooks = dict(hooks or {})
        record = self.recording_line() if record_hooks else None
        if record_hooks:
            for state in STATES:
                hooks.setdefault(state, "exit 0")
        for state, body in hooks.items():
            self.write_hook(d, state, body, record)
        return d

    def write_hook(self, vmdir, state, body, record=None):
        """Write an executable hook named after state into vmdir."""
        path = Path(vmdir) / state
        write_file(path, hook_script(body, record), 0o755)
        return path

    # ---- the daemon process -------------------------------------------

    def preload_clockshift(self):
        """Run the daemon (from its next start) with the clock shifter
        (tests/lib/clockshift.c) preloaded; its children inherit it.  The
        wall clock then follows shift_clock(); the monotonic clock does
        not.  Returns the offset file."""
        lib = self.build / "clockshift.so"
        if lib not in self.preload:
            self.preload.append(lib)
        self.clock_file = self.root / "clockshift"
        self.env["CLOCKSHIFT_FILE"] = str(self.clock_file)
        self.shift_clock(0)
        return self.clock_file

    def shift_clock(self, seconds):
        """Set the wall clock of the daemon and its children to real time
        plus seconds (an integer; negative steps back), at once."""
        tmp = self.clock_file.with_suffix(".new")
        tmp.write_text("%d\n" % seconds)
        os.replace(tmp, self.clock_file)

    def daemon_env(self):
        """The daemon's environment: self.env, plus the preloads.  A
        sanitizer runtime must come first in the library list unless told
        otherwise: ASAN_OPTIONS says so for a sanitized build."""
        env = dict(self.env)
        if self.preload:
            libs = [str(p) for p in self.preload]
            if env.get("LD_PRELOAD"):
                libs.append(env["LD_PRELOAD"])
            env["LD_PRELOAD"] = " ".join(libs)
            asan = env.get("ASAN_OPTIONS", "")
            env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + \
                "verify_asan_link_order=0"
        return env

    def command(self, *args):
        return [str(self.build / "vmstated"), "-f", "-c", str(self.conf),
                "-p", str(self.pidfile), "-s", str(self.sock),
                "-l", str(self.logdir)] + [str(a) for a in args]

    def start(self, *args, wait=True, timeout=TIMEOUT):
        """Write vmstated.conf, run vmstated -f in the background and, with
        wait, return once the socket answers `status`."""
        if not (self.conf / "vmstated.conf").exists():
            self.write_conf()
        self.stderr_file = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            self.command(*args), stdin=subprocess.DEVNULL,
            stdout=self.stderr_file, stderr=subprocess.STDOUT,
            env=self.daemon_env(), cwd=str(self.root))
        if wait:
            self.wait_ready(timeout)
        return self.proc

    def wait_ready(self, timeout=TIMEOUT):
        """Wait until the daemon answers a status request."""
        def ready():
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    "vmstated exited with status %s before answering:\n%s"
                    % (self.proc.returncode, self.stderr()))
            try:
                return self.request({"command": "status"}, timeout=5)
            except OSError:
                return None
        wait_for(ready, timeout, "vmstated to answer on %s" % self.sock,
                 self.stderr)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=TIMEOUT):
        """SIGTERM the daemon and wait for it to exit; return its status.
        If it is still there after timeout, kill it and fail."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(
                    "vmstated did not exit within %gs of SIGTERM; killed.\n"
                    "%s" % (timeout, self.stderr()))
        return self.proc.returncode

    def kill(self):
        """SIGKILL the daemon alone (its VMs keep running)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stderr(self):
        """What the daemon wrote to stdout and stderr so far."""
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def cleanup(self):
        """Teardown: stop the daemon (killing it if need be) and kill every
        process the test left behind.  Returns the list of leftovers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.killed_at_teardown = kill_leftovers(self.token, self.root)
        if self.stderr_file is not None:
            self.stderr_file.close()
        shutil.rmtree(self.short, ignore_errors=True)
        return self.killed_at_teardown

    def leftovers(self):
        """Processes started for this test that are still alive:
        [(pid, command line)]."""
        return find_processes(self.token, self.root)

    # ---- talking to it ------------------------------------------------

    def request(self, obj, timeout=TIMEOUT):
        """Send one protocol request (a dict) on the socket; return the
        decoded reply.  OSError when the daemon cannot be reached."""
        with connect_unix(self.sock, timeout) as s:
            s.sendall(json.dumps(obj).encode() + b"\n")
            with s.makefile("rb") as f:
                line = f.readline()
        if not line:
            raise ConnectionResetError("vmstated closed the connection")
        return json.loads(line)

    def ctl(self, *args, check=None, timeout=120, env=None):
        """Run vmstatedctl -s SOCK args...; return (status, stdout, stderr).
        check=N asserts the exit status is N."""
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run(
            [str(self.build / "vmstatedctl"), "-s", str(self.sock)]
            + [str(a) for a in args], stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout, env=e)
        if check is not None:
            assert p.returncode == check, (
                "vmstatedctl %s: exit %d, expected %d\nstdout: %s\n"
                "stderr: %s" % (" ".join(map(str, args)), p.returncode,
                                check, p.stdout, p.stderr))
        return p.returncode, p.stdout, p.stderr

    def status(self, vm=None):
        """The status of one VM (a dict), or of all VMs (a list), as
        `vmstatedctl -j status` reports it."""
        args = ["-j", "status"] + ([vm] if vm else [])
        rc, out, err = self.ctl(*args)
        assert rc == 0, "status failed (%d): %s%s" % (rc, out, err)
        reply = json.loads(out.splitlines()[0])
        vms = reply["vms"]
        if vm is None:
            return vms
        for v in vms:
            if v["name"] == vm:
                return v
        raise AssertionError("no VM %r in status: %r" % (vm, vms))

    def state(self, vm):
        """The VM's state, straight from the socket (cheap to poll)."""
        reply = self.request({"command": "status", "vms": [vm]})
        for v in reply.get("vms", []):
            if v["name"] == vm:
                return v["state"]
        raise AssertionError("no VM %r in status: %r" % (vm, reply))

    def wait_state(self, vm, state, timeout=TIMEOUT):
        """Wait until the VM is in state (a name, or a tuple of names);
        return its status."""
        wanted = (state,) if isinstance(state, str) else tuple(state)
        last = {}

        def reached():
            reply = self.request({"command": "status", "vms": [vm]})
            for v in reply.get("vms", []):
                if v["name"] == vm:
                    last["status"] = v
                    return v if v["state"] in wanted else None
            last["status"] = reply
            return None

        return wait_for(reached, timeout, "VM %s to reach %s" % (vm, state),
                        lambda: self.explain(vm, last.get("status")))

    def events(self):
        """Subscribe to state events; close() the result when done."""
        return Events(self.sock)

    def explain(self, vm, status=None):
        """A failure message: last status, the VM's log, daemon output."""
        return ("last status: %s\n--- %s.log ---\n%s--- vmstated stderr "
                "---\n%s" % (json.dumps(status), vm, tail(self.log(vm)),
                             tail(self.stderr())))

    # ---- what happened ------------------------------------------------

    def log(self, vm):
        """The VM's log file (LOGDIR/<vm>.log) as text ("" if absent)."""
        try:
            return (self.logdir / ("%s.log" % vm)).read_text(
                errors="replace")
        except FileNotFoundError:
            return ""

    def daemon_lines(self, vm):
        """The daemon's own lines of the VM log (each starts with its time
        and "vmstated: VM: "), without that prefix: a line that only holds
        such text further on (a guest's, a hook's) is not one."""
        out = []
        for line in self.log(vm).splitlines():
            m = DAEMON_LINE.match(line)
            if m and m.group(1) == vm:
                out.append(m.group(2))
        return out

    def transitions(self, vm):
        """The daemon's state-change lines of the VM log as
        (from, to, reason) tuples."""
        out = []
        for rest in self.daemon_lines(vm):
            if " -> " not in rest:
                continue
            change, _, why = rest.partition(" (reason ")
            frm, _, to = change.partition(" -> ")
            reason = why.split(",")[0].rstrip(")")
            out.append((frm.strip(), to.strip(), reason))
        return out

    def hook_order(self, vm):
        """"STATE REASON PREV" for each recorded hook run of the VM."""
        try:
            lines = self.hook_log.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [l.split(" ", 1)[1].rstrip() for l in lines
                if l.split(" ", 1)[0] == vm]

    def hook_states(self, vm):
        """The states of the VM's recorded hook runs, in order."""
        return [h.split(" ", 1)[0] for h in self.hook_order(vm)]

    def wait_hook(self, vm, state, times=1, timeout=TIMEOUT):
        """Wait until the VM's recorded `state` hook has started at least
        `times` times (both its hooks.txt and hooks-env.txt lines are
        there); return hook_states(vm)."""
        def recorded():
            calls = [c["VMSTATED_STATE"] for c in self.hook_calls(vm)]
            states = self.hook_states(vm)
            return (states.count(state) >= times
                    and calls.count(state) >= times and states)
        return wait_for(
            recorded,
            timeout, "hook %s of %s to run %d time(s)" % (state, vm, times),
            lambda: "hooks so far: %r\n%s" % (self.hook_order(vm),
                                              self.explain(vm)))

    def wait_log(self, vm, text, timeout=TIMEOUT):
        """Wait until the VM's log holds text; return the log."""
        return wait_for(lambda: text in self.log(vm) and self.log(vm),
                        timeout, "%r in %s.log" % (text, vm),
                        lambda: self.explain(vm))

    def hook_calls(self, vm):
        """The recorded hooks' VMSTATED_* environments, as dicts."""
        try:
            lines = self.hook_env_log.read_text().splitlines()
        except FileNotFoundError:
            return []
        calls = [dict(zip(HOOK_ENV, l.split("\t"))) for l in lines]
        return [c for c in calls if c.get("VMSTATED_VM") == vm]

    def standin_records(self, vm):
        """Every line the bhyve stand-in recorded for the VM."""
        return read_json_lines(self.record_path(vm))

    def standin_starts(self, vm):
        return [r for r in self.standin_records(vm)
                if r["event"] == "start"]

    def wait_standin_starts(self, vm, count=1, timeout=TIMEOUT):
        """Wait until the stand-in has recorded count starts of the VM
        (a VM enters running right after the exec, before the stand-in
        writes its record); return the start records."""
        return wait_for(
            lambda: (len(self.standin_starts(vm)) >= count
                     and self.standin_starts(vm)),
            timeout, "%d stand-in start(s) of %s" % (count, vm),
            lambda: self.explain(vm))

    def standin_exits(self, vm):
        return [r for r in self.standin_records(vm) if r["event"] == "exit"]

    def bhyvectl_calls(self, vm=None):
        """Every bhyvectl stand-in run (dicts), optionally for one VM."""
        calls = read_json_lines(self.bhyvectl_log)
        return [c for c in calls if vm is None or c.get("vm") == vm]

    def pid_alive(self, pid):
        return pid_alive(pid)


def tail(text, lines=40):
    return "\n".join(text.splitlines()[-lines:]) + "\n"


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def find_processes(token, root):
    """Live processes whose environment holds token, or whose command line
    names root: [(pid, command line)]."""
    found = []
    me = os.getpid()
    root = str(root)
    if os.path.isdir("/proc/self"):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            pid = int(entry)
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(
                        errors="replace").strip()
                try:
                    with open("/proc/%d/environ" % pid, "rb") as f:
                        env = f.read()
                except OSError:
                    env = b""
            except OSError:
                continue
            if (token.encode() in env or root in cmd) and pid_alive(pid):
                found.append((pid, cmd))
        return found
    out = subprocess.run(["ps", "-axwwo", "pid=,command="],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        pid, _, cmd = line.strip().partition(" ")
        if pid.isdigit() and int(pid) != me and root in cmd:
            found.append((int(pid), cmd))
    return found


def kill_leftovers(token, root, rounds=50):
    """SIGKILL every process find_processes() finds, until none is left
    (children may be forked meanwhile).  Returns what was killed."""
    killed = []
    for _ in range(rounds):
        procs = find_processes(token, root)
        if not procs:
            break
        for pid, cmd in procs:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append((pid, cmd))
            except ProcessLookupError:
                pass
        time.sleep(POLL)
    return killed


class Standin:
    """Run the bhyve stand-in directly (tests of the stand-in itself)."""

    def __init__(self, root, build=None):
        self.root = Path(root)
        self.build = Path(build) if build else build_dir()
        self.vmm = self.root / "vmm"
        self.vmm.mkdir(exist_ok=True)
        self.bootrom = self.root / "BHYVE_UEFI.fd"
        self.bootrom.write_bytes(b"\0" * 4096)
        self.record = self.root / "record.jsonl"
        self.ctl_log = self.root / "bhyvectl.jsonl"
        self.env = dict(os.environ)
        self.env.update({"VMSTATED_STANDIN_VMM": str(self.vmm),
                         "VMSTATED_STANDIN_LOG": str(self.ctl_log)})
        self.procs = []

    def config(self, name="vm", text="", bootrom=True, record=True,
               **standin):
        """Write a bhyve config file; return its path."""
        lines = []
        if name:
            lines.append("name=%s" % name)
        if bootrom:
            lines.append("lpc.bootrom=%s" % self.bootrom)
        if record:
            lines.append("standin.record=%s" % self.record)
        lines += ["standin.%s=%s" % (k, v) for k, v in standin.items()]
        path = self.root / ("%s.conf" % (name or "noname"))
        path.write_text("\n".join(lines) + "\n" + text)
        return path

    def spawn(self, *args, env=None, **popen):
        """Start bhyve-standin args... in the background (Popen); popen
        holds more Popen arguments (pass_fds, preexec_fn...)."""
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.Popen([str(self.build / "bhyve-standin")]
                             + [str(a) for a in args],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=e,
                             **popen)
        self.procs.append(p)
        return p

    def run(self, *args, env=None, timeout=TIMEOUT):
        """Run bhyve-standin args... to its end: (status, stdout, stderr);
        a negative status is the signal that killed it."""
        p = self.spawn(*args, env=env)
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err

    def bhyvectl(self, *args, env=None, timeout=TIMEOUT):
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run([str(self.build / "bhyvectl-standin")]
                           + [str(a) for a in args],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, env=e, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def records(self, event=None):
        recs = read_json_lines(self.record)
        return [r for r in recs if event is None or r["event"] == event]

    def ctl_calls(self):
        return read_json_lines(self.ctl_log)

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.communicate()


def require(*names):
    """Skip the test unless every named program is built."""
    import pytest
    for name in names:
        path = program(name)
        if not path.exists():
            pytest.skip("%s is not built (make %s)" % (path, path))


class CtlStream:
    """`vmstatedctl ARGS...` running in the background (events, -w), its
    stdout read by a thread so that a test can wait for lines without
    blocking."""

    def __init__(self, d, *args):
        import threading
        self.proc = subprocess.Popen(
            [str(d.build / "vmstatedctl"), "-s", str(d.sock), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=d.env)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, pattern, timeout=TIMEOUT):
        """The first line matching the regular expression, once there."""
        return wait_for(
            lambda: next((l for l in self.lines if re.fullmatch(pattern, l)),
                         None),
            timeout, "a line matching %r" % pattern,
            lambda: "lines: %r" % self.lines)

    def wait_lines(self, predicate, what, timeout=TIMEOUT):
        """Wait until predicate(lines) is true; return its value."""
        return wait_for(lambda: predicate(self.lines), timeout, what,
                        lambda: "lines: %r" % self.lines)

    def finish(self, timeout=TIMEOUT):
        """Wait for the exit; return (status, stderr)."""
        rc = self.proc.wait(timeout)
        self.reader.join(timeout)
        return rc, self.proc.stderr.read()

    def stop(self):
        """Terminate it (if it still runs) and release its pipes."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(TIMEOUT)
        self.reader.join(TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()


class ConsoleClient:
    """`vmstatedctl console [ARGS] VM` on a pseudo-terminal, as a person
    runs it: what it prints accumulates in .out (bytes), type() is the
    keyboard.  prefix: a command that runs it (setpriv ... as a user)."""

    def __init__(self, d, vm, *args, prefix=(), options=(), env=None):
        import pty
        argv = list(prefix) + [str(d.build / "vmstatedctl")] + \
            list(options) + ["-s", str(d.sock), "console"] + list(args) + \
            [vm]
        env = dict(d.env, **(env or {}))
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.out = b""
        self.status = None

    def pump(self):
        """Read what is there; False once the terminal is closed."""
        import select
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0)
            if not ready:
                return True
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            self.out += data

    def wait_output(self, text, timeout=TIMEOUT, after=0):
        """Wait until the output (from byte `after` on) holds text
        (bytes or str); return the output."""
        if isinstance(text, str):
            text = text.encode()
        wait_for(lambda: (self.pump() or True) and text in self.out[after:],
                 timeout, "%r on the console" % text,
                 lambda: "console output: %r" % self.out[-3000:])
        return self.out

    def type(self, data):
        """Keys, as typed on the terminal (bytes or str)."""
        if isinstance(data, str):
            data = data.encode()
        os.write(self.fd, data)

    def exited(self):
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = os.waitstatus_to_exitcode(status)
        self.pump()
        return self.status is not None

    def wait_exit(self, timeout=TIMEOUT):
        """Wait for the client's end; its exit status."""
        wait_for(self.exited, timeout, "vmstatedctl console to exit",
                 lambda: "console output: %r" % self.out[-3000:])
        return self.status

    def close(self):
        if not self.exited():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait_exit()
        os.close(self.fd)
