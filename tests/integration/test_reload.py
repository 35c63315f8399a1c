"""Reload: SIGHUP, or `vmstatedctl reload`, reads every configuration again.

A new VM directory appears; a removed one is stopped with its hooks and
forgotten; a running VM whose configuration changed keeps running and
takes the new values at its next start (`info` shows them as pending); an
invalid new configuration leaves the old one in force and is reported by
reload's reply and by status; a rename is a removal plus an addition.

Each case runs twice: once through `vmstatedctl reload` (whose reply says
what happened) and once through SIGHUP (which says nothing: the test waits
until status shows the effect).  test_ctl.py covers reload's output for
an addition, for nothing changed and for an invalid configuration;
test_logs.py covers the reopening of the logs.
"""
import json
import os
import shutil
import signal
import stat
import subprocess

import pytest

from vmstated_harness import STATES, wait_for

STOP_HOOKS = ["stopping", "stop_storage", "stop_network", "stopped"]
# Printed by the stand-in once its guest handles SIGTERM as the power
# button; before that, as for bhyve, SIGTERM kills it.
UP = "guest is up"


def names(d):
    return [v["name"] for v in d.status()]


def reload(d, how):
    """Reload by `how` ("ctl" or "sighup"); return vmstatedctl -j reload's
    reply, or None for SIGHUP."""
    if how == "sighup":
        d.signal(signal.SIGHUP)
        return None
    rc, out, err = d.ctl("-j", "reload")
    reply = json.loads(out)
    assert (rc == 0) == (reply.get("invalid") == []), (rc, out, err)
    return reply


def info(d, vm):
    rc, out, err = d.ctl("-j", "info", vm, check=0)
    return json.loads(out)["vm"]


def set_config(d, name, settings, dirname=None):
    """Rewrite a VM's config file (the bhyve_config stays)."""
    d.add_vm(name, settings, dirname=dirname)


def add_vm_with_scripts(d, name, hooks=None, dirname=None, standin=None):
    """A VM whose hooks (recording ones for every state, plus `hooks`)
    live in a scriptpath outside its directory, so that they outlive
    the directory's removal; returns the VM's directory."""
    scripts = d.root / ("scripts-" + name)
    scripts.mkdir()
    record = d.recording_line()
    for state in STATES:
        d.write_hook(scripts, state, (hooks or {}).get(state, "exit 0"),
                     record)
    return d.add_vm(name, {"scriptpath": str(scripts)}, dirname=dirname,
                    standin=standin)


def gate_hook(gate):
    """A hook's text: wait until the file gate exists."""
    return "while [ ! -e %s ]; do sleep 0.05; done" % gate


def started(d, vm):
    d.ctl("-w", "start", vm, check=0)
    return d.status(vm)


HOW = pytest.mark.parametrize("how", ["ctl", "sighup"])


# --- a VM appears -----------------------------------------------------------

@HOW
def test_a_new_vm_directory_appears_stopped(vmstated, how):
    vmstated.add_vm("vm1")
    vmstated.start()
    vmstated.add_vm("vm2", {"description": "new", "autostart": True})
    reply = reload(vmstated, how)
    if reply is not None:
        assert (reply["added"], reply["removed"], reply["changed"]) == (
            ["vm2"], [], [])
    wait_for(lambda: names(vmstated) == ["vm1", "vm2"], what="vm2 to appear")
    vm2 = vmstated.status("vm2")
    # autostart applies when the daemon starts, not at a reload.
    assert (vm2["state"], vm2["description"]) == ("stopped", "new")
    started(vmstated, "vm2")


@HOW
def test_a_new_invalid_vm_directory_is_listed_as_invalid(vmstated, how):
    vmstated.add_vm("vm1")
    vmstated.start()
    bad = vmstated.add_vm("bad", "bad {\n  memory = \"lots\";\n}\n")
    reply = reload(vmstated, how)
    if reply is not None:
        [inv] = reply["invalid"]
        assert inv["vm"] == "bad" and "%s:2" % (bad / "config") in \
            inv["error"]
    wait_for(lambda: "bad" in names(vmstated), what="bad in status")
    assert vmstated.status("bad")["state"] == "invalid"
    assert "memory" in vmstated.status("bad")["error"]
    # Fixed, it loads at the next reload.
    vmstated.add_vm("bad", {"memory": 256})
    reload(vmstated, how)
    wait_for(lambda: vmstated.status("bad")["state"] == "stopped",
             what="the fixed VM to load")
    started(vmstated, "bad")


# --- a VM goes away ---------------------------------------------------------

@HOW
def test_a_removed_running_vm_is_stopped_with_its_hooks_and_forgotten(
        vmstated, how):
    vmstated.add_vm("vm1", record_hooks=True)
    d2 = add_vm_with_scripts(vmstated, "vm2", standin={"stdout": UP})
    vmstated.start()
    pid = started(vmstated, "vm2")["pid"]
    started(vmstated, "vm1")
    vmstated.wait_log("vm2", UP)        # it handles SIGTERM now
    shutil.rmtree(d2)
    reply = reload(vmstated, how)
    if reply is not None:
        assert (reply["added"], reply["removed"], reply["changed"]) == (
            [], ["vm2"], [])
    wait_for(lambda: names(vmstated) == ["vm1"], what="vm2 to be forgotten",
             details=lambda: vmstated.explain("vm2"))
    assert vmstated.hook_order("vm2")[-4:] == [
        "stopping removed running", "stop_storage removed stopping",
        "stop_network removed stop_storage", "stopped removed stop_network"]
    assert not vmstated.pid_alive(pid)
    assert vmstated.standin_exits("vm2")[-1]["reason"] == "sigterm"
    # The other VM was not touched; the removed one is unknown now.
    assert vmstated.status("vm1")["state"] == "running"
    rc, _, err = vmstated.ctl("start", "vm2")
    assert rc == 1 and 'no VM named "vm2"' in err
    # Its state file is gone: a daemon started again does not know it.
    assert not list(vmstated.rundir.glob("vm2*"))


@HOW
def test_a_removed_stopped_vm_is_forgotten_at_once(vmstated, how):
    vmstated.add_vm("vm1")
    d2 = vmstated.add_vm("vm2", record_hooks=True)
    vmstated.start()
    shutil.rmtree(d2)
    reload(vmstated, how)
    wait_for(lambda: names(vmstated) == ["vm1"], what="vm2 to be forgotten")
    assert vmstated.hook_order("vm2") == []


def test_a_removed_vm_whose_hooks_went_with_its_directory_still_stops(
        vmstated):
    vmstated.add_vm("vm1")
    d2 = vmstated.add_vm("vm2", record_hooks=True)
    vmstated.start()
    pid = started(vmstated, "vm2")["pid"]
    hooks = vmstated.wait_hook("vm2", "running")
    shutil.rmtree(d2)
    vmstated.ctl("reload", check=0)
    wait_for(lambda: names(vmstated) == ["vm1"], what="vm2 to be forgotten",
             details=lambda: vmstated.explain("vm2"))
    assert not vmstated.pid_alive(pid)
    assert vmstated.hook_states("vm2") == hooks     # none left to run
    assert "stop_network -> stopped (reason removed)" in vmstated.log("vm2")


def test_a_directory_hidden_by_a_leading_dot_is_a_removal(vmstated):
    vmstated.add_vm("vm1")
    d2 = add_vm_with_scripts(vmstated, "vm2")
    vmstated.start()
    started(vmstated, "vm2")
    d2.rename(d2.with_name(".vm2"))
    assert vmstated.ctl("reload") == (0, "removed: vm2\n", "")
    wait_for(lambda: names(vmstated) == ["vm1"], what="vm2 to be forgotten")
    assert vmstated.hook_states("vm2")[-4:] == STOP_HOOKS


def test_a_removed_failed_vm_is_forgotten_without_hooks(vmstated):
    d2 = add_vm_with_scripts(vmstated, "vm2", {"start_network": "exit 1"})
    vmstated.add_vm("vm1")
    vmstated.start()
    vmstated.ctl("start", "vm2", check=0)
    vmstated.wait_hook("vm2", "failed")
    hooks = vmstated.hook_states("vm2")
    shutil.rmtree(d2)
    vmstated.ctl("reload", check=0)
    wait_for(lambda: names(vmstated) == ["vm1"], what="vm2 to be forgotten")
    assert vmstated.hook_states("vm2") == hooks


def test_a_vm_removed_while_it_starts_stops_once_the_hook_ends(vmstated):
    gate = vmstated.root / "gate"
    d2 = add_vm_with_scripts(vmstated, "vm2",
                             {"start_network": gate_hook(gate)})
    vmstated.add_vm("vm1")
    vmstated.start()
    vmstated.ctl("start", "vm2", check=0)
    vmstated.wait_hook("vm2", "start_network")
    shutil.rmtree(d2)
    rc, out, _ = vmstated.ctl("reload", check=0)
    assert out == "removed: vm2\n"
    assert vmstated.state("vm2") == "start_network"
    gate.touch()
    wait_for(lambda: names(vmstated) == ["vm1"], what="vm2 to be forgotten",
             details=lambda: vmstated.explain("vm2"))
    states = vmstated.hook_states("vm2")
    assert states[0] == "start_network"
    assert "running" not in states
    assert states[-2:] == ["stop_network", "stopped"]
    assert vmstated.standin_starts("vm2") == []


def test_a_request_for_a_removed_vm_still_stopping_is_refused(vmstated):
    gate = vmstated.root / "gate"
    d2 = add_vm_with_scripts(vmstated, "vm2", {"stopping": gate_hook(gate)})
    vmstated.add_vm("vm1")
    vmstated.start()
    started(vmstated, "vm2")
    shutil.rmtree(d2)
    vmstated.ctl("reload", check=0)
    vmstated.wait_state("vm2", "stopping")
    rc, _, err = vmstated.ctl("start", "vm2")
    assert rc == 1
    assert "vm2 was removed from the configuration and is being stopped" \
        in err
    gate.touch()
    wait_for(lambda: names(vmstated) == ["vm1"], what="vm2 to be forgotten")


# --- a VM's configuration changes -------------------------------------------

@HOW
def test_a_running_vm_keeps_running_and_shows_the_change_as_pending(
        vmstated, how):
    vmstated.add_vm("vm1", {"memory": 256, "description": "old"})
    vmstated.start()
    pid = started(vmstated, "vm1")["pid"]
    set_config(vmstated, "vm1", {"memory": 512, "description": "new"})
    reply = reload(vmstated, how)
    if reply is not None:
        assert (reply["added"], reply["removed"], reply["changed"]) == (
            [], [], ["vm1"])
    wait_for(lambda: vmstated.status("vm1")["pending"] is True,
             what="the change to be pending")
    vm = info(vmstated, "vm1")
    assert (vm["state"], vm["pid"], vm["pending"]) == ("running", pid, True)
    assert (vm["config"]["memory"], vm["config"]["description"]) == (
        256, "old")
    assert (vm["pending_config"]["memory"],
            vm["pending_config"]["description"]) == (512, "new")
    # Status shows the values in force.
    assert vmstated.status("vm1")["description"] == "old"
    rc, out, _ = vmstated.ctl("info", "vm1")
    assert "pending: yes" in out.splitlines()
    assert "pending_config:" in out.splitlines()
    assert vmstated.pid_alive(pid)
    assert vmstated.standin_exits("vm1") == []


@HOW
def test_a_pending_change_is_taken_at_the_next_start(vmstated, how):
    vmstated.add_vm("vm1", {"memory": 256})
    vmstated.start()
    started(vmstated, "vm1")
    # Stopped before it recorded its start, it would leave no record.
    vmstated.wait_standin_starts("vm1")
    set_config(vmstated, "vm1", {"memory": 512, "cpus": 2})
    reload(vmstated, how)
    wait_for(lambda: vmstated.status("vm1")["pending"] is True,
             what="the change to be pending")
    vmstated.ctl("-w", "stop", "vm1", check=0)
    started(vmstated, "vm1")
    first, second = vmstated.wait_standin_starts("vm1", 2)[:2]
    assert first["config"]["memory.size"] == "256M"
    assert second["config"]["memory.size"] == "512M"
    assert second["config"]["cpus"] == "2"
    vm = info(vmstated, "vm1")
    assert vm["pending"] is False and "pending_config" not in vm
    assert vm["config"]["memory"] == 512


def test_a_requested_restart_takes_the_pending_configuration(vmstated):
    vmstated.add_vm("vm1", {"memory": 256})
    vmstated.start()
    started(vmstated, "vm1")
    # Stopped before it recorded its start, it would leave no record.
    vmstated.wait_standin_starts("vm1")
    set_config(vmstated, "vm1", {"memory": 512})
    vmstated.ctl("reload", check=0)
    assert vmstated.status("vm1")["pending"] is True
    vmstated.ctl("-w", "restart", "vm1", check=0)
    starts = vmstated.wait_standin_starts("vm1", 2)
    assert starts[1]["config"]["memory.size"] == "512M"
    assert vmstated.status("vm1")["pending"] is False


def test_a_guest_reboot_keeps_the_configuration_in_force(vmstated):
    # Only a start or restart the administrator asks for takes a pending
    # configuration; the guest rebooting by itself does not.
    d = vmstated
    d.add_vm("vm1", {"memory": 256}, standin={"stdout": UP})
    d.start()
    started(d, "vm1")
    # Until its guest runs, the stand-in has no instance to reset.
    d.wait_log("vm1", UP)
    set_config(d, "vm1", {"memory": 512})
    d.ctl("reload", check=0)
    # bhyvectl --force-reset makes the running bhyve exit 0: a reboot.
    p = subprocess.run([str(d.build / "bhyvectl-standin"), "--force-reset",
                        "--vm=vm1"], env=d.env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    starts = d.wait_standin_starts("vm1", 2)
    assert starts[1]["config"]["memory.size"] == "256M"
    d.wait_state("vm1", "running")
    assert d.status("vm1")["pending"] is True


@HOW
def test_a_stopped_vm_takes_a_change_at_once(vmstated, how):
    vmstated.add_vm("vm1", {"description": "old"})
    vmstated.start()
    set_config(vmstated, "vm1", {"description": "new"})
    reply = reload(vmstated, how)
    if reply is not None:
        assert reply["changed"] == ["vm1"]
    wait_for(lambda: vmstated.status("vm1")["description"] == "new",
             what="the new description")
    assert info(vmstated, "vm1")["pending"] is False


def test_a_change_undone_before_the_next_start_is_no_longer_pending(
        vmstated):
    vmstated.add_vm("vm1", {"memory": 256})
    vmstated.start()
    started(vmstated, "vm1")
    set_config(vmstated, "vm1", {"memory": 512})
    vmstated.ctl("reload", check=0)
    assert vmstated.status("vm1")["pending"] is True
    set_config(vmstated, "vm1", {"memory": 256})
    vmstated.ctl("reload", check=0)
    vm = info(vmstated, "vm1")
    assert vm["pending"] is False and "pending_config" not in vm


def test_reloading_an_unchanged_configuration_changes_nothing(vmstated):
    vmstated.add_vm("vm1", {"memory": 256})
    vmstated.start()
    pid = started(vmstated, "vm1")["pid"]
    for _ in range(3):
        assert vmstated.ctl("reload") == (
            0, "configuration reloaded, nothing changed\n", "")
    vm = info(vmstated, "vm1")
    assert (vm["pid"], vm["pending"]) == (pid, False)


# --- an invalid configuration -----------------------------------------------

@HOW
def test_an_invalid_new_configuration_leaves_the_old_one_in_force(
        vmstated, how):
    vmstated.add_vm("vm1", {"memory": 256, "description": "good"})
    vmstated.start()
    pid = started(vmstated, "vm1")["pid"]
    d1 = vmstated.vm_dir("vm1")
    (d1 / "config").write_text("vm1 {\n  memory = 256;\n  frob = 1;\n}\n")
    reply = reload(vmstated, how)
    if reply is not None:
        assert (reply["added"], reply["removed"], reply["changed"]) == (
            [], [], [])
        [inv] = reply["invalid"]
        assert inv["vm"] == "vm1"
        assert "%s:3: frob" % (d1 / "config") in inv["error"]
    wait_for(lambda: vmstated.status("vm1")["error"],
             what="status to show the error")
    st = vmstated.status("vm1")
    assert (st["state"], st["pid"], st["description"], st["pending"]) == (
        "running", pid, "good", False)
    assert "%s:3: frob" % (d1 / "config") in st["error"]
    rc, out, _ = vmstated.ctl("status")
    assert "vm1: new configuration is invalid" in out
    # It still stops and starts on the old configuration (once the first
    # stand-in has recorded its start: stopped before, it would not).
    vmstated.wait_standin_starts("vm1")
    vmstated.ctl("-w", "stop", "vm1", check=0)
    started(vmstated, "vm1")
    assert vmstated.wait_standin_starts("vm1", 2)[1]["config"][
        "memory.size"] == "256M"
    # Once fixed, the error goes away.
    set_config(vmstated, "vm1", {"memory": 256, "description": "good"})
    reload(vmstated, how)
    wait_for(lambda: vmstated.status("vm1")["error"] is None,
             what="the error to go")


@HOW
def test_an_invalid_configuration_in_a_directory_named_otherwise_keeps_the_vm(
        vmstated, how):
    # The man page's layout: directory vm0, VM bsdvm.  A broken file may
    # not even give a name, so the VM is found by its directory.
    d = vmstated.add_vm("bsdvm", {"description": "good"}, dirname="vm0")
    vmstated.start()
    pid = started(vmstated, "bsdvm")["pid"]
    (d / "config").write_text("bsdvm {\n  frob = 1;\n")
    reload(vmstated, how)
    wait_for(lambda: vmstated.status("bsdvm")["error"],
             what="status to show the error")
    st = vmstated.status("bsdvm")
    assert (st["state"], st["pid"]) == ("running", pid)
    assert str(d / "config") in st["error"]
    assert "removed" not in vmstated.log("bsdvm")


def test_an_invalid_configuration_of_a_stopped_vm_keeps_it_startable(
        vmstated):
    vmstated.add_vm("vm1", {"memory": 256})
    vmstated.start()
    (vmstated.vm_dir("vm1") / "config").write_text("vm1 { memory = ; }\n")
    rc, _, err = vmstated.ctl("reload")
    assert rc == 1
    assert err.startswith("vmstatedctl: vm1: invalid configuration")
    assert vmstated.status("vm1")["state"] == "stopped"
    started(vmstated, "vm1")


def test_an_unreadable_configuration_directory_changes_nothing(vmstated,
                                                               tmp_path):
    vmstated.add_vm("vm1")
    vmstated.start()
    started(vmstated, "vm1")
    moved = tmp_path / "conf.moved"
    vmstated.conf.rename(moved)
    try:
        rc, _, err = vmstated.ctl("reload")
        assert rc == 1
        assert "cannot read the configuration directory" in err
        assert "nothing changed" in err
        assert vmstated.status("vm1")["state"] == "running"
    finally:
        moved.rename(vmstated.conf)


# --- a rename is a removal plus an addition ---------------------------------

@HOW
def test_a_renamed_vm_is_a_removal_plus_an_addition(vmstated, how):
    vmstated.add_vm("old", record_hooks=True, dirname="guest")
    vmstated.start()
    pid = started(vmstated, "old")["pid"]
    # Same directory, new name inside the file.
    (vmstated.vm_dir("guest") / "config").write_text(
        (vmstated.vm_dir("guest") / "config").read_text().replace(
            "old {", "new {", 1))
    reply = reload(vmstated, how)
    if reply is not None:
        assert (reply["added"], reply["removed"], reply["changed"]) == (
            ["new"], ["old"], [])
    wait_for(lambda: names(vmstated) == ["new"], what="only new to remain",
             details=lambda: vmstated.explain("old"))
    assert vmstated.hook_order("old")[-4:] == [
        "stopping removed running", "stop_storage removed stopping",
        "stop_network removed stop_storage", "stopped removed stop_network"]
    assert not vmstated.pid_alive(pid)
    assert vmstated.status("new")["state"] == "stopped"
    started(vmstated, "new")
    assert vmstated.hook_order("new")[:1] == ["start_network request stopped"]


def test_a_moved_directory_keeps_the_vm_running(vmstated):
    # The VM's name is its identity: a new directory for the same name is
    # a change of configuration, taken at the next start.
    vmstated.add_vm("vm1", dirname="a")
    vmstated.start()
    pid = started(vmstated, "vm1")["pid"]
    vmstated.vm_dir("a").rename(vmstated.conf / "b")
    set_config(vmstated, "vm1", {}, dirname="b")     # its configfile too
    rc, out, _ = vmstated.ctl("reload", check=0)
    assert out == ("changed: vm1\n"
                   "  in force at their next start (owner and group already "
                   "are): vm1\n")
    st = vmstated.status("vm1")
    assert (st["state"], st["pid"], st["pending"]) == ("running", pid, True)
    assert info(vmstated, "vm1")["pending_config"]["name"] == "vm1"


# --- vmstated.conf --------------------------------------------------------

@HOW
def test_reload_reads_vmstated_conf_defaults_again(vmstated, how):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    assert info(d, "vm1")["config"]["stoptimeout"] == 10
    d.defaults["stoptimeout"] = 42
    d.write_conf()
    reload(d, how)
    wait_for(lambda: info(d, "vm1")["config"]["stoptimeout"] == 42,
             what="the new default to apply")


def test_an_invalid_vmstated_conf_keeps_the_settings_in_force(vmstated):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    good = (d.conf / "vmstated.conf").read_text()
    (d.conf / "vmstated.conf").write_text(good + "frobnicate = 1;\n")
    d.defaults["stoptimeout"] = 42
    rc, out, err = d.ctl("-j", "reload")
    assert rc == 1
    [inv] = json.loads(out)["invalid"]
    assert inv["vm"] == "vmstated.conf"
    assert "frobnicate" in inv["error"]
    # The old settings stay: the VM still starts with the stand-in.
    assert info(d, "vm1")["config"]["stoptimeout"] == 10
    started(d, "vm1")
    assert d.status("vm1")["state"] == "running"


def test_reload_applies_a_new_socket_mode(vmstated):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    assert stat.S_IMODE(os.stat(d.sock).st_mode) == 0o660
    d.conf_settings["socket_mode"] = "0600"
    d.write_conf()
    d.ctl("reload", check=0)
    assert stat.S_IMODE(os.stat(d.sock).st_mode) == 0o600
