"""Hook scripts (SPEC section 5): what they are given, where they run, how
they fail, and that a slow or hanging hook holds up its own VM only.
"""

from pathlib import Path

import pytest

from vmstated_harness import pid_alive, wait_for


def start_running(d, vm):
    d.ctl("start", vm, check=0)
    return d.wait_state(vm, "running")


def calls_by_state(d, vm):
    """The recorded hook environments of vm, by state (first run)."""
    out = {}
    for call in d.hook_calls(vm):
        out.setdefault(call["VMSTATED_STATE"], call)
    return out


def read_pid(path):
    return int(wait_for(lambda: Path(path).exists()
                        and Path(path).read_text().strip(),
                        what="pid file %s" % path))


# ---- what a hook is given -------------------------------------------------

def test_hook_environment_names_vm_state_previous_state_configdir_reason(
        vmstated):
    d = vmstated
    vmdir = d.add_vm("vm1", record_hooks=True)
    d.start()
    start_running(d, "vm1")
    d.wait_hook("vm1", "running")
    running = calls_by_state(d, "vm1")["running"]
    assert running["VMSTATED_VM"] == "vm1"
    assert running["VMSTATED_STATE"] == "running"
    assert running["VMSTATED_PREVIOUS_STATE"] == "start_storage"
    assert running["VMSTATED_CONFIGDIR"] == str(vmdir)
    assert running["VMSTATED_REASON"] == "request"


def test_hook_environment_has_the_hypervisor_pid_while_one_runs(vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True)
    d.start()
    pid = start_running(d, "vm1")["pid"]
    d.ctl("stop", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    d.wait_hook("vm1", "stopped")
    calls = calls_by_state(d, "vm1")
    assert calls["start_network"]["VMSTATED_PID"] == ""
    assert calls["start_storage"]["VMSTATED_PID"] == ""
    assert calls["running"]["VMSTATED_PID"] == str(pid)
    assert calls["stopping"]["VMSTATED_PID"] == str(pid)
    assert calls["stop_storage"]["VMSTATED_PID"] == ""
    assert calls["stopped"]["VMSTATED_PID"] == ""


def test_hook_environment_has_the_exit_status_once_the_hypervisor_exited(
        vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True,
             standin={"stdout": "guest is up"})
    d.start()
    start_running(d, "vm1")
    d.wait_log("vm1", "guest is up")   # it handles SIGTERM now
    d.ctl("stop", "vm1", check=0)      # the stand-in powers off: exit 1
    d.wait_state("vm1", "stopped")
    d.wait_hook("vm1", "stopped")
    calls = calls_by_state(d, "vm1")
    assert calls["running"]["VMSTATED_EXIT_STATUS"] == ""
    assert calls["stopping"]["VMSTATED_EXIT_STATUS"] == ""
    assert calls["stop_storage"]["VMSTATED_EXIT_STATUS"] == "1"
    assert calls["stop_network"]["VMSTATED_EXIT_STATUS"] == "1"


def test_the_exit_status_of_an_earlier_run_does_not_reach_later_hooks(
        vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True, standin={"stdout": "guest is up"})
    d.start()
    start_running(d, "vm1")
    d.wait_log("vm1", "guest is up")
    d.ctl("-w", "stop", "vm1", check=0)      # exit 1
    d.wait_hook("vm1", "stopped")
    start_running(d, "vm1")

    def second_start():
        calls = [c for c in d.hook_calls("vm1")
                 if c["VMSTATED_STATE"] in ("start_network",
                                            "start_storage", "running")]
        return calls[3:] if len(calls) == 6 else None
    second = wait_for(second_start, what="the second start's hooks")
    assert [c["VMSTATED_STATE"] for c in second] == [
        "start_network", "start_storage", "running"]
    assert [c["VMSTATED_EXIT_STATUS"] for c in second] == ["", "", ""]


def test_hooks_run_in_the_vm_directory(vmstated):
    d = vmstated
    where = d.root / "cwd"
    vmdir = d.add_vm("vm1", hooks={"start_network": "pwd > %s" % where})
    d.start()
    start_running(d, "vm1")
    assert where.read_text().strip() == str(vmdir)


def test_scriptpath_names_the_directory_of_the_hooks(vmstated):
    # They run in the VM's directory all the same (vmstated(8) HOOKS).
    d = vmstated
    scripts = d.root / "scripts"
    scripts.mkdir()
    ran = d.root / "ran"
    vmdir = d.add_vm("vm1", {"scriptpath": str(scripts)}, hooks={
        "start_network": "echo vmdir >> %s" % ran})
    d.write_hook(scripts, "start_network",
                 'echo "scripts $(pwd) $VMSTATED_CONFIGDIR" >> %s' % ran)
    d.start()
    start_running(d, "vm1")
    assert ran.read_text().splitlines() == [
        "scripts %s %s" % (vmdir, vmdir)]


# ---- failing hooks --------------------------------------------------------

def test_failing_start_storage_hook_fails_the_vm_after_its_teardown(
        vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True, hooks={"start_storage": "exit 1"})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "failed")
    # Both phases had begun (start_storage may have done half its work):
    # each is undone, then the failed hook.
    assert d.wait_hook("vm1", "failed") == [
        "start_network", "start_storage", "stop_storage", "stop_network",
        "failed"]
    assert d.hook_order("vm1")[2:] == [
        "stop_storage hook-failed start_storage",
        "stop_network hook-failed stop_storage",
        "failed hook-failed stop_network"]
    assert d.standin_starts("vm1") == []
    assert "start_storage failed: exit status 1" in d.log("vm1")


def test_failing_running_hook_kills_the_hypervisor_and_fails_the_vm(
        vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True, hooks={"running": "exit 3"})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "failed")
    assert d.wait_hook("vm1", "failed") == [
        "start_network", "start_storage", "running", "stop_storage",
        "stop_network", "failed"]
    # The hypervisor the running hook saw (it may have been killed before
    # the stand-in could record its own start).
    pid = int(calls_by_state(d, "vm1")["running"]["VMSTATED_PID"])
    assert not pid_alive(pid)
    assert "hypervisor pid %d ended: killed by signal 9" % pid in d.log("vm1")


def test_hook_killed_by_a_signal_fails_the_vm(vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True,
             hooks={"start_network": "kill -KILL $$"})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "failed")
    assert d.wait_hook("vm1", "failed") == ["start_network", "stop_network",
                                            "failed"]
    assert d.standin_starts("vm1") == []


def test_hook_that_is_not_executable_fails_the_vm(vmstated):
    d = vmstated
    ran = d.root / "ran"
    vmdir = d.add_vm("vm1", record_hooks=True)
    hook = vmdir / "start_storage"
    hook.write_text("#!/bin/sh\ntouch %s\n" % ran)
    hook.chmod(0o644)
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "failed")
    assert not ran.exists()
    assert d.wait_hook("vm1", "failed") == [
        "start_network", "stop_storage", "stop_network", "failed"]
    log = d.log("vm1")
    assert str(hook) in log and "not an executable" in log


def test_hook_script_without_an_interpreter_line_runs_with_sh(vmstated):
    # The seed man page's stop_network is one line with no #!: execvp(3)
    # and sh(1) run such a file with /bin/sh, and so does vmstated.
    d = vmstated
    vmdir = d.add_vm("vm1", record_hooks=True)
    hook = vmdir / "start_storage"
    hook.write_text('echo "no interpreter line in $(pwd)"\n')
    hook.chmod(0o755)
    d.start()
    start_running(d, "vm1")
    assert "no interpreter line in %s\n" % vmdir in d.log("vm1")


def test_failing_teardown_hook_is_logged_and_the_teardown_carries_on(
        vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True, hooks={"stop_storage": "exit 1"})
    d.start()
    start_running(d, "vm1")
    d.ctl("stop", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    assert d.wait_hook("vm1", "stopped")[3:] == [
        "stopping", "stop_storage", "stop_network", "stopped"]
    assert "stop_storage failed: exit status 1" in d.log("vm1")
    # Stopped, not failed: it starts again.
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "running")


# ---- slow and hanging hooks -----------------------------------------------

def test_hook_past_hooktimeout_is_killed_with_its_process_group(vmstated):
    d = vmstated
    child = d.root / "child.pid"
    d.add_vm("vm1", {"hooktimeout": 2}, record_hooks=True, hooks={
        "start_storage": "sleep 600 &\necho $! > %s\nexec sleep 600"
                         % child})
    d.start()
    d.ctl("start", "vm1", check=0)
    child_pid = read_pid(child)
    d.wait_state("vm1", "failed")
    # The signal reaches the whole group at once, but the child dies in
    # its own time.
    wait_for(lambda: not pid_alive(child_pid),
             what="the hook's child %d to be killed" % child_pid)
    assert d.wait_hook("vm1", "failed") == [
        "start_network", "start_storage", "stop_storage", "stop_network",
        "failed"]
    log = d.log("vm1")
    assert "did not finish within 2 s" in log
    assert "SIGTERM" in log


def test_hook_ignoring_sigterm_is_killed_with_sigkill(vmstated):
    d = vmstated
    child = d.root / "child.pid"
    d.add_vm("vm1", {"hooktimeout": 2}, record_hooks=True, hooks={
        "start_network": "trap '' TERM\nsleep 600 &\necho $! > %s\n"
                         "exec sleep 600" % child})
    d.start()
    d.ctl("start", "vm1", check=0)
    child_pid = read_pid(child)
    d.wait_state("vm1", "failed")
    wait_for(lambda: not pid_alive(child_pid),
             what="the hook's child %d to be killed" % child_pid)
    assert d.wait_hook("vm1", "failed") == ["start_network", "stop_network",
                                            "failed"]
    assert "SIGKILL" in d.log("vm1")


def test_other_vms_and_status_answer_while_a_hook_hangs(vmstated):
    d = vmstated
    hanging = d.root / "hanging"
    d.add_vm("slow", {"hooktimeout": 0}, record_hooks=True, hooks={
        "start_network": "touch %s\nexec sleep 600" % hanging})
    d.add_vm("other", record_hooks=True)
    d.start()
    d.ctl("start", "slow", check=0)
    wait_for(hanging.exists, what="the hanging hook to run")

    start_running(d, "other")
    assert d.status("slow")["state"] == "start_network"
    rc, out, _ = d.ctl("status")
    assert rc == 0 and "slow" in out and "other" in out
    d.ctl("stop", "other", check=0)
    d.wait_state("other", "stopped")
    assert d.state("slow") == "start_network"

    # kill ends the hanging hook; the network phase had begun, so its
    # teardown runs.
    d.ctl("kill", "slow", check=0)
    d.wait_state("slow", "stopped")
    assert d.wait_hook("slow", "stopped") == ["start_network",
                                              "stop_network", "stopped"]


def test_hook_leaving_a_child_that_holds_its_output_still_completes(
        vmstated):
    d = vmstated
    child = d.root / "child.pid"
    go = d.root / "go"
    d.add_vm("vm1", {"hooktimeout": 0}, record_hooks=True, hooks={
        "start_network": "(while [ ! -e %s ]; do sleep 0.1; done; "
                         "echo child says late; sleep 600) &\n"
                         "echo $! > %s\necho hook done" % (go, child)})
    d.start()
    start_running(d, "vm1")
    # The child still runs, its output still reaching the log, as the
    # hook's, after the hook has ended.
    child_pid = read_pid(child)
    assert pid_alive(child_pid)
    assert "hook start_network: hook done" in d.log("vm1")
    go.write_text("")
    d.wait_log("vm1", "hook start_network: child says late")


@pytest.mark.parametrize("request_,first_hook,target", [
    ("stop", "stopping", "stopped"),
    ("restart", "restarting", "running"),
    ("kill", "stopping", "stopped")])
def test_request_while_the_running_hook_runs_waits_for_it(
        vmstated, request_, first_hook, target):
    d = vmstated
    started, gate, order = (d.root / n for n in ("started", "gate",
                                                  "order"))
    d.add_vm("vm1", record_hooks=True, hooks={
        "running": "touch %s\nwhile [ ! -e %s ]; do sleep 0.05; done\n"
                   "echo running-end >> %s" % (started, gate, order),
        first_hook: "echo %s-start >> %s" % (first_hook, order)})
    d.start()
    d.ctl("start", "vm1", check=0)
    wait_for(started.exists, what="the running hook to run")
    d.ctl(request_, "vm1", check=0)
    gate.touch()
    # Hooks of one VM never overlap: the next starts after running ends.
    wait_for(lambda: order.exists() and
             len(order.read_text().splitlines()) >= 2,
             what="the %s hook to run" % first_hook,
             details=lambda: d.explain("vm1"))
    assert order.read_text().splitlines()[:2] == [
        "running-end", "%s-start" % first_hook]
    d.wait_state("vm1", target)


def test_kill_while_the_running_hook_runs_kills_the_hypervisor_at_once(
        vmstated):
    d = vmstated
    started, gate = d.root / "started", d.root / "gate"
    d.add_vm("vm1", record_hooks=True, hooks={
        "running": "touch %s\nwhile [ ! -e %s ]; do sleep 0.05; done"
                   % (started, gate)})
    d.start()
    d.ctl("start", "vm1", check=0)
    wait_for(started.exists, what="the running hook to run")
    pid = d.wait_standin_starts("vm1")[0]["pid"]
    d.ctl("kill", "vm1", check=0)
    # The hypervisor goes before the running hook ends; the stop hooks
    # wait for it.
    wait_for(lambda: not pid_alive(pid), what="the hypervisor to be killed")
    assert "stopping" not in d.hook_states("vm1")
    gate.touch()
    d.wait_state("vm1", "stopped")
    assert d.wait_hook("vm1", "stopped")[3:] == [
        "stopping", "stop_storage", "stop_network", "stopped"]
    assert [h.split()[1] for h in d.hook_order("vm1")[3:]] == ["kill"] * 4
