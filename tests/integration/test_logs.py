"""The per-VM log, LOGDIR/<vm>.log (SPEC section 8): the hypervisor's and
the hooks' output, one line per state change, and reopening on SIGHUP or
reload for newsyslog/logrotate.
"""

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from vmstated_harness import REPO, wait_for

# 2026-11-26T23:50:01Z vmstated: bsdvm: stopped -> start_network
#     (reason request, by uid 0)
TRANSITION = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ vmstated: (?P<vm>\S+): "
    r"(?P<from>[a-z_]+) -> (?P<to>[a-z_]+) \(reason (?P<reason>[a-z-]+)"
    r"(?:, by uid (?P<uid>\d+))?\)$")


def start_running(d, vm):
    d.ctl("start", vm, check=0)
    return d.wait_state(vm, "running")


def transition_lines(text):
    return [line for line in text.splitlines() if " -> " in line]


def test_log_holds_the_hypervisors_stdout_and_stderr(vmstated):
    d = vmstated
    d.add_vm("vm1", standin={"stdout": "guest says hello on stdout",
                             "stderr": "guest says hello on stderr"})
    d.start()
    start_running(d, "vm1")
    log = d.wait_log("vm1", "guest says hello on stdout")
    assert "guest says hello on stderr" in d.wait_log(
        "vm1", "guest says hello on stderr")
    assert log.count("guest says hello on stdout") == 1


def test_log_holds_the_hooks_stdout_and_stderr(vmstated):
    d = vmstated
    d.add_vm("vm1", hooks={
        "start_network": "echo network hook on stdout\n"
                         "echo network hook on stderr >&2",
        "stopped": "echo stopped hook on stdout"})
    d.start()
    start_running(d, "vm1")
    log = d.log("vm1")
    assert "network hook on stdout\n" in log
    assert "network hook on stderr\n" in log
    d.ctl("stop", "vm1", check=0)
    d.wait_log("vm1", "stopped hook on stdout")


def test_log_has_one_line_per_transition_with_reason_and_uid(vmstated):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    start_running(d, "vm1")
    d.ctl("stop", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    lines = transition_lines(d.log("vm1"))
    matches = [TRANSITION.match(line) for line in lines]
    assert all(matches), lines
    assert [(m["from"], m["to"], m["reason"], m["uid"]) for m in matches] \
        == [("stopped", "start_network", "request", str(os.getuid())),
            ("start_network", "start_storage", "request", None),
            ("start_storage", "running", "request", None),
            ("running", "stopping", "request", str(os.getuid())),
            ("stopping", "stop_storage", "request", None),
            ("stop_storage", "stop_network", "request", None),
            ("stop_network", "stopped", "request", None)]
    assert {m["vm"] for m in matches} == {"vm1"}


def test_log_transitions_the_guest_caused_name_no_uid(vmstated):
    d = vmstated
    d.add_vm("vm1", standin={"exit": 1, "delay": "0.2"})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_log("vm1", "stop_network -> stopped")
    matches = [TRANSITION.match(line)
               for line in transition_lines(d.log("vm1"))]
    stopping = [m for m in matches if m["to"] == "stopping"]
    assert len(stopping) == 1
    assert stopping[0]["reason"] == "guest-poweroff"
    assert stopping[0]["uid"] is None


def test_each_vm_has_a_log_of_its_own(vmstated):
    d = vmstated
    d.add_vm("vm1", standin={"stdout": "I am vm1"})
    d.add_vm("vm2", standin={"stdout": "I am vm2"})
    d.start()
    for vm in ("vm1", "vm2"):
        start_running(d, vm)
    d.wait_log("vm1", "I am vm1")
    d.wait_log("vm2", "I am vm2")
    assert "vm2" not in d.log("vm1")
    assert "vm1" not in d.log("vm2")


def rotate_and(d, reopen):
    """Start vm1, move its log aside, call reopen() (which returns once
    the daemon has reopened its logs), stop vm1; return (old log text,
    new log text).  The new log is made by the next line written."""
    d.add_vm("vm1", record_hooks=True,
             hooks={"stopping": "echo stopping hook output"})
    d.start()
    start_running(d, "vm1")
    d.wait_hook("vm1", "running")
    log = d.logdir / "vm1.log"
    rotated = d.logdir / "vm1.log.0"
    log.rename(rotated)
    reopen()
    d.ctl("stop", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    d.wait_log("vm1", "stop_network -> stopped")
    return rotated.read_text(), log.read_text()


def signal_and_wait(d, sig, said):
    """Send sig to the daemon; return once its stderr says it acted."""
    before = d.stderr().count(said)
    d.signal(sig)
    wait_for(lambda: d.stderr().count(said) > before,
             what="the daemon to say %r" % said, details=d.stderr)


def test_sighup_reopens_the_logs(vmstated):
    d = vmstated
    old, new = rotate_and(d, lambda: signal_and_wait(
        d, signal.SIGHUP, "reload: "))
    assert "start_storage -> running" in old
    assert "running -> stopping" not in old
    assert "running -> stopping" in new
    assert "stopping hook output" in new
    assert "start_storage -> running" not in new


def test_reload_reopens_the_logs(vmstated):
    d = vmstated
    old, new = rotate_and(d, lambda: d.ctl("reload", check=0))
    assert "start_storage -> running" in old
    assert "running -> stopping" in new
    assert "running -> stopping" not in old


ALL_HOOKS = ["start_network", "start_storage", "running", "stopping",
             "stop_storage", "stop_network", "stopped"]


def start_and_stop(d, vm):
    d.ctl("start", vm, check=0)
    d.wait_state(vm, "running")
    d.ctl("stop", vm, check=0)
    d.wait_state(vm, "stopped")
    assert d.wait_hook(vm, "stopped") == ALL_HOOKS


def log_complaints(d, vm):
    """The daemon's reports that the VM's log does not work."""
    return [line for line in d.stderr().splitlines()
            if "vmstated: %s: " % vm in line and " log" in line
            and "supervision goes on" in line]


@pytest.fixture
def full_logdir(vmstated, tmp_path):
    """The daemon's logdir on a 16 KiB tmpfs; fill() fills it up."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    d = vmstated
    d.logdir = tmp_path / "fulllog"
    d.logdir.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k,mode=0755",
                    "tmpfs", str(d.logdir)], check=True)

    def fill():
        fd = os.open(d.logdir / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError:
            pass
        os.close(fd)
    try:
        yield fill
    finally:
        d.cleanup()
        subprocess.run(["umount", "-l", str(d.logdir)])


def test_a_log_on_a_full_disk_stops_nothing_and_its_lines_go_to_syslog(
        vmstated, full_logdir):
    d = vmstated
    d.add_vm("vm1", record_hooks=True)
    d.start()
    full_logdir()
    start_and_stop(d, "vm1")
    # Reported once, not once per line.
    complaints = log_complaints(d, "vm1")
    assert len(complaints) == 1, complaints
    assert "No space left on device" in complaints[0]
    # The daemon's lines that could not reach the log are in syslog
    # (stderr with -f) instead of being lost: who asked, the command
    # line, how the hypervisor ended.
    err = d.stderr()
    for line in ("stopped -> start_network (reason request, by uid 0)",
                 "exec: %s -k " % (d.build / "bhyve-standin"),
                 "stop_network -> stopped (reason request"):
        assert "vmstated: vm1: " + line in err, err
    assert re.search(r"vmstated: vm1: hypervisor pid \d+ ended", err), err
    # Room again: SIGHUP tries at once, and it says so.
    (d.logdir / "filler").unlink()
    d.signal(signal.SIGHUP)
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "running")
    wait_for(lambda: "vm1: writing to its log works again" in d.stderr(),
             what="the recovery to be reported", details=d.stderr)
    d.wait_log("vm1", "start_storage -> running")


def test_a_log_that_cannot_be_opened_is_reported_once(vmstated):
    d = vmstated
    (d.logdir / "vm1.log").mkdir()           # open(2) fails: EISDIR
    d.add_vm("vm1", record_hooks=True)
    d.start()
    start_and_stop(d, "vm1")
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "running")
    # Reported once, not at every line.
    complaints = [line for line in d.stderr().splitlines()
                  if "vm1: cannot open log" in line]
    assert len(complaints) == 1, complaints
    assert "cannot open log %s: Is a directory" % (
        d.logdir / "vm1.log") in complaints[0]
    assert ("vmstated: vm1: stopped -> start_network (reason request, by "
            "uid 0)" in d.stderr())


def test_a_link_planted_at_the_log_is_not_followed(vmstated, tmp_path):
    # Whoever could plant it would have root append the VM's log and
    # console to a file of their choice, or create one.
    d = vmstated
    target = tmp_path / "precious"
    target.write_text("precious\n")
    (d.logdir / "vm1.log").symlink_to(target)
    (d.logdir / "vm2.log").symlink_to(tmp_path / "created-by-root")
    d.add_vm("vm1", record_hooks=True)
    d.add_vm("vm2")
    d.start()
    start_and_stop(d, "vm1")
    assert target.read_text() == "precious\n"
    assert not os.path.lexists(tmp_path / "created-by-root")
    complaints = log_complaints(d, "vm1")
    assert len(complaints) == 1, complaints
    assert ("log %s is a symbolic link; vmstated does not follow links to "
            "the files it writes: remove it" % (d.logdir / "vm1.log")
            in complaints[0])


def state_file(d, vm, run):
    """The VM's state file as a dict: its first line (padded with spaces;
    the rest of the file is room for the running hook's end)."""
    return json.loads((run / ("%s.state" % vm)).read_text().split("\n")[0])


def fill(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096) > 0:
            pass
    except OSError:
        pass
    os.close(fd)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")
def test_a_full_run_directory_refuses_a_first_start_and_stops_nothing_else(
        vmstated, tmp_path):
    # The state files live in rundir; fill a tiny tmpfs there.
    d = vmstated
    run = tmp_path / "fullrun"
    run.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755",
                    "tmpfs", str(run)], check=True)
    try:
        d.conf_settings["rundir"] = str(run)
        d.add_vm("vm1", record_hooks=True)
        d.add_vm("vm2", record_hooks=True)
        d.start()
        # vm2 has its state file already: started once.
        d.ctl("-w", "start", "vm2", check=0)
        d.ctl("-w", "stop", "vm2", check=0)
        fill(run / "filler")
        # A VM whose state cannot be recorded is not started: a daemon
        # started again would not know of its hypervisor.
        rc, out, err = d.ctl("start", "vm1")
        assert rc == 1
        assert ("cannot record its state in %s: No space left on device"
                % (run / "vm1.state")) in err
        assert d.state("vm1") == "stopped"
        assert d.hook_order("vm1") == []
        # The other VM's file is written in place: it starts and stops,
        # and its file follows it.
        d.ctl("-w", "start", "vm2", check=0)
        assert state_file(d, "vm2", run)["state"] == "running"
        d.ctl("-w", "stop", "vm2", check=0)
        assert state_file(d, "vm2", run)["state"] == "stopped"
        assert d.wait_hook("vm2", "stopped", times=2)[-4:] == [
            "stopping", "stop_storage", "stop_network", "stopped"]
        assert "state file" not in d.stderr()
        # Room again: vm1 starts.
        (run / "filler").unlink()
        d.ctl("-w", "start", "vm1", check=0)
        d.stop()
    finally:
        # -l (lazy) is Linux's; FreeBSD's umount forces with -f.
        subprocess.run(["umount", "-l" if sys.platform.startswith("linux")
                        else "-f", str(run)])


# ---- sources, rotation, `vmstatedctl log` (vmstated(8) LOGS) ------------

LPC = "pci.0.31.0.device=lpc\n"
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "


def test_each_line_says_its_source(vmstated):
    d = vmstated
    d.add_vm("vm1", standin={"console": "the guest speaks"},
             bhyve_config=LPC,
             hooks={"start_network": "echo the hook speaks\n"
                                     "printf 'no end of line'"})
    d.start()
    start_running(d, "vm1")
    d.wait_log("vm1", "the guest speaks")
    lines = d.log("vm1").splitlines()
    assert [l for l in lines if re.fullmatch(
        STAMP + r"hook start_network: the hook speaks", l)]
    # A hook's line without its end is a line of its own.
    assert [l for l in lines if re.fullmatch(
        STAMP + r"hook start_network: no end of line", l)]
    assert [l for l in lines if re.fullmatch(
        STAMP + r"console: the guest speaks", l)]
    assert [l for l in lines if re.fullmatch(
        STAMP + r"vmstated: vm1: start_storage -> running \(reason "
        r"request\)", l)]


def test_sigusr1_reopens_the_logs(vmstated):
    d = vmstated
    old, new = rotate_and(d, lambda: signal_and_wait(
        d, signal.SIGUSR1, "SIGUSR1: reopening the VM logs"))
    assert "start_storage -> running" in old
    assert "running -> stopping" not in old
    assert "running -> stopping" in new
    assert "stopping hook output" in new


def test_reopen_reopens_the_logs(vmstated):
    d = vmstated
    old, new = rotate_and(d, lambda: d.ctl("reopen", check=0))
    assert "running -> stopping" in new
    assert "running -> stopping" not in old


def ticks(text):
    return [int(n) for n in re.findall(r"console: standin: tick (\d+)",
                                       text)]


def test_logrotate_rotates_under_a_running_vm_and_loses_nothing(
        vmstated, tmp_path):
    """The file `make install` puts in /etc/logrotate.d, really run:
    every line the guest printed is in the old log or the new one, once,
    and what came after the rotation is in the new one."""
    logrotate = "/usr/sbin/logrotate"
    if not os.path.exists(logrotate):
        pytest.skip("logrotate is not installed (apt-get install "
                    "logrotate)")
    d = vmstated
    d.add_vm("vm1", standin={"console_every": "0.02"}, bhyve_config=LPC,
             record_hooks=True)
    d.start()
    start_running(d, "vm1")
    wait_for(lambda: len(ticks(d.log("vm1"))) >= 20, what="20 ticks")
    template = (REPO / "rc" / "vmstated.logrotate.in").read_text()
    conf = tmp_path / "logrotate.conf"
    conf.write_text(template.replace("@LOGDIR@", str(d.logdir))
                    .replace("@PIDFILE@", str(d.pidfile)))
    p = subprocess.run([logrotate, "-f", "-s", str(tmp_path / "state"),
                        str(conf)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rotated = d.logdir / "vm1.log.1"
    assert rotated.exists()
    wait_for(lambda: len(ticks(d.log("vm1"))) >= 20,
             what="20 ticks in the new log", details=d.stderr)
    d.ctl("-w", "stop", "vm1", check=0)
    old, new = ticks(rotated.read_text()), ticks(d.log("vm1"))
    assert old and new
    assert old + new == list(range(1, len(old) + len(new) + 1))
    assert "running -> stopping" in d.log("vm1")
    assert "running -> stopping" not in rotated.read_text()


def test_log_max_size_moves_the_logs_aside_itself(vmstated):
    d = vmstated
    d.conf_settings.update({"log_max_size": "4K", "log_keep": 2})
    d.add_vm("vm1", standin={"console_every": "0.01"}, bhyve_config=LPC)
    d.start()
    start_running(d, "vm1")
    second = d.logdir / "vm1.log.2"
    wait_for(second.exists, what="vm1.log.2", details=d.stderr)
    wait_for(lambda: len(ticks(d.log("vm1"))) >= 5,
             what="a new vm1.log after vm1.log.2")
    d.ctl("-w", "stop", "vm1", check=0)
    assert not (d.logdir / "vm1.log.3").exists()
    files = [second, d.logdir / "vm1.log.1", d.logdir / "vm1.log"]
    assert all(f.stat().st_size <= 4096 for f in files), \
        [f.stat().st_size for f in files]
    # In order, none lost in between.
    found = [ticks(f.read_text()) for f in files]
    joined = found[0] + found[1] + found[2]
    assert joined == list(range(joined[0], joined[0] + len(joined)))


def test_log_max_size_must_be_a_size(vmstated):
    d = vmstated
    d.conf_settings["log_max_size"] = "lots"
    d.write_conf()
    p = subprocess.run([str(d.build / "vmstated"), "-n", "-c",
                        str(d.conf)], capture_output=True, text=True)
    assert p.returncode == 1
    assert "log_max_size" in p.stderr and "K/M/G/T" in p.stderr


def daemon_log_fds(d):
    """The daemon's descriptors open on files of logdir (Linux /proc)."""
    fds = []
    for fd in os.listdir("/proc/%d/fd" % d.proc.pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (d.proc.pid, fd))
        except OSError:
            continue
        if target.startswith(str(d.logdir) + "/"):
            fds.append((int(fd), target))
    return fds


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"),
                    reason="reads the daemon's descriptors in Linux's /proc")
def test_a_stopped_vm_holds_no_log_descriptor(vmstated):
    d = vmstated
    for i in range(30):
        d.add_vm("vm%02d" % i)
    d.start()
    d.ctl("reload", check=0)        # writes a line to no log
    assert daemon_log_fds(d) == []
    d.ctl("-w", "start", "vm07", check=0)
    assert [t for _, t in daemon_log_fds(d)] == [
        str(d.logdir / "vm07.log")]
    d.ctl("-w", "stop", "vm07", check=0)
    wait_for(lambda: daemon_log_fds(d) == [], what="the log to be closed",
             details=lambda: repr(daemon_log_fds(d)))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"),
                    reason="reads descriptors' flags in Linux's /proc")
def test_a_hypervisor_never_shares_the_daemons_log_description(vmstated):
    """bhyve's "stdio" console sets O_NONBLOCK on its stdout with F_SETFL,
    which clears O_APPEND too: on a description shared with the daemon,
    the daemon's lines would have lost O_APPEND as well."""
    d = vmstated
    d.add_vm("vm1", standin={"console": "on stdio"},
             bhyve_config=LPC + "lpc.com1.path=stdio\n")
    d.start()
    start_running(d, "vm1")
    d.wait_log("vm1", "on stdio")
    pid = d.status("vm1")["pid"]

    def flags(p, fd):
        with open("/proc/%d/fdinfo/%d" % (p, fd)) as f:
            return int(re.search(r"flags:\s+(\d+)", f.read()).group(1), 8)
    hv = flags(pid, 1)
    assert hv & os.O_NONBLOCK and not hv & os.O_APPEND
    mine = daemon_log_fds(d)
    assert len(mine) == 1
    assert flags(d.proc.pid, mine[0][0]) & os.O_APPEND
    d.ctl("-w", "stop", "vm1", check=0)
    assert TRANSITION.match([l for l in d.log("vm1").splitlines()
                             if "stop_network -> stopped" in l][0])


def test_log_prints_the_log_and_its_last_lines(vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True)
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    d.ctl("-w", "stop", "vm1", check=0)
    text = d.log("vm1")
    _, out, _ = d.ctl("log", "vm1", check=0)
    assert out == text
    _, out, _ = d.ctl("log", "-n", "3", "vm1", check=0)
    assert out == "".join(text.splitlines(True)[-3:])
    _, out, _ = d.ctl("-n", "1", "log", "vm1", check=0)
    assert out == text.splitlines(True)[-1]
    _, out, _ = d.ctl("log", "-n", "0", "vm1", check=0)
    assert out == ""
    rc, _, err = d.ctl("log", "nosuchvm")
    assert rc == 1 and 'no VM named "nosuchvm"' in err
    rc, _, err = d.ctl("log", "-n", "x", "vm1")
    assert rc == 2 and "-n wants a number of lines" in err


def test_log_f_follows_the_log_across_a_rotation(vmstated):
    from vmstated_harness import CtlStream
    d = vmstated
    d.add_vm("vm1", standin={"console_every": "0.1"}, bhyve_config=LPC)
    d.start()
    follow = CtlStream(d, "log", "-f", "-n", "0", "vm1")
    try:
        d.ctl("start", "vm1", check=0)
        follow.wait_line(STAMP + r"console: standin: tick 3")
        (d.logdir / "vm1.log").rename(d.logdir / "vm1.log.1")
        d.ctl("reopen", check=0)
        # A tick written after the rotation reaches the follower.
        wait_for(lambda: ticks((d.logdir / "vm1.log").read_text()
                               if (d.logdir / "vm1.log").exists() else ""),
                 what="a tick in the new log")
        first_new = ticks((d.logdir / "vm1.log").read_text())[0]
        follow.wait_line(STAMP + r"console: standin: tick %d" % first_new)
        seen = ticks("\n".join(follow.lines))
        assert seen == list(range(seen[0], seen[0] + len(seen)))
    finally:
        follow.stop()
