"""Fixtures of the end-to-end tests: vmstated supervising the real
qemu-system-x86_64 booting the tiny test guest (tests/guest/) under TCG.

    guest_dir  the guest's kernel and initramfs, built once per session
               (build-guest caches them in $VMSTATED_GUEST_DIR, default
               $VMSTATED_BUILD/guest).
    vmstated   a QemuDaemon (a Daemon of tests/lib/vmstated_harness.py)
               in a temporary directory, not started: add_guest(), then
               start().  Teardown kills the daemon and every qemu it left.
    fake_vmstated  the same with VMs that run tests/e2e/fake-qemu, a
               stand-in speaking QMP (add_fake()): quick, deterministic
               tests of the qemu back end's command line and QMP handling.

Every hook of a guest records itself (hook_order(), hook_calls() of the
harness); the guest's console lands in the VM log, where its markers
("VMSTATED-GUEST: ...", see tests/guest/README) are looked for.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import vmstated_harness  # noqa: E402
from vmstated_harness import Daemon, wait_for  # noqa: E402

# A boot under TCG on a loaded two-core machine can take half a minute and
# more: every wait for the guest is bounded generously.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_settings import BOOT_TIMEOUT, FAKE_QEMU  # noqa: E402,F401


class QemuDaemon(Daemon):
    """A Daemon whose VMs are qemu guests booting the test guest."""

    def __init__(self, root, guest_dir, qemu):
        super().__init__(root, defaults={"hooktimeout": 30},
                         conf={"qemu_path": qemu})
        self.guest_dir = Path(guest_dir) if guest_dir else None
        self.fake_records = self.root / "fake-qemu"
        self.fake_records.mkdir()
        # fake-qemu runs as "env python3": this test's Python comes first.
        self.env["PATH"] = os.pathsep.join(
            [os.path.dirname(sys.executable), self.env.get("PATH", "")])

    def add_guest(self, name, mode="up", after=1, button="poweroff",
                  shell=False, **settings):
        """A VM booting the test guest in the given mode (tests/guest/init)
        with a recording hook for every state; settings override.  shell:
        a shell on its serial port (vmstated.shell=1)."""
        append = ("console=ttyS0 quiet vmstated.mode=%s vmstated.after=%d "
                  "vmstated.button=%s vmstated.shell=%d"
                  % (mode, after, button, 1 if shell else 0))
        config = {
            "hypervisor": "qemu",
            "memory": 128,
            "kernel": str(self.guest_dir / "vmlinuz"),
            "initrd": str(self.guest_dir / "initramfs.gz"),
            "append": append,
            "qemu_args": ["-accel", "tcg"],
            "stoptimeout": 60,
            "maxrestart": 3,
            "maxrestarttime": 600,
        }
        config.update(settings)
        return self.add_vm(name, config=config, record_hooks=True)

    def add_fake(self, name, fake=None, **settings):
        """A VM running fake-qemu, steered by fake (a dict of fake.* words
        of -append), recording into fake_record(name)."""
        words = {"record": str(self.fake_records / (name + ".jsonl"))}
        words.update(fake or {})
        append = " ".join("fake.%s=%s" % kv for kv in words.items())
        config = {
            "hypervisor": "qemu",
            "qemu_binary": str(FAKE_QEMU),
            "kernel": str(FAKE_QEMU),
            "append": append,
            "stoptimeout": 10,
            "maxrestart": 3,
            "maxrestarttime": 600,
        }
        config.update(settings)
        return self.add_vm(name, config=config, record_hooks=True)

    def fake_record(self, name):
        """What fake-qemu recorded for the VM: dicts, in order."""
        return vmstated_harness.read_json_lines(
            self.fake_records / (name + ".jsonl"))

    def markers(self, vm):
        """The guest's marker lines in the VM log, without the prefix."""
        prefix = "VMSTATED-GUEST: "
        return [line.split(prefix, 1)[1] for line in self.log(vm).splitlines()
                if prefix in line]

    def wait_marker(self, vm, text, count=1, timeout=BOOT_TIMEOUT):
        """Wait until count guest markers start with text; return them."""
        def seen():
            found = [m for m in self.markers(vm) if m.startswith(text)]
            return len(found) >= count and found
        return wait_for(seen, timeout,
                        "%d guest marker(s) %r of %s" % (count, text, vm),
                        lambda: self.explain(vm))

    def hook_pids(self, vm, state):
        """VMSTATED_PID of each recorded run of the state's hook."""
        return [c["VMSTATED_PID"] for c in self.hook_calls(vm)
                if c["VMSTATED_STATE"] == state]


@pytest.fixture(scope="session")
def guest_dir():
    if not sys.platform.startswith("linux"):
        pytest.skip("the test guest is built from Debian's kernel and "
                    "busybox packages: Linux only")
    out = os.environ.get("VMSTATED_GUEST_DIR")
    out = Path(out) if out else vmstated_harness.build_dir() / "guest"
    subprocess.run(["sh", str(vmstated_harness.REPO / "tests/guest/build-guest"),
                    str(out)], check=True)
    return out


def require_programs():
    for name in ("vmstated", "vmstatedctl"):
        path = vmstated_harness.program(name)
        if not path.exists():
            pytest.skip("%s is not built (make %s)" % (path, path))


@pytest.fixture
def vmstated(tmp_path, guest_dir):
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        pytest.skip("qemu-system-x86_64 is not installed "
                    "(apt-get install qemu-system-x86)")
    require_programs()
    daemon = QemuDaemon(tmp_path, guest_dir, qemu)
    yield daemon
    daemon.cleanup()


@pytest.fixture
def fake_vmstated(tmp_path):
    require_programs()
    daemon = QemuDaemon(tmp_path, None, str(FAKE_QEMU))
    yield daemon
    daemon.cleanup()
