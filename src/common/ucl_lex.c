/*
 * ucl_lex.c: the UCL parser's lexical layer: positions and errors,
 * comments, keys, and scalars (quoted strings, heredocs, booleans, null
 * and bare words; numbers are in ucl_number.c).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ucl.h"
#include "ucl_lex.h"

/* The next byte at offset `ahead`, or -1 past the end. */
int
ucl_peek(const struct ucl_parser *P, size_t ahead)
{
	if ((size_t)(P->end - P->p) <= ahead)
		return -1;
	return (unsigned char)P->p[ahead];
}

/* Move n bytes forward, counting lines. */
void
ucl_skip(struct ucl_parser *P, size_t n)
{
	while (n-- > 0 && P->p < P->end) {
		if (*P->p == '\n') {
			if (P->line < INT_MAX)
				P->line++;
			P->line_start = P->p + 1;
		}
		P->p++;
	}
}

void
ucl_mark(const struct ucl_parser *P, struct ucl_pos *pos)
{
	pos->p = P->p;
	pos->line_start = P->line_start;
	pos->line = P->line;
}

int
ucl_pos_column(const struct ucl_pos *pos)
{
	ptrdiff_t	 col = pos->p - pos->line_start + 1;

	return col > INT_MAX ? INT_MAX : (int)col;
}

static int
ucl_verror(struct ucl_parser *P, const struct ucl_pos *at, const char *fmt,
    va_list ap)
{
	struct ucl_error	*e = P->err;

	snprintf(e->file, sizeof(e->file), "%s", P->fname->name);
	e->line = at->line;
	e->column = ucl_pos_column(at);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	return -1;
}

/* Report an error at the current position; returns -1. */
int
ucl_error(struct ucl_parser *P, const char *fmt, ...)
{
	struct ucl_pos	 at;
	va_list		 ap;

	ucl_mark(P, &at);
	va_start(ap, fmt);
	ucl_verror(P, &at, fmt, ap);
	va_end(ap);
	return -1;
}

/* Report an error at an earlier position; returns -1. */
int
ucl_error_at(struct ucl_parser *P, const struct ucl_pos *at,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	ucl_verror(P, at, fmt, ap);
	va_end(ap);
	return -1;
}

/* Name a byte (or -1, the end) for an error message. */
const char *
ucl_describe(int c, char *buf, size_t size)
{
	if (c == -1)
		return "the end of the file";
	if (c == '\n' || c == '\r')
		return "the end of the line";
	if (c == '"')
		snprintf(buf, size, "'\"'");
	else if (c > ' ' && c < 0x7f)
		snprintf(buf, size, "\"%c\"", c);
	else
		snprintf(buf, size, "byte 0x%02x", c);
	return buf;
}

/* Copy s into out for a message: unprintable bytes become '?'. */
void
ucl_printable(const char *s, size_t len, char *out, size_t size)
{
	size_t	 i, n = len < size - 1 ? len : size - 1;

	for (i = 0; i < n; i++)
		out[i] = s[i] >= ' ' && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
	if (n < len && n >= 3)
		memcpy(out + n - 3, "...", 3);
	out[n] = '\0';
}

/*
 * Skip a comment here, if any: `#` to the end of the line, or a nested
 * block comment.  (UCL has no `//` comments: see ucl_refuse_slashes().)
 * Returns 1 if one was skipped, 0 if there is none here, -1 for an
 * unterminated block comment.
 */
static int
ucl_skip_comment(struct ucl_parser *P)
{
	struct ucl_pos	 start;
	size_t		 nest = 0;
	int		 c = ucl_peek(P, 0), c1 = ucl_peek(P, 1);

	if (c == '#') {
		while (P->p < P->end && *P->p != '\n')
			P->p++;
		return 1;
	}
	if (c != '/' || c1 != '*')
		return 0;
	ucl_mark(P, &start);
	while (P->p < P->end) {
		c = ucl_peek(P, 0);
		c1 = ucl_peek(P, 1);
		if (c == '/' && c1 == '*') {
			nest++;
			ucl_skip(P, 2);
		} else if (c == '*' && c1 == '/') {
			ucl_skip(P, 2);
			if (--nest == 0)
				return 1;
		} else
			ucl_skip(P, 1);
	}
	return ucl_error(P, "unterminated comment opened at line %d: missing "
	    "\"*/\"", start.line);
}

/*
 * Skip blanks and comments, and new lines too when `newlines`.  Sets
 * *separated when a new line or a comment was skipped: they separate
 * values.  Returns 0, or -1 on an unterminated comment or a lone CR.
 */
int
ucl_skip_space(struct ucl_parser *P, bool newlines, bool *separated)
{
	int	 c, r;

	for (;;) {
		c = ucl_peek(P, 0);
		/*
		 * libucl ends a value at a lone CR but not a comment, so that
		 * a file with CR line ends (classic Mac OS) reads differently
		 * from what it shows; refuse it rather than guess.
		 */
		if (c == '\r' && ucl_peek(P, 1) != '\n')
			return ucl_error(P, "a carriage return (CR) without a "
			    "line feed after it: only LF and CR LF line ends "
			    "are read; save the file with LF line ends");
		if (ucl_is_blank(c))
			P->p++;
		else if (c == '\n' && newlines) {
			ucl_skip(P, 1);
			if (separated != NULL)
				*separated = true;
		} else if ((r = ucl_skip_comment(P)) == -1)
			return -1;
		else if (r == 0)
			return 0;
		else if (separated != NULL)
			*separated = true;
	}
}

static void
ucl_put_utf8(struct buf *b, unsigned long cp)
{
	char	 s[4];

	if (cp < 0x80) {
		buf_putc(b, (char)cp);
		return;
	}
	if (cp < 0x800) {
		s[0] = (char)(0xc0 | (cp >> 6));
		s[1] = (char)(0x80 | (cp & 0x3f));
		buf_append(b, s, 2);
	} else if (cp < 0x10000) {
		s[0] = (char)(0xe0 | (cp >> 12));
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		buf_append(b, s, 3);
	} else {
		s[0] = (char)(0xf0 | (cp >> 18));
		s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[3] = (char)(0x80 | (cp & 0x3f));
		buf_append(b, s, 4);
	}
}

/* Four hex digits at s (len bytes available) into *cp; -1 if not. */
static int
ucl_hex4(const char *s, size_t len, unsigned long *cp)
{
	int	 i, v;

	if (len < 4)
		return -1;
	*cp = 0;
	for (i = 0; i < 4; i++) {
		if ((v = ucl_hex_value((unsigned char)s[i])) == -1)
			return -1;
		*cp = *cp << 4 | (unsigned long)v;
	}
	return 0;
}

/*
 * Decode \uXXXX (and a following low surrogate) at s, len bytes
 * available, s pointing after "\u".  Returns the bytes used after "\u",
 * or -1 if invalid; *why says why.
 */
static int
ucl_unicode_escape(const char *s, size_t len, unsigned long *cp,
    const char **why)
{
	unsigned long	 lo;

	if (ucl_hex4(s, len, cp) == -1) {
		*why = "\\u must be followed by four hexadecimal digits";
		return -1;
	}
	if (*cp >= 0xdc00 && *cp <= 0xdfff) {
		*why = "\\u escape of a lone low surrogate";
		return -1;
	}
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 4;
	if (len < 10 || s[4] != '\\' || s[5] != 'u' ||
	    ucl_hex4(s + 6, len - 6, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff) {
		*why = "\\u escape of a high surrogate without its low "
		    "surrogate";
		return -1;
	}
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 10;
}

/*
 * Lex a double-quoted string at P->p into b (initialised here), decoding
 * JSON escapes.  Returns 0, or -1 with the error reported.
 */
static int
ucl_lex_dquoted(struct ucl_parser *P, struct buf *b)
{
	struct ucl_pos	 start;
	const char	*s, *why;
	unsigned long	 cp;
	int		 c, n;
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";

	buf_init(b);
	buf_append(b, "", 0);
	ucl_mark(P, &start);
	P->p++;
	for (;;) {
		c = ucl_peek(P, 0);
		if (c == -1 || c == '\n') {
			ucl_error(P, "unterminated string starting at line %d",
			    start.line);
			goto fail;
		}
		if (c == '"') {
			P->p++;
			return 0;
		}
		/* A raw TAB too, as libucl and JSON refuse it. */
		if (c == '\t') {
			ucl_error(P, "a TAB in a double-quoted string: write it "
			    "as \\t");
			goto fail;
		}
		if (c < ' ') {
			ucl_error(P, "control character 0x%02x in a string: "
			    "write it as an escape, such as \\u%04x", c, c);
			goto fail;
		}
		if (c != '\\') {
			s = P->p;
			while (P->p < P->end && *P->p != '"' && *P->p != '\\' &&
			    (unsigned char)*P->p >= ' ')
				P->p++;
			buf_append(b, s, (size_t)(P->p - s));
			continue;
		}
		c = ucl_peek(P, 1);
		if (c == 'u') {
			n = ucl_unicode_escape(P->p + 2,
			    (size_t)(P->end - P->p - 2), &cp, &why);
			if (n == -1) {
				ucl_error(P, "invalid escape in a string: %s", why);
				goto fail;
			}
			ucl_put_utf8(b, cp);
			P->p += 2 + n;
		} else if (ucl_in(from, c)) {
			buf_putc(b, to[strchr(from, c) - from]);
			P->p += 2;
		} else if (c == -1 || c == '\n') {
			P->p++;
		} else {
			ucl_error(P, "invalid escape \"\\%c\" in a string (valid: "
			    "\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
			    c > ' ' && c < 0x7f ? c : '?');
			goto fail;
		}
	}
fail:
	buf_free(b);
	return -1;
}

/*
 * Lex a single-quoted string into b: as libucl, only \' is an escape,
 * a backslash before a new line joins the lines, and any other
 * backslash stays as written.  Returns 0 or -1.
 */
static int
ucl_lex_squoted(struct ucl_parser *P, struct buf *b)
{
	struct ucl_pos	 start;
	int		 c, c1;

	buf_init(b);
	buf_append(b, "", 0);
	ucl_mark(P, &start);
	P->p++;
	for (;;) {
		c = ucl_peek(P, 0);
		if (c == -1) {
			buf_free(b);
			return ucl_error(P, "unterminated string starting at "
			    "line %d", start.line);
		}
		if (c == '\'') {
			P->p++;
			return 0;
		}
		c1 = ucl_peek(P, 1);
		if (c == '\\' && c1 == '\'') {
			buf_putc(b, '\'');
			P->p += 2;
		} else if (c == '\\' && c1 == '\n')
			ucl_skip(P, 2);
		else if (c == '\\' && c1 == '\r' && ucl_peek(P, 2) == '\n')
			ucl_skip(P, 3);
		else if (c == '\\' && c1 != -1) {
			buf_append(b, P->p, 2);
			ucl_skip(P, 2);
		} else {
			buf_putc(b, (char)c);
			ucl_skip(P, 1);
		}
	}
}

/* Lex the double- or single-quoted string at P->p into b; 0 or -1. */
int
ucl_lex_quoted(struct ucl_parser *P, struct buf *b)
{
	if (ucl_peek(P, 0) == '"')
		return ucl_lex_dquoted(P, b);
	return ucl_lex_squoted(P, b);
}

/*
 * Lex a heredoc as libucl does: <<TERM (capital letters) and a new line,
 * the text, and a line starting with TERM followed by a new line, ";",
 * "," or the end.  The text keeps every byte but its last new line: the
 * CRs of CR LF lines stay, as in libucl.  Where libucl would read the text
 * otherwise than it looks, it is refused: an opener or a closing line
 * ending in CR LF (libucl sees no heredoc, or no end), an empty heredoc
 * (libucl does not look for TERM on the first line, and reads on to the
 * next one), and << alone (libucl ends it at the first empty line).
 * Returns 1 if lexed into b, 0 if this is no heredoc opener (then it is a
 * bare word), or -1.
 */
static int
ucl_lex_heredoc(struct ucl_parser *P, struct buf *b)
{
	struct ucl_pos	 start;
	const char	*q = P->p + 2, *term, *body, *line, *nl, *t;
	size_t		 tlen;

	if (ucl_peek(P, 1) != '<')
		return 0;
	ucl_mark(P, &start);
	for (term = q; q < P->end && *q >= 'A' && *q <= 'Z'; q++)
		;
	tlen = (size_t)(q - term);
	if (tlen > 0 && q + 1 < P->end && q[0] == '\r' && q[1] == '\n')
		return ucl_error_at(P, &start, "<<%.*s is followed by CR LF, "
		    "which does not open a heredoc in UCL: save the file with "
		    "LF line ends", (int)tlen, term);
	if (q >= P->end || *q != '\n')
		return 0;
	if (tlen == 0)
		return ucl_error_at(P, &start, "\"<<\" ends the line: a "
		    "heredoc needs its terminator in capital letters, such as "
		    "<<EOD; quote the value if it is \"<<\"");
	body = line = q + 1;
	for (;;) {
		if (line >= P->end) {
			ucl_skip(P, (size_t)(P->end - P->p));
			return ucl_error(P, "unterminated heredoc: no line "
			    "\"%.*s\" ends the text started at line %d",
			    (int)tlen, term, start.line);
		}
		t = line + tlen;
		if ((size_t)(P->end - line) >= tlen &&
		    memcmp(line, term, tlen) == 0) {
			if (t < P->end && *t == '\r' && (t + 1 == P->end ||
			    t[1] == '\n')) {
				ucl_skip(P, (size_t)(line - P->p));
				return ucl_error(P, "the line \"%.*s\" that ends the "
				    "heredoc of line %d ends with CR LF, which does "
				    "not end a heredoc in UCL: save the file with "
				    "LF line ends", (int)tlen, term, start.line);
			}
			if (t == P->end || *t == '\n' || *t == ';' ||
			    *t == ',')
				break;
		}
		if ((nl = memchr(line, '\n', (size_t)(P->end - line))) == NULL)
			line = P->end;
		else
			line = nl + 1;
	}
	if (line == body)
		return ucl_error_at(P, &start, "empty heredoc <<%.*s: write \"\" "
		    "for an empty string", (int)tlen, term);
	buf_init(b);
	buf_append(b, body, (size_t)(line - body - 1));
	ucl_skip(P, (size_t)(line + tlen - P->p));
	return 1;
}

/*
 * Scan a bare word from P->p: up to a new line, ";", ",", "#", a block
 * comment, or an unbalanced "}" or "]".  A backslash protects the next byte.
 * Returns the end without trailing blanks; P moves to the stop.
 */
const char *
ucl_scan_word(struct ucl_parser *P, bool *backslash)
{
	const char	*q = P->p, *stop;
	size_t		 braces = 0, brackets = 0;

	while (q < P->end) {
		if (*q == '\\') {
			*backslash = true;
			q += q + 1 < P->end ? 2 : 1;
			continue;
		}
		if (*q == '{')
			braces++;
		else if (*q == '[')
			brackets++;
		else if (*q == '}' && braces > 0)
			braces--;
		else if (*q == ']' && brackets > 0)
			brackets--;
		else if (ucl_in("\n\r;,]}#", *q) || (*q == '/' &&
		    q + 1 < P->end && q[1] == '*'))
			break;
		q++;
	}
	for (stop = q; stop > P->p && ucl_is_blank((unsigned char)stop[-1]);
	    stop--)
		;
	ucl_skip(P, (size_t)(q - P->p));
	return stop;
}

/*
 * UCL has no // comments: libucl reads "// c" as a key, and keeps " // c"
 * in an unquoted value.  Where a person may have meant a comment (a key
 * that starts with "//", "//" that starts an unquoted value or follows a
 * blank in it), refuse it rather than keep text they think is a comment.
 * [s, e) is the word as written, at `at`.  0, or -1 with the error.
 */
static int
ucl_refuse_slashes(struct ucl_parser *P, const struct ucl_pos *at,
    const char *s, const char *e, bool key)
{
	struct ucl_pos	 pos = *at;
	const char	*q;

	for (q = s; q + 1 < e; q++) {
		if (*q == '\n')
			return 0;	/* a word joined by \ LF: rare, let be */
		if (q[0] != '/' || q[1] != '/' || (q > s &&
		    !ucl_is_blank((unsigned char)q[-1])))
			continue;
		pos.p = q;
		return ucl_error_at(P, &pos, "\"//\" does not start a comment "
		    "in UCL (libucl reads it as part of the %s): write # for "
		    "a comment%s", key ? "key" : "value", key ? "" :
		    ", or quote the value");
	}
	return 0;
}

/*
 * Decode the escapes of a bare word as libucl does: JSON escapes, and
 * any other backslash stands for the byte after it (a\;b is "a;b").
 */
static void
ucl_unescape_word(const char *s, size_t len, struct buf *b)
{
	static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
	const char	*e = s + len, *why;
	unsigned long	 cp;
	int		 n;

	buf_init(b);
	buf_append(b, "", 0);
	while (s < e) {
		if (*s != '\\' || s + 1 == e) {
			buf_putc(b, *s++);
			continue;
		}
		if (s[1] == 'u' && (n = ucl_unicode_escape(s + 2,
		    (size_t)(e - s - 2), &cp, &why)) != -1) {
			ucl_put_utf8(b, cp);
			s += 2 + n;
			continue;
		}
		if (ucl_in(from, s[1]))
			buf_putc(b, to[strchr(from, s[1]) - from]);
		else
			buf_putc(b, s[1]);
		s += 2;
	}
}

/* Is the word [s, s + len) a UCL boolean?  Sets *value. */
static bool
ucl_is_boolean(const char *s, size_t len, bool *value)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	size_t	 i, j;

	for (i = 0; i < 3; i++) {
		for (j = 0; j < 2; j++) {
			const char *w = j == 0 ? yes[i] : no[i];

			if (strlen(w) == len && strncasecmp(w, s, len) == 0) {
				*value = j == 0;
				return true;
			}
		}
	}
	return false;
}

/*
 * Lex a scalar value: quoted string, heredoc, number, boolean, null or
 * bare word.  key and sep say what came before it, for errors.  Returns
 * the node, or NULL with the error reported.
 */
struct ucl_node *
ucl_lex_scalar(struct ucl_parser *P, const char *key, const char *sep)
{
	struct ucl_node	*n;
	struct ucl_pos	 at;
	struct buf	 b;
	const char	*s = P->p, *e;
	bool		 backslash = false;
	int		 c = ucl_peek(P, 0), r;

	ucl_mark(P, &at);
	if (c == -1 || ucl_in("\n\r;,]}#", c))
		return ucl_error(P, "expected a value after \"%s%s\"",
		    key == NULL ? "" : key, sep), NULL;
	n = ucl_node_new(P, UCL_STRING, &at);
	if (c == '\'') {	/* libucl expands no variable in these */
		if (ucl_lex_quoted(P, &b) == -1)
			goto fail;
		goto string;
	}
	if (c == '"') {
		if (ucl_lex_quoted(P, &b) == -1)
			goto fail;
		goto expand;
	}
	if (c == '<' && (r = ucl_lex_heredoc(P, &b)) != 0) {
		if (r == -1)
			goto fail;
		goto expand;
	}
	if (c == '-' || ucl_is_digit(c)) {
		if ((r = ucl_lex_number(P, n, &e)) == -1)
			goto fail;
		if (r == 1) {
			n->raw = xstrndup(s, (size_t)(e - s));
			P->p = e;
			return n;
		}
	}
	e = ucl_scan_word(P, &backslash);
	if (e == s) {
		ucl_error_at(P, &at, "expected a value after \"%s%s\"",
		    key == NULL ? "" : key, sep);
		goto fail;
	}
	if (ucl_refuse_slashes(P, &at, s, e, false) == -1)
		goto fail;
	n->raw = xstrndup(s, (size_t)(e - s));
	if (e - s == 4 && memcmp(s, "null", 4) == 0) {
		n->type = UCL_NULL;
		return n;
	}
	if (ucl_is_boolean(s, (size_t)(e - s), &n->v.boolean)) {
		n->type = UCL_BOOLEAN;
		return n;
	}
	if (backslash)
		ucl_unescape_word(s, (size_t)(e - s), &b);
	else {
		buf_init(&b);
		buf_append(&b, s, (size_t)(e - s));
	}
expand:
	/* As libucl: only a "$" as written asks for variables. */
	if (memchr(s, '$', (size_t)(P->p - s)) != NULL)
		ucl_expand_vars(P, &b);
string:
	n->type = UCL_STRING;
	n->v.string.len = b.len;
	n->v.string.ptr = buf_steal(&b);
	return n;
fail:
	n->type = UCL_NULL;
	ucl_free(n);
	return NULL;
}

/*
 * Lex a key: a bare key (letters, digits, "_", "-", ".", "/", UTF-8) or a
 * quoted string.  Returns 0 with *key allocated, or -1.
 */
int
ucl_lex_key(struct ucl_parser *P, char **key, size_t *keylen)
{
	struct ucl_pos	 at;
	struct buf	 b;
	const char	*s = P->p;
	char		 desc[32], shown[64];
	int		 c = ucl_peek(P, 0);

	ucl_mark(P, &at);
	if (c == '"' || c == '\'') {
		if (ucl_lex_quoted(P, &b) == -1)
			return -1;
		if (b.len == 0) {
			buf_free(&b);
			return ucl_error_at(P, &at, "empty keys are not allowed");
		}
		*keylen = b.len;
		*key = buf_steal(&b);
		return 0;
	}
	if (!(ucl_is_alpha(c) || ucl_is_digit(c) || c == '_' || c == '/' ||
	    c >= 0x80))
		return ucl_error(P, "expected a key, found %s",
		    ucl_describe(c, desc, sizeof(desc)));
	if (c == '/' && ucl_peek(P, 1) == '/')
		return ucl_refuse_slashes(P, &at, s, s + 2, true);
	while ((c = ucl_peek(P, 0)) != -1 && (ucl_is_alpha(c) ||
	    ucl_is_digit(c) || c >= 0x80 || ucl_in("_-./", c)))
		P->p++;
	if (c != -1 && !ucl_is_blank(c) && !ucl_in("\n=:{[;,}#", c)) {
		ucl_printable(s, (size_t)(P->p - s), shown, sizeof(shown));
		return ucl_error(P, "invalid character %s in the key \"%s\"",
		    ucl_describe(c, desc, sizeof(desc)), shown);
	}
	*keylen = (size_t)(P->p - s);
	*key = xstrndup(s, *keylen);
	return 0;
}
