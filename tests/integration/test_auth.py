"""Authorization: who may do what to which VM (vmstated(8) AUTHORIZATION).

The daemon runs as root; vmstatedctl runs as users this module creates
for the session (useradd/groupadd, removed at the end even after a
failure):

    owner     the `owner` of the VMs "own" and "ownfail"
    member    in the VM group through a supplementary group only
    pmember   in the VM group as its primary group
    stranger  neither

root may do everything; a VM's owner and the members of its group may
start, stop, restart, kill and failreset it; anyone who can connect may
read status, info and events; reload is root's.  The client's identity
comes from the kernel, whatever the request says.  Who may connect at all
is the socket's mode and group.

Everything here needs root (to create users and switch to them) and is
skipped otherwise.
"""
import grp
import json
import os
import pwd
import re
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


def ctl_as(d, users, role, *args, timeout=120):
    """vmstatedctl ARGS run as the user of `role` (its uid, primary group
    and supplementary groups); (status, stdout, stderr)."""
    p = subprocess.run(
        [SETPRIV, "--reuid", users[role], "--regid", str(users.gid(role)),
         "--init-groups", str(d.build / "vmstatedctl"), "-s", str(d.sock),
         *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout, env=d.env)
    return p.returncode, p.stdout, p.stderr


def python_as(d, users, role, code):
    """Run Python code as the user; its stdout (it must exit 0)."""
    p = subprocess.run(
        [SETPRIV, "--reuid", users[role], "--regid", str(users.gid(role)),
         "--init-groups", PYTHON, "-c", code, str(d.sock)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120, env=d.env)
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
    assert result == {"answered": 1, "extra": ""}
    assert "uid %d has 64 connections" % users.uid("stranger") in \
        d.stderr()
    rc, _, _ = d.ctl("status")
    assert rc == 0


# --- reading is for everyone ------------------------------------------------

@pytest.mark.parametrize("role", ["owner", "member", "stranger"])
def test_everyone_may_read_status_and_info(d, users, role):
    setup_vms(d, users)
    d.ctl("-w", "start", "own", check=0)
    rc, out, err = ctl_as(d, users, role, "-j", "status")
    assert rc == 0, err
    vms = {v["name"]: v for v in json.loads(out)["vms"]}
    assert sorted(vms) == ["own", "ownfail", "roots", "team", "teamfail"]
    assert vms["own"]["state"] == "running"
    assert vms["own"]["owner"] == users["owner"]
    assert vms["team"]["group"] == users.vm_group
    for vm in ("own", "team", "roots"):
        rc, out, err = ctl_as(d, users, role, "-j", "info", vm)
        assert rc == 0, err
        assert json.loads(out)["vm"]["name"] == vm


def test_everyone_may_follow_events(d, users):
    setup_vms(d, users)
    p = subprocess.Popen(
        [SETPRIV, "--reuid", users["stranger"], "--regid",
         str(users.gid("stranger")), "--init-groups",
         str(d.build / "vmstatedctl"), "-s", str(d.sock), "-j", "events"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=d.env)
    lines = []
    reader = threading.Thread(
        target=lambda: lines.extend(l.rstrip("\n") for l in p.stdout),
        daemon=True)
    reader.start()
    try:
        wait_for(lambda: lines, what="the events reply")
        assert json.loads(lines[0]) == {"ok": True}
        d.ctl("-w", "start", "roots", check=0)
        wait_for(lambda: any('"running"' in l for l in lines),
                 what="the start of roots in the stranger's events",
                 details=lambda: repr(lines))
        evs = [json.loads(l) for l in lines[1:]]
        assert [e["to"] for e in evs][:3] == ["start_network",
                                              "start_storage", "running"]
    finally:
        p.terminate()
        p.wait(60)
        reader.join(60)
        p.stdout.close()
        p.stderr.close()


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



# --- console, log, reopen ----------------------------------------------------

def as_user(users, role):
    """The setpriv words that run a program as the user of `role`."""
    return [SETPRIV, "--reuid", users[role], "--regid",
            str(users.gid(role)), "--init-groups"]


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


def test_anyone_who_can_connect_may_read_a_vms_log_like_info(d, users):
    console_vms(d, users)
    d.wait_log("own", "own here")
    # Without vmstatedctl log the stranger could not read it at all.
    d.logdir.chmod(0o700)
    rc, out, err = ctl_as(d, users, "stranger", "log", "own")
    assert rc == 0, err
    assert "console: own here" in out
    assert out == d.log("own")[:len(out)]


def test_only_root_may_reopen_the_logs(d, users):
    console_vms(d, users)
    rc, out, err = ctl_as(d, users, "owner", "reopen")
    assert rc == 1
    assert ("permission denied: uid %d may not reopen (only root may)"
            % users.uid("owner")) in err
    d.ctl("reopen", check=0)
