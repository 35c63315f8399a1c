/*
 * reply.c: a lean reader for the daemon's reply and event lines.
 *
 * A status reply for 1000 VMs is a line of some 200 kB.  Building the
 * generic UCL tree of it (an allocation per value, a linear search per
 * key) cost the client several times what the daemon spent writing it.
 * This reader checks the line once, remembers where each top-level member
 * starts, and lets the caller walk any object or array in order with a
 * cursor.  A string is decoded only when the caller asks for it, into one
 * arena or straight onto the caller's buffer.
 *
 * The daemon writes strict JSON (proto.h); the reader accepts that, plus
 * a raw tab inside a string and an empty line (an empty object), as the
 * UCL parser did.  Every value it hands out has been checked: after
 * reply_parse() succeeds, walking the line cannot fail.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vmstatedctl.h"

/* Deeper than any reply; a bound so that a broken line cannot hurt. */
#define REPLY_MAX_DEPTH		64
#define REPLY_ARENA_BLOCK	(64 * 1024)

struct reply_block {
	struct reply_block	*next;
	size_t			 used;
	size_t			 size;
	char			 data[];
};

/* Room for n bytes in the arena; it lives until reply_free(). */
static char *
arena_alloc(struct reply *r, size_t n)
{
	struct reply_block	*b = r->arena;
	size_t			 size;

	if (b == NULL || b->size - b->used < n) {
		size = n > REPLY_ARENA_BLOCK ? n : REPLY_ARENA_BLOCK;
		b = xmalloc(sizeof(*b) + size);
		b->next = r->arena;
		b->used = 0;
		b->size = size;
		r->arena = b;
	}
	b->used += n;
	return b->data + b->used - n;
}

/*
 * The daemon writes no white space between tokens: test for none first,
 * with one comparison, since this runs before and after every token.
 */
static inline const char *
skip_space(const char *p)
{
	if ((unsigned char)*p > ' ')
		return p;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Four hex digits at p into *cp; -1 if they are not. */
static int
hex4(const char *p, unsigned long *cp)
{
	int	 i, v;

	*cp = 0;
	for (i = 0; i < 4; i++) {
		if ((v = hex_value((unsigned char)p[i])) == -1)
			return -1;
		*cp = *cp << 4 | (unsigned long)v;
	}
	return 0;
}

/*
 * The code point of the \u escape at p (pointing at the backslash), and
 * in *used the bytes it takes, a surrogate pair being one escape.
 * Returns -1 for an escape the UCL parser would refuse too.
 */
static int
unicode_escape(const char *p, unsigned long *cp, size_t *used)
{
	unsigned long	 lo;

	if (hex4(p + 2, cp) == -1 || (*cp >= 0xdc00 && *cp <= 0xdfff))
		return -1;
	*used = 6;
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) == -1 ||
	    lo < 0xdc00 || lo > 0xdfff)
		return -1;
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	*used = 12;
	return 0;
}

static char *
put_utf8(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | (cp >> 18));
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* Record the first problem: what, and where in the line. */
static const char *
fail(struct reply *r, const char *p, const char *what)
{
	if (r->error[0] == '\0')
		snprintf(r->error, sizeof(r->error), "%s at column %zu", what,
		    (size_t)(p - r->line) + 1);
	return NULL;
}

/*
 * The bytes that end a run of plain characters in a string: the quote,
 * the backslash and the control characters (JSON has no raw TAB in a
 * string either; the daemon writes \t).  One table look-up
 * per byte: the strings are most of a status reply.
 */
static unsigned char	string_stop[256];

static void
init_string_stop(void)
{
	int	 c;

	if (string_stop['"'])
		return;
	for (c = 0; c < ' '; c++)
		string_stop[c] = 1;
	string_stop['"'] = string_stop['\\'] = 1;
}

/* One past the NUL that ends the line: what scan_plain() may read. */
#define LINE_END(r)	((r)->line + (r)->len + 1)

/*
 * The first byte at or after p that string_stop holds, end (or NULL: not
 * known) being one past the line's NUL.  Eight bytes at a time while a
 * whole word lies before end, where a word's bytes are in address order:
 * the loop per byte mispredicted its exit on every key and string, most
 * of the time of checking a status reply and walking it (perf annotate).
 * The lowest byte the word test flags is the first that matches: a
 * borrow can only flag bytes after a true match.
 */
static inline const char *
scan_plain(const char *p, const char *end)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t	 ones = 0x0101010101010101ULL;
	const uint64_t	 quote = ones * '"', backslash = ones * '\\';
	uint64_t	 w, m;

	while (end != NULL && end - p >= 8) {
		memcpy(&w, p, sizeof(w));
		m = ((w - ones * 0x20) & ~w) |		/* a control character */
		    (((w ^ quote) - ones) & ~(w ^ quote)) |
		    (((w ^ backslash) - ones) & ~(w ^ backslash));
		m &= ones * 0x80;
		if (m != 0)
			return p + __builtin_ctzll(m) / 8;
		p += 8;
	}
#else
	(void)end;
#endif
	while (!string_stop[(unsigned char)*p])
		p++;
	return p;
}

/* Check the string at p (its opening quote); returns what follows it. */
static const char *
check_string(struct reply *r, const char *p)
{
	unsigned long	 cp;
	size_t		 used;

	for (p++;; p++) {
		p = scan_plain(p, LINE_END(r));
		if (*p == '"')
			return p + 1;
		if (*p != '\\')
			return fail(r, p, *p == '\0' ? "unterminated string" :
			    "control character in a string");
		if (p[1] == 'u') {
			if (unicode_escape(p, &cp, &used) == -1)
				return fail(r, p, "invalid \\u escape");
			p += used - 1;
		} else if (p[1] != '\0' && strchr("\"\\/bfnrt", p[1]))
			p++;
		else
			return fail(r, p, "invalid escape");
	}
}

/* Skip the checked string at p (its opening quote); end: scan_plain(). */
static const char *
skip_string(const char *p, const char *end)
{
	for (p++;; p += 2) {
		p = scan_plain(p, end);
		if (*p == '"')
			return p + 1;
	}
}

/*
 * Decode the checked string whose text (after its opening quote, len
 * bytes up to its closing one) was copied to s, in place: decoded text is
 * never longer.  Returns the decoded length; it may hold NULs (\u0000).
 */
static size_t
decode_in_place(char *s, size_t len)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	char		*o, *p, *end = s + len;
	unsigned long	 cp;
	size_t		 used;

	if ((p = memchr(s, '\\', len)) == NULL)
		return len;
	for (o = p; p < end;) {
		if (*p != '\\') {
			*o++ = *p++;
		} else if (p[1] == 'u') {
			(void)unicode_escape(p, &cp, &used);
			o = put_utf8(o, cp);
			p += used;
		} else {
			*o++ = to[strchr(from, p[1]) - from];
			p += 2;
		}
	}
	return (size_t)(o - s);
}

/* The text of the checked string at p, between its quotes. */
static size_t
raw_length(const char *p, const char *end)
{
	return (size_t)(skip_string(p, end) - p) - 2;
}

/* Decode the checked string at p into the arena; NUL-terminated. */
static const char *
read_string(struct reply *r, const char *p, size_t *len)
{
	size_t	 raw = raw_length(p, LINE_END(r));
	char	*s = arena_alloc(r, raw + 1);

	memcpy(s, p + 1, raw);
	*len = decode_in_place(s, raw);
	s[*len] = '\0';
	return s;
}

/*
 * Check the number at p as JSON writes them; an integer must fit in
 * 64 bits and a float must be finite, as the UCL parser required.
 * Returns what follows it.
 */
static const char *
check_number(struct reply *r, const char *p)
{
	const char		*start = p, *digits;
	unsigned long long	 u;
	bool			 is_float = false;
	double			 d;

	if (*p == '-')
		p++;
	digits = p;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return fail(r, start, "not a JSON value");
	if (*p == '.') {
		is_float = true;
		if (!(*++p >= '0' && *p <= '9'))
			return fail(r, p, "a digit must follow the point");
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		is_float = true;
		if (*++p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return fail(r, p, "a digit must follow the exponent");
		while (*p >= '0' && *p <= '9')
			p++;
	}
	errno = 0;
	if (is_float) {
		d = strtod(start, NULL);
		if (errno == ERANGE || !isfinite(d))
			return fail(r, start, "number out of range");
	} else if (p - digits > 18) {
		/* 18 digits always fit; only longer integers need a test. */
		u = strtoull(digits, NULL, 10);
		if (errno == ERANGE || u > (unsigned long long)INT64_MAX +
		    (*start == '-' ? 1 : 0))
			return fail(r, start, "number out of range");
	}
	return p;
}

/*
 * Check a literal word; returns what follows it.  Byte by byte, not
 * memcmp: the first byte that differs, the line's NUL included, stops
 * it ("{\"a\":t" must not be read past); and not strncmp, whose call
 * cost more than the comparison for a status row's many nulls.
 */
static const char *
check_word(struct reply *r, const char *p, const char *word, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] != word[i])
			return fail(r, p, "not a JSON value");
	return p + len;
}

/* Check "key": at p; returns what follows the colon. */
static const char *
check_key(struct reply *r, const char *p)
{
	if (*p != '"')
		return fail(r, p, "expected a quoted key");
	if ((p = check_string(r, p)) == NULL)
		return NULL;
	p = skip_space(p);
	if (*p != ':')
		return fail(r, p, "expected ':' after a key");
	return skip_space(p + 1);
}

/*
 * Check one whole value at p (after white space), containers included,
 * without recursion.  Returns what follows it, or NULL with r->error.
 */
static const char *
check_value(struct reply *r, const char *p)
{
	char	 stack[REPLY_MAX_DEPTH];	/* '}' or ']' to come */
	int	 depth = 0;

	for (;;) {
		/* p is at a value. */
		switch (*p) {
		case '{':
		case '[':
			if (depth == REPLY_MAX_DEPTH)
				return fail(r, p, "nested too deeply");
			stack[depth++] = *p == '{' ? '}' : ']';
			p = skip_space(p + 1);
			if (*p == stack[depth - 1]) {
				depth--;
				p++;
				break;
			}
			if (stack[depth - 1] == '}' &&
			    (p = check_key(r, p)) == NULL)
				return NULL;
			continue;
		case '"':
			p = check_string(r, p);
			break;
		case 't':
			p = check_word(r, p, "true", 4);
			break;
		case 'f':
			p = check_word(r, p, "false", 5);
			break;
		case 'n':
			p = check_word(r, p, "null", 4);
			break;
		default:
			p = check_number(r, p);
			break;
		}
		if (p == NULL)
			return NULL;
		/* After a value: a comma, or the end of containers. */
		for (;;) {
			if (depth == 0)
				return p;
			p = skip_space(p);
			if (*p == ',') {
				p = skip_space(p + 1);
				if (stack[depth - 1] == '}' &&
				    (p = check_key(r, p)) == NULL)
					return NULL;
				break;
			}
			if (*p != stack[depth - 1])
				return fail(r, p, stack[depth - 1] == '}' ?
				    "expected ',' or '}'" :
				    "expected ',' or ']'");
			depth--;
			p++;
		}
	}
}

/* Skip the checked object or array at p; end: scan_plain(). */
static const char *
skip_container(const char *p, const char *end)
{
	int	 depth = 0;

	for (;;) {
		switch (*p) {
		case '"':
			p = skip_string(p, end);
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth == 0)
				return p + 1;
			break;
		}
		p++;
	}
}

/*
 * Read the checked value at p into *v; returns what follows it, or NULL
 * for an object or array (the caller passes over it).  A string is left
 * for reply_string() to decode.  line_end: scan_plain()'s end.
 */
static const char *
read_value(const char *p, struct reply_value *v, const char *line_end)
{
	const char		*q, *digits;
	char			*end;
	unsigned long long	 u;
	int64_t			 n;

	/* Only what the type needs: this runs for every value of a row. */
	v->at = p;
	v->string = NULL;
	switch (*p) {
	case '{':
		v->type = REPLY_OBJECT;
		return NULL;
	case '[':
		v->type = REPLY_ARRAY;
		return NULL;
	case '"':
		v->type = REPLY_STRING;
		return skip_string(p, line_end);
	case 't':
	case 'f':
		v->type = REPLY_BOOLEAN;
		v->boolean = *p == 't';
		return p + (v->boolean ? 4 : 5);
	case 'n':
		v->type = REPLY_NULL;
		return p + 4;
	}
	digits = p + (*p == '-');
	for (q = digits; *q >= '0' && *q <= '9'; q++)
		;
	if (*q == '.' || *q == 'e' || *q == 'E') {
		v->type = REPLY_FLOAT;
		v->number = strtod(p, &end);
		return end;
	}
	v->type = REPLY_INT;
	if (q - digits <= 18) {
		for (n = 0; digits < q; digits++)
			n = n * 10 + (*digits - '0');
		v->integer = *p == '-' ? -n : n;
	} else {
		/* Checked: at most 2^63 when negative, as UCL reads it. */
		u = strtoull(digits, NULL, 10);
		v->integer = *p == '-' ? (int64_t)(0 - u) : (int64_t)u;
	}
	return q;
}

/* Nothing but white space may follow the object. */
static int
check_end(struct reply *r, const char *p)
{
	p = skip_space(p);
	if (*p != '\0') {
		fail(r, p, "more after the object");
		return -1;
	}
	return 0;
}

/*
 * Check the line (len bytes, NUL-terminated) and note its top-level
 * members.  Returns 0, or -1 with a reason in r->error; reply_free() is
 * due either way.
 */
int
reply_parse(struct reply *r, const char *line, size_t len)
{
	struct reply_member	*m;
	const char		*p, *end;
	size_t			 cap = 0;

	init_string_stop();
	memset(r, 0, sizeof(*r));
	r->line = line;
	r->len = len;
	if (strlen(line) != len) {
		fail(r, line + strlen(line), "NUL byte");
		return -1;
	}
	p = skip_space(line);
	if (*p == '\0')
		return 0;	/* as the UCL parser: an empty object */
	if (*p != '{') {
		fail(r, p, "not a JSON object");
		return -1;
	}
	p = skip_space(p + 1);
	if (*p == '}')
		return check_end(r, p + 1);
	for (;;) {
		if (r->nmembers == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			r->members = xrealloc(r->members,
			    cap * sizeof(*r->members));
		}
		m = &r->members[r->nmembers];
		if (*p != '"' || check_string(r, p) == NULL) {
			fail(r, p, "expected a quoted key");
			return -1;
		}
		m->key = read_string(r, p, &m->key_len);
		p = skip_space(skip_string(p, LINE_END(r)));
		if (*p != ':') {
			fail(r, p, "expected ':' after a key");
			return -1;
		}
		p = skip_space(p + 1);
		if ((end = check_value(r, p)) == NULL)
			return -1;
		if (read_value(p, &m->value, LINE_END(r)) != NULL &&
		    m->value.type == REPLY_STRING)
			(void)reply_string(r, &m->value);
		r->nmembers++;
		p = skip_space(end);
		if (*p == '}')
			return check_end(r, p + 1);
		if (*p != ',') {
			fail(r, p, "expected ',' or '}'");
			return -1;
		}
		p = skip_space(p + 1);
	}
}

void
reply_free(struct reply *r)
{
	struct reply_block	*b, *next;

	for (b = r->arena; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(r->members);
	memset(r, 0, sizeof(*r));
}

/* The first top-level member called key, or NULL. */
const struct reply_value *
reply_get(const struct reply *r, const char *key)
{
	size_t	 i, len = strlen(key);

	/* Lengths too: a key may hold a NUL (\u0000), as in ucl_lookup. */
	for (i = 0; i < r->nmembers; i++)
		if (r->members[i].key_len == len &&
		    memcmp(r->members[i].key, key, len) == 0)
			return &r->members[i].value;
	return NULL;
}

/*
 * Walk the members of an object or the elements of an array (from
 * reply_get() or reply_next()).  A cursor on a value that is neither
 * walks nothing.  parent, when given, is the cursor that read it: once
 * this one is done, the parent goes on after the value without
 * scanning it again.
 */
void
reply_enter(struct reply *r, const struct reply_value *v,
    struct reply_cursor *c, struct reply_cursor *parent)
{
	memset(c, 0, sizeof(*c));
	c->reply = r;
	c->start = v->at;
	c->parent = parent;
	if (v->type != REPLY_OBJECT && v->type != REPLY_ARRAY) {
		c->done = true;
		return;
	}
	c->object = v->type == REPLY_OBJECT;
	c->p = v->at + 1;
}

/* The cursor reached its closing bracket at p. */
static bool
cursor_done(struct reply_cursor *c, const char *p)
{
	c->done = true;
	if (c->parent != NULL && c->parent->pending == c->start) {
		c->parent->p = p + 1;
		c->parent->pending = NULL;
	}
	return false;
}

/*
 * The next member or element into *v, and for an object its key into
 * *key (valid until the next call on this cursor; key may be NULL).
 * An object or array value is not read: reply_enter() walks it.  Returns
 * false at the end.
 */
bool
reply_next(struct reply_cursor *c, const char **key, struct reply_value *v)
{
	const char	*p, *k;
	size_t		 len;

	if (c->done)
		return false;
	if (c->pending != NULL) {
		c->p = skip_container(c->pending, LINE_END(c->reply));
		c->pending = NULL;
	}
	p = skip_space(c->p);
	if (c->count > 0 && *p == ',')
		p = skip_space(p + 1);
	if (*p == '}' || *p == ']')
		return cursor_done(c, p);
	if (c->object) {
		k = p + 1;
		len = (size_t)(scan_plain(k, LINE_END(c->reply)) - k);
		if (k[len] == '"' && (key == NULL || len < sizeof(c->key))) {
			/* The usual short key without escapes; copied only
			 * for a caller that wants it as a C string. */
			c->key_at = k;
			c->key_len = len;
			p = k + len + 1;
			if (key != NULL) {
				memcpy(c->key, k, len);
				c->key[len] = '\0';
				*key = c->key;
			}
		} else {
			k = read_string(c->reply, p, &len);
			c->key_at = k;
			c->key_len = len;
			p = skip_string(p, LINE_END(c->reply));
			if (key != NULL)
				*key = k;
		}
		p = skip_space(skip_space(p) + 1);
	} else if (key != NULL)
		*key = NULL;
	c->count++;
	if ((c->p = read_value(p, v, LINE_END(c->reply))) == NULL) {
		c->p = p;
		c->pending = p;
	}
	return true;
}

/*
 * The text of a string value, decoded into the arena on first use (it
 * lives until reply_free()); NULL if v is not a string.
 */
const char *
reply_string(struct reply *r, struct reply_value *v)
{
	if (v->type != REPLY_STRING)
		return NULL;
	if (v->string == NULL)
		v->string = read_string(r, v->at, &v->len);
	return v->string;
}

/*
 * Append the text of the string value v to b, without going through the
 * arena: the status table copies every name once, not twice.  Returns
 * its length, which counts any NUL in it (\u0000).
 */
size_t
reply_append_string(const struct reply_value *v, struct buf *b)
{
	size_t	 start = b->len, raw;

	if (v->string != NULL) {
		buf_append(b, v->string, v->len);
		return v->len;
	}
	raw = raw_length(v->at, NULL);
	buf_append(b, v->at + 1, raw);
	b->len = start + decode_in_place(b->data + start, raw);
	b->data[b->len] = '\0';
	return b->len - start;
}

/*
 * The text of the string value v as it stands in the line, when it has
 * no escape to decode (most strings): *len bytes, not NUL-terminated,
 * and no NUL among them.  NULL when it must be decoded (reply_string(),
 * reply_append_string()) or v is not a string.
 */
const char *
reply_plain(const struct reply_value *v, size_t *len)
{
	const char	*p;

	if (v->type != REPLY_STRING)
		return NULL;
	for (p = v->at + 1; !string_stop[(unsigned char)*p]; p++)
		;
	if (*p != '"')
		return NULL;
	*len = (size_t)(p - v->at) - 1;
	return v->at + 1;
}

/*
 * The first member of the object v called key into *out.  Returns false
 * when there is none (or v is not an object).  For small objects: the
 * status rows are read member by member instead.
 */
bool
reply_lookup(struct reply *r, const struct reply_value *obj, const char *key,
    struct reply_value *out)
{
	struct reply_cursor	 c;
	const char		*k;
	size_t			 len = strlen(key);

	if (obj == NULL || obj->type != REPLY_OBJECT)
		return false;
	reply_enter(r, obj, &c, NULL);
	while (reply_next(&c, &k, out))
		if (c.key_len == len && memcmp(k, key, len) == 0)
			return true;
	return false;
}

/* The string member key of obj (top level when obj is NULL), or NULL. */
const char *
reply_str(struct reply *r, const struct reply_value *obj, const char *key)
{
	const struct reply_value	*top;
	struct reply_value		 v;

	if (obj == NULL) {
		top = reply_get(r, key);
		return top != NULL && top->type == REPLY_STRING ?
		    top->string : NULL;
	}
	if (!reply_lookup(r, obj, key, &v))
		return NULL;
	return reply_string(r, &v);
}

/* True when member key of obj (top level when NULL) is the boolean true. */
bool
reply_true(struct reply *r, const struct reply_value *obj, const char *key)
{
	const struct reply_value	*top;
	struct reply_value		 v;

	if (obj == NULL) {
		top = reply_get(r, key);
		return top != NULL && top->type == REPLY_BOOLEAN &&
		    top->boolean;
	}
	return reply_lookup(r, obj, key, &v) && v.type == REPLY_BOOLEAN &&
	    v.boolean;
}
