"""The bhyve and bhyvectl stand-ins behave as FreeBSD 14's bhyve(8) and
bhyvectl(8) do where a supervisor can see it, and as their standin.* keys
say.  tests/standin/README.md cites the source of each behaviour.

They are what vmstated's bhyve back end is tested against, so a stand-in
that lied would make those tests lie too.
"""

import json
import os
import signal
import subprocess

import pytest

from vmstated_harness import wait_for

LPC = "pci.0.31.0.device=lpc\n"

# What the kernel shows of a process is read in Linux's /proc.
linux_proc = pytest.mark.skipif(not os.path.exists("/proc/self/cmdline"),
                                reason="reads Linux's /proc/PID files")


def instance(standin, name="vm"):
    return standin.vmm / name


def instance_state(standin, name="vm"):
    """The instance file as a dict (pid, memory, wired, vcpus)."""
    text = instance(standin, name).read_text()
    return dict(line.split("=", 1) for line in text.splitlines())


def run_in(standin, cwd, *args, env=None):
    """Run the bhyve stand-in in directory cwd: (status, stdout, stderr)."""
    p = standin.spawn(*args, env=env, cwd=str(cwd))
    out, err = p.communicate(timeout=60)
    return p.returncode, out, err


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read()


# ---- exit statuses --------------------------------------------------------

@pytest.mark.parametrize("status", [0, 1, 2, 3, 4])
def test_exit_status_is_standin_exit(standin, status):
    rc, _, _ = standin.run("-k", standin.config(exit=status))
    assert rc == status


def test_signal_kills_the_process_by_that_signal(standin):
    rc, _, _ = standin.run("-k", standin.config(signal="SEGV"))
    assert rc == -signal.SIGSEGV
    assert standin.records("exit")[-1]["signal"] == "SEGV"


def test_successive_runs_follow_standin_exits_then_standin_exit(standin):
    conf = standin.config(exits="0,3,SIGABRT", exit=2)
    statuses = []
    for _ in range(4):
        statuses.append(standin.run("-k", conf)[0])
        # As vmstated does after each exit (a crash leaves it busy).
        standin.bhyvectl("--destroy", "--vm=vm")
    assert statuses == [0, 3, -signal.SIGABRT, 2]
    assert [r["run"] for r in standin.records("start")] == [1, 2, 3, 4]


def test_run_step_keeps_the_guest_running(standin):
    conf = standin.config(exits="1,run", stdout="up")
    assert standin.run("-k", conf)[0] == 1
    p = standin.spawn("-k", conf)
    assert p.stdout.readline() == "up\n"
    assert p.poll() is None


def test_standin_exits_without_a_counter_is_an_error(standin):
    rc, _, err = standin.run("-k", standin.config(record=False, exits="0"))
    assert rc == 4
    assert "standin.exits" in err


def test_invalid_standin_value_exits_4_naming_the_key(standin):
    rc, _, err = standin.run("-k", standin.config(delay="soon", exit=0))
    assert rc == 4
    assert "standin.delay" in err and "soon" in err


# ---- SIGTERM: the ACPI power button ---------------------------------------

def spawn_running(standin, **keys):
    """Start a stand-in and return it once its guest runs."""
    p = standin.spawn("-k", standin.config(stdout="guest up", **keys))
    assert p.stdout.readline() == "guest up\n", p.stderr.read()
    return p


def test_sigterm_powers_the_guest_off_exit_1(standin):
    p = spawn_running(standin)
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 1
    events = [r["event"] for r in standin.records()]
    assert events == ["start", "instance", "retitle", "signal", "exit"]
    assert standin.records("exit")[0]["reason"] == "sigterm"


@pytest.mark.parametrize("mode,status", [("halt", 2), ("reboot", 0),
                                         ("7", 7)])
def test_sigterm_mode_chooses_the_exit_status(standin, mode, status):
    p = spawn_running(standin, sigterm=mode, shutdown_delay="0.1")
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == status


def test_sigterm_ignored_by_the_guest_leaves_it_running(standin):
    p = spawn_running(standin, sigterm="ignore")
    p.send_signal(signal.SIGTERM)
    wait_for(lambda: standin.records("signal"), what="SIGTERM recorded")
    assert p.poll() is None
    p.kill()
    assert p.wait(60) == -signal.SIGKILL


def test_sigterm_before_acpi_is_enabled_kills_the_process(standin):
    p = spawn_running(standin, sigterm="die")
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == -signal.SIGTERM


def test_second_sigterm_does_not_change_the_poweroff(standin):
    p = spawn_running(standin, shutdown_delay="1")
    p.send_signal(signal.SIGTERM)
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 1


# ---- command line and configuration file ---------------------------------

def test_missing_config_file_exits_4_with_bhyves_message(standin, tmp_path):
    rc, _, err = standin.run("-k", tmp_path / "nonexistent", "vm")
    assert rc == 4
    assert "Failed to open configuration file" in err
    assert "No such file or directory" in err


def test_unreadable_config_file_exits_4(standin, tmp_path):
    rc, _, err = standin.run("-k", tmp_path, "vm")   # a directory
    assert rc == 4


@pytest.mark.parametrize("line", ["no equals sign", "key=", "  # indented"])
def test_invalid_config_line_exits_4_naming_file_and_line(standin, line):
    conf = standin.config(text="%s\n" % line)
    rc, _, err = standin.run("-k", conf)
    assert rc == 4
    assert "%s line 4: invalid config option '%s'" % (conf, line) in err


def test_comments_and_blank_lines_are_skipped(standin):
    conf = standin.config(text="# a comment\n\n#x\nstandin.exit=2\n")
    assert standin.run("-k", conf)[0] == 2


def test_later_values_override_earlier_ones(standin):
    conf = standin.config(exit=1, text="memory.size=1G\nstandin.exit=2\n"
                          "memory.size=2G\n")
    rc, _, _ = standin.run("-k", conf, "-o", "cpus=2")
    assert rc == 2
    config = standin.records("start")[0]["config"]
    assert config["memory.size"] == "2G"
    assert config["cpus"] == "2"
    # A replaced value moves to the end of its node (nvlist order), while
    # the node keeps its place: memory was made by the defaults.
    keys = list(config)
    assert keys[:3] == ["acpi_tables", "acpi_tables_in_memory",
                        "memory.size"]
    assert keys[-1] == "cpus"
    assert keys.index("standin.exit") > keys.index("standin.record")


def test_value_under_a_value_is_refused(standin):
    rc, _, err = standin.run("-k", standin.config(text="a=1\na.b=2\n"))
    assert rc == 4
    assert "Configuration node a is a child of existing variable a" in err


def test_value_over_a_node_is_refused(standin):
    rc, _, err = standin.run("-k", standin.config(text="a.b=1\na=2\n"))
    assert rc == 4
    assert "Attempting to add value 2 to existing node a" in err


def test_name_comes_from_the_operand(standin):
    conf = standin.config(name=None, exit=0)
    assert standin.run("-k", conf, "fromargv")[0] == 0
    assert standin.records("start")[0]["vm"] == "fromargv"


def test_no_name_prints_usage_and_exits_1(standin):
    rc, _, err = standin.run("-k", standin.config(name=None, exit=0))
    assert rc == 1
    # The usage names getprogname() of a real bhyve, not the file.
    assert err.startswith("Usage: bhyve [-AaCDeHhPSuWwxY]")


def test_help_exits_0(standin):
    rc, _, err = standin.run("-h")
    assert rc == 0
    assert "-k: key=value flat config file" in err


@pytest.mark.parametrize("args", [["-Q", "vm"], ["vm", "extra"],
                                  ["-k"], ["vm", "-k", "x"]])
def test_bad_command_line_exits_1(standin, args):
    rc, _, err = standin.run(*args)
    assert rc == 1
    assert "Usage:" in err


def test_invalid_o_option_exits_64(standin):
    rc, _, err = standin.run("-o", "novalue", "vm")
    assert rc == 64
    assert "invalid configuration option 'novalue'" in err


def test_config_dump_prints_the_configuration_and_exits_1(standin):
    rc, out, _ = standin.run("-k", standin.config(), "-o", "config.dump=1",
                             "-l", "com1,stdio", "-c", "2")
    assert rc == 1
    lines = out.splitlines()
    assert lines[:3] == ["acpi_tables=true", "acpi_tables_in_memory=true",
                         "memory.size=256M"]
    assert "lpc.com1.path=stdio" in lines and "cpus=2" in lines
    assert "name=vm" in lines


def test_topology_that_does_not_add_up_exits_4(standin):
    # bhyve takes sockets = cpus when only cores is given: 4 * 2 != 4.
    rc, _, err = standin.run("-k", standin.config(text="cpus=4\ncores=2\n"))
    assert rc == 4
    assert "does not match 4 vCPUs" in err


def test_complete_topology_is_accepted(standin):
    conf = standin.config(exit=0, text="cpus=4\nsockets=2\ncores=2\n")
    assert standin.run("-k", conf)[0] == 0


@pytest.mark.parametrize("size,ok", [("512", True), ("4G", True),
                                     ("1024M", True), ("2gb", True),
                                     ("4X", False), ("", False)])
def test_memory_size(standin, size, ok):
    rc, _, err = standin.run("-k", standin.config(exit=0), "-o",
                             "memory.size=%s" % size if size else
                             "memory.size")
    if size == "":
        assert rc == 64     # "memory.size" alone is no key=value
    elif ok:
        assert rc == 0, err
    else:
        assert rc == 64
        assert "invalid memsize '%s'" % size in err


def test_bad_boolean_exits_4(standin):
    rc, _, err = standin.run("-k", standin.config(
        text="x86.vmexit_on_hlt=maybe\n"))
    assert rc == 4
    assert "Invalid value maybe for boolean variable x86.vmexit_on_hlt" in err


def test_fresh_instance_without_bootrom_cannot_boot(standin):
    rc, _, err = standin.run("-k", standin.config(bootrom=False))
    assert rc == 4
    assert err == "virtual machine cannot be booted\n"
    # vm_create() succeeded: the instance stays, and the next bhyve takes
    # it as bhyveload would have left it.
    assert instance(standin).exists()
    conf = standin.config(bootrom=False, exit=0)
    assert standin.run("-k", conf)[0] == 0
    assert standin.records("instance")[-1]["action"] == "reused"


def test_missing_bootrom_file_exits_4(standin, tmp_path):
    rom = tmp_path / "nope.fd"
    conf = standin.config(text="lpc.bootrom=%s\n%s" % (rom, LPC))
    rc, _, err = standin.run("-k", conf)
    assert rc == 4
    assert err == ('Error opening bootrom "%s": No such file or directory\n'
                   "Device emulation initialization error: No such file or "
                   "directory\n" % rom)


def test_stdout_and_stderr_texts_are_printed(standin):
    rc, out, err = standin.run("-k", standin.config(
        exit=0, stdout="hello out", stderr="hello err"))
    assert (rc, out, err) == (0, "hello out\n", "hello err\n")


# ---- the record -----------------------------------------------------------

def test_record_describes_the_run(standin):
    conf = standin.config(exit=3)
    rc, _, _ = standin.run("-k", conf, env={"VMSTATED_EXAMPLE": "x"})
    assert rc == 3
    assert [r["event"] for r in standin.records()] == [
        "start", "instance", "retitle", "exit"]
    start, exit_ = standin.records("start")[0], standin.records("exit")[0]
    assert start["argv"][1:] == ["-k", str(conf)]
    assert start["vm"] == "vm" and start["pid"] == exit_["pid"]
    assert start["config"]["standin.exit"] == "3"
    assert start["env"]["VMSTATED_EXAMPLE"] == "x"
    assert start["fds"] == []
    assert start["sigblocked"] == [] and start["sigignored"] == []
    assert start["exec_time"] <= start["time"] <= exit_["time"]
    assert exit_["status"] == 3 and exit_["reason"] == "planned"


def test_record_shows_inherited_descriptors_and_signals(standin):
    def sloppy_parent():
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGHUP])

    r, w = os.pipe()
    try:
        p = standin.spawn("-k", standin.config(exit=0), pass_fds=(w,),
                          preexec_fn=sloppy_parent)
        p.communicate(timeout=60)
    finally:
        os.close(r)
        os.close(w)
    start = standin.records("start")[0]
    assert start["fds"] == [w]
    assert start["sigignored"] == ["USR1"]
    assert start["sigblocked"] == ["HUP"]


def test_failed_run_is_recorded_with_its_reason(standin):
    standin.run("-k", standin.config(text="cpus=0\n"))
    exit_ = standin.records("exit")[0]
    assert exit_["status"] == 4
    assert "Invalid value for cpus" in exit_["reason"]


# ---- VM instances and bhyvectl ---------------------------------------------

def test_instance_outlives_bhyve_until_destroyed(standin):
    assert standin.run("-k", standin.config(exit=0))[0] == 0
    assert instance(standin).exists()
    assert standin.bhyvectl("--destroy", "--vm=vm")[0] == 0
    assert not instance(standin).exists()


def test_destroy_of_absent_instance_says_not_created(standin):
    rc, out, _ = standin.bhyvectl("--destroy", "--vm=ghost")
    assert rc == 1
    assert out == "VM:ghost is not created.\n"


def test_second_bhyve_on_a_running_instance_is_busy(standin):
    p = spawn_running(standin)
    rc, _, err = standin.run("-k", standin.config(exit=0))
    assert rc == 4
    assert "vm_reinit: " in err and "busy" in err
    assert p.poll() is None


def test_destroying_a_running_instance_ends_bhyve_with_1(standin):
    p = spawn_running(standin)
    assert standin.bhyvectl("--destroy", "--vm=vm")[0] == 0
    assert p.wait(60) == 1
    assert p.stderr.read() == "vm_run error -1, errno 6\n"
    assert standin.records("exit")[0]["reason"] == "destroyed"
    assert not instance(standin).exists()


@pytest.mark.parametrize("option,status", [("--force-poweroff", 1),
                                           ("--force-reset", 0)])
def test_force_options_end_a_running_bhyve(standin, option, status):
    p = spawn_running(standin)
    assert standin.bhyvectl(option, "--vm=vm")[0] == 0
    assert p.wait(60) == status


def test_destroy_on_poweroff_removes_the_instance(standin):
    p = spawn_running(standin)
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 1
    assert instance(standin).exists()
    standin.bhyvectl("--destroy", "--vm=vm")
    rc, _, _ = standin.run("-D", "-k", standin.config(exit=1))
    assert rc == 1
    assert not instance(standin).exists()


def test_create_of_existing_instance_fails(standin):
    assert standin.bhyvectl("--create", "--vm=vm")[0] == 0
    rc, out, _ = standin.bhyvectl("--create", "--vm=vm")
    assert rc == 255
    assert out == "errno = 17\n"


def test_instance_made_by_bhyvectl_boots_without_bootrom(standin):
    standin.bhyvectl("--create", "--vm=vm")
    assert standin.run("-k", standin.config(bootrom=False, exit=0))[0] == 0


@pytest.mark.parametrize("args", [["--destroy"], ["--destroy", "--frob",
                                                   "--vm=vm"], ["-x"]])
def test_bhyvectl_bad_arguments_exit_1_with_usage(standin, args):
    rc, _, err = standin.bhyvectl(*args)
    assert rc == 1
    assert "Usage:" in err


def test_bhyvectl_records_each_run(standin):
    standin.bhyvectl("--destroy", "--vm=a")
    standin.bhyvectl("--vm", "b", "--destroy")
    calls = standin.ctl_calls()
    assert [(c["vm"], c["status"], c["instance"]) for c in calls] == [
        ("a", 1, "absent"), ("b", 1, "absent")]
    assert calls[0]["argv"][1:] == ["--destroy", "--vm=a"]


def test_without_instances_everything_exists(standin):
    env = {"VMSTATED_STANDIN_VMM": ""}
    assert standin.bhyvectl("--destroy", "--vm=x", env=env)[0] == 0
    rc, _, _ = standin.run("-k", standin.config(exit=2), env=env)
    assert rc == 2
    assert json.loads(standin.ctl_log.read_text())["instance"] is None


# ---- setproctitle: a running bhyve is "bhyve: NAME" -------------------------

@linux_proc
def test_running_bhyve_retitles_itself_as_bhyve_name(standin):
    p = spawn_running(standin)
    # kern.proc.args after setproctitle("%s", vmname): one string.
    assert cmdline(p.pid) == b"bhyve: vm\0"
    start, retitle = standin.records("start")[0], standin.records("retitle")
    assert start["argv"][0].endswith("bhyve-standin")     # before: argv
    assert [r["title"] for r in retitle] == ["bhyve: vm"]


@linux_proc
def test_retitle_that_does_not_fit_the_arguments_is_whole(standin, tmp_path):
    name = "a-rather-long-vm-name-of-31-chr"
    conf = standin.config(name=name, stdout="guest up")
    short = tmp_path / "k"
    short.symlink_to(conf)
    # argv "b -k k" is 7 bytes; the title is 38 (the environment makes
    # room, as setproctitle implementations do on Linux).
    p = subprocess.Popen(["b", "-k", "k"], executable=str(
        standin.build / "bhyve-standin"), cwd=str(tmp_path),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=standin.env)
    standin.procs.append(p)
    assert p.stdout.readline() == "guest up\n", p.stderr.read()
    assert cmdline(p.pid) == ("bhyve: %s\0" % name).encode()


def test_retitle_comes_after_the_devices(standin, tmp_path):
    # A bhyve that fails while setting the VM up never retitles itself.
    conf = standin.config(text="pci.0.4.0.device=virtio-blk\n"
                          "pci.0.4.0.path=%s\n" % (tmp_path / "none.img"))
    assert standin.run("-k", conf)[0] == 4
    assert standin.records("retitle") == []
    events = [r["event"] for r in standin.records()]
    assert events == ["start", "instance", "exit"]


@linux_proc
def test_running_bhyve_keeps_its_pid_and_start_time(standin):
    p = spawn_running(standin)
    with open("/proc/%d/stat" % p.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    start = standin.records("start")[0]
    assert start["pid"] == p.pid
    # Field 22 (starttime) is what a supervisor may rely on; the title
    # changed nothing but the arguments.
    assert int(fields[22 - 3]) > 0
    assert cmdline(p.pid).startswith(b"bhyve: ")


# ---- disks: opened with open(2), relative to the working directory ---------

DISK = "pci.0.4.0.device=virtio-blk\npci.0.4.0.path=disk.img\n"


def test_relative_disk_is_opened_in_the_working_directory(standin, tmp_path):
    vmdir = tmp_path / "vmdir"
    vmdir.mkdir()
    (vmdir / "disk.img").write_bytes(b"\0" * 512)
    conf = standin.config(exit=0, text=DISK)
    assert run_in(standin, vmdir, "-k", conf)[0] == 0
    opened = standin.records("open")
    assert [(o["what"], o["slot"], o["path"], o["resolved"])
            for o in opened] == [("virtio-blk", "0:4:0", "disk.img",
                                  str(vmdir / "disk.img"))]
    assert opened[0]["readonly"] is False


def test_relative_disk_elsewhere_exits_4_with_bhyves_messages(standin,
                                                              tmp_path):
    (tmp_path / "vmdir").mkdir()
    (tmp_path / "vmdir" / "disk.img").write_bytes(b"\0" * 512)
    conf = standin.config(exit=0, text=DISK)
    rc, _, err = run_in(standin, "/", "-k", conf)      # as from cwd /
    assert rc == 4
    # blockif_open()'s warn(), pci_vtblk_init()'s perror(), then main().
    assert err == ("bhyve: Could not open backing file: disk.img: No such "
                   "file or directory\n"
                   "Could not open backing file: No such file or directory\n"
                   "Device emulation initialization error: No such file or "
                   "directory\n")
    assert standin.records("exit")[0]["reason"] == (
        "Device emulation initialization error: No such file or directory")


def test_missing_ahci_disk_messages(standin, tmp_path):
    conf = standin.config(text="pci.0.4.0.device=ahci\n"
                          "pci.0.4.0.port.0.type=hd\n"
                          "pci.0.4.0.port.0.path=gone.img\n")
    rc, _, err = run_in(standin, tmp_path, "-k", conf)
    assert rc == 4
    assert err == ("bhyve: Could not open backing file: gone.img: No such "
                   "file or directory\n"
                   "Device emulation initialization error: No such file or "
                   "directory\n")


def test_missing_nvme_disk_messages(standin, tmp_path):
    conf = standin.config(text="pci.0.4.0.device=nvme\n"
                          "pci.0.4.0.path=gone.img\n")
    rc, _, err = run_in(standin, tmp_path, "-k", conf)
    assert rc == 4
    assert err == ("bhyve: Could not open backing file: gone.img: No such "
                   "file or directory\n"
                   "nvme: Could not open backing file: No such file or "
                   "directory\n"
                   "Device emulation initialization error: No such file or "
                   "directory\n")


def test_nvme_in_ram_opens_nothing(standin, tmp_path):
    conf = standin.config(exit=0, text="pci.0.4.0.device=nvme\n"
                          "pci.0.4.0.ram=64\n")
    assert run_in(standin, tmp_path, "-k", conf)[0] == 0
    assert standin.records("open") == []


def test_devices_open_in_bus_slot_function_order(standin, tmp_path):
    for name in ("s3.img", "s10.img", "p0.img", "p2.img"):
        (tmp_path / name).write_bytes(b"")
    # Written in another order; slot 10 comes after slot 9, not after 1.
    conf = standin.config(exit=0, text=(
        "pci.0.10.0.device=virtio-blk\npci.0.10.0.path=s10.img\n"
        "pci.0.4.0.device=ahci\n"
        "pci.0.4.0.port.2.type=cd\npci.0.4.0.port.2.path=p2.img\n"
        "pci.0.4.0.port.1.path=untyped.img\n"
        "pci.0.4.0.port.0.type=hd\npci.0.4.0.port.0.path=p0.img\n"
        "pci.0.3.0.device=nvme\npci.0.3.0.path=s3.img\n"))
    assert run_in(standin, tmp_path, "-k", conf)[0] == 0
    assert [(o["slot"], o["port"], o["path"])
            for o in standin.records("open")] == [
        ("0:3:0", None, "s3.img"), ("0:4:0", 0, "p0.img"),
        ("0:4:0", 2, "p2.img"), ("0:10:0", None, "s10.img")]


def test_first_failing_device_stops_the_others(standin, tmp_path):
    (tmp_path / "late.img").write_bytes(b"")
    conf = standin.config(text=(
        "pci.0.5.0.device=virtio-blk\npci.0.5.0.path=late.img\n"
        "pci.0.4.0.device=virtio-blk\npci.0.4.0.path=early.img\n"))
    rc, _, err = run_in(standin, tmp_path, "-k", conf)
    assert rc == 4 and "early.img" in err
    assert standin.records("open") == []


def test_unwritable_disk_is_opened_read_only(standin, tmp_path):
    (tmp_path / "iso").mkdir()             # open(O_RDWR) fails: EISDIR
    (tmp_path / "disk.img").write_bytes(b"")
    conf = standin.config(exit=0, text=(
        "pci.0.4.0.device=ahci\n"
        "pci.0.4.0.port.0.type=cd\npci.0.4.0.port.0.path=iso\n"
        "pci.0.4.0.port.1.type=hd\npci.0.4.0.port.1.path=disk.img\n"
        "pci.0.4.0.port.1.ro=true\n"))
    assert run_in(standin, tmp_path, "-k", conf)[0] == 0
    assert [o["readonly"] for o in standin.records("open")] == [True, True]


def test_disk_path_expands_references(standin, tmp_path):
    (tmp_path / "vm.img").write_bytes(b"")
    conf = standin.config(exit=0, text="pci.0.4.0.device=virtio-blk\n"
                          "pci.0.4.0.path=%(name).img\n")
    assert run_in(standin, tmp_path, "-k", conf)[0] == 0
    assert standin.records("open")[0]["resolved"] == str(tmp_path / "vm.img")


def test_disk_from_the_s_option(standin, tmp_path):
    (tmp_path / "a.img").write_bytes(b"")
    rc, _, err = run_in(standin, tmp_path, "-s", "4,ahci-hd,a.img",
                        "-k", standin.config(exit=0))
    assert rc == 0, err
    start = standin.records("start")[0]["config"]
    assert start["pci.0.4.0.device"] == "ahci"      # the alias's target
    assert start["pci.0.4.0.port.0.type"] == "hd"
    assert standin.records("open")[0]["path"] == "a.img"


@pytest.mark.parametrize("opt,err", [
    ("4,floppy", 'pci slot 0:4:0: unknown device "floppy"\n'),
    ("4", 'Invalid PCI slot info field "4"\n'),
    ("32,hostbridge", 'Invalid PCI slot info field "32,hostbridge"\n')])
def test_bad_s_option_exits_4(standin, opt, err):
    rc, _, stderr = standin.run("-s", opt, "vm")
    assert (rc, stderr) == (4, err)


def test_legacy_device_name_in_the_file_is_refused(standin, tmp_path):
    conf = standin.config(text="pci.0.4.0.device=ahci-hd\n")
    rc, _, err = run_in(standin, tmp_path, "-k", conf)
    assert rc == 4
    assert err.startswith('pci slot 0:4:0: legacy device "ahci-hd", use '
                          '"ahci" instead\nDevice emulation initialization '
                          'error: ')


def test_bootrom_is_read_by_the_lpc_device_only(standin, tmp_path):
    # lpc_init() loads the ROM: without an LPC bridge nothing opens it.
    conf = standin.config(exit=0, text="lpc.bootrom=%s\n"
                          % (tmp_path / "nope.fd"))
    assert standin.run("-k", conf)[0] == 0
    conf = standin.config(exit=0, text=LPC)
    assert standin.run("-k", conf)[0] == 0
    assert [o["what"] for o in standin.records("open")] == ["bootrom"]


def test_relative_bootrom_and_varfile(standin, tmp_path):
    (tmp_path / "rom.fd").write_bytes(b"\0" * 8192)
    (tmp_path / "vars.fd").write_bytes(b"\0" * 4096)
    conf = standin.config(exit=0, bootrom=False, text=(
        "lpc.bootrom=rom.fd\nlpc.bootvars=vars.fd\n" + LPC))
    assert run_in(standin, tmp_path, "-k", conf)[0] == 0
    assert [(o["what"], o["resolved"]) for o in standin.records("open")] == [
        ("bootrom", str(tmp_path / "rom.fd")),
        ("bootvars", str(tmp_path / "vars.fd"))]


def test_bootrom_that_is_no_whole_pages_exits_4(standin, tmp_path):
    (tmp_path / "rom.fd").write_bytes(b"\0" * 5000)
    conf = standin.config(bootrom=False, text="lpc.bootrom=rom.fd\n" + LPC)
    rc, _, err = run_in(standin, tmp_path, "-k", conf)
    assert rc == 4
    assert err.startswith("bhyve: ROM size 5000 is not a multiple of the "
                          "page size\nDevice emulation initialization error")


def test_com_port_that_is_no_terminal_exits_4(standin, tmp_path):
    (tmp_path / "notatty").write_text("")
    conf = standin.config(text=LPC + "lpc.com1.path=notatty\n")
    rc, _, err = run_in(standin, tmp_path, "-k", conf)
    assert rc == 4
    assert err.startswith("Unable to initialize backend 'notatty' for LPC "
                          "device com1\n")


@linux_proc
def test_com_stdio_makes_stdio_nonblocking_and_raw(standin):
    p = spawn_running(standin, text=LPC + "lpc.com1.path=stdio\n")
    with open("/proc/%d/fdinfo/1" % p.pid) as f:
        flags = int(dict(line.split(":", 1) for line in
                         f.read().splitlines())["flags"], 8)
    assert flags & os.O_NONBLOCK
    # From then on bhyve ends its EPRINTLN() messages with \r\n.
    assert standin.bhyvectl("--destroy", "--vm=vm")[0] == 0
    assert p.wait(60) == 1
    assert p.stderr.buffer.read() == b"vm_run error -1, errno 6\r\n"


# ---- VM instances, as do_open() treats them ---------------------------------

def test_instance_left_by_a_clean_exit_is_reinitialised(standin):
    assert standin.run("-k", standin.config(exit=1))[0] == 1
    assert instance_state(standin)["vcpus"] == "suspended"
    assert standin.run("-k", standin.config(exit=0))[0] == 0
    assert [r["action"] for r in standin.records("instance")] == [
        "created", "reinit"]


def test_second_bhyve_without_bootrom_cannot_activate_cpu_0(standin):
    p = spawn_running(standin)
    rc, _, err = standin.run("-k", standin.config(bootrom=False, exit=0))
    assert rc == 71                                    # EX_OSERR
    assert err == "bhyve: could not activate CPU 0: Device busy\n"
    assert p.poll() is None
    assert instance_state(standin)["pid"] == str(p.pid)


def test_instance_of_a_killed_bhyve_is_busy_until_destroyed(standin):
    p = spawn_running(standin)
    p.kill()
    p.wait(60)
    # Its vCPUs were never suspended: vm_reinit() fails.
    rc, _, err = standin.run("-k", standin.config(exit=0))
    assert (rc, err) == (4, "vm_reinit: Device busy\n")
    rc, _, err = standin.run("-k", standin.config(bootrom=False, exit=0))
    assert (rc, err) == (71, "bhyve: could not activate CPU 0: Device busy\n")
    assert standin.bhyvectl("--destroy", "--vm=vm")[0] == 0
    assert standin.run("-k", standin.config(exit=0))[0] == 0


@pytest.mark.parametrize("how", ["4", "SEGV"])
def test_guest_error_leaves_the_instance_busy(standin, how):
    keys = {"signal": how} if how == "SEGV" else {"exit": how}
    standin.run("-k", standin.config(**keys))
    assert instance_state(standin)["vcpus"] == "active"
    assert standin.run("-k", standin.config(exit=0))[0] == 4


def test_memory_size_stays_with_the_instance(standin):
    assert standin.run("-k", standin.config(exit=0))[0] == 0
    assert instance_state(standin)["memory"] == str(256 << 20)
    conf = standin.config(exit=0, text="memory.size=512M\n")
    rc, _, err = standin.run("-k", conf)
    assert (rc, err) == (4, "Unable to setup memory (22)\n")
    standin.bhyvectl("--destroy", "--vm=vm")
    assert standin.run("-k", conf)[0] == 0


def test_wiring_stays_with_the_instance(standin):
    assert standin.run("-k", standin.config(exit=0))[0] == 0
    rc, _, err = standin.run("-S", "-k", standin.config(exit=0))
    assert (rc, err) == (4, "Unable to setup memory (17)\n")


def test_destroy_on_poweroff_by_force_poweroff(standin):
    p = standin.spawn("-D", "-k", standin.config(stdout="guest up"))
    assert p.stdout.readline() == "guest up\n"
    assert standin.bhyvectl("--force-poweroff", "--vm=vm")[0] == 0
    assert p.wait(60) == 1
    assert not instance(standin).exists()


def test_bad_destroy_on_poweroff_is_found_at_poweroff(standin):
    # get_config_bool_default() reads it in vmexit_suspend(), not before.
    p = spawn_running(standin, text="destroy_on_poweroff=maybe\n")
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 4
    assert p.stderr.read().startswith(
        "bhyve: Invalid value maybe for boolean variable destroy_on_poweroff")
    assert instance(standin).exists()


def process_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@linux_proc
def test_destroy_while_bhyve_sets_up_is_found_by_vcpu_activation(standin):
    p = standin.spawn("-k", standin.config(exit=0, stop_after="instance"))
    wait_for(lambda: process_state(p.pid) == "T", what="stand-in stopped")
    assert standin.bhyvectl("--destroy", "--vm=vm")[0] == 0
    p.send_signal(signal.SIGCONT)
    _, err = p.communicate(timeout=60)
    # Its next ioctl on the destroyed VM fails with ENXIO.
    assert p.returncode == 71
    assert err == "bhyve: could not activate CPU 0: Device not configured\n"


def test_bad_vm_name_cannot_be_created(standin):
    rc, _, err = standin.run("-k", standin.config(exit=0), "-o", "name=a/b")
    assert (rc, err) == (4, "vm_create: Invalid argument\n")


# ---- the configuration, as bhyve reads it -----------------------------------

def test_relative_config_file_is_relative_to_the_working_directory(
        standin, tmp_path):
    conf = standin.config(exit=2)
    assert run_in(standin, tmp_path, "-k", conf.name)[0] == 2
    rc, _, err = run_in(standin, "/", "-k", conf.name)
    assert rc == 4
    assert err == ("bhyve: Failed to open configuration file %s: No such "
                   "file or directory\n" % conf.name)


def test_booleans_are_read_where_bhyve_reads_them(standin):
    # x86.strictmsr is read on the guest's first unknown MSR: a bad value
    # does not stop the start (the stand-in's guest never touches one).
    conf = standin.config(exit=0, text="x86.strictmsr=perhaps\n")
    assert standin.run("-k", conf)[0] == 0
    # x86.x2apic is read once the instance exists (bhyve_init_vcpu()).
    conf = standin.config(text="x86.x2apic=perhaps\n")
    assert standin.run("-k", conf)[0] == 4
    assert [r["event"] for r in standin.records()][-2:] == ["instance",
                                                           "exit"]


def test_references_in_values_are_expanded(standin):
    conf = standin.config(exit=0, text="cpus=%(ncpu)\nncpu=2\n")
    assert standin.run("-k", conf)[0] == 0
    conf = standin.config(exit=0, text="cpus=%(ncpu)\nncpu=2\nsockets=1\n")
    rc, _, err = standin.run("-k", conf)
    assert rc == 4
    assert "does not match 2 vCPUs" in err


def test_config_dump_keeps_nodes_where_they_were_made(standin):
    rc, out, _ = standin.run("-m", "1G", "-o", "config.dump=1", "vm")
    assert rc == 1
    assert out.splitlines()[:5] == [
        "acpi_tables=true", "acpi_tables_in_memory=true", "memory.size=1G",
        "x86.strictmsr=true", "lpc.fwcfg=bhyve"]


def test_bhyvectl_usage_names_bhyvectl(standin):
    rc, _, err = standin.bhyvectl()
    assert rc == 1
    assert err.startswith("Usage: bhyvectl --vm=<vmname>\n")
