/*
 * json_check.c: a strict, bounded JSON syntax check (RFC 8259), plus what
 * RFC 8259 leaves open and a request must not leave open: text that is not
 * UTF-8, a key given twice in one object (readers differ on which one
 * counts: the UCL parser keeps both, most JSON readers the last), and a
 * \u0000 in a string (C strings end there: "vm1\u0000x" would act on
 * vm1).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_check.h"

#define JSON_MAX_DEPTH	64

struct jc {
	const char	*p;
	const char	*start;
	const char	*end;
	const char	*reason;
};

static int	jc_value(struct jc *, int depth);

static int
jc_fail(struct jc *c, const char *reason)
{
	if (c->reason == NULL)
		c->reason = reason;
	return -1;
}

static void
jc_space(struct jc *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
	    *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool
jc_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
	    (ch >= 'A' && ch <= 'F');
}

/* Append the UTF-8 of code point cp to b. */
static void
jc_put_utf8(struct buf *b, unsigned long cp)
{
	char	 u[4];

	if (cp < 0x80) {
		buf_putc(b, (char)cp);
		return;
	}
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		buf_append(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		buf_append(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		buf_append(b, u, 4);
	}
}

/* Four hex digits at p (checked) as a number. */
static unsigned long
jc_hex4(const char *p)
{
	unsigned long	 v = 0;
	int		 i;

	for (i = 0; i < 4; i++)
		v = v << 4 | (unsigned long)(p[i] <= '9' ? p[i] - '0' :
		    (p[i] | 0x20) - 'a' + 10);
	return v;
}

/*
 * A string at c->p.  When key is not NULL, its decoded text is appended
 * there, to find keys given twice.
 */
static int
jc_string(struct jc *c, struct buf *key)
{
	unsigned long	 cp, lo;
	size_t		 n;
	int		 i;

	c->p++;				/* opening quote */
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p;
		if (ch == '"') {
			c->p++;
			return 0;
		}
		if (ch < 0x20)
			return jc_fail(c, "control character in a string");
		if (ch >= 0x80) {
			if ((n = utf8_char_len(c->p, (size_t)(c->end -
			    c->p))) == 0)
				return jc_fail(c, "text that is not UTF-8");
			if (key != NULL)
				buf_append(key, c->p, n);
			c->p += n;
			continue;
		}
		if (ch != '\\') {
			if (key != NULL)
				buf_putc(key, (char)ch);
			c->p++;
			continue;
		}
		if (++c->p >= c->end)
			break;
		if (*c->p == 'u') {
			for (i = 1; i <= 4; i++)
				if (c->p + i >= c->end || !jc_hex(c->p[i]))
					return jc_fail(c, "bad \\u escape");
			if ((cp = jc_hex4(c->p + 1)) == 0) {
				c->p--;
				return jc_fail(c, "\\u0000 (a NUL character) in "
				    "a string");
			}
			c->p += 5;
			/* A surrogate pair is one character, as in a key. */
			if (cp >= 0xd800 && cp <= 0xdbff && c->end - c->p >= 6 &&
			    c->p[0] == '\\' && c->p[1] == 'u' && jc_hex(c->p[2]) &&
			    jc_hex(c->p[3]) && jc_hex(c->p[4]) &&
			    jc_hex(c->p[5]) && (lo = jc_hex4(c->p + 2)) >= 0xdc00 &&
			    lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				c->p += 6;
			}
			if (key != NULL)
				jc_put_utf8(key, cp);
			continue;
		}
		if (strchr("\"\\/bfnrt", *c->p) == NULL || *c->p == 0)
			return jc_fail(c, "bad escape in a string");
		if (key != NULL)
			buf_putc(key, "\"\\/\b\f\n\r\t"[strchr("\"\\/bfnrt",
			    *c->p) - "\"\\/bfnrt"]);
		c->p++;
	}
	return jc_fail(c, "unterminated string");
}

static int
jc_digits(struct jc *c)
{
	const char	*from = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > from ? 0 : jc_fail(c, "a digit is expected");
}

static int
jc_number(struct jc *c)
{
	if (*c->p == '-')
		c->p++;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (jc_digits(c) == -1)
		return -1;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (jc_digits(c) == -1)
			return -1;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (jc_digits(c) == -1)
			return -1;
	}
	return 0;
}

static int
jc_word(struct jc *c, const char *word)
{
	size_t	 n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return jc_fail(c, "not a JSON value (strings need double "
		    "quotes)");
	c->p += n;
	return 0;
}

/* The keys of one object: their decoded text, and where each began. */
struct jc_key {
	size_t		 off, len;
	const char	*at;
};
struct jc_keys {
	struct buf	 text;
	struct jc_key	*keys;
	size_t		 n, cap;
};

static const char	*jc_sort_text;	/* for jc_key_cmp: no threads */

static int
jc_key_cmp(const void *a, const void *b)
{
	const struct jc_key	*x = a, *y = b;
	size_t			 n = x->len < y->len ? x->len : y->len;
	int			 r;

	if ((r = memcmp(jc_sort_text + x->off, jc_sort_text + y->off, n)) != 0)
		return r;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->at < y->at ? -1 : x->at > y->at;
}

/*
 * A key given twice?  Sorting keeps it O(n log n) for the largest line.
 * On a duplicate, c->p goes to the later one, so the column points at it.
 */
static int
jc_check_duplicates(struct jc *c, struct jc_keys *k)
{
	size_t	 i;

	if (k->n < 2)
		return 0;
	jc_sort_text = k->text.data;
	qsort(k->keys, k->n, sizeof(*k->keys), jc_key_cmp);
	for (i = 1; i < k->n; i++) {
		if (k->keys[i].len == k->keys[i - 1].len &&
		    memcmp(k->text.data + k->keys[i].off, k->text.data +
		    k->keys[i - 1].off, k->keys[i].len) == 0) {
			c->p = k->keys[i].at;
			return jc_fail(c, "a key given twice in one object");
		}
	}
	return 0;
}

/* One member name of an object, recorded in k. */
static int
jc_member_name(struct jc *c, struct jc_keys *k)
{
	struct jc_key	 key;

	if (c->p >= c->end || *c->p != '"')
		return jc_fail(c, "a member name in double quotes is expected");
	key.at = c->p;
	key.off = k->text.len;
	if (jc_string(c, &k->text) == -1)
		return -1;
	key.len = k->text.len - key.off;
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 8;
		k->keys = xrealloc(k->keys, k->cap * sizeof(*k->keys));
	}
	k->keys[k->n++] = key;
	jc_space(c);
	if (c->p >= c->end || *c->p != ':')
		return jc_fail(c, "\":\" is expected");
	c->p++;
	return 0;
}

/* The members or elements after the opening brace or bracket. */
static int
jc_members(struct jc *c, int depth, char close, struct jc_keys *k)
{
	for (;;) {
		jc_space(c);
		if (close == '}' && jc_member_name(c, k) == -1)
			return -1;
		if (jc_value(c, depth + 1) == -1)
			return -1;
		jc_space(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			jc_space(c);
			if (c->p < c->end && *c->p == close)
				return jc_fail(c, "a trailing comma");
			continue;
		}
		if (c->p < c->end && *c->p == close) {
			c->p++;
			return 0;
		}
		return jc_fail(c, close == '}' ? "\",\" or \"}\" is expected" :
		    "\",\" or \"]\" is expected");
	}
}

/* An object or an array: members separated by commas, no trailing one. */
static int
jc_container(struct jc *c, int depth, char close)
{
	struct jc_keys	 k;
	const char	*end;
	int		 r;

	if (depth >= JSON_MAX_DEPTH)
		return jc_fail(c, "nested too deeply");
	c->p++;
	jc_space(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return 0;
	}
	memset(&k, 0, sizeof(k));
	buf_init(&k.text);
	if ((r = jc_members(c, depth, close, &k)) == 0) {
		end = c->p;
		if ((r = jc_check_duplicates(c, &k)) == 0)
			c->p = end;
	}
	buf_free(&k.text);
	free(k.keys);
	return r;
}

static int
jc_value(struct jc *c, int depth)
{
	jc_space(c);
	if (c->p >= c->end)
		return jc_fail(c, "a value is expected");
	switch (*c->p) {
	case '{':
		return jc_container(c, depth, '}');
	case '[':
		return jc_container(c, depth, ']');
	case '"':
		return jc_string(c, NULL);
	case 't':
		return jc_word(c, "true");
	case 'f':
		return jc_word(c, "false");
	case 'n':
		return jc_word(c, "null");
	default:
		if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
			return jc_number(c);
		return jc_fail(c, "not a JSON value (strings need double "
		    "quotes)");
	}
}

int
json_check(const char *text, size_t len, size_t *column, const char **reason)
{
	struct jc	 c = { text, text, text + len, NULL };

	if (jc_value(&c, 0) == 0) {
		jc_space(&c);
		if (c.p == c.end)
			return 0;
		jc_fail(&c, "more text after the JSON value");
	}
	*column = (size_t)(c.p - c.start) + 1;
	*reason = c.reason;
	return -1;
}
