"""The serial console the daemon owns (vmstated(8) CONSOLE) and
`vmstatedctl console` (vmstatedctl(1)), against the bhyve stand-in.

The daemon gives bhyve's com1 one side of a console pair (lpc.com1.path
in the generated file) and keeps the other: on FreeBSD an nmdm(4) pair, on
Linux a pty in its place (tests/standin/README.md).  The stand-in's guest
prints standin.console on com1, "standin: tick N" every
standin.console_every seconds, and with standin.console_echo answers each
line typed with "standin: got LINE" (and records it).
"""
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from vmstated_harness import ConsoleClient, wait_for

LPC = "pci.0.31.0.device=lpc\n"


def console_vm(d, name="vm1", config=None, bhyve_config="", **standin):
    """A VM whose guest uses its com1 (an LPC bridge, so bhyve has one)."""
    return d.add_vm(name, config, standin=standin,
                    bhyve_config=LPC + bhyve_config)


def start(d, vm="vm1"):
    d.ctl("start", vm, check=0)
    d.wait_state(vm, "running")


@pytest.fixture
def clients():
    """Console clients a test made; closed at its end."""
    made = []
    yield made
    for c in made:
        c.close()


def attach(d, clients, *args, vm="vm1", prefix=()):
    c = ConsoleClient(d, vm, *args, prefix=prefix)
    clients.append(c)
    return c


def console_inputs(d, vm="vm1"):
    """The lines the stand-in's guest received on com1."""
    return [r["input"] for r in d.standin_records(vm)
            if r["event"] == "console"]


def test_bhyve_gets_the_daemons_side_of_a_console_pair(vmstated):
    d = vmstated
    vmdir = console_vm(d, console="up")
    d.start()
    start(d)
    generated = (vmdir / "bhyve_config.generated").read_text()
    path = generated.splitlines()[-1]
    assert path.startswith("lpc.com1.path=/dev/")
    wait_for(lambda: [r for r in d.standin_records("vm1")
                      if r["event"] == "open" and r["what"] == "com1"],
             what="the stand-in to open com1")
    opened = [r for r in d.standin_records("vm1")
              if r["event"] == "open" and r["what"] == "com1"]
    assert opened[0]["path"] == path.split("=", 1)[1]
    d.wait_log("vm1", "console: up")


def test_attach_shows_the_scrollback_then_what_the_guest_prints(
        vmstated, clients):
    d = vmstated
    console_vm(d, console="booted, says the guest", console_echo="yes")
    d.start()
    start(d)
    d.wait_log("vm1", "booted, says the guest")
    c = attach(d, clients)
    c.wait_output("read-write")
    c.wait_output("booted, says the guest\r\n")
    marker = "marker-%d" % os.getpid()
    c.type("echo %s\r" % marker)
    c.wait_output("standin: got echo %s" % marker)
    assert console_inputs(d) == ["echo %s" % marker]
    d.wait_log("vm1", "console: standin: got echo %s" % marker)


def test_n_leaves_the_scrollback_out(vmstated, clients):
    d = vmstated
    console_vm(d, console="old news", console_echo="yes")
    d.start()
    start(d)
    d.wait_log("vm1", "old news")
    c = attach(d, clients, "-n")
    c.wait_output("read-write")
    c.type("fresh\r")
    c.wait_output("standin: got fresh")
    assert b"old news" not in c.out


def test_tilde_dot_detaches_and_the_vm_runs_on(vmstated, clients):
    d = vmstated
    console_vm(d, console_echo="yes")
    d.start()
    start(d)
    pid = d.status("vm1")["pid"]
    c = attach(d, clients)
    c.wait_output("read-write")
    c.type("one\r")
    c.wait_output("standin: got one")
    c.type("~.")
    assert c.wait_exit() == 0
    assert b"[detached]" in c.out
    assert d.status("vm1")["state"] == "running"
    assert d.status("vm1")["pid"] == pid
    # The console is there for the next one.
    c2 = attach(d, clients, "-n")
    c2.wait_output("read-write")
    c2.type("two\r")
    c2.wait_output("standin: got two")
    assert console_inputs(d) == ["one", "two"]


def test_tilde_question_mark_lists_the_escapes_and_tilde_tilde_sends_one(
        vmstated, clients):
    d = vmstated
    console_vm(d, console_echo="yes")
    d.start()
    start(d)
    c = attach(d, clients)
    c.wait_output("read-write")
    c.type("~?")
    c.wait_output("~.  detach")
    c.type("~~home\r")
    c.wait_output("standin: got ~home")
    # A "~" inside a line is an ordinary key.
    c.type("a~.b\r")
    c.wait_output("standin: got a~.b")
    assert not c.exited()


def test_one_writer_at_a_time_others_read_only(vmstated, clients):
    d = vmstated
    console_vm(d, console_echo="yes")
    d.start()
    start(d)
    first = attach(d, clients)
    first.wait_output("read-write")
    second = attach(d, clients)
    second.wait_output("read-only")
    second.wait_output("[read-only: uid %d has the keyboard]" % os.getuid())
    second.type("from the second\r")
    first.type("from the first\r")
    # Both see what the guest answers the writer.
    first.wait_output("standin: got from the first")
    second.wait_output("standin: got from the first")
    assert console_inputs(d) == ["from the first"]
    # The keyboard is free once the writer leaves.
    first.type("~.")
    assert first.wait_exit() == 0
    third = attach(d, clients)
    third.wait_output("read-write")
    third.type("from the third\r")
    third.wait_output("standin: got from the third")
    assert console_inputs(d) == ["from the first", "from the third"]


def test_r_asks_for_read_only(vmstated, clients):
    d = vmstated
    console_vm(d, console_echo="yes", console="hello")
    d.start()
    start(d)
    c = attach(d, clients, "-r")
    c.wait_output("read-only")
    c.wait_output("hello")
    c.type("ignored\r")
    # A writer after it still gets the keyboard.
    w = attach(d, clients, "-n")
    w.wait_output("read-write")
    w.type("taken\r")
    c.wait_output("standin: got taken")
    assert console_inputs(d) == ["taken"]


def test_console_of_a_vm_that_is_not_running_is_refused(vmstated):
    d = vmstated
    console_vm(d)
    d.start()
    rc, out, err = d.ctl("console", "vm1")
    assert rc == 1 and out == ""
    assert "vm1 is not running (state stopped)" in err
    assert "vmstatedctl start vm1" in err
    rc, _, err = d.ctl("console", "nosuchvm")
    assert rc == 1 and 'no VM named "nosuchvm"' in err


def test_clients_are_told_when_the_vm_stops(vmstated, clients):
    d = vmstated
    console_vm(d, console="up")
    d.start()
    start(d)
    c = attach(d, clients, "-r")
    c.wait_output("up")
    d.ctl("stop", "vm1", check=0)
    assert c.wait_exit() == 1
    assert b"[vmstated: the VM has stopped]" in c.out


def test_the_console_stays_attached_across_a_guest_reboot(vmstated,
                                                          clients):
    d = vmstated
    console_vm(d, config={"maxrestart": 5}, console="hello run",
               exits="run,run", console_echo="yes")
    d.start()
    start(d)
    c = attach(d, clients, "-n")
    c.wait_output("read-write")
    first = d.status("vm1")["pid"]
    os.kill(first, signal.SIGKILL)          # a crash: restarted
    wait_for(lambda: d.status("vm1")["pid"] not in (None, first)
             and d.status("vm1")["state"] == "running",
             what="the restart")
    c.wait_output("hello run")
    c.type("after the reboot\r")
    c.wait_output("standin: got after the reboot")
    assert not c.exited()


def test_the_console_is_taken_back_after_a_daemon_restart(vmstated,
                                                          clients):
    d = vmstated
    console_vm(d, console_every="0.2")
    d.start()
    start(d)
    d.wait_log("vm1", "standin: tick 2")
    d.kill()
    ticks_then = len(re.findall(r"tick \d+", d.log("vm1")))
    time.sleep(0.5)
    d.start()
    d.wait_state("vm1", "running")
    c = attach(d, clients, "-r", "-n")
    c.wait_output("read-only")
    start_at = len(c.out)
    # Fresh lines, newer than any the first daemon logged.
    c.wait_output("standin: tick %d\r\n" % (ticks_then + 3), after=start_at)
    d.wait_log("vm1", "standin: tick %d" % (ticks_then + 3))


def test_a_config_with_its_own_com1_gets_no_console_of_the_daemons(
        vmstated):
    d = vmstated
    vmdir = console_vm(d, bhyve_config="lpc.com1.path=stdio\n",
                       console="to stdio")
    d.start()
    start(d)
    generated = (vmdir / "bhyve_config.generated").read_text()
    assert generated.count("lpc.com1.path=") == 1
    assert "lpc.com1.path=stdio" in generated
    # The guest's console goes where the configuration says: here the
    # hypervisor's stdout, the VM log, as before.
    d.wait_log("vm1", "to stdio")
    rc, _, err = d.ctl("console", "vm1")
    assert rc == 1
    assert ("vm1 has no console of vmstated's: its configuration puts com1 "
            "elsewhere: lpc.com1.path of its configfile") in err


def test_a_consoles_section_gets_no_console_of_the_daemons(vmstated):
    d = vmstated
    d.add_vm("vm1", {"consoles": {"com1": {"backend": "stdio",
                                            "enabled": True}}},
             standin={"console": "mine"}, bhyve_config=LPC)
    d.start()
    start(d)
    rc, _, err = d.ctl("console", "vm1")
    assert rc == 1 and "consoles { com1 } of its config" in err
    d.wait_log("vm1", "mine")


def test_the_protocol_switch_by_hand(vmstated):
    """vmstatedctl(1) PROTOCOL: a console request, its reply line, then
    the console's bytes both ways on the same connection."""
    d = vmstated
    console_vm(d, console="from before", console_echo="yes")
    d.start()
    start(d)
    d.wait_log("vm1", "from before")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(str(d.sock))
        s.sendall(b'{"command": "console", "vms": ["vm1"]}\n'
                  b"typed ahead\r")
        data = b""
        while b"standin: got typed ahead" not in data:
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
    reply, _, rest = data.partition(b"\n")
    assert json.loads(reply) == {"ok": True, "vm": "vm1",
                                 "mode": "read-write", "writer_uid": None}
    assert rest.startswith(b"from before\r\n")


def test_a_guest_cannot_write_a_line_of_the_daemons(vmstated):
    d = vmstated
    forged = ("2026-01-01T00:00:00Z vmstated: vm1: running -> stopped "
              "(reason request, by uid 0)")
    console_vm(d, console=forged)
    d.start()
    start(d)
    d.wait_log("vm1", forged)
    guest = [l for l in d.log("vm1").splitlines() if forged in l]
    assert len(guest) == 1
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ console: "
                    + re.escape(forged) + "$", guest[0])
    assert ("running", "stopped", "request") not in d.transitions("vm1")
    assert d.transitions("vm1")[-1] == ("start_storage", "running",
                                        "request")


# Every line of a VM log: the daemon's, a hook's or helper's, the guest's;
# the hypervisor's own messages alone come as it writes them ("bhyve: ").
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
                      r"(vmstated: vm1|console|hook [a-z_]+|helper \S+): "
                      r"|bhyve: )")


def test_a_line_the_guest_leaves_unfinished_glues_to_nothing(vmstated):
    d = vmstated
    console_vm(d, console="login: \\c")
    d.start()
    start(d)
    d.wait_log("vm1", "console: login: ")
    d.ctl("-w", "stop", "vm1", check=0)
    log = d.log("vm1")
    lines = log.splitlines()
    assert log.endswith("\n")
    assert [l for l in lines if not LOG_LINE.match(l)] == []
    assert [l for l in lines if l.endswith("console: login: ")] != []
    assert ("running", "stopping", "request") in d.transitions("vm1")


def test_control_characters_of_the_guest_are_made_visible_in_the_log(
        vmstated):
    d = vmstated
    console_vm(d, console="\x1b[2Jcleared?")
    d.start()
    start(d)
    line = d.wait_log("vm1", "cleared?")
    assert "console: ^[[2Jcleared?" in line
    assert "\x1b" not in d.log("vm1")
