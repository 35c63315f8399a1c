"""Numbered events and their history (issue 13 item 5).

Every event line carries "seq", a number counted from 1 by the daemon
across all VMs, and "epoch", a string drawn when the daemon started.  The
daemon keeps the last 1024 events; a client that reconnects asks for
those after the last number it saw (`"since"`, `vmstatedctl events -S
[epoch:]N`) and gets them before the live ones, with "missed": true and a
warning when the history no longer reaches back that far or is another
daemon's.  What is replayed is filtered as live events are.
"""
import json
import re
import shutil
import signal
import socket

import pytest

from vmstated_harness import TIMEOUT, wait_for
from vmstated_users import local_users, require_reachable, require_users

KEPT = 1024


class Stream:
    """A raw connection that asked for events (with since, perhaps)."""

    def __init__(self, d, **request):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(str(d.sock))
        self.file = self.sock.makefile("rb")
        self.sock.sendall(json.dumps(dict(command="events", **request))
                          .encode() + b"\n")
        self.reply = json.loads(self.file.readline())

    def next(self):
        line = self.file.readline()
        assert line, "the daemon closed the stream"
        return json.loads(line)

    def until(self, predicate):
        """Events up to the first for which predicate holds."""
        seen = []
        while True:
            seen.append(self.next())
            if predicate(seen[-1]):
                return seen

    def close(self):
        self.file.close()
        self.sock.close()


@pytest.fixture
def streams(vmstated):
    opened = []

    def open_one(**request):
        s = Stream(vmstated, **request)
        opened.append(s)
        return s
    yield open_one
    for s in opened:
        s.close()


def entered(vm, state):
    return lambda e: e.get("vm") == vm and e.get("to") == state


def last_seq(d):
    """(epoch, number of the last event) as the daemon says."""
    reply = d.request({"command": "events", "since": 0})
    return reply["epoch"], reply["seq"]


# ---- numbers ---------------------------------------------------------------

def test_every_event_carries_its_number_and_the_daemons_epoch(vmstated,
                                                              streams):
    d = vmstated
    d.add_vm("a")
    d.add_vm("b")
    d.start()
    s = streams()
    assert s.reply["ok"] is True and s.reply["seq"] == 0
    assert re.fullmatch(r"[0-9a-f]{16}", s.reply["epoch"])
    d.ctl("start", "a", "b", check=0)
    seen = s.until(entered("a", "running"))
    seen += s.until(entered("b", "running")) \
        if not any(entered("b", "running")(e) for e in seen) else []
    # One count for the daemon, across its VMs, with no gap.
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
    assert {e["vm"] for e in seen} == {"a", "b"}
    assert {e["epoch"] for e in seen} == {s.reply["epoch"]}
    assert s.reply["epoch"] == last_seq(d)[0]


def test_since_gives_what_came_after_then_the_live_events(vmstated,
                                                          streams):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    d.ctl("-w", "start", "vm1", check=0)        # events 1, 2, 3
    epoch = last_seq(d)[0]
    s = streams(since=1, epoch=epoch)
    assert s.reply == {"ok": True, "epoch": epoch, "seq": 3, "since": 1,
                       "missed": False}
    replayed = [s.next(), s.next()]
    assert [(e["seq"], e["to"]) for e in replayed] == [
        (2, "start_storage"), (3, "running")]
    d.ctl("stop", "vm1", check=0)
    live = s.until(entered("vm1", "stopped"))
    assert [e["seq"] for e in live] == [4, 5, 6, 7]
    # Up to date: nothing replayed, nothing missed.
    s2 = streams(since=7)
    assert s2.reply["missed"] is False
    d.ctl("start", "vm1", check=0)
    assert s2.next()["seq"] == 8


def test_a_client_started_again_gets_what_it_missed(vmstated, stream):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    first = stream(d, "-j", "events")
    first.wait_lines(lambda ls: ls, "the events reply")   # subscribed
    d.ctl("-w", "start", "vm1", check=0)
    first.wait_lines(lambda ls: any('"to":"running"' in l for l in ls),
                     "vm1 running")
    last = json.loads(first.lines[-1])
    first.proc.send_signal(signal.SIGTERM)
    assert first.finish()[0] == 0
    # While no client listens: a stop.
    d.ctl("-w", "stop", "vm1", check=0)
    again = stream(d, "-j", "events", "-S",
                   "%s:%d" % (last["epoch"], last["seq"]))
    again.wait_lines(lambda ls: any('"to":"stopped"' in l for l in ls),
                     "the stop replayed")
    d.ctl("start", "vm1", check=0)
    again.wait_lines(lambda ls: any('"to":"start_network"' in l
                                    for l in ls), "the next start, live")
    reply = json.loads(again.lines[0])
    assert reply["missed"] is False
    evs = [json.loads(l) for l in again.lines[1:]]
    assert [e["seq"] for e in evs] == list(range(last["seq"] + 1,
                                                 last["seq"] + 1 + len(evs)))
    assert [e["to"] for e in evs[:5]] == ["stopping", "stop_storage",
                                          "stop_network", "stopped",
                                          "start_network"]
    again.proc.send_signal(signal.SIGTERM)
    rc, err = again.finish()
    assert rc == 0 and err == ""


def test_a_restarted_daemon_says_its_history_is_another(vmstated, stream):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    epoch, seq = last_seq(d)
    assert seq == 3
    d.kill()                     # vm1 runs on, without a daemon
    d.start()
    d.wait_state("vm1", "running")
    d.ctl("-w", "stop", "vm1", check=0)
    new_epoch, new_seq = last_seq(d)
    assert new_epoch != epoch and new_seq >= 4
    # The client names the daemon it counted with: told, and given all
    # of the new daemon's events, numbered from 1.
    told = stream(d, "-j", "events", "-S", "%s:%d" % (epoch, seq))
    told.wait_lines(lambda ls: len(ls) >= 1 + new_seq, "the replay")
    reply = json.loads(told.lines[0])
    assert reply["missed"] is True and reply["epoch"] == new_epoch
    assert "restarted" in reply["warning"]
    assert [json.loads(l)["seq"] for l in told.lines[1:]] == \
        list(range(1, new_seq + 1))
    told.proc.send_signal(signal.SIGTERM)
    rc, err = told.finish()
    assert rc == 0
    assert "vmstatedctl: some events were missed: vmstated restarted" in err
    # Without the epoch, a number the new daemon has not reached gives
    # the restart away too.
    reply = d.request({"command": "events", "since": new_seq + 100})
    assert reply["missed"] is True and "restarted" in reply["warning"]


def test_the_history_keeps_the_last_1024_events(vmstated, streams):
    d = vmstated
    # A start that fails at its first hook, and failreset: a few events a
    # round, and no hypervisor to spawn.
    d.add_vm("vm1", hooks={"start_network": "exit 1"})
    d.start()
    watch = streams()
    requests = Stream(d)            # a connection to send requests on
    try:
        while last_seq(d)[1] <= KEPT + 50:
            for command, state in (("start", "failed"),
                                   ("failreset", "stopped")):
                requests.sock.sendall(json.dumps(
                    {"command": command, "vms": ["vm1"]}).encode() + b"\n")
                watch.until(entered("vm1", state))
    finally:
        requests.close()
    epoch, last = last_seq(d)
    s = streams(since=1, epoch=epoch)
    assert s.reply["missed"] is True
    assert "no longer kept" in s.reply["warning"]
    assert "%d" % KEPT in s.reply["warning"]
    replayed = [s.next() for _ in range(KEPT)]
    assert [e["seq"] for e in replayed] == list(range(last - KEPT + 1,
                                                      last + 1))
    # The oldest one kept, and after it: nothing missed.
    s2 = streams(since=last - KEPT, epoch=epoch)
    assert s2.reply["missed"] is False
    assert s2.next()["seq"] == last - KEPT + 1


def test_bad_since_and_epoch_are_refused(vmstated):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    for req in ({"since": -1}, {"since": "3"}, {"since": 1.5},
                {"epoch": "abc"}, {"since": 1, "epoch": 7}):
        reply = d.request(dict(command="events", **req))
        assert reply["ok"] is False, req
    reply = d.request({"command": "status", "since": 1})
    assert reply["ok"] is False and "only for events" in reply["error"]
    assert d.ctl("-S", "x", "events")[0] == 2
    assert d.ctl("-S", ":3", "events")[0] == 2
    assert d.ctl("-S", "3", "status")[0] == 2


# ---- who gets what ---------------------------------------------------------

def test_the_replay_is_filtered_as_live_events_are(vmstated, stream):
    require_users()
    d = vmstated
    require_reachable(d.build / "vmstatedctl")
    d.short.chmod(0o755)
    with local_users("owner", "stranger") as users:
        d.add_vm("mine", {"owner": users["owner"]})
        d.add_vm("roots")
        d.add_vm("gone", {"owner": users["owner"]})
        d.start()
        d.ctl("-w", "start", "mine", "roots", "gone", check=0)
        d.ctl("-w", "stop", "gone", check=0)
        # A VM removed by reload: its events are root's alone now.
        shutil.rmtree(d.conf / "gone")
        d.ctl("reload", check=0)
        wait_for(lambda: all(v["name"] != "gone" for v in d.status()),
                 what="gone to be forgotten")
        total = last_seq(d)[1]

        # The user's own connection, read until the replay is over.
        code = ("import json,socket,sys\n"
                "s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1])\n"
                "s.sendall(b'{\"command\":\"events\",\"since\":0}\\n')\n"
                "s.settimeout(2);f=s.makefile('rb');out=[]\n"
                "try:\n"
                "    while True:\n"
                "        l=f.readline()\n"
                "        if not l: break\n"
                "        out.append(json.loads(l))\n"
                "except OSError: pass\n"
                "print(json.dumps(out))\n")

        def seen_by(role):
            rc, out, err = users.run(role, ["/usr/bin/python3", "-c", code,
                                            d.sock], env=d.env)
            assert rc == 0, err
            lines = json.loads(out)
            assert lines[0]["ok"] is True
            return [e["vm"] for e in lines[1:]]
        owner = seen_by("owner")
        assert set(owner) == {"mine"} and len(owner) == 3
        assert seen_by("stranger") == []
        mine = Stream(d, since=0)
        try:
            everything = [mine.next() for _ in range(total)]
        finally:
            mine.close()
        assert {e["vm"] for e in everything} == {"mine", "roots", "gone"}
