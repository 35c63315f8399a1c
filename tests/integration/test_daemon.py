"""The daemon itself (SPEC sections 7 and 9): shutdown on SIGTERM, one
instance only, going into the background, its socket, taking VMs back
after a restart, autostart, and VMs with a broken configuration.
"""

import os
import signal
import socket
import subprocess

import pytest

from vmstated_harness import pid_alive, wait_for

STOP_HOOKS = ["stopping", "stop_storage", "stop_network", "stopped"]


def start_running(d, vm):
    d.ctl("start", vm, check=0)
    status = d.wait_state(vm, "running")
    d.wait_hook(vm, "running")
    return status


def background_command(d, *extra):
    """The harness's command line without -f: vmstated daemonizes."""
    return [a for a in d.command() if a != "-f"] + list(extra)


def run_background(d, cmd=None):
    """Run a daemonizing vmstated; return (status, stdout, stderr) of the
    parent."""
    p = subprocess.run(cmd or background_command(d),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, env=d.env, timeout=60, cwd=str(d.root))
    return p.returncode, p.stdout, p.stderr


def stop_pid(pid):
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pid_alive(pid), what="vmstated %d to exit" % pid)


# ---- SIGTERM and SIGINT --------------------------------------------------

def test_sigterm_stops_every_vm_with_its_hooks_then_exits_0(vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True)
    d.add_vm("vm2", record_hooks=True)
    d.add_vm("idle", record_hooks=True)
    d.start()
    pids = [start_running(d, vm)["pid"] for vm in ("vm1", "vm2")]
    assert d.stop() == 0
    for vm in ("vm1", "vm2"):
        assert d.hook_states(vm)[3:] == STOP_HOOKS
        assert [h.split()[1] for h in d.hook_order(vm)[3:]] == \
            ["daemon-shutdown"] * 4
    assert d.hook_states("idle") == []
    for pid in pids:
        assert not pid_alive(pid)
    assert not d.pidfile.exists()
    assert not d.sock.exists()


def test_sigterm_stops_the_vms_in_parallel(vmstated):
    d = vmstated
    # Each stopping hook waits (up to 20 s) for the other VM's stopping
    # hook to begin: only when the stops run side by side do both see it.
    seen = d.root / "seen"
    hook = ('touch %(root)s/$VMSTATED_VM.stopping\n'
            'i=0\n'
            'while [ ! -e %(root)s/%(other)s.stopping ]; do\n'
            '  i=$((i + 1)); [ $i -gt 400 ] && break; sleep 0.05\n'
            'done\n'
            '[ -e %(root)s/%(other)s.stopping ] && '
            'echo "$VMSTATED_VM saw %(other)s" >> %(seen)s\n'
            'exit 0\n')
    for vm, other in (("vm1", "vm2"), ("vm2", "vm1")):
        d.add_vm(vm, {"hooktimeout": 60}, hooks={
            "stopping": hook % {"root": d.root, "other": other,
                                "seen": seen}})
    d.start()
    for vm in ("vm1", "vm2"):
        d.ctl("start", vm, check=0)
        d.wait_state(vm, "running")
    assert d.stop() == 0
    assert sorted(seen.read_text().splitlines()) == ["vm1 saw vm2",
                                                     "vm2 saw vm1"]


def test_sigint_stops_every_vm_then_exits_0(vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True)
    d.start()
    pid = start_running(d, "vm1")["pid"]
    d.signal(signal.SIGINT)
    assert d.proc.wait(60) == 0
    assert d.hook_states("vm1")[3:] == STOP_HOOKS
    assert not pid_alive(pid)


# ---- one instance --------------------------------------------------------

def test_second_instance_is_refused_naming_the_running_pid(vmstated):
    d = vmstated
    d.start()
    other_sock = d.short / "other.sock"
    cmd = d.command()
    cmd[cmd.index(str(d.sock))] = str(other_sock)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, env=d.env, timeout=60)
    assert p.returncode == 1
    assert "already running as pid %d" % d.proc.pid in p.stdout + p.stderr
    assert not other_sock.exists()
    assert d.pidfile.read_text().strip() == str(d.proc.pid)
    assert d.request({"command": "status"})["ok"]


def test_a_second_daemon_on_the_same_rundir_is_refused_naming_the_first(
        vmstated):
    # Another pidfile and another socket, but the same configuration and
    # run directory: it would take the running VMs back too, and restart
    # as a crash each VM the first one stops.
    d = vmstated
    d.add_vm("vm1", record_hooks=True)
    d.start()
    start_running(d, "vm1")
    other_sock = d.short / "other.sock"
    other_pid = d.short / "other.pid"
    cmd = d.command()
    cmd[cmd.index(str(d.sock))] = str(other_sock)
    cmd[cmd.index(str(d.pidfile))] = str(other_pid)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, env=d.env, timeout=60)
    assert p.returncode == 1
    assert ("another vmstated (pid %d) supervises the VMs of run directory "
            "%s" % (d.proc.pid, d.rundir)) in p.stdout + p.stderr
    assert not other_sock.exists()
    assert not other_pid.exists()
    # The first daemon alone supervises vm1: it stops as asked, for good.
    d.ctl("-w", "stop", "vm1", check=0)
    assert d.state("vm1") == "stopped"
    assert len(d.standin_starts("vm1")) == 1


@pytest.mark.parametrize("closed", [(2,), (1, 2), (0, 1, 2)],
                         ids=["2", "1-2", "0-1-2"])
def test_closed_standard_descriptors_do_not_clobber_the_pidfile(
        vmstated, closed):
    # With 2 closed, the pidfile would become standard error and the
    # daemon's messages (-f) would be written into it.
    d = vmstated
    d.add_vm("vm1", record_hooks=True)
    d.write_conf()

    def close_them():
        for fd in closed:
            os.close(fd)
    d.proc = subprocess.Popen(d.command(), stdin=subprocess.DEVNULL,
                              env=d.env, cwd=str(d.root),
                              preexec_fn=close_them)
    d.wait_ready()
    start_running(d, "vm1")
    d.ctl("reload", check=0)
    d.ctl("-w", "stop", "vm1", check=0)
    assert d.pidfile.read_text() == "%d\n" % d.proc.pid
    assert d.request({"command": "status"})["ok"]
    if os.path.isdir("/proc/%d/fd" % d.proc.pid):
        for fd in closed:
            assert os.readlink("/proc/%d/fd/%d" % (d.proc.pid, fd)) == \
                "/dev/null", fd
    d.stop()
    assert d.proc.returncode == 0


# ---- going into the background -------------------------------------------

def test_daemonizing_exits_0_once_the_socket_answers(vmstated):
    d = vmstated
    d.add_vm("vm1")
    d.write_conf()
    rc, out, err = run_background(d)
    assert rc == 0, err
    # No waiting: the socket answers as soon as the parent has exited.
    reply = d.request({"command": "status"}, timeout=10)
    assert reply["ok"] and reply["vms"][0]["name"] == "vm1"
    pid = int(d.pidfile.read_text())
    assert pid_alive(pid)
    stop_pid(pid)


def test_daemonizing_with_an_invalid_vmstated_conf_exits_1_with_reason(
        vmstated):
    d = vmstated
    d.conf_text = 'rundir = "%s";\nno_such_setting = 1;\n' % d.rundir
    d.write_conf()
    rc, _, err = run_background(d)
    assert rc == 1
    assert "vmstated.conf" in err and "no_such_setting" in err
    assert not d.sock.exists()
    wait_for(lambda: d.leftovers() == [], what="no vmstated left running")


def test_daemonizing_with_a_socket_in_a_missing_directory_exits_1(
        vmstated):
    d = vmstated
    d.write_conf()
    sock = d.short / "missing" / "vmstated.sock"
    cmd = background_command(d)
    cmd[cmd.index(str(d.sock))] = str(sock)
    rc, _, err = run_background(d, cmd)
    assert rc == 1
    assert str(sock) in err and "No such file or directory" in err
    wait_for(lambda: d.leftovers() == [], what="no vmstated left running")
    # The pidfile of a daemon that did not start is not left behind.
    assert not d.pidfile.exists()


# ---- the socket ----------------------------------------------------------

def test_stale_socket_of_a_dead_daemon_is_replaced(vmstated):
    d = vmstated
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(d.sock))
    stale.close()                      # the file stays, nobody listens
    assert d.sock.exists()
    d.start()
    assert d.request({"command": "status"})["ok"]


def test_live_socket_makes_the_new_daemon_refuse(vmstated):
    d = vmstated
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(d.sock))
    live.listen(5)
    try:
        d.start(wait=False)
        assert d.proc.wait(60) == 1
        assert str(d.sock) in d.stderr()
        # The other listener's socket is left alone.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.connect(str(d.sock))
    finally:
        live.close()


# ---- after a restart of the daemon ---------------------------------------

def test_restarted_daemon_takes_back_a_running_vm(vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True,
             standin={"stdout": "guest is up"})
    d.start()
    pid = start_running(d, "vm1")["pid"]
    d.wait_log("vm1", "guest is up")   # it handles SIGTERM now
    d.kill()
    assert pid_alive(pid)
    d.start()
    status = d.wait_state("vm1", "running")
    assert status["pid"] == pid
    assert len(d.standin_starts("vm1")) == 1
    d.ctl("stop", "vm1", check=0)
    d.wait_state("vm1", "stopped")
    assert d.wait_hook("vm1", "stopped")[3:] == STOP_HOOKS
    assert not pid_alive(pid)
    assert d.standin_exits("vm1")[0]["reason"] == "sigterm"


def test_restarted_daemon_keeps_supervising_a_taken_back_vm(vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True, standin={"exits": "run,run"})
    d.start()
    pid = start_running(d, "vm1")["pid"]
    # Killed later, it must have counted and recorded its run by then.
    assert d.wait_standin_starts("vm1")[0]["pid"] == pid
    d.kill()
    d.start()
    d.wait_state("vm1", "running")
    # The guest dies while the new daemon supervises it: it is restarted.
    os.kill(pid, signal.SIGKILL)
    d.wait_hook("vm1", "running", times=2)
    status = d.wait_state("vm1", "running")
    assert status["pid"] != pid
    assert status["pid"] == d.wait_standin_starts("vm1", 2)[1]["pid"]
    assert d.hook_order("vm1")[3].startswith("restarting crash")


def test_restarted_daemon_tears_down_a_vm_whose_hypervisor_died(vmstated):
    d = vmstated
    d.add_vm("vm1", record_hooks=True)
    d.start()
    pid = start_running(d, "vm1")["pid"]
    # Killed once it has made its instance, which it leaves behind.
    wait_for(lambda: (d.vmm / "vm1").exists(),
             what="the stand-in to create the VM instance")
    d.kill()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), what="the stand-in to die")
    d.start()
    d.wait_state("vm1", "stopped")
    # The teardown hooks of what had been set up, then stopped.
    assert d.wait_hook("vm1", "stopped")[3:] == [
        "stop_storage", "stop_network", "stopped"]
    # The instance the dead bhyve left is destroyed.
    wait_for(lambda: not (d.vmm / "vm1").exists(),
             what="the VM instance to be destroyed")
    assert len(d.bhyvectl_calls("vm1")) == 1
    # And it starts again.
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "running")


def test_restarted_daemon_tears_down_a_vm_it_left_half_started(vmstated):
    d = vmstated
    hanging = d.root / "hanging"
    hook_pid = d.root / "hook.pid"
    d.add_vm("vm1", {"hooktimeout": 0}, record_hooks=True, hooks={
        "start_storage": "echo $$ > %s\ntouch %s\nexec sleep 600"
                         % (hook_pid, hanging)})
    d.start()
    d.ctl("start", "vm1", check=0)
    wait_for(hanging.exists, what="start_storage to hang")
    old_hook = int(hook_pid.read_text())
    d.kill()
    (d.vm_dir("vm1") / "start_storage").unlink()
    d.start()
    d.wait_state("vm1", "stopped")
    # The old start_storage hook is ended first (hooks never overlap);
    # then both phases, which had begun, are torn down.
    assert not pid_alive(old_hook)
    assert d.wait_hook("vm1", "stopped") == [
        "start_network", "start_storage", "stop_storage", "stop_network",
        "stopped"]
    assert d.standin_starts("vm1") == []


def test_restarted_daemon_keeps_a_failed_vm_failed(vmstated):
    d = vmstated
    d.add_vm("vm1", {"maxrestart": 1, "maxrestarttime": 600},
             record_hooks=True, standin={"exits": "3,3,run"})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "failed")
    d.wait_hook("vm1", "failed")
    d.kill()
    d.start()
    assert d.state("vm1") == "failed"
    rc, _, err = d.ctl("start", "vm1")
    assert rc == 1 and "failreset" in err
    d.ctl("failreset", "vm1", check=0)
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "running")


def test_restarted_daemon_remembers_the_restarts_in_the_window(vmstated):
    d = vmstated
    d.add_vm("vm1", {"maxrestart": 1, "maxrestarttime": 600},
             record_hooks=True, standin={"exits": "0,run,run"})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_hook("vm1", "running", times=2)      # one reboot: 1 of 1
    pid = d.wait_state("vm1", "running")["pid"]
    # Killed later, it must have counted and recorded its run by then.
    assert d.wait_standin_starts("vm1", 2)[1]["pid"] == pid
    d.kill()
    d.start()
    assert d.wait_state("vm1", "running")["restarts"] == 1
    # One more restart would be the second within the window: failed.
    os.kill(pid, signal.SIGKILL)
    d.wait_state("vm1", "failed")
    assert d.transitions("vm1")[-1] == ("stop_network", "failed",
                                        "restart-limit")
    assert len(d.standin_starts("vm1")) == 2


# ---- start-up ------------------------------------------------------------

def test_autostart_vms_start_at_launch_in_directory_order(vmstated):
    d = vmstated
    # Directory order (a-, b-, c-) differs from name order.
    d.add_vm("zeta", {"autostart": True}, dirname="a-zeta")
    d.add_vm("alpha", {"autostart": True}, dirname="b-alpha")
    d.add_vm("mid", {"autostart": True}, dirname="c-mid")
    d.add_vm("manual", {"autostart": False}, dirname="0-manual")
    d.start()
    for vm in ("zeta", "alpha", "mid"):
        d.wait_state(vm, "running")
    assert d.state("manual") == "stopped"
    # The daemon's own log (stderr with -f) shows the order of the starts.
    starts = [line.split(": ")[1] for line in d.stderr().splitlines()
              if "stopped -> start_network" in line]
    assert starts == ["zeta", "alpha", "mid"]
    assert d.transitions("zeta")[0] == ("stopped", "start_network",
                                        "autostart")


def test_vm_with_a_broken_config_is_invalid_and_the_others_work(vmstated):
    d = vmstated
    broken = d.add_vm("broken", "broken {\n\tcpus = 2;\n\tcolour = red;\n}\n")
    d.add_vm("good")
    d.start()
    status = d.status("broken")
    assert status["state"] == "invalid"
    assert "colour" in status["error"]
    assert "%s:3" % (broken / "config") in status["error"]
    rc, out, _ = d.ctl("status")
    assert rc == 0
    assert "invalid" in out and "colour" in out
    rc, _, err = d.ctl("start", "broken")
    assert rc == 1 and "broken" in err
    d.ctl("start", "good", check=0)
    d.wait_state("good", "running")


def test_two_directories_naming_the_same_vm_are_both_refused(vmstated):
    d = vmstated
    one = d.add_vm("twin", dirname="one")
    two = d.add_vm("twin", dirname="two")
    d.add_vm("single")
    d.start()
    status = d.status()
    twins = [v for v in status if v["name"] == "twin"]
    assert twins and all(v["state"] == "invalid" for v in twins)
    for v in twins:
        assert str(one) in v["error"] and str(two) in v["error"]
    d.ctl("start", "single", check=0)
    d.wait_state("single", "running")
    rc, _, err = d.ctl("start", "twin")
    assert rc == 1
