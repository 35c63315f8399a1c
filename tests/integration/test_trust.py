"""Only files that root alone can change are trusted (vmstated(8)
SECURITY): a hook, a VM's config and the files it names, vmstated.conf.

Whoever could change such a file, or a directory above it, could make
root run their code.  A real user and group of this session (created with
useradd/groupadd and removed at the end, as in test_auth.py) own the
files or may write them; the daemon runs as root.  Needs root.
"""
import grp
import os
import pwd
import subprocess
import uuid
from pathlib import Path

import pytest

from vmstated_harness import program, wait_for

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/sbin/useradd").exists(),
    reason="needs root and useradd(8) to give files to another user")


class Stranger:
    """A user and a group of their own: who must not be trusted."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.name = "vmst-trust-" + tag
        self.group = "vmst-tgrp-" + tag

    def create(self):
        run(["groupadd", self.group])
        try:
            run(["useradd", "-M", "-N", "-d", "/nonexistent", "-s",
                 "/usr/sbin/nologin", "-g", self.group, self.name])
        except AssertionError:
            subprocess.run(["groupdel", self.group])
            raise

    def remove(self):
        subprocess.run(["userdel", self.name], capture_output=True)
        subprocess.run(["groupdel", self.group], capture_output=True)

    @property
    def uid(self):
        return pwd.getpwnam(self.name).pw_uid

    @property
    def gid(self):
        return grp.getgrnam(self.group).gr_gid


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, "%s: %s" % (" ".join(cmd), p.stderr)


@pytest.fixture(scope="module")
def stranger():
    s = Stranger()
    s.create()
    try:
        yield s
    finally:
        s.remove()


def give_to(path, stranger):
    os.chown(path, stranger.uid, -1, follow_symlinks=False)


def open_to_group(path, stranger):
    """Group-writable by the stranger's group, owner root."""
    os.chown(path, 0, stranger.gid)
    os.chmod(path, os.stat(path).st_mode & 0o7777 | 0o020)


def marker_hook(d, vmdir):
    """A start_network hook that leaves a file behind if it ever runs."""
    marker = d.root / ("ran-" + vmdir.name)
    return d.write_hook(vmdir, "start_network",
                        "touch %s\nexit 0" % marker), marker


def start_refused(d, vm):
    """Start vm: its hook is refused, so the start fails; return the log."""
    rc, _, err = d.ctl("-w", "start", vm)
    assert rc == 1, err
    d.wait_state(vm, "failed")
    return d.log(vm)


# ---- hooks ----------------------------------------------------------------

def test_a_hook_owned_by_another_user_is_not_run(vmstated, stranger):
    d = vmstated
    vmdir = d.add_vm("vm1")
    hook, marker = marker_hook(d, vmdir)
    give_to(hook, stranger)
    d.start()
    log = start_refused(d, "vm1")
    assert not marker.exists()
    expected = ("hook %s not run: it is owned by uid %d (mode 0755); "
                "vmstated trusts a path only if nobody but root can change "
                "it or a directory above it: run chown root %s"
                % (hook, stranger.uid, hook))
    assert expected in log
    # syslog (stderr with -f) has it too.
    assert expected in d.stderr()


def test_a_group_writable_hook_is_not_run(vmstated, stranger):
    d = vmstated
    vmdir = d.add_vm("vm1")
    hook, marker = marker_hook(d, vmdir)
    open_to_group(hook, stranger)
    d.start()
    log = start_refused(d, "vm1")
    assert not marker.exists()
    assert ("hook %s not run: it is writable by group (owner uid 0, mode "
            "0775)" % hook) in log
    assert "run chmod go-w %s" % hook in log


def test_a_hook_in_a_group_writable_directory_is_not_run(vmstated,
                                                         stranger):
    d = vmstated
    vmdir = d.add_vm("vm1")
    hook, marker = marker_hook(d, vmdir)
    d.start()
    # The config was trusted when it was read; the directory is opened
    # to the group afterwards, and the hook is checked before each run.
    open_to_group(vmdir, stranger)
    log = start_refused(d, "vm1")
    assert not marker.exists()
    assert ("hook %s not run: the directory %s above it is writable by "
            "group (owner uid 0, mode 0775)" % (hook, vmdir)) in log


def test_a_hook_linked_to_a_file_of_another_user_is_not_run(vmstated,
                                                            stranger):
    d = vmstated
    vmdir = d.add_vm("vm1")
    theirs = d.root / "theirs"
    theirs.mkdir(mode=0o755)
    target, marker = marker_hook(d, theirs)
    give_to(theirs, stranger)
    (vmdir / "start_network").symlink_to(target)
    d.start()
    log = start_refused(d, "vm1")
    assert not marker.exists()
    assert ("the directory %s above it is owned by uid %d (mode 0755)"
            % (theirs, stranger.uid)) in log


def test_hooks_of_a_root_owned_0755_chain_run_through_links(vmstated):
    d = vmstated
    vmdir = d.add_vm("vm1", record_hooks=True)
    shared = d.root / "shared-hooks"
    shared.mkdir(mode=0o755)
    target, marker = marker_hook(d, shared)
    (vmdir / "start_network").unlink()
    (vmdir / "start_network").symlink_to(os.path.relpath(target, vmdir))
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    assert marker.exists()
    assert "not run" not in d.log("vm1")


# ---- configuration files ----------------------------------------------------

def check(d):
    """vmstated -n on the daemon's configuration: (status, stderr)."""
    d.write_conf()
    p = subprocess.run([str(program("vmstated")), "-n", "-c", str(d.conf)],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr


def test_a_config_owned_by_another_user_makes_the_vm_invalid(vmstated,
                                                             stranger):
    d = vmstated
    d.add_vm("good")
    bad = d.add_vm("bad")
    give_to(bad / "config", stranger)
    status, err = check(d)
    expected = ("%s: is not trusted: it is owned by uid %d (mode 0644); "
                "vmstated trusts a path only if nobody but root can change "
                "it or a directory above it: run chown root %s"
                % (bad / "config", stranger.uid, bad / "config"))
    assert status == 1
    assert err.strip() == expected
    d.start()
    vm = d.status("bad")
    assert vm["state"] == "invalid"
    assert expected in vm["error"]
    assert d.status("good")["state"] == "stopped"
    d.ctl("-w", "start", "good", check=0)


@pytest.mark.parametrize("key", ["configfile", "bootrom", "scriptpath"])
def test_a_file_named_by_a_bhyve_vm_and_owned_by_another_user_is_refused(
        vmstated, stranger, key):
    d = vmstated
    theirs = d.root / "theirs"
    theirs.mkdir(mode=0o755)
    path = theirs / "x"
    if key == "scriptpath":
        path.mkdir(mode=0o755)
    else:
        path.write_text("cpus=1\n")
        path.chmod(0o644)
    give_to(path, stranger)
    vmdir = d.add_vm("vm1", {key: str(path)})
    status, err = check(d)
    assert status == 1
    assert ("%s:" % (vmdir / "config")) in err
    assert (": %s: %s is not trusted: it is owned by uid %d"
            % (key, path, stranger.uid)) in err
    assert "run chown root %s" % path in err
    d.start()
    assert d.status("vm1")["state"] == "invalid"


@pytest.mark.parametrize("key", ["kernel", "initrd"])
def test_a_file_named_by_a_qemu_vm_in_a_group_writable_directory_is_refused(
        vmstated, stranger, key):
    d = vmstated
    shared = d.root / "shared"
    shared.mkdir(mode=0o755)
    for name in ("vmlinuz", "initrd.img"):
        (shared / name).write_bytes(b"\0")
        (shared / name).chmod(0o644)
    open_to_group(shared, stranger)
    d.add_vm("vm1", {"hypervisor": "qemu",
                     "kernel": str(shared / "vmlinuz"),
                     "initrd": str(shared / "initrd.img")})
    status, err = check(d)
    assert status == 1
    path = shared / ("vmlinuz" if key == "kernel" else "initrd.img")
    assert ("%s: %s is not trusted: the directory %s above it is writable "
            "by group (owner uid 0, mode 0775)" % (key, path, shared)) in err


def test_an_included_file_of_another_user_makes_the_vm_invalid(vmstated,
                                                               stranger):
    d = vmstated
    vmdir = d.add_vm("vm1", config='vm1 {\n  configfile = "%s";\n}\n'
                     '.include "more.conf"\n' % "bhyve_config")
    more = vmdir / "more.conf"
    more.write_text("vm1 { memory = 1G; }\n")
    more.chmod(0o644)
    give_to(more, stranger)
    status, err = check(d)
    assert status == 1
    assert "%s: is not trusted: it is owned by uid %d" % (
        more, stranger.uid) in err


def test_a_vmstated_conf_of_another_user_stops_the_daemon_from_starting(
        vmstated, stranger):
    d = vmstated
    d.add_vm("vm1")
    d.write_conf()
    give_to(d.conf / "vmstated.conf", stranger)
    d.start(wait=False)
    assert d.proc.wait(60) == 1
    assert ("%s: is not trusted: it is owned by uid %d"
            % (d.conf / "vmstated.conf", stranger.uid)) in d.stderr()
    assert not d.sock.exists()
