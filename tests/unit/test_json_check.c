/*
 * test_json_check.c: the strict check every request passes before it is
 * read (json_check.c): JSON syntax, and what JSON readers would read
 * differently (keys given twice, \u0000, text that is not UTF-8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json_check.h"

static void
ok(const char *text)
{
	const char	*reason = NULL;
	size_t		 column = 0;

	if (json_check(text, strlen(text), &column, &reason) != 0)
		fail_msg("%s: refused at column %zu: %s", text, column, reason);
}

static void
refused(const char *text, size_t want_column, const char *want_reason)
{
	const char	*reason = NULL;
	size_t		 column = 0;

	if (json_check(text, strlen(text), &column, &reason) == 0)
		fail_msg("%s: accepted", text);
	if (column != want_column || strcmp(reason, want_reason) != 0)
		fail_msg("%s: got column %zu: %s\nwant column %zu: %s", text,
		    column, reason, want_column, want_reason);
}

static void
test_valid_requests(void **state)
{
	(void)state;
	ok("{\"command\":\"status\"}");
	ok("{\"command\": \"start\", \"vms\": [\"a\", \"b\"], \"watch\": true}");
	ok("[1, -2.5e3, null, false, {\"a\": {\"a\": 1}}, \"\\u00e9\"]");
	ok("{\"a\": {\"b\": 1}, \"b\": {\"a\": 1}}");
	ok("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	refused("{\"a\": 1,}", 9, "a trailing comma");
	refused("{a: 1}", 2, "a member name in double quotes is expected");
	refused("\"\\q\"", 3, "bad escape in a string");
	refused("[1] 2", 5, "more text after the JSON value");
}

/* Most JSON readers keep the last, the UCL parser both: refused. */
static void
test_key_given_twice_is_refused(void **state)
{
	(void)state;
	refused("{\"command\":\"start\",\"vms\":[\"a\"],\"command\":\"kill\"}",
	    32, "a key given twice in one object");
	/* The same key however it is escaped. */
	refused("{\"vms\":1,\"v\\u006ds\":2}", 10,
	    "a key given twice in one object");
	refused("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", 19,
	    "a key given twice in one object");
	refused("[{\"a\":1},{\"b\":{\"c\":1,\"c\":2}}]", 22,
	    "a key given twice in one object");
}

/* "vm1\u0000x" would be cut to "vm1" and act on another VM. */
static void
test_nul_escape_is_refused(void **state)
{
	(void)state;
	refused("{\"command\":\"kill\",\"vms\":[\"vm1\\u0000x\"]}", 30,
	    "\\u0000 (a NUL character) in a string");
	refused("{\"a\\u0000\":1}", 4, "\\u0000 (a NUL character) in a string");
	ok("\"\\u0001\"");
}

static void
test_text_that_is_not_utf8_is_refused(void **state)
{
	(void)state;
	refused("{\"vms\":[\"vm\xff\"]}", 12, "text that is not UTF-8");
	refused("\"\xc0\xaf\"", 2, "text that is not UTF-8");
	refused("\"\xed\xa0\x80\"", 2, "text that is not UTF-8");
	refused("\"\xe2\x82\"", 2, "text that is not UTF-8");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_requests),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_key_given_twice_is_refused),
		cmocka_unit_test(test_nul_escape_is_refused),
		cmocka_unit_test(test_text_that_is_not_utf8_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
