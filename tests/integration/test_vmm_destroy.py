"""FreeBSD's way of destroying a bhyve instance: the daemon itself, through
the hw.vmm.destroy sysctl (what bhyvectl --destroy calls through
libvmmapi's vm_destroy()), with no helper process between a crash and the
replacement bhyve (issue 14).

Linux has no such sysctl; where VMSTATED_STANDIN_VMM_SYSCTL=1 is in the
daemon's environment, src/platform/linux.c does to the stand-in's
instances (files in vmmdir, tests/standin/vmm.c) what the sysctl does.
Without it (every other test) the daemon runs the bhyvectl stand-in, as
on a system without the sysctl.
"""


DELAY = "0.2"
UP = "guest is up"


def with_sysctl(d):
    d.env["VMSTATED_STANDIN_VMM_SYSCTL"] = "1"
    return d


def instance_actions(d, vm):
    return [r["action"] for r in d.standin_records(vm)
            if r["event"] == "instance"]


def test_a_crash_destroys_the_instance_without_bhyvectl(vmstated):
    d = with_sysctl(vmstated)
    d.add_vm("vm1", standin={"exits": "SEGV,run", "delay": DELAY})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_standin_starts("vm1", 2)
    d.wait_state("vm1", "running")
    # A new instance for the replacement: the crashed one's was destroyed.
    assert instance_actions(d, "vm1") == ["created", "created"], \
        d.standin_records("vm1")
    assert d.bhyvectl_calls() == [], d.bhyvectl_calls()
    assert "destroyed VM instance vm1" in d.log("vm1")
    assert d.status("vm1")["restarts"] == 1


def test_a_stop_destroys_the_instance_without_bhyvectl(vmstated):
    d = with_sysctl(vmstated)
    d.add_vm("vm1", standin={"stdout": UP})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_log("vm1", UP)
    assert (d.vmm / "vm1").exists()
    d.ctl("stop", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    assert not (d.vmm / "vm1").exists()
    assert d.bhyvectl_calls() == [], d.bhyvectl_calls()
    assert "destroyed VM instance vm1" in d.log("vm1")


def test_an_instance_left_over_is_destroyed_before_the_start(vmstated):
    # An instance nobody runs, as a bhyve killed with the host's daemon
    # down leaves it; a bhyve without a bootrom cannot use it.
    d = with_sysctl(vmstated)
    d.add_vm("vm1", standin={"stdout": UP})
    (d.vmm / "vm1").write_text("")
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_log("vm1", UP)
    assert instance_actions(d, "vm1") == ["created"], \
        d.standin_records("vm1")
    assert d.bhyvectl_calls() == [], d.bhyvectl_calls()
    log = d.log("vm1")
    assert log.index("destroyed VM instance vm1") < log.index(UP), log


def test_a_reboot_still_keeps_the_instance(vmstated):
    # Only an instance that must go is destroyed.
    d = with_sysctl(vmstated)
    d.add_vm("vm1", standin={"exits": "0,run", "delay": DELAY})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_standin_starts("vm1", 2)
    d.wait_state("vm1", "running")
    assert instance_actions(d, "vm1") == ["created", "reinit"], \
        d.standin_records("vm1")
    assert "destroyed VM instance" not in d.log("vm1")


def test_without_the_sysctl_bhyvectl_destroys_it(vmstated):
    # The same crash where the system has no hw.vmm.destroy.
    d = vmstated
    assert "VMSTATED_STANDIN_VMM_SYSCTL" not in d.env
    d.add_vm("vm1", standin={"exits": "SEGV,run", "delay": DELAY})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_standin_starts("vm1", 2)
    d.wait_state("vm1", "running")
    assert [c["argv"][1:] for c in d.bhyvectl_calls("vm1")] == \
        [["--destroy", "--vm=vm1"]], d.bhyvectl_calls()
    assert "destroyed VM instance" not in d.log("vm1")
