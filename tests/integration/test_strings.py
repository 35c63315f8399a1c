"""Strings are bounded and valid, from the configuration to the socket.

A configuration string has a documented limit and must be UTF-8, or the
VM is invalid with the file, the line and the key.  Every reply of the
daemon is valid UTF-8 JSON, even when it names a directory whose name is
not UTF-8.  A request whose meaning JSON readers disagree on is refused:
a key given twice, a string holding \\u0000, text that is not UTF-8.
"""
import json
import socket


def exchange(d, line):
    """Send one raw request line (bytes) on a fresh connection; return
    the raw reply line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(str(d.sock))
        s.sendall(line + b"\n")
        with s.makefile("rb") as f:
            reply = f.readline()
    assert reply.endswith(b"\n"), reply
    return reply


def utf8_json(raw):
    """The reply decoded as JSON, failing if it is not valid UTF-8."""
    return json.loads(raw.decode("utf-8", errors="strict"))


def refused(d, line):
    reply = utf8_json(exchange(d, line))
    assert reply["ok"] is False, reply
    return reply["error"]


# ---- requests --------------------------------------------------------------

def test_a_key_given_twice_is_refused(vmstated):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    # Most JSON readers take the last "command", the UCL parser kept the
    # first: a request must mean one thing.
    error = refused(d, b'{"command": "start", "vms": ["vm1"], '
                       b'"command": "status"}')
    assert error == ("invalid JSON at column 38: a key given twice in one "
                     "object")
    error = refused(d, b'{"command": "start", "vms": ["vm1"], '
                       b'"vm\\u0073": ["vm2"]}')
    assert error == ("invalid JSON at column 38: a key given twice in one "
                     "object")
    assert d.state("vm1") == "stopped"


def test_a_nul_in_a_string_is_refused(vmstated):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    # Cut at the NUL, "vm1\u0000x" would start vm1.
    error = refused(d, b'{"command": "start", "vms": ["vm1\\u0000x"]}')
    assert error == ("invalid JSON at column 34: \\u0000 (a NUL character) "
                     "in a string")
    assert d.state("vm1") == "stopped"


def test_a_request_that_is_not_utf8_gets_a_utf8_reply(vmstated):
    d = vmstated
    d.add_vm("vm1")
    d.start()
    error = refused(d, b'{"command": "start", "vms": ["vm1\xff"]}')
    assert error == "invalid JSON at column 34: text that is not UTF-8"


# ---- replies ---------------------------------------------------------------

def test_a_directory_name_that_is_not_utf8_is_replied_as_utf8(vmstated):
    d = vmstated
    d.add_vm("good")
    bad = d.conf / "caf\udce9"        # the byte 0xe9 (Latin-1), as is
    bad.mkdir()
    (bad / "config").write_text("configfile = x;\nk\udcff = 1;\n",
                                errors="surrogateescape")
    d.start()
    reply = utf8_json(exchange(d, b'{"command": "status"}'))
    names = sorted(v["name"] for v in reply["vms"])
    assert names == ["caf\ufffd", "good"]
    invalid = [v for v in reply["vms"] if v["name"] == "caf\ufffd"][0]
    assert invalid["state"] == "invalid"
    assert "caf\ufffd/config:2: k\ufffd: unknown key" in invalid["error"]


# ---- configuration strings -------------------------------------------------

def test_a_10_mib_description_is_refused_at_load(vmstated):
    d = vmstated
    vmdir = d.add_vm("vm1", {"description": "d" * (10 * 1024 * 1024)})
    d.add_vm("vm2")
    d.start()
    raw = exchange(d, b'{"command": "status"}')
    assert len(raw) < 4096
    vm1 = [v for v in utf8_json(raw)["vms"] if v["name"] == "vm1"][0]
    assert vm1["state"] == "invalid"
    assert vm1["error"] == (
        "%s: cannot read: it holds more than 1 MiB, the limit for a "
        "configuration file with the files it includes" % (vmdir / "config"))


def test_a_description_over_its_limit_is_refused_with_its_line(vmstated):
    d = vmstated
    vmdir = d.add_vm("vm1", {"description": "d" * 1025})
    d.add_vm("vm2", {"description": "d" * 1024})
    d.start()
    status = d.status()
    vm1 = [v for v in status if v["name"] == "vm1"][0]
    assert vm1["state"] == "invalid"
    assert vm1["error"] == ("%s:2: description: is 1025 bytes long; at most "
                            "1024 are allowed: shorten it"
                            % (vmdir / "config"))
    assert [v["description"] for v in status if v["name"] == "vm2"] == [
        "d" * 1024]


def test_a_string_that_is_not_utf8_is_refused_with_its_line(vmstated):
    d = vmstated
    vmdir = d.add_vm("vm1")
    config = vmdir / "config"
    config.write_bytes(config.read_bytes().replace(
        b"{\n", b"{\n\tdescription = \"caf\xe9\";\n", 1))
    d.start()
    vm1 = d.status("vm1")
    assert vm1["state"] == "invalid"
    assert vm1["error"] == ("%s:2: description: is not valid UTF-8 (byte "
                            "0xe9 at offset 3); write it in UTF-8" % config)
