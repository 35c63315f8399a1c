"""vmstated_users: throw-away local users, for the tests of who sees what.

    with local_users("owner", "stranger") as users:
        users["owner"]            # the user name
        users.run("owner", [prog, args...])   # run as that user

Each user is created with useradd(8) (its own group, no home, /bin/sh as
its shell, a password field that locks no one out of key-based ssh) and
removed again, with its group, however the test ends.  Tests that need
them call require_users() first: it skips without root, useradd(8) and
setpriv(1).
"""
import contextlib
import grp
import os
import pwd
import stat
import subprocess
import uuid
from pathlib import Path

SETPRIV = "/usr/bin/setpriv"


def require_users():
    import pytest
    if os.geteuid() != 0 or not Path(SETPRIV).exists() or \
            not Path("/usr/sbin/useradd").exists():
        pytest.skip("needs root, useradd(8) and setpriv(1), to create "
                    "users and run programs as them")


def require_reachable(path):
    """Skip unless others may reach path (every directory above it o+x)."""
    import pytest
    for parent in Path(path).resolve().parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            pytest.skip("%s is not searchable by others (o+x), so the test "
                        "users cannot reach %s" % (parent, path))


class Users:
    def __init__(self, roles):
        tag = uuid.uuid4().hex[:6]
        self.names = {r: "vmst%s-%s" % (r[:3], tag) for r in roles}

    def __getitem__(self, role):
        return self.names[role]

    def uid(self, role):
        return pwd.getpwnam(self.names[role]).pw_uid

    def command(self, role, argv):
        """argv run as the user (its uid, group and groups)."""
        pw = pwd.getpwnam(self.names[role])
        return [SETPRIV, "--reuid", str(pw.pw_uid), "--regid",
                str(pw.pw_gid), "--init-groups"] + [str(a) for a in argv]

    def run(self, role, argv, env=None, timeout=60):
        """(status, stdout, stderr) of argv run as the user."""
        p = subprocess.run(self.command(role, argv),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout, env=env)
        return p.returncode, p.stdout, p.stderr


@contextlib.contextmanager
def local_users(*roles):
    users = Users(roles)
    made = []
    try:
        for name in users.names.values():
            subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s",
                            "/bin/sh", "-p", "*", name], check=True,
                           capture_output=True)
            made.append(name)
        yield users
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True)
            try:
                grp.getgrnam(name)
                subprocess.run(["groupdel", name], capture_output=True)
            except KeyError:
                pass
