"""`vmstatedctl console` against real qemu: the test guest with a shell
on its serial port (vmstated.shell=1), reached through the chardev socket
the daemon holds, from a client on a pseudo-terminal as a person would
use it.  Few and bounded: each boots a guest under TCG."""

import re
import uuid

import pytest

from e2e_settings import BOOT_TIMEOUT
from vmstated_harness import ConsoleClient, wait_for


@pytest.fixture
def clients():
    made = []
    yield made
    for c in made:
        c.close()


def attach(d, clients, *args):
    c = ConsoleClient(d, "guest", *args)
    clients.append(c)
    return c


def boot_with_shell(d):
    d.add_guest("guest", shell=True)
    d.start()
    d.ctl("start", "guest", check=0)
    d.wait_marker("guest", "up mode=up", timeout=BOOT_TIMEOUT)


def prompt(c):
    """Wait for the shell's prompt after a return key."""
    at = len(c.out)
    c.type("\r")
    c.wait_output("guest# ", timeout=BOOT_TIMEOUT, after=at)


def run(c, command, expect):
    at = len(c.out)
    c.type(command + "\r")
    c.wait_output(expect, timeout=BOOT_TIMEOUT, after=at)


def test_a_command_typed_on_the_console_runs_in_the_guest(vmstated,
                                                          clients):
    boot_with_shell(vmstated)
    c = attach(vmstated, clients)
    c.wait_output("read-write")
    prompt(c)
    mark = uuid.uuid4().hex[:12]
    # What the guest prints, not the echo of what was typed: $((6*7)).
    run(c, "echo %s-$((6*7))" % mark, "%s-42\r\n" % mark)
    vmstated.wait_log("guest", "console: %s-42" % mark)


def test_detaching_leaves_the_guest_as_it_was(vmstated, clients):
    boot_with_shell(vmstated)
    pid = vmstated.status("guest")["pid"]
    c = attach(vmstated, clients)
    c.wait_output("read-write")
    prompt(c)
    run(c, "echo still-$((1+1)) > /tmp/mark", "guest# ")
    c.type("~.")
    assert c.wait_exit() == 0
    assert b"[detached]" in c.out
    status = vmstated.status("guest")
    assert status["state"] == "running" and status["pid"] == pid
    again = attach(vmstated, clients, "-n")
    again.wait_output("read-write")
    run(again, "cat /tmp/mark", "still-2\r\n")


def test_after_a_sigkill_of_the_daemon_the_console_shows_fresh_output(
        vmstated, clients):
    d = vmstated
    boot_with_shell(d)
    c = attach(d, clients)
    c.wait_output("read-write")
    prompt(c)
    c.type("i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.3; "
           "done &\r")
    c.wait_output("tick-3\r\n", timeout=BOOT_TIMEOUT)
    c.type("~.")
    assert c.wait_exit() == 0
    d.kill()
    seen = max(int(n) for n in re.findall(r"tick-(\d+)", d.log("guest")))
    d.start()
    d.wait_state("guest", "running")
    watcher = attach(d, clients, "-r", "-n")
    watcher.wait_output("read-only")
    at = len(watcher.out)

    def fresh():
        watcher.pump()
        found = [int(n) for n in re.findall(rb"tick-(\d+)\r\n",
                                            watcher.out[at:])]
        return found and max(found) > seen + 1
    wait_for(fresh, BOOT_TIMEOUT, "fresh ticks after the restart",
             lambda: repr(watcher.out[-2000:]))
    assert "taken back under supervision" in d.log("guest")
