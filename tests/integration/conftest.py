"""Fixtures of the integration tests: vmstated against the bhyve stand-ins.

    vmstated   a Daemon (tests/lib/vmstated_harness.py) in a temporary
               directory, not started: add VMs with add_vm(), then start().
               Teardown kills the daemon and everything it left running.
    standin    a Standin: runs the bhyve and bhyvectl stand-ins directly.

Programs come from $VMSTATED_BUILD (default <repo>/build); tests needing
a program that is not built are skipped with the make command to run.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from vmstated_harness import (  # noqa: E402,F401
    CtlStream, Daemon, Standin, require)


@pytest.fixture
def vmstated(tmp_path):
    require("vmstated", "vmstatedctl", "bhyve-standin", "bhyvectl-standin")
    daemon = Daemon(tmp_path)
    yield daemon
    daemon.cleanup()


@pytest.fixture
def standin(tmp_path):
    require("bhyve-standin", "bhyvectl-standin")
    s = Standin(tmp_path)
    yield s
    s.cleanup()


@pytest.fixture
def stream():
    """stream(d, ARGS...) runs `vmstatedctl ARGS...` in the background
    (a CtlStream); every one is stopped at teardown."""
    streams = []

    def start(d, *args):
        s = CtlStream(d, *args)
        streams.append(s)
        return s
    yield start
    for s in streams:
        s.stop()
