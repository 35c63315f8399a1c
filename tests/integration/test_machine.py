"""The state machine's edges that black-box fault tests found (issue 9,
items 2, 3 and 6), each kept as a regression test against the daemon and
the bhyve stand-in.

- Shutdown and removal are sticky: a restart or start queued behind a hook
  cannot undo them, every request but stop and kill is refused meanwhile,
  and kill always works.
- Every helper is bounded: a `bhyvectl --destroy` that hangs fails the
  start (or lets the teardown carry on) after the hook time limit, and
  SIGTERM still brings the daemon down.
- Small edges: a crash during the running hook followed by its failure;
  a start during the exit cleanup; a stop or kill after a start that
  waits for the stopped hook.

Slow hooks are "gates": they wait (boundedly) for a file the test creates
when it has done what it wanted while the hook runs.
"""
import json
import os
import shutil
import signal
import subprocess

import pytest

from vmstated_harness import STATES, pid_alive, wait_for

START_HOOKS = ["start_network", "start_storage", "running"]
STOP_HOOKS = ["stopping", "stop_storage", "stop_network", "stopped"]
# Printed by the stand-in once its guest handles SIGTERM as the power
# button.
UP = "guest is up"
# A gated hook runs for at most 30 s; its VM's hooktimeout is longer.
GATE_LIMIT = 600
GATED = {"hooktimeout": 60}


def gate_hook(gate, then="exit 0"):
    """A hook's text: wait until the file gate exists (30 s at most)."""
    return ("i=0\n"
            "while [ ! -e %s ] && [ $i -lt %d ]; do\n"
            "  i=$((i + 1)); sleep 0.05\n"
            "done\n%s\n" % (gate, GATE_LIMIT, then))


def names(d):
    return [v["name"] for v in d.status()]


def add_vm_with_scripts(d, name, hooks=None, standin=None, config=None):
    """A VM whose (recording) hooks live in a scriptpath outside its
    directory, so that they outlive the directory's removal."""
    scripts = d.root / ("scripts-" + name)
    scripts.mkdir()
    record = d.recording_line()
    for state in STATES:
        d.write_hook(scripts, state, (hooks or {}).get(state, "exit 0"),
                     record)
    settings = dict(config or {})
    settings["scriptpath"] = str(scripts)
    return d.add_vm(name, settings, standin=standin)


def reload(d):
    rc, out, err = d.ctl("-j", "reload")
    assert rc == 0, (rc, out, err)
    return json.loads(out)


def daemon_said(d, text):
    wait_for(lambda: text in d.stderr(), what="%r from the daemon" % text,
             details=d.stderr)


def reaped(pid):
    """The process is gone, zombie included: its parent has reaped it."""
    if os.path.isdir("/proc/self"):
        return not os.path.exists("/proc/%d" % pid)
    ps = subprocess.run(["ps", "-p", str(pid), "-o", "pid="],
                        capture_output=True, text=True)
    return ps.stdout.strip() == ""


# ---- item 2: shutdown and removal are sticky ------------------------------

def test_sigterm_wins_over_a_restart_queued_behind_the_running_hook(
        vmstated):
    d = vmstated
    gate = d.root / "gate"
    d.add_vm("vm1", GATED, record_hooks=True,
             hooks={"running": gate_hook(gate)})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_hook("vm1", "running")
    d.ctl("restart", "vm1", check=0)        # waits for the running hook
    d.signal(signal.SIGTERM)
    daemon_said(d, "SIGTERM: stopping every VM")
    gate.touch()
    # The restart never happens: the VM stops and the daemon exits.
    assert d.stop(timeout=30) == 0
    assert len(d.standin_starts("vm1")) == 1
    assert d.hook_states("vm1") == START_HOOKS + STOP_HOOKS
    assert [h.split()[1] for h in d.hook_order("vm1")[3:]] == \
        ["daemon-shutdown"] * 4
    assert d.transitions("vm1")[-1][1] == "stopped"


def test_removal_wins_over_a_restart_queued_behind_the_running_hook(
        vmstated):
    d = vmstated
    gate = d.root / "gate"
    vmdir = add_vm_with_scripts(d, "vm1", {"running": gate_hook(gate)},
                                config=GATED)
    d.add_vm("vm2")
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_hook("vm1", "running")
    pid = d.status("vm1")["pid"]
    d.ctl("restart", "vm1", check=0)        # waits for the running hook
    shutil.rmtree(vmdir)
    assert reload(d)["removed"] == ["vm1"]
    # While it is being removed, nothing may start it again...
    for request in ("start", "restart", "failreset"):
        rc, out, err = d.ctl(request, "vm1")
        assert rc == 1, (request, out, err)
        assert "vm1 was removed from the configuration" in err, err
    # ... but stop is accepted and kill works at once.
    d.ctl("stop", "vm1", check=0)
    d.ctl("kill", "vm1", check=0)
    wait_for(lambda: not pid_alive(pid), what="the hypervisor to be killed",
             details=lambda: d.explain("vm1"))
    gate.touch()
    wait_for(lambda: names(d) == ["vm2"], what="vm1 to be forgotten",
             details=lambda: d.explain("vm1"))
    assert len(d.standin_starts("vm1")) == 1
    assert d.hook_states("vm1") == START_HOOKS + STOP_HOOKS
    assert [h.split()[1] for h in d.hook_order("vm1")[3:]] == \
        ["removed"] * 4
    assert not list(d.rundir.glob("vm1*"))
    assert d.stop() == 0


def test_a_removed_vm_whose_start_waits_for_the_stopped_hook_never_boots(
        vmstated):
    d = vmstated
    gate = d.root / "gate"
    vmdir = add_vm_with_scripts(d, "vm1", {"stopped": gate_hook(gate)},
                                config=GATED)
    d.add_vm("vm2")
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    d.ctl("stop", "vm1", check=0)
    d.wait_hook("vm1", "stopped")
    d.ctl("start", "vm1", check=0)          # waits for the stopped hook
    shutil.rmtree(vmdir)
    assert reload(d)["removed"] == ["vm1"]
    gate.touch()
    wait_for(lambda: names(d) == ["vm2"], what="vm1 to be forgotten",
             details=lambda: d.explain("vm1"))
    assert len(d.standin_starts("vm1")) == 1
    assert d.hook_states("vm1") == START_HOOKS + STOP_HOOKS
    assert d.stop() == 0


def test_a_shutting_down_daemon_refuses_to_start_anything_but_kill_works(
        vmstated):
    d = vmstated
    gate = d.root / "gate"
    d.add_vm("vm1", GATED, record_hooks=True,
             hooks={"stopping": gate_hook(gate)})
    d.add_vm("vm2")
    d.add_vm("vm3", hooks={"start_network": "exit 1"})
    d.start()
    d.ctl("start", "vm3", check=0)
    d.wait_state("vm3", "failed")
    d.ctl("-w", "start", "vm1", check=0)
    pid = d.status("vm1")["pid"]
    d.signal(signal.SIGTERM)
    d.wait_hook("vm1", "stopping")
    for request, vm in (("start", "vm2"), ("restart", "vm1"),
                        ("failreset", "vm3"), ("start", "vm1")):
        rc, out, err = d.ctl(request, vm)
        assert rc == 1, (request, vm, out, err)
        assert "%s: vmstated is shutting down" % vm in err, (request, err)
    d.ctl("kill", "vm1", check=0)
    wait_for(lambda: not pid_alive(pid), what="the hypervisor to be killed",
             details=lambda: d.explain("vm1"))
    gate.touch()
    assert d.stop(timeout=30) == 0
    assert d.standin_starts("vm2") == []
    assert len(d.standin_starts("vm1")) == 1
    assert d.hook_states("vm1") == START_HOOKS + STOP_HOOKS


# ---- item 3: every helper is bounded --------------------------------------

def hung_helper(d, ignore_term=False):
    """A bhyvectl that never ends (ignoring SIGTERM if asked), noting
    each run in helper-runs; vmstated.conf's bhyvectl_path names it."""
    runs = d.root / "helper-runs"
    path = d.root / "bhyvectl-hung"
    path.write_text("#!/bin/sh\n%secho \"$*\" >> %s\n"
                    "while :; do sleep 1; done\n"
                    % ("trap '' TERM\n" if ignore_term else "", runs))
    path.chmod(0o755)
    d.conf_settings["bhyvectl_path"] = str(path)
    return runs


def lines(path):
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def no_helper_left(d):
    return not [p for p in d.leftovers() if "bhyvectl-hung" in p[1]]


def test_a_hung_destroy_helper_fails_the_start_within_hooktimeout(vmstated):
    d = vmstated
    runs = hung_helper(d)
    d.add_vm("vm1", {"hooktimeout": 2}, record_hooks=True)
    # An instance is left over: the daemon destroys it before the start.
    (d.vmm / "vm1").write_text("")
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "failed", timeout=30)
    assert lines(runs) == ["--destroy --vm=vm1"]
    log = d.log("vm1")
    assert ("helper %s did not finish within 2 s; sending SIGTERM"
            % (d.root / "bhyvectl-hung")) in log, log
    assert "cannot start: the old instance could not be destroyed" in log
    assert d.standin_starts("vm1") == []
    assert d.wait_hook("vm1", "failed") == ["failed"]
    wait_for(lambda: no_helper_left(d), what="the helper to be killed",
             details=lambda: repr(d.leftovers()))
    assert d.stop(timeout=30) == 0


def test_sigterm_completes_while_a_destroy_helper_hangs(vmstated):
    d = vmstated
    runs = hung_helper(d)
    d.add_vm("vm1", {"hooktimeout": 2}, record_hooks=True)
    (d.vmm / "vm1").write_text("")
    d.start()
    d.ctl("start", "vm1", check=0)
    wait_for(lambda: lines(runs), what="the helper to run")
    assert d.stop(timeout=30) == 0
    assert d.standin_starts("vm1") == []
    assert d.hook_states("vm1") == []
    assert no_helper_left(d)


def test_a_hung_destroy_helper_after_an_exit_lets_the_teardown_go_on(
        vmstated):
    d = vmstated
    runs = hung_helper(d, ignore_term=True)
    d.add_vm("vm1", {"hooktimeout": 2}, record_hooks=True,
             standin={"stdout": UP})
    d.start()
    # No instance yet: the first start needs no helper.
    d.ctl("-w", "start", "vm1", check=0)
    d.wait_log("vm1", UP)
    assert lines(runs) == []
    d.ctl("stop", "vm1", check=0)
    # The bhyve that ended leaves its instance: destroying it hangs,
    # ignoring SIGTERM; SIGKILL ends it and the teardown goes on.
    assert d.wait_hook("vm1", "stopped", timeout=40) == \
        START_HOOKS + STOP_HOOKS
    assert lines(runs) == ["--destroy --vm=vm1"]
    log = d.log("vm1")
    helper = d.root / "bhyvectl-hung"
    assert ("helper %s did not finish within 2 s; sending SIGTERM"
            % helper) in log, log
    assert ("helper %s still running 5 s after SIGTERM; sending SIGKILL"
            % helper) in log, log
    assert d.wait_state("vm1", "stopped")["pid"] is None
    wait_for(lambda: no_helper_left(d), what="the helper to be killed",
             details=lambda: repr(d.leftovers()))
    assert d.stop(timeout=30) == 0


# ---- item 6: small edges ---------------------------------------------------

def test_a_crash_during_the_running_hook_then_its_failure_fails_once(
        vmstated):
    d = vmstated
    gate = d.root / "gate"
    d.add_vm("vm1", GATED, record_hooks=True,
             hooks={"running": gate_hook(gate, "exit 1")})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_hook("vm1", "running")
    pid = d.status("vm1")["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: reaped(pid), what="the daemon to reap the hypervisor")
    gate.touch()                            # the running hook fails
    d.wait_state("vm1", "failed")
    # A failreset waits for the failed hook, if it still runs; the
    # stopped hook then shows that nothing ran in between.
    d.ctl("failreset", "vm1", check=0)
    hooks = d.wait_hook("vm1", "stopped")
    assert hooks == START_HOOKS + ["stop_storage", "stop_network", "failed",
                                   "stopped"], hooks
    assert "failed -> failed" not in d.log("vm1")
    assert ("failed", "failed") not in [t[:2] for t in d.transitions("vm1")]
    assert len(d.standin_starts("vm1")) == 1


def slow_helper(d, gate):
    """A bhyvectl that, once the file armed exists, waits for gate before
    doing its work; vmstated.conf's bhyvectl_path names it."""
    armed = d.root / "armed"
    path = d.root / "bhyvectl-slow"
    path.write_text("#!/bin/sh\nif [ -e %s ]; then\n%sfi\nexec %s \"$@\"\n"
                    % (armed, gate_hook(gate), d.build / "bhyvectl-standin"))
    path.chmod(0o755)
    d.conf_settings["bhyvectl_path"] = str(path)
    return armed


@pytest.mark.parametrize("slow", ["stopping-hook", "destroy-helper"])
def test_a_start_during_the_exit_cleanup_is_refused_naming_the_state(
        vmstated, slow):
    # After a guest poweroff, the VM is cleaned up: its stopping hook, the
    # destroy of its instance, the rest of the teardown.  A start meanwhile
    # is refused, saying where the VM is.
    d = vmstated
    gate = d.root / "gate"
    armed = slow_helper(d, gate)
    d.add_vm("vm1", GATED, record_hooks=True, standin={"stdout": UP},
             hooks={"stopping": gate_hook(gate)}
             if slow == "stopping-hook" else None)
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    d.wait_log("vm1", UP)
    pid = d.status("vm1")["pid"]
    armed.touch()
    os.kill(pid, signal.SIGTERM)            # the guest powers off
    if slow == "stopping-hook":
        d.wait_hook("vm1", "stopping")
    else:
        wait_for(lambda: [c for c in d.leftovers() if "bhyvectl-slow" in
                          c[1]], what="the destroy helper to run",
                 details=lambda: d.explain("vm1"))
    assert d.state("vm1") == "stopping"
    rc, out, err = d.ctl("start", "vm1")
    assert rc == 1, (out, err)
    assert "vm1 is busy (state stopping)" in err, err
    assert "pid -1" not in err and "already running" not in err, err
    armed.unlink()
    gate.touch()
    assert d.wait_hook("vm1", "stopped") == START_HOOKS + STOP_HOOKS
    d.ctl("-w", "start", "vm1", check=0)
    assert len(d.wait_standin_starts("vm1", 2)) == 2


@pytest.mark.parametrize("request_", ["stop", "kill"])
def test_a_stop_or_kill_cancels_a_start_waiting_for_the_stopped_hook(
        vmstated, request_):
    d = vmstated
    gate = d.root / "gate"
    hook_pid = d.root / "stopped.pid"
    d.add_vm("vm1", GATED, record_hooks=True, hooks={
        "stopped": "echo $$ > %s\n%s" % (hook_pid, gate_hook(gate))})
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    d.ctl("stop", "vm1", check=0)
    d.wait_hook("vm1", "stopped")
    d.ctl("start", "vm1", check=0)          # waits for the stopped hook
    d.ctl(request_, "vm1", check=0)         # the later request wins
    d.wait_log("vm1", "the waiting start is cancelled by %s" % request_)
    wait_for(hook_pid.exists, what="the stopped hook's pid")
    pid = int(hook_pid.read_text())
    gate.touch()
    # Once the daemon has reaped the stopped hook, a start it had not
    # cancelled would be under way.
    wait_for(lambda: reaped(pid), what="the stopped hook to end")
    assert d.state("vm1") == "stopped"
    assert d.hook_states("vm1") == START_HOOKS + STOP_HOOKS
    assert len(d.standin_starts("vm1")) == 1
