"""The qemu back end against fake-qemu, a stand-in that speaks QMP on the
socket it inherits: the command line built from the config, how each QMP
SHUTDOWN reason is read, system_powerdown on stop, and a QMP peer that
misbehaves.  Quick: no guest boots."""

import json
import os

import pytest

from e2e_settings import FAKE_QEMU
from vmstated_harness import wait_for


def argv_of(vmstated, name):
    starts = [r["argv"] for r in vmstated.fake_record(name) if "argv" in r]
    assert starts, "fake-qemu never ran:\n" + vmstated.explain(name)
    return starts[-1]


def option_values(argv, option):
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == option]


def test_command_line_follows_the_config(fake_vmstated, tmp_path):
    bios = tmp_path / "bios.bin"
    bios.write_bytes(b"\0" * 64)
    raw = tmp_path / "disk,one.img"
    raw.write_bytes(b"\0" * 512)
    qcow2 = tmp_path / "disk2.qcow2"
    qcow2.write_bytes(b"QFI\xfb" + b"\0" * 508)
    fake_vmstated.add_fake(
        "vm1", memory="1G", cpus=4, sockets=2, cores=2, bootrom=str(bios),
        generate_acpi_tables=False,
        disk=[str(raw), {"path": str(qcow2), "format": "qcow2"}],
        qemu_args=["-device", "pvpanic-pci", "-accel", "tcg"])
    fake_vmstated.start()
    fake_vmstated.ctl("start", "vm1", check=0)
    fake_vmstated.wait_state("vm1", "running")
    fake_vmstated.wait_log("vm1", "fake-qemu: started")
    argv = argv_of(fake_vmstated, "vm1")

    assert argv[0] == str(FAKE_QEMU)
    assert option_values(argv, "-name") == ["guest=vm1"]
    assert option_values(argv, "-m") == ["1024M"]
    assert option_values(argv, "-smp") == [
        "cpus=4,sockets=2,cores=2,threads=1"]
    assert option_values(argv, "-bios") == [str(bios)]
    assert "acpi=off" in option_values(argv, "-machine")
    assert "-no-reboot" in argv
    # The first serial port is the daemon's console: a socket in rundir
    # inherited as fd 4 (fd 3 is QMP's).
    assert option_values(argv, "-serial") == ["chardev:vmstated-console"]
    assert any(v.startswith("socket,id=vmstated-console,") and "fd=4" in v
               and "server=on" in v for v in option_values(argv, "-chardev"))
    assert option_values(argv, "-drive") == [
        "file=%s,format=raw,if=virtio" % str(raw).replace(",", ",,"),
        "file=%s,format=qcow2,if=virtio" % qcow2]
    # The user's pvpanic replaces the default one; their args come last.
    assert option_values(argv, "-device") == ["pvpanic-pci"]
    assert argv[-4:] == ["-device", "pvpanic-pci", "-accel", "tcg"]
    assert any(v.startswith("socket,") and "fd=3" in v and "server=on" in v
               for v in option_values(argv, "-chardev"))
    assert option_values(argv, "-mon")[0].endswith("mode=control")
    # The command line is in the VM log before the start.
    assert ("-smp cpus=4,sockets=2,cores=2,threads=1"
            in fake_vmstated.log("vm1"))


def test_a_raw_disk_holding_a_qcow2_header_is_passed_as_raw(
        fake_vmstated, tmp_path):
    # A guest writes the first bytes of its raw disk.  Had vmstated looked
    # at them, a qcow2 header naming backing_file=/etc/shadow would make
    # qemu, as root, open that file as the disk's backing image.
    disk = tmp_path / "guest.img"
    header = b"QFI\xfb\0\0\0\3" + b"\0" * 504
    disk.write_bytes(header)
    fake_vmstated.add_fake("vm1", disk=str(disk))
    fake_vmstated.start()
    fake_vmstated.ctl("start", "vm1", check=0)
    fake_vmstated.wait_state("vm1", "running")
    fake_vmstated.wait_log("vm1", "fake-qemu: started")
    assert option_values(argv_of(fake_vmstated, "vm1"), "-drive") == [
        "file=%s,format=raw,if=virtio" % disk]


@pytest.mark.parametrize("fake, state, reason", [
    ({"reason": "guest-reset"}, "restarting", "guest-reboot"),
    ({"reason": "guest-shutdown"}, "stopping", "guest-poweroff"),
    ({"reason": "guest-panic", "panic": "1"}, "restarting", "crash"),
    ({"reason": "host-qmp-quit"}, "restarting", "crash"),
    ({"reason": "none"}, "restarting", "crash"),
    ({"reason": "guest-shutdown", "status": "1"}, "restarting", "crash"),
])
def test_exit_is_read_from_the_qmp_shutdown_reason(fake_vmstated, fake,
                                                   state, reason):
    fake = dict(fake, after="1")
    fake_vmstated.add_fake("vm1", fake)
    fake_vmstated.start()
    fake_vmstated.ctl("start", "vm1", check=0)
    fake_vmstated.wait_hook("vm1", state)
    first = [h for h in fake_vmstated.hook_order("vm1")
             if h.split()[0] == state][0]
    assert first.split()[1] == reason


def test_stop_sends_system_powerdown(fake_vmstated):
    fake_vmstated.add_fake("vm1")
    fake_vmstated.start()
    fake_vmstated.ctl("start", "vm1", check=0)
    fake_vmstated.wait_hook("vm1", "running")
    fake_vmstated.ctl("-w", "stop", "vm1", check=0)
    fake_vmstated.wait_hook("vm1", "stopped")
    record = fake_vmstated.fake_record("vm1")
    commands = [r["command"] for r in record if "command" in r]
    assert commands == ["qmp_capabilities", "system_powerdown"]
    assert not any("signal" in r for r in record)
    log = fake_vmstated.log("vm1")
    assert "shutdown, reason guest-shutdown" in log
    assert "SIGTERM" not in log


def test_stop_sends_sigterm_when_qmp_is_unreachable(fake_vmstated):
    fake_vmstated.add_fake("vm1", {"qmp": "close"})
    fake_vmstated.start()
    fake_vmstated.ctl("start", "vm1", check=0)
    fake_vmstated.wait_hook("vm1", "running")
    fake_vmstated.wait_log("vm1", "fake-qemu: started")
    fake_vmstated.ctl("-w", "stop", "vm1", check=0)
    fake_vmstated.wait_hook("vm1", "stopped")
    record = fake_vmstated.fake_record("vm1")
    assert {"signal": 15} in record
    assert "SIGTERM" in fake_vmstated.log("vm1")


def test_guest_ignoring_powerdown_is_stopped_after_stoptimeout(
        fake_vmstated):
    fake_vmstated.add_fake("vm1", {"button": "ignore"}, stoptimeout=2)
    fake_vmstated.start()
    fake_vmstated.ctl("start", "vm1", check=0)
    fake_vmstated.wait_hook("vm1", "running")
    # QMP up before the stop, or SIGTERM could come (at stoptimeout)
    # before fake-qemu has even read system_powerdown.
    wait_for(lambda: {"command": "qmp_capabilities"} in
             fake_vmstated.fake_record("vm1"), what="QMP to be negotiated",
             details=lambda: fake_vmstated.explain("vm1"))
    fake_vmstated.ctl("stop", "vm1", check=0)
    fake_vmstated.wait_hook("vm1", "stopped")
    record = fake_vmstated.fake_record("vm1")
    assert {"command": "system_powerdown"} in record
    assert "did not stop within 2 s" in fake_vmstated.log("vm1")


def test_overlong_qmp_line_closes_qmp_and_the_daemon_carries_on(
        fake_vmstated):
    fake_vmstated.add_fake("vm1", {"qmp": "flood", "after": "2",
                                   "reason": "guest-shutdown"})
    fake_vmstated.start()
    fake_vmstated.ctl("start", "vm1", check=0)
    fake_vmstated.wait_log("vm1", "QMP line longer than")
    # The SHUTDOWN event is lost with the connection: a crash, restarted.
    fake_vmstated.wait_hook("vm1", "restarting")
    restarting = [h for h in fake_vmstated.hook_order("vm1")
                  if h.startswith("restarting ")]
    assert restarting[0].split()[1] == "crash"
    assert fake_vmstated.status("vm1")["state"] in (
        "restarting", "restarted", "running")


def test_kernel_gone_since_loading_fails_the_start_naming_the_file(
        fake_vmstated, tmp_path):
    missing = tmp_path / "kernel"
    missing.write_bytes(b"\0")
    fake_vmstated.add_fake("vm1", kernel=str(missing))
    fake_vmstated.start()
    missing.unlink()
    fake_vmstated.ctl("start", "vm1")
    fake_vmstated.wait_state("vm1", "failed")
    log = fake_vmstated.log("vm1")
    assert "kernel %s: No such file or directory" % missing in log
    assert fake_vmstated.fake_record("vm1") == []


def test_qmp_socket_is_removed_after_the_exit(fake_vmstated):
    fake_vmstated.add_fake("vm1")
    fake_vmstated.start()
    fake_vmstated.ctl("start", "vm1", check=0)
    fake_vmstated.wait_hook("vm1", "running")
    sock = fake_vmstated.rundir / "vm1.qmp"
    assert sock.exists()
    fake_vmstated.ctl("-w", "stop", "vm1", check=0)
    assert not os.path.exists(sock)


def test_qemu_args_with_serial_ports_keep_them_and_get_no_console(
        fake_vmstated):
    """A -serial of qemu_args: the first port stays stdio (the VM log),
    as before the daemon had consoles, so that the user's ports keep
    their numbers; the VM has no console of the daemon's."""
    fake_vmstated.add_fake("vm1", qemu_args=["-serial", "null"])
    fake_vmstated.start()
    fake_vmstated.ctl("start", "vm1", check=0)
    fake_vmstated.wait_state("vm1", "running")
    fake_vmstated.wait_log("vm1", "fake-qemu: started")
    argv = argv_of(fake_vmstated, "vm1")
    assert option_values(argv, "-serial") == ["stdio", "null"]
    assert not any("vmstated-console" in v
                   for v in option_values(argv, "-chardev"))
    rc, _, err = fake_vmstated.ctl("console", "vm1")
    assert rc == 1
    assert ("vm1 has no console of vmstated's: its configuration puts "
            "com1 elsewhere: -serial in its qemu_args") in err
    _, info, _ = fake_vmstated.ctl("-j", "info", "vm1", check=0)
    assert "console" not in json.loads(info)["vm"]["paths"]


def test_watchdog_yes_adds_the_device_and_restarts_when_it_fires(
        fake_vmstated):
    d = fake_vmstated
    d.add_fake("vm1", {"watchdog": "1"}, watchdog=True)
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_hook("vm1", "restarting")
    argv = argv_of(d, "vm1")
    assert "i6300esb" in option_values(argv, "-device")
    assert option_values(argv, "-action") == ["watchdog=none"]
    first = [h for h in d.hook_order("vm1") if h.split()[0] == "restarting"]
    assert first[0].split()[1] == "watchdog"
    assert "qemu: the guest's watchdog expired (action none)" in d.log("vm1")
    assert "the guest's watchdog fired: killing pid" in d.log("vm1")


def test_a_watchdog_of_the_users_own_is_only_logged(fake_vmstated):
    # Without watchdog = yes the device, if any, is the user's, and so is
    # its action: the daemon only says what qemu reported.
    d = fake_vmstated
    d.add_fake("vm1", {"watchdog": "0"})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_log("vm1", "qemu: the guest's watchdog expired (action none)")
    argv = argv_of(d, "vm1")
    assert "i6300esb" not in option_values(argv, "-device")
    assert "-action" not in argv
    # The daemon acts on the event in the callback that logs it: had it
    # acted, the VM would already be in running:killed.
    rc, out, err = d.ctl("-j", "info", "vm1", check=0)
    info = json.loads(out)["vm"]
    assert info["position"] == "running" and info["restarts"] == 0
    assert os.kill(info["pid"], 0) is None


def test_a_watchdog_after_a_daemon_restart_still_restarts_the_vm(
        fake_vmstated):
    # The daemon is killed and started again: it takes qemu back and
    # connects to QMP anew; an expiry reported then is acted on.
    d = fake_vmstated
    fire = d.root / "fire"
    d.add_fake("vm1", {"watchdog_when": str(fire)}, watchdog=True)
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    pid = d.status("vm1")["pid"]
    d.kill()
    d.start()
    assert d.status("vm1")["pid"] == pid
    wait_for(lambda: [r for r in d.fake_record("vm1")
                      if r.get("qmp") == "client"],
             what="the new daemon's QMP connection")
    wait_for(lambda: d.fake_record("vm1")[-1].get("command") ==
             "qmp_capabilities", what="QMP negotiated again")
    fire.touch()
    d.wait_hook("vm1", "restarting")
    first = [h for h in d.hook_order("vm1") if h.split()[0] == "restarting"]
    assert first[0].split()[1] == "watchdog"
    d.wait_state("vm1", "running")
    assert d.status("vm1")["pid"] != pid


def test_a_watchdog_while_the_vm_stops_is_only_logged(fake_vmstated):
    d = fake_vmstated
    fire = d.root / "fire"
    d.add_fake("vm1", {"watchdog_when": str(fire), "button": "ignore"},
               watchdog=True, stoptimeout=300)
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    pid = d.status("vm1")["pid"]
    d.ctl("stop", "vm1", check=0)
    wait_for(lambda: {"command": "system_powerdown"} in d.fake_record("vm1"),
             what="the power button")
    fire.touch()
    d.wait_log("vm1", "qemu: the guest's watchdog expired")
    info = json.loads(d.ctl("-j", "info", "vm1", check=0)[1])["vm"]
    assert info["position"] == "stopping:wait" and info["pid"] == pid
    d.ctl("kill", "vm1", check=0)
    d.wait_hook("vm1", "stopped")
    assert "restarting" not in d.hook_states("vm1")


def test_a_disk_in_use_by_another_running_vm_refuses_the_start(
        fake_vmstated, tmp_path):
    # One disk, one running VM: the second VM naming it (here through a
    # relative path from its directory) is refused, naming the first.
    d = fake_vmstated
    disk = tmp_path / "shared.img"
    disk.write_bytes(b"\0" * 512)
    d.add_fake("vm1", disk=str(disk))
    d.add_fake("vm2", disk="../../shared.img")
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "running")
    rc, out, err = d.ctl("start", "vm2")
    assert rc == 1, (out, err)
    assert ("the disk %s of vm2 is in use by vm1 (state running); stop "
            "vm1 first" % (d.vm_dir("vm2") / "../../shared.img")) in err, err
    assert d.fake_record("vm2") == []
    d.ctl("-w", "stop", "vm1", check=0)
    d.ctl("start", "vm2", check=0)
    d.wait_state("vm2", "running")
