"""Settings the end-to-end tests share (importable under a name of its
own: with tests/integration collected in the same run, "conftest" would
name the other directory's conftest)."""
from pathlib import Path

# A boot under TCG on a loaded 2-core machine takes 15-20 s; allow plenty.
BOOT_TIMEOUT = 180
FAKE_QEMU = Path(__file__).resolve().parent / "fake-qemu"
