"""vmstated -n: check every configuration, print each error, start nothing.

Each test writes a configuration directory under tmp_path and runs
`$VMSTATED_BUILD/vmstated -n -c DIR`.  A valid VM is one line
"name<TAB>dir<TAB>hypervisor" on stdout; every error is one line on stderr
that names the file, the line and the key; the exit status is 0 only when
everything is valid.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("VMSTATED_BUILD", "build"))
if not BUILD.is_absolute():
    BUILD = REPO / BUILD
VMSTATED = BUILD / "vmstated"
EXAMPLES = REPO / "examples"


@pytest.fixture(autouse=True)
def _built():
    if not VMSTATED.exists():
        pytest.skip("%s is not built (make %s)" % (VMSTATED, VMSTATED))


def check(confdir):
    """Run vmstated -n -c confdir; return (status, stdout, stderr)."""
    p = subprocess.run([str(VMSTATED), "-n", "-c", str(confdir)],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def write(path, text, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def bhyve_vm(conf, dirname, text):
    """A VM directory with text as its config and an empty bhyve_config."""
    write(conf / dirname / "bhyve_config", "cpus=1\n")
    return write(conf / dirname / "config", text)


def listed(out):
    """stdout as a list of (name, dir, hypervisor)."""
    return [tuple(line.split("\t")) for line in out.splitlines()]


# --- valid configurations -------------------------------------------------

def test_every_form_of_a_good_config_is_listed(tmp_path):
    conf = tmp_path / "conf"
    bhyve_vm(conf, "wrapped", "web {\n\tconfigfile = bhyve_config;\n"
             "\tmemory = 4G;\n\tcpus = 2;\n}\n")
    bhyve_vm(conf, "bare", "configfile = bhyve_config;\nmemory = 2048;\n"
             "description = A simple test VM;\nosversion = 13.2;\n")
    bhyve_vm(conf, "json", '{"jsonvm": {"configfile": "bhyve_config",'
             ' "memory": "512M", "autostart": true}}\n')
    bhyve_vm(conf, "compat", "compat {\n configfile = bhyve_config;\n"
             " numcpus = 2;\n autostart = yes;\n hostbridge = hostbridge;\n"
             " wire_memory = yes;\n consoles {\n  com1 {\n"
             "   backend = \"/dev/nmdm0A\";\n   enabled = yes;\n  }\n }\n}\n")
    shutil.copytree(EXAMPLES / "linuxvm", conf / "linuxvm")
    write(conf / "linuxvm" / "vmlinuz", "")
    write(conf / "linuxvm" / "initrd.img", "")
    write(conf / "vmstated.conf", "socket_mode = \"0660\";\n"
          "defaults { stoptimeout = 10; }\n")

    status, out, err = check(conf)
    assert err == ""
    assert status == 0
    assert listed(out) == [
        ("bare", str(conf / "bare"), "bhyve"),
        ("compat", str(conf / "compat"), "bhyve"),
        ("jsonvm", str(conf / "json"), "bhyve"),
        ("linuxvm", str(conf / "linuxvm"), "qemu"),
        ("web", str(conf / "wrapped"), "bhyve"),
    ]


def test_the_man_page_example_loads_unchanged(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(EXAMPLES / "bsdvm", conf / "bsdvm")
    status, out, err = check(conf)
    configfile = "/usr/local/etc/vmstated/bsdvm/bhyve_config"
    if os.path.exists(configfile):
        assert (status, err) == (0, "")
        return
    # Every key is understood: the one complaint is the bhyve_config the
    # example names, which this host does not have.
    assert status == 1
    assert out == ""
    assert err.splitlines() == [
        "%s:2: configfile: cannot read %s: No such file or directory; "
        "correct the path or create it" % (conf / "bsdvm" / "config",
                                           configfile)]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None
                    or not os.path.isdir("/usr/local/etc"),
                    reason="needs root, unshare(1) and /usr/local/etc for a "
                    "private mount namespace")
def test_the_man_page_example_passes_unchanged_where_the_page_puts_it(
        tmp_path):
    # The page installs bsdvm as /usr/local/etc/vmstated/bsdvm and names
    # its bhyve_config there.  A private mount namespace puts the example,
    # unchanged, at that place without touching the host, and vmstated -n
    # reads its default configuration directory.
    etc = tmp_path / "usr-local-etc"
    shutil.copytree(EXAMPLES / "bsdvm", etc / "vmstated" / "bsdvm")
    script = ("mount --make-rprivate / && mount --bind %s /usr/local/etc "
              "&& exec %s -n -c /usr/local/etc/vmstated" % (etc, VMSTATED))
    p = subprocess.run(["unshare", "--mount", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    if "vmstated" not in p.stdout + p.stderr and p.returncode != 0:
        pytest.skip("no mount namespace here: %s" % p.stderr.strip())
    assert (p.returncode, p.stderr) == (0, "")
    assert listed(p.stdout) == [
        ("bsdvm", "/usr/local/etc/vmstated/bsdvm", "bhyve")]


def test_the_man_page_example_pointed_here_is_valid(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(EXAMPLES / "bsdvm", conf / "bsdvm")
    config = conf / "bsdvm" / "config"
    config.write_text(config.read_text().replace(
        "/usr/local/etc/vmstated/bsdvm/bhyve_config",
        str(conf / "bsdvm" / "bhyve_config")))
    status, out, err = check(conf)
    assert (status, err) == (0, "")
    assert listed(out) == [("bsdvm", str(conf / "bsdvm"), "bhyve")]


def test_an_empty_directory_is_valid(tmp_path):
    assert check(tmp_path) == (0, "", "")


def test_dot_directories_and_files_are_not_vms(tmp_path):
    bhyve_vm(tmp_path, "vm", "configfile = bhyve_config;\n")
    write(tmp_path / ".shared" / "notes", "")
    write(tmp_path / "README", "")
    status, out, err = check(tmp_path)
    assert (status, err) == (0, "")
    assert listed(out) == [("vm", str(tmp_path / "vm"), "bhyve")]


# --- each class of error ----------------------------------------------------

# (config text, line, key, words of the message)
ERRORS = {
    "unknown key": (
        "configfile = bhyve_config;\nmemroy = 4G;\n", 2, "memroy",
        'unknown key; did you mean "memory"?'),
    "wrong type": (
        "configfile = bhyve_config;\nmemory = lots;\n", 2, "memory",
        'expected megabytes (e.g. 2048) or a size with K/M/G/T suffix '
        '(e.g. "4G"), got "lots"'),
    "out of range": (
        "configfile = bhyve_config;\ncpus = 512;\n", 2, "cpus",
        "512 is out of range: expected a number of virtual CPUs from 1 to "
        "256"),
    "missing value": (
        "vm {\n\tdescription = no configfile;\n}\n", 1, "configfile",
        "missing: a bhyve VM needs the bhyve configuration file"),
    "no such owner": (
        "configfile = bhyve_config;\nowner = nosuchuser0x;\n", 2, "owner",
        'no such user "nosuchuser0x" on this host'),
    "no such group": (
        "configfile = bhyve_config;\ngroup = nosuchgroup0x;\n", 2, "group",
        'no such group "nosuchgroup0x" on this host'),
    "unreadable file": (
        "configfile = /nonexistent/bhyve_config;\n", 1, "configfile",
        "cannot read /nonexistent/bhyve_config: No such file or directory"),
    "duplicate key": (
        "configfile = bhyve_config;\nmemory = 1G;\nmemory = 2G;\n", 3,
        "memory", "given twice (first on line 2); keep one"),
    "bad topology": (
        "configfile = bhyve_config;\ncpus = 6;\nsockets = 2;\ncores = 2;\n",
        2, "cpus",
        "6 does not match sockets (2) x cores (2) x threads (1) = 4"),
    "bad name": (
        "configfile = bhyve_config;\nname = \"my vm\";\n", 2, "name",
        '"my vm" (from name) is not a valid VM name'),
    "key of the other hypervisor": (
        "hypervisor = qemu;\nconfigfile = bhyve_config;\n", 2, "configfile",
        "is a bhyve setting, and this VM's hypervisor is qemu"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error_names_file_line_and_key(tmp_path, case):
    text, line, key, words = ERRORS[case]
    config = bhyve_vm(tmp_path, "vm", text)
    status, out, err = check(tmp_path)
    assert status == 1
    assert out == ""
    assert "%s:%d: %s: %s" % (config, line, key, words) in err, err


def test_syntax_error_names_line_and_column(tmp_path):
    config = bhyve_vm(tmp_path, "vm", "vm {\n\tdescription = \"abc\n}\n")
    status, out, err = check(tmp_path)
    assert status == 1
    # file:line:column, as the parser words it.
    assert re.match(r"%s:2:\d+: unterminated string" % re.escape(str(config)),
                    err), err


def test_directory_without_config_is_reported(tmp_path):
    write(tmp_path / "leftover" / "disk.img", "")
    status, out, err = check(tmp_path)
    assert status == 1
    config = tmp_path / "leftover" / "config"
    assert err == ("%s: no config file; create %s or remove the directory "
                   "(keep shared files in a directory whose name starts "
                   "with a dot)\n" % (config, config))


def test_every_error_is_printed_one_per_line(tmp_path):
    config = bhyve_vm(tmp_path, "vm", "vm {\n configfile = bhyve_config;\n"
                      " memory = lots;\n cpus = many;\n stoptimeout = 0;\n"
                      " colour = blue;\n}\n")
    status, out, err = check(tmp_path)
    assert status == 1
    lines = err.splitlines()
    assert [l.split(": ")[0] for l in lines] == [
        "%s:%d" % (config, n) for n in (3, 4, 5, 6)]
    assert [l.split(": ")[1] for l in lines] == [
        "memory", "cpus", "stoptimeout", "colour"]


def test_a_bad_vm_does_not_hide_a_good_one(tmp_path):
    bhyve_vm(tmp_path, "a-good", "configfile = bhyve_config;\n")
    bad = bhyve_vm(tmp_path, "b-bad", "configfile = bhyve_config;\n"
                   "maxrestart = -1;\n")
    bhyve_vm(tmp_path, "c-good", "configfile = bhyve_config;\n")
    status, out, err = check(tmp_path)
    assert status == 1
    assert [vm[0] for vm in listed(out)] == ["a-good", "c-good"]
    assert err == ("%s:2: maxrestart: -1 is out of range: expected a number "
                   "of restarts from 0 to 1000000\n" % bad)


def test_duplicate_names_refuse_both_and_name_both_directories(tmp_path):
    one = bhyve_vm(tmp_path, "one", "web { configfile = bhyve_config; }\n")
    two = bhyve_vm(tmp_path, "two", "configfile = bhyve_config;\n"
                   "name = web;\n")
    bhyve_vm(tmp_path, "three", "configfile = bhyve_config;\n")
    status, out, err = check(tmp_path)
    assert status == 1
    assert [vm[0] for vm in listed(out)] == ["three"]
    assert err.splitlines() == [
        '%s:1: name: "web" is also the name of the VM in %s; VM names must '
        'be unique: rename one of them' % (one, tmp_path / "two"),
        '%s:2: name: "web" is also the name of the VM in %s; VM names must '
        'be unique: rename one of them' % (two, tmp_path / "one"),
    ]


def test_a_bad_vmstated_conf_is_an_error(tmp_path):
    bhyve_vm(tmp_path, "vm", "configfile = bhyve_config;\n")
    conf = write(tmp_path / "vmstated.conf", "socket_mode = 0660;\n"
                 "defaults {\n\tmemroy = 1G;\n}\n")
    status, out, err = check(tmp_path)
    assert status == 1
    assert listed(out) == [("vm", str(tmp_path / "vm"), "bhyve")]
    assert err.splitlines() == [
        '%s:1: socket_mode: write the mode as octal digits in a string, '
        'e.g. socket_mode = "0660"; UCL reads the bare number 0660 as '
        'decimal 660' % conf,
        '%s:3: defaults.memroy: unknown key; did you mean "memory"?' % conf,
    ]


def test_an_unreadable_configuration_directory_is_an_error(tmp_path):
    missing = tmp_path / "nothere"
    status, out, err = check(missing)
    assert status == 1
    assert out == ""
    assert err == ("%s: cannot read the configuration directory: No such "
                   "file or directory\n" % missing)
