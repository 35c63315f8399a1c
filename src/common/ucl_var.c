/*
 * ucl_var.c: the variables libucl expands in the files it reads.
 *
 * ucl_parser_add_file() defines two: FILENAME, the real path of the file
 * being read, and CURDIR, its directory (for an included file, that
 * file's).  A program using libucl may register more; the original
 * vmstated registered none, so these two are all.  They are expanded as
 * libucl does, quirks included, so that a file means the same thing to
 * both:
 *  - in double-quoted strings, heredocs and unquoted values whose text as
 *    written holds a "$" (a \u0024 escape does not count); never in
 *    single-quoted strings or keys;
 *  - $NAME matches a variable that the text merely starts with
 *    ($CURDIRx is the directory followed by "x"); ${NAME} must match
 *    whole;
 *  - anything else stays as written, but once a string holds a variable,
 *    "$$" in it stands for one "$".
 */
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ucl.h"
#include "ucl_lex.h"

/* The variables of the file at path, found when first used. */
void
ucl_vars_init(struct ucl_vars *v, const char *path)
{
	v->path = xstrdup(path);
	v->filename = v->curdir = NULL;
}

/* Find them: the file's real path when it exists, and its directory. */
static void
ucl_vars_resolve(struct ucl_vars *v)
{
	char	*copy;

	if (v->filename != NULL)
		return;
	if ((v->filename = realpath(v->path, NULL)) == NULL)
		v->filename = xstrdup(v->path);
	copy = xstrdup(v->filename);
	v->curdir = xstrdup(dirname(copy));
	free(copy);
}

void
ucl_vars_free(struct ucl_vars *v)
{
	free(v->path);
	free(v->filename);
	free(v->curdir);
	v->path = v->filename = v->curdir = NULL;
}

/*
 * The value of the variable named at [p, end): the whole of it when
 * `whole`, else a prefix of it.  Sets *len to the name's length.
 */
static const char *
ucl_var_lookup(struct ucl_vars *v, const char *p, const char *end,
    bool whole, size_t *len)
{
	static const char *const names[] = { "FILENAME", "CURDIR" };
	size_t	 i, n;

	for (i = 0; i < 2; i++) {
		n = strlen(names[i]);
		if ((size_t)(end - p) < n || memcmp(p, names[i], n) != 0)
			continue;
		if (whole && (size_t)(end - p) != n)
			continue;
		*len = n;
		ucl_vars_resolve(v);
		return i == 0 ? v->filename : v->curdir;
	}
	return NULL;
}

/* Expand the variables of the string in b, in place (see above). */
void
ucl_expand_vars(const struct ucl_parser *P, struct buf *b)
{
	struct buf	 out;
	const char	*p, *end, *q, *close, *value;
	size_t		 len;
	bool		 found = false;

	if (P->vars == NULL || b->len == 0 || memchr(b->data, '$',
	    b->len) == NULL)
		return;
	buf_init(&out);
	buf_append(&out, "", 0);
	for (p = b->data, end = p + b->len; p < end; ) {
		if (*p != '$' || p + 1 == end) {
			buf_putc(&out, *p++);
			continue;
		}
		q = p + 1;
		if (*q == '$') {
			buf_putc(&out, '$');
			p += 2;
		} else if (*q == '{') {
			close = memchr(q + 1, '}', (size_t)(end - q - 1));
			value = close == NULL ? NULL : ucl_var_lookup(P->vars,
			    q + 1, close, true, &len);
			if (value != NULL) {
				buf_puts(&out, value);
				found = true;
				p = close + 1;
			} else {
				buf_append(&out, "${", 2);
				p = q + 1;
			}
		} else if ((value = ucl_var_lookup(P->vars, q, end, false,
		    &len)) != NULL) {
			buf_puts(&out, value);
			found = true;
			p = q + len;
		} else {
			buf_putc(&out, '$');
			p = q;
		}
	}
	if (found) {
		buf_free(b);
		*b = out;
	} else
		buf_free(&out);
}
