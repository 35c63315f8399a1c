"""Monotonic time (issue 9 item 4): the restart window is measured in
real elapsed seconds, so that stepping the wall clock an hour either way
neither fails a VM nor lets a crash loop run unbounded.

The daemon runs with tests/lib/clockshift.c preloaded (Daemon.
preload_clockshift): shift_clock(N) sets its wall clock (CLOCK_REALTIME,
time(), gettimeofday()) to real time + N seconds at once; CLOCK_MONOTONIC
is untouched, as when an administrator or NTP steps the clock.

What a user sees of the window: `status` counts the restarts in it; `info`
shows restart_history as wall-clock times.  The daemon keeps the history
in monotonic time and converts it with the wall clock of the moment it
answers, so after a step every entry shown moves with the clock (an entry
from a minute ago is shown as "a minute before the clock's now", whatever
the clock says): test_a_clock_step_alone_fails_nothing checks this.
"""
import json
import os
import signal
import time

import pytest

from vmstated_harness import require, wait_for

HOUR = 3600


@pytest.fixture
def shifted(vmstated):
    """The vmstated fixture, its daemon to run with a shiftable clock."""
    require("clockshift.so")
    vmstated.preload_clockshift()
    return vmstated


def crashing_vm(d, exits, maxrestarttime):
    """vm1: run N of the stand-in does exits[N-1] ("4": exit at once with
    status 4, a crash; "run": keep running), later runs exit 4."""
    d.add_vm("vm1", {"maxrestart": 3, "maxrestarttime": maxrestarttime},
             standin={"exits": exits, "exit": 4})


def running_run(d, run):
    """Wait until the stand-in's run number `run` is the VM's running
    hypervisor; return its status."""
    starts = d.wait_standin_starts("vm1", run)
    status = wait_for(
        lambda: (lambda s: s["state"] == "running" and
                 s["pid"] == starts[run - 1]["pid"] and s)(d.status("vm1")),
        what="run %d to be the running hypervisor" % run,
        details=lambda: d.explain("vm1"))
    assert len(d.standin_starts("vm1")) == run
    return status


def restart_history(d):
    rc, out, err = d.ctl("-j", "info", "vm1", check=0)
    return json.loads(out)["vm"]["restart_history"]


def wall(d):
    """The daemon's wall clock now (real time plus the shift)."""
    return time.time() + int(d.clock_file.read_text())


def assert_failed_at_the_fourth_restart(d):
    d.wait_state("vm1", "failed")
    assert len(d.standin_starts("vm1")) == 4
    assert d.transitions("vm1")[-1][1:] == ("failed", "restart-limit")
    assert "3 restarts within" in d.log("vm1")


def test_a_crash_loop_after_a_step_back_still_fails(shifted):
    d = shifted
    crashing_vm(d, "4,run", 30)
    d.start()
    d.ctl("start", "vm1", check=0)
    pid = running_run(d, 2)["pid"]          # one crash, one restart
    d.shift_clock(-HOUR)
    os.kill(pid, signal.SIGKILL)            # and it crashes for good
    assert_failed_at_the_fourth_restart(d)


def test_a_crash_loop_across_a_step_forward_still_fails(shifted):
    d = shifted
    crashing_vm(d, "4,4,run", 30)
    d.start()
    d.ctl("start", "vm1", check=0)
    pid = running_run(d, 3)["pid"]          # two crashes, two restarts
    d.shift_clock(HOUR)
    # Two more crashes within seconds: the fourth restart is refused,
    # although the first two are an hour ago by the wall clock.
    os.kill(pid, signal.SIGKILL)
    assert_failed_at_the_fourth_restart(d)


def test_crashes_before_a_step_back_leave_the_window_in_real_time(shifted):
    d = shifted
    crashing_vm(d, "4,4,run,4,run", 3)
    d.start()
    d.ctl("start", "vm1", check=0)
    pid = running_run(d, 3)["pid"]
    assert d.status("vm1")["restarts"] == 2
    d.shift_clock(-HOUR)
    # 3 real seconds later the two restarts are out of the window,
    # although by the wall clock they are an hour in the future.
    wait_for(lambda: d.status("vm1")["restarts"] == 0, timeout=20,
             what="the restarts to leave the 3 s window",
             details=lambda: d.explain("vm1"))
    os.kill(pid, signal.SIGKILL)            # two more crashes: 2 of 3
    status = running_run(d, 5)
    assert status["restarts"] == 2
    assert d.state("vm1") == "running"


def test_a_clock_step_alone_fails_nothing(shifted):
    d = shifted
    crashing_vm(d, "4,4,run", 600)
    d.start()
    d.ctl("start", "vm1", check=0)
    pid = running_run(d, 3)["pid"]
    before = restart_history(d)
    assert len(before) == 2
    for t in before:                        # wall-clock times, just now
        assert wall(d) - 60 < t <= wall(d) + 1, (before, wall(d))
    for shift in (HOUR, -HOUR, 0):
        d.shift_clock(shift)
        status = d.status("vm1")
        assert (status["state"], status["pid"], status["restarts"]) == \
            ("running", pid, 2), (shift, status)
        # Shown in the wall clock of the moment: they move with it.
        shown = restart_history(d)
        assert len(shown) == 2
        for old, new in zip(before, shown):
            assert abs(new - (old + shift)) < 30, (shift, before, shown)
    assert len(d.standin_starts("vm1")) == 3
    assert d.stop() == 0


def test_a_previous_daemons_restarts_stay_its_own_after_a_step_back(shifted):
    """A restart the previous daemon recorded is in the window (it counts
    towards maxrestart) but not this daemon's restarts_total, even when
    the wall clock in which the record keeps it was stepped back between
    the two daemons (which would put it in this daemon's future)."""
    d = shifted
    crashing_vm(d, "4,run", 600)
    d.start()
    d.ctl("start", "vm1", check=0)
    pid = running_run(d, 2)["pid"]
    d.kill()
    d.shift_clock(-HOUR)
    d.start()
    status = d.wait_state("vm1", "running")
    assert (status["pid"], status["restarts"]) == (pid, 1), status
    rc, out, err = d.ctl("metrics", check=0)
    assert 'vmstated_vm_restarts_total{vm="vm1"} 0\n' in out, out
    assert 'vmstated_vm_restarts_in_window{vm="vm1"} 1\n' in out, out
    # Nor is it kept an hour too long: it leaves the window in real time.
    shown = restart_history(d)
    assert len(shown) == 1 and shown[0] <= wall(d) + 1, (shown, wall(d))


def test_uptime_ignores_a_clock_step(shifted):
    """status's uptime is the hypervisor's age in real seconds: a step
    of the wall clock shows neither a negative nor an hour-long uptime."""
    d = shifted
    d.add_vm("vm1")
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    for shift in (-HOUR, HOUR):
        d.shift_clock(shift)
        up = d.status("vm1")["uptime"]
        assert 0 <= up < 600, (shift, up)
