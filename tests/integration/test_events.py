"""Live events: every state change of every VM, as it happens.

`vmstatedctl events` prints them as readable lines, `-j events` as JSON
lines, and the protocol's `events` command streams them to any script;
`-w` on start, stop, restart and kill follows the same stream and prints
each state a VM passes through.  Each event names the VM, the state it
left, the state it entered, the reason and the time.

test_ctl.py covers the client's command line for these (exit on SIGINT,
SIGTERM and a lost daemon; -w's output for a plain start, stop, restart
and kill); this file covers what the events say.
"""
import calendar
import json
import re
import socket
import subprocess
import threading
import time

import pytest

from vmstated_harness import program, require, wait_for

START = [("stopped", "start_network"), ("start_network", "start_storage"),
         ("start_storage", "running")]
STOP = [("running", "stopping"), ("stopping", "stop_storage"),
        ("stop_storage", "stop_network"), ("stop_network", "stopped")]
CRASH = [("running", "restarting"), ("restarting", "restarted"),
         ("restarted", "running")]
TEXT_EVENT = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (?P<vm>\S+) "
    r"(?P<frm>\w+) -> (?P<to>\w+) \((?P<reason>[\w-]+)\)")


def changes(events, vm=None):
    """(from, to, reason) of each event (of one VM)."""
    return [(e["from"], e["to"], e["reason"]) for e in events
            if vm is None or e["vm"] == vm]


def with_reason(pairs, reason):
    return [(f, t, reason) for f, t in pairs]


def collect(sub, vm, last, count=1):
    """Events until the VM has entered `last` count times; all of them."""
    seen = []
    n = 0
    while n < count:
        e = sub.next()
        seen.append(e)
        if e["vm"] == vm and e["to"] == last:
            n += 1
    return seen


@pytest.fixture
def subscriber(vmstated):
    """subscriber() opens an events connection on the started daemon."""
    subs = []

    def open_one():
        s = vmstated.events()
        subs.append(s)
        return s
    yield open_one
    for s in subs:
        s.close()


# --- what the stream says --------------------------------------------------

def test_a_start_and_a_stop_show_every_transition(vmstated, subscriber):
    vmstated.add_vm("vm1", record_hooks=True)
    vmstated.start()
    sub = subscriber()
    before = time.time()
    vmstated.ctl("start", "vm1", check=0)
    seen = collect(sub, "vm1", "running")
    vmstated.ctl("stop", "vm1", check=0)
    seen += collect(sub, "vm1", "stopped")
    after = time.time()
    assert changes(seen) == with_reason(START + STOP, "request")
    for e in seen:
        assert e["event"] == "state" and e["vm"] == "vm1"
        assert before - 1 <= e["time"] <= after + 1, e
    times = [e["time"] for e in seen]
    assert times == sorted(times)


def test_an_event_carries_the_pid_while_a_hypervisor_runs(vmstated,
                                                          subscriber):
    vmstated.add_vm("vm1")
    vmstated.start()
    sub = subscriber()
    vmstated.ctl("start", "vm1", check=0)
    seen = collect(sub, "vm1", "running")
    pid = vmstated.status("vm1")["pid"]
    assert [e["pid"] for e in seen] == [None, None, pid]


def test_a_crash_restart_shows_every_transition_with_reason_crash(
        vmstated, subscriber):
    vmstated.add_vm("vm1", standin={"exits": "4,run", "delay": "0.2"})
    vmstated.start()
    sub = subscriber()
    vmstated.ctl("start", "vm1", check=0)
    seen = collect(sub, "vm1", "running", count=2)
    assert changes(seen) == (with_reason(START, "request")
                             + with_reason(CRASH, "crash"))
    first_pid, second_pid = seen[2]["pid"], seen[-1]["pid"]
    assert first_pid and second_pid and first_pid != second_pid


def test_a_guest_reboot_and_a_poweroff_show_their_reasons(vmstated,
                                                          subscriber):
    vmstated.add_vm("vm1", standin={"exits": "0,1", "delay": "0.2"})
    vmstated.start()
    sub = subscriber()
    vmstated.ctl("start", "vm1", check=0)
    seen = collect(sub, "vm1", "stopped")
    assert changes(seen) == (with_reason(START, "request")
                             + with_reason(CRASH, "guest-reboot")
                             + with_reason(STOP, "guest-poweroff"))


def test_a_failing_hook_shows_the_teardown_and_failed(vmstated, subscriber):
    vmstated.add_vm("vm1", hooks={"start_storage": "exit 3"})
    vmstated.start()
    sub = subscriber()
    vmstated.ctl("start", "vm1", check=0)
    seen = collect(sub, "vm1", "failed")
    assert changes(seen) == [
        ("stopped", "start_network", "request"),
        ("start_network", "start_storage", "request"),
        ("start_storage", "stop_storage", "hook-failed"),
        ("stop_storage", "stop_network", "hook-failed"),
        ("stop_network", "failed", "hook-failed")]
    vmstated.ctl("failreset", "vm1", check=0)
    assert changes([sub.next()]) == [("failed", "stopped", "failreset")]


def test_every_subscriber_gets_every_event_of_every_vm(vmstated,
                                                       subscriber):
    vmstated.add_vm("vm1")
    vmstated.add_vm("vm2", hooks={"start_storage": "sleep 0.3"})
    vmstated.start()
    subs = [subscriber() for _ in range(3)]
    vmstated.ctl("start", "vm1", "vm2", check=0)
    vmstated.wait_state("vm1", "running")
    vmstated.wait_state("vm2", "running")
    streams = []
    for s in subs:
        seen = [s.next() for _ in range(6)]
        assert changes(seen, "vm1") == with_reason(START, "request")
        assert changes(seen, "vm2") == with_reason(START, "request")
        streams.append([(e["vm"], e["to"], e["time"]) for e in seen])
    assert streams[0] == streams[1] == streams[2]


def test_a_subscriber_sees_a_vm_added_by_reload(vmstated, subscriber):
    vmstated.add_vm("vm1")
    vmstated.start()
    sub = subscriber()
    vmstated.add_vm("vm2")
    vmstated.ctl("reload", check=0)
    vmstated.ctl("start", "vm2", check=0)
    assert changes(collect(sub, "vm2", "running"), "vm2") == with_reason(
        START, "request")


def test_the_events_connection_still_answers_requests(vmstated, subscriber):
    vmstated.add_vm("vm1")
    vmstated.start()
    sub = subscriber()
    sub.sock.sendall(b'{"command": "status", "vms": ["vm1"]}\n')
    reply = json.loads(sub.file.readline())
    assert reply["ok"] is True and reply["vms"][0]["state"] == "stopped"
    vmstated.ctl("start", "vm1", check=0)
    assert collect(sub, "vm1", "running")


# --- vmstatedctl events ----------------------------------------------------

def parse_text_events(lines):
    """Readable event lines as dicts; every line must be one."""
    out = []
    for line in lines:
        m = TEXT_EVENT.fullmatch(line)
        assert m, "not an event line: %r" % line
        out.append(m.groupdict())
    return out


def test_events_prints_a_readable_line_per_transition(vmstated, stream):
    vmstated.add_vm("vm1", standin={"exits": "3,run", "delay": "0.2"})
    vmstated.add_vm("probe")
    vmstated.start()
    events = stream(vmstated, "events")
    # The text stream prints nothing before the first event, so there is
    # no telling when it has subscribed: start and stop a probe VM until
    # the stream shows it.
    def probe_seen():
        vmstated.ctl("-w", "start", "probe", check=0)
        vmstated.ctl("-w", "stop", "probe", check=0)
        return any(" probe " in l for l in events.lines)
    wait_for(probe_seen, what="vmstatedctl events to show the probe VM")
    before = time.time()
    vmstated.ctl("start", "vm1", check=0)
    events.wait_lines(lambda ls: sum(" vm1 restarted -> running " in l
                                     for l in ls) == 1,
                      "the crash restart of vm1")
    after = time.time()
    got = [e for e in parse_text_events(events.lines) if e["vm"] == "vm1"]
    assert [(e["frm"], e["to"], e["reason"]) for e in got] == (
        with_reason(START, "request") + with_reason(CRASH, "crash"))
    for e in got:
        t = calendar.timegm(time.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ"))
        assert int(before) - 1 <= t <= after + 1, e


def test_events_j_prints_one_json_object_per_line(vmstated, stream):
    vmstated.add_vm("vm1")
    vmstated.start()
    events = stream(vmstated, "-j", "events")
    events.wait_lines(lambda ls: ls[:1] == ['{"ok":true}'] or
                      (ls and json.loads(ls[0]) == {"ok": True}),
                      "the events reply")
    vmstated.ctl("-w", "start", "vm1", check=0)
    vmstated.ctl("-w", "stop", "vm1", check=0)
    events.wait_lines(lambda ls: any('"to":"stopped"' in l.replace(" ", "")
                                     for l in ls), "the stop of vm1")
    evs = [json.loads(l) for l in events.lines[1:]]
    for e in evs:
        assert {"event", "vm", "from", "to", "reason", "time",
                "pid"} <= set(e), e
        assert isinstance(e["time"], float)
    assert changes(evs) == with_reason(START + STOP, "request")


# --- -w follows the same stream ---------------------------------------------

def test_w_start_prints_the_states_the_events_show(vmstated, subscriber):
    vmstated.add_vm("vm1", hooks={"start_network": "sleep 0.2",
                                  "start_storage": "sleep 0.2"})
    vmstated.start()
    sub = subscriber()
    rc, out, err = vmstated.ctl("-w", "start", "vm1")
    assert rc == 0, err
    seen = collect(sub, "vm1", "running")
    assert out.splitlines() == ["vm1: %s" % e["to"] for e in seen]


def test_w_stop_of_a_guest_that_powers_off_slowly(vmstated):
    vmstated.add_vm("vm1", standin={"shutdown_delay": "0.5"},
                    hooks={"stop_storage": "sleep 0.2"})
    vmstated.start()
    vmstated.ctl("-w", "start", "vm1", check=0)
    rc, out, err = vmstated.ctl("-w", "stop", "vm1")
    assert rc == 0, err
    assert out.splitlines() == ["vm1: stopping", "vm1: stop_storage",
                                "vm1: stop_network", "vm1: stopped"]


def test_w_start_of_a_failing_vm_prints_the_teardown(vmstated):
    vmstated.add_vm("vm1", hooks={"start_storage": "exit 3"})
    vmstated.start()
    rc, out, err = vmstated.ctl("-w", "start", "vm1")
    assert rc == 1
    assert out.splitlines() == ["vm1: start_network", "vm1: start_storage",
                                "vm1: stop_storage (hook-failed)",
                                "vm1: stop_network (hook-failed)",
                                "vm1: failed (hook-failed)"]


def test_w_restart_prints_each_state_with_its_hooks(vmstated):
    vmstated.add_vm("vm1", hooks={"restarting": "sleep 0.2",
                                  "restarted": "sleep 0.2"})
    vmstated.start()
    vmstated.ctl("-w", "start", "vm1", check=0)
    rc, out, err = vmstated.ctl("-w", "restart", "vm1")
    assert rc == 0, err
    assert out.splitlines() == ["vm1: restarting", "vm1: restarted",
                                "vm1: running"]


def test_w_j_prints_the_events_it_followed(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    vmstated.ctl("-w", "start", "vm1", check=0)
    rc, out, err = vmstated.ctl("-j", "-w", "stop", "vm1")
    assert rc == 0, err
    lines = [json.loads(l) for l in out.splitlines()]
    assert lines[0]["ok"] is True
    assert changes(lines[1:]) == with_reason(STOP, "request")
    for e in lines[1:]:
        assert e["vm"] == "vm1" and isinstance(e["time"], float)


def test_w_on_two_vms_prints_only_their_states(vmstated):
    vmstated.add_vm("vm1")
    vmstated.add_vm("vm2")
    vmstated.add_vm("other", standin={"exits": "4,4,4,run", "delay": "0.1"})
    vmstated.start()
    vmstated.ctl("start", "other", check=0)
    rc, out, err = vmstated.ctl("-w", "start", "vm1", "vm2")
    assert rc == 0, err
    assert not [l for l in out.splitlines() if l.startswith("other")]
    for vm in ("vm1", "vm2"):
        assert [l for l in out.splitlines() if l.startswith(vm + ":")] == [
            "%s: start_network" % vm, "%s: start_storage" % vm,
            "%s: running" % vm]


# --- -w when the daemon refuses some of the VMs ------------------------------

def test_w_follows_the_accepted_vms_of_a_partly_refused_request(vmstated):
    # The refusal is printed, vm1 is followed to running, and the exit
    # status is the refusal's.
    vmstated.add_vm("vm1", record_hooks=True)
    vmstated.start()
    rc, out, err = vmstated.ctl("-w", "-t", "60", "start", "vm1", "nosuch")
    assert rc == 1, (out, err)
    assert err == ('vmstatedctl: no VM named "nosuch"; \'vmstatedctl '
                   'status\' lists the VMs\n')
    assert out.splitlines() == ["vm1: start_network", "vm1: start_storage",
                                "vm1: running"]
    assert vmstated.state("vm1") == "running"


def watch_request(d, vms):
    """A start of vms with "watch" on a new connection: (reply, the
    connection's file, the socket); the caller closes the socket."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(str(d.sock))
    f = s.makefile("rb")
    s.sendall(json.dumps({"command": "start", "vms": vms,
                          "watch": True}).encode() + b"\n")
    return json.loads(f.readline()), f, s


def test_a_partly_refused_watch_request_keeps_its_subscription(vmstated):
    vmstated.add_vm("vm1")
    vmstated.add_vm("vm2")
    vmstated.start()
    vmstated.ctl("-w", "start", "vm2", check=0)
    reply, f, s = watch_request(vmstated, ["vm1", "vm2", "nosuch"])
    with s:
        assert reply["ok"] is False and reply["watching"] is True
        assert [(r["vm"], r["ok"]) for r in reply["results"]] == [
            ("vm1", True), ("vm2", False), ("nosuch", False)]
        events = [json.loads(f.readline()) for _ in range(3)]
        assert changes(events) == with_reason(START, "request")
    # All refused: no subscription, and the reply says so.
    reply, f, s = watch_request(vmstated, ["vm2", "nosuch"])
    with s:
        assert reply["ok"] is False and reply["watching"] is False
        vmstated.ctl("-w", "stop", "vm2", check=0)
        s.sendall(b'{"command": "status"}\n')
        assert "vms" in json.loads(f.readline())


def test_w_does_not_wait_for_events_the_daemon_says_will_not_come(
        tmp_path):
    # A daemon that accepted vm1 but did not subscribe the connection says
    # "watching": false: the client reports it at once instead of waiting
    # until -t for events that cannot come.
    require("vmstatedctl")
    path = tmp_path / "fake.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)
    reply = {"ok": False, "watching": False, "results": [
        {"vm": "vm1", "ok": True, "state": "start_network"},
        {"vm": "nosuch", "ok": False, "error": 'no VM named "nosuch"'}]}

    def serve():
        c, _ = server.accept()
        with c:
            c.makefile("rb").readline()
            c.sendall(json.dumps(reply).encode() + b"\n")
            c.recv(1)       # until the client hangs up
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        p = subprocess.run(
            [str(program("vmstatedctl")), "-s", str(path), "-w", "-t",
             "600", "start", "vm1", "nosuch"], stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=120)
    finally:
        server.close()
        t.join(60)
    assert p.returncode == 1, p
    assert p.stdout == ""
    assert p.stderr == (
        'vmstatedctl: no VM named "nosuch"\n'
        "vmstatedctl: vmstated sends no states of vm1 on this connection; "
        "not waiting ('vmstatedctl status vm1' shows where it is)\n")
