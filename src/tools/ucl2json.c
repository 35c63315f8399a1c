/*
 * ucl2json: print a UCL file as JSON, to see how vmstated reads it.
 *
 *	ucl2json [-c] file
 *
 * Prints the JSON (indented, or on one line with -c) and a new line on
 * stdout and exits 0; on a syntax error prints "ucl2json: FILE:LINE:COL:
 * message" on stderr and exits 1; usage errors exit 2.  "-" reads stdin.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ucl.h"

static void
usage(void)
{
	fprintf(stderr, "usage: ucl2json [-c] file\n");
	exit(2);
}

/* Read all of stdin into b; -1 on a read error. */
static int
read_stdin(struct buf *b)
{
	char	 chunk[65536];
	ssize_t	 n;

	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf_append(b, chunk, (size_t)n);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct ucl_error	 err;
	struct ucl_node		*root;
	struct buf		 in, out;
	bool			 pretty = true;
	int			 ch;

	while ((ch = getopt(argc, argv, "c")) != -1) {
		switch (ch) {
		case 'c':
			pretty = false;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage();

	buf_init(&in);
	if (strcmp(argv[0], "-") == 0) {
		if (read_stdin(&in) == -1) {
			fprintf(stderr, "ucl2json: stdin: %s\n", strerror(errno));
			return 1;
		}
		root = ucl_parse_buffer(in.data == NULL ? "" : in.data, in.len,
		    "<stdin>", &err);
	} else
		root = ucl_parse_config(argv[0], &err);
	buf_free(&in);
	if (root == NULL) {
		if (err.line > 0)
			fprintf(stderr, "ucl2json: %s:%d:%d: %s\n", err.file,
			    err.line, err.column, err.message);
		else
			fprintf(stderr, "ucl2json: %s: %s\n", err.file,
			    err.message);
		return 1;
	}
	buf_init(&out);
	ucl_emit_json(root, &out, pretty);
	buf_putc(&out, '\n');
	ucl_free(root);
	if (fwrite(out.data, 1, out.len, stdout) != out.len ||
	    fflush(stdout) == EOF) {
		fprintf(stderr, "ucl2json: stdout: %s\n", strerror(errno));
		buf_free(&out);
		return 1;
	}
	buf_free(&out);
	return 0;
}
