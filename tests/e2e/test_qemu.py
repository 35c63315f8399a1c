"""vmstated and the qemu back end against a real guest under TCG: a start,
guest reboots and poweroffs, graceful and forced stops, a crash loop and
failreset.  Each test reads what a user would: hooks, the VM log, status."""

from e2e_settings import BOOT_TIMEOUT

STOP_HOOKS = ["stopping", "stop_storage", "stop_network", "stopped"]


def test_start_runs_the_hooks_and_boots_the_guest(vmstated):
    vmstated.add_guest("guest")
    vmstated.start()
    vmstated.ctl("-w", "-t", BOOT_TIMEOUT, "start", "guest", check=0,
                 timeout=BOOT_TIMEOUT + 30)
    vmstated.wait_marker("guest", "up mode=up")
    vmstated.wait_hook("guest", "running")
    assert vmstated.hook_states("guest") == [
        "start_network", "start_storage", "running"]
    status = vmstated.status("guest")
    assert status["state"] == "running"
    assert vmstated.hook_pids("guest", "running") == [str(status["pid"])]
    log = vmstated.log("guest")
    assert "qemu-system-x86_64 " in log and "-accel tcg" in log


def test_guest_reboot_runs_the_restart_hooks_with_a_new_qemu(vmstated):
    vmstated.add_guest("guest", mode="reboot", maxrestart=20)
    vmstated.start()
    vmstated.ctl("start", "guest", check=0)
    vmstated.wait_hook("guest", "restarted", timeout=BOOT_TIMEOUT)
    assert "rebooting" in vmstated.markers("guest")
    order = vmstated.hook_order("guest")
    i = vmstated.hook_states("guest").index("restarting")
    assert order[i].split()[:2] == ["restarting", "guest-reboot"]
    assert order[i + 1].split()[:2] == ["restarted", "guest-reboot"]
    first = vmstated.hook_pids("guest", "running")[0]
    again = vmstated.hook_pids("guest", "restarted")[0]
    assert first.isdigit() and again.isdigit() and first != again


def test_guest_poweroff_runs_the_stop_hooks(vmstated):
    vmstated.add_guest("guest", mode="poweroff")
    vmstated.start()
    vmstated.ctl("start", "guest", check=0)
    vmstated.wait_hook("guest", "stopped", timeout=BOOT_TIMEOUT)
    assert vmstated.state("guest") == "stopped"
    assert "powering off" in vmstated.markers("guest")
    order = vmstated.hook_order("guest")
    assert [h.split()[0] for h in order[-4:]] == STOP_HOOKS
    assert order[-4].split()[1] == "guest-poweroff"


def test_stop_powers_the_guest_down_through_acpi(vmstated):
    vmstated.add_guest("guest", stoptimeout=120)
    vmstated.start()
    vmstated.ctl("start", "guest", check=0)
    vmstated.wait_marker("guest", "up")
    vmstated.ctl("-w", "-t", 150, "stop", "guest", check=0, timeout=180)
    assert vmstated.state("guest") == "stopped"
    vmstated.wait_hook("guest", "stopped")
    assert "power button pressed, powering off" in vmstated.markers("guest")
    log = vmstated.log("guest")
    assert "SIGTERM" not in log and "SIGKILL" not in log
    assert vmstated.hook_states("guest")[-4:] == STOP_HOOKS


def test_guest_ignoring_the_power_button_is_killed_after_stoptimeout(
        vmstated):
    # The guest says it ignored the press from a shell loop under TCG:
    # give it time before the kill.
    vmstated.add_guest("guest", button="ignore", stoptimeout=15)
    vmstated.start()
    vmstated.ctl("start", "guest", check=0)
    vmstated.wait_marker("guest", "up")
    vmstated.ctl("stop", "guest", check=0)
    vmstated.wait_hook("guest", "stopped", timeout=BOOT_TIMEOUT)
    assert vmstated.state("guest") == "stopped"
    markers = vmstated.markers("guest")
    assert "power button pressed, ignored" in markers
    assert "power button pressed, powering off" not in markers
    assert "did not stop within 15 s" in vmstated.log("guest")
    assert vmstated.hook_states("guest")[-4:] == STOP_HOOKS


def test_guest_panicking_on_every_boot_fails_and_failreset_clears_it(
        vmstated):
    vmstated.add_guest("guest", mode="panic", maxrestart=2)
    vmstated.start()
    vmstated.ctl("start", "guest", check=0)
    vmstated.wait_hook("guest", "failed", timeout=4 * BOOT_TIMEOUT)
    assert vmstated.state("guest") == "failed"
    assert vmstated.markers("guest").count("panicking") == 3
    order = vmstated.hook_order("guest")
    assert [h.split()[1] for h in order if h.startswith("restarting ")] \
        == ["crash"] * 3
    assert [h.split()[1] for h in order if h.startswith("failed ")] \
        == ["restart-limit"]

    vmstated.ctl("failreset", "guest", check=0)
    status = vmstated.status("guest")
    assert status["state"] == "stopped"
    assert status["restarts"] == 0
    vmstated.ctl("-w", "-t", BOOT_TIMEOUT, "start", "guest", check=0,
                 timeout=BOOT_TIMEOUT + 30)
    vmstated.wait_marker("guest", "up", count=4)


def test_a_guest_that_stops_feeding_its_watchdog_is_restarted(vmstated):
    # watchdog = yes: an i6300esb the guest's busybox watchdog feeds for
    # 2 s, then stops feeding; qemu reports the expiry over QMP and the
    # daemon kills and restarts the guest (issue 13 item 3).
    vmstated.add_guest("guest", mode="watchdog", after=2, watchdog=True)
    vmstated.start()
    vmstated.ctl("start", "guest", check=0)
    vmstated.wait_marker("guest", "watchdog no longer fed")
    assert "watchdog armed" in vmstated.markers("guest")
    vmstated.wait_hook("guest", "restarted", timeout=BOOT_TIMEOUT)
    order = vmstated.hook_order("guest")
    restarting = [h for h in order if h.startswith("restarting ")]
    assert restarting[0].split()[1] == "watchdog"
    log = vmstated.log("guest")
    assert "qemu: the guest's watchdog expired (action none)" in log
    # The second boot arms it again.
    vmstated.wait_marker("guest", "watchdog armed", count=2)
    vmstated.ctl("kill", "guest", check=0)


def test_restarted_daemon_takes_the_guest_back_and_stops_it_gracefully(
        vmstated):
    vmstated.add_guest("guest", stoptimeout=120)
    vmstated.start()
    vmstated.ctl("start", "guest", check=0)
    vmstated.wait_marker("guest", "up")
    pid = vmstated.status("guest")["pid"]
    vmstated.kill()
    assert vmstated.pid_alive(pid)
    vmstated.start()
    status = vmstated.wait_state("guest", "running")
    assert status["pid"] == pid
    vmstated.ctl("-w", "-t", 150, "stop", "guest", check=0, timeout=180)
    assert "power button pressed, powering off" in vmstated.markers("guest")
    assert "SIGTERM" not in vmstated.log("guest")
    assert not vmstated.pid_alive(pid)


def test_a_guest_taken_back_that_powers_off_is_stopped_not_restarted(
        vmstated):
    # The new daemon talks QMP to the qemu it took back, so the guest's
    # own poweroff is told from a crash by its SHUTDOWN reason.
    vmstated.add_guest("guest", mode="poweroff", after=30)
    vmstated.start()
    vmstated.ctl("start", "guest", check=0)
    vmstated.wait_marker("guest", "up")
    pid = vmstated.status("guest")["pid"]
    vmstated.kill()
    vmstated.start()
    assert vmstated.wait_state("guest", "running")["pid"] == pid
    vmstated.wait_hook("guest", "stopped", timeout=BOOT_TIMEOUT)
    assert vmstated.state("guest") == "stopped"
    assert "powering off" in vmstated.markers("guest")
    stops = [h for h in vmstated.hook_order("guest")
             if h.split()[0] == "stopping"]
    assert [h.split()[1] for h in stops] == ["guest-poweroff"]
    assert vmstated.hook_pids("guest", "restarting") == []
