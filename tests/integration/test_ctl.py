"""vmstatedctl: its command line, its output and its exit statuses.

The first tests need no daemon (usage errors, unreachable sockets, a socket
that never answers); the rest run the real vmstated with the bhyve
stand-in, through the harness of conftest.py.
"""
import json
import os
import re
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from vmstated_harness import wait_for

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
    assert out.startswith("usage: vmstatedctl [-dhjOqrw]")
    for command in ("start", "stop", "restart", "kill", "failreset",
                    "status", "info", "reload", "events", "metrics"):
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


# --- against vmstated and the bhyve stand-in --------------------------------

# The columns of `status`, in order.
HEADER = ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "OWNER",
          "DESCRIPTION"]
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def table(out):
    """The status table as a list of dicts (columns split on blanks; the
    last column keeps its spaces), up to the first empty line."""
    lines = out.split("\n\n", 1)[0].splitlines()
    assert lines[0].split() == HEADER, out
    rows = []
    for line in lines[1:]:
        cells = line.split(None, len(HEADER) - 1)
        rows.append(dict(zip(HEADER, cells)))
    return rows


def row(out, name):
    for r in table(out):
        if r["NAME"] == name:
            return r
    raise AssertionError("no row %r in:\n%s" % (name, out))


def daemon_error(d, command, vm):
    """What the daemon itself answers to command on vm (its error text)."""
    reply = d.request({"command": command, "vms": [vm]})
    if "results" in reply:
        return reply["results"][0]["error"]
    return reply["error"]


def started(d, vm):
    d.ctl("start", vm, check=0)
    return d.wait_state(vm, "running")


def test_status_is_a_table_with_dashes_for_empty_values(vmstated):
    vmstated.add_vm("vm1", {"description": "the first one"})
    vmstated.add_vm("vm2", {"maxrestart": 5})
    vmstated.start()
    rc, out, err = vmstated.ctl("status")
    assert rc == 0 and err == ""
    assert table(out) == [
        {"NAME": "vm1", "STATE": "stopped", "PID": "-", "UPTIME": "-",
         "RESTARTS": "0/3", "OWNER": "-", "DESCRIPTION": "the first one"},
        {"NAME": "vm2", "STATE": "stopped", "PID": "-", "UPTIME": "-",
         "RESTARTS": "0/5", "OWNER": "-", "DESCRIPTION": "-"},
    ]


def test_status_of_a_running_vm_shows_its_pid_and_uptime(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    pid = started(vmstated, "vm1")["pid"]
    rc, out, _ = vmstated.ctl("status", "vm1")
    assert rc == 0
    r = row(out, "vm1")
    assert r["STATE"] == "running"
    assert r["PID"] == str(pid)
    assert re.fullmatch(r"\d+s|\d+m\d\ds", r["UPTIME"]), r


def test_status_shows_owner_and_group(vmstated):
    vmstated.add_vm("vm1", {"owner": "root", "group": "root"})
    vmstated.add_vm("vm2", {"group": "root"})
    vmstated.start()
    rc, out, _ = vmstated.ctl("status")
    assert row(out, "vm1")["OWNER"] == "root:root"
    assert row(out, "vm2")["OWNER"] == ":root"


def test_status_names_only_the_vms_asked_for(vmstated):
    vmstated.add_vm("vm1")
    vmstated.add_vm("vm2")
    vmstated.start()
    rc, out, _ = vmstated.ctl("status", "vm2")
    assert rc == 0
    assert [r["NAME"] for r in table(out)] == ["vm2"]


def test_status_of_an_invalid_vm_shows_it_and_its_errors(vmstated):
    vmstated.add_vm("good")
    bad = vmstated.add_vm("bad", "bad {\n  frob = 1;\n}\n")
    vmstated.start()
    rc, out, _ = vmstated.ctl("status")
    assert rc == 0
    assert row(out, "bad")["STATE"] == "invalid"
    assert row(out, "good")["STATE"] == "stopped"
    errors = out.split("\n\n", 1)[1]
    assert errors.startswith("bad: invalid configuration, not loaded:\n")
    assert "    %s:2: frob" % (bad / "config") in errors


def test_status_of_an_unknown_vm_exits_1_with_the_daemons_message(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    rc, out, err = vmstated.ctl("status", "nosuch")
    assert rc == EXIT_FAILED and out == ""
    assert err == "vmstatedctl: %s\n" % daemon_error(vmstated, "status",
                                                     "nosuch")
    assert "nosuch" in err


def test_status_j_prints_the_reply_as_one_json_line(vmstated):
    vmstated.add_vm("vm1", {"description": "d"})
    vmstated.start()
    rc, out, _ = vmstated.ctl("-j", "status")
    assert rc == 0
    assert len(out.splitlines()) == 1
    reply = json.loads(out)
    assert reply["ok"] is True
    assert [(v["name"], v["state"], v["description"])
            for v in reply["vms"]] == [("vm1", "stopped", "d")]


def test_start_says_the_vm_is_starting_and_exits_0(vmstated):
    # A hook runs as a child process, so the VM is still in start_network
    # when the reply is written; without one it would be further on.
    vmstated.add_vm("vm1", hooks={"start_network": "exit 0"})
    vmstated.start()
    rc, out, err = vmstated.ctl("start", "vm1")
    assert (rc, out, err) == (0, "vm1: starting (state start_network)\n",
                              "")
    vmstated.wait_state("vm1", "running")


def test_start_w_prints_each_state_until_running(vmstated):
    vmstated.add_vm("vm1", record_hooks=True)
    vmstated.start()
    rc, out, err = vmstated.ctl("-w", "start", "vm1")
    assert rc == 0, err
    assert out.splitlines() == ["vm1: start_network", "vm1: start_storage",
                                "vm1: running"]
    assert vmstated.state("vm1") == "running"


def test_start_w_waits_for_every_vm(vmstated):
    vmstated.add_vm("vm1")
    vmstated.add_vm("vm2", hooks={"start_storage": "sleep 1"})
    vmstated.start()
    rc, out, err = vmstated.ctl("-w", "start", "vm1", "vm2")
    assert rc == 0, err
    for vm in ("vm1", "vm2"):
        assert [l for l in out.splitlines() if l.startswith(vm + ":")] == [
            vm + ": start_network", vm + ": start_storage", vm + ": running"]
        assert vmstated.state(vm) == "running"


def test_stop_w_prints_each_state_until_stopped(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    started(vmstated, "vm1")
    rc, out, err = vmstated.ctl("-w", "stop", "vm1")
    assert rc == 0, err
    assert out.splitlines() == ["vm1: stopping", "vm1: stop_storage",
                                "vm1: stop_network", "vm1: stopped"]


def test_restart_w_goes_through_restarting_back_to_running(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    old = started(vmstated, "vm1")["pid"]
    rc, out, err = vmstated.ctl("-w", "restart", "vm1")
    assert rc == 0, err
    assert out.splitlines() == ["vm1: restarting", "vm1: restarted",
                                "vm1: running"]
    new = vmstated.status("vm1")["pid"]
    assert new != old


def test_kill_w_stops_a_guest_that_ignores_sigterm(vmstated):
    vmstated.add_vm("vm1", standin={"sigterm": "ignore"})
    vmstated.start()
    started(vmstated, "vm1")
    rc, out, err = vmstated.ctl("-w", "kill", "vm1")
    assert rc == 0, err
    assert out.splitlines()[0] == "vm1: stopping (kill)"
    assert out.splitlines()[-1] == "vm1: stopped (kill)"


def test_w_t_gives_up_naming_the_vm_its_target_and_its_state(vmstated):
    vmstated.add_vm("slow", hooks={"start_storage": "sleep 30"})
    vmstated.start()
    # -t bounds the whole run, the reply and both events included: leave
    # a slow (sanitized, loaded) daemon time for them.
    rc, out, err = vmstated.ctl("-w", "-t", "5", "start", "slow")
    assert rc == EXIT_FAILED
    assert out.splitlines() == ["slow: start_network", "slow: start_storage"]
    assert err == ("vmstatedctl: timed out after 5 s waiting for slow to "
                   "reach running; it is in state start_storage\n")


def test_w_reports_a_failed_vm_with_its_log_and_exits_1(vmstated):
    vmstated.add_vm("vm1", hooks={"start_storage": "exit 3"})
    vmstated.start()
    rc, out, err = vmstated.ctl("-w", "start", "vm1")
    assert rc == EXIT_FAILED
    assert out.splitlines()[-1] == "vm1: failed (hook-failed)"
    assert "vmstatedctl: vm1: failed (hook-failed)" in err
    assert str(vmstated.logdir / "vm1.log") in err
    assert "vmstatedctl failreset vm1" in err


def test_start_of_a_running_vm_exits_1_with_the_daemons_message(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    started(vmstated, "vm1")
    rc, out, err = vmstated.ctl("start", "vm1")
    assert rc == EXIT_FAILED and out == ""
    assert err == "vmstatedctl: %s\n" % daemon_error(vmstated, "start",
                                                     "vm1")
    assert "vm1" in err and "running" in err


def test_start_of_an_unknown_vm_exits_1_with_the_daemons_message(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    rc, out, err = vmstated.ctl("start", "nosuch")
    assert rc == EXIT_FAILED and out == ""
    assert err == "vmstatedctl: %s\n" % daemon_error(vmstated, "start",
                                                     "nosuch")


def test_one_refused_vm_does_not_stop_the_others(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    rc, out, err = vmstated.ctl("start", "vm1", "nosuch")
    assert rc == EXIT_FAILED
    assert out.startswith("vm1: starting")
    assert "nosuch" in err
    vmstated.wait_state("vm1", "running")


def test_q_prints_nothing_on_success(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    assert vmstated.ctl("-q", "-w", "start", "vm1") == (0, "", "")
    assert vmstated.ctl("-q", "status") == (0, "", "")
    assert vmstated.ctl("-q", "info", "vm1") == (0, "", "")


def test_q_still_reports_errors(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    rc, out, err = vmstated.ctl("-q", "info", "nosuch")
    assert rc == EXIT_FAILED and out == ""
    assert "nosuch" in err


def test_start_j_prints_the_reply(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    rc, out, _ = vmstated.ctl("-j", "start", "vm1", "nosuch")
    assert rc == EXIT_FAILED
    reply = json.loads(out)
    assert reply["ok"] is False
    assert [(r["vm"], r["ok"]) for r in reply["results"]] == [
        ("vm1", True), ("nosuch", False)]


def test_start_j_w_prints_the_reply_then_the_events(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    rc, out, err = vmstated.ctl("-j", "-w", "start", "vm1")
    assert rc == 0, err
    lines = [json.loads(l) for l in out.splitlines()]
    assert lines[0]["ok"] is True and lines[0]["results"][0]["vm"] == "vm1"
    assert [(e["event"], e["vm"], e["to"]) for e in lines[1:]] == [
        ("state", "vm1", "start_network"), ("state", "vm1", "start_storage"),
        ("state", "vm1", "running")]


def test_info_prints_every_field_as_key_value_lines(vmstated):
    vmstated.add_vm("vm1", {"description": "info test", "memory": 512})
    vmstated.start()
    started(vmstated, "vm1")
    rc, out, _ = vmstated.ctl("info", "vm1")
    assert rc == 0
    _, jout, _ = vmstated.ctl("-j", "info", "vm1")
    vm = json.loads(jout)["vm"]
    lines = out.splitlines()
    keys = [l.split(":", 1)[0] for l in lines if l and not l.startswith(" ")]
    for key, value in vm.items():
        if isinstance(value, dict):
            assert key in keys             # a group header "config:"
            for sub in value:
                assert any(l.startswith("    %s: " % sub) for l in lines), \
                    (key, sub, out)
        else:
            assert key in keys, (key, out)
    assert "name: vm1" in lines
    assert "state: running" in lines
    assert "description: info test" in lines
    assert "    memory: 512" in lines
    # Kept as its name in the VM's directory, shown as its path.
    assert vm["config"]["configfile"] == str(
        vmstated.vm_dir("vm1") / "bhyve_config"), vm["config"]
    assert "    configfile: %s" % (vmstated.vm_dir("vm1") / "bhyve_config") \
        in lines, out
    assert "    log: %s" % (vmstated.logdir / "vm1.log") in lines
    assert re.search(r"^state_since: %s$" % TIMESTAMP, out, re.M)


def test_info_of_an_invalid_vm_shows_its_errors(vmstated):
    bad = vmstated.add_vm("bad", "bad {\n  frob = 1;\n}\n")
    vmstated.start()
    rc, out, _ = vmstated.ctl("info", "bad")
    assert rc == 0
    assert "state: invalid" in out.splitlines()
    error = out.split("\nerror: ", 1)[1]
    assert "%s:2: frob" % (bad / "config") in error


def test_failreset_moves_a_failed_vm_back_to_stopped(vmstated):
    vmstated.add_vm("vm1", hooks={"start_network": "exit 1"})
    vmstated.start()
    vmstated.ctl("start", "vm1", check=0)
    vmstated.wait_state("vm1", "failed")
    rc, out, err = vmstated.ctl("failreset", "vm1")
    assert (rc, out, err) == (0, "vm1: reset (state stopped)\n", "")
    assert vmstated.state("vm1") == "stopped"


def test_failreset_of_a_vm_that_has_not_failed_is_refused(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    rc, out, err = vmstated.ctl("failreset", "vm1")
    assert rc == EXIT_FAILED and out == ""
    assert err == "vmstatedctl: %s\n" % daemon_error(vmstated, "failreset",
                                                     "vm1")


def test_reload_says_which_vms_were_added(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    vmstated.add_vm("vm2")
    rc, out, err = vmstated.ctl("reload")
    assert (rc, out, err) == (0, "added: vm2\n", "")
    assert [v["name"] for v in vmstated.status()] == ["vm1", "vm2"]


def test_reload_with_nothing_new_says_so(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    assert vmstated.ctl("reload") == (
        0, "configuration reloaded, nothing changed\n", "")


def test_reload_of_an_invalid_configuration_exits_1_naming_it(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    bad = vmstated.add_vm("bad", "bad {\n  frob = 1;\n}\n")
    rc, _, err = vmstated.ctl("reload")
    assert rc == EXIT_FAILED
    assert err.startswith("vmstatedctl: bad: invalid configuration")
    assert "%s:2: frob" % (bad / "config") in err


def test_events_prints_state_changes_until_sigint(vmstated, stream):
    vmstated.add_vm("vm1")
    vmstated.start()
    started(vmstated, "vm1")
    events = stream(vmstated, "events")
    # The text stream shows nothing until an event comes, so there is no
    # telling when it has subscribed: restart the VM until it shows one.
    wait_for(lambda: vmstated.ctl("-w", "restart", "vm1", check=0) and
             events.lines, what="an event line from vmstatedctl events")
    # Subscribed now, perhaps half-way through that restart: one more,
    # seen whole.
    vmstated.ctl("-w", "restart", "vm1", check=0)
    events.wait_line(r"%s vm1 running -> restarting \(request\)" % TIMESTAMP)
    events.wait_line(r"%s vm1 restarting -> restarted \(request\)"
                     % TIMESTAMP)
    events.wait_line(r"%s vm1 restarted -> running \(request\)" % TIMESTAMP)
    events.proc.send_signal(signal.SIGINT)
    assert events.finish() == (0, "")


def test_events_j_prints_json_lines_until_sigterm(vmstated, stream):
    vmstated.add_vm("vm1")
    vmstated.start()
    events = stream(vmstated, "-j", "events")
    events.wait_line(r'\{"ok": ?true,"epoch":"[0-9a-f]{16}","seq":\d+\}')
    vmstated.ctl("-w", "start", "vm1", check=0)
    events.wait_line(r'.*"to": ?"running".*')
    evs = [json.loads(l) for l in events.lines[1:]]
    assert [e["to"] for e in evs if e["vm"] == "vm1"][:3] == [
        "start_network", "start_storage", "running"]
    assert all(e["event"] == "state" for e in evs)
    events.proc.send_signal(signal.SIGTERM)
    assert events.finish() == (0, "")


def test_events_exits_1_when_the_daemon_goes_away(vmstated, stream):
    vmstated.add_vm("vm1")
    vmstated.start()
    events = stream(vmstated, "-j", "events")
    events.wait_line(r'\{"ok": ?true,"epoch":"[0-9a-f]{16}","seq":\d+\}')
    assert vmstated.stop() == 0
    rc, err = events.finish()
    assert rc == EXIT_FAILED
    assert "vmstated on %s closed the connection" % vmstated.sock in err


def test_vmstated_socket_in_the_environment_is_used(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    rc, out, err = run_ctl("status", env={"VMSTATED_SOCKET":
                                          str(vmstated.sock)})
    assert rc == 0, err
    assert row(out, "vm1")["STATE"] == "stopped"


def test_a_reply_longer_than_64_kib_is_read_whole(vmstated):
    # 64 VMs with the longest description (1024 bytes) each.
    description = "x" * 1024
    names = ["vm%02d" % i for i in range(64)]
    for name in names:
        vmstated.add_vm(name, {"description": description})
    vmstated.start()
    rc, out, err = vmstated.ctl("-j", "status")
    assert rc == 0, err
    assert len(out) > 64 * 1024
    vms = json.loads(out)["vms"]
    assert [(v["name"], v["description"]) for v in vms] == [
        (name, description) for name in names]
    rc, out, _ = vmstated.ctl("status")
    assert rc == 0
    assert row(out, "vm63")["DESCRIPTION"] == description


# --- authorization, seen from the client (needs root to become nobody) ------

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists(),
    reason="needs root and setpriv(1) to run vmstatedctl as nobody")


def ctl_as_nobody(d, *args):
    """vmstatedctl run as the user nobody; (status, stdout, stderr)."""
    d.short.chmod(0o755)        # let nobody reach the socket's directory
    p = subprocess.run(
        ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
         "--clear-groups", str(d.build / "vmstatedctl"), "-s", str(d.sock),
         *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60, env=d.env)
    return p.returncode, p.stdout, p.stderr


@needs_root
def test_a_user_the_socket_shuts_out_gets_exit_3_and_why(vmstated):
    vmstated.add_vm("vm1")
    vmstated.start()
    rc, out, err = ctl_as_nobody(vmstated, "status")
    assert rc == EXIT_UNREACHABLE and out == ""
    assert str(vmstated.sock) in err
    assert "Permission denied" in err
    assert "the socket's mode or group does not let you in" in err


@needs_root
def test_anyone_who_connects_may_read_status_but_not_start(vmstated):
    vmstated.conf_settings["socket_mode"] = "0666"
    vmstated.add_vm("vm1")
    vmstated.start()
    rc, out, _ = ctl_as_nobody(vmstated, "status")
    assert rc == 0 and row(out, "vm1")["STATE"] == "stopped"
    rc, out, err = ctl_as_nobody(vmstated, "start", "vm1")
    assert rc == EXIT_FAILED and out == ""
    assert err.startswith("vmstatedctl: permission denied")
    assert "vm1" in err
    assert vmstated.state("vm1") == "stopped"


@needs_root
def test_the_owner_of_a_vm_may_start_and_stop_it(vmstated):
    vmstated.conf_settings["socket_mode"] = "0666"
    vmstated.add_vm("vm1", {"owner": "nobody"})
    vmstated.start()
    rc, out, err = ctl_as_nobody(vmstated, "-w", "start", "vm1")
    assert rc == 0, err
    assert out.splitlines()[-1] == "vm1: running"
    rc, _, err = ctl_as_nobody(vmstated, "-w", "stop", "vm1")
    assert rc == 0, err
