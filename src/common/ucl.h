/*
 * ucl.h: our parser for UCL, the configuration language of libucl.
 *
 * The parser builds a tree of ucl_node.  An object keeps its members in
 * file order; a key given several times stays several members (libucl's
 * "implicit array"), and ucl_emit_json() folds them into one JSON array as
 * libucl's emitter does.  Every node records the file, line and column it
 * came from, so that the configuration layer can name them in errors.
 *
 * The parser never crashes, leaks or loops, whatever the input: it is
 * fuzzed (tests/fuzz/).
 */
#ifndef VMSTATED_UCL_H
#define VMSTATED_UCL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum ucl_type {
	UCL_NULL,
	UCL_BOOLEAN,
	UCL_INT,
	UCL_FLOAT,
	UCL_TIME,	/* a number with a time suffix; v.number holds seconds */
	UCL_STRING,
	UCL_OBJECT,
	UCL_ARRAY,
};

struct ucl_node {
	enum ucl_type	 type;
	char		*key;		/* member key; NULL in arrays and root */
	size_t		 key_len;
	const char	*file;		/* owned by the tree; shared by nodes */
	int		 line;		/* 1-based, where the value starts */
	int		 column;	/* 1-based */
	union {
		bool	 boolean;
		int64_t	 integer;
		double	 number;	/* UCL_FLOAT, UCL_TIME (seconds) */
		struct {
			char	*ptr;	/* NUL-terminated; may hold NULs */
			size_t	 len;
		} string;
	} v;
	/*
	 * The token as written, for unquoted scalars (numbers, booleans,
	 * null, unquoted strings); NULL otherwise.  The configuration layer
	 * needs it where a key gives a suffix its own meaning: `memory = 4G`
	 * is 4 GiB as in bhyve(8), while UCL reads 4G as 4 * 1000^3.
	 */
	char		*raw;
	struct ucl_node	*children;	/* members or elements, in order */
	struct ucl_node	*next;		/* next sibling */
	size_t		 count;		/* number of children */
};

struct ucl_error {
	char	file[1024];
	int	line;
	int	column;
	char	message[512];	/* a sentence a person understands */
};

/* The most a configuration file may hold, with every file it includes. */
#define UCL_MAX_FILE	(1024 * 1024)

/*
 * Parse a configuration file as libucl's ucl_parser_add_file() reads it:
 * .include (relative to the including file's directory) and the variables
 * $FILENAME and $CURDIR (the file's real path and directory) in values.
 * Returns the root (always an object, or an array for a JSON document
 * whose top level is an array), or NULL with *err filled in; err->line is
 * 0 when the file itself could not be read.
 */
struct ucl_node	*ucl_parse_config(const char *path, struct ucl_error *err);
/*
 * The same for text said to be the file `path` (variables expand as for
 * that file), but with .include refused: for tests and the fuzzer.
 */
struct ucl_node	*ucl_parse_config_text(const char *text, size_t len,
		    const char *path, struct ucl_error *err);
/*
 * Parse a data file the daemon wrote itself (a state file): no .include,
 * no variables, what is written is what is read.
 */
struct ucl_node	*ucl_parse_file(const char *path, struct ucl_error *err);
/*
 * Parse a buffer whose errors are reported as coming from `name`
 * ("<buffer>" if NULL): a request, a reply, a QMP message.  No .include
 * and no variables: such input comes from a client or a child, and must
 * never make the daemon open files.
 */
struct ucl_node	*ucl_parse_buffer(const char *text, size_t len,
		    const char *name, struct ucl_error *err);
void		 ucl_free(struct ucl_node *);

/* First member of obj with this key (case-sensitive), or NULL. */
const struct ucl_node	*ucl_lookup(const struct ucl_node *obj,
			    const char *key);
/* Next member after `member` with the same key, or NULL. */
const struct ucl_node	*ucl_lookup_next(const struct ucl_node *member);
/* "string", "integer", ... for error messages. */
const char	*ucl_type_name(enum ucl_type);

/*
 * Append the tree as JSON.  Repeated keys become one array, in the order of
 * their first appearance.  `pretty` indents as libucl's JSON emitter does;
 * otherwise the output is on one line with no trailing newline.
 */
void		 ucl_emit_json(const struct ucl_node *, struct buf *,
		    bool pretty);

#endif
