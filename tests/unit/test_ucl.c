/*
 * test_ucl.c: the UCL parser and its JSON emitter.
 *
 * Most tests parse a snippet and compare the compact JSON of the tree, so
 * a failure shows what was read.  Error tests check the line, the column
 * and the words of the message a person would see.
 */
#include <sys/stat.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "ucl.h"

/* Parse text; fail the test with the parser's message if it is refused. */
static struct ucl_node *
parse(const char *text)
{
	struct ucl_error	 err;
	struct ucl_node		*root;

	root = ucl_parse_buffer(text, strlen(text), "test.conf", &err);
	if (root == NULL)
		fail_msg("unexpected error %s:%d:%d: %s", err.file, err.line,
		    err.column, err.message);
	return root;
}

/* The compact JSON of a tree, allocated. */
static char *
json_of(const struct ucl_node *root, bool pretty)
{
	struct buf	 b;

	buf_init(&b);
	ucl_emit_json(root, &b, pretty);
	return buf_steal(&b);
}

/* Parse text and compare its compact JSON with `want`. */
static void
check_json(const char *text, const char *want)
{
	struct ucl_node	*root = parse(text);
	char		*got = json_of(root, false);

	if (strcmp(got, want) != 0)
		fail_msg("for input:\n%s\ngot:  %s\nwant: %s", text, got, want);
	free(got);
	ucl_free(root);
}

/* Parse text expecting an error at line:column whose message has `words`. */
static void
check_error(const char *text, size_t len, int line, int column,
    const char *words)
{
	struct ucl_error	 err;
	struct ucl_node		*root;

	root = ucl_parse_buffer(text, len, "test.conf", &err);
	if (root != NULL) {
		char *got = json_of(root, false);

		ucl_free(root);
		fail_msg("for input:\n%s\nexpected an error, got %s", text, got);
	}
	if (err.line != line || err.column != column ||
	    strstr(err.message, words) == NULL)
		fail_msg("for input:\n%s\ngot:  %s:%d:%d: %s\nwant: %d:%d: "
		    "...%s...", text, err.file, err.line, err.column,
		    err.message, line, column, words);
	assert_string_equal(err.file, "test.conf");
}

#define ERROR(text, line, col, words) \
	check_error(text, sizeof(text) - 1, line, col, words)

/* Write a file under dir (created by the caller). */
static void
write_file(const char *dir, const char *name, const char *text)
{
	char	 path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* A fresh temporary directory, for .include tests. */
static char *
make_dir(void)
{
	char	*dir = xstrdup("/tmp/test_ucl.XXXXXX");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static void
remove_dir(char *dir, const char *const names[])
{
	char	 path[PATH_MAX];

	for (; *names != NULL; names++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *names);
		unlink(path);
	}
	rmdir(dir);
	free(dir);
}

/* --- Syntax of members ------------------------------------------------ */

static void
test_assignment_forms(void **state)
{
	check_json("a = 1; b 2; c: 3;", "{\"a\":1,\"b\":2,\"c\":3}");
	check_json("a = 1\nb 2\nc: 3\n", "{\"a\":1,\"b\":2,\"c\":3}");
	check_json("a=1,b=2", "{\"a\":1,\"b\":2}");
	check_json("a:1;;; b:2", "{\"a\":1,\"b\":2}");
	check_json("", "{}");
	check_json("  # only a comment\n\n", "{}");
	/* After "=" or ":" the value may be on a later line, as in libucl. */
	check_json("a =\n  5\nb:\n# c\n6", "{\"a\":5,\"b\":6}");
}

/*
 * Bytes that are not UTF-8 are kept as they are in keys and values, as
 * libucl keeps them (the configuration layer refuses them); the JSON
 * written shows each as U+FFFD, since JSON must be UTF-8.
 */
static void
test_invalid_utf8_passes_through(void **state)
{
	struct ucl_node	*root;

	check_json("k\xff = \"\xfe\xc3\"; v = a\x80" "b",
	    "{\"k\\ufffd\":\"\\ufffd\\ufffd\",\"v\":\"a\\ufffd\x62\"}");
	root = parse("k\xff = \"\xfe\xc3\"");
	assert_string_equal(ucl_lookup(root, "k\xff")->v.string.ptr,
	    "\xfe\xc3");
	ucl_free(root);
	check_json("\xc3\xa9t\xc3\xa9 = \xe2\x82\xac",
	    "{\"\xc3\xa9t\xc3\xa9\":\"\xe2\x82\xac\"}");
}

static void
test_man_page_example(void **state)
{
	struct ucl_node		*root;
	const struct ucl_node	*vm, *cf;

	root = parse("bsdvm {\n"
	    "\tconfigfile = /usr/local/etc/vmstated/bsdvm/bhyve_config;\n"
	    "}\n");
	assert_non_null(vm = ucl_lookup(root, "bsdvm"));
	assert_int_equal(vm->type, UCL_OBJECT);
	assert_int_equal(vm->count, 1);
	assert_non_null(cf = ucl_lookup(vm, "configfile"));
	assert_int_equal(cf->type, UCL_STRING);
	assert_string_equal(cf->v.string.ptr,
	    "/usr/local/etc/vmstated/bsdvm/bhyve_config");
	assert_int_equal(cf->v.string.len, strlen(cf->v.string.ptr));
	assert_string_equal(cf->raw,
	    "/usr/local/etc/vmstated/bsdvm/bhyve_config");
	assert_int_equal(cf->line, 2);
	assert_int_equal(cf->column, 15);
	assert_string_equal(cf->file, "test.conf");
	ucl_free(root);
}

static void
test_top_level_forms(void **state)
{
	check_json("{ a = 1 }", "{\"a\":1}");
	check_json("# c\n{\n \"a\": [1, {\"b\": null}]\n}\n",
	    "{\"a\":[1,{\"b\":null}]}");
	check_json("[1, \"two\", true]", "[1,\"two\",true]");
	check_json("[]", "[]");
	check_json("{}", "{}");
}

static void
test_json_document(void **state)
{
	check_json("{\"name\": \"vm\", \"cpus\": 2, \"mem\": 1.5e3, "
	    "\"on\": false, \"none\": null, \"list\": [[], {}, [1, [2]]], "
	    "\"obj\": {\"k\": \"v\"}}",
	    "{\"name\":\"vm\",\"cpus\":2,\"mem\":1500.0,\"on\":false,"
	    "\"none\":null,\"list\":[[],{},[1,[2]]],\"obj\":{\"k\":\"v\"}}");
}

static void
test_sections(void **state)
{
	check_json("a { b = 1; c { d = 2 } }", "{\"a\":{\"b\":1,\"c\":{\"d\":2}}}");
	check_json("a b { x = 1 }", "{\"a\":{\"b\":{\"x\":1}}}");
	check_json("a \"b c\" { x = 1 }", "{\"a\":{\"b c\":{\"x\":1}}}");
	check_json("a b c { }", "{\"a\":{\"b\":{\"c\":{}}}}");
	check_json("a b [1, 2]", "{\"a\":{\"b\":[1,2]}}");
	check_json("a\n{\n  x = 1\n}\n", "{\"a\":{\"x\":1}}");
	check_json("a = { x = 1 }", "{\"a\":{\"x\":1}}");
	check_json("a { } b { }", "{\"a\":{},\"b\":{}}");
	check_json("a = [1] b = 2", "{\"a\":[1],\"b\":2}");
}

/* libucl keeps a repeated section key as an implicit array: no merging. */
static void
test_repeated_sections(void **state)
{
	struct ucl_node		*root;
	const struct ucl_node	*a;

	check_json("a b { x = 1 } a c { y = 2 }",
	    "{\"a\":[{\"b\":{\"x\":1}},{\"c\":{\"y\":2}}]}");
	check_json("a { x = 1 } a { y = 2 }",
	    "{\"a\":[{\"x\":1},{\"y\":2}]}");
	root = parse("a { x = 1 }\nb = 0\na { y = 2 }\n");
	assert_int_equal(root->count, 3);
	assert_non_null(a = ucl_lookup(root, "a"));
	assert_non_null(ucl_lookup(a, "x"));
	assert_non_null(a = ucl_lookup_next(a));
	assert_non_null(ucl_lookup(a, "y"));
	assert_int_equal(a->line, 3);
	assert_null(ucl_lookup_next(a));
	ucl_free(root);
}

static void
test_implicit_arrays(void **state)
{
	struct ucl_node		*root;
	const struct ucl_node	*n;
	char			*json;

	root = parse("k = 1\nother = x\nk = 2\nk = [3]\n");
	assert_int_equal(root->count, 4);
	assert_non_null(n = ucl_lookup(root, "k"));
	assert_int_equal(n->v.integer, 1);
	assert_non_null(n = ucl_lookup_next(n));
	assert_int_equal(n->v.integer, 2);
	assert_non_null(n = ucl_lookup_next(n));
	assert_int_equal(n->type, UCL_ARRAY);
	assert_null(ucl_lookup_next(n));
	/* Folded at the place of the first, in order. */
	json = json_of(root, false);
	assert_string_equal(json, "{\"k\":[1,2,[3]],\"other\":\"x\"}");
	free(json);
	ucl_free(root);
}

static void
test_arrays(void **state)
{
	check_json("a = [1, 2, 3]", "{\"a\":[1,2,3]}");
	check_json("a = [1, 2, 3,]", "{\"a\":[1,2,3]}");
	check_json("a = [\n 1\n 2,\n 3\n]", "{\"a\":[1,2,3]}");
	check_json("a = [ { x = 1 }, { y = 2 } ]",
	    "{\"a\":[{\"x\":1},{\"y\":2}]}");
	check_json("a = [ { x = 1 } { y = 2 } ]",
	    "{\"a\":[{\"x\":1},{\"y\":2}]}");
	check_json("a = [[1, 2], [], [[3]]]", "{\"a\":[[1,2],[],[[3]]]}");
	check_json("a = [ /usr/bin, 'x', yes ]",
	    "{\"a\":[\"/usr/bin\",\"x\",true]}");
	check_json("a = [ # comment\n 1 /* c */, 2 ]", "{\"a\":[1,2]}");
}

/* --- Strings ---------------------------------------------------------- */

static void
test_double_quoted_escapes(void **state)
{
	struct ucl_node		*root;
	const struct ucl_node	*n;

	check_json("s = \"a\\\"b\\\\c\\/d\"", "{\"s\":\"a\\\"b\\\\c/d\"}");
	check_json("s = \"\\b\\f\\n\\r\\t\"", "{\"s\":\"\\b\\f\\n\\r\\t\"}");
	check_json("s = \"\\u00e9\\u20AC\"", "{\"s\":\"\xc3\xa9\xe2\x82\xac\"}");
	check_json("s = \"\\ud83d\\ude00\"", "{\"s\":\"\xf0\x9f\x98\x80\"}");
	check_json("s = \"tab\\tinside\"", "{\"s\":\"tab\\tinside\"}");
	check_json("s = \"\"", "{\"s\":\"\"}");
	check_json("s = \"# not a comment; nor /* this */\"",
	    "{\"s\":\"# not a comment; nor /* this */\"}");
	root = parse("s = \"a\\u0000b\"");
	assert_non_null(n = ucl_lookup(root, "s"));
	assert_int_equal(n->v.string.len, 3);
	assert_memory_equal(n->v.string.ptr, "a\0b", 4);
	assert_null(n->raw);
	ucl_free(root);
}

static void
test_string_errors(void **state)
{
	ERROR("a = 1\ns = \"abc", 2, 9, "unterminated string starting at "
	    "line 2");
	ERROR("s = \"abc\ndef\"", 1, 9, "unterminated string starting at "
	    "line 1");
	ERROR("s = \"a\\qb\"", 1, 7, "invalid escape \"\\q\"");
	ERROR("s = \"\\u12\"", 1, 6, "four hexadecimal digits");
	ERROR("s = \"\\ud83d\"", 1, 6, "high surrogate");
	ERROR("s = \"\\ud83dx\\ude00\"", 1, 6, "high surrogate");
	ERROR("s = \"\\ude00\"", 1, 6, "low surrogate");
	ERROR("s = \"a\x01\"", 1, 7, "control character 0x01");
	ERROR("s = 'abc", 1, 9, "unterminated string starting at line 1");
}

static void
test_single_quoted(void **state)
{
	check_json("s = 'it\\'s'", "{\"s\":\"it's\"}");
	check_json("s = 'a\\nb'", "{\"s\":\"a\\\\nb\"}");
	check_json("s = 'c:\\\\dir'", "{\"s\":\"c:\\\\\\\\dir\"}");
	check_json("s = 'two\nlines'", "{\"s\":\"two\\nlines\"}");
	check_json("s = 'joined \\\nline'", "{\"s\":\"joined line\"}");
	check_json("s = '\"'", "{\"s\":\"\\\"\"}");
	check_json("s = ''", "{\"s\":\"\"}");
}

static void
test_unquoted_strings(void **state)
{
	struct ucl_node		*root;
	const struct ucl_node	*n;

	check_json("p = /usr/local/etc/x;", "{\"p\":\"/usr/local/etc/x\"}");
	check_json("p = hello world   \n", "{\"p\":\"hello world\"}");
	check_json("p = a#comment\n", "{\"p\":\"a\"}");
	check_json("p = http://example.org/x\n",
	    "{\"p\":\"http://example.org/x\"}");
	check_json("p = a /* c */\n", "{\"p\":\"a\"}");
	check_json("p = a, q = b", "{\"p\":\"a\",\"q\":\"b\"}");
	check_json("p = ${VAR}/x", "{\"p\":\"${VAR}/x\"}");
	check_json("s { p = v }", "{\"s\":{\"p\":\"v\"}}");
	check_json("p = 10.0.0.1", "{\"p\":\"10.0.0.1\"}");
	check_json("p = 1abc", "{\"p\":\"1abc\"}");
	check_json("p = 10 apples", "{\"p\":\"10 apples\"}");
	check_json("p = -", "{\"p\":\"-\"}");
	check_json("p = 1e", "{\"p\":\"1e\"}");
	check_json("p = 0x", "{\"p\":\"0x\"}");
	check_json("p = 5kbx", "{\"p\":\"5kbx\"}");
	check_json("p = a\\;b", "{\"p\":\"a;b\"}");
	check_json("p = nULL", "{\"p\":\"nULL\"}");
	check_json("p = <html>", "{\"p\":\"<html>\"}");
	check_json("p = <<eod", "{\"p\":\"<<eod\"}");
	root = parse("p = some words ; q = \"quoted\"");
	assert_non_null(n = ucl_lookup(root, "p"));
	assert_string_equal(n->raw, "some words");
	assert_null(ucl_lookup(root, "q")->raw);
	ucl_free(root);
}

static void
test_heredoc(void **state)
{
	check_json("s = <<EOD\nline 1\n  line 2\nEOD\nt = 1",
	    "{\"s\":\"line 1\\n  line 2\",\"t\":1}");
	check_json("s = <<EOD\nEODX\nEOD\n", "{\"s\":\"EODX\"}");
	check_json("s = <<EOD\n\nEOD\n", "{\"s\":\"\"}");
	check_json("s = <<EOD\n\"quotes\" and # hash\nEOD", "{\"s\":"
	    "\"\\\"quotes\\\" and # hash\"}");
	ERROR("s = <<EOD\nnever closed\n", 3, 1, "unterminated heredoc");
}

/* --- Numbers, booleans, null ------------------------------------------ */

static void
test_numbers(void **state)
{
	check_json("a = 0; b = -12; c = 0x1F; d = -0x10",
	    "{\"a\":0,\"b\":-12,\"c\":31,\"d\":-16}");
	check_json("a = 1.5; b = -0.25; c = 1e3; d = 2.5E-1; e = 1.",
	    "{\"a\":1.5,\"b\":-0.25,\"c\":1000.0,\"d\":0.25,\"e\":1.0}");
	check_json("a = 9223372036854775807; b = -9223372036854775808",
	    "{\"a\":9223372036854775807,\"b\":-9223372036854775808}");
	check_json("a = 0.1", "{\"a\":0.1}");
	check_json("a = 3.14159265358979", "{\"a\":3.14159265358979}");
	check_json("a = 10 ; b = 2 # c", "{\"a\":10,\"b\":2}");
}

static void
test_number_suffixes(void **state)
{
	struct ucl_node		*root;
	const struct ucl_node	*n;

	check_json("a = 1k; b = 2m; c = 3g; d = 1K; e = 2M; f = 3G",
	    "{\"a\":1000,\"b\":2000000,\"c\":3000000000,\"d\":1000,"
	    "\"e\":2000000,\"f\":3000000000}");
	check_json("a = 1kb; b = 2mb; c = 3gb; d = 1KB; e = 2Mb",
	    "{\"a\":1024,\"b\":2097152,\"c\":3221225472,\"d\":1024,"
	    "\"e\":2097152}");
	check_json("a = 1.5k; b = 2.0kb; c = -2k",
	    "{\"a\":1500.0,\"b\":2048,\"c\":-2000}");
	root = parse("memory = 4G");
	assert_non_null(n = ucl_lookup(root, "memory"));
	assert_int_equal(n->type, UCL_INT);
	assert_int_equal(n->v.integer, 4000000000LL);
	assert_string_equal(n->raw, "4G");
	ucl_free(root);
}

static void
test_time_suffixes(void **state)
{
	struct ucl_node		*root;
	const struct ucl_node	*n;

	check_json("a = 500ms; b = 10s; c = 2min; d = 1h; e = 1d; f = 1w; "
	    "g = 1y; h = 1.5S; i = 2MIN",
	    "{\"a\":0.5,\"b\":10.0,\"c\":120.0,\"d\":3600.0,\"e\":86400.0,"
	    "\"f\":604800.0,\"g\":31536000.0,\"h\":1.5,\"i\":120.0}");
	root = parse("t = 30s");
	assert_non_null(n = ucl_lookup(root, "t"));
	assert_int_equal(n->type, UCL_TIME);
	assert_true(n->v.number == 30.0);
	assert_string_equal(n->raw, "30s");
	ucl_free(root);
}

static void
test_number_range_errors(void **state)
{
	ERROR("a = 9223372036854775808", 1, 5, "number out of range");
	ERROR("a = -9223372036854775809", 1, 5, "number out of range");
	ERROR("a = 99999999999999999999999", 1, 5, "number out of range");
	ERROR("a = 0x10000000000000000", 1, 5, "number out of range");
	ERROR("a = 1e400", 1, 5, "number out of range");
	ERROR("a = 10000000000g", 1, 5, "number out of range");
	ERROR("a = 10000000000gb", 1, 5, "number out of range");
	ERROR("a = 1e308k", 1, 5, "number out of range");
	ERROR("\nb = [1, 1e999999]", 2, 9, "number out of range");
}

static void
test_booleans_and_null(void **state)
{
	struct ucl_node		*root;
	const struct ucl_node	*n;

	check_json("a = yes; b = no; c = on; d = off; e = true; f = false",
	    "{\"a\":true,\"b\":false,\"c\":true,\"d\":false,\"e\":true,"
	    "\"f\":false}");
	check_json("a = YES; b = No; c = ON; d = Off; e = TRUE; f = False",
	    "{\"a\":true,\"b\":false,\"c\":true,\"d\":false,\"e\":true,"
	    "\"f\":false}");
	check_json("a = null; b = \"yes\"; c = yess", "{\"a\":null,"
	    "\"b\":\"yes\",\"c\":\"yess\"}");
	root = parse("autostart yes\n");
	assert_non_null(n = ucl_lookup(root, "autostart"));
	assert_int_equal(n->type, UCL_BOOLEAN);
	assert_true(n->v.boolean);
	assert_string_equal(n->raw, "yes");
	ucl_free(root);
}

/* --- Comments ---------------------------------------------------------- */

static void
test_comments(void **state)
{
	check_json("# hash\na = 1 # trailing\nb = 2",
	    "{\"a\":1,\"b\":2}");
	check_json("/* block */ a = /* inside */ 1; /* multi\nline */ b = 2",
	    "{\"a\":1,\"b\":2}");
	check_json("/* outer /* inner */ still a comment */ a = 1",
	    "{\"a\":1}");
	check_json("/* /* /* deep */ */ */ a = 1", "{\"a\":1}");
	check_json("a { # c\n  b = 1 # c\n} # c", "{\"a\":{\"b\":1}}");
	check_json("a = 1 /* comment as separator */ b = 2",
	    "{\"a\":1,\"b\":2}");
	ERROR("a = 1\n/* open /* nested */\n", 3, 1, "unterminated comment "
	    "opened at line 2");
	ERROR("/*", 1, 3, "unterminated comment");
}

/* --- .include ---------------------------------------------------------- */

static void
test_include(void **state)
{
	static const char *const names[] = { "main.conf", "sub/inc.conf",
	    "sub/deeper.conf", "sub", NULL };
	struct ucl_error	 err;
	struct ucl_node		*root;
	char			*dir = make_dir(), path[PATH_MAX], *json;

	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	write_file(dir, "main.conf", "a = 1\n.include \"sub/inc.conf\"\n"
	    "s { .include 'sub/deeper.conf' }\nz = 26\n");
	write_file(dir, "sub/inc.conf", "b = 2\n.include \"deeper.conf\"\n");
	write_file(dir, "sub/deeper.conf", "{ c = 3 }\n");
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	root = ucl_parse_config(path, &err);
	if (root == NULL)
		fail_msg("%s:%d:%d: %s", err.file, err.line, err.column,
		    err.message);
	json = json_of(root, false);
	assert_string_equal(json,
	    "{\"a\":1,\"b\":2,\"c\":3,\"s\":{\"c\":3},\"z\":26}");
	/* Included nodes name their own file. */
	assert_non_null(strstr(ucl_lookup(root, "b")->file, "sub/inc.conf"));
	assert_int_equal(ucl_lookup(root, "b")->line, 1);
	assert_string_equal(ucl_lookup(root, "a")->file, path);
	free(json);
	ucl_free(root);
	remove_dir(dir, names);
}

static void
test_include_errors(void **state)
{
	static const char *const names[] = { "main.conf", "bad.conf",
	    "self.conf", "a.conf", "b.conf", "arr.conf", "deep.conf", NULL };
	struct ucl_error	 err;
	char			*dir = make_dir(), path[PATH_MAX];
	const char		*text;

	/* An error inside an included file names that file. */
	write_file(dir, "bad.conf", "x = 1\ny = \"open\n");
	write_file(dir, "main.conf", "a = 1\n.include \"bad.conf\"\n");
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	assert_null(ucl_parse_config(path, &err));
	assert_non_null(strstr(err.file, "bad.conf"));
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "unterminated string"));

	/* A missing file, with the line of the .include. */
	write_file(dir, "main.conf", "a = 1\n  .include \"none.conf\"\n");
	assert_null(ucl_parse_config(path, &err));
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 2);
	assert_int_equal(err.column, 3);
	assert_non_null(strstr(err.message, "cannot include"));
	assert_non_null(strstr(err.message, "none.conf"));

	/* Cycles, direct and indirect. */
	write_file(dir, "self.conf", ".include \"self.conf\"\n");
	snprintf(path, sizeof(path), "%s/self.conf", dir);
	assert_null(ucl_parse_config(path, &err));
	assert_non_null(strstr(err.message, "cycle"));
	write_file(dir, "a.conf", ".include \"b.conf\"\n");
	write_file(dir, "b.conf", "x = 1\n.include \"a.conf\"\n");
	snprintf(path, sizeof(path), "%s/a.conf", dir);
	assert_null(ucl_parse_config(path, &err));
	assert_non_null(strstr(err.file, "b.conf"));
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "cycle"));

	/* Another spelling of the same file is still a cycle. */
	write_file(dir, "deep.conf", ".include \"./deep.conf\"\n");
	snprintf(path, sizeof(path), "%s/deep.conf", dir);
	assert_null(ucl_parse_config(path, &err));
	assert_non_null(strstr(err.message, "cycle"));

	/* An included array cannot give keys. */
	write_file(dir, "arr.conf", "[1, 2]\n");
	write_file(dir, "main.conf", ".include \"arr.conf\"\n");
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	assert_null(ucl_parse_config(path, &err));
	assert_non_null(strstr(err.message, "array"));

	/* Other macros and parameters are refused by name. */
	ERROR("a = 1\n.priority 2\n", 2, 1, "\".priority\" is not supported");
	ERROR(".include(try=true) \"x\"", 1, 9, "parameters of .include");
	ERROR(". x", 1, 1, "expected a macro name");
	/* A buffer, named or not, may not include anything. */
	text = ".include \"/etc/passwd\"";
	assert_null(ucl_parse_buffer(text, strlen(text), NULL, &err));
	assert_string_equal(err.file, "<buffer>");
	assert_non_null(strstr(err.message, "only allowed in files"));
	text = "{ .include \"main.conf\" }";
	snprintf(path, sizeof(path), "%s/request", dir);
	assert_null(ucl_parse_buffer(text, strlen(text), path, &err));
	assert_string_equal(err.file, path);
	assert_int_equal(err.column, 3);
	assert_non_null(strstr(err.message, "only allowed in files"));
	remove_dir(dir, names);
}

static void
test_include_depth(void **state)
{
	static const char *const names[] = { "0.conf", "1.conf", "2.conf",
	    "3.conf", "4.conf", "5.conf", "6.conf", "7.conf", "8.conf",
	    "9.conf", "10.conf", "11.conf", "12.conf", "13.conf", "14.conf",
	    "15.conf", "16.conf", "17.conf", NULL };
	struct ucl_error	 err;
	struct ucl_node		*root;
	char			*dir = make_dir(), path[PATH_MAX], text[128];
	char			 name[32];
	int			 i;

	/* 0 includes 1 ... includes 16: sixteen nested levels are fine. */
	for (i = 0; i <= 16; i++) {
		snprintf(name, sizeof(name), "%d.conf", i);
		if (i < 16)
			snprintf(text, sizeof(text), "k%d = %d\n.include "
			    "\"%d.conf\"\n", i, i, i + 1);
		else
			snprintf(text, sizeof(text), "k%d = %d\n", i, i);
		write_file(dir, name, text);
	}
	snprintf(path, sizeof(path), "%s/0.conf", dir);
	root = ucl_parse_config(path, &err);
	if (root == NULL)
		fail_msg("%s:%d: %s", err.file, err.line, err.message);
	assert_int_equal(root->count, 17);
	ucl_free(root);
	/* Seventeen are too many. */
	write_file(dir, "16.conf", "k16 = 16\n.include \"17.conf\"\n");
	write_file(dir, "17.conf", "k17 = 17\n");
	assert_null(ucl_parse_config(path, &err));
	assert_non_null(strstr(err.message, "nested too deeply"));
	assert_non_null(strstr(err.file, "16.conf"));
	remove_dir(dir, names);
}

/* --- Errors ------------------------------------------------------------ */

static void
test_structure_errors(void **state)
{
	ERROR("memory =;", 1, 9, "expected a value after \"memory =\"");
	ERROR("memory =\n", 2, 1, "expected a value after \"memory =\"");
	ERROR("vm {\n  memory =\n}\n", 3, 1,
	    "expected a value after \"memory =\"");
	ERROR("a: ]", 1, 4, "expected a value after \"a:\"");
	ERROR("a\nb = 1", 1, 2, "expected a value after \"a\"");
	ERROR("a;", 1, 2, "expected a value after \"a\"");
	ERROR("a = 1\n}\n", 2, 1, "unexpected \"}\": no section is open");
	ERROR("a = 1 ]", 1, 7, "unexpected \"]\": no array is open");
	ERROR("bsdvm {\n  a = 1\n", 3, 1, "unterminated section \"bsdvm\" "
	    "opened at line 1: missing \"}\"");
	ERROR("a b {\n", 2, 1, "unterminated section \"b\" opened at line 1");
	ERROR("a = [1,\n2", 2, 2, "unterminated array opened at line 1");
	ERROR("a = [\"x\" \"y\"]", 1, 10, "expected \",\" or \"]\"");
	check_json("a = [1 2]", "{\"a\":[\"1 2\"]}");
	ERROR("a = [1,,2]", 1, 8, "expected a value after \",\"");
	ERROR("a = \"x\" b = 2", 1, 9,
	    "expected \";\" or a new line after the value of \"a\"");
	ERROR("a(b) = 1", 1, 2, "invalid character \"(\" in the key \"a\"");
	ERROR("= 1", 1, 1, "expected a key, found \"=\"");
	ERROR("\"\" = 1", 1, 1, "empty keys are not allowed");
	ERROR("{ a = 1 }\nb = 2", 2, 1, "unexpected \"b\" after the end of "
	    "the top-level object");
	ERROR("[1] [2]", 1, 5, "after the end of the top-level array");
}

static void
test_nul_bytes(void **state)
{
	ERROR("a = 1\nb = x\0y\n", 2, 6, "NUL byte");
	ERROR("\0", 1, 1, "NUL byte");
	ERROR("s = \"a\0\"", 1, 7, "NUL byte");
}

static void
test_nesting_limit(void **state)
{
	struct buf		 b;
	struct ucl_error	 err;
	struct ucl_node		*root;
	int			 i;

	/* 128 levels parse; 129 do not. */
	buf_init(&b);
	for (i = 0; i < 127; i++)
		buf_puts(&b, "a { ");
	buf_puts(&b, "x = [1]");
	for (i = 0; i < 127; i++)
		buf_puts(&b, " }");
	root = ucl_parse_buffer(b.data, b.len, "test.conf", &err);
	if (root == NULL)
		fail_msg("%s", err.message);
	ucl_free(root);
	buf_reset(&b);
	for (i = 0; i < 200000; i++)
		buf_putc(&b, '[');
	assert_null(ucl_parse_buffer(b.data, b.len, "test.conf", &err));
	assert_int_equal(err.line, 1);
	assert_int_equal(err.column, 129);
	assert_non_null(strstr(err.message, "nested too deeply"));
	buf_reset(&b);
	for (i = 0; i < 200000; i++)
		buf_puts(&b, "a ");
	buf_puts(&b, "{}");
	assert_null(ucl_parse_buffer(b.data, b.len, "test.conf", &err));
	assert_non_null(strstr(err.message, "nested too deeply"));
	buf_free(&b);
}

/* Columns count bytes from 1; lines count from 1; nodes know both. */
static void
test_positions(void **state)
{
	struct ucl_node		*root;
	const struct ucl_node	*vm, *n;

	root = parse("# header\nvm {\n\tcpus = 2\n  list = [\n    x,\n"
	    "    \"y\" ]\n}\n");
	assert_int_equal(root->line, 1);
	assert_int_equal(root->column, 1);
	assert_non_null(vm = ucl_lookup(root, "vm"));
	assert_int_equal(vm->line, 2);
	assert_int_equal(vm->column, 4);
	assert_non_null(n = ucl_lookup(vm, "cpus"));
	assert_int_equal(n->line, 3);
	assert_int_equal(n->column, 9);
	assert_non_null(n = ucl_lookup(vm, "list"));
	assert_int_equal(n->line, 4);
	assert_int_equal(n->count, 2);
	assert_int_equal(n->children->line, 5);
	assert_int_equal(n->children->column, 5);
	assert_int_equal(n->children->next->line, 6);
	ucl_free(root);
}

/* --- Emitter and accessors --------------------------------------------- */

static void
test_emit_pretty(void **state)
{
	struct ucl_node	*root;
	char		*json;

	root = parse("vm { name = \"x\"; cpus = 2; t = 1.5; e {}; l = []; "
	    "a = [1, {b = true}]; k = 1; k = 2 }");
	json = json_of(root, true);
	assert_string_equal(json,
	    "{\n"
	    "    \"vm\": {\n"
	    "        \"name\": \"x\",\n"
	    "        \"cpus\": 2,\n"
	    "        \"t\": 1.5,\n"
	    "        \"e\": {},\n"
	    "        \"l\": [],\n"
	    "        \"a\": [\n"
	    "            1,\n"
	    "            {\n"
	    "                \"b\": true\n"
	    "            }\n"
	    "        ],\n"
	    "        \"k\": [\n"
	    "            1,\n"
	    "            2\n"
	    "        ]\n"
	    "    }\n"
	    "}");
	free(json);
	ucl_free(root);
}

static void
test_emit_escapes_and_floats(void **state)
{
	check_json("s = \"\\u0001\\u001f\x7f\"", "{\"s\":\"\\u0001\\u001f"
	    "\\u007f\"}");
	check_json("\"we\\\"ird\" = 1", "{\"we\\\"ird\":1}");
	check_json("a = 1e20; b = 1e-7; c = -0.0; d = 0.30000000000000004",
	    "{\"a\":1e+20,\"b\":1e-07,\"c\":-0.0,"
	    "\"d\":0.30000000000000004}");
}

static void
test_accessors(void **state)
{
	struct ucl_node	*root;
	struct buf	 b;

	assert_string_equal(ucl_type_name(UCL_NULL), "null");
	assert_string_equal(ucl_type_name(UCL_BOOLEAN), "boolean");
	assert_string_equal(ucl_type_name(UCL_INT), "integer");
	assert_string_equal(ucl_type_name(UCL_FLOAT), "float");
	assert_string_equal(ucl_type_name(UCL_TIME), "time");
	assert_string_equal(ucl_type_name(UCL_STRING), "string");
	assert_string_equal(ucl_type_name(UCL_OBJECT), "object");
	assert_string_equal(ucl_type_name(UCL_ARRAY), "array");
	root = parse("a = [1]; \"b\\u0000c\" = 2; Key = 3");
	assert_null(ucl_lookup(ucl_lookup(root, "a"), "x"));
	assert_null(ucl_lookup(root, "b"));
	assert_null(ucl_lookup(root, "key"));
	assert_non_null(ucl_lookup(root, "Key"));
	assert_null(ucl_lookup(NULL, "a"));
	assert_null(ucl_lookup_next(NULL));
	buf_init(&b);
	ucl_emit_json(NULL, &b, true);
	assert_string_equal(b.data, "null");
	buf_free(&b);
	ucl_free(root);
	ucl_free(NULL);
}

static void
test_file_errors(void **state)
{
	struct ucl_error	 err;

	assert_null(ucl_parse_config("/nonexistent/vmstated.conf", &err));
	assert_string_equal(err.file, "/nonexistent/vmstated.conf");
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.message, "No such file"));
	assert_null(ucl_parse_config("/tmp", &err));
	assert_non_null(strstr(err.message, "directory"));
	assert_null(ucl_parse_config("/dev/null", &err));
	assert_non_null(strstr(err.message, "not a regular file"));
}

static void
test_crlf_and_bom(void **state)
{
	check_json("\xef\xbb\xbf" "a = 1\r\nb {\r\n  c = x\r\n}\r\n",
	    "{\"a\":1,\"b\":{\"c\":\"x\"}}");
}

/* --- Where libucl reads otherwise: follow it, or refuse --------------- */

/* Parse text as the configuration file `path`; compare its JSON. */
static void
check_config_json(const char *path, const char *text, const char *want)
{
	struct ucl_error	 err;
	struct ucl_node		*root;
	char			*got;

	root = ucl_parse_config_text(text, strlen(text), path, &err);
	if (root == NULL)
		fail_msg("unexpected error %s:%d:%d: %s", err.file, err.line,
		    err.column, err.message);
	got = json_of(root, false);
	if (strcmp(got, want) != 0)
		fail_msg("for input:\n%s\ngot:  %s\nwant: %s", text, got, want);
	free(got);
	ucl_free(root);
}

static void
test_slashes_are_no_comment(void **state)
{
	/* libucl: "// c" is a key, " // c" stays in a value: refused. */
	ERROR("// a comment?\na = 1", 1, 1, "\"//\" does not start a comment "
	    "in UCL (libucl reads it as part of the key): write # for a "
	    "comment");
	ERROR("a = http://x // c\n", 1, 14, "\"//\" does not start a comment "
	    "in UCL (libucl reads it as part of the value): write # for a "
	    "comment, or quote the value");
	ERROR("a = 10 // c\n", 1, 8, "does not start a comment");
	ERROR("a = //server/share\n", 1, 5, "does not start a comment");
	ERROR("a { b = 1 } // c\n", 1, 13, "part of the key");
	ERROR("a = [x, y //c]\n", 1, 11, "part of the value");
	ERROR("a = 1\n  //c = 2\n", 2, 3, "part of the key");
	/* Where libucl and a reader agree, it stays as libucl reads it. */
	check_json("a = http://x//y; b = x//\n",
	    "{\"a\":\"http://x//y\",\"b\":\"x//\"}");
	check_json("\"//\" = \"a // b\"; c = 'd // e'",
	    "{\"//\":\"a // b\",\"c\":\"d // e\"}");
	check_json("a = 1 # c // d\nb = 2 /* // */", "{\"a\":1,\"b\":2}");
}

static void
test_variables_expand_as_libucl(void **state)
{
	const char	*f = "/nonexistent/vm/config";

	check_config_json(f, "a = \"$FILENAME\"; b = $CURDIR/disk.img; "
	    "c = \"${CURDIR}\"",
	    "{\"a\":\"/nonexistent/vm/config\",\"b\":\"/nonexistent/vm/disk.img\","
	    "\"c\":\"/nonexistent/vm\"}");
	check_config_json(f, "h = <<EOD\nin $CURDIR\nEOD\n",
	    "{\"h\":\"in /nonexistent/vm\"}");
	/* A name the text merely starts with; ${} must match whole. */
	check_config_json(f, "a = \"$CURDIRx\"; b = \"${CURDIRx}\"",
	    "{\"a\":\"/nonexistent/vmx\",\"b\":\"${CURDIRx}\"}");
	/* No other variable: the environment is not read. */
	check_config_json(f, "a = \"$HOME ${PATH} $ x$\"",
	    "{\"a\":\"$HOME ${PATH} $ x$\"}");
	/* "$$" is one "$" only in a string that holds a variable. */
	check_config_json(f, "a = \"$$CURDIR\"; b = \"$$ $CURDIR\"",
	    "{\"a\":\"$$CURDIR\",\"b\":\"$ /nonexistent/vm\"}");
	/* Never in single quotes or keys, nor from a \u0024 escape. */
	check_config_json(f, "a = '$CURDIR'; \"$CURDIR\" = 1; "
	    "c = \"\\u0024CURDIR\"",
	    "{\"a\":\"$CURDIR\",\"$CURDIR\":1,\"c\":\"$CURDIR\"}");
	check_config_json(f, "a = [$CURDIR, { b = $FILENAME }]",
	    "{\"a\":[\"/nonexistent/vm\",{\"b\":\"/nonexistent/vm/config\"}]}");
	/* Buffers (requests, replies) have no variables. */
	check_json("a = \"$CURDIR\"", "{\"a\":\"$CURDIR\"}");
}

/* The variables of a real file: its real path, and in .include. */
static void
test_variables_in_files(void **state)
{
	static const char *const names[] = { "real/main.conf",
	    "real/inc.conf", "link", "real", NULL };
	struct ucl_error	 err;
	struct ucl_node		*root;
	char			*dir = make_dir(), path[PATH_MAX], real[PATH_MAX];
	char			 want[3 * PATH_MAX], *json;

	assert_non_null(realpath(dir, real));
	snprintf(path, sizeof(path), "%s/real", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/link", dir);
	assert_int_equal(symlink("real", path), 0);
	write_file(dir, "real/main.conf", "a = $CURDIR\n"
	    ".include \"$CURDIR/inc.conf\"\n");
	write_file(dir, "real/inc.conf", "b = $FILENAME\n");
	snprintf(path, sizeof(path), "%s/link/main.conf", dir);
	root = ucl_parse_config(path, &err);
	if (root == NULL)
		fail_msg("%s:%d:%d: %s", err.file, err.line, err.column,
		    err.message);
	json = json_of(root, false);
	snprintf(want, sizeof(want), "{\"a\":\"%s/real\",\"b\":"
	    "\"%s/real/inc.conf\"}", real, real);
	assert_string_equal(json, want);
	free(json);
	ucl_free(root);
	/* A data file (a state file) means what it says. */
	assert_null(ucl_parse_file(path, &err));
	assert_non_null(strstr(err.message, ".include is only allowed in"));
	snprintf(path, sizeof(path), "%s/link/inc.conf", dir);
	assert_non_null(root = ucl_parse_file(path, &err));
	json = json_of(root, false);
	assert_string_equal(json, "{\"b\":\"$FILENAME\"}");
	free(json);
	ucl_free(root);
	remove_dir(dir, names);
}

static void
test_fraction_with_binary_suffix(void **state)
{
	/* libucl drops the fraction: 1.5kb is 1024 to it. */
	ERROR("a = 1.5kb", 1, 5, "1.5kb: a fraction with the suffix kb is "
	    "refused, since libucl drops the fraction: write a whole number "
	    "of kb, or the value in bytes");
	ERROR("a = 0.5GB", 1, 5, "suffix gb is refused");
	ERROR("a = -1.5mb", 1, 5, "suffix mb is refused");
	ERROR("a = 1e-1kb", 1, 5, "suffix kb is refused");
	/* A whole float reads as libucl reads it. */
	check_json("a = 2.0kb; b = 1e3kb; c = 1.5e1kb",
	    "{\"a\":2048,\"b\":1024000,\"c\":15360}");
	check_json("a = 1.5k; b = 2.5min", "{\"a\":1500.0,\"b\":150.0}");
}

static void
test_tab_in_double_quotes(void **state)
{
	ERROR("a = \"x\ty\"", 1, 7, "a TAB in a double-quoted string: write "
	    "it as \\t");
	ERROR("\"a\tb\" = 1", 1, 3, "a TAB in a double-quoted string");
	check_json("a = 'x\ty'; b = x\ty", "{\"a\":\"x\\ty\",\"b\":\"x\\ty\"}");
}

static void
test_heredoc_as_libucl(void **state)
{
	/* libucl never ends a heredoc on its first line. */
	ERROR("a = <<EOD\nEOD\nb = <<EOD\nx\nEOD\n", 1, 5, "empty heredoc "
	    "<<EOD: write \"\" for an empty string");
	ERROR("a = <<EOD\nEOD;\n", 1, 5, "empty heredoc");
	/* libucl opens a heredoc at <<TERM LF only, and closes at TERM LF. */
	ERROR("a = <<EOD\r\nx\r\nEOD\r\n", 1, 5, "<<EOD is followed by CR LF, "
	    "which does not open a heredoc in UCL: save the file with LF "
	    "line ends");
	ERROR("a = <<EOD\nx\r\nEOD\r\nb = 1\n", 3, 1, "the line \"EOD\" that "
	    "ends the heredoc of line 1 ends with CR LF");
	ERROR("a = <<EOD\nx\nEOD\r", 3, 1, "ends with CR LF");
	ERROR("a = <<\nx\n\nb = 1\n", 1, 5, "\"<<\" ends the line: a heredoc "
	    "needs its terminator in capital letters");
	/* The CRs of the text stay, as in libucl. */
	check_json("a = <<EOD\nx\r\ny\r\nEOD\nb = 1\n",
	    "{\"a\":\"x\\r\\ny\\r\",\"b\":1}");
	check_json("a = <<EOD\nx\nEOD,b = 1", "{\"a\":\"x\",\"b\":1}");
}

static void
test_lone_cr_refused(void **state)
{
	/* libucl ends a value at a lone CR, but not a comment. */
	ERROR("a = 1\rb = 2\r", 1, 6, "a carriage return (CR) without a line "
	    "feed after it: only LF and CR LF line ends are read");
	ERROR("a = [1,\r2]", 1, 8, "carriage return");
	ERROR("a\r{ b = 1 }", 1, 2, "carriage return");
	check_json("a = 1\r\nb = [1,\r\n2]\r\n# c\rd\r\n",
	    "{\"a\":1,\"b\":[1,2]}");
	check_json("a = 'x\ry'", "{\"a\":\"x\\ry\"}");
}

static void
test_byte_order_mark_skipped(void **state)
{
	/* libucl makes it part of the first key: skipped here. */
	check_json("\xef\xbb\xbf" "a = 1", "{\"a\":1}");
	check_json("\xef\xbb\xbf" "{\"a\": 1}", "{\"a\":1}");
	check_json("a = \"\xef\xbb\xbf\"", "{\"a\":\"\xef\xbb\xbf\"}");
}

static void
test_nan_and_inf_are_strings(void **state)
{
	/* libucl reads bare nan and inf as floats, which JSON cannot hold. */
	check_json("a = nan; b = inf; c = -inf",
	    "{\"a\":\"nan\",\"b\":\"inf\",\"c\":\"-inf\"}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assignment_forms),
		cmocka_unit_test(test_invalid_utf8_passes_through),
		cmocka_unit_test(test_man_page_example),
		cmocka_unit_test(test_top_level_forms),
		cmocka_unit_test(test_json_document),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_repeated_sections),
		cmocka_unit_test(test_implicit_arrays),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_double_quoted_escapes),
		cmocka_unit_test(test_string_errors),
		cmocka_unit_test(test_single_quoted),
		cmocka_unit_test(test_unquoted_strings),
		cmocka_unit_test(test_heredoc),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_number_suffixes),
		cmocka_unit_test(test_time_suffixes),
		cmocka_unit_test(test_number_range_errors),
		cmocka_unit_test(test_booleans_and_null),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_include_errors),
		cmocka_unit_test(test_include_depth),
		cmocka_unit_test(test_structure_errors),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_emit_pretty),
		cmocka_unit_test(test_emit_escapes_and_floats),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_crlf_and_bom),
		cmocka_unit_test(test_slashes_are_no_comment),
		cmocka_unit_test(test_variables_expand_as_libucl),
		cmocka_unit_test(test_variables_in_files),
		cmocka_unit_test(test_fraction_with_binary_suffix),
		cmocka_unit_test(test_tab_in_double_quotes),
		cmocka_unit_test(test_heredoc_as_libucl),
		cmocka_unit_test(test_lone_cr_refused),
		cmocka_unit_test(test_byte_order_mark_skipped),
		cmocka_unit_test(test_nan_and_inf_are_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
