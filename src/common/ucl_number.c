/*
 * ucl_number.c: numbers as libucl reads them: decimal, 0x hexadecimal,
 * floats with exponents, and the suffixes k/m/g (powers of 1000), kb/mb/gb
 * (powers of 1024) and ms/s/min/h/d/w/y (a time in seconds).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ucl.h"
#include "ucl_lex.h"

/* Is q the end of a number or word: a separator, comment or the end? */
static bool
ucl_is_atom_end(const struct ucl_parser *P, const char *q)
{
	while (q < P->end && (*q == ' ' || *q == '\t'))
		q++;
	if (q >= P->end)
		return true;
	if (ucl_in("\n\r;,]}#", *q))
		return true;
	return *q == '/' && q + 1 < P->end && q[1] == '*';
}

/* libucl's number suffixes, in lower case; a suffix is matched whole. */
static const struct ucl_suffix {
	const char	*name;
	double		 factor;
	enum ucl_type	 type;		/* UCL_INT: a multiplier */
	bool		 binary;	/* powers of 1024: result integral */
} ucl_suffixes[] = {
	{ "min", 60, UCL_TIME, false },
	{ "kb", 1024, UCL_INT, true },
	{ "mb", 1024 * 1024, UCL_INT, true },
	{ "gb", 1024 * 1024 * 1024, UCL_INT, true },
	{ "ms", 0.001, UCL_TIME, false },
	{ "k", 1000, UCL_INT, false },
	{ "m", 1000 * 1000, UCL_INT, false },
	{ "g", 1000 * 1000 * 1000, UCL_INT, false },
	{ "s", 1, UCL_TIME, false },
	{ "h", 60 * 60, UCL_TIME, false },
	{ "d", 60 * 60 * 24, UCL_TIME, false },
	{ "w", 60 * 60 * 24 * 7, UCL_TIME, false },
	{ "y", 60 * 60 * 24 * 365, UCL_TIME, false },
};

/* The suffix spelled by the letters [s, e), case-insensitively. */
static const struct ucl_suffix *
ucl_find_suffix(const char *s, const char *e)
{
	size_t	 i, j, len = (size_t)(e - s);

	for (i = 0; i < sizeof(ucl_suffixes) / sizeof(ucl_suffixes[0]); i++) {
		if (strlen(ucl_suffixes[i].name) != len)
			continue;
		for (j = 0; j < len; j++)
			if ((s[j] | 0x20) != ucl_suffixes[i].name[j])
				break;
		if (j == len)
			return &ucl_suffixes[i];
	}
	return NULL;
}

/* Digits [s, e) in base 10 or 16 into *v; -1 on overflow of uint64. */
static int
ucl_digits(const char *s, const char *e, int base, uint64_t *v)
{
	uint64_t	 d;

	for (*v = 0; s < e; s++) {
		d = (uint64_t)ucl_hex_value((unsigned char)*s);
		if (*v > (UINT64_MAX - d) / (uint64_t)base)
			return -1;
		*v = *v * (uint64_t)base + d;
	}
	return 0;
}

/*
 * Apply a multiplier suffix to n (UCL_INT or UCL_FLOAT).  Returns 0, -1
 * when out of range, -2 for a fraction with a binary suffix: libucl drops
 * the fraction before multiplying (1.5kb is 1024 to it), so such a value
 * is refused rather than read otherwise than libucl does.
 */
static int
ucl_apply_suffix(struct ucl_node *n, const struct ucl_suffix *sx)
{
	double	 d;
	int64_t	 f = (int64_t)sx->factor;

	if (sx->type == UCL_TIME) {
		d = n->type == UCL_INT ? (double)n->v.integer : n->v.number;
		n->type = UCL_TIME;
		n->v.number = d * sx->factor;
		return isfinite(n->v.number) ? 0 : -1;
	}
	if (n->type == UCL_FLOAT && !sx->binary) {
		n->v.number *= sx->factor;
		return isfinite(n->v.number) ? 0 : -1;
	}
	if (n->type == UCL_FLOAT) {
		d = n->v.number * sx->factor;
		if (!(d > -9.2e18 && d < 9.2e18))
			return -1;
		if ((double)(int64_t)n->v.number != n->v.number)
			return -2;
		n->type = UCL_INT;
		n->v.integer = (int64_t)d;
		return 0;
	}
	if (n->v.integer > INT64_MAX / f || n->v.integer < INT64_MIN / f)
		return -1;
	n->v.integer *= f;
	return 0;
}

/*
 * Read a number at P->p into n, as libucl does: decimal, 0x hex, floats
 * with exponents, and the suffixes above.  Returns 1 with *endp after
 * it, 0 if the word is not a number (it is then a string), or -1 when it
 * is out of range (error reported).
 */
int
ucl_lex_number(struct ucl_parser *P, struct ucl_node *n, const char **endp)
{
	const struct ucl_suffix	*sx = NULL;
	const char		*q = P->p, *e = P->end, *digits, *letters;
	char			 copy[512];
	uint64_t		 mag;
	bool			 neg = false, is_float = false, hex = false;
	int			 r = 0;

	if (q < e && *q == '-') {
		neg = true;
		q++;
	}
	digits = q;
	if (e - q > 2 && q[0] == '0' && (q[1] | 0x20) == 'x' &&
	    ucl_hex_value((unsigned char)q[2]) != -1) {
		hex = true;
		for (q += 2, digits = q; q < e &&
		    ucl_hex_value((unsigned char)*q) != -1; q++)
			;
	} else {
		if (q >= e || !ucl_is_digit((unsigned char)*q))
			return 0;
		while (q < e && ucl_is_digit((unsigned char)*q))
			q++;
		if (q < e && *q == '.') {
			is_float = true;
			for (q++; q < e && ucl_is_digit((unsigned char)*q); q++)
				;
		}
		if (q + 1 < e && (*q | 0x20) == 'e' && (ucl_is_digit(
		    (unsigned char)q[1]) || (q + 2 < e && (q[1] == '+' ||
		    q[1] == '-') && ucl_is_digit((unsigned char)q[2])))) {
			is_float = true;
			for (q += 2; q < e && ucl_is_digit((unsigned char)*q); q++)
				;
		}
	}
	for (letters = q; q < e && ucl_is_alpha((unsigned char)*q); q++)
		;
	if (q > letters && (sx = ucl_find_suffix(letters, q)) == NULL)
		return 0;
	if (!ucl_is_atom_end(P, q))
		return 0;
	*endp = q;

	if (is_float) {
		if ((size_t)(letters - P->p) >= sizeof(copy))
			goto range;
		memcpy(copy, P->p, (size_t)(letters - P->p));
		copy[letters - P->p] = '\0';
		errno = 0;
		n->type = UCL_FLOAT;
		n->v.number = strtod(copy, NULL);
		if (errno == ERANGE || !isfinite(n->v.number))
			goto range;
	} else {
		if (ucl_digits(digits, letters, hex ? 16 : 10, &mag) == -1 ||
		    mag > (uint64_t)INT64_MAX + (neg ? 1 : 0))
			goto range;
		n->type = UCL_INT;
		n->v.integer = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	}
	if (sx != NULL && (r = ucl_apply_suffix(n, sx)) == -2)
		return ucl_error(P, "%.*s: a fraction with the suffix %s is "
		    "refused, since libucl drops the fraction: write a whole "
		    "number of %s, or the value in bytes",
		    (int)(q - P->p) > 64 ? 64 : (int)(q - P->p), P->p,
		    sx->name, sx->name);
	if (sx != NULL && r == -1)
		goto range;
	return 1;
range:
	return ucl_error(P, "number out of range: %.*s", (int)(q - P->p) > 64 ?
	    64 : (int)(q - P->p), P->p);
}
