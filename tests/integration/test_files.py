"""Files a configuration names that could hold the daemon: a FIFO, whose
open() waits for a writer, and a link to /dev/zero, which never ends.

They are refused when the configuration is loaded, with the file, the
line and the key, so that `vmstated -n` reports them; and again when the
VM starts, since a file can change after it was loaded.  Meanwhile the
daemon keeps answering `status`, obeys SIGTERM, and its memory stays
small.
"""
import os
import resource
import subprocess
import time

import pytest

from vmstated_harness import wait_for

MiB = 1024 * 1024


def proc_status(pid, field):
    """A field of /proc/PID/status in bytes (Linux), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def guard_memory(d, headroom=512 * MiB):
    """A safety net for the machine: should the daemon read without bound,
    it hits an address-space limit rather than eat all memory.  Not under
    the sanitizers, whose shadow memory reserves terabytes."""
    size = proc_status(d.proc.pid, "VmSize")
    if size is None or size > 2 ** 40:
        return
    resource.prlimit(d.proc.pid, resource.RLIMIT_AS,
                     (size + headroom, size + headroom))


def state_now(d, vm):
    """The VM's state, or a failure if the daemon does not answer within
    5 s (a daemon blocked in open() never does)."""
    reply = d.request({"command": "status", "vms": [vm]}, timeout=5)
    return reply["vms"][0]["state"]


def assert_stops_on_sigterm(d):
    assert d.stop(timeout=30) == 0


# ---- refused at load: the VM is invalid, vmstated -n says why -----------

def test_fifo_configfile_makes_the_vm_invalid(vmstated):
    d = vmstated
    vmdir = d.add_vm("vm1")
    configfile = vmdir / "bhyve_config"
    configfile.unlink()
    os.mkfifo(configfile)
    d.add_vm("good")
    d.start()
    status = d.status("vm1")
    assert status["state"] == "invalid"
    assert status["error"] == (
        "%s:2: configfile: cannot use %s: it is a FIFO (named pipe), not "
        "a regular file" % (vmdir / "config", configfile))
    d.ctl("start", "good", check=0)
    d.wait_state("good", "running")
    assert_stops_on_sigterm(d)


def test_configfile_linked_to_dev_zero_makes_the_vm_invalid(vmstated):
    d = vmstated
    vmdir = d.add_vm("vm1")
    configfile = vmdir / "bhyve_config"
    configfile.unlink()
    configfile.symlink_to("/dev/zero")
    d.start()
    status = d.status("vm1")
    assert status["state"] == "invalid"
    assert status["error"] == (
        "%s:2: configfile: cannot use %s: it is a character device, not a "
        "regular file" % (vmdir / "config", configfile))
    assert_stops_on_sigterm(d)


def test_check_reports_every_file_that_could_block(vmstated):
    d = vmstated
    vmdir = d.add_vm("vm1", {"bootrom": "rom"})
    os.mkfifo(vmdir / "rom")
    qemu = d.vm_dir("q")
    qemu.mkdir()
    (qemu / "config").write_text(
        "q {\n\thypervisor = qemu;\n\tkernel = zero;\n\tinitrd = fifo;\n"
        "\tdisk = [/dev/null, fifo];\n}\n")
    (qemu / "zero").symlink_to("/dev/zero")
    os.mkfifo(qemu / "fifo")
    d.write_conf()
    p = subprocess.run(d.command("-n"), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1
    assert p.stderr.splitlines() == [
        "%s:3: kernel: cannot use %s: it is a character device, not a "
        "regular file" % (qemu / "config", qemu / "zero"),
        "%s:4: initrd: cannot use %s: it is a FIFO (named pipe), not a "
        "regular file" % (qemu / "config", qemu / "fifo"),
        "%s:5: disk: cannot use %s: it is a FIFO (named pipe), not a "
        "regular file or a device" % (qemu / "config", qemu / "fifo"),
        "%s:2: bootrom: cannot use %s: it is a FIFO (named pipe), not a "
        "regular file" % (vmdir / "config", vmdir / "rom"),
    ]


# ---- changed after load: the start fails, the daemon goes on -------------

def test_configfile_turned_fifo_fails_the_start_not_the_daemon(vmstated):
    d = vmstated
    vmdir = d.add_vm("vm1")
    d.add_vm("good")
    d.start()
    configfile = vmdir / "bhyve_config"
    configfile.unlink()
    os.mkfifo(configfile)
    d.ctl("start", "vm1", check=0)
    wait_for(lambda: state_now(d, "vm1") == "failed", 30,
             "vm1 to fail its start")
    assert ("cannot start: cannot read the bhyve configuration file %s: it "
            "is a FIFO (named pipe), not a regular file" % configfile
            ) in d.log("vm1")
    # Nobody ever opened the FIFO for reading.
    assert d.standin_starts("vm1") == []
    d.ctl("start", "good", check=0)
    d.wait_state("good", "running")
    assert_stops_on_sigterm(d)


def test_configfile_turned_dev_zero_link_is_not_read(vmstated):
    d = vmstated
    vmdir = d.add_vm("vm1")
    d.start()
    guard_memory(d)
    before = proc_status(d.proc.pid, "VmRSS")
    configfile = vmdir / "bhyve_config"
    configfile.unlink()
    configfile.symlink_to("/dev/zero")
    d.ctl("start", "vm1", check=0)
    deadline = time.monotonic() + 30
    while state_now(d, "vm1") != "failed":
        assert time.monotonic() < deadline, "vm1 did not fail its start"
        time.sleep(0.05)
    assert ("cannot read the bhyve configuration file %s: it is a "
            "character device, not a regular file" % configfile
            ) in d.log("vm1")
    after = proc_status(d.proc.pid, "VmRSS")
    if before is None:
        pytest.skip("no /proc/PID/status to measure the daemon's memory")
    assert after - before < 16 * MiB
    assert_stops_on_sigterm(d)
