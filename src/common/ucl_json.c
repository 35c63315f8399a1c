/*
 * ucl_json.c: reading a parsed UCL tree (lookup, type names) and writing
 * it out as JSON the way libucl's JSON emitter does.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ucl.h"

static void	ucl_emit_value(const struct ucl_node *, struct buf *, bool,
		    int);

static bool
ucl_key_equal(const struct ucl_node *a, const char *key, size_t len)
{
	return a->key != NULL && a->key_len == len &&
	    memcmp(a->key, key, len) == 0;
}

const struct ucl_node *
ucl_lookup(const struct ucl_node *obj, const char *key)
{
	const struct ucl_node	*n;
	size_t			 len = strlen(key);

	if (obj == NULL || obj->type != UCL_OBJECT)
		return NULL;
	for (n = obj->children; n != NULL; n = n->next)
		if (ucl_key_equal(n, key, len))
			return n;
	return NULL;
}

const struct ucl_node *
ucl_lookup_next(const struct ucl_node *member)
{
	const struct ucl_node	*n;

	if (member == NULL || member->key == NULL)
		return NULL;
	for (n = member->next; n != NULL; n = n->next)
		if (ucl_key_equal(n, member->key, member->key_len))
			return n;
	return NULL;
}

const char *
ucl_type_name(enum ucl_type type)
{
	switch (type) {
	case UCL_NULL:
		return "null";
	case UCL_BOOLEAN:
		return "boolean";
	case UCL_INT:
		return "integer";
	case UCL_FLOAT:
		return "float";
	case UCL_TIME:
		return "time";
	case UCL_STRING:
		return "string";
	case UCL_OBJECT:
		return "object";
	case UCL_ARRAY:
		return "array";
	}
	return "unknown";
}

/* A new line and the indentation of `level`, when pretty. */
static void
ucl_emit_newline(struct buf *b, bool pretty, int level)
{
	static const char	 spaces[] = "                                ";
	size_t			 n = (size_t)level * 4;

	if (!pretty)
		return;
	buf_putc(b, '\n');
	for (; n > sizeof(spaces) - 1; n -= sizeof(spaces) - 1)
		buf_append(b, spaces, sizeof(spaces) - 1);
	buf_append(b, spaces, n);
}

/*
 * A double as JSON: the shortest of %.15g..%.17g that reads back as the
 * same value, with ".0" added to integral values as libucl prints them.
 */
static void
ucl_emit_double(struct buf *b, double d)
{
	char	 s[64];
	int	 prec;

	if (!isfinite(d)) {
		buf_puts(b, "null");
		return;
	}
	for (prec = 15; prec < 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(s, sizeof(s), "%.17g", d);
	if (strpbrk(s, ".e") == NULL)
		snprintf(s + strlen(s), sizeof(s) - strlen(s), ".0");
	buf_puts(b, s);
}

/* The elements of an array, one per line when pretty. */
static void
ucl_emit_array(const struct ucl_node *arr, struct buf *b, bool pretty,
    int level)
{
	const struct ucl_node	*n;

	buf_putc(b, '[');
	for (n = arr->children; n != NULL; n = n->next) {
		if (n != arr->children)
			buf_putc(b, ',');
		ucl_emit_newline(b, pretty, level + 1);
		ucl_emit_value(n, b, pretty, level + 1);
	}
	if (arr->children != NULL)
		ucl_emit_newline(b, pretty, level);
	buf_putc(b, ']');
}

static uint32_t
ucl_hash(const char *s, size_t len)
{
	uint32_t	 h = 2166136261u;

	while (len-- > 0)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/*
 * An object: members in order, a key given several times written once,
 * at its first place, as an array of its values (libucl's implicit
 * arrays).  A hash of keys chains the repeats in linear time.
 */
static void
ucl_emit_object(const struct ucl_node *obj, struct buf *b, bool pretty,
    int level)
{
	const struct ucl_node	 *n, **members;
	size_t			 *table, *next, *last, i, j, size, mask, h;
	size_t			  nmemb = 0;
	bool			 *repeat, any = false;

	for (n = obj->children; n != NULL; n = n->next)
		nmemb++;
	if (nmemb == 0) {
		buf_puts(b, "{}");
		return;
	}
	for (size = 16; size < nmemb * 2; size *= 2)
		;
	mask = size - 1;
	members = xcalloc(nmemb, sizeof(*members));
	next = xcalloc(nmemb, sizeof(*next));	/* next repeat + 1; 0: none */
	last = xcalloc(nmemb, sizeof(*last));	/* of a key's first member */
	repeat = xcalloc(nmemb, sizeof(*repeat));
	table = xcalloc(size, sizeof(*table));	/* first member + 1; 0: free */
	for (i = 0, n = obj->children; n != NULL; n = n->next, i++) {
		members[i] = n;
		h = ucl_hash(n->key, n->key_len) & mask;
		for (; table[h] != 0; h = (h + 1) & mask) {
			j = table[h] - 1;
			if (ucl_key_equal(members[j], n->key, n->key_len))
				break;
		}
		if (table[h] == 0) {
			table[h] = i + 1;
			last[i] = i;
		} else {
			j = table[h] - 1;
			next[last[j]] = i + 1;
			last[j] = i;
			repeat[i] = true;
		}
	}

	buf_putc(b, '{');
	for (i = 0; i < nmemb; i++) {
		if (repeat[i])
			continue;
		if (any)
			buf_putc(b, ',');
		any = true;
		ucl_emit_newline(b, pretty, level + 1);
		n = members[i];
		if (n->key != NULL)
			buf_json_string(b, n->key, n->key_len);
		else
			buf_puts(b, "null");
		buf_puts(b, pretty ? ": " : ":");
		if (next[i] == 0) {
			ucl_emit_value(n, b, pretty, level + 1);
			continue;
		}
		buf_putc(b, '[');
		for (j = i + 1; j != 0; j = next[j - 1]) {
			if (j != i + 1)
				buf_putc(b, ',');
			ucl_emit_newline(b, pretty, level + 2);
			ucl_emit_value(members[j - 1], b, pretty, level + 2);
		}
		ucl_emit_newline(b, pretty, level + 1);
		buf_putc(b, ']');
	}
	ucl_emit_newline(b, pretty, level);
	buf_putc(b, '}');
	free(table);
	free(repeat);
	free(last);
	free(next);
	free(members);
}

static void
ucl_emit_value(const struct ucl_node *n, struct buf *b, bool pretty,
    int level)
{
	char	 num[32];

	switch (n->type) {
	case UCL_NULL:
		buf_puts(b, "null");
		break;
	case UCL_BOOLEAN:
		buf_puts(b, n->v.boolean ? "true" : "false");
		break;
	case UCL_INT:
		snprintf(num, sizeof(num), "%" PRId64, n->v.integer);
		buf_puts(b, num);
		break;
	case UCL_FLOAT:
	case UCL_TIME:
		ucl_emit_double(b, n->v.number);
		break;
	case UCL_STRING:
		buf_json_string(b, n->v.string.ptr, n->v.string.len);
		break;
	case UCL_OBJECT:
		ucl_emit_object(n, b, pretty, level);
		break;
	case UCL_ARRAY:
		ucl_emit_array(n, b, pretty, level);
		break;
	}
}

void
ucl_emit_json(const struct ucl_node *n, struct buf *b, bool pretty)
{
	if (n == NULL) {
		buf_puts(b, "null");
		return;
	}
	ucl_emit_value(n, b, pretty, 0);
}
