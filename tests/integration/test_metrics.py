"""Metrics (issue 13 item 4): `vmstatedctl metrics` prints the daemon's
and the VMs' numbers in Prometheus's text format (-O: OpenMetrics), for
node_exporter's textfile collector or any scraper.

Every exposition read here goes through a strict parser of both formats
(tests/lib/promtext.py: syntax, # TYPE before samples, counters ending in
_total, no duplicate series, floats, label escaping, # EOF) and through
the reference parsers of the Prometheus Python client where Debian's
python3-prometheus-client is installed; the values are checked against
what the VMs did: a crash counts one restart, time in a state grows while
the VM is in it, a start and a stop leave their durations, hooks and
probes their results.  Who sees which VM's series is tested as root, a
VM's owner and a stranger.
"""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

import promtext
from vmstated_harness import wait_for
from vmstated_users import local_users, require_reachable, require_users

STATES = ("stopped", "start_network", "start_storage", "running",
          "restarting", "restarted", "stopping", "stop_storage",
          "stop_network", "failed")

# Every family vmstated writes, by name in the text format 0.0.4.
DAEMON_FAMILIES = {"vmstated_start_time_seconds", "vmstated_uptime_seconds",
                   "vmstated_vms", "vmstated_events_total"}
VM_FAMILIES = {"vmstated_vm_state", "vmstated_vm_up", "vmstated_vm_ready",
               "vmstated_vm_uptime_seconds",
               "vmstated_vm_state_seconds_total",
               "vmstated_vm_restarts_total",
               "vmstated_vm_restarts_in_window",
               "vmstated_vm_restart_limit",
               "vmstated_vm_restart_window_seconds"}


def reference(text, fmt):
    """The Prometheus client's own parser of the format, if installed:
    its families (it raises on what it refuses), or None."""
    try:
        if fmt == "openmetrics":
            from prometheus_client.openmetrics.parser import \
                text_string_to_metric_families
        else:
            from prometheus_client.parser import \
                text_string_to_metric_families
    except ImportError:
        return None
    return list(text_string_to_metric_families(text))


def scrape(d, fmt="prometheus", ctl=None):
    """`vmstatedctl metrics` (-O for OpenMetrics), parsed strictly and
    linted; {family: promtext.Family}."""
    args = (["-O"] if fmt == "openmetrics" else []) + ["metrics"]
    rc, out, err = (ctl or d.ctl)(*args)
    assert rc == 0, err
    families = promtext.parse(out, fmt)
    assert promtext.lint(families, "vmstated_") == []
    reference(out, fmt)
    return families


def scrape_until(d, predicate, what):
    """Scrape until predicate(families) holds; those families."""
    def once():
        fams = scrape(d)
        return predicate(fams) and fams
    return wait_for(once, what=what)


def value(fams, name, **labels):
    return fams[name].value(**labels)


def has(fams, name, **labels):
    try:
        value(fams, name, **labels)
        return True
    except KeyError:
        return False


# ---- the format ----------------------------------------------------------

@pytest.mark.parametrize("fmt", ["prometheus", "openmetrics"])
def test_the_exposition_parses_and_follows_the_conventions(vmstated, fmt):
    d = vmstated
    d.add_vm("vm1", record_hooks=True)
    d.add_vm("vm2")
    # Invalid entries are named after their directory: a quote, a
    # backslash, a newline and a byte that is not UTF-8 must come out
    # escaped as both formats say.
    odd = 'odd"na\\me\nx'
    (d.conf / odd).mkdir()
    (d.conf / odd / "config").write_text("odd {")
    os.mkdir(bytes(d.conf) + b"/lat\xe9")
    (d.conf / "lat\udce9").joinpath("config").write_text("lat {")
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    wait_for(lambda: d.status("vm1")["ready"], what="vm1 to be ready")
    rc, out, err = d.ctl(*(["-O"] if fmt == "openmetrics" else []),
                         "metrics")
    assert rc == 0, err
    fams = promtext.parse(out, fmt)
    assert promtext.lint(fams, "vmstated_") == []
    ref = reference(out, fmt)
    if ref is not None:
        assert {f.name for f in ref} >= {"vmstated_vm_state",
                                         "vmstated_vm_up"}
    if fmt == "openmetrics":
        assert out.endswith("\n# EOF\n")
        # OpenMetrics names a counter's family without its _total.
        assert "vmstated_vm_restarts" in fams
        assert fams["vmstated_vm_restarts"].type == "counter"
        assert fams["vmstated_vm_uptime_seconds"].unit == "seconds"
        names = {n for n in fams}
        names = {n + "_total" if fams[n].type == "counter" else n
                 for n in names}
    else:
        assert "# EOF" not in out
        names = set(fams)
    assert names >= DAEMON_FAMILIES | VM_FAMILIES, names
    assert value(fams, "vmstated_vms", state="invalid") == 2
    assert value(fams, "vmstated_vms", state="running") == 1
    assert value(fams, "vmstated_vms", state="stopped") == 1
    for vm, state in (("vm1", "running"), ("vm2", "stopped"),
                      (odd, "invalid"), ("lat\ufffd", "invalid")):
        for s in STATES + ("invalid",):
            assert value(fams, "vmstated_vm_state", vm=vm, state=s) == \
                (1 if s == state else 0), (vm, s)
    assert value(fams, "vmstated_vm_up", vm="vm1") == 1
    assert value(fams, "vmstated_vm_up", vm="vm2") == 0
    assert value(fams, "vmstated_vm_ready", vm="vm1") == 1
    events = "vmstated_events" if fmt == "openmetrics" else \
        "vmstated_events_total"
    assert value(fams, events) == \
        d.request({"command": "events", "since": 0})["seq"] >= 3


def test_json_carries_the_text_and_its_content_type(vmstated):
    vmstated.start()
    rc, out, err = vmstated.ctl("-j", "metrics")
    assert rc == 0, err
    reply = json.loads(out)
    assert reply["format"] == "prometheus"
    assert reply["content_type"].startswith("text/plain; version=0.0.4")
    promtext.parse(reply["text"], "prometheus")
    reply = vmstated.request({"command": "metrics",
                              "format": "openmetrics"})
    assert reply["content_type"].startswith(
        "application/openmetrics-text; version=1.0.0")
    promtext.parse(reply["text"], "openmetrics")


def test_a_bad_format_or_option_is_refused(vmstated):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    reply = d.request({"command": "metrics", "format": "xml"})
    assert reply["ok"] is False and "openmetrics" in reply["error"]
    reply = d.request({"command": "status", "format": "openmetrics"})
    assert reply["ok"] is False and "only for metrics" in reply["error"]
    assert d.ctl("metrics", "vm1")[0] == 2
    assert d.ctl("-O", "status")[0] == 2


def test_an_unreachable_daemon_exits_3_and_writes_nothing(vmstated):
    rc, out, err = vmstated.ctl("metrics")
    assert rc == 3 and out == "" and "cannot connect" in err


# ---- the values ----------------------------------------------------------

def test_a_vm_that_crashed_once_shows_one_restart(vmstated):
    d = vmstated
    d.add_vm("vm1", standin={"exits": "4,run", "delay": "0.3"})
    d.start()
    fams = scrape(d)
    assert value(fams, "vmstated_vm_restarts_total", vm="vm1") == 0
    d.ctl("start", "vm1", check=0)
    wait_for(lambda: len(d.standin_starts("vm1")) == 2 and
             d.state("vm1") == "running", what="the restart after a crash")
    fams = scrape(d)
    assert value(fams, "vmstated_vm_restarts_total", vm="vm1") == 1
    assert value(fams, "vmstated_vm_restarts_in_window", vm="vm1") == 1
    assert value(fams, "vmstated_vm_restart_limit", vm="vm1") == 3
    assert value(fams, "vmstated_vm_restart_window_seconds", vm="vm1") == 30
    assert value(fams, "vmstated_vm_up", vm="vm1") == 1
    assert value(fams, "vmstated_vm_state", vm="vm1", state="running") == 1
    # The restart went through restarting and restarted: time was spent.
    assert value(fams, "vmstated_vm_state_seconds_total", vm="vm1",
                 state="restarting") > 0
    # A requested restart is not an automatic one.
    d.ctl("-w", "restart", "vm1", check=0)
    fams = scrape(d)
    assert value(fams, "vmstated_vm_restarts_total", vm="vm1") == 1


def test_time_in_a_state_grows_while_the_vm_is_in_it(vmstated):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    first = scrape(d)

    def running(f):
        return value(f, "vmstated_vm_state_seconds_total", vm="vm1",
                     state="running")
    second = scrape_until(d, lambda f: running(f) >= running(first) + 0.5,
                          "time in running to grow")
    # A state the VM is not in keeps its count.
    assert value(second, "vmstated_vm_state_seconds_total", vm="vm1",
                 state="stopped") == value(
        first, "vmstated_vm_state_seconds_total", vm="vm1",
        state="stopped")
    assert value(second, "vmstated_vm_uptime_seconds", vm="vm1") > \
        value(first, "vmstated_vm_uptime_seconds", vm="vm1")
    assert value(second, "vmstated_uptime_seconds") > \
        value(first, "vmstated_uptime_seconds")
    # The states share the VM's time since the daemon loaded it.
    total = sum(value(second, "vmstated_vm_state_seconds_total", vm="vm1",
                      state=s) for s in STATES)
    assert total <= value(second, "vmstated_uptime_seconds") + 0.5
    assert value(second, "vmstated_vm_uptime_seconds", vm="vm1") <= total
    started = value(second, "vmstated_start_time_seconds")
    assert abs(started + value(second, "vmstated_uptime_seconds")
               - time.time()) < 30
    # A stopped VM has no uptime.
    d.ctl("-w", "stop", "vm1", check=0)
    assert value(scrape(d), "vmstated_vm_uptime_seconds", vm="vm1") == 0


def test_a_start_and_a_stop_leave_their_durations_and_their_hooks(vmstated):
    d = vmstated
    d.add_vm("vm1", hooks={"start_storage": "sleep 0.3",
                           "stopping": "sleep 0.2"})
    d.start()
    fams = scrape(d)
    assert not has(fams, "vmstated_vm_last_boot_duration_seconds", vm="vm1")
    assert not has(fams, "vmstated_vm_last_stop_duration_seconds", vm="vm1")
    d.ctl("-w", "start", "vm1", check=0)
    fams = scrape(d)
    boot = value(fams, "vmstated_vm_last_boot_duration_seconds", vm="vm1")
    assert 0.3 <= boot < 60
    assert not has(fams, "vmstated_vm_last_stop_duration_seconds", vm="vm1")
    hooks = fams["vmstated_vm_hook_duration_seconds"]
    assert hooks.series("_count") == {
        frozenset({("vm", "vm1"), ("hook", "start_storage")}): 1}
    (spent,) = hooks.series("_sum").values()
    assert 0.3 <= spent <= boot
    assert value(fams, "vmstated_vm_hook_last_duration_seconds", vm="vm1",
                 hook="start_storage") == spent
    assert value(fams, "vmstated_vm_hook_failures_total", vm="vm1",
                 hook="start_storage") == 0
    d.ctl("-w", "stop", "vm1", check=0)
    fams = scrape(d)
    stop = value(fams, "vmstated_vm_last_stop_duration_seconds", vm="vm1")
    assert 0.2 <= stop < 60
    assert value(fams, "vmstated_vm_last_boot_duration_seconds",
                 vm="vm1") == boot
    assert value(fams, "vmstated_vm_hook_last_duration_seconds", vm="vm1",
                 hook="stopping") >= 0.2


def test_a_failed_hook_is_counted(vmstated):
    d = vmstated
    d.add_vm("vm1", hooks={"start_network": "exit 1"})
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "failed")
    fams = scrape(d)
    assert value(fams, "vmstated_vm_hook_failures_total", vm="vm1",
                 hook="start_network") == 1
    assert value(fams, "vmstated_vm_state", vm="vm1", state="failed") == 1
    assert value(fams, "vmstated_vms", state="failed") == 1
    # A start that never got to running leaves no boot duration.
    assert not has(fams, "vmstated_vm_last_boot_duration_seconds", vm="vm1")


def test_probe_results_show(vmstated):
    d = vmstated
    gate = d.root / "healthy"
    vmdir = d.add_vm("vm1", {"probe_interval": 1, "probe_failures": 100})
    d.write_hook(vmdir, "probe", "test -e %s" % gate)
    d.start()
    fams = scrape(d)
    assert not has(fams, "vmstated_vm_probe_success", vm="vm1")
    d.ctl("-w", "start", "vm1", check=0)
    fams = scrape_until(d, lambda f: has(f, "vmstated_vm_probes_total",
                                         vm="vm1"), "a probe to run")
    assert value(fams, "vmstated_vm_probe_success", vm="vm1") == 0
    assert value(fams, "vmstated_vm_probe_consecutive_failures",
                 vm="vm1") >= 1
    assert value(fams, "vmstated_vm_probe_failures_total", vm="vm1") >= 1
    assert value(fams, "vmstated_vm_ready", vm="vm1") == 0
    gate.touch()
    fams = scrape_until(d, lambda f: value(f, "vmstated_vm_probe_success",
                                           vm="vm1") == 1, "a probe to pass")
    assert value(fams, "vmstated_vm_probe_consecutive_failures",
                 vm="vm1") == 0
    assert value(fams, "vmstated_vm_probes_total", vm="vm1") >= 2
    assert value(fams, "vmstated_vm_probe_failures_total", vm="vm1") >= 1
    assert value(fams, "vmstated_vm_ready", vm="vm1") == 1


def test_counters_start_again_with_a_new_daemon(vmstated):
    """A daemon killed and started again takes its VMs back, but its
    counters are its own: a restart the old one counted stays in the
    window (it still counts towards maxrestart), not in restarts_total."""
    d = vmstated
    d.add_vm("vm1", standin={"exits": "4,run", "delay": "0.3"})
    d.start()
    d.ctl("start", "vm1", check=0)
    wait_for(lambda: len(d.standin_starts("vm1")) == 2 and
             d.state("vm1") == "running", what="the restart after a crash")
    before = scrape(d)
    assert value(before, "vmstated_vm_restarts_total", vm="vm1") == 1
    d.kill()
    d.start()
    d.wait_state("vm1", "running")
    after = scrape(d)
    assert value(after, "vmstated_vm_restarts_total", vm="vm1") == 0
    assert value(after, "vmstated_vm_restarts_in_window", vm="vm1") == 1
    assert value(after, "vmstated_start_time_seconds") > \
        value(before, "vmstated_start_time_seconds")
    # Its hypervisor was taken back: its uptime goes on.
    assert value(after, "vmstated_vm_uptime_seconds", vm="vm1") >= \
        value(before, "vmstated_vm_uptime_seconds", vm="vm1") - 1


# ---- who sees what --------------------------------------------------------

def ctl_as(d, users, role, *args):
    return users.run(role, [d.build / "vmstatedctl", "-s", d.sock, *args],
                     env=d.env)


@pytest.fixture
def two_users():
    """An owner and a stranger, created for the test and removed."""
    require_users()
    with local_users("owner", "stranger") as users:
        yield users


def test_a_vms_series_go_to_those_who_may_see_its_details(vmstated,
                                                           two_users):
    d = vmstated
    require_reachable(d.build / "vmstatedctl")
    d.short.chmod(0o755)
    d.add_vm("mine", {"owner": two_users["owner"]})
    d.add_vm("roots")
    (d.conf / "broken").mkdir()
    (d.conf / "broken" / "config").write_text("broken {")
    d.start()
    d.ctl("-w", "start", "mine", "roots", check=0)

    def vms(fams):
        return {dict(k)["vm"] for k in fams["vmstated_vm_state"].series()}
    assert vms(scrape(d)) == {"mine", "roots", "broken"}
    owner = scrape(d, ctl=lambda *a: ctl_as(d, two_users, "owner", *a))
    assert vms(owner) == {"mine", "broken"}
    assert {dict(k)["vm"] for k in
            owner["vmstated_vm_uptime_seconds"].series()} == {"mine"}
    stranger = scrape(d, ctl=lambda *a: ctl_as(d, two_users, "stranger",
                                                *a))
    # The daemon's own series, and an invalid VM's state, as status shows
    # anyone; nothing of a VM the stranger may not operate.
    assert vms(stranger) == {"broken"}
    assert value(stranger, "vmstated_vms", state="running") == 2
    assert not any(dict(k).get("vm") in ("mine", "roots")
                   for f in stranger.values() for k in f.series())


# ---- the manual's textfile collector line ---------------------------------

def manual_cron_command():
    """The command of the crontab line of vmstatedctl(1)'s EXAMPLES."""
    text = (Path(__file__).resolve().parents[2] / "man" /
            "vmstatedctl.1").read_text()
    line = next(l for l in text.splitlines()
                if l.startswith("* * * * * root "))
    return line.split(" ", 6)[6]


def test_the_manuals_cron_line_writes_the_file_whole(vmstated, tmp_path):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    collector = tmp_path / "textfile"
    collector.mkdir()
    command = manual_cron_command().replace(
        "/var/lib/prometheus/node-exporter", str(collector))
    env = dict(d.env, VMSTATED_SOCKET=str(d.sock),
               PATH="%s:%s" % (d.build, os.environ.get("PATH", "")))

    def cron():
        return subprocess.run(["/bin/sh", "-c", command], env=env,
                              capture_output=True, text=True, timeout=60)
    p = cron()
    assert p.returncode == 0, p.stderr
    prom = collector / "vmstated.prom"
    fams = promtext.parse(prom.read_text(), "prometheus")
    assert value(fams, "vmstated_vm_up", vm="vm1") == 0
    assert sorted(os.listdir(collector)) == ["vmstated.prom"]
    # A daemon that cannot be reached leaves the last file as it was.
    before = prom.read_text()
    d.stop()
    p = cron()
    assert p.returncode == 3, p.stderr
    assert prom.read_text() == before
