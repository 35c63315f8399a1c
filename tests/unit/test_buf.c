/*
 * test_buf.c: growable buffers, the JSON string writer and the allocation
 * helpers of src/common/buf.c.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void
test_append_grows_and_terminates(void **state)
{
	struct buf	 b;
	int		 i;

	buf_init(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	for (i = 0; i < 1000; i++)
		buf_putc(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 1000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[1000], '\0');
	assert_int_equal(b.data[26], 'a');
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
}

static void
test_puts_printf_append(void **state)
{
	struct buf	 b;

	buf_init(&b);
	buf_puts(&b, "vm ");
	buf_printf(&b, "%s has %d cpus", "bsdvm", 2);
	buf_append(&b, "\0x", 2);
	assert_int_equal(b.len, 21);
	assert_string_equal(b.data, "vm bsdvm has 2 cpus");
	assert_memory_equal(b.data + 19, "\0x\0", 3);
	buf_append(&b, NULL, 0);
	assert_int_equal(b.len, 21);
	buf_free(&b);
}

static void
test_printf_long_output(void **state)
{
	struct buf	 b;
	char		 big[5000];

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b);
	buf_printf(&b, "<%s>", big);
	assert_int_equal(b.len, sizeof(big) + 1);
	assert_int_equal(b.data[0], '<');
	assert_int_equal(b.data[b.len - 1], '>');
	buf_free(&b);
}

/* Output that fits the room left, exactly or all but a byte, or not. */
static void
test_printf_at_the_edge_of_the_room(void **state)
{
	struct buf	 b;
	size_t		 room, len;
	int		 extra;

	for (extra = -2; extra <= 2; extra++) {
		buf_init(&b);
		buf_puts(&b, "0123456789");	/* capacity 64 */
		room = b.cap - b.len;
		len = (size_t)((int)room + extra);
		buf_printf(&b, "%0*d|", (int)len - 1, 7);
		assert_int_equal(b.len, 10 + len);
		assert_int_equal(strlen(b.data), b.len);
		assert_memory_equal(b.data, "0123456789000", 13);
		assert_string_equal(b.data + b.len - 2, "7|");
		buf_free(&b);
	}
}

static void
test_put_int(void **state)
{
	struct buf	 b;

	buf_init(&b);
	buf_put_int(&b, 0);
	buf_putc(&b, ' ');
	buf_put_int(&b, -42);
	buf_putc(&b, ' ');
	buf_put_int(&b, 1234567890123LL);
	buf_putc(&b, ' ');
	buf_put_int(&b, LLONG_MIN);
	buf_putc(&b, ' ');
	buf_put_int(&b, LLONG_MAX);
	assert_string_equal(b.data, "0 -42 1234567890123 "
	    "-9223372036854775808 9223372036854775807");
	buf_free(&b);
}

static void
test_reset_consume_steal(void **state)
{
	struct buf	 b;
	char		*s;

	buf_init(&b);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	buf_puts(&b, "line one\nline two\n");
	buf_consume(&b, 9);
	assert_string_equal(b.data, "line two\n");
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_puts(&b, "kept");
	s = buf_steal(&b);
	assert_string_equal(s, "kept");
	assert_null(b.data);
	free(s);
	/* An empty buffer still gives a string. */
	s = buf_steal(&b);
	assert_string_equal(s, "");
	free(s);
}

/* Every reply is valid UTF-8: bytes that are not become U+FFFD each. */
static void
test_json_string_is_always_utf8(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b);
	buf_json_string(&b, "vm\xff\xfe", 4);
	assert_string_equal(b.data, "\"vm\\ufffd\\ufffd\"");
	buf_reset(&b);
	/* Overlong, surrogate, beyond U+10FFFF, truncated, lone continuation. */
	buf_json_string(&b, "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82|"
	    "\x80", 16);
	assert_string_equal(b.data, "\"\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
	    "\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\"");
	buf_reset(&b);
	/* Valid characters of every length pass as they are. */
	buf_json_string(&b, "\x41\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f"
	    "\xbf\xbf", 14);
	assert_string_equal(b.data, "\"\x41\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
	    "\xf4\x8f\xbf\xbf\"");
	buf_free(&b);
	assert_int_equal(utf8_invalid_at("ab\xc3\xa9", 4), 4);
	assert_int_equal(utf8_invalid_at("ab\xc3", 3), 2);
	assert_int_equal(utf8_invalid_at("\xed\xbf\xbf", 3), 0);
	assert_int_equal(utf8_char_len("\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(utf8_char_len("\xf0\x8f\xbf\xbf", 4), 0);
}

static void
test_json_string(void **state)
{
	struct buf	 b;

	buf_init(&b);
	buf_json_string(&b, "a\"b\\c\n\r\t\b\f\x01\x7f\0z", 14);
	assert_string_equal(b.data,
	    "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u007f\\u0000z\"");
	buf_reset(&b);
	buf_json_string(&b, "caf\xc3\xa9", 5);
	assert_string_equal(b.data, "\"caf\xc3\xa9\"");
	buf_reset(&b);
	/* Runs of plain characters between escapes, at either end. */
	buf_json_string(&b, "\"plain run\"\\two\\", 16);
	assert_string_equal(b.data, "\"\\\"plain run\\\"\\\\two\\\\\"");
	buf_reset(&b);
	buf_json_string(&b, "", 0);
	assert_string_equal(b.data, "\"\"");
	buf_reset(&b);
	buf_json_cstr(&b, NULL);
	buf_putc(&b, ' ');
	buf_json_cstr(&b, "x");
	assert_string_equal(b.data, "null \"x\"");
	buf_free(&b);
}

static void
test_shell_quote(void **state)
{
	struct buf	 b;

	buf_init(&b);
	buf_shell_quote(&b, "/usr/bin/qemu-system-x86_64");
	buf_putc(&b, ' ');
	buf_shell_quote(&b, "console=ttyS0 quiet");
	buf_putc(&b, ' ');
	buf_shell_quote(&b, "it's");
	buf_putc(&b, ' ');
	buf_shell_quote(&b, "");
	assert_string_equal(b.data, "/usr/bin/qemu-system-x86_64 "
	    "'console=ttyS0 quiet' 'it'\\''s' ''");
	buf_free(&b);
}

static void
test_allocation_helpers(void **state)
{
	char	*s;
	int	 n;

	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	s = xstrdup("");
	assert_string_equal(s, "");
	free(s);
	n = xasprintf(&s, "%s-%03d", "vm", 7);
	assert_int_equal(n, 6);
	assert_string_equal(s, "vm-007");
	free(s);
	s = xcalloc(4, 4);
	assert_memory_equal(s, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	s = xrealloc(s, 64);
	free(s);
	free(xmalloc(0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_grows_and_terminates),
		cmocka_unit_test(test_puts_printf_append),
		cmocka_unit_test(test_printf_long_output),
		cmocka_unit_test(test_printf_at_the_edge_of_the_room),
		cmocka_unit_test(test_put_int),
		cmocka_unit_test(test_reset_consume_steal),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_json_string_is_always_utf8),
		cmocka_unit_test(test_shell_quote),
		cmocka_unit_test(test_allocation_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
