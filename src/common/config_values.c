/*
 * config_values.c: typed values out of UCL nodes, and the errors that say
 * what was expected.
 *
 * Every per-key function of config_keys.c goes through these, so that a
 * number, a size, a duration, a path or a yes/no is read and reported the
 * same way whatever key it belongs to.
 */
#include <sys/types.h>

#include <ctype.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "config_keys.h"
#include "ucl.h"

#define MAX_MEMORY_MB		(16LL * 1024 * 1024)	/* 16T */
CFG_FITS(memory_mb, MAX_MEMORY_MB);	/* kept in megabytes */

void
cfg_errors_init(struct cfg_errors *e)
{
	e->lines = NULL;
	e->count = 0;
}

/* How many of e's errors are kept. */
static size_t
cfg_errors_kept(const struct cfg_errors *e)
{
	return e->count < CFG_MAX_ERRORS ? e->count : CFG_MAX_ERRORS;
}

void
cfg_errors_free(struct cfg_errors *e)
{
	size_t	 i;

	for (i = 0; i < cfg_errors_kept(e); i++)
		free(e->lines[i].text);
	free(e->lines);
	cfg_errors_init(e);
}

void
cfg_error(struct cfg_errors *e, const char *file, int line, const char *key,
    const char *fmt, ...)
{
	struct buf	 b;
	va_list		 ap;

	/*
	 * A file of a million bad lines must not make a million errors,
	 * copied into every status reply: the first ones are kept.
	 */
	if (e->count >= CFG_MAX_ERRORS) {
		e->count++;
		return;
	}
	buf_init(&b);
	if (line > 0)
		buf_printf(&b, "%s:%d: ", file, line);
	else
		buf_printf(&b, "%s: ", file);
	if (key != NULL && *key != '\0')
		buf_printf(&b, "%s: ", key);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	e->lines = xrealloc(e->lines, (e->count + 1) * sizeof(*e->lines));
	e->lines[e->count].line = line;
	e->lines[e->count].text = buf_steal(&b);
	e->count++;
}

char *
cfg_errors_take(struct cfg_errors *e)
{
	struct buf		 b;
	struct cfg_error_line	 t;
	size_t			 i, j, kept = cfg_errors_kept(e);

	/* Insertion sort: stable, and few errors are kept. */
	for (i = 1; i < kept; i++) {
		t = e->lines[i];
		for (j = i; j > 0 && e->lines[j - 1].line > t.line; j--)
			e->lines[j] = e->lines[j - 1];
		e->lines[j] = t;
	}
	buf_init(&b);
	for (i = 0; i < kept; i++)
		buf_printf(&b, "%s%s", i > 0 ? "\n" : "", e->lines[i].text);
	if (e->count > kept)
		buf_printf(&b, "\n... and %zu more errors in this file, not "
		    "shown", e->count - kept);
	cfg_errors_free(e);
	return buf_steal(&b);
}

/* An error about the member being parsed. */
void
cfg_key_error(struct key_ctx *k, const char *fmt, ...)
{
	struct buf	 msg;
	va_list		 ap;

	buf_init(&msg);
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	cfg_error(k->errs, k->node->file, k->node->line, k->name, "%s",
	    msg.data != NULL ? msg.data : "");
	buf_free(&msg);
}

bool
cfg_key_is(const struct ucl_node *n, const char *key)
{
	return n->key != NULL && strcasecmp(n->key, key) == 0;
}

const char *
cfg_scalar_text(const struct ucl_node *n, char *tmp, size_t size)
{
	switch (n->type) {
	case UCL_STRING:
		return n->v.string.ptr;
	case UCL_OBJECT:
	case UCL_ARRAY:
		return NULL;
	default:
		break;
	}
	if (n->raw != NULL)
		return n->raw;
	switch (n->type) {
	case UCL_BOOLEAN:
		return n->v.boolean ? "true" : "false";
	case UCL_INT:
		snprintf(tmp, size, "%" PRId64, n->v.integer);
		return tmp;
	case UCL_FLOAT:
	case UCL_TIME:
		snprintf(tmp, size, "%g", n->v.number);
		return tmp;
	default:
		return "null";
	}
}

void
cfg_describe(struct buf *b, const struct ucl_node *n)
{
	char		 tmp[64];
	const char	*s;
	size_t		 i, len;

	switch (n->type) {
	case UCL_OBJECT:
		buf_puts(b, "a section { ... }");
		return;
	case UCL_ARRAY:
		buf_puts(b, "a list [ ... ]");
		return;
	case UCL_STRING:
		s = n->v.string.ptr;
		len = n->v.string.len;
		buf_putc(b, '"');
		for (i = 0; i < len && i < 60; i++) {
			if (isprint((unsigned char)s[i]))
				buf_putc(b, s[i]);
			else
				buf_printf(b, "\\x%02x", (unsigned char)s[i]);
		}
		if (len > 60)
			buf_puts(b, "...");
		buf_putc(b, '"');
		return;
	default:
		buf_puts(b, cfg_scalar_text(n, tmp, sizeof(tmp)));
	}
}

/* "expected WHAT, got VALUE" for the member being parsed. */
void
cfg_type_error(struct key_ctx *k, const char *expected)
{
	struct buf	 got;

	buf_init(&got);
	cfg_describe(&got, k->node);
	cfg_key_error(k, "expected %s, got %s", expected, got.data);
	buf_free(&got);
}

char *
cfg_path_join(const char *dir, const char *path)
{
	char	*p;
	size_t	 n;

	if (path[0] == '/' || dir == NULL)
		return xstrdup(path);
	while (path[0] == '.' && path[1] == '/') {
		path += 2;
		while (*path == '/')
			path++;
	}
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	xasprintf(&p, "%.*s/%s", (int)n, dir, path);
	return p;
}

/* The first control character of s, or NULL. */
static const char *
control_char(const char *s)
{
	for (; *s != '\0'; s++)
		if (iscntrl((unsigned char)*s))
			return s;
	return NULL;
}

static bool
has_control_char(const char *s)
{
	return control_char(s) != NULL;
}

const char *
cfg_shorten(const char *s, char *out, size_t size)
{
	size_t	 len = strlen(s), n = 48;

	if (len <= n || size < n + 4) {
		snprintf(out, size, "%s", s);
		return out;
	}
	/* Cut between two characters, not inside one. */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	snprintf(out, size, "%.*s...", (int)n, s);
	return out;
}

/*
 * The member as text, for keys that hold a string: a quoted string, or an
 * unquoted token (osversion = 13.2 is a number to UCL).  At most max
 * bytes, in UTF-8, without NULs or control characters.  Returns NULL
 * after recording an error, which never repeats the text: it may be
 * huge, or not printable.
 */
const char *
cfg_get_text(struct key_ctx *k, const struct ucl_node *n,
    const char *expected, size_t max)
{
	const char	*s;
	size_t		 len, bad;

	if (n->type == UCL_NULL || (s = cfg_scalar_text(n, k->tmp,
	    sizeof(k->tmp))) == NULL) {
		cfg_type_error(k, expected);
		return NULL;
	}
	len = strlen(s);
	if (n->type == UCL_STRING && len != n->v.string.len) {
		cfg_key_error(k, "contains a NUL byte; remove it");
		return NULL;
	}
	if (len > max) {
		cfg_key_error(k, "is %zu bytes long; at most %zu are allowed: "
		    "shorten it", len, max);
		return NULL;
	}
	if ((bad = utf8_invalid_at(s, len)) < len) {
		cfg_key_error(k, "is not valid UTF-8 (byte 0x%02x at offset "
		    "%zu); write it in UTF-8", (unsigned char)s[bad], bad);
		return NULL;
	}
	if (has_control_char(s)) {
		cfg_key_error(k, "contains a control character (such as a "
		    "newline); remove it");
		return NULL;
	}
	return s;
}

/* A path, absolute against the base directory; NULL after an error. */
char *
cfg_get_path(struct key_ctx *k, const struct ucl_node *n)
{
	const char	*s, *cc;
	char		*path;
	size_t		 len, bad;

	if ((s = cfg_get_text(k, n, "a path", CFG_MAX_PATH)) == NULL)
		return NULL;
	if (*s == '\0') {
		cfg_key_error(k, "expected a path, got an empty string");
		return NULL;
	}
	path = cfg_path_join(k->basedir, s);
	len = strlen(path);
	if (len > CFG_MAX_PATH) {
		cfg_key_error(k, "is %zu bytes long as an absolute path; at "
		    "most %d are allowed: shorten it", len, CFG_MAX_PATH);
		free(path);
		return NULL;
	}
	/* The directory it is relative to is part of it now. */
	bad = utf8_invalid_at(path, len);
	if ((cc = control_char(path)) != NULL && (size_t)(cc - path) < bad)
		bad = (size_t)(cc - path);
	if (bad < len) {
		cfg_key_error(k, "the absolute path made from \"%s\" has a byte "
		    "that is not UTF-8 or is a control character (0x%02x at "
		    "offset %zu), from the directory it is relative to: rename "
		    "the directory, or give an absolute path", s,
		    (unsigned char)path[bad], bad);
		free(path);
		return NULL;
	}
	return path;
}

/* yes/no in any of UCL's spellings, quoted or not; 0 or -1. */
int
cfg_get_bool(struct key_ctx *k, bool *out)
{
	const struct ucl_node	*n = k->node;
	const char		*s;

	if (n->type == UCL_BOOLEAN) {
		*out = n->v.boolean;
		return 0;
	}
	if (n->type == UCL_INT && (n->v.integer == 0 || n->v.integer == 1)) {
		*out = n->v.integer == 1;
		return 0;
	}
	if (n->type == UCL_STRING) {
		s = n->v.string.ptr;
		if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
		    strcasecmp(s, "on") == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
		    strcasecmp(s, "off") == 0) {
			*out = false;
			return 0;
		}
	}
	cfg_type_error(k, "yes or no");
	return -1;
}

/* Decimal digits only, into *out; false on anything else or overflow. */
bool
cfg_parse_digits(const char *s, int64_t *out)
{
	int64_t	 v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		if (v > (INT64_MAX - (*s - '0')) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return true;
}

/* A whole number in [min, max]; what names it ("a number of CPUs"). */
int
cfg_get_int(struct key_ctx *k, const char *what, int64_t min, int64_t max,
    int64_t *out)
{
	const struct ucl_node	*n = k->node;
	char			 expected[160];
	int64_t			 v;

	snprintf(expected, sizeof(expected), "%s from %" PRId64 " to %"
	    PRId64, what, min, max);
	if (n->type == UCL_INT)
		v = n->v.integer;
	else if (n->type == UCL_STRING && cfg_parse_digits(n->v.string.ptr, &v))
		;
	else {
		cfg_type_error(k, expected);
		return -1;
	}
	if (v < min || v > max) {
		cfg_key_error(k, "%" PRId64 " is out of range: expected %s", v,
		    expected);
		return -1;
	}
	*out = v;
	return 0;
}

/* Whole seconds in [min, max]: 30, 30s, 2min, "30". */
int
cfg_get_seconds(struct key_ctx *k, int64_t min, int64_t max, int64_t *out)
{
	const struct ucl_node	*n = k->node;
	char			 expected[160];
	const char		*s;
	char			 digits[32];
	size_t			 len;
	int64_t			 v;

	snprintf(expected, sizeof(expected), "seconds from %" PRId64 " to %"
	    PRId64 " (e.g. 30 or 30s)", min, max);
	switch (n->type) {
	case UCL_INT:
		v = n->v.integer;
		break;
	case UCL_TIME:
	case UCL_FLOAT:
		/* No floor(): that would need -lm for one comparison. */
		if (n->v.number < -1e15 || n->v.number > 1e15 ||
		    (double)(int64_t)n->v.number != n->v.number) {
			cfg_key_error(k, "%s is not a whole number of seconds: "
			    "expected %s", cfg_scalar_text(n, k->tmp,
			    sizeof(k->tmp)), expected);
			return -1;
		}
		v = (int64_t)n->v.number;
		break;
	case UCL_STRING:
		s = n->v.string.ptr;
		len = strlen(s);
		if (len > 0 && len < sizeof(digits) && s[len - 1] == 's')
			len--;
		if (len < sizeof(digits)) {
			memcpy(digits, s, len);
			digits[len] = '\0';
			if (cfg_parse_digits(digits, &v))
				break;
		}
		/* FALLTHROUGH */
	default:
		cfg_type_error(k, expected);
		return -1;
	}
	if (v < min || v > max) {
		cfg_key_error(k, "%" PRId64 " is out of range: expected %s", v,
		    expected);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * A whole number with an optional binary suffix K/M/G/T and a "B" after
 * it; lenient (as bhyve -m reads a size) also takes "iB" and blanks
 * around the parts.  *v gets the number, *shift the suffix's power of two
 * (nosuffix without one).  0; -1 for a malformed text; -3 on overflow.
 */
static int
parse_suffixed(const char *s, bool lenient, int nosuffix, int64_t *v,
    int *shift)
{
	int	 d;

	*v = 0;
	*shift = nosuffix;
	while (lenient && isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		d = *s - '0';
		if (*v > (INT64_MAX - d) / 10)
			return -3;
		*v = *v * 10 + d;
	}
	while (lenient && isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return 0;
	switch (toupper((unsigned char)*s)) {
	case 'K': *shift = 10; break;
	case 'M': *shift = 20; break;
	case 'G': *shift = 30; break;
	case 'T': *shift = 40; break;
	default: return -1;
	}
	s++;
	if (lenient && *s == 'i' && toupper((unsigned char)s[1]) == 'B')
		s += 2;
	else if (toupper((unsigned char)*s) == 'B')
		s++;
	while (lenient && isspace((unsigned char)*s))
		s++;
	return *s == '\0' ? 0 : -1;
}

/*
 * A memory size as bhyve -m reads it: megabytes without a suffix, binary
 * units with one (4G is 4096 megabytes; 4GB and 4GiB too).  Works on the
 * token as written, since UCL reads 4G as 4 * 1000^3.  Returns the number
 * of megabytes, -1 for a malformed text, -2 for one that is not a whole
 * number of megabytes, -3 on overflow.
 */
static int64_t
parse_memory(const char *s)
{
	int64_t	 v;
	int	 shift, r;

	if ((r = parse_suffixed(s, true, 20, &v, &shift)) != 0)
		return r;
	if (shift < 20) {
		if (v % (1 << (20 - shift)) != 0)
			return -2;
		return v >> (20 - shift);
	}
	if (v > (INT64_MAX >> (shift - 20)))
		return -3;
	return v << (shift - 20);
}

int
cfg_get_memory(struct key_ctx *k, int64_t *out)
{
	const struct ucl_node	*n = k->node;
	const char		*text;
	int64_t			 mb;

	switch (n->type) {
	case UCL_INT:
	case UCL_FLOAT:
	case UCL_TIME:
	case UCL_STRING:
		text = cfg_scalar_text(n, k->tmp, sizeof(k->tmp));
		break;
	default:
		text = NULL;
		break;
	}
	if (text == NULL || (mb = parse_memory(text)) == -1) {
		cfg_type_error(k, "megabytes (e.g. 2048) or a size with "
		    "K/M/G/T suffix (e.g. \"4G\")");
		return -1;
	}
	if (mb == -2) {
		cfg_key_error(k, "%s is not a whole number of megabytes; use "
		    "megabytes or a M/G/T suffix", text);
		return -1;
	}
	if (mb < 1 || mb > MAX_MEMORY_MB) {
		cfg_key_error(k, "%s is out of range: expected a size from 1M "
		    "to 16T", text);
		return -1;
	}
	*out = mb;
	return 0;
}

/*
 * A size in bytes: a number, or a number with a binary K/M/G/T suffix
 * (10M, "512K"), in [min, max].  0 or -1 after an error.
 */
int
cfg_get_size(struct key_ctx *k, int64_t min, int64_t max, int64_t *out)
{
	const struct ucl_node	*n = k->node;
	const char		*s = NULL;
	int64_t			 v;
	int			 shift, r;

	if (n->type == UCL_INT || n->type == UCL_FLOAT ||
	    n->type == UCL_STRING)
		s = cfg_scalar_text(n, k->tmp, sizeof(k->tmp));
	if (s == NULL || (r = parse_suffixed(s, false, 0, &v, &shift)) == -1)
		goto bad;
	if (r == -3 || v > (INT64_MAX >> shift))
		goto range;
	v <<= shift;
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
bad:
	cfg_type_error(k, "a size in bytes, or with a K/M/G/T suffix (e.g. "
	    "\"10M\")");
	return -1;
range:
	cfg_key_error(k, "out of range: expected a size from %lld bytes to "
	    "%lld bytes", (long long)min, (long long)max);
	return -1;
}

/* Optimal string alignment distance, case-insensitive, for suggestions. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), i, j, cost, v;
	size_t	 d[48][48];

	if (la >= 48 || lb >= 48)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			cost = tolower((unsigned char)a[i - 1]) ==
			    tolower((unsigned char)b[j - 1]) ? 0 : 1;
			v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 &&
			    tolower((unsigned char)a[i - 1]) ==
			    tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) ==
			    tolower((unsigned char)b[j - 1]) &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The known key closest to key, if it is close enough to be a typo. */
static const char *
suggest(const char *key, const char *const *known)
{
	const char	*best = NULL;
	size_t		 d, bestd = 99, limit;

	limit = strlen(key) <= 4 ? 1 : 2;
	for (; *known != NULL; known++) {
		d = edit_distance(key, *known);
		if (d < bestd) {
			bestd = d;
			best = *known;
		}
	}
	return bestd <= limit ? best : NULL;
}

void
cfg_unknown_key(struct cfg_errors *errs, const struct ucl_node *n,
    const char *prefix, const char *const *known, const char *hint)
{
	const char	*best;
	char		 name[160], shown[64];

	snprintf(name, sizeof(name), "%s%s%s", prefix != NULL ? prefix : "",
	    prefix != NULL && *prefix != '\0' ? "." : "",
	    cfg_shorten(n->key, shown, sizeof(shown)));
	if ((best = suggest(n->key, known)) != NULL)
		cfg_error(errs, n->file, n->line, name,
		    "unknown key; did you mean \"%s\"?", best);
	else if (hint != NULL)
		cfg_error(errs, n->file, n->line, name, "unknown key; %s",
		    hint);
	else
		cfg_error(errs, n->file, n->line, name, "unknown key");
}


const struct group *
cfg_get_group(struct key_ctx *k)
{
	const struct group	*gr;
	const char		*s;
	int64_t			 id;

	if ((s = cfg_get_text(k, k->node, "a group name",
	    CFG_MAX_USER)) == NULL)
		return NULL;
	if ((gr = getgrnam(s)) == NULL && cfg_parse_digits(s, &id) &&
	    id <= (int64_t)UINT32_MAX)
		gr = getgrgid((gid_t)id);
	if (gr == NULL)
		cfg_key_error(k, "no such group \"%s\" on this host; create "
		    "the group or correct the name", s);
	return gr;
}
