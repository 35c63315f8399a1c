"""A VM's life as a user drives it: start, stop, kill, and what bhyve is
given on the way (SPEC sections 4 and 5), against the bhyve stand-in.

Every test asserts what the administrator can see: the states status
reports, the order in which the hooks run, the VM's log, the files vmstated
writes and what the stand-in recorded about how it was run.
"""

import shutil
from pathlib import Path

from vmstated_harness import REPO, pid_alive, wait_for

START_HOOKS = ["start_network", "start_storage", "running"]
STOP_HOOKS = ["stopping", "stop_storage", "stop_network", "stopped"]


# The stand-in prints standin.stdout once its guest runs and handles
# SIGTERM as the power button; before that, as for bhyve, SIGTERM kills it.
UP = "guest is up"


def start_running(d, vm):
    """Start vm through vmstatedctl; return its status once it runs."""
    d.ctl("start", vm, check=0)
    return d.wait_state(vm, "running")


def start_up(d, vm):
    """start_running, then wait until the guest handles the power button
    (the VM needs standin.stdout=UP)."""
    status = start_running(d, vm)
    d.wait_log(vm, UP)
    return status


# ---- the man page's example ---------------------------------------------

def install_bsdvm(d):
    """CONF/bsdvm as the man page builds it, copied from examples/bsdvm/;
    only the paths change."""
    example = REPO / "examples" / "bsdvm"
    vmdir = d.vm_dir("bsdvm")
    vmdir.mkdir()
    configfile = vmdir / "bhyve_config"
    text = (example / "config").read_text()
    assert "/usr/local/etc/vmstated/bsdvm/bhyve_config" in text
    (vmdir / "config").write_text(
        text.replace("/usr/local/etc/vmstated/bsdvm", str(vmdir)))
    for hook in ("start_network", "stop_network"):
        shutil.copy(example / hook, vmdir / hook)
        (vmdir / hook).chmod(0o755)      # "chmod 755" as the page says
    bhyve = (example / "bhyve_config").read_text().replace(
        "/usr/local/share/uefi-firmware/BHYVE_UEFI.fd", str(d.bootrom))
    # How the test watches the stand-in: bhyve accepts any key.
    bhyve += "" if bhyve.endswith("\n") else "\n"
    bhyve += "standin.record=%s\n" % d.record_path("bsdvm")
    configfile.write_text(bhyve)
    # The guest's disk, named by a path relative to the VM's directory
    # (pci.0.4.0.port.0.path=disk.img): bhyve opens it from there.
    (vmdir / "disk.img").write_bytes(b"\0" * 65536)
    return vmdir


def fake_ifconfig(d):
    """An ifconfig on the daemon's PATH that records its arguments."""
    bindir = d.root / "bin"
    bindir.mkdir()
    calls = d.root / "ifconfig.calls"
    tool = bindir / "ifconfig"
    tool.write_text('#!/bin/sh\necho "$*" >> %s\necho "ifconfig $*"\n'
                    % calls)
    tool.chmod(0o755)
    d.env["PATH"] = "%s:%s" % (bindir, d.env.get("PATH", "/usr/bin:/bin"))
    return calls


def lines(path):
    try:
        return Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []


def test_man_page_bsdvm_example_runs_end_to_end(vmstated):
    d = vmstated
    vmdir = install_bsdvm(d)
    calls = fake_ifconfig(d)
    d.start()

    rc, out, _ = d.ctl("start", "bsdvm")
    assert rc == 0 and "bsdvm" in out
    status = d.wait_state("bsdvm", "running")
    assert lines(calls) == ["tap0 create", "bridge0 addm tap0"]
    starts = d.wait_standin_starts("bsdvm")
    assert len(starts) == 1 and starts[0]["pid"] == status["pid"]
    assert starts[0]["argv"][1:] == ["-k", str(vmdir / "bhyve_config")
                                     + ".generated"]
    assert starts[0]["config"]["name"] == "bsdvm"
    assert starts[0]["config"]["memory.size"] == "4G"
    # bhyve runs in the VM's directory: disk.img is the one beside config.
    opened = [r for r in d.standin_records("bsdvm") if r["event"] == "open"]
    assert str(vmdir / "disk.img") in [r.get("resolved") for r in opened], \
        opened

    d.ctl("stop", "bsdvm", check=0)
    d.wait_state("bsdvm", "stopped")
    wait_for(lambda: len(lines(calls)) == 3, what="stop_network to run")
    assert lines(calls)[2] == "tap0 destroy"
    assert not pid_alive(status["pid"])
    assert d.transitions("bsdvm") == [
        ("stopped", "start_network", "request"),
        ("start_network", "start_storage", "request"),
        ("start_storage", "running", "request"),
        ("running", "stopping", "request"),
        ("stopping", "stop_storage", "request"),
        ("stop_storage", "stop_network", "request"),
        ("stop_network", "stopped", "request"),
    ]
    # "tail -f /var/log/vmstated/bsdvm.log": the hooks' output is there.
    assert "ifconfig tap0 create" in d.log("bsdvm")
    assert "ifconfig tap0 destroy" in d.log("bsdvm")


# ---- start and stop -------------------------------------------------------

def test_start_runs_start_network_start_storage_then_running(vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True)
    d.start()
    start_running(d, "vm1")
    assert d.wait_hook("vm1", "running") == START_HOOKS
    assert d.hook_order("vm1") == [
        "start_network request stopped",
        "start_storage request start_network",
        "running request start_storage",
    ]


def test_hypervisor_is_spawned_after_start_storage_and_before_running(
        vmstated):
    d = vmstated
    pid_seen = d.root / "pid-seen"
    d.add_vm("vm1", hooks={
        "start_storage": 'echo "storage:$VMSTATED_PID" >> %s' % pid_seen,
        "running": 'echo "running:$VMSTATED_PID" >> %s' % pid_seen})
    d.start()
    status = start_running(d, "vm1")
    wait_for(lambda: len(lines(pid_seen)) == 2, what="running hook")
    assert lines(pid_seen) == ["storage:", "running:%d" % status["pid"]]


def test_status_shows_the_pid_of_the_running_hypervisor(vmstated):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    status = start_running(d, "vm1")
    starts = d.wait_standin_starts("vm1")
    assert [s["pid"] for s in starts] == [status["pid"]]
    assert pid_alive(status["pid"])


def test_stop_runs_stopping_stop_storage_stop_network_then_stopped(
        vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True)
    d.start()
    pid = start_running(d, "vm1")["pid"]
    d.ctl("stop", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    hooks = d.wait_hook("vm1", "stopped")
    assert hooks == START_HOOKS + STOP_HOOKS
    assert d.hook_order("vm1")[3:] == [
        "stopping request running",
        "stop_storage request stopping",
        "stop_network request stop_storage",
        "stopped request stop_network",
    ]
    assert d.status("vm1")["pid"] is None
    assert not pid_alive(pid)


def test_stop_asks_the_guest_to_power_off_with_sigterm(vmstated):
    d = vmstated
    d.add_vm("vm1", standin={"stdout": UP})
    d.start()
    start_up(d, "vm1")
    d.ctl("stop", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    # The stand-in also records its setup (instance, open, retitle).
    records = [r for r in d.standin_records("vm1")
               if r["event"] in ("start", "signal", "exit")]
    assert [r["event"] for r in records] == ["start", "signal", "exit"]
    assert records[1]["signal"] == "TERM"
    assert records[2]["status"] == 1 and records[2]["reason"] == "sigterm"


def test_stop_of_a_guest_ignoring_sigterm_kills_it_after_stoptimeout(
        vmstated):
    d = vmstated
    d.add_vm("vm1", {"stoptimeout": 3}, record_hooks=True,
             standin={"sigterm": "ignore", "stdout": UP})
    d.start()
    pid = start_up(d, "vm1")["pid"]
    d.ctl("stop", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    assert not pid_alive(pid)
    events = [r["event"] for r in d.standin_records("vm1")]
    # One SIGTERM (the power button), then SIGKILL at stoptimeout.
    assert events.count("signal") == 1
    assert "exit" not in events          # SIGKILL leaves no exit line
    assert "did not stop within 3 s; sending SIGKILL" in d.log("vm1")
    assert d.wait_hook("vm1", "stopped") == START_HOOKS + STOP_HOOKS


def test_kill_kills_the_hypervisor_at_once_then_runs_the_stop_hooks(
        vmstated):
    d = vmstated
    # A guest that would ignore the power button: only SIGKILL ends it.
    d.add_vm("vm1", {"stoptimeout": 600}, record_hooks=True,
             standin={"sigterm": "ignore", "stdout": UP})
    d.start()
    pid = start_up(d, "vm1")["pid"]
    d.ctl("kill", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    assert not pid_alive(pid)
    # Killed, not asked: the stand-in saw no SIGTERM and wrote no exit.
    d.wait_standin_starts("vm1")
    assert [r["event"] for r in d.standin_records("vm1")
            if r["event"] in ("start", "signal", "exit")] == ["start"]
    assert d.wait_hook("vm1", "stopped") == START_HOOKS + STOP_HOOKS
    assert [h.split()[1] for h in d.hook_order("vm1")[3:]] == ["kill"] * 4


def test_kill_during_a_start_hook_ends_the_hook_and_tears_down(vmstated):
    d = vmstated
    started = d.root / "storage-started"
    d.add_vm("vm1", {"hooktimeout": 600}, record_hooks=True, hooks={
        "start_storage": "touch %s\nexec sleep 600" % started})
    d.start()
    d.ctl("start", "vm1", check=0)
    wait_for(started.exists, what="start_storage hook to run")
    d.ctl("kill", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    # Both phases had begun: both teardowns run; no hypervisor was
    # started.
    assert d.wait_hook("vm1", "stopped") == [
        "start_network", "start_storage", "stop_storage", "stop_network",
        "stopped"]
    assert d.standin_starts("vm1") == []


def test_stop_during_start_hooks_stops_once_the_start_step_ends(vmstated):
    d = vmstated
    gate = d.root / "gate"
    started = d.root / "network-started"
    d.add_vm("vm1", record_hooks=True, hooks={
        "start_network": "touch %s\nwhile [ ! -e %s ]; do sleep 0.05; done"
                         % (started, gate)})
    d.start()
    d.ctl("start", "vm1", check=0)
    wait_for(started.exists, what="start_network hook to run")
    d.ctl("stop", "vm1", check=0)
    gate.touch()
    d.wait_state("vm1", "stopped")
    assert d.wait_hook("vm1", "stopped") == [
        "start_network", "stop_network", "stopped"]
    assert d.standin_starts("vm1") == []


# ---- what bhyve is given --------------------------------------------------

def test_bhyve_runs_with_k_and_the_generated_config(vmstated):
    d = vmstated
    vmdir = d.add_vm("vm1")
    d.start()
    start_running(d, "vm1")
    start = d.wait_standin_starts("vm1")[0]
    assert start["argv"] == [str(d.build / "bhyve-standin"), "-k",
                             str(vmdir / "bhyve_config") + ".generated"]


def test_generated_config_is_the_original_then_the_vm_settings(vmstated):
    d = vmstated
    original = "memory.size=1G\ncpus=1\npci.0.0.0.device=hostbridge\n"
    vmdir = d.add_vm("vm1", {"memory": 512, "cpus": 2, "sockets": 1,
                             "cores": 2, "generate_acpi_tables": True,
                             "vmexit_on_halt": True},
                     bhyve_config=original)
    before = (vmdir / "bhyve_config").read_text()
    d.start()
    start_running(d, "vm1")
    generated = (vmdir / "bhyve_config.generated").read_text()
    assert generated.startswith(before)
    added = generated[len(before):].splitlines()
    for line in ("name=vm1", "memory.size=512M", "cpus=2", "sockets=1",
                 "cores=2", "acpi_tables=true", "x86.vmexit_on_hlt=true"):
        assert line in added
    # The original file is left alone.
    assert (vmdir / "bhyve_config").read_text() == before
    # The generated settings won: bhyve keeps the last value of a key.
    config = d.wait_standin_starts("vm1")[0]["config"]
    assert config["memory.size"] == "512M"
    assert config["cpus"] == "2"


def test_bhyvectl_destroy_runs_after_the_exit_and_only_for_an_instance(
        vmstated):
    # A fresh VM has no instance: nothing to destroy before its start.
    # bhyve leaves its instance when it exits: it is destroyed then.
    d = vmstated
    d.add_vm("vm1", standin={"stdout": UP})
    d.start()
    pid = start_up(d, "vm1")["pid"]
    assert d.bhyvectl_calls("vm1") == []
    d.ctl("stop", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    calls = d.bhyvectl_calls("vm1")
    assert len(calls) == 1
    assert calls[0]["argv"][1:] == ["--destroy", "--vm=vm1"]
    assert calls[0]["instance"] == "idle"         # bhyve had exited
    assert calls[0]["time"] > d.standin_exits("vm1")[0]["time"]
    assert not (d.vmm / "vm1").exists()
    assert not pid_alive(pid)


def test_a_stale_instance_is_destroyed_before_the_start(vmstated):
    # An instance no bhyve runs (left by a crash of the host's tools, say)
    # is destroyed before a start, before the start_network hook.
    d = vmstated
    d.add_vm("vm1", record_hooks=True, standin={"stdout": UP})
    (d.vmm / "vm1").write_text("")
    d.start()
    start_up(d, "vm1")
    calls = d.bhyvectl_calls("vm1")
    assert len(calls) == 1 and calls[0]["instance"] == "idle"
    assert calls[0]["time"] < d.wait_standin_starts("vm1")[0]["time"]
    assert d.hook_states("vm1")[0] == "start_network"


def test_a_restart_destroys_the_instance_once_between_exit_and_respawn(
        vmstated):
    # A crash (exit status 4): the vCPUs were not suspended, so the
    # instance cannot be reused.  (A reboot reuses it: test_restarts.py.)
    d = vmstated
    d.add_vm("vm1", standin={"exits": "4,run", "delay": 0.2,
                             "stdout": UP})
    d.start()
    start_up(d, "vm1")
    d.wait_standin_starts("vm1", 2)
    d.wait_state("vm1", "running")
    calls = d.bhyvectl_calls("vm1")
    assert len(calls) == 1                        # after the exit
    assert calls[0]["time"] < d.standin_starts("vm1")[1]["time"]
    d.ctl("-w", "stop", "vm1", check=0)
    assert len(d.bhyvectl_calls("vm1")) == 2
    # Nothing left to destroy before the next start.
    d.ctl("-w", "start", "vm1", check=0)
    d.wait_standin_starts("vm1", 3)
    assert len(d.bhyvectl_calls("vm1")) == 2


def test_bhyve_configfile_gone_at_start_fails_the_vm_with_the_reason(vmstated):
    d = vmstated
    vmdir = d.add_vm("vm1", record_hooks=True)
    d.start()
    # Removed after the daemon loaded the VM (which checks it is there).
    (vmdir / "bhyve_config").unlink()
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "failed")
    assert str(vmdir / "bhyve_config") in d.log("vm1")
    assert d.standin_starts("vm1") == []
    # Both start steps had completed: both are torn down, then failed.
    assert d.wait_hook("vm1", "failed") == [
        "start_network", "start_storage", "stop_storage", "stop_network",
        "failed"]


def test_kill_during_a_slow_stop_kills_without_waiting_for_stoptimeout(
        vmstated):
    d = vmstated
    d.add_vm("vm1", {"stoptimeout": 600}, record_hooks=True,
             standin={"sigterm": "ignore", "stdout": UP})
    d.start()
    pid = start_up(d, "vm1")["pid"]
    d.ctl("stop", "vm1", check=0)
    d.wait_state("vm1", "stopping")
    d.ctl("kill", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    assert not pid_alive(pid)
    assert d.wait_hook("vm1", "stopped") == START_HOOKS + STOP_HOOKS


def test_stop_during_a_reboot_stops_instead_of_restarting(vmstated):
    d = vmstated
    started, gate = d.root / "restarting", d.root / "gate"
    d.add_vm("vm1", record_hooks=True,
             standin={"exits": "0,run", "delay": "0.2"},
             hooks={"restarting": "touch %s\nwhile [ ! -e %s ]; do "
                                  "sleep 0.05; done" % (started, gate)})
    d.start()
    d.ctl("start", "vm1", check=0)
    wait_for(started.exists, what="the guest to reboot")
    d.ctl("stop", "vm1", check=0)
    gate.touch()
    d.wait_state("vm1", "stopped")
    assert d.wait_hook("vm1", "stopped")[3:] == ["restarting"] + STOP_HOOKS
    assert len(d.standin_starts("vm1")) == 1
