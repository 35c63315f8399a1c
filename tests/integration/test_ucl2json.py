"""ucl2json: UCL files as the daemon reads them, printed as JSON.

Each tests/fixtures/ucl/NAME.conf with a NAME.json next to it must print
that JSON (compared as structures); the files under errors/ must be
refused with "ucl2json: FILE:LINE:COL: message" and exit status 1.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

import vmstated_harness
from vmstated_harness import require

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ucl"
PAIRS = sorted(p for p in FIXTURES.rglob("*.conf")
               if p.with_suffix(".json").exists())


def ucl2json(*args, stdin=None):
    require("ucl2json")
    return subprocess.run([str(vmstated_harness.program("ucl2json"))]
                          + [str(a) for a in args],
                          input=stdin, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("conf", PAIRS,
                         ids=[str(p.relative_to(FIXTURES)) for p in PAIRS])
def test_fixture_prints_expected_json(conf):
    r = ucl2json(conf)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.endswith("\n")
    want = json.loads(conf.with_suffix(".json").read_text())
    assert json.loads(r.stdout) == want


@pytest.mark.parametrize("conf", PAIRS,
                         ids=[str(p.relative_to(FIXTURES)) for p in PAIRS])
def test_compact_output_is_one_line(conf):
    r = ucl2json("-c", conf)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1 and r.stdout.endswith("\n")
    assert json.loads(r.stdout) == json.loads(
        conf.with_suffix(".json").read_text())


def test_man_page_example_pretty_layout():
    r = ucl2json(FIXTURES / "man_page.conf")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "{\n"
        "    \"bsdvm\": {\n"
        "        \"configfile\": "
        "\"/usr/local/etc/vmstated/bsdvm/bhyve_config\"\n"
        "    }\n"
        "}\n")


def test_repeated_keys_become_one_array_in_place():
    r = ucl2json("-c", "-", stdin="a = 1\nb = 2\na = 3\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == '{"a":[1,3],"b":2}\n'


def test_stdin_is_read_with_dash():
    r = ucl2json("-", stdin="vm { cpus 2 }\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"vm": {"cpus": 2}}


ERRORS = [
    ("unterminated_string.conf", 2, 29,
     "unterminated string starting at line 2"),
    ("unclosed_section.conf", 3, 1,
     'unterminated section "vm" opened at line 1: missing "}"'),
    ("missing_value.conf", 3, 1, 'expected a value after "memory ="'),
    ("stray_brace.conf", 3, 1, 'unexpected "}": no section is open'),
]


@pytest.mark.parametrize("name,line,col,message", ERRORS,
                         ids=[e[0] for e in ERRORS])
def test_syntax_error_names_file_line_and_column(name, line, col, message):
    path = FIXTURES / "errors" / name
    r = ucl2json(path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == "ucl2json: %s:%d:%d: %s\n" % (path, line, col,
                                                      message)


def test_error_in_included_file_names_that_file():
    path = FIXTURES / "errors" / "include_error.conf"
    r = ucl2json(path)
    assert r.returncode == 1
    assert r.stderr == ("ucl2json: %s:2:10: unterminated string starting "
                        "at line 2\n" % (FIXTURES / "errors" /
                                         "bad_part.conf"))


def test_stdin_errors_are_named_stdin():
    r = ucl2json("-", stdin="a = 1\nb = [1, 2\n")
    assert r.returncode == 1
    assert r.stderr.startswith("ucl2json: <stdin>:3:1: unterminated array")


def test_unreadable_file(tmp_path):
    missing = tmp_path / "none.conf"
    r = ucl2json(missing)
    assert r.returncode == 1
    assert r.stderr == ("ucl2json: %s: cannot read: No such file or "
                        "directory\n" % missing)
    r = ucl2json(tmp_path)
    assert r.returncode == 1
    assert "directory" in r.stderr


@pytest.mark.parametrize("args", [[], ["a", "b"], ["-x", "a"]],
                         ids=["no-file", "two-files", "bad-option"])
def test_usage_errors_exit_2(args):
    r = ucl2json(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "usage: ucl2json [-c] file" in r.stderr


def test_variables_are_the_files_real_path_and_directory(tmp_path):
    """$FILENAME and $CURDIR, as libucl's ucl_parser_add_file() defines
    them: the real path of the file read (links resolved) and its
    directory; in an included file, that file's."""
    real = tmp_path.resolve() / "vm"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    (real / "config").write_text(
        'disk = "$CURDIR/disk.img"\nself = $FILENAME\n'
        'keep = \'$CURDIR\'\n.include "$CURDIR/part.conf"\n')
    (real / "part.conf").write_text("part = ${FILENAME}\n")
    r = ucl2json(tmp_path / "link" / "config")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {
        "disk": "%s/disk.img" % real, "self": "%s/config" % real,
        "keep": "$CURDIR", "part": "%s/part.conf" % real}


def test_stdin_has_no_variables():
    r = ucl2json("-c", "-", stdin='a = "$CURDIR"\n')
    assert r.returncode == 0, r.stderr
    assert r.stdout == '{"a":"$CURDIR"}\n'


# What libucl reads otherwise than it looks is refused, with the reason.
LIBUCL_TRAPS = [
    ("slashes_key", b"// comment\na = 1\n", 1, 1,
     '"//" does not start a comment in UCL (libucl reads it as part of '
     'the key): write # for a comment'),
    ("slashes_value", b"url = http://x // comment\n", 1, 16,
     '"//" does not start a comment in UCL (libucl reads it as part of '
     'the value): write # for a comment, or quote the value'),
    ("fraction_kb", b"size = 1.5kb\n", 1, 8,
     "1.5kb: a fraction with the suffix kb is refused, since libucl drops "
     "the fraction: write a whole number of kb, or the value in bytes"),
    ("tab_in_quotes", b'a = "x\ty"\n', 1, 7,
     "a TAB in a double-quoted string: write it as \\t"),
    ("empty_heredoc", b"a = <<EOD\nEOD\n", 1, 5,
     'empty heredoc <<EOD: write "" for an empty string'),
    ("crlf_heredoc", b"a = <<EOD\r\nx\r\nEOD\r\n", 1, 5,
     "<<EOD is followed by CR LF, which does not open a heredoc in UCL: "
     "save the file with LF line ends"),
    ("lone_cr", b"a = 1\rb = 2\r", 1, 6,
     "a carriage return (CR) without a line feed after it: only LF and "
     "CR LF line ends are read; save the file with LF line ends"),
]


@pytest.mark.parametrize("name,text,line,col,message", LIBUCL_TRAPS,
                         ids=[t[0] for t in LIBUCL_TRAPS])
def test_libucl_traps_are_refused(tmp_path, name, text, line, col,
                                  message):
    path = tmp_path / (name + ".conf")
    path.write_bytes(text)
    r = ucl2json(path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == "ucl2json: %s:%d:%d: %s\n" % (path, line, col,
                                                      message)


def test_byte_order_mark_is_skipped_and_crlf_read(tmp_path):
    path = tmp_path / "windows.conf"
    path.write_bytes(b"\xef\xbb\xbfvm {\r\n  memory = 2G;\r\n"
                     b"  note = <<EOD\nline\r\nEOD\n}\r\n")
    r = ucl2json(path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"vm": {"memory": 2000000000,
                                           "note": "line\r"}}


def test_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "big.conf"
    path.write_text("# filler\n" * (1024 * 1024 // 9 + 1))
    r = ucl2json(path)
    assert r.returncode == 1
    assert r.stderr == ("ucl2json: %s: cannot read: it holds more than "
                        "1 MiB, the limit for a configuration file with "
                        "the files it includes\n" % path)


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.conf"
    os.mkfifo(fifo)
    r = ucl2json(fifo)
    assert r.returncode == 1
    assert r.stderr == ("ucl2json: %s: cannot read: it is a FIFO (named "
                        "pipe), not a regular file\n" % fifo)
