"""vmstatedctl: its command line, its output and its exit statuses.

The first tests need no daemon (usage errors, unreachable sockets, a socket
that never answers); the rest run the real vmstated with the bhyve
stand-in, through the harness of conftest.py.
"""
import json
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("VMSTATED_BUILD", "build"))
if not BUILD.is_absolute():
    BUILD = REPO / BUILD
CTL = BUILD / "vmstatedctl"

EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3


def run_ctl(*args, env=None, timeout=60):
    """Run vmstatedctl; return (returncode, stdout, stderr)."""
    full_env = dict(os.environ)
    full_env.pop("VMSTATED_SOCKET", None)
    full_env.update(env or {})
    p = subprocess.run([str(CTL), *args], capture_output=True, text=True,
                       env=full_env, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


# --- without a daemon -------------------------------------------------------

def test_h_prints_usage_on_stdout_and_exits_0():
    rc, out, err = run_ctl("-h")
    assert rc == 0
    assert out.startswith("usage: vmstatedctl [-hjqw]")
    for command in ("start", "stop", "restart", "kill", "failreset",
                    "status", "info", "reload", "events"):
        assert command in out
    assert err == ""


@pytest.mark.parametrize("args, why", [
    ((), "no command given"),
    (("frob",), 'unknown command "frob"'),
    (("-x", "status"), "unknown option -x"),
    (("start",), "start: name the VM(s)"),
    (("stop",), "stop: name the VM(s)"),
    (("info",), "info: name the VM"),
    (("info", "a", "b"), "info takes exactly one VM name"),
    (("reload", "a"), "reload takes no VM names"),
    (("events", "a"), "events takes no VM names"),
    (("-t", "0", "status"), "-t wants a whole number of seconds"),
    (("-t", "soon", "status"), "-t wants a whole number of seconds"),
    (("status", "-s"), "option -s needs a value"),
    (("-w", "status"), "-w applies to start, stop, restart and kill"),
])
def test_usage_error_exits_2_with_reason_and_usage(args, why):
    rc, out, err = run_ctl("-s", "/nonexistent/vmstated.sock", *args)
    assert rc == EXIT_USAGE
    assert out == ""
    assert err.startswith("vmstatedctl: " + why)
    assert "usage: vmstatedctl" in err


def test_missing_socket_exits_3_naming_path_and_hint(tmp_path):
    sock = tmp_path / "nobody-here.sock"
    rc, out, err = run_ctl("-s", str(sock), "status")
    assert rc == EXIT_UNREACHABLE
    assert out == ""
    assert str(sock) in err
    assert "No such file or directory" in err
    assert "is vmstated running? (-s to name another socket)" in err


def test_stale_socket_exits_3_with_connection_refused(tmp_path):
    sock = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(sock))
    s.close()               # bound, never listened: what a dead daemon leaves
    rc, _, err = run_ctl("-s", str(sock), "start", "vm1")
    assert rc == EXIT_UNREACHABLE
    assert str(sock) in err
    assert "Connection refused" in err


def test_environment_names_the_socket(tmp_path):
    sock = tmp_path / "from-env.sock"
    rc, _, err = run_ctl("status", env={"VMSTATED_SOCKET": str(sock)})
    assert rc == EXIT_UNREACHABLE
    assert str(sock) in err


def test_s_overrides_the_environment(tmp_path):
    rc, _, err = run_ctl("-s", str(tmp_path / "flag.sock"), "status",
                         env={"VMSTATED_SOCKET": str(tmp_path / "env.sock")})
    assert rc == EXIT_UNREACHABLE
    assert "flag.sock" in err and "env.sock" not in err


def test_overlong_socket_path_is_refused_clearly(tmp_path):
    sock = "/tmp/" + "x" * 200 + ".sock"
    rc, _, err = run_ctl("-s", sock, "status")
    assert rc == EXIT_UNREACHABLE
    assert "path is longer than" in err


class SilentServer:
    """A socket that accepts connections and never answers: a hung daemon."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.clients = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(c)

    def close(self):
        self.sock.close()
        for c in self.clients:
            c.close()


@pytest.fixture
def silent_socket(tmp_path):
    path = tmp_path / "silent.sock"
    server = SilentServer(path)
    yield path
    server.close()


def test_daemon_that_never_replies_times_out_with_exit_3(silent_socket):
    rc, out, err = run_ctl("-s", str(silent_socket), "-t", "1", "status")
    assert rc == EXIT_UNREACHABLE
    assert out == ""
    assert "no reply from vmstated on %s within 1 s" % silent_socket in err


def test_options_may_follow_the_command(silent_socket):
    rc, _, err = run_ctl("status", "-t", "1", "-s", str(silent_socket))
    assert rc == EXIT_UNREACHABLE
    assert "within 1 s" in err
