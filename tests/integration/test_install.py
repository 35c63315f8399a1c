"""make install: every file where the system looks for it.

FreeBSD's service(8) finds rc.d scripts in local_startup
(/usr/local/etc/rc.d); systemd reads units from /usr/local/lib/systemd/system
and /usr/lib/systemd/system.  SERVICE=rc.d or SERVICE=systemd selects a
system's layout on another one.  Each test stages an installation with
DESTDIR under tmp_path, with GNU make and with BSD make, from the programs
already built in $VMSTATED_BUILD.
"""
import os
import platform
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from vmstated_harness import wait_for

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("VMSTATED_BUILD", "build"))
if not BUILD.is_absolute():
    BUILD = REPO / BUILD

# GNU make is gmake on FreeBSD, where make is BSD make.
MAKES = ["gmake" if shutil.which("gmake") else "make", "bmake"]
if platform.system() == "FreeBSD":
    MAKES = ["gmake", "make"]


@pytest.fixture(params=MAKES)
def make(request):
    name = request.param
    if shutil.which(name) is None:
        pytest.skip("%s is not installed (sh scripts/deps)" % name)
    # install depends on all: a stale build would be rebuilt here, with
    # flags other than the suite's.  (BSD make -q fails even when all is
    # built: GNU make tells.)
    programs = [str(BUILD / p) for p in ("vmstated", "vmstatedctl", "ucl2json")]
    gnu = shutil.which(MAKES[0])
    if gnu and subprocess.run([gnu, "-q", "O=%s" % BUILD] + programs,
                              cwd=REPO, capture_output=True).returncode != 0:
        pytest.skip("%s is not up to date (make O=%s all)" % (BUILD, BUILD))
    return name


def install(make, stage, *args):
    p = subprocess.run([make, "-s", "O=%s" % BUILD, "DESTDIR=%s" % stage]
                       + list(args) + ["install"], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def systemd_unit_paths():
    if shutil.which("systemd-analyze") is None:
        return None
    p = subprocess.run(["systemd-analyze", "unit-paths"],
                       capture_output=True, text=True, timeout=60)
    return p.stdout.split() if p.returncode == 0 else None


def test_freebsd_layout_puts_rc_script_where_service_looks(make, tmp_path):
    install(make, tmp_path, "PREFIX=/usr/local", "SERVICE=rc.d")
    rc = tmp_path / "usr/local/etc/rc.d/vmstated"
    assert rc.is_file()
    assert mode(rc) == 0o555
    text = rc.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert 'command="/usr/local/sbin/vmstated"' in text
    assert ': ${vmstated_config:="/usr/local/etc/vmstated"}' in text
    assert "@" not in text.replace("${", "")
    assert (tmp_path / "usr/local/sbin/vmstated").is_file()
    for f in ("bsdvm/config", "bsdvm/bhyve_config", "bsdvm/start_network",
              "linuxvm/config", "vmstated.conf", "README"):
        assert (tmp_path / "usr/local/share/examples/vmstated" / f).is_file()
    assert not list(tmp_path.rglob("*.service"))


@pytest.mark.parametrize("prefix", ["/usr", "/usr/local"])
def test_linux_layout_puts_unit_where_systemd_looks(make, tmp_path, prefix):
    install(make, tmp_path, "PREFIX=" + prefix, "SERVICE=systemd")
    unitdir = prefix + "/lib/systemd/system"
    unit = tmp_path / unitdir.lstrip("/") / "vmstated.service"
    assert unit.is_file()
    assert mode(unit) == 0o644
    text = unit.read_text()
    assert "ExecStart=%s/sbin/vmstated -c %s/etc/vmstated " % (
        prefix, prefix) in text
    assert not list(tmp_path.rglob("rc.d"))
    paths = systemd_unit_paths()
    if paths is not None:
        assert unitdir in paths or "/usr" + unitdir in paths


def test_default_layout_is_this_systems(make, tmp_path):
    install(make, tmp_path, "PREFIX=/usr/local")
    rc = tmp_path / "usr/local/etc/rc.d/vmstated"
    unit = tmp_path / "usr/local/lib/systemd/system/vmstated.service"
    if platform.system() == "FreeBSD":
        assert rc.is_file() and not unit.exists()
    else:
        assert unit.is_file() and not rc.exists()


def test_install_writes_the_paths_of_this_install(make, tmp_path):
    """The unit is made again at each install: a second install with
    another prefix does not copy the first one's paths."""
    install(make, tmp_path / "a", "PREFIX=/usr", "SERVICE=systemd")
    install(make, tmp_path / "b", "PREFIX=/opt/vm", "SERVICE=systemd")
    unit = tmp_path / "b/opt/vm/lib/systemd/system/vmstated.service"
    assert "ExecStart=/opt/vm/sbin/vmstated " in unit.read_text()


# ---- the service's stop waits as long as vmstated's shutdown may take ------

def default_shutdown_timeout():
    """vmstated.conf(5)'s default shutdown_timeout."""
    text = (REPO / "man/vmstated.conf.5").read_text()
    key = text.index(".It Cm shutdown_timeout")
    line = [l for l in text[key:].splitlines() if "; default " in l][0]
    return int(line.split("; default ")[1].rstrip("."))


def test_the_service_files_wait_for_the_whole_shutdown(make, tmp_path):
    """Both wait for vmstated's shutdown_timeout and 10 s more (vmstated
    exits by its deadline; rc's rcshutdown_timeout and systemd's default
    stop timeout are 90 s)."""
    install(make, tmp_path, "PREFIX=/usr/local", "SERVICE=rc.d")
    install(make, tmp_path, "PREFIX=/usr", "SERVICE=systemd")
    want = default_shutdown_timeout() + 10
    assert want <= 90
    rc = (tmp_path / "usr/local/etc/rc.d/vmstated").read_text()
    assert ': ${vmstated_stop_timeout:="%d"}' % want in rc
    assert 'stop_cmd="vmstated_stop"' in rc
    unit = (tmp_path / "usr/lib/systemd/system/vmstated.service").read_text()
    assert "TimeoutStopSec=%d\n" % want in unit


def rc_stop(tmp_path, script, pid, timeout):
    """Run the rc.d script's vmstated_stop as rc.subr would: rc_pid set,
    warn() as rc.subr's."""
    text = script.read_text()
    body = text[text.index("vmstated_stop()\n"):]
    body = body[:body.index("\n}\n") + 3]
    prog = tmp_path / "stop.sh"
    prog.write_text(
        'warn() { echo "$0: WARNING: $*" >&2; }\n'
        'name=vmstated pidfile=/nonexistent rc_pid=%s\n'
        'vmstated_stop_timeout=%d\n%s\nvmstated_stop\n' %
        (pid if pid else "", timeout, body))
    return subprocess.run(["sh", str(prog)], capture_output=True, text=True,
                          timeout=120)


def orphan(command):
    """A process whose parent has gone (as a daemon's has), so that init
    reaps it: its pid."""
    p = subprocess.run(["sh", "-c", "%s >/dev/null 2>&1 & echo $!" % command],
                       capture_output=True, text=True, timeout=60)
    return int(p.stdout)


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_rc_stop_waits_for_vmstated_then_gives_up_and_kills(make, tmp_path):
    install(make, tmp_path, "PREFIX=/usr/local", "SERVICE=rc.d")
    script = tmp_path / "usr/local/etc/rc.d/vmstated"
    # A daemon that exits on SIGTERM: waited for, success.
    polite = orphan("exec sleep 300")
    p = rc_stop(tmp_path, script, polite, 60)
    assert p.returncode == 0, p.stderr
    assert "Stopping vmstated." in p.stdout
    assert gone(polite)
    # One that ignores it: killed after the timeout, and said so.
    stubborn = orphan("trap '' TERM; while :; do sleep 1; done")
    p = rc_stop(tmp_path, script, stubborn, 1)
    assert p.returncode == 1
    assert "did not exit within 1 seconds; killing it" in p.stderr
    wait_for(lambda: gone(stubborn), what="the stubborn process to go")
    # None running: rc.subr's message.
    p = rc_stop(tmp_path, script, None, 1)
    assert p.returncode == 1
    assert "vmstated not running? (check /nonexistent)." in p.stderr


def test_log_rotation_files_go_where_newsyslog_and_logrotate_read(
        make, tmp_path):
    """newsyslog reads newsyslog.conf.d under /etc and /usr/local/etc
    (FreeBSD 12 and later); logrotate reads /etc/logrotate.d only.  Both
    name the logs and the pidfile of this install, and send SIGUSR1."""
    install(make, tmp_path / "bsd", "PREFIX=/usr/local", "SERVICE=none",
            "LOGROTATE=newsyslog", "LOGDIR=/var/log/vmst")
    conf = tmp_path / "bsd/usr/local/etc/newsyslog.conf.d/vmstated.conf"
    assert conf.is_file() and mode(conf) == 0o644
    entries = [l.split() for l in conf.read_text().splitlines()
               if l and not l.startswith("#")]
    # logfilename owner:group mode count size when flags pidfile signal
    assert entries == [["/var/log/vmst/*.log", "root:wheel", "640", "7",
                        "10240", "*", "GZp", "/var/run/vmstated.pid",
                        "30"]]
    assert not (tmp_path / "bsd/etc/logrotate.d").exists()

    install(make, tmp_path / "lnx", "PREFIX=/usr", "SERVICE=none",
            "LOGROTATE=logrotate", "RUNSTATEDIR=/run")
    conf = tmp_path / "lnx/etc/logrotate.d/vmstated"
    assert conf.is_file() and mode(conf) == 0o644
    text = conf.read_text()
    assert text.count("/var/log/vmstated/*.log {") == 1
    assert 'kill -USR1 "$(cat /run/vmstated.pid)"' in text
    assert "@" not in text
    assert not list(tmp_path.joinpath("lnx").rglob("newsyslog.conf.d"))
    # The default is this system's tool.
    install(make, tmp_path / "dflt", "PREFIX=/usr/local", "SERVICE=none")
    found = [p.relative_to(tmp_path / "dflt") for p in
             (tmp_path / "dflt").rglob("*")
             if p.name in ("vmstated", "vmstated.conf") and
             ("logrotate.d" in str(p) or "newsyslog.conf.d" in str(p))]
    if platform.system() == "FreeBSD":
        assert found == [Path("usr/local/etc/newsyslog.conf.d/"
                              "vmstated.conf")]
    else:
        assert found == [Path("etc/logrotate.d/vmstated")]
