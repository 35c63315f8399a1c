"""One disk, one running VM (issue 11 item 4), against the bhyve stand-in.

A VM does not start while another VM that is not at rest uses one of its
disks -- the disks of its bhyve configuration file (virtio-blk, nvme, the
ports of an ahci, the UEFI variables), compared by device and inode -- and
the refusal names that VM.  Disks both open read-only (an ahci cd, ro) may
be shared.  vmstated -n warns about two configurations that share a disk,
with its exit status unchanged.
"""
import os
import subprocess

from vmstated_harness import wait_for, write_file

UP = "guest is up"


def disk_config(path, device="virtio-blk", slot=4):
    """bhyve configuration lines attaching path as a disk."""
    if device == "ahci-cd":
        return ("pci.0.%d.0.device=ahci\npci.0.%d.0.port.0.type=cd\n"
                "pci.0.%d.0.port.0.path=%s\n" % (slot, slot, slot, path))
    if device == "ahci-hd":
        return ("pci.0.%d.0.device=ahci\npci.0.%d.0.port.0.type=hd\n"
                "pci.0.%d.0.port.1.type=hd\npci.0.%d.0.port.1.path=%s\n"
                % (slot, slot, slot, slot, path))
    return "pci.0.%d.0.device=%s\npci.0.%d.0.path=%s\n" % (slot, device,
                                                           slot, path)


def image(path):
    write_file(path, b"\0" * 4096)
    return path


def started(d, vm):
    d.ctl("-w", "start", vm, check=0)
    return d.wait_state(vm, "running")


def refused(d, vm):
    """Start vm, expecting a refusal; the error text."""
    rc, out, err = d.ctl("start", vm)
    assert rc == 1, (out, err)
    assert d.state(vm) == "stopped"
    return err


def test_a_vm_whose_disk_another_running_vm_uses_does_not_start(vmstated):
    d = vmstated
    disk = image(d.root / "shared.img")
    d.add_vm("vm1", bhyve_config=disk_config(disk))
    d.add_vm("vm2", bhyve_config=disk_config(disk, "nvme", 5))
    d.start()
    started(d, "vm1")
    err = refused(d, "vm2")
    assert ("the disk %s of vm2 is in use by vm1 (state running); stop vm1 "
            "first" % disk) in err, err
    assert "not starting: the disk %s of vm2 is in use by vm1" % disk in \
        d.log("vm2")
    assert d.standin_starts("vm2") == []
    # Once vm1 is at rest, vm2 may have the disk.
    d.ctl("-w", "stop", "vm1", check=0)
    started(d, "vm2")
    err = refused(d, "vm1")
    assert "is in use by vm2 (state running)" in err, err


def test_a_disk_reached_through_a_link_or_a_relative_path_is_the_same(
        vmstated):
    d = vmstated
    disk = image(d.root / "shared.img")
    d.add_vm("vm1", bhyve_config=disk_config(disk))
    d.add_vm("vm2", bhyve_config=disk_config("disk.img", "ahci-hd"))
    os.symlink(disk, d.vm_dir("vm2") / "disk.img")
    d.start()
    started(d, "vm1")
    err = refused(d, "vm2")
    assert ("the disk %s of vm2 is in use by vm1"
            % (d.vm_dir("vm2") / "disk.img")) in err, err


def test_the_disks_of_a_renamed_directory_stay_taken_while_it_stops(
        vmstated):
    # Renaming a running VM's directory and reloading stops the old name
    # and adds the new one: its disk, named relative to the directory, is
    # the very file the old hypervisor still has open.
    d = vmstated
    d.add_vm("old", {"stoptimeout": 120}, standin={"sigterm": "ignore", "stdout": UP},
             bhyve_config=disk_config("disk.img"))
    image(d.vm_dir("old") / "disk.img")
    d.start()
    started(d, "old")
    d.wait_log("old", UP)
    os.rename(d.vm_dir("old"), d.vm_dir("new"))
    text = (d.vm_dir("new") / "config").read_text()
    text = text.replace("old {", "new {", 1).replace(
        str(d.vm_dir("old")), str(d.vm_dir("new")))
    write_file(d.vm_dir("new") / "config", text)
    d.ctl("reload", check=0)
    d.wait_state("old", "stopping")
    err = refused(d, "new")
    assert ("the disk %s of new is in use by old (state stopping); stop "
            "old first" % (d.vm_dir("new") / "disk.img")) in err, err
    assert len(d.standin_starts("old")) == 1
    # Once the old one is gone, the new one starts on its disk.
    d.ctl("kill", "old", check=0)
    wait_for(lambda: "old" not in [v["name"] for v in d.status()],
             what="old to be stopped and forgotten")
    started(d, "new")


def test_a_disk_both_open_read_only_may_be_shared(vmstated):
    d = vmstated
    iso = image(d.root / "install.iso")
    disk = image(d.root / "ro.img")
    d.add_vm("vm1", bhyve_config=disk_config(iso, "ahci-cd") +
             disk_config(disk, slot=5) + "pci.0.5.0.ro=true\n")
    d.add_vm("vm2", bhyve_config=disk_config(iso, "ahci-cd") +
             disk_config(disk, slot=5) + "pci.0.5.0.ro=true\n")
    d.add_vm("vm3", bhyve_config=disk_config(disk, slot=5))
    d.start()
    started(d, "vm1")
    started(d, "vm2")
    # Written by one, read by another: refused.
    err = refused(d, "vm3")
    assert "the disk %s of vm3 is in use by vm" % disk in err, err


def test_the_uefi_variables_file_is_a_disk_too(vmstated):
    d = vmstated
    vars_file = image(d.root / "vars.fd")
    for vm in ("vm1", "vm2"):
        d.add_vm(vm, bhyve_config="lpc.bootvars=%s\n" % vars_file)
    d.start()
    started(d, "vm1")
    err = refused(d, "vm2")
    assert "the disk %s of vm2 is in use by vm1" % vars_file in err, err


def test_a_bhyve_disk_named_through_a_variable_is_found(vmstated):
    # bhyve replaces %(name) by the value of name, which vmstated sets.
    d = vmstated
    disk = image(d.root / "vm1.img")
    d.add_vm("vm1", bhyve_config=disk_config("%s/%%(name).img" % d.root))
    d.add_vm("vm2", bhyve_config=disk_config(disk))
    d.start()
    started(d, "vm1")
    # The stand-in opened the file the daemon worked out.
    wait_for(lambda: [r for r in d.standin_records("vm1")
                      if r["event"] == "open" and
                      r["resolved"] == str(disk)],
             what="the stand-in to open %s" % disk)
    err = refused(d, "vm2")
    assert "the disk %s of vm2 is in use by vm1" % disk in err, err


def check(d):
    """vmstated -n on the test's configuration: (status, out, err)."""
    d.write_conf()
    p = subprocess.run([str(d.build / "vmstated"), "-n", "-c", str(d.conf)],
                       capture_output=True, text=True, env=d.env)
    return p.returncode, p.stdout, p.stderr


def test_check_warns_about_two_configurations_sharing_a_disk(vmstated):
    d = vmstated
    disk = image(d.root / "shared.img")
    d.add_vm("vm1", bhyve_config=disk_config(disk))
    d.add_vm("vm2", bhyve_config=disk_config(disk, "nvme"))
    d.add_vm("vm3", bhyve_config=disk_config(image(d.root / "own.img")))
    rc, out, err = check(d)
    assert rc == 0, (out, err)
    assert err == ("warning: vm1 (%s) and vm2 (%s) both use the disk %s: "
                   "vmstated starts neither while the other runs\n"
                   % (d.vm_dir("vm1"), d.vm_dir("vm2"), disk)), err
    assert len(out.splitlines()) == 3, out


def test_check_stays_silent_about_a_shared_read_only_disk(vmstated):
    d = vmstated
    iso = image(d.root / "install.iso")
    for vm in ("vm1", "vm2"):
        d.add_vm(vm, bhyve_config=disk_config(iso, "ahci-cd"))
    rc, out, err = check(d)
    assert (rc, err) == (0, ""), (out, err)


def test_check_keeps_its_status_when_it_warns(vmstated):
    d = vmstated
    disk = image(d.root / "shared.img")
    d.add_vm("vm1", bhyve_config=disk_config(disk))
    d.add_vm("vm2", bhyve_config=disk_config(disk))
    d.add_vm("bad", {"memory": "lots"})
    rc, out, err = check(d)
    assert rc == 1, (out, err)
    assert "memory" in err and "both use the disk %s" % disk in err, err
