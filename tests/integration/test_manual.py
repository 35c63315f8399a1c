"""The manual says what the program does: the state table of vmstated(8)
is the one `vmstated -T` prints (issue 9 item 1)."""

import subprocess

from vmstated_harness import REPO, program, require

BEGIN = '.\\" BEGIN vmstated -T'
END = '.\\" END vmstated -T'


def manual_table():
    text = (REPO / "man" / "vmstated.8").read_text()
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(BEGIN))
    end = next(i for i, l in enumerate(lines) if l.startswith(END))
    return lines[start + 1:end]


def test_the_manual_shows_the_table_vmstated_runs():
    require("vmstated")
    p = subprocess.run([str(program("vmstated")), "-T"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    printed = p.stdout.splitlines()
    assert printed, "vmstated -T printed nothing"
    assert manual_table() == printed, (
        "man/vmstated.8 and vmstated -T differ: paste the output of "
        "`vmstated -T` between the BEGIN and END lines")


def test_the_table_names_every_state_and_request():
    require("vmstated")
    out = subprocess.run([str(program("vmstated")), "-T"],
                         capture_output=True, text=True, timeout=30).stdout
    for state in ("stopped", "start_network", "start_storage", "running",
                  "restarting", "restarted", "stopping", "stop_storage",
                  "stop_network", "failed"):
        assert state in out
    for event in ("start", "stop", "restart", "kill", "failreset",
                  "shutdown", "remove", "stop-timer", "retry-timer"):
        assert event in out
