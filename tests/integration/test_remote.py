"""Beyond one host (issue 13 item 6): `vmstatedctl -H [user@]host ...`
runs the command against that host's daemon through ssh, which runs
`vmstatedctl --stdio` there to relay the protocol's lines; ssh does the
authentication, the remote daemon authorizes the remote user from the
socket's peer credentials as it does any local client.

The "other host" is this one, reached through an sshd the test starts on
a loopback port with a throw-away host key, a throw-away user key and a
configuration of its own (no PAM; nothing of the system's sshd is used
or started), and stops at teardown.  VMSTATED_SSH points the client at
that sshd with an ssh_config file; VMSTATED_REMOTE_COMMAND names the
vmstatedctl under test on the "remote" side.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from vmstated_harness import wait_for
from vmstated_users import local_users, require_reachable, require_users

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
PRIVSEP = Path("/run/sshd")

pytestmark = pytest.mark.skipif(
    not (Path(SSHD).exists() and Path(SSH_KEYGEN).exists()
         and shutil.which("ssh")),
    reason="needs openssh-server and openssh-client (sh scripts/deps)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path):
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C",
                    "vmstated-test", "-f", str(path)], check=True)
    return Path(str(path) + ".pub").read_text().split()[:2]


class Sshd:
    """An sshd on 127.0.0.1:port that lets in `users` with one key."""

    def __init__(self, users):
        # Users other than root read authorized_keys as themselves: the
        # directory is under /tmp, open to all, its files readable.
        self.dir = Path(tempfile.mkdtemp(prefix="vsd-ssh-", dir="/tmp"))
        self.dir.chmod(0o755)
        self.port = free_port()
        host_type, host_key = keygen(self.dir / "host_key")
        user_type, user_key = keygen(self.dir / "user_key")
        auth = self.dir / "authorized_keys"
        auth.write_text("%s %s\n" % (user_type, user_key))
        auth.chmod(0o644)
        (self.dir / "known_hosts").write_text(
            "vmstated-test-host %s %s\n" % (host_type, host_key))
        (self.dir / "sshd_config").write_text(
            "ListenAddress 127.0.0.1\n"
            "HostKey %(d)s/host_key\n"
            "PidFile %(d)s/sshd.pid\n"
            "AuthorizedKeysFile %(d)s/authorized_keys\n"
            "StrictModes no\n"
            "UsePAM no\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\n"
            "AllowUsers %(users)s\n"
            "LogLevel VERBOSE\n" % {"d": self.dir,
                                    "users": " ".join(users)})
        self.config = self.dir / "ssh_config"
        self.config.write_text(
            "Host vmhost\n"
            "  HostName 127.0.0.1\n"
            "  Port %(port)d\n"
            "Host nowhere\n"
            "  HostName 127.0.0.1\n"
            "  Port %(closed)d\n"
            "Host *\n"
            "  HostKeyAlias vmstated-test-host\n"
            "  IdentityFile %(d)s/user_key\n"
            "  IdentitiesOnly yes\n"
            "  UserKnownHostsFile %(d)s/known_hosts\n"
            "  GlobalKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking yes\n"
            "  BatchMode yes\n"
            "  ConnectTimeout 20\n"
            "  LogLevel ERROR\n" % {"d": self.dir, "port": self.port,
                                    "closed": free_port()})
        self.made_privsep = not PRIVSEP.exists()
        if self.made_privsep:
            PRIVSEP.mkdir(mode=0o755)
        self.log = open(self.dir / "sshd.log", "wb")
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.dir / "sshd_config"), "-p",
             str(self.port)], stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        wait_for(self.listening, what="sshd on port %d" % self.port,
                 details=self.output)

    def listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("sshd exited: %s" % self.output())
        try:
            with socket.create_connection(("127.0.0.1", self.port), 1) as s:
                return s.recv(64).startswith(b"SSH-")
        except OSError:
            return False

    def output(self):
        return (self.dir / "sshd.log").read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self.made_privsep:
            shutil.rmtree(PRIVSEP, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def users():
    require_users()
    with local_users("owner", "stranger") as u:
        yield u


@pytest.fixture(scope="module")
def sshd(users):
    s = Sshd(["root", users["owner"], users["stranger"]])
    yield s
    s.stop()


@pytest.fixture
def remote(vmstated, sshd, users):
    """The daemon, reachable by the test users; env for vmstatedctl -H."""
    d = vmstated
    require_reachable(d.build / "vmstatedctl")
    d.short.chmod(0o755)
    d.conf_settings["socket_mode"] = "0666"
    d.remote_env = {
        "VMSTATED_SSH": "ssh -F %s" % sshd.config,
        "VMSTATED_REMOTE_COMMAND": str(d.build / "vmstatedctl"),
        # The local socket's path must not leak into the remote command.
        "VMSTATED_SOCKET": "/nonexistent/local.sock",
    }
    return d


def ctl_h(d, host, *args, timeout=120):
    """vmstatedctl -H host -s SOCK args...: (status, stdout, stderr)."""
    env = dict(d.env, **d.remote_env)
    p = subprocess.run(
        [str(d.build / "vmstatedctl"), "-H", host, "-s", str(d.sock)]
        + [str(a) for a in args], stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def relays_left(d):
    """vmstatedctl --stdio processes still running for this daemon."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True,
                         text=True).stdout
    return [l for l in out.splitlines()
            if "--stdio" in l and str(d.sock) in l]


# ---- every command ----------------------------------------------------------

def test_commands_run_on_the_other_hosts_daemon(remote):
    d = remote
    d.add_vm("vm1", record_hooks=True)
    d.start()
    rc, out, err = ctl_h(d, "vmhost", "status")
    assert rc == 0, err
    assert re.search(r"^vm1\s+stopped\s", out, re.M), out
    rc, out, err = ctl_h(d, "root@vmhost", "-w", "start", "vm1")
    assert rc == 0, err
    assert out.splitlines() == ["vm1: start_network", "vm1: start_storage",
                                "vm1: running"]
    assert d.state("vm1") == "running"
    rc, out, err = ctl_h(d, "vmhost", "-j", "info", "vm1")
    assert rc == 0, err
    assert json.loads(out)["vm"]["paths"]["log"].endswith("/vm1.log")
    rc, out, err = ctl_h(d, "vmhost", "-O", "metrics")
    assert rc == 0 and out.endswith("# EOF\n"), err
    assert 'vmstated_vm_up{vm="vm1"} 1' in out
    rc, out, err = ctl_h(d, "vmhost", "-w", "stop", "vm1")
    assert rc == 0 and out.splitlines()[-1] == "vm1: stopped", err
    # A refusal of the daemon comes back as it is, with its exit status.
    rc, out, err = ctl_h(d, "vmhost", "stop", "vm1")
    assert rc == 1 and "vm1" in err and "not running" in err, err
    rc, out, err = ctl_h(d, "vmhost", "status", "nosuchvm")
    assert rc == 1 and 'no VM named "nosuchvm"' in err
    wait_for(lambda: not relays_left(d), what="the relays to end",
             details=lambda: repr(relays_left(d)))


def test_events_follow_through_ssh_until_interrupted(remote):
    d = remote
    d.add_vm("vm1")
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    env = dict(d.env, **d.remote_env)
    p = subprocess.Popen(
        [str(d.build / "vmstatedctl"), "-H", "vmhost", "-s", str(d.sock),
         "-j", "events", "-S", "1"], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        reply = json.loads(p.stdout.readline())
        assert reply["ok"] is True and reply["since"] == 1
        assert [json.loads(p.stdout.readline())["seq"]
                for _ in range(2)] == [2, 3]
        d.ctl("stop", "vm1", check=0)
        seen = []
        while not seen or seen[-1] != "stopped":
            seen.append(json.loads(p.stdout.readline())["to"])
        assert seen == ["stopping", "stop_storage", "stop_network",
                        "stopped"]
        p.send_signal(signal.SIGTERM)
        assert p.wait(60) == 0
        assert p.stderr.read() == ""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
    wait_for(lambda: not relays_left(d), what="the relay to end",
             details=lambda: repr(relays_left(d)))


# ---- who the remote user is ---------------------------------------------------

def test_console_and_log_through_ssh(remote):
    # The connection switches from JSON lines to the console's bytes (or
    # the log's) at the far end: the relay carries both alike.
    from vmstated_harness import ConsoleClient
    d = remote
    d.add_vm("vm1", standin={"console": "booted, says the guest",
                             "console_echo": "yes"},
             bhyve_config="pci.0.31.0.device=lpc\n")
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    d.wait_log("vm1", "booted, says the guest")
    text = d.log("vm1")
    rc, out, err = ctl_h(d, "vmhost", "log", "vm1")
    assert (rc, err) == (0, ""), err
    assert out == text
    rc, out, err = ctl_h(d, "vmhost", "log", "-n", "1", "vm1")
    assert rc == 0 and out == text.splitlines(True)[-1], (out, err)
    c = ConsoleClient(d, "vm1", options=("-H", "vmhost"), env=d.remote_env)
    try:
        c.wait_output("read-write")
        c.wait_output("booted, says the guest")
        c.type("through ssh\r")
        c.wait_output("standin: got through ssh")
        c.type("~.")
        assert c.wait_exit() == 0
        assert b"[detached]" in c.out
    finally:
        c.close()
    assert [r["input"] for r in d.standin_records("vm1")
            if r["event"] == "console"] == ["through ssh"]
    assert d.state("vm1") == "running"
    wait_for(lambda: not relays_left(d), what="the relays to end",
             details=lambda: repr(relays_left(d)))


def test_the_remote_user_is_authorized_as_on_that_host(remote, users):
    d = remote
    d.add_vm("mine", {"owner": users["owner"]})
    d.add_vm("roots")
    d.start()
    rc, out, err = ctl_h(d, users["owner"] + "@vmhost", "-w", "start",
                         "mine")
    assert rc == 0, err
    assert out.splitlines()[-1] == "mine: running"
    rc, out, err = ctl_h(d, users["stranger"] + "@vmhost", "stop", "mine")
    assert rc == 1
    assert "permission denied: uid %d may not stop mine" % \
        users.uid("stranger") in err, err
    assert d.state("mine") == "running"
    rc, out, err = ctl_h(d, users["owner"] + "@vmhost", "start", "roots")
    assert rc == 1 and "permission denied: uid %d" % users.uid("owner") \
        in err, err
    # Status is anyone's, there as here.
    rc, out, err = ctl_h(d, users["stranger"] + "@vmhost", "status")
    assert rc == 0 and re.search(r"^mine\s+running\s", out, re.M), err


# ---- when it cannot be reached --------------------------------------------------

def test_an_unreachable_host_exits_3(remote):
    d = remote
    d.start()
    rc, out, err = ctl_h(d, "nowhere", "status")
    assert rc == 3, (rc, out, err)
    assert out == ""
    assert "Connection refused" in err
    assert "nowhere: no reply through ssh; ssh ended with exit status 255" \
        in err


def test_a_host_whose_daemon_is_down_exits_3(remote):
    d = remote
    d.start()
    env = dict(d.env, **d.remote_env)
    p = subprocess.run(
        [str(d.build / "vmstatedctl"), "-H", "vmhost", "-s",
         str(d.short / "nothing-here.sock"), "status"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120, env=env)
    assert p.returncode == 3, p
    # The other host's vmstatedctl says why, through ssh.
    assert "cannot connect to %s" % (d.short / "nothing-here.sock") \
        in p.stderr
    assert "vmstatedctl there could not reach its daemon" in p.stderr


def test_the_host_is_never_an_option_of_ssh(vmstated):
    rc, out, err = vmstated.ctl("-H", "-oProxyCommand=touch /tmp/x",
                                "status")
    assert rc == 2 and "-H wants [user@]host" in err


# ---- --stdio ----------------------------------------------------------------------

def test_stdio_relays_requests_replies_and_events(vmstated):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    p = subprocess.Popen([str(d.build / "vmstatedctl"), "--stdio", "-s",
                          str(d.sock)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(b'{"command":"status"}\n')
        p.stdin.flush()
        assert json.loads(p.stdout.readline())["vms"][0]["name"] == "vm1"
        p.stdin.write(b'{"command":"start","vms":["vm1"],"watch":true}\n')
        p.stdin.flush()
        assert json.loads(p.stdout.readline())["watching"] is True
        tos = []
        while not tos or tos[-1] != "running":
            tos.append(json.loads(p.stdout.readline())["to"])
        # Its standard input closed: it ends, and so does the connection.
        p.stdin.close()
        assert p.wait(60) == 0
        assert p.stderr.read() == b""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()


def test_stdio_exits_when_the_daemon_closes(vmstated):
    d = vmstated
    d.start()
    p = subprocess.Popen([str(d.build / "vmstatedctl"), "--stdio", "-s",
                          str(d.sock)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(b'{"command":"events"}\n')
        p.stdin.flush()
        assert json.loads(p.stdout.readline())["ok"] is True
        assert d.stop() == 0
        assert p.wait(60) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdin.close()
        p.stdout.close()
        p.stderr.close()


def test_stdio_without_a_daemon_exits_3_and_takes_no_command(vmstated):
    d = vmstated
    p = subprocess.run([str(d.build / "vmstatedctl"), "--stdio", "-s",
                        str(d.sock)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 3 and "cannot connect to" in p.stderr
    assert d.ctl("--stdio", "status")[0] == 2
    assert d.ctl("--stdio", "-j")[0] == 2
