/*
 * buf.c: growable buffers and allocation helpers.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

void *
xmalloc(size_t size)
{
	void	*p;

	if ((p = malloc(size == 0 ? 1 : size)) == NULL)
		fatal("malloc %zu bytes", size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		fatal("calloc %zu x %zu bytes", n, size);
	return p;
}

void *
xrealloc(void *old, size_t size)
{
	void	*p;

	if ((p = realloc(old, size == 0 ? 1 : size)) == NULL)
		fatal("realloc %zu bytes", size);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	struct buf	 b;
	va_list		 ap;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	*ret = buf_steal(&b);
	return (int)strlen(*ret);
}

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Make room for `more` bytes plus the terminating NUL. */
void
buf_reserve(struct buf *b, size_t more)
{
	size_t	 want;

	if (more > SIZE_MAX / 2 - b->len)
		fatalx("buffer size overflow");
	want = b->len + more + 1;
	if (want <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 64;
	while (b->cap < want)
		b->cap *= 2;
	b->data = xrealloc(b->data, b->cap);
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

/* Append n copies of c. */
void
buf_fill(struct buf *b, char c, size_t n)
{
	buf_reserve(b, n);
	memset(b->data + b->len, c, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Format into the room there is; only what does not fit is formatted
 * twice. */
void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	 ap2;
	size_t	 room = b->cap > b->len ? b->cap - b->len : 0;
	int	 n;

	va_copy(ap2, ap);
	n = vsnprintf(room > 0 ? b->data + b->len : NULL, room, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		fatalx("vsnprintf failed on \"%s\"", fmt);
	if ((size_t)n >= room) {
		buf_reserve(b, (size_t)n);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	}
	b->len += (size_t)n;
}

/* Append the decimal digits of v. */
void
buf_put_int(struct buf *b, long long v)
{
	char			 digits[24], *p = digits + sizeof(digits);
	unsigned long long	 u;

	u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	buf_append(b, p, (size_t)(digits + sizeof(digits) - p));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

size_t
utf8_char_len(const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	unsigned char		 lo = 0x80, hi = 0xbf;
	size_t			 n, i;

	if (len == 0)
		return 0;
	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		n = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		n = 3;
		if (u[0] == 0xe0)
			lo = 0xa0;	/* no overlong form */
		else if (u[0] == 0xed)
			hi = 0x9f;	/* no surrogate */
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		n = 4;
		if (u[0] == 0xf0)
			lo = 0x90;	/* no overlong form */
		else if (u[0] == 0xf4)
			hi = 0x8f;	/* at most U+10FFFF */
	} else
		return 0;
	if (len < n || u[1] < lo || u[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (u[i] < 0x80 || u[i] > 0xbf)
			return 0;
	return n;
}

size_t
utf8_invalid_at(const char *s, size_t len)
{
	size_t	 i = 0, n;

	while (i < len) {
		if ((n = utf8_char_len(s + i, len - i)) == 0)
			return i;
		i += n;
	}
	return len;
}

void
buf_json_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		  i, n;
	unsigned char	  c;

	buf_putc(b, '"');
	for (i = 0; i < len; i++) {
		/* Most of a string needs no escape: copy it in runs. */
		for (n = i; n < len && (unsigned char)s[n] >= 0x20 &&
		    (unsigned char)s[n] < 0x7f && s[n] != '"' &&
		    s[n] != '\\'; n++)
			;
		if (n > i) {
			buf_append(b, s + i, n - i);
			if ((i = n) == len)
				break;
		}
		c = (unsigned char)s[i];
		if (c >= 0x80) {
			if ((n = utf8_char_len(s + i, len - i)) == 0)
				buf_puts(b, "\\ufffd");
			else {
				buf_append(b, s + i, n);
				i += n - 1;
			}
			continue;
		}
		switch (c) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		case '\b':
			buf_puts(b, "\\b");
			break;
		case '\f':
			buf_puts(b, "\\f");
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				buf_puts(b, "\\u00");
				buf_putc(b, hex[c >> 4]);
				buf_putc(b, hex[c & 0xf]);
			} else
				buf_putc(b, (char)c);
		}
	}
	buf_putc(b, '"');
}

void
buf_json_cstr(struct buf *b, const char *s)
{
	if (s == NULL)
		buf_puts(b, "null");
	else
		buf_json_string(b, s, strlen(s));
}

void
buf_json_member_strings(struct buf *b, const char *key, char **list, size_t n)
{
	size_t	 i;

	buf_append(b, ",\"", 2);
	buf_puts(b, key);
	buf_append(b, "\":[", 3);
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(b, ',');
		buf_json_cstr(b, list[i]);
	}
	buf_putc(b, ']');
}

void
buf_shell_quote(struct buf *b, const char *s)
{
	const char	*p;

	if (*s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789@%_-+=:,./") == strlen(s)) {
		buf_puts(b, s);
		return;
	}
	buf_putc(b, '\'');
	for (p = s; *p != '\0'; p++) {
		if (*p == '\'')
			buf_puts(b, "'\\''");
		else
			buf_putc(b, *p);
	}
	buf_putc(b, '\'');
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *
buf_steal(struct buf *b)
{
	char	*p;

	if (b->data == NULL)
		return xstrdup("");
	p = b->data;
	buf_init(b);
	return p;
}
