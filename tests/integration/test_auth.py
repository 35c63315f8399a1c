"""Authorization: who may do what to which VM (vmstated(8) AUTHORIZATION
and SECURITY).

The daemon runs as root; vmstatedctl runs as users this module creates
for the session (useradd/groupadd, removed at the end even after a
failure):

    owner     the `owner` of the VMs "own" and "ownfail"
    member    in the VM group through a supplementary group only
    pmember   in the VM group as its primary group
    stranger  neither

root may do everything; a VM's owner and the members of its group may
start, stop, restart, kill and failreset it, and see its details (info)
and its events; anyone who can connect may read status; reload is
root's.  The client's identity (user and groups) comes from the kernel,
as the connecting process held it, whatever the request or the group
database says.  Owner and group follow a reload at once.  Who may connect
at all is the socket's mode and group; no user can take every connection,
nor flood the log with refusals.

Everything here needs root (to create users and switch to them) and is
skipped otherwise.
"""
import grp
import json
import os
import pwd
import re
import resource
import stat
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from vmstated_harness import wait_for

SETPRIV = "/usr/bin/setpriv"
# A Python the test users may run: the system's, not one under root's home.
PYTHON = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3")
               if os.access(p, os.X_OK)), sys.executable)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path(SETPRIV).exists()
    or not Path("/usr/sbin/useradd").exists(),
    reason="needs root, and Linux's useradd(8) and setpriv(1), to create "
           "users and run vmstatedctl as them")

OPERATIONS = ("start", "stop", "restart", "kill", "failreset")


class Users:
    """The users and groups of this session: name -> (uid, gid)."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.vm_group = "vmst-grp-" + tag
        self.other_group = "vmst-other-" + tag
        self.names = {role: "vmst-%s-%s" % (role, tag)
                      for role in ("owner", "member", "pmember",
                                   "stranger")}
        self.created_groups, self.created_users = [], []

    def create(self):
        for g in (self.vm_group, self.other_group):
            run(["groupadd", g])
            self.created_groups.append(g)
        for role, name in self.names.items():
            primary = self.vm_group if role == "pmember" else \
                self.other_group
            cmd = ["useradd", "-M", "-N", "-d", "/nonexistent", "-s",
                   "/usr/sbin/nologin", "-g", primary]
            if role == "member":
                cmd += ["-G", self.vm_group]
            run(cmd + [name])
            self.created_users.append(name)

    def remove(self):
        errors = []
        for name in self.created_users:
            p = subprocess.run(["userdel", name], capture_output=True,
                               text=True)
            if p.returncode != 0:
                errors.append("userdel %s: %s" % (name, p.stderr))
        for g in self.created_groups:
            p = subprocess.run(["groupdel", g], capture_output=True,
                               text=True)
            if p.returncode != 0:
                errors.append("groupdel %s: %s" % (g, p.stderr))
        assert not errors, errors

    def __getitem__(self, role):
        return self.names[role]

    def uid(self, role):
        return pwd.getpwnam(self.names[role]).pw_uid

    def gid(self, role):
        return pwd.getpwnam(self.names[role]).pw_gid


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, "%s: %s" % (" ".join(cmd), p.stderr)


@pytest.fixture(scope="session")
def users():
    u = Users()
    try:
        u.create()
        yield u
    finally:
        u.remove()


def unreachable(path):
    """The first directory above path that others cannot traverse."""
    for parent in Path(path).resolve().parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return parent
    return None


@pytest.fixture
def d(vmstated, users):
    """The daemon, with every path a user needs reachable: the socket's
    directory is opened to others; the build directory must be already."""
    blocked = unreachable(vmstated.build / "vmstatedctl")
    if blocked is not None:
        pytest.skip("%s is not searchable by others (o+x), so the test "
                    "users cannot run vmstatedctl" % blocked)
    vmstated.short.chmod(0o755)
    blocked = unreachable(vmstated.sock)
    assert blocked is None, "%s is not searchable by others" % blocked
    return vmstated


def as_user(users, role, groups=None, gid=None):
    """The setpriv command line that runs a program as the user of `role`:
    its uid, primary group (or gid), and its supplementary groups from the
    group database (groups None), none (groups []), or the given gids."""
    cmd = [SETPRIV, "--reuid", users[role], "--regid",
           str(gid if gid is not None else users.gid(role))]
    if groups is None:
        return cmd + ["--init-groups"]
    if not groups:
        return cmd + ["--clear-groups"]
    return cmd + ["--groups", ",".join(str(g) for g in groups)]


def ctl_as(d, users, role, *args, timeout=120, groups=None):
    """vmstatedctl ARGS run as the user of `role` (see as_user);
    (status, stdout, stderr)."""
    p = subprocess.run(
        as_user(users, role, groups) + [str(d.build / "vmstatedctl"),
                                        "-s", str(d.sock), *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout, env=d.env)
    return p.returncode, p.stdout, p.stderr


def python_as(d, users, role, code, *args, timeout=120):
    """Run Python code as the user, with the socket as sys.argv[1] and
    args after it; its stdout (it must exit 0)."""
    p = subprocess.run(
        as_user(users, role) + [PYTHON, "-c", code,
                                str(d.sock), *map(str, args)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout, env=d.env)
    assert p.returncode == 0, p.stderr
    return p.stdout


def setup_vms(d, users, **conf):
    """own: owned by owner; ownfail: owned by owner, fails to start;
    team: group vm_group; teamfail: same, fails; roots: no owner."""
    d.conf_settings.update(conf)
    d.add_vm("own", {"owner": users["owner"]}, record_hooks=True)
    d.add_vm("ownfail", {"owner": users["owner"]},
             hooks={"start_network": "exit 1"})
    d.add_vm("team", {"group": users.vm_group}, record_hooks=True)
    d.add_vm("teamfail", {"group": users.vm_group},
             hooks={"start_network": "exit 1"})
    d.add_vm("roots", record_hooks=True)
    d.start()


def do_everything(d, users, role, vm, failvm):
    """As `role`: start, restart, kill, start, stop vm; start failvm until
    it fails, then failreset it.  Every step must succeed."""
    def ok(*args):
        rc, out, err = ctl_as(d, users, role, *args)
        assert rc == 0, "%s as %s: %d\n%s%s" % (args, role, rc, out, err)
        return out
    assert ok("-w", "start", vm).splitlines()[-1] == vm + ": running"
    assert ok("-w", "restart", vm).splitlines()[-1] == vm + ": running"
    assert ok("-w", "kill", vm).splitlines()[-1] == vm + ": stopped (kill)"
    ok("-w", "start", vm)
    assert ok("-w", "stop", vm).splitlines()[-1] == vm + ": stopped"
    rc, _, _ = ctl_as(d, users, role, "-w", "start", failvm)
    assert rc == 1
    assert d.state(failvm) == "failed"
    assert ok("failreset", failvm) == failvm + ": reset (state stopped)\n"
    assert d.state(failvm) == "stopped"


def denied(d, users, role, op, vm):
    """As `role`, `op` on vm must be refused with permission denied,
    naming the uid, the operation and the VM, and logged with the uid."""
    before = d.state(vm)
    rc, out, err = ctl_as(d, users, role, op, vm)
    uid = users.uid(role)
    assert rc == 1 and out == "", (rc, out, err)
    assert err == ("vmstatedctl: permission denied: uid %d may not %s %s "
                   "(only root, its owner and members of its group may)\n"
                   % (uid, op, vm)), err
    wait_for(lambda: "permission denied: uid %d tried to %s %s"
             % (uid, op, vm) in d.stderr(),
             what="the daemon to log the refusal", details=d.stderr)
    assert d.state(vm) == before


# --- owners -----------------------------------------------------------------

def test_the_owner_may_start_stop_restart_kill_and_failreset_its_vm(
        d, users):
    setup_vms(d, users)
    do_everything(d, users, "owner", "own", "ownfail")
    # The VM log says who asked.
    assert re.search(r"own: stopped -> start_network \(reason request, by "
                     r"uid %d\)" % users.uid("owner"), d.log("own"))


@pytest.mark.parametrize("op", OPERATIONS)
def test_the_owner_may_not_touch_another_vm(d, users, op):
    setup_vms(d, users)
    if op in ("stop", "restart", "kill"):
        d.ctl("-w", "start", "roots", check=0)
    denied(d, users, "owner", op, "roots")
    denied(d, users, "owner", op, "team")


# --- groups -----------------------------------------------------------------

def test_a_member_of_the_vm_group_by_a_supplementary_group_may(d, users):
    setup_vms(d, users)
    assert users.gid("member") != grp.getgrnam(users.vm_group).gr_gid
    do_everything(d, users, "member", "team", "teamfail")


def test_a_member_of_the_vm_group_by_its_primary_group_may(d, users):
    setup_vms(d, users)
    do_everything(d, users, "pmember", "team", "teamfail")


@pytest.mark.parametrize("op", OPERATIONS)
def test_a_group_member_may_not_touch_a_vm_of_another_owner(d, users, op):
    setup_vms(d, users)
    denied(d, users, "member", op, "own")
    denied(d, users, "pmember", op, "roots")


# --- strangers --------------------------------------------------------------

@pytest.mark.parametrize("op", OPERATIONS)
def test_a_stranger_is_refused_naming_vm_and_operation(d, users, op):
    setup_vms(d, users)
    if op in ("stop", "restart", "kill"):
        d.ctl("-w", "start", "own", check=0)
        d.ctl("-w", "start", "team", check=0)
    if op == "failreset":
        d.ctl("-w", "start", "ownfail")
        d.wait_state("ownfail", "failed")
        denied(d, users, "stranger", op, "ownfail")
    denied(d, users, "stranger", op, "own")
    denied(d, users, "stranger", op, "team")
    denied(d, users, "stranger", op, "roots")


def test_one_refused_vm_does_not_stop_the_others_of_a_request(d, users):
    setup_vms(d, users)
    rc, out, err = ctl_as(d, users, "owner", "start", "own", "roots")
    assert rc == 1
    assert out == "own: starting (state start_network)\n"
    assert "permission denied: uid %d may not start roots" \
        % users.uid("owner") in err
    d.wait_state("own", "running")
    assert d.state("roots") == "stopped"


def test_the_identity_comes_from_the_kernel_not_the_request(d, users):
    setup_vms(d, users)
    reply = python_as(d, users, "stranger", """if True:
        import json, socket, sys
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[1])
        s.sendall(json.dumps({"command": "start", "vms": ["roots"],
                              "uid": 0, "gid": 0, "user": "root",
                              "peer": {"uid": 0}}).encode() + b"\\n")
        print(s.makefile().readline(), end="")
        """)
    [result] = json.loads(reply)["results"]
    assert result["ok"] is False
    assert result["error"].startswith(
        "permission denied: uid %d may not start roots"
        % users.uid("stranger"))
    assert d.state("roots") == "stopped"


def test_one_user_cannot_take_every_connection(d, users):
    # 64 connections per user other than root: the 65th is closed at
    # once, and others (root here) still get in.
    setup_vms(d, users)
    out = python_as(d, users, "stranger", """if True:
        import json, socket, sys
        held, answered = [], 0
        for i in range(64):
            s = socket.socket(socket.AF_UNIX)
            s.connect(sys.argv[1])
            held.append(s)
        for s in held[:1]:
            s.sendall(b'{"command": "status"}\\n')
            answered += bool(s.makefile().readline())
        extra = socket.socket(socket.AF_UNIX)
        extra.settimeout(60)
        extra.connect(sys.argv[1])
        try:
            extra.sendall(b'{"command": "status"}\\n')
            line = extra.makefile().readline()
        except OSError:     # closed at once: EPIPE or ECONNRESET
            line = ""
        print(json.dumps({"answered": answered, "extra": line}))
        """)
    result = json.loads(out)
    # Told why, unless the connection was gone before the request.
    assert result["answered"] == 1
    assert result["extra"] in ("", json.dumps({
        "ok": False, "error": "uid %d has 64 connections to vmstated, the "
        "most one user may have; close some" % users.uid("stranger")},
        separators=(",", ":")) + "\n"), result
    assert "uid %d has 64 connections" % users.uid("stranger") in \
        d.stderr()
    rc, _, _ = d.ctl("status")
    assert rc == 0


# --- the client's groups are those its process holds -----------------------

def test_a_group_the_process_has_dropped_does_not_count(d, users):
    # member is in the VM group in the group database, but this process
    # of member's holds no supplementary group: the kernel says so.
    setup_vms(d, users)
    rc, out, err = ctl_as(d, users, "member", "start", "team", groups=[])
    assert rc == 1 and "permission denied: uid %d may not start team" \
        % users.uid("member") in err, (rc, out, err)
    assert d.state("team") == "stopped"


def test_a_group_the_process_holds_counts_whatever_the_database_says(
        d, users):
    # stranger is in no group of the database, but this process holds the
    # VM group (root gave it, as newgrp(1) or a setgid program may).
    setup_vms(d, users)
    vm_gid = grp.getgrnam(users.vm_group).gr_gid
    rc, out, err = ctl_as(d, users, "stranger", "-w", "start", "team",
                          groups=[vm_gid])
    assert rc == 0, err
    denied(d, users, "stranger", "stop", "team")


def gpasswd(*args):
    run(["gpasswd", *args])


def test_a_user_removed_from_the_group_is_refused_on_a_new_login(d, users):
    setup_vms(d, users)
    # A process of member started before the removal, waiting to connect.
    before = subprocess.Popen(
        as_user(users, "member") + [PYTHON, "-c", """if True:
        import json, socket, sys
        print("ready", flush=True)
        sys.stdin.readline()
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[1])
        s.sendall(b'{"command": "start", "vms": ["team"]}\\n')
        print(s.makefile().readline(), end="")
        """, str(d.sock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=d.env)
    try:
        assert before.stdout.readline() == "ready\n", before.stderr.read()
        gpasswd("-d", users["member"], users.vm_group)
        try:
            # A new login of member no longer holds the group.
            rc, out, err = ctl_as(d, users, "member", "start", "team")
            assert rc == 1 and "permission denied" in err, (rc, out, err)
            assert d.state("team") == "stopped"
            # The process that still holds it still has the group's
            # rights, here as for the group's files, until it ends.
            out, err = before.communicate("go\n", timeout=60)
            assert before.returncode == 0, err
            [result] = json.loads(out)["results"]
            assert result["ok"] is True, result
        finally:
            gpasswd("-a", users["member"], users.vm_group)
    finally:
        if before.poll() is None:
            before.kill()
            before.communicate()
    d.wait_state("team", "running")


# --- owner and group follow a reload at once --------------------------------

def test_a_reload_that_changes_the_owner_of_a_running_vm_applies_at_once(
        d, users):
    setup_vms(d, users)
    assert ctl_as(d, users, "owner", "-w", "start", "own")[0] == 0
    # The new owner; the VM keeps running on its old configuration.
    d.add_vm("own", {"owner": users["stranger"]}, record_hooks=True)
    assert d.ctl("reload")[:2] == (
        0, "changed: own\n"
        "  in force at their next start (owner and group already "
        "are): own\n")
    assert d.status("own")["pending"] is True
    for op in ("stop", "restart", "kill"):
        denied(d, users, "owner", op, "own")
    assert d.state("own") == "running"
    assert d.status("own")["owner"] == users["stranger"]
    rc, out, err = ctl_as(d, users, "stranger", "-w", "restart", "own")
    assert rc == 0, err
    assert d.status("own")["pending"] is False
    rc, out, err = ctl_as(d, users, "stranger", "-w", "kill", "own")
    assert rc == 0, err


def test_a_reload_that_changes_the_group_of_a_running_vm_applies_at_once(
        d, users):
    setup_vms(d, users)
    assert ctl_as(d, users, "member", "-w", "start", "team")[0] == 0
    d.add_vm("team", {"group": users.other_group}, record_hooks=True)
    assert d.ctl("reload")[:2] == (
        0, "changed: team\n"
        "  in force at their next start (owner and group already "
        "are): team\n")
    denied(d, users, "pmember", "stop", "team")
    # Everyone but pmember has other_group as primary group.
    rc, out, err = ctl_as(d, users, "stranger", "-w", "stop", "team")
    assert rc == 0, err


def test_a_reload_that_gives_a_running_vm_an_owner_opens_the_socket(
        d, users):
    d.add_vm("vm1")
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    assert socket_mode_and_group(d)[0] == 0o660
    d.add_vm("vm1", {"owner": users["owner"]})
    assert d.ctl("reload")[:2] == (
        0, "changed: vm1\n"
        "  in force at their next start (owner and group already "
        "are): vm1\n")
    assert socket_mode_and_group(d)[0] == 0o666
    rc, out, err = ctl_as(d, users, "owner", "-w", "stop", "vm1")
    assert rc == 0, err


# --- status is for everyone, details and events for those who operate -----

@pytest.mark.parametrize("role", ["owner", "member", "stranger"])
def test_everyone_may_read_status(d, users, role):
    setup_vms(d, users)
    d.ctl("-w", "start", "own", check=0)
    rc, out, err = ctl_as(d, users, role, "-j", "status")
    assert rc == 0, err
    vms = {v["name"]: v for v in json.loads(out)["vms"]}
    assert sorted(vms) == ["own", "ownfail", "roots", "team", "teamfail"]
    assert vms["own"]["state"] == "running"
    assert vms["own"]["owner"] == users["owner"]
    assert vms["team"]["group"] == users.vm_group


def info_denied(d, users, role, vm):
    rc, out, err = ctl_as(d, users, role, "info", vm)
    uid = users.uid(role)
    assert rc == 1 and out == "", (rc, out, err)
    assert err == ("vmstatedctl: permission denied: uid %d may not see the "
                   "details of %s (only root, its owner and members of its "
                   "group may); 'vmstatedctl status' shows its state\n"
                   % (uid, vm)), err
    wait_for(lambda: "permission denied: uid %d tried to see the details "
             "of %s" % (uid, vm) in d.stderr(),
             what="the daemon to log the refusal", details=d.stderr)


def test_info_is_for_root_the_owner_and_the_group(d, users):
    # info shows append, qemu_args and paths, where secrets often are.
    d.add_vm("own", {"owner": users["owner"], "description": "mine"})
    d.add_vm("team", {"group": users.vm_group})
    d.add_vm("roots")
    d.start()
    allowed = {"owner": ["own"], "member": ["team"], "pmember": ["team"],
               "stranger": []}
    for role, vms in allowed.items():
        for vm in ("own", "team", "roots"):
            if vm not in vms:
                info_denied(d, users, role, vm)
                continue
            rc, out, err = ctl_as(d, users, role, "-j", "info", vm)
            assert rc == 0, err
            info = json.loads(out)["vm"]
            assert info["name"] == vm and "config" in info
            assert info["paths"]["dir"] == str(d.vm_dir(vm))
    for vm in ("own", "team", "roots"):
        assert d.ctl("-j", "info", vm, check=0)
    # status still shows anyone what it shows.
    rc, out, err = ctl_as(d, users, "stranger", "-j", "status", "own")
    assert rc == 0, err
    [vm] = json.loads(out)["vms"]
    assert (vm["name"], vm["owner"], vm["description"]) == (
        "own", users["owner"], "mine")


def events_as(d, users, role, stream_opener):
    return stream_opener(as_user(users, role) + [
        str(d.build / "vmstatedctl"), "-s", str(d.sock), "-j", "events"])


@pytest.fixture
def user_stream(d):
    """user_stream(argv) runs argv in the background, its stdout lines
    gathered in .lines by a thread; all are ended at teardown."""
    procs = []

    class Stream:
        def __init__(self, argv):
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, env=d.env)
            self.lines = []
            self.reader = threading.Thread(target=self._read, daemon=True)
            self.reader.start()
            procs.append(self)

        def _read(self):
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))

        def events(self):
            return [json.loads(l) for l in self.lines[1:]]

    yield Stream
    for st in procs:
        if st.proc.poll() is None:
            st.proc.terminate()
        st.proc.wait(60)
        st.reader.join(60)
        st.proc.stdout.close()
        st.proc.stderr.close()


def test_events_go_only_to_those_who_may_operate_the_vm(d, users,
                                                        user_stream):
    d.add_vm("own", {"owner": users["owner"]})
    d.add_vm("team", {"group": users.vm_group})
    d.add_vm("roots")
    # The primary group of owner, member and stranger.
    d.add_vm("last", {"group": users.other_group})
    d.start()
    streams = {role: events_as(d, users, role, user_stream)
               for role in ("owner", "member", "stranger")}
    streams["root"] = user_stream([str(d.build / "vmstatedctl"), "-s",
                                   str(d.sock), "-j", "events"])
    for st in streams.values():
        wait_for(lambda: st.lines, what="the events reply")
        assert json.loads(st.lines[0])["ok"] is True
    for vm in ("own", "team", "roots", "last"):
        d.ctl("-w", "start", vm, check=0)
    # Every stream may see "last", started last: once each has its
    # running, it would have had the others' events before it.
    for role, st in streams.items():
        wait_for(lambda: any(e["vm"] == "last" and e["to"] == "running"
                             for e in st.events()),
                 what="the start of last in the events of %s" % role,
                 details=lambda: repr(st.lines))
    seen = {role: sorted({e["vm"] for e in st.events()})
            for role, st in streams.items()}
    assert seen == {"root": ["last", "own", "roots", "team"],
                    "owner": ["last", "own"], "member": ["last", "team"],
                    "stranger": ["last"]}
    assert [e["to"] for e in streams["owner"].events()
            if e["vm"] == "own"] == ["start_network", "start_storage",
                                     "running"]


def test_probe_events_go_only_to_those_who_may_operate_the_vm(
        d, users, user_stream):
    own = d.add_vm("own", {"owner": users["owner"], "probe_interval": 300})
    last = d.add_vm("last", {"group": users.other_group,
                             "probe_interval": 300})
    d.write_hook(own, "probe", "exit 0")
    d.write_hook(last, "probe", "exit 0")
    d.start()
    stranger = events_as(d, users, "stranger", user_stream)
    wait_for(lambda: stranger.lines, what="the events reply")
    d.ctl("-w", "start", "own", check=0)
    d.wait_log("own", "probe passed")
    d.ctl("-w", "start", "last", check=0)
    wait_for(lambda: any(e.get("event") == "probe" and e["vm"] == "last"
                         for e in stranger.events()),
             what="the probe of last in the stranger's events",
             details=lambda: repr(stranger.lines))
    assert {e["vm"] for e in stranger.events()} == {"last"}


# --- reload is root's -------------------------------------------------------

@pytest.mark.parametrize("role", ["owner", "member", "stranger"])
def test_reload_is_for_root_only(d, users, role):
    setup_vms(d, users)
    d.add_vm("extra")
    uid = users.uid(role)
    rc, out, err = ctl_as(d, users, role, "reload")
    assert rc == 1 and out == ""
    assert err == ("vmstatedctl: permission denied: uid %d may not reload "
                   "(only root may)\n" % uid)
    wait_for(lambda: "permission denied: uid %d tried to reload" % uid
             in d.stderr(), what="the refusal in the daemon's log")
    assert "extra" not in [v["name"] for v in d.status()]
    assert d.ctl("reload") == (0, "added: extra\n", "")


# --- the socket -------------------------------------------------------------

def socket_mode_and_group(d):
    st = os.stat(d.sock)
    return stat.S_IMODE(st.st_mode), st.st_gid


def test_socket_mode_and_group_from_vmstated_conf(d, users):
    setup_vms(d, users, socket_mode="0660", socket_group=users.vm_group)
    assert socket_mode_and_group(d) == (
        0o660, grp.getgrnam(users.vm_group).gr_gid)
    # Members of the socket's group get in, by either kind of membership.
    for role in ("member", "pmember"):
        rc, out, err = ctl_as(d, users, role, "status", "team")
        assert rc == 0, err
    rc, _, err = ctl_as(d, users, "member", "-w", "start", "team")
    assert rc == 0, err
    # Others, the owner of a VM included, cannot connect at all.
    for role in ("stranger", "owner"):
        rc, out, err = ctl_as(d, users, role, "status")
        assert rc == 3 and out == ""
        assert "%s: Permission denied" % d.sock in err, err
        assert "the socket's mode or group does not let you in" in err


def test_the_default_socket_mode_lets_an_owner_connect(d, users):
    setup_vms(d, users)
    assert socket_mode_and_group(d)[0] == 0o666
    rc, out, err = ctl_as(d, users, "owner", "-w", "start", "own")
    assert rc == 0, err
    rc, out, err = ctl_as(d, users, "stranger", "status")
    assert rc == 0, err


def test_the_default_socket_mode_lets_a_group_connect(d, users):
    d.add_vm("team", {"group": users.vm_group})
    d.start()
    assert socket_mode_and_group(d)[0] == 0o666
    rc, _, err = ctl_as(d, users, "member", "-w", "start", "team")
    assert rc == 0, err


def test_without_owners_or_groups_the_socket_is_0660(d, users):
    d.add_vm("roots")
    d.start()
    assert socket_mode_and_group(d) == (0o660, os.getegid())
    rc, out, err = ctl_as(d, users, "stranger", "status")
    assert rc == 3 and "Permission denied" in err


def test_socket_mode_in_vmstated_conf_wins_over_the_default(d, users):
    setup_vms(d, users, socket_mode="0600")
    assert socket_mode_and_group(d)[0] == 0o600
    rc, _, err = ctl_as(d, users, "owner", "start", "own")
    assert rc == 3 and "Permission denied" in err
    assert d.state("own") == "stopped"


def test_the_socket_file_is_owned_by_the_daemons_user(d, users):
    setup_vms(d, users)
    assert os.stat(d.sock).st_uid == os.geteuid()


def test_hooks_run_as_the_daemons_user_whoever_asked(d, users):
    # A VM's owner starts it, but its hooks are the administrator's and
    # run as the daemon's user (root here), not as the owner.
    setup_vms(d, users)
    who = d.root / "whoami.txt"
    d.write_hook(d.vm_dir("own"), "start_storage", "id -u >> %s" % who,
                 d.recording_line())
    rc, _, err = ctl_as(d, users, "owner", "-w", "start", "own")
    assert rc == 0, err
    assert who.read_text().split() == [str(os.geteuid())]



# --- nobody can take the socket from root -----------------------------------

HOLD = """if True:
    import json, socket, sys
    held, answered, errors = [], 0, []
    for i in range(int(sys.argv[2])):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(60)
        s.connect(sys.argv[1])
        held.append(s)
        try:
            s.sendall(b'{"command": "status"}\\n')
        except OSError:     # closed already: what it said can be read
            pass
        try:
            line = s.makefile().readline()
        except OSError:     # closed at once: ECONNRESET
            line = ""
        if line.startswith('{"ok":true'):
            answered += 1
        else:
            errors.append(line and json.loads(line)["error"])
    print(json.dumps([answered, errors]), flush=True)
    sys.stdin.readline()
"""


def hold_connections(d, users, role, count):
    """A process of `role` holding `count` connections, each of which
    asked for status.  It prints [answered, [error, ...]] (an error is ""
    for a connection closed without a word), then waits for release()."""
    p = subprocess.Popen(
        as_user(users, role) + [PYTHON, "-c", HOLD,
                                str(d.sock), str(count)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=d.env)
    return p


def release(procs):
    for p in procs:
        if p.poll() is None:
            try:
                p.stdin.write("\n")
                p.stdin.flush()
            except OSError:
                pass
        try:
            p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()


@pytest.fixture
def crowd(users):
    """Sixteen more users, in the other group; removed at the end."""
    names = ["%s-%02d" % (users["stranger"], i) for i in range(16)]
    made = []
    try:
        for name in names:
            run(["useradd", "-M", "-N", "-d", "/nonexistent", "-s",
                 "/usr/sbin/nologin", "-g", users.other_group, name])
            made.append(name)
            users.names[name] = name
        yield names
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True)
            users.names.pop(name, None)


def test_sixteen_users_with_64_connections_each_leave_root_a_way_in(
        d, users, crowd):
    setup_vms(d, users)
    procs = [hold_connections(d, users, name, 64) for name in crowd]
    try:
        results = [json.loads(p.stdout.readline()) for p in procs]
        # 1024 connections in all, the last 64 kept for root.
        assert sum(r[0] for r in results) == 1024 - 64, results
        assert {e for r in results for e in r[1]} <= {
            "", "vmstated serves 960 connections, its most; try again "
            "later"}, results
        assert "the last 64 connections are kept for root" in d.stderr()
        rc, out, err = d.ctl("-w", "start", "roots")
        assert rc == 0, err
        assert d.request({"command": "status"})["ok"] is True
    finally:
        release(procs)


def test_refusals_are_logged_at_a_bounded_rate(d, users):
    # One user sending refused requests in a loop: a few lines, then a
    # count of those left out, not one line per refusal.
    setup_vms(d, users)
    n = 2000
    out = python_as(d, users, "stranger", """if True:
        import json, socket, sys
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[1])
        f = s.makefile()
        n = int(sys.argv[2])
        s.sendall(b'{"command": "kill", "vms": ["roots"]}\\n' * n)
        print(sum('permission denied' in f.readline() for _ in range(n)))
        """, n)
    assert int(out) == n
    uid = users.uid("stranger")
    line = "permission denied: uid %d tried to kill roots" % uid
    summary = re.compile(r"(\d+) more refusals in the last 5 s were not "
                         r"logged; the last: " + re.escape(line))

    def accounted():
        log = d.stderr()
        logged = sum(l.endswith(line) and "more refusals" not in l
                     for l in log.splitlines())
        left_out = sum(int(m) for m in summary.findall(log))
        return logged + left_out == n and (logged, left_out)
    logged, left_out = wait_for(accounted, what="the count of the refusals "
                                "that were not logged", details=d.stderr)
    assert logged <= 20, d.stderr()


@pytest.mark.skipif(not hasattr(resource, "prlimit"),
                    reason="needs prlimit(2)")
def test_out_of_descriptors_root_is_served_and_others_told(d, users):
    setup_vms(d, users)
    free = 8
    fds = len(os.listdir("/proc/%d/fd" % d.proc.pid))
    resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE,
                     (fds + free, fds + free))
    p = hold_connections(d, users, "stranger", 20)
    try:
        answered, errors = json.loads(p.stdout.readline())
        # The others were told why, then closed.
        assert 0 < answered < 20 and errors == [
            "vmstated is out of file descriptors; try again later"] * (
            20 - answered), (answered, errors)
        # (Nothing else works without descriptors: hooks cannot start.)
        rc, out, err = d.ctl("status", "roots")
        assert rc == 0 and out.startswith("NAME"), err
        assert hold_connections(d, users, "owner", 1).communicate(
            "\n", timeout=60)[0] == json.dumps([0, [
                "vmstated is out of file descriptors; try again later"]]) \
            + "\n"
    finally:
        release([p])
    assert d.stderr().count("control: out of file descriptors") == 1
    wait_for(lambda: ctl_as(d, users, "owner", "status")[0] == 0,
             what="the daemon to serve everyone again",
             details=d.stderr)


# --- console, log, reopen ----------------------------------------------------

def console_vms(d, users):
    lpc = "pci.0.31.0.device=lpc\n"
    d.add_vm("own", {"owner": users["owner"]}, bhyve_config=lpc,
             standin={"console_echo": "yes", "console": "own here"})
    d.add_vm("team", {"group": users.vm_group}, bhyve_config=lpc,
             standin={"console_echo": "yes"})
    d.start()
    d.ctl("-w", "start", "own", check=0)
    d.ctl("-w", "start", "team", check=0)


def test_the_owner_and_group_may_attach_to_the_console(d, users):
    from vmstated_harness import ConsoleClient
    console_vms(d, users)
    for role, vm in (("owner", "own"), ("member", "team")):
        c = ConsoleClient(d, vm, prefix=as_user(users, role))
        try:
            c.wait_output("read-write")
            c.type("hello from %s\r" % role)
            c.wait_output("standin: got hello from %s" % role)
            c.type("~.")
            assert c.wait_exit() == 0
        finally:
            c.close()
    assert "console attached for uid %d" % users.uid("owner") in d.stderr()


def test_others_may_not_attach_to_the_console(d, users):
    console_vms(d, users)
    for role, vm in (("stranger", "own"), ("owner", "team"),
                     ("member", "own")):
        rc, out, err = ctl_as(d, users, role, "console", vm)
        uid = users.uid(role)
        assert rc == 1 and out == "", (rc, out, err)
        assert err == ("vmstatedctl: permission denied: uid %d may not "
                       "attach to the console of %s (only root, its owner "
                       "and members of its group may)\n" % (uid, vm)), err
        wait_for(lambda: "permission denied: uid %d tried to attach to the "
                 "console of %s" % (uid, vm) in d.stderr(),
                 what="the refusal in the daemon's log", details=d.stderr)


def test_a_vms_log_is_for_those_who_may_see_its_info(d, users):
    console_vms(d, users)
    d.wait_log("own", "own here")
    # Without vmstatedctl log the owner could not read it at all.
    d.logdir.chmod(0o700)
    rc, out, err = ctl_as(d, users, "owner", "log", "own")
    assert rc == 0, err
    assert "console: own here" in out
    assert out == d.log("own")[:len(out)]
    # What the guest printed is not for others.
    for role in ("stranger", "member"):
        rc, out, err = ctl_as(d, users, role, "log", "own")
        assert rc == 1 and out == ""
        assert ("permission denied: uid %d may not read the log of own"
                % users.uid(role)) in err


def test_only_root_may_reopen_the_logs(d, users):
    console_vms(d, users)
    rc, out, err = ctl_as(d, users, "owner", "reopen")
    assert rc == 1
    assert ("permission denied: uid %d may not reopen (only root may)"
            % users.uid("owner")) in err
    d.ctl("reopen", check=0)
