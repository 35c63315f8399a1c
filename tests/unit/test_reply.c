/*
 * test_reply.c: the client's reply reader (src/vmstatedctl/reply.c).
 *
 * The reader replaced the UCL tree in vmstatedctl, and the client's output
 * must not change: so most tests read the same line with both and compare
 * every value, in order, for hand-picked lines and for random ones.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ucl.h"
#include "vmstatedctl.h"

/* Compare the value v (read by cursor parent) with the UCL node n. */
static void
compare_value(struct reply *r, struct reply_value *v,
    struct reply_cursor *parent, const struct ucl_node *n);

/* Walk the container v and n side by side. */
static void
compare_children(struct reply *r, struct reply_value *v,
    struct reply_cursor *parent, const struct ucl_node *n)
{
	struct reply_cursor	 c;
	struct reply_value	 e;
	const struct ucl_node	*child = n->children;
	const char		*key;

	reply_enter(r, v, &c, parent);
	while (reply_next(&c, &key, &e)) {
		assert_non_null(child);
		if (n->type == UCL_OBJECT) {
			assert_non_null(key);
			assert_int_equal(c.key_len, child->key_len);
			assert_memory_equal(key, child->key, child->key_len);
		} else
			assert_null(key);
		compare_value(r, &e, &c, child);
		child = child->next;
	}
	assert_null(child);
	assert_int_equal(c.count, n->count);
}

static void
compare_value(struct reply *r, struct reply_value *v,
    struct reply_cursor *parent, const struct ucl_node *n)
{
	switch (n->type) {
	case UCL_NULL:
		assert_int_equal(v->type, REPLY_NULL);
		break;
	case UCL_BOOLEAN:
		assert_int_equal(v->type, REPLY_BOOLEAN);
		assert_int_equal(v->boolean, n->v.boolean);
		break;
	case UCL_INT:
		assert_int_equal(v->type, REPLY_INT);
		assert_true(v->integer == n->v.integer);
		break;
	case UCL_FLOAT:
		assert_int_equal(v->type, REPLY_FLOAT);
		assert_true(v->number == n->v.number);
		break;
	case UCL_STRING:
		assert_int_equal(v->type, REPLY_STRING);
		assert_non_null(reply_string(r, v));
		assert_int_equal(v->len, n->v.string.len);
		assert_memory_equal(v->string, n->v.string.ptr, v->len + 1);
		break;
	case UCL_ARRAY:
		assert_int_equal(v->type, REPLY_ARRAY);
		compare_children(r, v, parent, n);
		break;
	case UCL_OBJECT:
		assert_int_equal(v->type, REPLY_OBJECT);
		compare_children(r, v, parent, n);
		break;
	default:
		fail_msg("unexpected UCL type %d", (int)n->type);
	}
}

/*
 * Read line with both readers and compare; with UCL, a key given twice
 * is two members too, so the walks match member for member.
 */
static void
compare_line(const char *line)
{
	struct reply		 r;
	struct ucl_error	 err;
	struct ucl_node		*n;
	const struct ucl_node	*m, *first;
	size_t			 i, j;

	n = ucl_parse_buffer(line, strlen(line), "line", &err);
	if (n == NULL)
		fail_msg("UCL refuses %s: %s", line, err.message);
	if (reply_parse(&r, line, strlen(line)) != 0)
		fail_msg("the reader refuses %s: %s", line, r.error);
	assert_int_equal(n->type, UCL_OBJECT);
	assert_int_equal(r.nmembers, n->count);
	for (i = 0, m = n->children; m != NULL; m = m->next, i++) {
		assert_int_equal(r.members[i].key_len, m->key_len);
		assert_memory_equal(r.members[i].key, m->key, m->key_len);
		compare_value(&r, &r.members[i].value, NULL, m);
		/* reply_get finds the first of a repeated key, as ucl_lookup. */
		if (strlen(m->key) != m->key_len)
			continue;	/* a NUL in a key: not a C string */
		for (j = 0; r.members[j].key_len != m->key_len ||
		    strcmp(r.members[j].key, m->key) != 0; j++)
			;
		assert_ptr_equal(reply_get(&r, m->key), &r.members[j].value);
		for (first = n->children; j > 0; j--)
			first = first->next;
		assert_ptr_equal(ucl_lookup(n, m->key), first);
	}
	reply_free(&r);
	ucl_free(n);
}

static void
test_lines_read_as_ucl_reads_them(void **state)
{
	static const char *lines[] = {
		"",
		"{}",
		"  { }  ",
		"{\"ok\":true}",
		"{\"ok\":false,\"error\":\"no VM named \\\"x\\\"; see 'status'\"}",
		"{\"ok\":true,\"vms\":[]}",
		"{\"ok\":true,\"vms\":[{\"name\":\"a\",\"state\":\"stopped\","
		    "\"pid\":null,\"uptime\":null,\"restarts\":0,"
		    "\"maxrestart\":3,\"owner\":null,\"description\":\"d\"},"
		    "{\"name\":\"b\",\"pid\":4242,\"uptime\":3725,"
		    "\"pending\":false}]}",
		"{\"s\":\"tab\\there\\nnl \\\\ \\/ \\b\\f\\r\"}",
		"{\"s\":\"\\u00e9\\u20ac\\ud83d\\ude00 caf\xc3\xa9\"}",
		"{\"s\":\"nul\\u0000inside\",\"t\":\"\\u0000\"}",
		"{\"s\":\"\",\"t\":\"\\u001b[2J\"}",
		"{\"n\":[0,-0,1,-1,9223372036854775807,"
		    "-9223372036854775808,123456789012345678,"
		    "1234567890123456789]}",
		"{\"f\":[1.5,-0.25,1e3,1E-3,2.5e+10,1764200000.123,0.0]}",
		"{\"nest\":{\"a\":[[],[[]],{},{\"b\":{\"c\":[1,{\"d\":2}]}}]}}",
		"{\"dup\":1,\"dup\":\"two\",\"x\":[true,false,null]}",
		"{ \"spaced\" : [ 1 , 2 ] , \"k\" :\t\"v\" }",
		"{\"a key with \\\" and \\\\\":1,\"\\u006bey\":2}",
		"{\"event\":\"state\",\"vm\":\"a\",\"from\":\"stopped\","
		    "\"to\":\"start_network\",\"reason\":\"request\","
		    "\"time\":1764200000.123,\"pid\":null}",
		("{\"long key long key long key long key long key long key "
		    "long key\":\"the cursor's key buffer is 64 bytes\"}"),
	};
	size_t	 i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		compare_line(lines[i]);
}

/* A small generator of random JSON, to compare on many lines. */
static unsigned long	rng = 12345;

static unsigned
rnd(unsigned n)
{
	rng = rng * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)(rng >> 33) % n;
}

/* A string of random pieces; a key starts with "k": UCL wants none empty. */
static void
random_string(struct buf *b, bool key)
{
	static const char *pieces[] = { "a", "vm", " ", "\\\"", "\\\\",
	    "\\/", "\\n", "\\t", "\\u0000", "\\u00e9", "\\u20ac",
	    "\\ud83d\\ude00", "\xc3\xa9", "\\b", "\\f", "\\r", "{", "]",
	    ",", ":", "\\u007f" };
	unsigned	 i, n = rnd(6);

	buf_puts(b, key ? "\"k" : "\"");
	for (i = 0; i < n; i++)
		buf_puts(b, pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))]);
	buf_putc(b, '"');
}

static void
random_value(struct buf *b, int depth)
{
	static const char *numbers[] = { "0", "-0", "7", "-12", "3.25",
	    "-0.5", "1e2", "2E-2", "6.02e+23", "9223372036854775807",
	    "-9223372036854775808", "1764200000.123456" };
	unsigned	 i, n;

	switch (rnd(depth > 4 ? 5 : 7)) {
	case 0:
		buf_puts(b, "null");
		break;
	case 1:
		buf_puts(b, rnd(2) ? "true" : "false");
		break;
	case 2:
		buf_puts(b, numbers[rnd(sizeof(numbers) /
		    sizeof(numbers[0]))]);
		break;
	case 3:
	case 4:
		random_string(b, false);
		break;
	case 5:
		buf_putc(b, '[');
		for (i = 0, n = rnd(4); i < n; i++) {
			if (i > 0)
				buf_puts(b, rnd(3) ? "," : " , ");
			random_value(b, depth + 1);
		}
		buf_putc(b, ']');
		break;
	default:
		buf_putc(b, '{');
		for (i = 0, n = rnd(4); i < n; i++) {
			if (i > 0)
				buf_putc(b, ',');
			random_string(b, true);
			buf_puts(b, rnd(3) ? ":" : " : ");
			random_value(b, depth + 1);
		}
		buf_putc(b, '}');
		break;
	}
}

static void
test_random_lines_read_as_ucl_reads_them(void **state)
{
	struct buf	 b;
	unsigned	 i, j, n;

	buf_init(&b);
	for (i = 0; i < 3000; i++) {
		buf_reset(&b);
		buf_putc(&b, '{');
		for (j = 0, n = rnd(5); j < n; j++) {
			if (j > 0)
				buf_putc(&b, ',');
			random_string(&b, true);
			buf_putc(&b, ':');
			random_value(&b, 0);
		}
		buf_putc(&b, '}');
		compare_line(b.data);
	}
	buf_free(&b);
}

static void
test_refuses_what_is_not_json(void **state)
{
	static const char *bad[] = {
		"{",
		"{\"a\":1",
		"{\"a\":1,}x",
		"{\"a\" 1}",
		"{\"a\":tru}",
		"{\"a\":\"unterminated}",
		"{\"a\":\"bad \\x escape\"}",
		"{\"a\":\"\\ud83d alone\"}",
		"{\"a\":\"\\ude00 low\"}",
		"{\"a\":\"\\u12\"}",
		"{\"a\":\"raw \x01 control\"}",
		"{\"a\":\"raw \t tab\"}",
		"{\"a\":9223372036854775808}",
		"{\"a\":-9223372036854775809}",
		"{\"a\":1e999}",
		"{\"a\":[1,2}",
		"{\"a\":{\"b\":1]}",
		"{\"a\":1} trailing",
		"[1,2]",
		"\"string\"",
		"{a:1}",
		"{\"a\":.5}",
		"{\"a\":1.}",
		"{\"a\":1e}",
		"{\"a\":t",
		"{\"a\":nul",
		"{\"a\":\"\\u12",
		"{\"a\":\"\\",
		"{\"a\":-",
	};
	struct reply	 r;
	struct buf	 deep;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (reply_parse(&r, bad[i], strlen(bad[i])) == 0)
			fail_msg("the reader accepts %s", bad[i]);
		assert_true(r.error[0] != '\0');
		reply_free(&r);
	}
	/* A NUL byte within the line is refused, not read up to. */
	assert_int_equal(reply_parse(&r, "{}\0{}", 5), -1);
	reply_free(&r);
	/* Nesting is bounded, and refused cleanly past the bound. */
	buf_init(&deep);
	buf_puts(&deep, "{\"a\":");
	for (i = 0; i < 100; i++)
		buf_putc(&deep, '[');
	for (i = 0; i < 100; i++)
		buf_putc(&deep, ']');
	buf_putc(&deep, '}');
	assert_int_equal(reply_parse(&r, deep.data, deep.len), -1);
	assert_non_null(strstr(r.error, "deep"));
	reply_free(&r);
	buf_free(&deep);
}

static void
test_cursor_passes_over_what_it_does_not_enter(void **state)
{
	const char	*line = "{\"vms\":[{\"name\":\"a\",\"x\":{\"y\":[1,"
	    "\"]}\"]},\"name\":\"dup\"},[\"inner\"],{\"name\":\"b\"}],"
	    "\"ok\":true}";
	struct reply		 r;
	struct reply_cursor	 c, vm;
	struct reply_value	 v, m;
	const struct reply_value *vms;
	const char		*key;

	assert_int_equal(reply_parse(&r, line, strlen(line)), 0);
	assert_true(reply_true(&r, NULL, "ok"));
	assert_non_null(vms = reply_get(&r, "vms"));
	reply_enter(&r, vms, &c, NULL);

	/* Enter the first VM halfway: the array cursor still goes on. */
	assert_true(reply_next(&c, NULL, &v));
	assert_int_equal(v.type, REPLY_OBJECT);
	assert_string_equal(reply_str(&r, &v, "name"), "a");
	reply_enter(&r, &v, &vm, &c);
	assert_true(reply_next(&vm, &key, &m));
	assert_string_equal(key, "name");
	assert_true(reply_next(&vm, &key, &m));
	assert_string_equal(key, "x");
	assert_int_equal(m.type, REPLY_OBJECT);

	/* Not entered: passed over whole, brackets in strings and all. */
	assert_true(reply_next(&c, NULL, &v));
	assert_int_equal(v.type, REPLY_ARRAY);
	assert_true(reply_next(&c, NULL, &v));
	assert_string_equal(reply_str(&r, &v, "name"), "b");
	assert_false(reply_next(&c, NULL, &v));
	assert_false(reply_next(&c, NULL, &v));
	assert_int_equal(c.count, 3);

	/* Entered to the end: the parent goes on from where it stopped. */
	reply_enter(&r, vms, &c, NULL);
	assert_true(reply_next(&c, NULL, &v));
	reply_enter(&r, &v, &vm, &c);
	while (reply_next(&vm, &key, &m))
		;
	assert_int_equal(vm.count, 3);
	assert_null(c.pending);
	assert_true(reply_next(&c, NULL, &v));
	assert_int_equal(v.type, REPLY_ARRAY);
	reply_free(&r);
}

static void
test_strings_keep_their_nuls(void **state)
{
	const char	*line = "{\"s\":\"a\\u0000b\",\"e\":\"x\\ty\"}";
	struct reply		 r;
	struct reply_cursor	 c;
	struct reply_value	 v;
	struct reply_value	 top = { .type = REPLY_OBJECT };
	struct buf		 b;

	assert_int_equal(reply_parse(&r, line, strlen(line)), 0);
	top.at = line;
	buf_init(&b);
	reply_enter(&r, &top, &c, NULL);
	assert_true(reply_next(&c, NULL, &v));
	assert_int_equal(reply_append_string(&v, &b), 3);
	assert_memory_equal(b.data, "a\0b", 4);
	assert_true(reply_next(&c, NULL, &v));
	buf_reset(&b);
	assert_int_equal(reply_append_string(&v, &b), 3);
	assert_string_equal(b.data, "x\ty");
	assert_string_equal(reply_string(&r, &v), "x\ty");
	/* Once decoded, appending copies the decoded text. */
	assert_int_equal(reply_append_string(&v, &b), 3);
	assert_string_equal(b.data, "x\tyx\ty");
	buf_free(&b);
	reply_free(&r);
}

/*
 * The reader scans strings a word at a time: put an escape, a byte that
 * must be refused, or a multibyte character at every offset of keys and
 * values of every length up to a few words, and at the line's end.
 */
static void
test_every_offset_in_long_strings(void **state)
{
	static const char *specials[] = { "\\\"", "\\\\", "\\u0000",
	    "\\n", "\xc3\xa9", "\x7f", "~", " " };
	static const char *refused[] = { "\x01", "\t", "\x1f", "\"" };
	struct buf		 b;
	struct reply		 r;
	struct reply_cursor	 c;
	struct reply_value	 v, top = { .type = REPLY_OBJECT };
	const char		*plain;
	size_t			 len, at, i, got;

	buf_init(&b);
	for (len = 0; len <= 40; len++)
		for (at = 0; at <= len; at++) {
			for (i = 0; i < sizeof(specials) / sizeof(*specials);
			    i++) {
				buf_reset(&b);
				buf_puts(&b, "{\"k");
				buf_fill(&b, 'k', at);
				buf_puts(&b, specials[i]);
				buf_fill(&b, 'k', len - at);
				buf_puts(&b, "\":\"");
				buf_fill(&b, 'v', at);
				buf_puts(&b, specials[i]);
				buf_fill(&b, 'v', len - at);
				buf_puts(&b, "\"}");
				compare_line(b.data);
				/* Plain when there is no escape to decode. */
				assert_int_equal(reply_parse(&r, b.data,
				    b.len), 0);
				top.at = b.data;
				reply_enter(&r, &top, &c, NULL);
				assert_true(reply_next(&c, NULL, &v));
				plain = reply_plain(&v, &got);
				if (specials[i][0] == '\\')
					assert_null(plain);
				else {
					assert_non_null(plain);
					assert_int_equal(got,
					    len + strlen(specials[i]));
				}
				reply_free(&r);
			}
			for (i = 0; i < sizeof(refused) / sizeof(*refused);
			    i++) {
				buf_reset(&b);
				buf_puts(&b, "{\"k\":\"");
				buf_fill(&b, 'v', at);
				buf_puts(&b, refused[i]);
				buf_fill(&b, 'v', len - at);
				buf_puts(&b, "\"}");
				assert_int_equal(reply_parse(&r, b.data,
				    b.len), -1);
				reply_free(&r);
			}
		}
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_read_as_ucl_reads_them),
		cmocka_unit_test(test_random_lines_read_as_ucl_reads_them),
		cmocka_unit_test(test_refuses_what_is_not_json),
		cmocka_unit_test(test_cursor_passes_over_what_it_does_not_enter),
		cmocka_unit_test(test_strings_keep_their_nuls),
		cmocka_unit_test(test_every_offset_in_long_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
