"""How a guest ends (SPEC section 6): reboot and crash restart the VM,
poweroff and halt stop it, too many restarts fail it, failreset clears
that; requested restarts are not counted.

The bhyve stand-in plays the guest: standin.exits lists what each run
does (an exit status, a signal, or `run` to keep running).
"""

import os
import signal

import pytest

from vmstated_harness import pid_alive

DELAY = "0.2"       # seconds a stand-in run lasts before its planned end
# Printed by the stand-in once its guest handles SIGTERM as the power
# button; before that, as for bhyve, SIGTERM kills it.
UP = "guest is up"


def start(d, vm):
    d.ctl("start", vm, check=0)


def hooks_from(d, vm, index):
    """hook_order(vm)[index:] as (state, reason, previous) tuples."""
    return [tuple(h.split(" ")) for h in d.hook_order(vm)[index:]]


# ---- reboot and crash: restart --------------------------------------------

def test_guest_reboot_restarts_through_restarting_and_restarted(vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True,
             standin={"exits": "0,run", "delay": DELAY})
    d.start()
    start(d, "vm1")
    d.wait_hook("vm1", "running", times=2)
    assert hooks_from(d, "vm1", 3) == [
        ("restarting", "guest-reboot", "running"),
        ("restarted", "guest-reboot", "restarting"),
        ("running", "guest-reboot", "restarted")]
    status = d.wait_state("vm1", "running")
    first, second = d.wait_standin_starts("vm1", 2)
    assert status["pid"] == second["pid"] != first["pid"]
    assert not pid_alive(first["pid"])
    assert status["restarts"] == 1


def test_a_reboot_reuses_the_instance_and_a_crash_destroys_it(vmstated):
    # bhyve booting from a bootrom reinitialises the instance its guest
    # reset (bhyverun.c do_open: vm_create EEXIST, vm_reinit): no
    # bhyvectl --destroy between.  After a crash its vCPUs are not
    # suspended and vm_reinit would fail: the instance is destroyed.
    d = vmstated
    d.add_vm("vm1", standin={"exits": "0,SEGV,run", "delay": DELAY})
    d.start()
    start(d, "vm1")
    d.wait_standin_starts("vm1", 3)
    d.wait_state("vm1", "running")
    actions = [r["action"] for r in d.standin_records("vm1")
               if r["event"] == "instance"]
    assert actions == ["created", "reinit", "created"], actions
    assert len([c for c in d.bhyvectl_calls("vm1")
                if "--destroy" in c.get("argv", [])]) == 1, \
        d.bhyvectl_calls("vm1")
    assert "the instance stays for the reboot" in d.log("vm1")


def test_a_reboot_past_the_restart_limit_leaves_no_instance(vmstated):
    # The instance kept for a reboot must not outlive a VM that fails.
    d = vmstated
    d.add_vm("vm1", {"maxrestart": 0},
             standin={"exits": "0", "delay": DELAY})
    d.start()
    start(d, "vm1")
    d.wait_state("vm1", "failed")
    assert not (d.vmm / "vm1").exists()
    assert len(d.bhyvectl_calls("vm1")) == 1, d.log("vm1")
    assert len(d.standin_starts("vm1")) == 1


def test_a_reboot_whose_configfile_lost_its_bootrom_destroys_the_instance(
        vmstated):
    # The next bhyve would take the instance as bhyveload left it: the
    # configfile is read again at the reboot, and the instance goes.
    d = vmstated
    d.add_vm("vm1", standin={"stdout": UP, "sigterm": "reboot"})
    d.start()
    start(d, "vm1")
    d.wait_log("vm1", UP)
    conf = d.vm_dir("vm1") / "bhyve_config"
    conf.write_text("".join(line for line in
                            conf.read_text().splitlines(keepends=True)
                            if not line.startswith("lpc.bootrom=")))
    os.kill(d.status("vm1")["pid"], signal.SIGTERM)  # the guest reboots
    d.wait_log("vm1", "virtual machine cannot be booted")
    assert "the instance stays" not in d.log("vm1")
    assert len(d.bhyvectl_calls("vm1")) >= 1, d.log("vm1")
    actions = [r["action"] for r in d.standin_records("vm1")
               if r["event"] == "instance"]
    assert "reused" not in actions and "reinit" not in actions, actions


def test_restarting_hook_gets_the_exit_status_of_the_reboot(vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True,
             standin={"exits": "0,run", "delay": DELAY})
    d.start()
    start(d, "vm1")
    d.wait_hook("vm1", "running", times=2)
    restarting = [c for c in d.hook_calls("vm1")
                  if c["VMSTATED_STATE"] == "restarting"]
    assert restarting[0]["VMSTATED_EXIT_STATUS"] == "0"


@pytest.mark.parametrize("step", ["3", "4", "7", "SEGV"],
                         ids=["triple-fault", "error", "other-status",
                              "signal"])
def test_crash_restarts_the_vm_with_reason_crash(vmstated, step):
    d = vmstated
    d.add_vm("vm1", record_hooks=True,
             standin={"exits": "%s,run" % step, "delay": DELAY})
    d.start()
    start(d, "vm1")
    d.wait_hook("vm1", "running", times=2)
    assert hooks_from(d, "vm1", 3) == [
        ("restarting", "crash", "running"),
        ("restarted", "crash", "restarting"),
        ("running", "crash", "restarted")]
    status = d.wait_state("vm1", "running")
    assert status["pid"] == d.wait_standin_starts("vm1", 2)[1]["pid"]
    exit_status = [c for c in d.hook_calls("vm1")
                   if c["VMSTATED_STATE"] == "restarting"][0][
                       "VMSTATED_EXIT_STATUS"]
    if step.isdigit():
        assert exit_status == step
    else:
        assert exit_status != ""


# ---- poweroff and halt: stop ----------------------------------------------

@pytest.mark.parametrize("status,reason", [(1, "guest-poweroff"),
                                           (2, "guest-halt")])
def test_guest_poweroff_and_halt_run_the_stop_hooks(vmstated, status,
                                                    reason):
    d = vmstated
    d.add_vm("vm1", record_hooks=True,
             standin={"exit": status, "delay": DELAY})
    d.start()
    start(d, "vm1")
    d.wait_hook("vm1", "stopped")
    assert hooks_from(d, "vm1", 2) == [
        ("running", "request", "start_storage"),
        ("stopping", reason, "running"),
        ("stop_storage", reason, "stopping"),
        ("stop_network", reason, "stop_storage"),
        ("stopped", reason, "stop_network")]
    stopping = [c for c in d.hook_calls("vm1")
                if c["VMSTATED_STATE"] == "stopping"][0]
    assert stopping["VMSTATED_EXIT_STATUS"] == str(status)
    d.wait_state("vm1", "stopped")
    assert len(d.standin_starts("vm1")) == 1
    assert d.status("vm1")["restarts"] == 0


# ---- too many restarts ----------------------------------------------------

def crash_loop(d, exits=None):
    """A VM whose guest crashes at once, maxrestart 3 within 60 s; started
    and left once failed."""
    standin = {"exit": 3}
    if exits:
        standin["exits"] = exits
    d.add_vm("vm1", {"maxrestart": 3, "maxrestarttime": 60},
             record_hooks=True, standin=standin)
    d.start()
    start(d, "vm1")
    d.wait_state("vm1", "failed")
    d.wait_hook("vm1", "failed")


def test_crash_loop_fails_on_the_fourth_restart_within_the_window(
        vmstated):
    d = vmstated
    crash_loop(d)
    changes = d.transitions("vm1")
    restarted = [c for c in changes if c[1] == "restarted"]
    assert len(restarted) == 3
    assert len([c for c in changes if c[1] == "restarting"]) == 4
    assert len(d.standin_starts("vm1")) == 4
    assert changes[-4:] == [
        ("running", "restarting", "crash"),
        ("restarting", "stop_storage", "restart-limit"),
        ("stop_storage", "stop_network", "restart-limit"),
        ("stop_network", "failed", "restart-limit")]
    assert hooks_from(d, "vm1", -1) == [
        ("failed", "restart-limit", "stop_network")]
    assert d.status("vm1")["pid"] is None


def test_a_maxrestart_of_more_than_64_is_honoured(vmstated):
    d = vmstated
    d.add_vm("vm1", {"maxrestart": 70, "maxrestarttime": 3600},
             standin={"exit": 3})
    d.start()
    start(d, "vm1")
    d.wait_state("vm1", "failed", timeout=300)
    assert len([c for c in d.transitions("vm1")
                if c[1] == "restarted"]) == 70
    assert len(d.standin_starts("vm1")) == 71
    assert d.status("vm1")["restarts"] == 70


def test_failed_vm_refuses_start_until_failreset(vmstated):
    d = vmstated
    crash_loop(d)
    rc, _, err = d.ctl("start", "vm1")
    assert rc == 1
    assert "failreset" in err
    assert d.state("vm1") == "failed"
    assert len(d.standin_starts("vm1")) == 4


def test_failreset_then_start_runs_the_vm_again(vmstated):
    d = vmstated
    crash_loop(d, exits="3,3,3,3,run")
    d.ctl("failreset", "vm1", check=0)
    status = d.wait_state("vm1", "stopped")
    assert status["restarts"] == 0
    start(d, "vm1")
    status = d.wait_state("vm1", "running")
    assert status["pid"] == d.wait_standin_starts("vm1", 5)[4]["pid"]
    assert status["restarts"] == 0


def test_crashes_further_apart_than_maxrestarttime_do_not_fail_the_vm(
        vmstated):
    d = vmstated
    # One restart allowed per second; each run lasts 1.5 s, so no two
    # restarts ever fall within the same second.
    d.add_vm("vm1", {"maxrestart": 1, "maxrestarttime": 1},
             record_hooks=True,
             standin={"exits": "3,3,3,run", "delay": "1.5"})
    d.start()
    start(d, "vm1")
    d.wait_hook("vm1", "running", times=4)
    assert d.wait_state("vm1", "running")["pid"] == \
        d.wait_standin_starts("vm1", 4)[3]["pid"]
    assert "failed" not in d.hook_states("vm1")


# ---- requested restarts ---------------------------------------------------

def test_restart_request_runs_the_restart_hooks_with_a_new_pid(vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True, standin={"stdout": UP})
    d.start()
    start(d, "vm1")
    old = d.wait_state("vm1", "running")["pid"]
    d.wait_log("vm1", UP)
    d.ctl("restart", "vm1", check=0)
    d.wait_hook("vm1", "running", times=2)
    assert hooks_from(d, "vm1", 3) == [
        ("restarting", "request", "running"),
        ("restarted", "request", "restarting"),
        ("running", "request", "restarted")]
    new = d.wait_state("vm1", "running")["pid"]
    assert new != old and not pid_alive(old)
    # The old guest was asked to power off, not killed.
    assert d.standin_exits("vm1")[0]["reason"] == "sigterm"


def test_requested_restarts_are_not_counted(vmstated):
    d = vmstated
    d.add_vm("vm1", {"maxrestart": 1, "maxrestarttime": 600},
             record_hooks=True)
    d.start()
    start(d, "vm1")
    d.wait_hook("vm1", "running")
    for n in range(2, 5):
        d.wait_state("vm1", "running")
        # A stand-in asked to stop before it has recorded its start
        # would leave no record of it.
        d.wait_standin_starts("vm1", n - 1)
        d.ctl("restart", "vm1", check=0)
        d.wait_hook("vm1", "running", times=n)
    status = d.wait_state("vm1", "running")
    assert status["restarts"] == 0
    assert "failed" not in d.hook_states("vm1")
    assert len(d.wait_standin_starts("vm1", 4)) == 4


# ---- an exit while stopping on request ------------------------------------

@pytest.mark.parametrize("answer", ["reboot", "3"],
                         ids=["reboot-status", "crash-status"])
def test_exit_during_a_requested_stop_is_a_stop_whatever_its_status(
        vmstated, answer):
    d = vmstated
    # The guest answers the power button by rebooting (exit 0) or with a
    # crash status (3): the VM was asked to stop, so it stops.
    d.add_vm("vm1", record_hooks=True,
             standin={"sigterm": answer, "stdout": UP})
    d.start()
    start(d, "vm1")
    d.wait_state("vm1", "running")
    d.wait_log("vm1", UP)
    d.ctl("stop", "vm1", check=0)
    d.wait_hook("vm1", "stopped")
    assert d.hook_states("vm1")[3:] == [
        "stopping", "stop_storage", "stop_network", "stopped"]
    d.wait_state("vm1", "stopped")
    assert len(d.standin_starts("vm1")) == 1
    assert d.status("vm1")["restarts"] == 0
