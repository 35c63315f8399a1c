"""The bhyve and bhyvectl stand-ins behave as bhyve(8) and bhyvectl(8) do
where a supervisor can see it, and as their standin.* keys say.

They are what vmstated's bhyve back end is tested against, so a stand-in
that lied would make those tests lie too.
"""

import json
import os
import signal

import pytest

from vmstated_harness import wait_for


def instance(standin, name="vm"):
    return standin.vmm / name


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
    statuses = [standin.run("-k", conf)[0] for _ in range(4)]
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
    assert events == ["start", "signal", "exit"]
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
    # A replaced value moves to the end, as in bhyve's nvlist.
    assert list(config)[-2:] == ["memory.size", "cpus"]


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
    assert err.startswith("Usage: bhyve-standin")


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
    assert "virtual machine cannot be booted" in err


def test_missing_bootrom_file_exits_4(standin, tmp_path):
    conf = standin.config(text="lpc.bootrom=%s\n" % (tmp_path / "nope.fd"))
    rc, _, err = standin.run("-k", conf)
    assert rc == 4
    assert "Error opening bootrom" in err


def test_stdout_and_stderr_texts_are_printed(standin):
    rc, out, err = standin.run("-k", standin.config(
        exit=0, stdout="hello out", stderr="hello err"))
    assert (rc, out, err) == (0, "hello out\n", "hello err\n")


# ---- the record -----------------------------------------------------------

def test_record_describes_the_run(standin):
    conf = standin.config(exit=3)
    rc, _, _ = standin.run("-k", conf, env={"VMSTATED_EXAMPLE": "x"})
    assert rc == 3
    start, exit_ = standin.records()
    assert start["event"] == "start" and exit_["event"] == "exit"
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
    assert standin.records("exit")[0]["reason"] == "destroyed"


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
