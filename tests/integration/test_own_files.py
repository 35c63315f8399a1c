"""The daemon's own files and directories (vmstated(8) SECURITY): no
symbolic link or file planted where root writes makes it write elsewhere.

The pidfile is opened without following links, and refused when it is not
a plain file of root's; the log and run directories must be root's alone,
or the daemon does not start; the control socket appears with its mode
and group from the first moment, and a reload never changes the mode of
whatever was put in its place.
"""
import ctypes
import os
import pwd
import signal
import socket
import stat
import struct
import sys

import pytest

from vmstated_harness import wait_for


def refused(d, *words):
    """The daemon must exit 1 at start-up, saying all the words."""
    d.start(wait=False)
    assert d.proc.wait(60) == 1
    for w in words:
        assert w in d.stderr(), d.stderr()
    assert not d.sock.exists()


def nobody():
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("no user nobody")


needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root to give files away")


# ---- the pidfile ------------------------------------------------------------

def test_a_link_planted_at_the_pidfile_is_not_followed(vmstated, tmp_path):
    d = vmstated
    target = tmp_path / "precious"
    target.write_text("precious\n")
    d.pidfile.symlink_to(target)
    refused(d, "pidfile %s is a symbolic link" % d.pidfile, "remove it")
    assert target.read_text() == "precious\n"


def test_a_dangling_link_at_the_pidfile_creates_nothing(vmstated,
                                                         tmp_path):
    d = vmstated
    target = tmp_path / "created-by-root"
    d.pidfile.symlink_to(target)
    refused(d, "pidfile %s is a symbolic link" % d.pidfile)
    assert not os.path.lexists(target)


def test_a_hard_link_at_the_pidfile_is_refused(vmstated, tmp_path):
    d = vmstated
    target = tmp_path / "precious"
    target.write_text("precious\n")
    os.link(target, d.pidfile)
    refused(d, "pidfile %s has more than one hard link" % d.pidfile)
    assert target.read_text() == "precious\n"


@needs_root
def test_a_pidfile_of_another_user_is_refused(vmstated):
    d = vmstated
    d.pidfile.write_text("1\n")
    os.chown(d.pidfile, nobody(), -1)
    refused(d, "pidfile %s belongs to another user (owner uid %d"
            % (d.pidfile, nobody()))


# ---- the log and run directories ---------------------------------------------

@pytest.mark.parametrize("mode, words", [
    (0o777, "writable by group and others (owner uid %d, mode 0777)"),
    (0o775, "writable by group (owner uid %d, mode 0775)"),
], ids=["0777", "0775"])
def test_a_logdir_others_may_write_keeps_the_daemon_from_starting(
        vmstated, mode, words):
    d = vmstated
    d.logdir.chmod(mode)
    refused(d, "logdir %s is not trusted: it is %s" % (
        d.logdir, words % os.geteuid()), "run chmod go-w %s" % d.logdir)


@needs_root
def test_a_logdir_of_another_user_keeps_the_daemon_from_starting(vmstated):
    d = vmstated
    os.chown(d.logdir, nobody(), -1)
    refused(d, "logdir %s is not trusted: it is owned by uid %d"
            % (d.logdir, nobody()), "run chown root %s" % d.logdir)


def test_a_rundir_others_may_write_keeps_the_daemon_from_starting(
        vmstated):
    d = vmstated
    d.rundir.mkdir()
    d.rundir.chmod(0o1777)          # sticky is not enough for the rundir
    refused(d, "rundir %s is not trusted: it is writable by group and "
            "others" % d.rundir)


def test_a_rundir_below_a_directory_others_may_write_is_refused(vmstated):
    d = vmstated
    d.short.chmod(0o777)
    refused(d, "rundir %s is not trusted: the directory %s above it is "
            "writable by group and others" % (d.rundir, d.short))


# ---- the control socket ---------------------------------------------------

IN_CREATE = 0x100
IN_MOVED_TO = 0x80


def watch_directory(path):
    """An inotify descriptor watching entries created in path."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    assert fd >= 0
    assert libc.inotify_add_watch(fd, str(path).encode(),
                                  IN_CREATE | IN_MOVED_TO) >= 0
    return fd


def entries_seen(fd):
    """[(mask, name)] of what the watch saw so far."""
    out = []
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return out
    i = 0
    while i < len(data):
        _, mask, _, length = struct.unpack_from("iIII", data, i)
        name = data[i + 16:i + 16 + length].rstrip(b"\0").decode()
        out.append((mask & (IN_CREATE | IN_MOVED_TO), name))
        i += 16 + length
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="watches the directory with inotify(7)")
def test_the_socket_appears_with_its_mode_and_group_already_set(vmstated):
    # Bound in place and chmod-ed afterwards, the socket would be there
    # with the umask's mode for a moment, and anyone could connect.  It is
    # bound in a private directory and renamed into place instead: its
    # name never appears by creation, only by a rename.
    d = vmstated
    d.conf_settings["socket_mode"] = "0600"
    fd = watch_directory(d.short)
    try:
        d.start()
        seen = entries_seen(fd)
    finally:
        os.close(fd)
    assert (IN_MOVED_TO, d.sock.name) in seen, seen
    assert (IN_CREATE, d.sock.name) not in seen, seen
    assert stat.S_IMODE(os.stat(d.sock).st_mode) == 0o600
    # The private directory is gone.
    assert sorted(p.name for p in d.short.iterdir()
                  if p.name.startswith(".vmstated-")) == []


def test_reload_does_not_change_the_mode_of_a_link_put_at_the_socket(
        vmstated, tmp_path):
    d = vmstated
    d.conf_settings["socket_mode"] = "0600"
    d.start()
    target = tmp_path / "precious"
    target.write_text("precious\n")
    target.chmod(0o600)
    d.sock.unlink()
    d.sock.symlink_to(target)
    d.conf_settings["socket_mode"] = "0666"
    d.write_conf()
    d.signal(signal.SIGHUP)
    wait_for(lambda: "is no longer the daemon's socket" in d.stderr(),
             what="the daemon to notice", details=d.stderr)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert d.running()


def test_reload_changes_the_mode_of_the_daemons_own_socket(vmstated):
    d = vmstated
    d.conf_settings["socket_mode"] = "0600"
    d.start()
    d.conf_settings["socket_mode"] = "0660"
    d.write_conf()
    d.ctl("reload", check=0)
    assert stat.S_IMODE(os.lstat(d.sock).st_mode) == 0o660


def test_a_socket_in_a_directory_others_may_write_is_refused(vmstated):
    d = vmstated
    shared = d.short / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    d.sock = shared / "vmstated.sock"
    refused(d, "the directory %s of socket %s is not trusted: it is "
            "writable by group and others" % (shared, d.sock))


def test_a_socket_in_a_sticky_directory_is_fine(vmstated):
    # Like /tmp: others cannot remove or replace the socket root puts there.
    d = vmstated
    shared = d.short / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    d.sock = shared / "vmstated.sock"
    d.start()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.connect(str(d.sock))


@pytest.mark.parametrize("kind", ["fifo", "symlink", "hardlink", "dir",
                                  "oversized"])
def test_whatever_is_planted_at_a_state_file_refuses_only_that_start(
        vmstated, kind, tmp_path):
    """The state file of a VM (rundir/NAME.state) is written by root: what
    someone put there instead is neither followed nor written, the start
    is refused saying what to do, and the other VMs go on."""
    d = vmstated
    d.add_vm("vm1")
    d.add_vm("vm2")
    d.start()
    state = d.rundir / "vm1.state"
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    if kind == "fifo":
        os.mkfifo(state)
    elif kind == "symlink":
        state.symlink_to(victim)
    elif kind == "hardlink":
        os.link(victim, state)
    elif kind == "dir":
        state.mkdir()
    else:                       # larger than any state file a daemon writes
        with open(state, "wb") as f:
            f.truncate(2 * 1024 * 1024)
    rc, out, err = d.ctl("-w", "start", "vm1")
    assert rc != 0, (out, err)
    assert "cannot record its state in %s" % state in err, err
    assert "remove what is at that path" in err, err
    assert victim.read_text() == "precious\n"
    assert d.standin_starts("vm1") == []
    d.ctl("-w", "start", "vm2", check=0)
    assert d.state("vm2") == "running"
    assert d.proc.poll() is None
