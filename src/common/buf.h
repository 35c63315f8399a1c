/*
 * buf.h: a growable byte buffer, and the JSON string writer built on it.
 *
 * Every function that grows a buffer aborts through fatal() on memory
 * exhaustion: the daemon cannot supervise anything without memory, and a
 * half-written reply is worse than a clear exit.
 */
#ifndef VMSTATED_BUF_H
#define VMSTATED_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;		/* always NUL-terminated when data != NULL */
	size_t	 len;
	size_t	 cap;
};

void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
void	 buf_append(struct buf *, const void *, size_t);
/* Make room for `more` bytes at once (a reply whose size is known). */
void	 buf_reserve(struct buf *, size_t more);
void	 buf_puts(struct buf *, const char *);
void	 buf_putc(struct buf *, char);
void	 buf_fill(struct buf *, char, size_t n);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_vprintf(struct buf *, const char *, va_list);
void	 buf_put_int(struct buf *, long long);
/*
 * Append s (len bytes) as a quoted, escaped JSON string.  The result is
 * always valid UTF-8: a byte that is not part of a valid UTF-8 sequence
 * (a directory name in Latin-1, say) is written as \ufffd, the
 * replacement character, one per byte.
 */
void	 buf_json_string(struct buf *, const char *s, size_t len);
/* Same, for a NUL-terminated string; NULL is written as null. */
void	 buf_json_cstr(struct buf *, const char *s);
/* Append ,"key":["s1","s2",...] (a member of an object being written). */
void	 buf_json_member_strings(struct buf *, const char *key, char **list,
	    size_t n);
/* Append s quoted for sh(1) where it needs it (the logged command line). */
void	 buf_shell_quote(struct buf *, const char *s);
/* Remove the first n bytes. */
void	 buf_consume(struct buf *, size_t n);
/* Take the data out; the buffer is left empty. Never NULL. */
char	*buf_steal(struct buf *);

/*
 * The length of the valid UTF-8 character (RFC 3629: no overlong form, no
 * surrogate, at most U+10FFFF) at s, len bytes available: 1 to 4, or 0
 * when the bytes there are not one.
 */
size_t	 utf8_char_len(const char *s, size_t len);
/* Offset of the first byte of s that is not valid UTF-8, or len. */
size_t	 utf8_invalid_at(const char *s, size_t len);

/* Allocation helpers that never return NULL (fatal on failure). */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
