"""Out of processes or descriptors, a VM waits instead of failing (issue 10
item 2, second half), against the bhyve stand-in.

A hypervisor, hook or helper that cannot be started for lack of resources
(EAGAIN from fork, EMFILE from pipe or open) has not failed: it is tried
again after 1 s, 2 s, 4 s..., the VM's log says "trying again in N s",
and it starts once resources are back.  A hypervisor's retries are counted
like crashes, so a VM whose resources never come back reaches failed only
through the restart window (reason restart-limit); a hook's or helper's
retries end with its time limit.

Processes run out as they do for a service under systemd's TasksMax: the
daemon is put into a pids cgroup whose pids.max leaves no room for a
child (root is not exempt).  Descriptors run out by lowering the running
daemon's RLIMIT_NOFILE to what it holds (prlimit(2)).
"""
import os
import re
import resource
import signal
import uuid
from pathlib import Path

import pytest

from vmstated_harness import pid_alive, wait_for

UP = "guest is up"


class PidsCgroup:
    """A pids cgroup (v1, or v2 with the pids controller) for the daemon."""

    def __init__(self):
        self.path = None
        name = "vmstated-test-" + uuid.uuid4().hex[:12]
        v1 = Path("/sys/fs/cgroup/pids")
        v2 = Path("/sys/fs/cgroup")
        try:
            if (v1 / "cgroup.procs").exists():
                self.parent = v1
            elif "pids" in (v2 / "cgroup.controllers").read_text().split():
                (v2 / "cgroup.subtree_control").write_text("+pids")
                self.parent = v2
            else:
                return
            path = self.parent / name
            path.mkdir()
            self.path = path
        except OSError:
            self.path = None

    def join(self, pid):
        (self.path / "cgroup.procs").write_text("%d\n" % pid)

    def limit(self, n):
        """Allow n tasks in the cgroup ("max": no limit)."""
        (self.path / "pids.max").write_text("%s\n" % n)

    def remove(self):
        if self.path is None:
            return
        try:
            self.limit("max")
            for pid in (self.path / "cgroup.procs").read_text().split():
                try:
                    (self.parent / "cgroup.procs").write_text(pid + "\n")
                except OSError:
                    pass
            self.path.rmdir()
        except OSError:
            pass


@pytest.fixture
def pids():
    if os.geteuid() != 0:
        pytest.skip("needs root to create a cgroup")
    cg = PidsCgroup()
    if cg.path is None:
        pytest.skip("no pids cgroup can be created here (cgroup v1 pids, "
                    "or v2 with the pids controller)")
    yield cg
    cg.remove()


def without_processes(d, cg):
    """Put the running daemon where it cannot start a process."""
    cg.join(d.proc.pid)
    cg.limit(1)


def info(d, vm):
    return d.request({"command": "info", "vms": [vm]})["vm"]


# ---- out of processes ------------------------------------------------------

def test_a_start_without_processes_is_tried_again_and_runs_later(
        vmstated, pids):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    without_processes(d, pids)
    d.ctl("start", "vm1", check=0)
    d.wait_log("vm1", "trying again in 1 s")
    log = d.log("vm1")
    assert "cannot start: cannot fork: Resource temporarily unavailable" \
        in log, log
    v = info(d, "vm1")
    assert (v["state"], v["position"]) == ("start_storage",
                                           "start_storage:retry"), v
    assert d.standin_starts("vm1") == []
    # Processes come back: it starts at its next try.
    pids.limit("max")
    status = d.wait_state("vm1", "running")
    assert d.wait_standin_starts("vm1")[-1]["pid"] == status["pid"]
    # Each try was counted as a crash.
    assert status["restarts"] >= 1, status
    assert "failed" not in [t[1] for t in d.transitions("vm1")]


def test_a_vm_whose_processes_never_come_back_fails_by_the_restart_limit(
        vmstated, pids):
    d = vmstated
    d.add_vm("vm1", {"maxrestart": 2, "maxrestarttime": 600})
    d.start()
    without_processes(d, pids)
    d.ctl("start", "vm1", check=0)
    status = d.wait_state("vm1", "failed")
    log = d.log("vm1")
    for wait in (1, 2, 4):
        assert "trying again in %d s" % wait in log, log
    assert "2 restarts within 600 s (maxrestart 2); giving up" in log, log
    assert info(d, "vm1")["fail_reason"] == "restart-limit"
    assert status["reason"] == "restart-limit", status
    assert d.standin_starts("vm1") == []


def test_a_crash_without_processes_restarts_once_they_are_back(
        vmstated, pids):
    # The respawn needs the destroy helper (bhyvectl) first: it waits too.
    d = vmstated
    d.add_vm("vm1", {"maxrestart": 10}, standin={"stdout": UP})
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    d.wait_log("vm1", UP)
    old = d.status("vm1")["pid"]
    without_processes(d, pids)
    os.kill(old, signal.SIGKILL)
    d.wait_log("vm1", "bhyvectl-standin: cannot fork: Resource temporarily "
               "unavailable; trying again in 1 s")
    wait_for(lambda: "trying again in 2 s" in d.log("vm1"),
             what="a second try of the helper", details=lambda: d.log("vm1"))
    assert d.state("vm1") == "restarting"
    pids.limit("max")
    wait_for(lambda: d.status("vm1")["pid"] not in (None, old) and
             d.state("vm1") == "running", what="vm1 to run again",
             details=lambda: d.explain("vm1"))
    assert "helper %s started" % (d.build / "bhyvectl-standin") in \
        d.log("vm1")
    assert "failed" not in [t[1] for t in d.transitions("vm1")]


def test_a_reboot_waiting_for_processes_reuses_no_instance_lost_its_bootrom(
        vmstated, pids):
    # The instance kept for a reboot waits with the respawn; if the
    # configfile no longer boots from a bootrom when processes come back,
    # the next bhyve would take it as bhyveload left it: destroyed first.
    d = vmstated
    d.add_vm("vm1", {"maxrestart": 10},
             standin={"stdout": UP, "sigterm": "reboot"})
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    d.wait_log("vm1", UP)
    without_processes(d, pids)
    os.kill(d.status("vm1")["pid"], signal.SIGTERM)  # the guest reboots
    d.wait_log("vm1", "trying again in 1 s")
    assert "the instance stays for the reboot" in d.log("vm1")
    conf = d.vm_dir("vm1") / "bhyve_config"
    conf.write_text("".join(line for line in
                            conf.read_text().splitlines(keepends=True)
                            if not line.startswith("lpc.bootrom=")))
    pids.limit("max")

    def instance_actions():
        return [r["action"] for r in d.standin_records("vm1")
                if r["event"] == "instance"]
    wait_for(lambda: "virtual machine cannot be booted" in d.log("vm1") or
             len(instance_actions()) > 1, what="the next bhyve's start",
             details=lambda: d.log("vm1"))
    assert instance_actions() == ["created"], instance_actions()
    assert len(d.bhyvectl_calls("vm1")) >= 1, d.log("vm1")


def test_a_hook_without_processes_is_tried_again(vmstated, pids):
    d = vmstated
    d.add_vm("vm1", record_hooks=True)
    d.start()
    without_processes(d, pids)
    d.ctl("start", "vm1", check=0)
    d.wait_log("vm1", "start_network: cannot fork: Resource temporarily "
               "unavailable; trying again in 1 s")
    assert d.hook_states("vm1") == []
    assert d.state("vm1") == "start_network"
    pids.limit("max")
    d.wait_state("vm1", "running")
    assert d.hook_states("vm1") == ["start_network", "start_storage",
                                    "running"]


def test_a_hook_that_cannot_start_within_its_time_limit_fails(
        vmstated, pids):
    d = vmstated
    d.add_vm("vm1", {"hooktimeout": 3}, record_hooks=True)
    d.start()
    without_processes(d, pids)
    d.ctl("start", "vm1", check=0)
    status = d.wait_state("vm1", "failed")
    pids.limit("max")
    log = d.log("vm1")
    assert "not started within 3 s" in log, log
    assert status["reason"] == "hook-failed", status


def test_a_kill_ends_a_hook_waiting_to_be_started(vmstated, pids):
    d = vmstated
    d.add_vm("vm1", {"hooktimeout": 600}, record_hooks=True)
    d.start()
    without_processes(d, pids)
    d.ctl("start", "vm1", check=0)
    d.wait_log("vm1", "trying again in 1 s")
    d.ctl("kill", "vm1", check=0)
    d.wait_log("vm1", "ended before it could be started")
    pids.limit("max")
    # Only the teardown ran: start_network never did.
    assert d.wait_hook("vm1", "stopped") == ["stop_network", "stopped"]
    d.wait_state("vm1", "stopped")


# ---- out of descriptors ----------------------------------------------------

def daemon_fds(d):
    return len(os.listdir("/proc/%d/fd" % d.proc.pid))


def without_descriptors(d):
    """Lower the daemon's open-file limit to what it holds once that has
    stopped changing (a client's socket is closed a turn of the loop
    after its request); return the limits to restore."""
    seen = []

    def steady():
        seen.append(daemon_fds(d))
        return len(seen) >= 5 and len(set(seen[-5:])) == 1
    wait_for(steady, what="the daemon's descriptors to stay the same",
             details=lambda: "counts: %r" % seen[-10:])
    limits = resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE,
                     (seen[-1], limits[1]))
    return limits


@pytest.mark.skipif(not hasattr(resource, "prlimit") or
                    not os.path.isdir("/proc/self/fd"),
                    reason="needs prlimit(2) and /proc")
def test_a_crash_without_descriptors_restarts_once_they_are_back(vmstated):
    d = vmstated
    d.add_vm("vm1", {"maxrestart": 10}, standin={"stdout": UP})
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    d.wait_log("vm1", UP)
    old = d.status("vm1")["pid"]
    # Not one descriptor more.  (Nothing asks the daemon anything
    # meanwhile: its socket would have to wait for a descriptor too.)
    limits = without_descriptors(d)
    os.kill(old, signal.SIGKILL)
    d.wait_log("vm1", "Too many open files; trying again in 1 s")
    wait_for(lambda: "trying again in 2 s" in d.log("vm1"),
             what="a second try", details=lambda: d.log("vm1"))
    assert "-> failed" not in d.log("vm1")
    resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, limits)
    wait_for(lambda: d.status("vm1")["pid"] not in (None, old) and
             d.state("vm1") == "running", what="vm1 to run again",
             details=lambda: d.explain("vm1"))
    assert pid_alive(d.status("vm1")["pid"])
    assert "failed" not in [t[1] for t in d.transitions("vm1")]


@pytest.mark.skipif(not hasattr(resource, "prlimit") or
                    not os.path.isdir("/proc/self/fd"),
                    reason="needs prlimit(2) and /proc")
def test_a_respawn_without_descriptors_for_its_files_is_tried_again(
        vmstated):
    # Without an instance left to destroy (FreeBSD destroys it without a
    # helper), the respawn goes straight to the hypervisor, whose
    # configuration is written first: out of descriptors, that waits too.
    d = vmstated
    d.add_vm("vm1", {"maxrestart": 10}, standin={"stdout": UP})
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    d.wait_log("vm1", UP)
    old = d.status("vm1")["pid"]
    (d.vmm / "vm1").unlink()
    limits = without_descriptors(d)
    os.kill(old, signal.SIGKILL)
    d.wait_log("vm1", "trying again in 1 s")
    log = d.log("vm1")
    # Its first file is the configuration, or (the old one's console pair
    # closed) the new console pair: either waits, none is done without.
    assert re.search(r"cannot start: (cannot read the bhyve configuration "
                     r"file %s|cannot make its console pair): Too many "
                     r"open files" % re.escape(str(d.vm_dir("vm1") /
                                                   "bhyve_config")),
                     log), log
    assert "no console" not in log, log
    resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, limits)
    wait_for(lambda: d.status("vm1")["pid"] not in (None, old) and
             d.state("vm1") == "running", what="vm1 to run again",
             details=lambda: d.explain("vm1"))
    assert "failed" not in [t[1] for t in d.transitions("vm1")]


@pytest.mark.skipif(not hasattr(resource, "prlimit") or
                    not os.path.isdir("/proc/self/fd"),
                    reason="needs prlimit(2) and /proc")
def test_a_start_refused_for_want_of_a_descriptor_says_so(vmstated):
    # The state file must be there before a start; without a descriptor
    # to open it, the start is refused -- saying why, not that the disk
    # is full -- and the VM stays stopped.  Root's connection is served
    # with the daemon's spare descriptor.
    d = vmstated
    d.add_vm("vm1")
    d.start()
    limits = without_descriptors(d)
    rc, out, err = d.ctl("start", "vm1")
    resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, limits)
    assert rc == 1, (out, err)
    assert "Too many open files; the daemon is out of file descriptors, " \
        "try again later" in err, err
    assert d.state("vm1") == "stopped"
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "running")
