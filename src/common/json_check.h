/*
 * json_check.h: strict JSON (RFC 8259) syntax check.
 *
 * The control protocol speaks JSON; requests are then read with our UCL
 * parser, which accepts a superset (bare words, single quotes, trailing
 * commas, number suffixes).  A request must pass this check first, so that
 * what is not JSON is refused as such rather than guessed at; and so are
 * text that is not UTF-8, a key given twice in one object and a string
 * holding \u0000, which JSON readers would each read their own way.
 */
#ifndef VMSTATED_JSON_CHECK_H
#define VMSTATED_JSON_CHECK_H

#include <stddef.h>

/*
 * 0 when text (len bytes) is one JSON value, optionally surrounded by white
 * space; else -1 with the 1-based column of the problem in *column and a
 * short reason in *reason (a static string).
 */
int	json_check(const char *text, size_t len, size_t *column,
	    const char **reason);

#endif
