/*
 * test_conn.c: the client's line reader (src/vmstatedctl/conn.c).
 *
 * Lines are taken from the read buffer by an offset, and what is left of
 * a line is moved down only before the next read: the lines, the rest
 * handed to a console or log session, and long replies handed over whole
 * must come out exactly as the daemon wrote them, however its writes were
 * cut.
 */
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "vmstatedctl.h"

struct pair {
	struct ctl_conn	 c;
	int		 peer;
};

static void
pair_open(struct pair *p)
{
	int	 sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(&p->c, 0, sizeof(p->c));
	p->c.fd = sv[0];
	p->c.path = "test";
	buf_init(&p->c.in);
	p->peer = sv[1];
}

static void
pair_close(struct pair *p)
{
	close(p->peer);
	close(p->c.fd);
	buf_free(&p->c.in);
}

static void
put(struct pair *p, const char *s, size_t len)
{
	assert_int_equal(write(p->peer, s, len), (ssize_t)len);
}

static void
expect_line(struct pair *p, const char *want, size_t wantlen)
{
	char	*line;
	size_t	 len;

	assert_int_equal(ctl_read_line(&p->c, &line, &len, ctl_now() + 10),
	    CTL_LINE_OK);
	assert_int_equal(len, wantlen);
	assert_memory_equal(line, want, wantlen);
	assert_int_equal(line[len], '\0');
	free(line);
}

/* Many lines in one read, then a line cut in two writes. */
static void
test_lines_of_one_read_and_a_cut_line(void **state)
{
	struct pair	 p;

	(void)state;
	pair_open(&p);
	put(&p, "a\nbb\n\nccc\npart", 14);
	expect_line(&p, "a", 1);
	expect_line(&p, "bb", 2);
	expect_line(&p, "", 0);
	expect_line(&p, "ccc", 3);
	put(&p, "ial\nlast", 8);
	expect_line(&p, "partial", 7);
	close(p.peer);
	p.peer = -1;
	/* A last line without its newline is still a line. */
	expect_line(&p, "last", 4);
	{
		char	*line;
		size_t	 len;

		assert_int_equal(ctl_read_line(&p.c, &line, &len, 0),
		    CTL_LINE_EOF);
	}
	close(p.c.fd);
	buf_free(&p.c.in);
}

/* A burst of 100,000 lines: every one, in order. */
static void
test_a_burst_of_lines(void **state)
{
	struct pair	 p;
	char		 want[32], *line;
	size_t		 len;
	int		 i, n = 100000;
	pid_t		 pid;

	(void)state;
	pair_open(&p);
	if ((pid = fork()) == 0) {
		struct buf	 b;

		close(p.c.fd);	/* a reader that gives up ends the writer */
		buf_init(&b);
		for (i = 0; i < n; i++)
			buf_printf(&b, "event %d\n", i);
		(void)!write(p.peer, b.data, b.len);
		_exit(0);
	}
	close(p.peer);
	p.peer = -1;
	for (i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "event %d", i);
		expect_line(&p, want, strlen(want));
	}
	assert_int_equal(ctl_read_line(&p.c, &line, &len, ctl_now() + 10),
	    CTL_LINE_EOF);
	close(p.c.fd);
	buf_free(&p.c.in);
}

/* A long reply after a short line, with more behind it; then what is
 * left for a session. */
static void
test_long_line_and_the_rest(void **state)
{
	struct pair	 p;
	struct buf	 b;
	const char	*rest;
	size_t		 n;

	(void)state;
	pair_open(&p);
	buf_init(&b);
	buf_puts(&b, "short\n");
	while (b.len < 10000)
		buf_puts(&b, "0123456789");
	buf_puts(&b, "\n");
	put(&p, b.data, b.len);
	expect_line(&p, "short", 5);
	expect_line(&p, b.data + 6, b.len - 7);
	put(&p, "{\"ok\":true}\nscrollback", 22);
	expect_line(&p, "{\"ok\":true}", 11);
	rest = ctl_pending(&p.c, &n);
	assert_int_equal(n, 10);
	assert_memory_equal(rest, "scrollback", 10);
	ctl_pending_done(&p.c);
	rest = ctl_pending(&p.c, &n);
	assert_int_equal(n, 0);
	buf_free(&b);
	pair_close(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_of_one_read_and_a_cut_line),
		cmocka_unit_test(test_a_burst_of_lines),
		cmocka_unit_test(test_long_line_and_the_rest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
