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

/* The string member key of obj, or NULL if it is absent or not a string. */
const char *
show_str(const struct ucl_node *obj, const char *key)
{
	const struct ucl_node	*n;

	if (obj == NULL || (n = ucl_lookup(obj, key)) == NULL ||
	    n->type != UCL_STRING)
		return NULL;
	return n->v.string.ptr;
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

/* The string member key of obj, or dflt. */
static const char *
str_or(const struct ucl_node *obj, const char *key, const char *dflt)
{
	const char	*s = show_str(obj, key);

	return s != NULL ? s : dflt;
}

/* The number member key of obj in *out; returns -1 if it is not one. */
static int
get_int(const struct ucl_node *obj, const char *key, int64_t *out)
{
	const struct ucl_node	*n;

	if (obj == NULL || (n = ucl_lookup(obj, key)) == NULL)
		return -1;
	switch (n->type) {
	case UCL_INT:
		*out = n->v.integer;
		return 0;
	case UCL_FLOAT:
	case UCL_TIME:
		*out = (int64_t)n->v.number;
		return 0;
	default:
		return -1;
	}
}

/*
 * A scalar (or an array of scalars, comma-separated) as text: "-" for
 * null, an empty string or an empty array; yes/no for booleans.  Returns
 * an allocated, sanitized string.
 */
char *
show_scalar(const struct ucl_node *n)
{
	const struct ucl_node	*e;
	struct buf		 b;
	char			*s;

	buf_init(&b);
	switch (n->type) {
	case UCL_NULL:
		buf_puts(&b, "-");
		break;
	case UCL_BOOLEAN:
		buf_puts(&b, n->v.boolean ? "yes" : "no");
		break;
	case UCL_INT:
		buf_printf(&b, "%" PRId64, n->v.integer);
		break;
	case UCL_FLOAT:
	case UCL_TIME:
		buf_printf(&b, "%.15g", n->v.number);
		break;
	case UCL_STRING:
		buf_puts(&b, n->v.string.len == 0 ? "-" : n->v.string.ptr);
		break;
	case UCL_ARRAY:
		if (n->children == NULL)
			buf_puts(&b, "-");
		for (e = n->children; e != NULL; e = e->next) {
			s = show_scalar(e);
			buf_printf(&b, "%s%s", e == n->children ? "" : ", ", s);
			free(s);
		}
		break;
	case UCL_OBJECT:
		buf_puts(&b, "{...}");
		break;
	}
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

/* Member key of obj as text ("-" when absent). Allocated. */
static char *
field(const struct ucl_node *obj, const char *key)
{
	const struct ucl_node	*n;

	if ((n = ucl_lookup(obj, key)) == NULL)
		return xstrdup("-");
	return show_scalar(n);
}

/* Fill the seven columns of one status row from a VM object. */
static void
status_row(const struct ucl_node *vm, char **col)
{
	struct buf	 b;
	const char	*owner, *group;
	int64_t		 n, max;

	col[0] = field(vm, "name");
	col[1] = field(vm, "state");
	col[2] = field(vm, "pid");

	buf_init(&b);
	if (get_int(vm, "uptime", &n) == 0)
		show_uptime(&b, n);
	else
		buf_puts(&b, "-");
	col[3] = buf_steal(&b);

	if (get_int(vm, "restarts", &n) == 0 &&
	    get_int(vm, "maxrestart", &max) == 0)
		buf_printf(&b, "%" PRId64 "/%" PRId64, n, max);
	else
		buf_puts(&b, "-");
	col[4] = buf_steal(&b);

	owner = show_str(vm, "owner");
	group = show_str(vm, "group");
	if (owner != NULL && *owner != '\0')
		buf_puts(&b, owner);
	if (group != NULL && *group != '\0')
		buf_printf(&b, ":%s", group);
	if (b.len == 0)
		buf_puts(&b, "-");
	col[5] = sanitize(buf_steal(&b));

	col[6] = field(vm, "description");
}

/* Print rows[nrows][STATUS_COLUMNS] aligned; the last column is free. */
static void
print_table(char *(*rows)[STATUS_COLUMNS], size_t nrows)
{
	size_t	 width[STATUS_COLUMNS] = { 0 };
	size_t	 r, c, len;

	for (r = 0; r < nrows; r++)
		for (c = 0; c < STATUS_COLUMNS; c++)
			if ((len = strlen(rows[r][c])) > width[c])
				width[c] = len;
	for (r = 0; r < nrows; r++) {
		for (c = 0; c < STATUS_COLUMNS - 1; c++)
			printf("%-*s  ", (int)width[c], rows[r][c]);
		printf("%s\n", rows[r][STATUS_COLUMNS - 1]);
	}
}

/*
 * After the table: why each invalid VM could not be loaded, and why a
 * reload left a VM with its old configuration.
 */
static void
print_invalid(const struct ucl_node *vms)
{
	const struct ucl_node	*vm;
	const char		*error, *name, *state;
	bool			 first = true;

	for (vm = vms->children; vm != NULL; vm = vm->next) {
		if ((error = show_str(vm, "error")) == NULL || *error == '\0')
			continue;
		name = str_or(vm, "name", "?");
		state = str_or(vm, "state", "?");
		if (first)
			printf("\n");
		first = false;
		show_sanitized(name);
		if (strcmp(state, "invalid") == 0)
			printf(": invalid configuration, not loaded:\n");
		else
			printf(": new configuration is invalid; the one in "
			    "force stays:\n");
		print_lines(stdout, "    ", error);
	}
}

/*
 * The status table: NAME STATE PID UPTIME RESTARTS OWNER DESCRIPTION, then
 * the errors of invalid VMs.  Returns 0, or -1 on a malformed reply.
 */
int
show_status(const struct ucl_node *reply)
{
	static const char *head[STATUS_COLUMNS] = { "NAME", "STATE", "PID",
	    "UPTIME", "RESTARTS", "OWNER", "DESCRIPTION" };
	const struct ucl_node	*vms, *vm;
	char			*(*rows)[STATUS_COLUMNS];
	size_t			 nrows = 1, r, c;

	if ((vms = ucl_lookup(reply, "vms")) == NULL ||
	    vms->type != UCL_ARRAY) {
		log_warnx("vmstated's status reply has no \"vms\" array");
		return -1;
	}
	if (vms->count == 0) {
		printf("vmstated has no VMs configured\n");
		return 0;
	}
	rows = xcalloc(vms->count + 1, sizeof(*rows));
	for (c = 0; c < STATUS_COLUMNS; c++)
		rows[0][c] = xstrdup(head[c]);
	for (vm = vms->children; vm != NULL; vm = vm->next) {
		if (vm->type != UCL_OBJECT || nrows > vms->count)
			continue;
		status_row(vm, rows[nrows++]);
	}
	print_table(rows, nrows);
	print_invalid(vms);
	for (r = 0; r < nrows; r++)
		for (c = 0; c < STATUS_COLUMNS; c++)
			free(rows[r][c]);
	free(rows);
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
info_line(const char *indent, const char *key, const struct ucl_node *n)
{
	const struct ucl_node	*e;
	struct buf		 b, prefix;
	char			*s;

	buf_init(&b);
	buf_init(&prefix);
	if (strcmp(key, "uptime") == 0 &&
	    (n->type == UCL_INT || n->type == UCL_FLOAT)) {
		show_uptime(&b, n->type == UCL_INT ? n->v.integer :
		    (int64_t)n->v.number);
	} else if (is_time_key(key) && n->type == UCL_INT) {
		show_time(&b, (double)n->v.integer);
	} else if (is_time_key(key) && n->type == UCL_FLOAT) {
		show_time(&b, n->v.number);
	} else if (strcmp(key, "restart_history") == 0 &&
	    n->type == UCL_ARRAY) {
		for (e = n->children; e != NULL; e = e->next) {
			if (e != n->children)
				buf_puts(&b, ", ");
			if (e->type == UCL_INT)
				show_time(&b, (double)e->v.integer);
			else if (e->type == UCL_FLOAT)
				show_time(&b, e->v.number);
		}
		if (n->children == NULL)
			buf_puts(&b, "-");
	} else if (n->type == UCL_STRING && n->v.string.len > 0) {
		/* Not sanitized here: print_lines keeps the newlines. */
		buf_puts(&b, n->v.string.ptr);
	} else {
		s = show_scalar(n);
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
info_group(const char *prefix, const struct ucl_node *obj)
{
	const struct ucl_node	*m;
	char			*key;

	for (m = obj->children; m != NULL; m = m->next) {
		if (m->key == NULL)
			continue;
		if (*prefix != '\0')
			xasprintf(&key, "%s.%s", prefix, m->key);
		else
			key = xstrdup(m->key);
		if (m->type == UCL_OBJECT)
			info_group(key, m);
		else
			info_line("    ", key, m);
		free(key);
	}
}

/*
 * info: the VM's top-level fields as "key: value" lines, then each object
 * (config, paths, ...) as a group of indented lines under its name.
 * Returns 0, or -1 on a malformed reply.
 */
int
show_info(const struct ucl_node *reply)
{
	const struct ucl_node	*vm, *m;

	if ((vm = ucl_lookup(reply, "vm")) == NULL || vm->type != UCL_OBJECT) {
		log_warnx("vmstated's info reply has no \"vm\" object");
		return -1;
	}
	for (m = vm->children; m != NULL; m = m->next)
		if (m->key != NULL && m->type != UCL_OBJECT)
			info_line("", m->key, m);
	for (m = vm->children; m != NULL; m = m->next) {
		if (m->key == NULL || m->type != UCL_OBJECT)
			continue;
		printf("\n");
		show_sanitized(m->key);
		printf(":\n");
		info_group("", m);
	}
	return 0;
}

/* "label: a, b" when the array member key of reply is not empty. */
static bool
reload_list(const struct ucl_node *reply, const char *key, const char *label,
    bool quiet)
{
	const struct ucl_node	*n;
	char			*s;

	if ((n = ucl_lookup(reply, key)) == NULL || n->type != UCL_ARRAY ||
	    n->children == NULL)
		return false;
	if (!quiet) {
		s = show_scalar(n);
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
show_reload(const struct ucl_node *reply, bool quiet)
{
	const struct ucl_node	*invalid, *e;
	const char		*vm, *error;
	char			*prefix;
	bool			 any = false;
	int			 status = 0;

	any |= reload_list(reply, "added", "added", quiet);
	any |= reload_list(reply, "removed", "removed", quiet);
	any |= reload_list(reply, "changed", "changed (applied at next start)",
	    quiet);
	if ((invalid = ucl_lookup(reply, "invalid")) != NULL &&
	    invalid->type == UCL_ARRAY) {
		for (e = invalid->children; e != NULL; e = e->next) {
			vm = str_or(e, "vm", "?");
			error = str_or(e, "error", "no reason given");
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
show_event(const struct ucl_node *ev)
{
	const struct ucl_node	*t;
	struct buf		 b;
	const char		*type, *reason;

	buf_init(&b);
	if ((t = ucl_lookup(ev, "time")) != NULL && t->type == UCL_FLOAT)
		show_time(&b, t->v.number);
	else if (t != NULL && t->type == UCL_INT)
		show_time(&b, (double)t->v.integer);
	else
		show_time(&b, (double)time(NULL));
	buf_printf(&b, " %s", str_or(ev, "vm", "-"));
	type = show_str(ev, "event");
	if (type == NULL || strcmp(type, "state") == 0) {
		buf_printf(&b, " %s -> %s", str_or(ev, "from", "?"),
		    str_or(ev, "to", "?"));
		if ((reason = show_str(ev, "reason")) != NULL)
			buf_printf(&b, " (%s)", reason);
	} else
		buf_printf(&b, " %s", type);
	show_sanitized(b.data);
	putchar('\n');
	buf_free(&b);
}
