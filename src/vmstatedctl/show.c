/*
 * show.c: replies as text for people: the status table, info's key: value
 * lines, reload's summary and event lines.
 *
 * Every string that came from the daemon goes through the sanitizer before
 * it reaches a terminal: a VM description is written by whoever owns the
 * VM, and must not be able to move the cursor of the administrator's
 * terminal or break the table.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "vmstatedctl.h"

#define STATUS_COLUMNS	7

/* Replace control characters by '?' in place. */
static char *
sanitize(char *s)
{
	unsigned char	*p;

	for (p = (unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

/* Print s on stdout with its control characters made visible. */
void
show_sanitized(const char *s)
{
	char	*copy = sanitize(xstrdup(s));

	fputs(copy, stdout);
	free(copy);
}

/*
 * Print text (several lines, perhaps) on f: the first line after prefix,
 * the others indented, each sanitized.
 */
static void
print_lines(FILE *f, const char *prefix, const char *text)
{
	const char	*eol;
	char		*line;

	fputs(prefix, f);
	for (;;) {
		if ((eol = strchr(text, '\n')) == NULL)
			eol = text + strlen(text);
		line = sanitize(xstrndup(text, (size_t)(eol - text)));
		fprintf(f, "%s\n", line);
		free(line);
		if (*eol == '\0' || eol[1] == '\0')
			break;
		text = eol + 1;
		fputs("    ", f);
	}
}

/* The string member key of obj (top level when NULL), or dflt. */
static const char *
str_or(struct reply *r, const struct reply_value *obj, const char *key,
    const char *dflt)
{
	const char	*s = reply_str(r, obj, key);

	return s != NULL ? s : dflt;
}

/* A number as a whole number in *out; returns -1 if it is not one. */
static int
get_int(const struct reply_value *v, int64_t *out)
{
	switch (v->type) {
	case REPLY_INT:
		*out = v->integer;
		return 0;
	case REPLY_FLOAT:
		*out = (int64_t)v->number;
		return 0;
	default:
		return -1;
	}
}

/* Append n in decimal: a status table has thousands of numbers. */
static void
put_int(struct buf *b, int64_t n)
{
	char		 digits[24], *p = digits + sizeof(digits);
	uint64_t	 u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;

	do {
		*--p = (char)('0' + u % 10);
	} while ((u /= 10) != 0);
	if (n < 0)
		*--p = '-';
	buf_append(b, p, (size_t)(digits + sizeof(digits) - p));
}

/*
 * Append the string value v as a C string would print: up to its first
 * NUL, if it holds one.  Returns the bytes appended.
 */
static size_t
put_cstring(const struct reply_value *v, struct buf *b)
{
	size_t	 start = b->len;

	reply_append_string(v, b);
	b->len = start + strlen(b->data + start);
	b->data[b->len] = '\0';
	return b->len - start;
}

/*
 * Append a scalar (or an array of scalars, comma-separated) as text: "-"
 * for null, an empty string or an empty array; yes/no for booleans.
 * parent is the cursor that read v, if any.  Not sanitized yet.
 */
static void
scalar_text(struct reply *r, const struct reply_value *v, struct buf *b,
    struct reply_cursor *parent)
{
	struct reply_cursor	 c;
	struct reply_value	 e;
	size_t			 start;

	switch (v->type) {
	case REPLY_NULL:
		buf_puts(b, "-");
		break;
	case REPLY_BOOLEAN:
		buf_puts(b, v->boolean ? "yes" : "no");
		break;
	case REPLY_INT:
		put_int(b, v->integer);
		break;
	case REPLY_FLOAT:
		buf_printf(b, "%.15g", v->number);
		break;
	case REPLY_STRING:
		start = b->len;
		if (reply_append_string(v, b) == 0)
			buf_puts(b, "-");
		else {
			b->len = start + strlen(b->data + start);
			b->data[b->len] = '\0';
		}
		break;
	case REPLY_ARRAY:
		reply_enter(r, v, &c, parent);
		while (reply_next(&c, NULL, &e)) {
			if (c.count > 1)
				buf_puts(b, ", ");
			scalar_text(r, &e, b, &c);
		}
		if (c.count == 0)
			buf_puts(b, "-");
		break;
	case REPLY_OBJECT:
		buf_puts(b, "{...}");
		break;
	}
}

/* scalar_text() as an allocated, sanitized string. */
static char *
show_scalar(struct reply *r, const struct reply_value *v,
    struct reply_cursor *parent)
{
	struct buf	 b;

	buf_init(&b);
	buf_puts(&b, "");
	scalar_text(r, v, &b, parent);
	return sanitize(buf_steal(&b));
}

/* Seconds as 3s, 4m12s, 2h05m or 3d04h. */
void
show_uptime(struct buf *b, int64_t s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		buf_printf(b, "%" PRId64 "s", s);
	else if (s < 3600)
		buf_printf(b, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		buf_printf(b, "%" PRId64 "h%02" PRId64 "m", s / 3600,
		    s % 3600 / 60);
	else
		buf_printf(b, "%" PRId64 "d%02" PRId64 "h", s / 86400,
		    s % 86400 / 3600);
}

/* A Unix time as 2026-11-26T23:50:01Z, as in the VM logs. */
void
show_time(struct buf *b, double unixtime)
{
	struct tm	 tm;
	time_t		 t = (time_t)unixtime;
	char		 s[64];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		buf_printf(b, "%.0f", unixtime);
		return;
	}
	buf_puts(b, s);
}

/* The members of a status row that the table shows. */
enum status_key {
	SK_NAME, SK_STATE, SK_PID, SK_UPTIME, SK_RESTARTS, SK_MAXRESTART,
	SK_OWNER, SK_GROUP, SK_DESCRIPTION, SK_ERROR, SK_COUNT, SK_OTHER
};

/*
 * Which of them the key k (len bytes) is: by length first, since a row
 * has a dozen members and a thousand rows are common.  Tests in a row,
 * in the order the daemon writes the members, not a switch on the first
 * letter: its indirect jump was mispredicted at nearly every member, a
 * third of the rows' own time (perf annotate); these branches repeat
 * from one row to the next.
 */
static enum status_key
status_key(const char *k, size_t len)
{
#define IS(s)	(len == sizeof(s) - 1 && memcmp(k, s, sizeof(s) - 1) == 0)
	if (IS("name"))
		return SK_NAME;
	if (IS("state"))
		return SK_STATE;
	if (IS("pid"))
		return SK_PID;
	if (IS("uptime"))
		return SK_UPTIME;
	if (IS("restarts"))
		return SK_RESTARTS;
	if (IS("maxrestart"))
		return SK_MAXRESTART;
	if (IS("owner"))
		return SK_OWNER;
	if (IS("group"))
		return SK_GROUP;
	if (IS("description"))
		return SK_DESCRIPTION;
	if (IS("error"))
		return SK_ERROR;
	return SK_OTHER;
#undef IS
}

/*
 * The table is built as text: each row's seven cells one after another,
 * NUL-terminated, in one buffer; a row is known by the offset of its
 * first cell, and the widths of its cells.  The rows of invalid VMs also keep what print_invalid()
 * says about them.
 */
struct status_table {
	struct buf	 text;
	struct status_row {
		size_t		 offset;	/* of its first cell */
		unsigned int	 width[STATUS_COLUMNS];
	}		*rows;
	size_t		 nrows;
	size_t		 cap;
	struct invalid_row {
		const char	*name;
		const char	*state;
		const char	*error;
	}		*invalid;
	size_t		 ninvalid;
};

/*
 * Append n bytes to the table's text, the room tested inline: a table of
 * a thousand rows is some ten thousand pieces, and a call to
 * buf_append() for each cost more than the copying.  The text is
 * NUL-terminated by end_cell(), not by each piece.
 */
static inline void
put(struct buf *b, const char *s, size_t n)
{
	if (b->cap - b->len <= n)
		buf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

/*
 * End the cell begun at offset start as column col of the last row:
 * sanitize it, note its width, terminate it.  Its text holds no NUL
 * (scalar_text() and put_cstring() stop at one).
 */
static void
end_cell(struct status_table *t, int col, size_t start)
{
	unsigned char	*p, *end;

	end = (unsigned char *)t->text.data + t->text.len;
	for (p = (unsigned char *)t->text.data + start; p < end; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	t->rows[t->nrows - 1].width[col] = (unsigned int)(t->text.len - start);
	put(&t->text, "", 1);
}

/*
 * The cell of a member shown as it is ("-" when absent).  The usual
 * values, null and strings without escapes, are copied straight from the
 * line; the others go through scalar_text().
 */
static void
value_cell(struct reply *r, struct status_table *t, int col,
    const struct reply_value *v)
{
	const char	*s;
	size_t		 start = t->text.len, len;

	if (v == NULL || v->type == REPLY_NULL)
		put(&t->text, "-", 1);
	else if ((s = reply_plain(v, &len)) != NULL)
		put(&t->text, len == 0 ? "-" : s, len == 0 ? 1 : len);
	else
		scalar_text(r, v, &t->text, NULL);
	end_cell(t, col, start);
}

/* Note why an invalid VM's row is so, for print_invalid(). */
static void
note_invalid(struct reply *r, struct status_table *t, struct reply_value *m,
    const bool *seen)
{
	struct invalid_row	*inv;
	const char		*error;

	if (!seen[SK_ERROR] ||
	    (error = reply_string(r, &m[SK_ERROR])) == NULL || *error == '\0')
		return;
	t->invalid = xrealloc(t->invalid, (t->ninvalid + 1) *
	    sizeof(*t->invalid));
	inv = &t->invalid[t->ninvalid++];
	inv->error = error;
	inv->name = seen[SK_NAME] ? reply_string(r, &m[SK_NAME]) : NULL;
	inv->state = seen[SK_STATE] ? reply_string(r, &m[SK_STATE]) : NULL;
}

/* Add the row of one VM object to the table. */
static void
status_row(struct reply *r, struct reply_value *vm, struct reply_cursor *vms,
    struct status_table *t)
{
	struct reply_value	 m[SK_COUNT], v;
	struct reply_cursor	 c;
	struct buf		*text = &t->text;
	bool			 seen[SK_COUNT] = { false };
	enum status_key		 k;
	int64_t			 n, max;
	size_t			 start;

	/* One pass over the members; the first of a repeated key counts. */
	reply_enter(r, vm, &c, vms);
	while (reply_next(&c, NULL, &v))
		if ((k = status_key(c.key_at, c.key_len)) != SK_OTHER &&
		    !seen[k]) {
			seen[k] = true;
			m[k] = v;
		}
	note_invalid(r, t, m, seen);

	if (t->nrows == t->cap) {
		t->cap *= 2;
		t->rows = xrealloc(t->rows, t->cap * sizeof(*t->rows));
	}
	t->rows[t->nrows++].offset = text->len;
	value_cell(r, t, 0, seen[SK_NAME] ? &m[SK_NAME] : NULL);
	value_cell(r, t, 1, seen[SK_STATE] ? &m[SK_STATE] : NULL);
	value_cell(r, t, 2, seen[SK_PID] ? &m[SK_PID] : NULL);

	start = text->len;
	if (seen[SK_UPTIME] && get_int(&m[SK_UPTIME], &n) == 0)
		show_uptime(text, n);
	else
		buf_puts(text, "-");
	end_cell(t, 3, start);

	start = text->len;
	if (seen[SK_RESTARTS] && get_int(&m[SK_RESTARTS], &n) == 0 &&
	    seen[SK_MAXRESTART] && get_int(&m[SK_MAXRESTART], &max) == 0) {
		put_int(text, n);
		buf_putc(text, '/');
		put_int(text, max);
	} else
		buf_puts(text, "-");
	end_cell(t, 4, start);

	start = text->len;
	if (seen[SK_OWNER] && m[SK_OWNER].type == REPLY_STRING)
		put_cstring(&m[SK_OWNER], text);
	if (seen[SK_GROUP] && m[SK_GROUP].type == REPLY_STRING) {
		buf_putc(text, ':');
		if (put_cstring(&m[SK_GROUP], text) == 0)
			text->data[--text->len] = '\0';
	}
	if (text->len == start)
		buf_puts(text, "-");
	end_cell(t, 5, start);

	value_cell(r, t, 6, seen[SK_DESCRIPTION] ? &m[SK_DESCRIPTION] : NULL);
}

/* Cells and padding up to this long are copied in fixed-size moves. */
#define SHORT_CELL	16

/*
 * Print the rows aligned, the last column free, as one write: a table
 * of a thousand rows is a thousand lines.  A short cell and its padding
 * are copied as SHORT_CELL bytes each, which the compiler does in a move
 * or two, then the pointer advances by what counts: a call to memcpy and
 * memset per cell was most of the time of printing.  The text and the
 * output have SHORT_CELL bytes to spare for that (show_status()).
 */
static void
print_table(const struct status_table *t)
{
	const struct status_row	*row;
	unsigned int		 width[STATUS_COLUMNS] = { 0 };
	const char		*cell;
	char			*out, *o;
	size_t			 c, pad, total = 0;

	for (row = t->rows; row < t->rows + t->nrows; row++) {
		for (c = 0; c < STATUS_COLUMNS; c++)
			if (row->width[c] > width[c])
				width[c] = row->width[c];
		total += row->width[STATUS_COLUMNS - 1] + 1;
	}
	for (c = 0; c < STATUS_COLUMNS - 1; c++)
		total += (width[c] + 2) * t->nrows;
	o = out = xmalloc(total + SHORT_CELL);
	for (row = t->rows; row < t->rows + t->nrows; row++) {
		cell = t->text.data + row->offset;
		for (c = 0; c < STATUS_COLUMNS; c++) {
			if (row->width[c] <= SHORT_CELL)
				memcpy(o, cell, SHORT_CELL);
			else
				memcpy(o, cell, row->width[c]);
			o += row->width[c];
			cell += row->width[c] + 1;
			if (c == STATUS_COLUMNS - 1)
				break;
			/* printf("%-*s  "), without its cost. */
			pad = width[c] + 2 - row->width[c];
			if (pad <= SHORT_CELL)
				memset(o, ' ', SHORT_CELL);
			else
				memset(o, ' ', pad);
			o += pad;
		}
		*o++ = '\n';
	}
	fwrite(out, 1, (size_t)(o - out), stdout);
	free(out);
}

/*
 * After the table: why each invalid VM could not be loaded, and why a
 * reload left a VM with its old configuration.
 */
static void
print_invalid(const struct status_table *t)
{
	const struct invalid_row	*inv;

	for (inv = t->invalid; inv < t->invalid + t->ninvalid; inv++) {
		if (inv == t->invalid)
			printf("\n");
		show_sanitized(inv->name != NULL ? inv->name : "?");
		if (inv->state != NULL && strcmp(inv->state, "invalid") == 0)
			printf(": invalid configuration, not loaded:\n");
		else
			printf(": new configuration is invalid; the one in "
			    "force stays:\n");
		print_lines(stdout, "    ", inv->error);
	}
}

/*
 * The status table: NAME STATE PID UPTIME RESTARTS OWNER DESCRIPTION, then
 * the errors of invalid VMs.  Returns 0, or -1 on a malformed reply.
 */
int
show_status(struct reply *r)
{
	static const char *head[STATUS_COLUMNS] = { "NAME", "STATE", "PID",
	    "UPTIME", "RESTARTS", "OWNER", "DESCRIPTION" };
	const struct reply_value	*vms;
	struct reply_value		 vm;
	struct reply_cursor		 c;
	struct status_table		 t;
	size_t				 col, start;

	if ((vms = reply_get(r, "vms")) == NULL || vms->type != REPLY_ARRAY) {
		log_warnx("vmstated's status reply has no \"vms\" array");
		return -1;
	}
	memset(&t, 0, sizeof(t));
	/* A row's text is a quarter of its JSON: mostly one allocation. */
	t.text.cap = r->len / 3 + 64;
	t.text.data = xmalloc(t.text.cap);
	t.text.data[0] = '\0';
	t.rows = xcalloc(t.cap = 64, sizeof(*t.rows));
	t.rows[t.nrows++].offset = 0;
	for (col = 0; col < STATUS_COLUMNS; col++) {
		start = t.text.len;
		buf_puts(&t.text, head[col]);
		end_cell(&t, (int)col, start);
	}
	reply_enter(r, vms, &c, NULL);
	while (reply_next(&c, NULL, &vm))
		if (vm.type == REPLY_OBJECT)
			status_row(r, &vm, &c, &t);
	buf_reserve(&t.text, SHORT_CELL);	/* for print_table() */
	if (c.count == 0)
		printf("vmstated has no VMs configured\n");
	else {
		print_table(&t);
		print_invalid(&t);
	}
	buf_free(&t.text);
	free(t.rows);
	free(t.invalid);
	return 0;
}

/* Does this info key hold a Unix time (state_since, ...)? */
static bool
is_time_key(const char *key)
{
	size_t	 len = strlen(key);

	return len > 6 && strcmp(key + len - 6, "_since") == 0;
}

/* One "key: value" line of info, with the values people read specially. */
static void
info_line(struct reply *r, const char *indent, const char *key,
    struct reply_value *v, struct reply_cursor *parent)
{
	struct reply_cursor	 c;
	struct reply_value	 e;
	struct buf		 b, prefix;
	char			*s;

	buf_init(&b);
	buf_puts(&b, "");
	buf_init(&prefix);
	if (strcmp(key, "uptime") == 0 &&
	    (v->type == REPLY_INT || v->type == REPLY_FLOAT)) {
		show_uptime(&b, v->type == REPLY_INT ? v->integer :
		    (int64_t)v->number);
	} else if (is_time_key(key) && v->type == REPLY_INT) {
		show_time(&b, (double)v->integer);
	} else if (is_time_key(key) && v->type == REPLY_FLOAT) {
		show_time(&b, v->number);
	} else if (strcmp(key, "restart_history") == 0 &&
	    v->type == REPLY_ARRAY) {
		reply_enter(r, v, &c, parent);
		while (reply_next(&c, NULL, &e)) {
			if (c.count > 1)
				buf_puts(&b, ", ");
			if (e.type == REPLY_INT)
				show_time(&b, (double)e.integer);
			else if (e.type == REPLY_FLOAT)
				show_time(&b, e.number);
		}
		if (c.count == 0)
			buf_puts(&b, "-");
	} else if (reply_string(r, v) != NULL && v->len > 0) {
		/* Not sanitized here: print_lines keeps the newlines. */
		buf_puts(&b, v->string);
	} else {
		s = show_scalar(r, v, parent);
		buf_puts(&b, s);
		free(s);
	}
	s = sanitize(xstrdup(key));
	buf_printf(&prefix, "%s%s: ", indent, s);
	print_lines(stdout, prefix.data, b.data);
	free(s);
	buf_free(&prefix);
	buf_free(&b);
}

/*
 * The members of an object as indented "prefix.key: value" lines; nested
 * objects (consoles { com1 { ... } }) flatten into dotted keys.
 */
static void
info_group(struct reply *r, const char *prefix, const struct reply_value *obj,
    struct reply_cursor *parent)
{
	struct reply_cursor	 c;
	struct reply_value	 m;
	const char		*k;
	char			*key;

	reply_enter(r, obj, &c, parent);
	while (reply_next(&c, &k, &m)) {
		if (*prefix != '\0')
			xasprintf(&key, "%s.%s", prefix, k);
		else
			key = xstrdup(k);
		if (m.type == REPLY_OBJECT)
			info_group(r, key, &m, &c);
		else
			info_line(r, "    ", key, &m, &c);
		free(key);
	}
}

/*
 * info: the VM's top-level fields as "key: value" lines, then each object
 * (config, paths, ...) as a group of indented lines under its name.
 * Returns 0, or -1 on a malformed reply.
 */
int
show_info(struct reply *r)
{
	const struct reply_value	*vm;
	struct reply_value		 m;
	struct reply_cursor		 c;
	const char			*key;

	if ((vm = reply_get(r, "vm")) == NULL || vm->type != REPLY_OBJECT) {
		log_warnx("vmstated's info reply has no \"vm\" object");
		return -1;
	}
	reply_enter(r, vm, &c, NULL);
	while (reply_next(&c, &key, &m))
		if (m.type != REPLY_OBJECT)
			info_line(r, "", key, &m, &c);
	reply_enter(r, vm, &c, NULL);
	while (reply_next(&c, &key, &m)) {
		if (m.type != REPLY_OBJECT)
			continue;
		printf("\n");
		show_sanitized(key);
		printf(":\n");
		info_group(r, "", &m, &c);
	}
	return 0;
}

/* "label: a, b" when the array member key of the reply is not empty. */
static bool
reload_list(struct reply *r, const char *key, const char *label, bool quiet)
{
	const struct reply_value	*list;
	struct reply_value		 first;
	struct reply_cursor		 c;
	char				*s;

	if ((list = reply_get(r, key)) == NULL || list->type != REPLY_ARRAY)
		return false;
	reply_enter(r, list, &c, NULL);
	if (!reply_next(&c, NULL, &first))
		return false;
	if (!quiet) {
		s = show_scalar(r, list, NULL);
		printf("%s: %s\n", label, s);
		free(s);
	}
	return true;
}

/*
 * reload: what was added, removed or changed, and on stderr each
 * configuration that is invalid (and left the VM as it was).  Returns 0,
 * or 1 when a configuration is invalid.
 */
int
show_reload(struct reply *r, bool quiet)
{
	const struct reply_value	*invalid;
	struct reply_value		 e;
	struct reply_cursor		 c;
	const char			*vm, *error;
	char				*prefix;
	bool				 any = false;
	int				 status = 0;

	any |= reload_list(r, "added", "added", quiet);
	any |= reload_list(r, "removed", "removed", quiet);
	any |= reload_list(r, "changed", "changed", quiet);
	(void)reload_list(r, "pending", "  in force at their next start "
	    "(owner and group already are)", quiet);
	if ((invalid = reply_get(r, "invalid")) != NULL &&
	    invalid->type == REPLY_ARRAY) {
		reply_enter(r, invalid, &c, NULL);
		while (reply_next(&c, NULL, &e)) {
			vm = str_or(r, &e, "vm", "?");
			error = str_or(r, &e, "error", "no reason given");
			xasprintf(&prefix, "vmstatedctl: %s: invalid "
			    "configuration, not applied:\n    ", vm);
			print_lines(stderr, prefix, error);
			free(prefix);
			status = 1;
		}
	}
	if (!any && status == 0 && !quiet)
		printf("configuration reloaded, nothing changed\n");
	return status;
}

/*
 * An event line for people:
 *	2026-11-26T23:50:01Z bsdvm stopped -> start_network (request)
 */
void
show_event(struct reply *ev)
{
	const struct reply_value	*t;
	struct buf			 b;
	const char			*type, *reason;

	buf_init(&b);
	if ((t = reply_get(ev, "time")) != NULL && t->type == REPLY_FLOAT)
		show_time(&b, t->number);
	else if (t != NULL && t->type == REPLY_INT)
		show_time(&b, (double)t->integer);
	else
		show_time(&b, (double)time(NULL));
	buf_printf(&b, " %s", str_or(ev, NULL, "vm", "-"));
	type = reply_str(ev, NULL, "event");
	if (type == NULL || strcmp(type, "state") == 0) {
		buf_printf(&b, " %s -> %s", str_or(ev, NULL, "from", "?"),
		    str_or(ev, NULL, "to", "?"));
		if ((reason = reply_str(ev, NULL, "reason")) != NULL)
			buf_printf(&b, " (%s)", reason);
	} else if (strcmp(type, "probe") == 0) {
		const struct reply_value	*f;

		if (reply_true(ev, NULL, "ok"))
			buf_puts(&b, " probe passed");
		else if ((f = reply_get(ev, "failures")) != NULL &&
		    f->type == REPLY_INT)
			buf_printf(&b, " probe failed (%lld in a row)",
			    (long long)f->integer);
		else
			buf_puts(&b, " probe failed");
	} else
		buf_printf(&b, " %s", type);
	show_sanitized(b.data);
	putchar('\n');
	buf_free(&b);
}

/* One VM of status -d. */
struct order_row {
	char	*name;
	char	*state;
	bool	 ready;
	char	**deps;
	size_t	 ndeps;
	int	 level;		/* 0: needs nothing; else 1 + its deps' */
	bool	 visiting;
};

static int
order_find(struct order_row *rows, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(rows[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Its place in the start order: one more than what it depends on. */
static int
order_level(struct order_row *rows, size_t n, size_t i)
{
	size_t	 d;
	int	 j, l;

	if (rows[i].level >= 0 || rows[i].visiting)
		return rows[i].level < 0 ? 0 : rows[i].level;
	rows[i].visiting = true;
	rows[i].level = 0;
	for (d = 0; d < rows[i].ndeps; d++)
		if ((j = order_find(rows, n, rows[i].deps[d])) >= 0 &&
		    (l = order_level(rows, n, (size_t)j) + 1) > rows[i].level)
			rows[i].level = l;
	rows[i].visiting = false;
	return rows[i].level;
}

static int
order_cmp(const void *a, const void *b)
{
	const struct order_row	*ra = a, *rb = b;

	if (ra->level != rb->level)
		return ra->level - rb->level;
	return strcmp(ra->name, rb->name);
}

/*
 * status -d: the VMs in the order they start (what a VM depends on
 * first; at each step by name), with their state, whether they are ready
 * and what they depend on.  Shutdown goes the other way.
 */
int
show_status_order(struct reply *r)
{
	const struct reply_value	*vms;
	struct reply_value		 vm, deps, e;
	struct reply_cursor		 c, dc;
	struct order_row		*rows = NULL;
	const char			*s;
	size_t				 n = 0, i, d;

	if ((vms = reply_get(r, "vms")) == NULL || vms->type != REPLY_ARRAY) {
		log_warnx("vmstated's status reply has no \"vms\" array");
		return -1;
	}
	reply_enter(r, vms, &c, NULL);
	while (reply_next(&c, NULL, &vm)) {
		if (vm.type != REPLY_OBJECT ||
		    (s = reply_str(r, &vm, "name")) == NULL)
			continue;
		rows = xrealloc(rows, (n + 1) * sizeof(*rows));
		memset(&rows[n], 0, sizeof(rows[n]));
		rows[n].name = xstrdup(s);
		s = reply_str(r, &vm, "state");
		rows[n].state = xstrdup(s != NULL ? s : "?");
		rows[n].ready = reply_true(r, &vm, "ready");
		rows[n].level = -1;
		if (reply_lookup(r, &vm, "depends", &deps) &&
		    deps.type == REPLY_ARRAY) {
			reply_enter(r, &deps, &dc, &c);
			while (reply_next(&dc, NULL, &e))
				if ((s = reply_string(r, &e)) != NULL) {
					rows[n].deps = xrealloc(rows[n].deps,
					    (rows[n].ndeps + 1) *
					    sizeof(char *));
					rows[n].deps[rows[n].ndeps++] =
					    xstrdup(s);
				}
		}
		n++;
	}
	for (i = 0; i < n; i++)
		(void)order_level(rows, n, i);
	qsort(rows, n, sizeof(*rows), order_cmp);
	printf("%-5s %-20s %-14s %-5s %s\n", "ORDER", "NAME", "STATE",
	    "READY", "DEPENDS ON");
	for (i = 0; i < n; i++) {
		printf("%-5d ", rows[i].level + 1);
		show_sanitized(rows[i].name);
		printf("%*s %-14s %-5s ", (int)(strlen(rows[i].name) < 20 ?
		    20 - strlen(rows[i].name) : 0), "", rows[i].state,
		    rows[i].ready ? "yes" : "no");
		for (d = 0; d < rows[i].ndeps; d++) {
			if (d > 0)
				printf(", ");
			show_sanitized(rows[i].deps[d]);
			free(rows[i].deps[d]);
		}
		printf("%s\n", rows[i].ndeps == 0 ? "-" : "");
		free(rows[i].deps);
		free(rows[i].name);
		free(rows[i].state);
	}
	free(rows);
	return 0;
}
