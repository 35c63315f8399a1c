"""A host that boots and shuts down well (issue 13 items 1 to 3): what a
VM depends on starts first and stops last, autostart runs independent VMs
in parallel as far as autostart_parallel allows, one deadline bounds the
daemon's shutdown, and a probe that keeps failing restarts a VM, then
fails it.  Against the bhyve stand-in; every order is read from the hooks'
own record, never from a clock."""

import json
import signal
import subprocess

from vmstated_harness import pid_alive, ucl_document, wait_for, write_file

UP = "guest is up"


def order(d):
    """Every recorded hook run of every VM, in order: "vm state"."""
    try:
        lines = d.hook_log.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [" ".join(l.split(" ")[:2]) for l in lines]


def probe(d, vmdir, body):
    """The VM's probe (not recorded with the hooks: it is not one)."""
    d.write_hook(vmdir, "probe", body)


def index(seq, item):
    assert item in seq, "%r not in %r" % (item, seq)
    return seq.index(item)


def last_index(seq, item):
    assert item in seq, "%r not in %r" % (item, seq)
    return len(seq) - 1 - seq[::-1].index(item)


# ---- depends --------------------------------------------------------------

def test_a_start_starts_what_the_vm_needs_first(vmstated):
    d = vmstated
    d.add_vm("db", record_hooks=True,
             hooks={"start_storage": "sleep 0.3"})
    d.add_vm("app", {"depends": ["db"]}, record_hooks=True)
    d.start()
    d.ctl("start", "app", check=0)
    d.wait_state("app", "running")
    assert d.state("db") == "running"
    seen = order(d)
    # app's start begins once db is ready: running, its hook done.
    assert last_index(seen, "db running") < index(seen, "app start_network")
    assert "waiting for the VMs it depends on" in d.log("app")


def test_a_probe_makes_a_vm_ready_only_once_it_passed(vmstated):
    d = vmstated
    gate = d.root / "db-healthy"
    probe(d, d.add_vm("db", {"probe_interval": 1}, record_hooks=True),
          "test -e %s" % gate)
    d.add_vm("app", {"depends": ["db"]}, record_hooks=True)
    d.start()
    d.ctl("start", "app", check=0)
    d.wait_state("db", "running")
    d.wait_log("db", "probe failed")
    assert d.state("app") == "stopped"          # still waiting
    assert d.status("db")["ready"] is False
    gate.touch()
    d.wait_state("app", "running")
    assert d.status("db")["ready"] is True
    info = json.loads(d.ctl("-j", "info", "db")[1])["vm"]
    assert info["probe"]["ok"] is True


def test_a_stop_waiting_for_dependencies_is_cancelled_by_stop(vmstated):
    d = vmstated
    gate = d.root / "never"
    probe(d, d.add_vm("db", {"probe_interval": 1}, record_hooks=True),
          "test -e %s" % gate)
    d.add_vm("app", {"depends": ["db"]}, record_hooks=True)
    d.start()
    d.ctl("start", "app", check=0)
    d.wait_log("app", "waiting for the VMs it depends on")
    d.ctl("stop", "app", check=0)
    d.wait_log("app", "is cancelled by stop")
    assert "app start_network" not in order(d)


def test_a_needed_vm_is_not_stopped_without_recursive(vmstated):
    d = vmstated
    d.add_vm("db", record_hooks=True, standin={"stdout": UP})
    d.add_vm("app", {"depends": ["db"]}, record_hooks=True,
             standin={"stdout": UP})
    d.start()
    d.ctl("-w", "start", "app", check=0)
    d.wait_log("db", UP)
    d.wait_log("app", UP)
    rc, _, err = d.ctl("stop", "db")
    assert rc == 1 and "db is needed by app" in err and "stop -r" in err
    assert d.state("db") == "running"
    # -r: app first, then db.
    d.ctl("-w", "stop", "-r", "db", check=0)
    assert d.state("app") == "stopped"
    seen = order(d)
    assert last_index(seen, "app stopped") < index(seen, "db stopping")


def test_a_dependency_that_cannot_start_ends_the_wait_without_spinning(
        vmstated):
    # app needs db, db needs x, and x is failed: db's start is refused.
    # app must give up, saying why, and the daemon must keep answering
    # (it used to ask db to start again on every turn of its loop).
    d = vmstated
    d.add_vm("x", hooks={"start_network": "exit 1"})
    d.add_vm("db", {"depends": ["x"]})
    d.add_vm("app", {"depends": ["db"]})
    d.start()
    d.ctl("start", "x")
    d.wait_state("x", "failed")
    d.ctl("start", "app", check=0)
    d.wait_log("app", "not starting: db, which it depends on, is stopped",
               timeout=20)
    assert "x, which it depends on, is failed" in d.log("db")
    assert {v["name"]: v["state"] for v in d.status()} == {
        "x": "failed", "db": "stopped", "app": "stopped"}


def test_a_dependency_stopped_while_a_vm_waits_stays_stopped(vmstated):
    # The administrator stops db while app waits for it: db stays
    # stopped and app gives up, instead of db being started again.
    d = vmstated
    gate = d.root / "gate"
    d.add_vm("db", record_hooks=True,
             hooks={"start_storage": "while ! test -e %s; do sleep 0.1; "
                                     "done" % gate})
    d.add_vm("app", {"depends": ["db"]}, record_hooks=True)
    d.start()
    d.ctl("start", "app", check=0)
    d.wait_hook("db", "start_storage")
    d.ctl("stop", "db", check=0)
    gate.touch()
    d.wait_log("app", "not starting: db, which it depends on, is being "
               "stopped", timeout=20)
    d.wait_state("db", "stopped")
    assert order(d).count("db start_network") == 1
    assert "app start_network" not in order(d)
    assert d.state("app") == "stopped"


def test_a_start_waits_for_a_dependency_whose_stopped_hook_runs(vmstated):
    # db was just stopped and its stopped hook still runs: a start of app
    # starts db once that hook has ended, then app.
    d = vmstated
    gate = d.root / "gate"
    d.add_vm("db", record_hooks=True,
             hooks={"stopped": "while ! test -e %s; do sleep 0.1; done"
                               % gate})
    d.add_vm("app", {"depends": ["db"]}, record_hooks=True)
    d.start()
    d.ctl("-w", "start", "db", check=0)
    d.ctl("stop", "db", check=0)
    d.wait_hook("db", "stopped")
    d.ctl("start", "app", check=0)
    gate.touch()
    d.wait_state("app", "running")
    seen = order(d)
    assert last_index(seen, "db running") < index(seen, "app start_network")


def test_a_start_is_refused_while_a_dependency_is_being_stopped(vmstated):
    d = vmstated
    gate = d.root / "gate"
    d.add_vm("db", record_hooks=True,
             hooks={"stopping": "while ! test -e %s; do sleep 0.1; done"
                                % gate})
    d.add_vm("app", {"depends": ["db"]}, record_hooks=True)
    d.start()
    d.ctl("-w", "start", "db", check=0)
    d.ctl("stop", "db", check=0)
    d.wait_hook("db", "stopping")
    rc, _, err = d.ctl("start", "app")
    assert rc == 1 and "db, which it depends on, is being stopped" in err
    gate.touch()
    d.wait_state("db", "stopped")
    assert d.state("app") == "stopped"
    assert order(d).count("db start_network") == 1


def rewrite_depends(d, vm, depends):
    """A new config for vm with these depends (for a reload)."""
    settings = {"configfile": str(d.vm_dir(vm) / "bhyve_config")}
    if depends:
        settings["depends"] = depends
    write_file(d.vm_dir(vm) / "config", ucl_document(vm, settings))


def test_dependencies_a_reload_turned_into_a_cycle_still_stop(vmstated):
    # a runs, needing b.  b is killed; a reload gives b "depends a" and a
    # no depends -- for its next start: in force, a and b now need each
    # other.  stop -r and the shutdown must still stop both (the daemon
    # used to pass the stop between them for ever, at full CPU).
    d = vmstated
    d.add_vm("a", {"depends": ["b"]}, record_hooks=True,
             standin={"stdout": UP})
    d.add_vm("b", record_hooks=True, standin={"stdout": UP})
    d.start()
    d.ctl("-w", "start", "a", check=0)
    d.ctl("-w", "kill", "b", check=0)
    rewrite_depends(d, "a", [])
    rewrite_depends(d, "b", ["a"])
    d.ctl("reload", check=0)
    d.ctl("-w", "start", "b", check=0)
    d.ctl("-t", "30", "-w", "stop", "-r", "a", check=0)
    assert d.state("b") == "stopped"
    d.ctl("-w", "start", "b", check=0)
    assert d.stop() == 0
    assert order(d)[-1] in ("a stopped", "b stopped")
    assert "killed at the deadline" not in d.stderr()


def test_a_start_into_a_cycle_a_reload_made_gives_up(vmstated):
    # a waits for b; b's start waits for its stopped hook, and a reload
    # meanwhile makes b need a: neither may wait for the other for ever.
    d = vmstated
    gate = d.root / "gate"
    d.add_vm("a", {"depends": ["b"]}, record_hooks=True)
    d.add_vm("b", record_hooks=True,
             hooks={"stopped": "while ! test -e %s; do sleep 0.1; done"
                               % gate})
    d.start()
    d.ctl("-w", "start", "b", check=0)
    d.ctl("stop", "b", check=0)
    d.wait_hook("b", "stopped")
    d.ctl("start", "a", check=0)
    d.wait_log("a", "waiting for the VMs it depends on")
    rewrite_depends(d, "a", [])
    rewrite_depends(d, "b", ["a"])
    d.ctl("reload", check=0)
    gate.touch()
    d.wait_log("b", "a, which it depends on, waits for b in turn",
               timeout=20)
    d.wait_log("a", "not starting: b, which it depends on, is stopped",
               timeout=20)
    assert d.state("a") == "stopped" and d.state("b") == "stopped"


def test_cycles_unknown_names_and_self_are_refused_at_load(vmstated):
    d = vmstated
    d.add_vm("a", {"depends": ["b"]})
    d.add_vm("b", {"depends": ["c"]})
    d.add_vm("c", {"depends": ["a"]})
    d.add_vm("self", {"depends": ["self"]})
    d.add_vm("lost", {"depends": ["nosuch"]})
    d.add_vm("ok")
    p = subprocess.run(d.command("-n"), capture_output=True, text=True)
    assert p.returncode == 1
    err = p.stderr
    for vm in ("a", "b", "c"):
        assert "%s/config:" % vm in err
    assert "dependency cycle: a -> b -> c -> a" in err
    assert "self depends on itself" in err
    assert 'no VM is named "nosuch"' in err
    assert p.stdout.splitlines()[0].startswith("ok\t")
    d.start()
    assert {v["name"]: v["state"] for v in d.status()} == {
        "ok": "stopped", "a": "invalid", "b": "invalid", "c": "invalid",
        "self": "invalid", "lost": "invalid"}


def test_status_d_shows_the_start_order(vmstated):
    d = vmstated
    d.add_vm("app", {"depends": ["db", "dns"]})
    d.add_vm("db", {"depends": ["dns"]})
    d.add_vm("dns")
    d.start()
    rc, out, _ = d.ctl("status", "-d")
    assert rc == 0
    rows = [l.split() for l in out.splitlines()[1:]]
    assert [(r[0], r[1]) for r in rows] == [("1", "dns"), ("2", "db"),
                                            ("3", "app")]
    assert out.splitlines()[-1].endswith("db, dns")


# ---- autostart --------------------------------------------------------------

def autostart_vms(d, parallel):
    d.conf_settings["autostart_parallel"] = parallel
    for vm in ("a", "b"):
        d.add_vm(vm, {"autostart": True}, record_hooks=True,
                 hooks={"start_storage": "sleep 0.5"})
    d.add_vm("c", {"autostart": True, "depends": ["a", "b"]},
             record_hooks=True)
    d.start()
    for vm in ("a", "b", "c"):
        d.wait_state(vm, "running")
    return order(d)


def test_autostart_runs_independent_vms_in_parallel(vmstated):
    seen = autostart_vms(vmstated, 2)
    # b starts before a is up; c waits for both.
    assert index(seen, "b start_network") < index(seen, "a running")
    assert max(index(seen, "a running"), index(seen, "b running")) < \
        index(seen, "c start_network")


def test_autostart_parallel_1_starts_one_at_a_time(vmstated):
    seen = autostart_vms(vmstated, 1)
    assert index(seen, "a running") < index(seen, "b start_network")
    assert index(seen, "b running") < index(seen, "c start_network")


def test_autostart_delay_lets_the_others_go_first(vmstated):
    d = vmstated
    d.add_vm("late", {"autostart": True, "autostart_delay": 2},
             record_hooks=True)
    d.add_vm("quick", {"autostart": True}, record_hooks=True)
    d.start()
    d.wait_state("late", "running")
    seen = order(d)
    assert index(seen, "quick running") < index(seen, "late start_network")
    assert "late: autostart in 2 s" in d.stderr()


def test_sigterm_during_an_autostart_delay_exits_at_once(vmstated):
    # The delay is not a wait the shutdown has to sit out: nothing runs.
    d = vmstated
    d.add_vm("late", {"autostart": True, "autostart_delay": 3600},
             record_hooks=True)
    d.start()
    wait_for(lambda: "late: autostart in 3600 s" in d.stderr(),
             what="the delay to begin", details=d.stderr)
    assert d.stop(timeout=30) == 0
    assert order(d) == []
    assert "every VM is stopped; exiting" in d.stderr()


def test_autostart_says_why_the_vms_after_one_that_is_not_ready_wait(
        vmstated):
    # a runs but its probe does not pass: it keeps its autostart turn
    # (autostart_parallel 1), and the log says that b waits for it.
    d = vmstated
    gate = d.root / "a-healthy"
    d.conf_settings["autostart_parallel"] = 1
    probe(d, d.add_vm("a", {"autostart": True, "probe_interval": 1,
                            "probe_failures": 1000}, record_hooks=True),
          "test -e %s" % gate)
    d.add_vm("b", {"autostart": True}, record_hooks=True)
    d.start()
    wait_for(lambda: "autostart: a runs but is not ready (its probe has "
             "not passed); b and the VMs after it wait" in d.stderr(),
             timeout=20, what="the autostart note", details=d.stderr)
    assert "b start_network" not in order(d)
    assert "autostart: not ready" in d.log("a")
    gate.touch()
    d.wait_state("b", "running")


# ---- shutdown ----------------------------------------------------------------

def test_shutdown_stops_dependents_before_what_they_need(vmstated):
    d = vmstated
    d.add_vm("db", record_hooks=True, standin={"stdout": UP})
    d.add_vm("app", {"depends": ["db"]}, record_hooks=True,
             standin={"stdout": UP})
    d.start()
    d.ctl("-w", "start", "app", check=0)
    d.wait_log("db", UP)
    d.wait_log("app", UP)
    assert d.stop() == 0
    seen = order(d)
    assert last_index(seen, "app stopped") < index(seen, "db stopping")


def test_the_shutdown_deadline_kills_a_guest_that_ignores_its_button(
        vmstated):
    # shutdown_timeout 12: at 9 s (3 s of grace left) what still runs is
    # killed, its stop hooks still run, and the daemon exits.
    d = vmstated
    d.conf_settings["shutdown_timeout"] = 12
    d.add_vm("stubborn", {"stoptimeout": 300}, record_hooks=True,
             standin={"sigterm": "ignore", "stdout": UP})
    d.add_vm("polite", record_hooks=True, standin={"stdout": UP})
    d.start()
    pids = {}
    for vm in ("stubborn", "polite"):
        d.ctl("-w", "start", vm, check=0)
        d.wait_log(vm, UP)
        pids[vm] = d.status(vm)["pid"]
    assert d.stop(timeout=60) == 0
    assert not pid_alive(pids["stubborn"])
    assert "the shutdown's deadline has come: killed" in d.log("stubborn")
    assert "killed at the deadline: stubborn" in d.stderr()
    # Its stop hooks ran; the other VM stopped cleanly.
    assert order(d)[-8:].count("stubborn stopped") == 1
    assert d.standin_exits("polite")[-1]["reason"] == "sigterm"
    assert "the shutdown's deadline" not in d.log("polite")


def test_a_stop_hook_that_hangs_past_the_deadline_is_finished_next_time(
        vmstated):
    # Its stop_storage hook never ends (hooktimeout 0): at the end of
    # shutdown_timeout the daemon exits 1 anyway, naming the VM, and its
    # state file lets the next daemon finish the teardown.  A second
    # SIGTERM meanwhile says when the daemon will exit.
    d = vmstated
    gate = d.root / "gate"
    d.conf_settings["shutdown_timeout"] = 10
    d.add_vm("hang", {"hooktimeout": 0}, record_hooks=True,
             standin={"stdout": UP},
             hooks={"stop_storage": "while ! test -e %s; do sleep 0.1; "
                                    "done" % gate})
    d.start()
    d.ctl("-w", "start", "hang", check=0)
    d.signal(signal.SIGTERM)
    d.wait_hook("hang", "stop_storage")
    d.signal(signal.SIGTERM)
    wait_for(lambda: "SIGTERM again: still stopping VMs; vmstated exits "
             "within" in d.stderr(), what="the second SIGTERM's answer",
             details=d.stderr)
    assert d.proc.wait(60) == 1
    assert "not stopped in time, left as they were: hang" in d.stderr()
    record = json.loads((d.rundir / "hang.state").read_text()
                        .splitlines()[0])
    assert record["position"] == "stop_storage:hook"
    gate.touch()
    d.start()
    d.wait_state("hang", "stopped")
    assert order(d)[-3:] == ["hang stop_storage", "hang stop_network",
                             "hang stopped"]


def test_sigterm_during_autostart_starts_nothing_more(vmstated):
    d = vmstated
    gate = d.root / "gate"
    d.conf_settings["autostart_parallel"] = 1
    d.add_vm("a", {"autostart": True}, record_hooks=True,
             hooks={"start_storage": "while ! test -e %s; do sleep 0.1; "
                                     "done" % gate})
    d.add_vm("b", {"autostart": True}, record_hooks=True)
    d.add_vm("c", {"autostart": True, "depends": ["a"]}, record_hooks=True)
    d.start()
    d.wait_hook("a", "start_storage")
    d.signal(signal.SIGTERM)
    gate.touch()
    assert d.proc.wait(60) == 0
    seen = order(d)
    assert [h for h in seen if not h.startswith("a ")] == []
    assert seen[-1] == "a stopped"


# ---- probes --------------------------------------------------------------------

def test_a_probe_that_keeps_failing_restarts_then_fails_the_vm(vmstated):
    d = vmstated
    healthy = d.root / "healthy"
    healthy.touch()
    probe(d, d.add_vm("vm1", {"probe_interval": 1, "probe_failures": 2,
                              "maxrestart": 1, "maxrestarttime": 300},
                      record_hooks=True),
          "test -e %s" % healthy)
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    d.wait_log("vm1", "probe passed")
    healthy.unlink()                      # the guest hangs
    d.wait_state("vm1", "failed")
    changes = d.transitions("vm1")
    assert ("running", "restarting", "probe-failed") in changes
    assert changes[-1] == ("stop_network", "failed", "restart-limit")
    assert "its probe failed too often" in d.log("vm1")


def test_a_guest_that_never_passes_its_probe_fails_however_slow(vmstated):
    # Each round (probe_failures probes, probe_interval apart) takes longer
    # than maxrestarttime, as with the defaults (3 x 10 s against 30 s):
    # the VM must still end in failed, not restart for ever.
    d = vmstated
    vm = d.add_vm("vm1", {"probe_interval": 1, "probe_failures": 2,
                          "maxrestart": 2, "maxrestarttime": 1},
                  standin={"stdout": UP})
    probe(d, vm, "exit 1")
    d.start()
    d.ctl("start", "vm1", check=0)
    d.wait_state("vm1", "failed", timeout=40)
    assert "2 restarts since its probe last passed (maxrestart 2); giving up" in \
        d.log("vm1")
    assert d.log("vm1").count("(reason probe-failed)") >= 2


def test_probe_results_are_in_events(vmstated):
    d = vmstated
    probe(d, d.add_vm("vm1", {"probe_interval": 1}), "exit 0")
    d.start()
    sub = d.events()
    d.ctl("start", "vm1", check=0)
    ev = sub.wait(lambda e: e.get("event") == "probe", what="a probe event")
    assert ev["vm"] == "vm1" and ev["ok"] is True and ev["failures"] == 0
    sub.close()


def test_vmstatedctl_events_shows_probe_results(vmstated, stream):
    # A probe that keeps failing is reported at every failure, so the
    # stream sees one whenever it has subscribed.
    d = vmstated
    probe(d, d.add_vm("vm1", {"probe_interval": 1, "probe_failures": 1000}),
          "exit 1")
    d.start()
    events = stream(d, "events")
    d.ctl("start", "vm1", check=0)
    line = events.wait_line(r"\S+ vm1 probe failed \(\d+ in a row\)")
    assert int(line.split("(")[1].split()[0]) >= 1
    info = json.loads(d.ctl("-j", "info", "vm1", check=0)[1])["vm"]
    assert info["probe"]["ok"] is False and info["probe"]["runs"] >= 1


def test_a_probe_removed_while_the_vm_runs_stops_probing(vmstated):
    # Removing the probe is the administrator's way of turning it off: it
    # must not count as a failing probe (which kills the VM).
    d = vmstated
    vm = d.add_vm("vm1", {"probe_interval": 1, "probe_failures": 1},
                  standin={"stdout": UP})
    probe(d, vm, "exit 0")
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    d.wait_log("vm1", "probe passed")
    pid = d.status("vm1")["pid"]
    (vm / "probe").unlink()
    d.wait_log("vm1", "no more probes until the VM next starts", timeout=20)
    assert d.status("vm1")["pid"] == pid and d.state("vm1") == "running"
    assert "probe failed" not in d.log("vm1")
    assert d.status("vm1")["ready"] is True


def test_what_a_probe_leaves_running_is_killed_when_it_ends(vmstated):
    # A probe that starts a background child (which keeps its output
    # open) ends when it exits; the child does not outlive it, else one
    # more would pile up every probe_interval.
    d = vmstated
    child = d.root / "child.pid"
    vm = d.add_vm("vm1", {"probe_interval": 300}, standin={"stdout": UP})
    probe(d, vm, "sleep 1000 &\necho $! > %s\nexit 0" % child)
    d.start()
    d.ctl("-w", "start", "vm1", check=0)
    d.wait_log("vm1", "probe passed")
    pid = int(wait_for(lambda: child.exists() and child.read_text().strip(),
                       what="the probe's child pid"))
    wait_for(lambda: not pid_alive(pid), timeout=20,
             what="the probe's background child %d to be gone" % pid)

