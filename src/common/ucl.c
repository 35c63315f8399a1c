/*
 * ucl.c: the UCL parser, structure and files (see ucl.h).
 *
 * A recursive descent parser over a byte buffer.  Keys and scalars
 * (strings, heredocs, bare words) are lexed in ucl_lex.c, numbers in
 * ucl_number.c; this file holds documents, sections, arrays, .include,
 * files and the lifetime of nodes.
 *
 * It follows libucl's grammar (its tests/basic files read the same, but
 * for the macros below), with these deliberate differences, listed in
 * vmstated.conf(5).  Most turn a silent surprise into an error a person
 * can act on:
 *  - text after the closing brace of a braced top-level object is an
 *    error (libucl ignores it);
 *  - an invalid escape in a double-quoted string is an error (libucl
 *    drops the backslash);
 *  - "//" that libucl would read as text but a person may mean as a
 *    comment (a key starting with it, a value holding it after a blank)
 *    is an error: UCL has no // comments;
 *  - a fraction with a kb/mb/gb suffix is an error (libucl truncates it);
 *  - an empty heredoc, a heredoc opened or closed by a line ending in
 *    CR LF, and a CR not followed by LF outside strings and comments are
 *    errors (libucl misreads them);
 *  - only the .include macro exists; a NUL byte anywhere is an error;
 *  - a UTF-8 byte order mark at the start of a file is skipped (libucl
 *    makes it part of the first key), and a key may be followed by a new
 *    line when a section or a list comes next (libucl refuses that);
 *  - bare nan and inf are strings (libucl reads floats).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "ucl.h"
#include "ucl_lex.h"

#define UCL_MAX_DEPTH		128	/* nested sections and arrays */
#define UCL_MAX_INCLUDES	16	/* nested .include */

static int	 ucl_parse_members(struct ucl_parser *, struct ucl_node *,
		    const struct ucl_pos *, const char *);
static int	 ucl_parse_elements(struct ucl_parser *, struct ucl_node *,
		    const struct ucl_pos *);
static int	 ucl_parse_member(struct ucl_parser *, struct ucl_node *,
		    struct ucl_node **);
static struct ucl_node *ucl_parse_text(struct ucl_parser *, const char *,
		    size_t);
static int	 ucl_parse_macro(struct ucl_parser *, struct ucl_node *,
		    struct ucl_node **);

/* File names are shared by the nodes that came from them. */
struct ucl_fname *
ucl_fname_new(const char *name)
{
	struct ucl_fname	*f;
	size_t			 len = strlen(name);

	f = xmalloc(sizeof(*f) + len + 1);
	f->refs = 1;
	memcpy(f->name, name, len + 1);
	return f;
}

static void
ucl_fname_release(const char *name)
{
	struct ucl_fname	*f;

	if (name == NULL)
		return;
	f = (struct ucl_fname *)(void *)((char *)(uintptr_t)name -
	    offsetof(struct ucl_fname, name));
	if (--f->refs == 0)
		free(f);
}

/* A new node of this type at this position; never NULL. */
struct ucl_node *
ucl_node_new(struct ucl_parser *P, enum ucl_type type,
    const struct ucl_pos *at)
{
	struct ucl_node	*n;

	n = xcalloc(1, sizeof(*n));
	n->type = type;
	n->file = P->fname->name;
	P->fname->refs++;
	n->line = at->line;
	n->column = ucl_pos_column(at);
	return n;
}

void
ucl_free(struct ucl_node *n)
{
	struct ucl_node	*c, *next;

	if (n == NULL)
		return;
	for (c = n->children; c != NULL; c = next) {
		next = c->next;
		ucl_free(c);
	}
	free(n->key);
	if (n->type == UCL_STRING)
		free(n->v.string.ptr);
	free(n->raw);
	ucl_fname_release(n->file);
	free(n);
}

/* Append child to parent; *tail is the last child so far (or NULL). */
static void
ucl_append(struct ucl_node *parent, struct ucl_node **tail,
    struct ucl_node *child)
{
	if (*tail == NULL)
		parent->children = child;
	else
		(*tail)->next = child;
	*tail = child;
	parent->count++;
}

/* Enter a nested section or array; -1 when too deep. */
static int
ucl_enter(struct ucl_parser *P, const struct ucl_pos *at)
{
	if (P->depth >= UCL_MAX_DEPTH)
		return ucl_error_at(P, at, "sections and arrays are nested "
		    "too deeply (more than %d levels)", UCL_MAX_DEPTH);
	P->depth++;
	return 0;
}

/*
 * Is the key just read followed, on the same line, by another key and
 * then a "{" or "["?  That is libucl's `a b { }` form, which nests as
 * a { b { } }.  Quoted strings and comments are skipped over.
 */
static int
ucl_next_is_key(const struct ucl_parser *P)
{
	const char	*q = P->p;

	while (q < P->end) {
		switch (*q) {
		case '{':
		case '[':
			return 1;
		case '\n':
		case '\r':
		case ';':
		case ',':
		case '#':
			return 0;
		case '/':
			if (q + 1 < P->end && q[1] == '*')
				return 0;
			break;
		case '"':
			for (q++; q < P->end && *q != '"' && *q != '\n'; q++)
				if (*q == '\\' && q + 1 < P->end && q[1] != '\n')
					q++;
			if (q >= P->end || *q == '\n')
				return 0;
			break;
		}
		q++;
	}
	return 0;
}

/*
 * Parse what follows a key: a separator, then a value, or a nested key.
 * Returns the value node (its key not yet set) or NULL on error.
 */
static struct ucl_node *
ucl_parse_after_key(struct ucl_parser *P, const char *key)
{
	struct ucl_node	*n, *tail = NULL;
	struct ucl_pos	 at;
	int		 c;

	if (ucl_skip_space(P, false, NULL) == -1)
		return NULL;
	c = ucl_peek(P, 0);
	if (c == '=' || c == ':') {
		P->p++;
		if (ucl_skip_space(P, true, NULL) == -1)
			return NULL;
		return ucl_parse_value(P, key, c == '=' ? " =" : ":");
	}
	if (c == -1 || c == '\n') {
		ucl_mark(P, &at);
		if (ucl_skip_space(P, true, NULL) == -1)
			return NULL;
		c = ucl_peek(P, 0);
		if (c != '{' && c != '[')
			return ucl_error_at(P, &at, "expected a value after "
			    "\"%s\"", key), NULL;
		return ucl_parse_value(P, key, "");
	}
	if (c == '{' || c == '[' || !ucl_next_is_key(P))
		return ucl_parse_value(P, key, "");

	/* `key name { ... }`: an object holding the nested member. */
	ucl_mark(P, &at);
	if (ucl_enter(P, &at) == -1)
		return NULL;
	n = ucl_node_new(P, UCL_OBJECT, &at);
	if (ucl_parse_member(P, n, &tail) == -1) {
		ucl_free(n);
		return NULL;
	}
	P->depth--;
	return n;
}

/* Parse one `key value` member, or a macro, into obj. */
static int
ucl_parse_member(struct ucl_parser *P, struct ucl_node *obj,
    struct ucl_node **tail)
{
	struct ucl_node	*n;
	char		*key, shown[64];
	size_t		 keylen;

	if (ucl_peek(P, 0) == '.')
		return ucl_parse_macro(P, obj, tail);
	if (ucl_lex_key(P, &key, &keylen) == -1)
		return -1;
	ucl_printable(key, keylen, shown, sizeof(shown));
	if ((n = ucl_parse_after_key(P, shown)) == NULL) {
		free(key);
		return -1;
	}
	n->key = key;
	n->key_len = keylen;
	ucl_append(obj, tail, n);
	return 0;
}

/*
 * Parse the members of obj up to its closing brace, or to the end of the
 * input for the top level without braces (open == NULL).  `name` names
 * the section in errors (NULL: anonymous).  Returns 0 or -1.
 */
static int
ucl_parse_members(struct ucl_parser *P, struct ucl_node *obj,
    const struct ucl_pos *open, const char *name)
{
	struct ucl_node	*tail = NULL, *last = NULL;
	char		 what[96], desc[32], shown[64];
	bool		 separated = true;
	int		 c;

	if (name != NULL)
		snprintf(what, sizeof(what), "section \"%s\"", name);
	else
		snprintf(what, sizeof(what), "object");
	for (;;) {
		if (ucl_skip_space(P, true, &separated) == -1)
			return -1;
		c = ucl_peek(P, 0);
		if (c == -1) {
			if (open == NULL)
				return 0;
			return ucl_error(P, "unterminated %s opened at line %d: "
			    "missing \"}\"", what, open->line);
		}
		if (c == '}') {
			if (open == NULL)
				return ucl_error(P, "unexpected \"}\": no section "
				    "is open");
			P->p++;
			return 0;
		}
		if (c == ';' || c == ',') {
			P->p++;
			separated = true;
			continue;
		}
		if (c == ']')
			return ucl_error(P, "unexpected \"]\": no array is open");
		if (!separated && last == NULL)
			return ucl_error(P, "expected \";\" or a new line after "
			    ".include, found %s",
			    ucl_describe(c, desc, sizeof(desc)));
		if (!separated) {
			ucl_printable(last->key, last->key_len, shown,
			    sizeof(shown));
			return ucl_error(P, "expected \";\" or a new line after "
			    "the value of \"%s\", found %s", shown,
			    ucl_describe(c, desc, sizeof(desc)));
		}
		if (ucl_parse_member(P, obj, &tail) == -1)
			return -1;
		/* A closing brace or bracket separates like a new line. */
		last = c == '.' ? NULL : tail;
		separated = last != NULL && (last->type == UCL_OBJECT ||
		    last->type == UCL_ARRAY) && (P->p[-1] == '}' ||
		    P->p[-1] == ']');
	}
}

/* Parse the elements of an array after its "[", through its "]". */
static int
ucl_parse_elements(struct ucl_parser *P, struct ucl_node *arr,
    const struct ucl_pos *open)
{
	struct ucl_node	*n, *tail = NULL;
	char		 desc[32];
	const char	*sep = "[";
	bool		 separated = true, comma_ok = false;
	int		 c;

	for (;;) {
		if (ucl_skip_space(P, true, &separated) == -1)
			return -1;
		c = ucl_peek(P, 0);
		if (c == -1)
			return ucl_error(P, "unterminated array opened at line "
			    "%d: missing \"]\"", open->line);
		if (c == ']') {
			P->p++;
			return 0;
		}
		if ((c == ',' || c == ';') && comma_ok) {
			P->p++;
			separated = true;
			comma_ok = false;
			sep = c == ',' ? "," : ";";
			continue;
		}
		if (!separated)
			return ucl_error(P, "expected \",\" or \"]\" in the array "
			    "opened at line %d, found %s", open->line,
			    ucl_describe(c, desc, sizeof(desc)));
		if ((n = ucl_parse_value(P, NULL, sep)) == NULL)
			return -1;
		ucl_append(arr, &tail, n);
		comma_ok = true;
		separated = (n->type == UCL_OBJECT || n->type == UCL_ARRAY) &&
		    (P->p[-1] == '}' || P->p[-1] == ']');
	}
}

/*
 * Parse a value: a string, number, boolean, null, section or array.
 * The key (NULL in arrays) and the separator before the value (" =",
 * ":", "" or "[", ",") name the place in errors.  Returns a node without
 * key, or NULL on error.
 */
struct ucl_node *
ucl_parse_value(struct ucl_parser *P, const char *key, const char *sep)
{
	struct ucl_node	*n;
	struct ucl_pos	 at;
	int		 c;

	ucl_mark(P, &at);
	c = ucl_peek(P, 0);
	if (c != '{' && c != '[')
		return ucl_lex_scalar(P, key, sep);
	if (ucl_enter(P, &at) == -1)
		return NULL;
	P->p++;
	if (c == '{') {
		n = ucl_node_new(P, UCL_OBJECT, &at);
		if (ucl_parse_members(P, n, &at, key) == -1)
			goto fail;
	} else {
		n = ucl_node_new(P, UCL_ARRAY, &at);
		if (ucl_parse_elements(P, n, &at) == -1)
			goto fail;
	}
	P->depth--;
	return n;
fail:
	ucl_free(n);
	return NULL;
}

/*
 * Parse a whole document: members without braces, or one braced object,
 * or one array (JSON).  Returns the root or NULL on error.
 */
static struct ucl_node *
ucl_parse_document(struct ucl_parser *P)
{
	struct ucl_node	*root;
	struct ucl_pos	 at;
	char		 desc[32];
	int		 c;

	ucl_mark(P, &at);
	if (ucl_skip_space(P, true, NULL) == -1)
		return NULL;
	c = ucl_peek(P, 0);
	if (c != '{' && c != '[') {
		root = ucl_node_new(P, UCL_OBJECT, &at);
		if (ucl_parse_members(P, root, NULL, NULL) == -1)
			goto fail;
		return root;
	}
	if ((root = ucl_parse_value(P, NULL, "")) == NULL)
		return NULL;
	if (ucl_skip_space(P, true, NULL) == -1)
		goto fail;
	if ((c = ucl_peek(P, 0)) != -1) {
		ucl_error(P, "unexpected %s after the end of the top-level %s",
		    ucl_describe(c, desc, sizeof(desc)),
		    root->type == UCL_OBJECT ? "object" : "array");
		goto fail;
	}
	return root;
fail:
	ucl_free(root);
	return NULL;
}

/* Parse text as a whole document with parser P (file name already set). */
static struct ucl_node *
ucl_parse_text(struct ucl_parser *P, const char *text, size_t len)
{
	const char	*nul;

	P->start = P->p = P->line_start = text;
	P->end = text + len;
	P->line = 1;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		P->p = P->line_start = text + 3;	/* UTF-8 byte order mark */
	if ((nul = memchr(text, '\0', len)) != NULL) {
		ucl_skip(P, (size_t)(nul - P->p));
		ucl_error(P, "the file contains a NUL byte");
		return NULL;
	}
	return ucl_parse_document(P);
}

/*
 * Read a whole configuration file into *data (NUL-terminated) and *len,
 * counting it against the limit of the files of one parse.  Only regular
 * files, opened without blocking: a FIFO or a device would block or
 * never end.  On failure returns -1 with a reason in msg.
 */
static int
ucl_read_file(const char *path, struct ucl_chain *chain, char **data,
    size_t *len, char *msg, size_t msgsize)
{
	struct buf	 b;
	size_t		 left = UCL_MAX_FILE - chain->total;

	buf_init(&b);
	if (file_read(path, FILE_REGULAR, left, &b, NULL, msg,
	    msgsize) == -1) {
		if (errno == EFBIG)
			snprintf(msg, msgsize, "%s more than %d MiB, the limit "
			    "for a configuration file with the files it "
			    "includes", chain->total == 0 ? "it holds" :
			    "with the files read before it, it makes",
			    UCL_MAX_FILE / 1024 / 1024);
		buf_free(&b);
		return -1;
	}
	chain->total += b.len;
	*len = b.len;
	*data = buf_steal(&b);
	return 0;
}

/* The canonical name of a file, for include cycles; never NULL. */
static char *
ucl_canonical(const char *path)
{
	char	*real;

	if ((real = realpath(path, NULL)) != NULL)
		return real;
	return xstrdup(path);
}

/*
 * .include: parse the file named by path (relative to the directory of
 * the file being parsed) and append its members to obj.
 */
static int
ucl_include(struct ucl_parser *P, struct ucl_node *obj,
    struct ucl_node **tail, const char *path, const struct ucl_pos *at)
{
	struct ucl_parser	 S;
	struct ucl_vars		 vars;
	struct ucl_node		*root, *c, *next;
	const char		*slash;
	char			*full, *data, *real, *c_name, msg[256];
	size_t			 len;
	int			 i, ret = -1;

	if (!P->includes)
		return ucl_error_at(P, at, ".include is only allowed in files");
	if (P->chain->count > UCL_MAX_INCLUDES)
		return ucl_error_at(P, at, ".include nested too deeply (more "
		    "than %d levels)", UCL_MAX_INCLUDES);
	slash = strrchr(P->fname->name, '/');
	if (path[0] == '/' || slash == NULL)
		full = xstrdup(path);
	else
		xasprintf(&full, "%.*s/%s", (int)(slash - P->fname->name),
		    P->fname->name, path);
	if (ucl_read_file(full, P->chain, &data, &len, msg,
	    sizeof(msg)) == -1) {
		ucl_error_at(P, at, "cannot include \"%s\": %s", full, msg);
		free(full);
		return -1;
	}
	real = ucl_canonical(full);
	for (i = 0; i < P->chain->count; i++) {
		if (!P->chain->canonical[i]) {
			c_name = P->chain->paths[i];
			P->chain->paths[i] = ucl_canonical(c_name);
			P->chain->canonical[i] = true;
			free(c_name);
		}
		if (strcmp(P->chain->paths[i], real) == 0) {
			ucl_error_at(P, at, "cannot include \"%s\": it is "
			    "already being read (an .include cycle)", full);
			free(real);
			goto out;
		}
	}
	P->chain->canonical[P->chain->count] = true;
	P->chain->paths[P->chain->count++] = real;

	memset(&S, 0, sizeof(S));
	S.fname = ucl_fname_new(full);
	S.depth = P->depth;
	S.includes = true;
	S.chain = P->chain;
	S.err = P->err;
	if (P->vars != NULL) {
		ucl_vars_init(&vars, full);
		S.vars = &vars;
	}
	root = ucl_parse_text(&S, data, len);
	if (S.vars != NULL)
		ucl_vars_free(&vars);
	free(P->chain->paths[--P->chain->count]);
	if (root != NULL && root->type != UCL_OBJECT)
		ucl_error_at(P, at, "cannot include \"%s\": it holds an array, "
		    "not keys", full);
	else if (root != NULL) {
		for (c = root->children; c != NULL; c = next) {
			next = c->next;
			c->next = NULL;
			ucl_append(obj, tail, c);
		}
		root->children = NULL;
		ret = 0;
	}
	ucl_free(root);
	ucl_fname_release(S.fname->name);
out:
	free(data);
	free(full);
	return ret;
}

/*
 * A macro at the key position: .include "file" is the only one.  Others,
 * and .include(parameters), are refused with an error that says so.
 */
static int
ucl_parse_macro(struct ucl_parser *P, struct ucl_node *obj,
    struct ucl_node **tail)
{
	struct ucl_pos	 at;
	struct buf	 b;
	const char	*name, *s, *e;
	bool		 backslash = false;
	int		 c, ret;

	ucl_mark(P, &at);
	for (name = ++P->p; (c = ucl_peek(P, 0)) != -1 &&
	    (ucl_is_alpha(c) || ucl_is_digit(c) || c == '_'); P->p++)
		;
	if (P->p == name)
		return ucl_error_at(P, &at, "expected a macro name after \".\"");
	if (P->p - name != 7 || memcmp(name, "include", 7) != 0)
		return ucl_error_at(P, &at, "the macro \".%.*s\" is not "
		    "supported (only .include is)", (int)(P->p - name) > 32 ?
		    32 : (int)(P->p - name), name);
	if (ucl_skip_space(P, false, NULL) == -1)
		return -1;
	c = ucl_peek(P, 0);
	if (c == '(')
		return ucl_error(P, "parameters of .include are not supported");
	if (c == '"' || c == '\'') {
		if (ucl_lex_quoted(P, &b) == -1)
			return -1;
	} else {
		s = P->p;
		e = ucl_scan_word(P, &backslash);
		buf_init(&b);
		buf_append(&b, s, (size_t)(e - s));
	}
	ucl_expand_vars(P, &b);
	if (b.len == 0 || memchr(b.data, '\0', b.len) != NULL) {
		buf_free(&b);
		return ucl_error_at(P, &at, "expected a file name after "
		    ".include");
	}
	ret = ucl_include(P, obj, tail, b.data, &at);
	buf_free(&b);
	return ret;
}

/*
 * Parse text named `name`; .include is allowed when `includes`, and the
 * variables expand when `variables`.
 */
static struct ucl_node *
ucl_parse_named(const char *text, size_t len, const char *name,
    bool includes, bool variables, struct ucl_chain *chain,
    struct ucl_error *err)
{
	struct ucl_parser	 P;
	struct ucl_vars		 vars;
	struct ucl_node		*root;

	memset(err, 0, sizeof(*err));
	memset(&P, 0, sizeof(P));
	if (includes) {	/* made canonical at its first .include */
		chain->canonical[chain->count] = false;
		chain->paths[chain->count++] = xstrdup(name);
	}
	P.fname = ucl_fname_new(name);
	P.includes = includes;
	P.chain = chain;
	P.err = err;
	if (variables) {
		ucl_vars_init(&vars, name);
		P.vars = &vars;
	}
	root = ucl_parse_text(&P, text, len);
	if (variables)
		ucl_vars_free(&vars);
	ucl_fname_release(P.fname->name);
	if (includes)
		free(chain->paths[--chain->count]);
	return root;
}

struct ucl_node *
ucl_parse_buffer(const char *text, size_t len, const char *name,
    struct ucl_error *err)
{
	struct ucl_chain	 chain;

	memset(&chain, 0, sizeof(chain));
	return ucl_parse_named(text, len, name == NULL ? "<buffer>" : name,
	    false, false, &chain, err);
}

struct ucl_node *
ucl_parse_config_text(const char *text, size_t len, const char *path,
    struct ucl_error *err)
{
	struct ucl_chain	 chain;

	memset(&chain, 0, sizeof(chain));
	return ucl_parse_named(text, len, path, false, true, &chain, err);
}

/* Read path and parse it as a configuration or as a data file. */
static struct ucl_node *
ucl_parse_path(const char *path, bool config, struct ucl_error *err)
{
	struct ucl_chain	 chain;
	struct ucl_node		*root;
	char			*data, msg[256];
	size_t			 len;

	memset(&chain, 0, sizeof(chain));
	if (ucl_read_file(path, &chain, &data, &len, msg,
	    sizeof(msg)) == -1) {
		memset(err, 0, sizeof(*err));
		snprintf(err->file, sizeof(err->file), "%s", path);
		snprintf(err->message, sizeof(err->message), "cannot read: %s",
		    msg);
		return NULL;
	}
	root = ucl_parse_named(data, len, path, config, config, &chain, err);
	free(data);
	return root;
}

struct ucl_node *
ucl_parse_config(const char *path, struct ucl_error *err)
{
	return ucl_parse_path(path, true, err);
}

struct ucl_node *
ucl_parse_file(const char *path, struct ucl_error *err)
{
	return ucl_parse_path(path, false, err);
}
