/*
 * json_check.c: a strict, bounded JSON syntax check (RFC 8259).
 */
#include <stdbool.h>
#include <string.h>

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

static int
jc_string(struct jc *c)
{
	int	 i;

	c->p++;				/* opening quote */
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p;
		if (ch == '"') {
			c->p++;
			return 0;
		}
		if (ch < 0x20)
			return jc_fail(c, "control character in a string");
		if (ch == '\\') {
			if (++c->p >= c->end)
				break;
			if (*c->p == 'u') {
				for (i = 1; i <= 4; i++)
					if (c->p + i >= c->end ||
					    !jc_hex(c->p[i]))
						return jc_fail(c, "bad \\u "
						    "escape");
				c->p += 5;
				continue;
			}
			if (strchr("\"\\/bfnrt", *c->p) == NULL || *c->p == 0)
				return jc_fail(c, "bad escape in a string");
		}
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

/* An object or an array: members separated by commas, no trailing one. */
static int
jc_container(struct jc *c, int depth, char close)
{
	if (depth >= JSON_MAX_DEPTH)
		return jc_fail(c, "nested too deeply");
	c->p++;
	jc_space(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return 0;
	}
	for (;;) {
		jc_space(c);
		if (close == '}') {
			if (c->p >= c->end || *c->p != '"')
				return jc_fail(c, "a member name in double "
				    "quotes is expected");
			if (jc_string(c) == -1)
				return -1;
			jc_space(c);
			if (c->p >= c->end || *c->p != ':')
				return jc_fail(c, "\":\" is expected");
			c->p++;
		}
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
		return jc_string(c);
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
