/*
 * ucl_lex.h: the UCL parser's private interface between ucl.c (structure,
 * files) and ucl_lex.c (positions, errors, comments, keys and scalars).
 * Not for use outside the parser: the public API is ucl.h.
 */
#ifndef VMSTATED_UCL_LEX_H
#define VMSTATED_UCL_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "ucl.h"

/* A file name shared by the nodes that came from it (ucl_node.file). */
struct ucl_fname {
	size_t	refs;
	char	name[];
};

/* A position in the input, kept to report errors where things began. */
struct ucl_pos {
	const char	*p;
	const char	*line_start;
	int		 line;
};

/*
 * The files being parsed, outermost first, to refuse .include cycles, and
 * the bytes read so far, to bound a file with all it includes.
 */
struct ucl_chain {
	char	*paths[32];	/* canonical names, the outermost made so
				   only when it includes a file */
	bool	 canonical[32];
	int	 count;
	size_t	 total;
};

/* The values of $FILENAME and $CURDIR for the file being parsed, found
 * when a string first holds a "$" (most files have none). */
struct ucl_vars {
	char	*path;		/* as given */
	char	*filename;	/* real path of the file, or NULL */
	char	*curdir;	/* its directory */
};

struct ucl_parser {
	const char		*start;		/* of the input */
	const char		*p;		/* next byte */
	const char		*end;
	const char		*line_start;
	int			 line;
	int			 depth;		/* open sections and arrays */
	bool			 includes;	/* .include allowed */
	struct ucl_vars		*vars;		/* NULL: no variables */
	struct ucl_fname	*fname;
	struct ucl_chain	*chain;
	struct ucl_error	*err;
};

/* Is c one of the bytes of set?  Never true for NUL or -1. */
static inline bool
ucl_in(const char *set, int c)
{
	return c > 0 && strchr(set, c) != NULL;
}

static inline bool
ucl_is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static inline bool
ucl_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline bool
ucl_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int
ucl_hex_value(int c)
{
	if (ucl_is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ucl.c */
struct ucl_fname *ucl_fname_new(const char *);
struct ucl_node	*ucl_node_new(struct ucl_parser *, enum ucl_type,
		    const struct ucl_pos *);
struct ucl_node	*ucl_parse_value(struct ucl_parser *, const char *,
		    const char *);

/* ucl_lex.c */
int		 ucl_peek(const struct ucl_parser *, size_t);
void		 ucl_skip(struct ucl_parser *, size_t);
void		 ucl_mark(const struct ucl_parser *, struct ucl_pos *);
int		 ucl_pos_column(const struct ucl_pos *);
int		 ucl_error(struct ucl_parser *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
int		 ucl_error_at(struct ucl_parser *, const struct ucl_pos *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
const char	*ucl_describe(int, char *, size_t);
void		 ucl_printable(const char *, size_t, char *, size_t);
int		 ucl_skip_space(struct ucl_parser *, bool, bool *);
int		 ucl_lex_key(struct ucl_parser *, char **, size_t *);
int		 ucl_lex_quoted(struct ucl_parser *, struct buf *);
const char	*ucl_scan_word(struct ucl_parser *, bool *);
struct ucl_node	*ucl_lex_scalar(struct ucl_parser *, const char *,
		    const char *);

/* ucl_var.c */
void		 ucl_vars_init(struct ucl_vars *, const char *);
void		 ucl_vars_free(struct ucl_vars *);
void		 ucl_expand_vars(const struct ucl_parser *, struct buf *);

/* ucl_number.c */
int		 ucl_lex_number(struct ucl_parser *, struct ucl_node *,
		    const char **);

#endif
