"""The control protocol under abuse: every request is checked, and no
client can hold up the daemon or the other clients.

Each test talks to the socket directly, as a script would (the protocol
is documented in vmstatedctl(1)): oversized lines, invalid JSON, wrong
types, unknown commands and VMs, silent, stalled, vanishing and greedy
clients, and 200 clients at once.  After every error the same connection
must still answer a `status`, and another client's `status` must be
answered while a misbehaving one is connected.
"""
import json
import os
import re
import resource
import socket
import threading

import pytest

from vmstated_harness import wait_for

MAX_LINE = 64 * 1024
BIG = 60 * 1024         # the size of a status reply of big_vms()
DESCRIPTION = "d" * 1024    # the longest a description may be


class Client:
    """A raw connection to the control socket."""

    def __init__(self, d, timeout=60, rcvbuf=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        # A socket with a timeout is non-blocking underneath, and a UNIX
        # socket whose listen queue is full refuses it with EAGAIN rather
        # than making it wait: try again, as vmstatedctl does.
        wait_for(lambda: self._connect(d.sock), timeout,
                 "a connection to %s" % d.sock)
        self.file = self.sock.makefile("rb")

    def _connect(self, path):
        try:
            self.sock.connect(str(path))
        except BlockingIOError:
            return False
        return True

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def request(self, obj):
        """Send one request (a dict or raw text/bytes) and read the reply."""
        if isinstance(obj, dict):
            obj = json.dumps(obj) + "\n"
        self.send(obj)
        return self.reply()

    def reply(self):
        line = self.file.readline()
        assert line, "the daemon closed the connection instead of replying"
        assert line.endswith(b"\n")
        return json.loads(line)

    def assert_usable(self):
        """The connection still answers a status request."""
        r = self.request({"command": "status"})
        assert r["ok"] is True and isinstance(r["vms"], list), r

    def close(self):
        for f in (self.file, self.sock):
            try:
                f.close()
            except OSError:
                pass


@pytest.fixture
def client(vmstated):
    """client() opens a raw connection to the started daemon; all are
    closed at teardown."""
    opened = []

    def connect(**kw):
        c = Client(vmstated, **kw)
        opened.append(c)
        return c
    yield connect
    for c in opened:
        c.close()


def others_still_answer(d):
    """A status from a fresh connection is answered, and the daemon runs."""
    assert d.running(), d.stderr()
    r = d.request({"command": "status"})
    assert r["ok"] is True, r
    return r


def big_vms(d):
    """vm1 and enough other VMs, each with the longest description, for
    each status reply to be about BIG bytes."""
    for i in range(BIG // (len(DESCRIPTION) + 200)):
        d.add_vm("vm%d" % (i + 1), {"description": DESCRIPTION})


def started(d, vms=("vm1",)):
    for vm in vms:
        d.add_vm(vm)
    d.start()


def error_of(reply):
    assert reply["ok"] is False, reply
    assert isinstance(reply["error"], str) and reply["error"], reply
    return reply["error"]


# --- one bad request, one error reply, the connection stays usable ----------

def test_a_request_over_64_kib_gets_an_error_and_the_connection_lives(
        vmstated, client):
    started(vmstated)
    c = client()
    huge = json.dumps({"command": "status",
                       "pad": "x" * (MAX_LINE + 10)}) + "\n"
    err = error_of(c.request(huge))
    assert "longer than 65536 bytes" in err
    c.assert_usable()
    others_still_answer(vmstated)


def test_a_request_of_64_kib_less_a_byte_is_accepted(vmstated, client):
    started(vmstated)
    c = client()
    head = '{"command": "status", "pad": "'
    tail = '"}'
    line = head + "x" * (MAX_LINE - len(head) - len(tail)) + tail
    assert len(line) == MAX_LINE
    r = c.request(line + "\n")
    assert r["ok"] is True, r
    c.assert_usable()


def test_an_overlong_line_sent_in_pieces_is_skipped_up_to_its_end(
        vmstated, client):
    started(vmstated)
    c = client()
    # 1 MiB without a newline, in 64 KiB writes: the daemon must neither
    # buffer it all nor wait for the end before it says no.
    c.send('{"command": "status", "pad": "')
    for _ in range(16):
        c.send("y" * (64 * 1024))
    err = error_of(c.reply())
    assert "longer than 65536 bytes" in err
    others_still_answer(vmstated)
    # The rest of the overlong line, then a good request on the same line
    # stream: the rest is skipped silently, the request answered.
    c.send("y" * 1000 + '"}\n')
    c.assert_usable()


@pytest.mark.parametrize("line", [
    '{"command": "status"',             # unterminated object
    '{"command": }',                    # missing value
    '{"command": "status"}}',           # trailing garbage
    '{"command": "status"} {"a": 1}',   # two objects on one line
    '{"command": "sta',                 # unterminated string
    '[1, 2',                            # unterminated array
])
def test_invalid_json_gets_an_error_naming_the_column(vmstated, client,
                                                      line):
    started(vmstated)
    c = client()
    err = error_of(c.request(line + "\n"))
    assert err.startswith("invalid JSON at column "), err
    c.assert_usable()


def test_binary_garbage_gets_an_error(vmstated, client):
    started(vmstated)
    c = client()
    err = error_of(c.request(b"\x00\xff\xfe{{{\x01\n"))
    assert err, err
    c.assert_usable()


@pytest.mark.parametrize("line", [
    '{"command": "status",}',
    "{command: status}",
    "{'command': 'status'}",
    'command = "status"',
])
def test_json_that_ucl_tolerates_is_still_refused(vmstated, client, line):
    started(vmstated)
    c = client()
    err = error_of(c.request(line + "\n"))
    assert "invalid JSON" in err
    c.assert_usable()


def test_a_request_that_is_an_array_is_refused(vmstated, client):
    started(vmstated)
    c = client()
    err = error_of(c.request('["status"]\n'))
    assert "a request must be a JSON object" in err
    c.assert_usable()


@pytest.mark.parametrize("line", ['"status"', "42", "true", "null"])
def test_a_request_that_is_a_bare_value_is_refused(vmstated, client, line):
    started(vmstated)
    c = client()
    err = error_of(c.request(line + "\n"))
    assert "JSON" in err, err
    c.assert_usable()


@pytest.mark.parametrize("req, expected", [
    ({}, 'a request needs "command" (a string)'),
    ({"command": 7}, 'a request needs "command" (a string)'),
    ({"command": ["start"]}, 'a request needs "command" (a string)'),
    ({"command": "start", "vms": "vm1"},
     '"vms" must be an array of VM names'),
    ({"command": "start", "vms": [1]}, '"vms" must hold VM names (strings)'),
    ({"command": "status", "vms": {"a": 1}},
     '"vms" must be an array of VM names'),
    ({"command": "start", "vms": ["vm1"], "watch": "yes"},
     '"watch" must be true or false'),
    ({"command": "start"}, 'start needs at least one VM name in "vms"'),
    ({"command": "start", "vms": []}, 'start needs at least one VM name'),
    ({"command": "info", "vms": ["vm1", "vm1"]},
     "info takes exactly one VM name"),
])
def test_a_member_of_the_wrong_type_is_refused(vmstated, client, req,
                                               expected):
    started(vmstated)
    c = client()
    err = error_of(c.request(req))
    assert expected in err, err
    c.assert_usable()
    # Nothing was done on the VM's behalf.
    assert vmstated.state("vm1") == "stopped"


def test_an_unknown_command_is_refused_listing_the_known_ones(vmstated,
                                                              client):
    started(vmstated)
    c = client()
    err = error_of(c.request({"command": "frob", "vms": ["vm1"]}))
    assert err.startswith('unknown command "frob"; known: start, stop, '
                          'restart, kill, failreset, status, info, reload, '
                          'events'), err
    c.assert_usable()


def test_an_overlong_unknown_command_is_quoted_only_in_part(vmstated,
                                                            client):
    started(vmstated)
    c = client()
    err = error_of(c.request({"command": "z" * 5000}))
    assert err.startswith('unknown command "' + "z" * 64 + '"'), err[:100]
    assert len(err) < 400
    c.assert_usable()


@pytest.mark.parametrize("command", ["start", "stop", "restart", "kill",
                                     "failreset"])
def test_an_unknown_vm_is_refused_per_vm(vmstated, client, command):
    started(vmstated)
    c = client()
    r = c.request({"command": command, "vms": ["nosuch"]})
    assert r["ok"] is False
    [res] = r["results"]
    assert res["vm"] == "nosuch" and res["ok"] is False
    assert res["error"] == ('no VM named "nosuch"; \'vmstatedctl status\' '
                            'lists the VMs')
    c.assert_usable()


@pytest.mark.parametrize("command", ["status", "info"])
def test_an_unknown_vm_is_refused_by_status_and_info(vmstated, client,
                                                     command):
    started(vmstated)
    c = client()
    err = error_of(c.request({"command": command, "vms": ["nosuch"]}))
    assert 'no VM named "nosuch"' in err
    c.assert_usable()


def test_unknown_members_are_ignored(vmstated, client):
    started(vmstated)
    c = client()
    r = c.request({"command": "status", "vms": ["vm1"], "colour": "blue",
                   "uid": 0, "nested": {"a": [1, 2]}})
    assert r["ok"] is True and r["vms"][0]["name"] == "vm1"


def test_empty_lines_and_crlf_are_tolerated(vmstated, client):
    started(vmstated)
    c = client()
    c.send("\n\n\r\n")
    r = c.request('{"command": "status"}\r\n')
    assert r["ok"] is True, r


def test_pipelined_requests_get_one_reply_each_in_order(vmstated, client):
    started(vmstated, ("vm1", "vm2"))
    c = client()
    batch = [{"command": "status", "vms": ["vm2"]},
             '{"not json',
             {"command": "info", "vms": ["vm1"]},
             {"command": "frob"},
             {"command": "status", "vms": ["vm1"]}]
    c.send("".join((json.dumps(r) if isinstance(r, dict) else r) + "\n"
                   for r in batch))
    replies = [c.reply() for _ in batch]
    assert replies[0]["vms"][0]["name"] == "vm2"
    assert "invalid JSON" in error_of(replies[1])
    assert replies[2]["vm"]["name"] == "vm1"
    assert "unknown command" in error_of(replies[3])
    assert replies[4]["vms"][0]["name"] == "vm1"


# --- clients that misbehave do not hold up the others -----------------------

def test_a_client_that_sends_nothing_holds_up_no_one(vmstated, client):
    started(vmstated)
    silent = [client() for _ in range(5)]
    others_still_answer(vmstated)
    vmstated.ctl("-w", "start", "vm1", check=0)
    # The silent connections are still served once they speak.
    for c in silent:
        c.assert_usable()


def test_a_client_stalled_half_way_through_a_line_holds_up_no_one(
        vmstated, client):
    started(vmstated)
    stalled = client()
    stalled.send('{"command": "status", "vm')
    others_still_answer(vmstated)
    rc, out, _ = vmstated.ctl("status", "vm1")
    assert rc == 0 and "vm1" in out
    vmstated.ctl("-w", "start", "vm1", check=0)
    # The stalled request completes later and is answered.
    stalled.send('s": ["vm1"]}\n')
    r = stalled.reply()
    assert r["ok"] is True and r["vms"][0]["state"] == "running"


def test_a_client_that_sends_a_huge_request_and_vanishes(vmstated, client):
    started(vmstated)
    c = client()
    # 8 MiB with no newline, then gone without reading the error.
    chunk = b"z" * (256 * 1024)
    try:
        for _ in range(32):
            c.send(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    c.close()
    others_still_answer(vmstated)
    vmstated.ctl("-w", "start", "vm1", check=0)


def test_a_client_that_vanishes_mid_reply(vmstated, client):
    big_vms(vmstated)
    vmstated.start()
    c = client(rcvbuf=4096)
    # Ten replies of ~60 KiB, more than the socket buffers hold; read the
    # start of the first and vanish while the daemon is still writing.
    c.send((json.dumps({"command": "status"}) + "\n").encode() * 10)
    assert c.sock.recv(100).startswith(b'{"ok":true')
    c.close()
    r = others_still_answer(vmstated)
    assert r["vms"][0]["description"] == DESCRIPTION
    vmstated.ctl("-w", "start", "vm1", check=0)
    others_still_answer(vmstated)


def read_to_the_end(sock):
    """Read until the daemon closes the connection; bytes read."""
    received = 0
    while True:
        try:
            data = sock.recv(1 << 20)
        except ConnectionResetError:
            break
        if not data:
            break
        received += len(data)
    return received


def test_a_client_that_never_reads_its_replies_is_dropped(vmstated,
                                                          client):
    big_vms(vmstated)
    vmstated.start()
    greedy = client(rcvbuf=4096)
    # 200 replies of ~60 KiB: 12 MiB, far beyond the 4 MiB the daemon
    # keeps for a client; it must not keep them all, nor wait.
    greedy.send((json.dumps({"command": "status"}) + "\n").encode() * 200)
    wait_for(lambda: "does not read its replies" in vmstated.stderr(),
             what="the daemon to drop the client", details=vmstated.stderr)
    others_still_answer(vmstated)
    # Dropped: what had reached the socket can be read, then end of file.
    assert read_to_the_end(greedy.sock) < 200 * BIG


def test_a_flood_of_bad_lines_from_a_client_that_never_reads(vmstated,
                                                             client):
    # Each bad line gets a small error reply; a client that sends a
    # hundred thousand of them without reading is dropped like any other,
    # mid-way through what it sent, and the daemon carries on.
    started(vmstated)
    flood = client(rcvbuf=4096)
    try:
        flood.send(b"x\n" * 100000)
        flood.send(b"y" * (MAX_LINE + 1) + b"\n")
        flood.send(b"x\n" * 100000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    wait_for(lambda: "does not read its replies" in vmstated.stderr(),
             what="the daemon to drop the client", details=vmstated.stderr)
    flood.close()
    others_still_answer(vmstated)
    vmstated.ctl("-w", "start", "vm1", check=0)
    # Dropped from inside its own read callback, cleanly for libevent.
    assert "[warn]" not in vmstated.stderr(), vmstated.stderr()


def test_an_events_subscriber_that_never_reads_blocks_no_one(vmstated,
                                                             client):
    big_vms(vmstated)
    vmstated.start()
    sub = client(rcvbuf=4096)
    assert sub.request({"command": "events"}) == {"ok": True}
    # The subscriber keeps asking (status replies of ~60 KiB) and never
    # reads; meanwhile VMs change state and events are queued for it.
    sub.send((json.dumps({"command": "status"}) + "\n").encode() * 200)
    vmstated.ctl("-w", "start", "vm2", check=0)
    wait_for(lambda: "does not read its replies" in vmstated.stderr(),
             what="the daemon to drop the subscriber",
             details=vmstated.stderr)
    vmstated.ctl("-w", "stop", "vm2", check=0)
    vmstated.ctl("-w", "restart", "vm1", check=0)
    others_still_answer(vmstated)


def test_an_events_subscriber_that_reads_late_gets_every_event(vmstated,
                                                               client):
    started(vmstated)
    sub = client()
    assert sub.request({"command": "events"}) == {"ok": True}
    vmstated.ctl("-w", "start", "vm1", check=0)
    vmstated.ctl("-w", "stop", "vm1", check=0)
    events = [sub.reply() for _ in range(7)]
    assert [e["to"] for e in events] == [
        "start_network", "start_storage", "running", "stopping",
        "stop_storage", "stop_network", "stopped"]


def test_200_clients_at_once_all_get_their_status(vmstated):
    vmstated.add_vm("vm1")
    vmstated.add_vm("vm2")
    vmstated.start()
    n = 200
    barrier = threading.Barrier(n)
    replies, errors = [None] * n, []

    def one(i):
        try:
            c = Client(vmstated, timeout=60)
            try:
                barrier.wait(60)
                replies[i] = c.request({"command": "status"})
            finally:
                c.close()
        except Exception as e:         # reported below, with the index
            errors.append((i, repr(e)))
            barrier.abort()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "clients still waiting"
    assert errors == []
    for r in replies:
        assert r["ok"] is True
        assert [v["name"] for v in r["vms"]] == ["vm1", "vm2"]
    others_still_answer(vmstated)


def test_200_connections_held_open_do_not_stop_a_vm_command(vmstated,
                                                            client):
    started(vmstated)
    idle = [client() for _ in range(200)]
    vmstated.ctl("-w", "start", "vm1", check=0)
    vmstated.ctl("-w", "stop", "vm1", check=0)
    for c in idle[::20]:
        c.assert_usable()


def test_a_refused_watch_request_does_not_subscribe(vmstated, client):
    started(vmstated)
    c = client()
    r = c.request({"command": "start", "vms": ["nope"], "watch": True})
    assert r["ok"] is False
    vmstated.ctl("-w", "start", "vm1", check=0)
    # Had it subscribed, the events of vm1's start would come first.
    r = c.request({"command": "status"})
    assert "event" not in r and r["ok"] is True, r


def test_an_accepted_watch_request_subscribes(vmstated, client):
    started(vmstated)
    c = client()
    r = c.request({"command": "start", "vms": ["vm1"], "watch": True})
    assert r["ok"] is True
    assert c.reply()["event"] == "state"


# --- idle connections, descriptors ------------------------------------------

def test_an_idle_connection_is_closed_after_socket_timeout(vmstated,
                                                           client):
    # Connections that follow events (events, -w) are never closed.
    vmstated.conf_settings["socket_timeout"] = 1
    vmstated.add_vm("vm1", hooks={"start_storage": "sleep 3"})
    vmstated.start()
    idle = client()
    asked = client()
    asked.assert_usable()
    follower = client()
    assert follower.request({"command": "events"}) == {"ok": True}
    waiter = vmstated.ctl  # -w start: the hook alone outlasts the timeout
    assert idle.sock.recv(1) == b""
    assert asked.sock.recv(1) == b""
    rc, out, err = waiter("-w", "start", "vm1")
    assert rc == 0, err
    assert out.splitlines()[-1] == "vm1: running"
    assert [follower.reply()["to"] for _ in range(3)] == [
        "start_network", "start_storage", "running"]
    follower.assert_usable()


def test_a_connection_may_be_kept_by_asking_now_and_then(vmstated, client):
    vmstated.conf_settings["socket_timeout"] = 2
    started(vmstated)
    c = client()
    idle = client()

    def idle_closed():
        c.assert_usable()
        idle.sock.settimeout(0.2)
        try:
            return idle.sock.recv(1) == b""
        except socket.timeout:
            return False
    # Each answer restarts c's clock: c outlives idle, though opened first.
    wait_for(idle_closed, what="the idle connection to be closed")
    c.assert_usable()


def daemon_fds(d):
    return os.listdir("/proc/%d/fd" % d.proc.pid)


def test_accepted_connections_are_close_on_exec(vmstated, client):
    started(vmstated)
    clients = [client() for _ in range(3)]
    for c in clients:
        c.assert_usable()
    sockets = 0
    for fd in daemon_fds(vmstated):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (vmstated.proc.pid, fd))
            with open("/proc/%d/fdinfo/%s" % (vmstated.proc.pid, fd)) as f:
                info = f.read()
        except FileNotFoundError:
            continue
        if not target.startswith("socket:"):
            continue
        sockets += 1
        flags = int(re.search(r"^flags:\s+(\d+)", info, re.M).group(1), 8)
        assert flags & os.O_CLOEXEC, (fd, target, info)
    assert sockets >= 4


@pytest.mark.skipif(not hasattr(resource, "prlimit"),
                    reason="needs prlimit(2)")
def test_out_of_descriptors_accepting_pauses_and_resumes(vmstated, client):
    # With the open-file limit reached, accept() fails: the daemon says so
    # once, stops accepting instead of spinning, keeps one descriptor in
    # reserve for root, and serves the waiting clients once some are free.
    started(vmstated)
    free = 5
    limit = len(daemon_fds(vmstated)) + free
    resource.prlimit(vmstated.proc.pid, resource.RLIMIT_NOFILE,
                     (limit, limit))
    # Connections until one needs the spare (a connection the test made
    # may still hold a descriptor in the daemon, hence no exact count).
    held = []
    for _ in range(free + 5):
        held.append(client())
        held[-1].assert_usable()
        if "control: out of file descriptors" in vmstated.stderr():
            break
    assert "control: out of file descriptors" in vmstated.stderr(), \
        vmstated.stderr()
    waiting = [client() for _ in range(5)]
    for c in waiting:
        c.send(json.dumps({"command": "status"}) + "\n")
    for c in held:
        c.close()
    for c in waiting:
        r = c.reply()
        assert r["ok"] is True, r
        c.close()
    # It says so at the first connection a moment after the last failure.
    wait_for(lambda: others_still_answer(vmstated) and
             "file descriptors are available again" in vmstated.stderr(),
             what="the daemon to say it accepts again",
             details=vmstated.stderr)
    log = vmstated.stderr()
    assert log.count("out of file descriptors") == 1, log
    assert log.count("Too many open files") == 1, log
    assert "[warn]" not in log, log      # libevent's own complaints
