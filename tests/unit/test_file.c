/*
 * test_file.c: opening, checking and reading given files (file.c)
 * without blocking on a FIFO or reading a device without end.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
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
#include "file.h"

static char	 tmpdir[64];

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static int
setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_file.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_tmp(void **state)
{
	(void)state;
	return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir/name, in a static buffer. */
static const char *
in_tmp(const char *name)
{
	static char	 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void
write_text(const char *name, const char *text)
{
	FILE	*f;

	assert_non_null(f = fopen(in_tmp(name), "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void
test_fifo_is_refused_without_blocking(void **state)
{
	struct buf	 b;
	char		 msg[256];

	(void)state;
	assert_int_equal(mkfifo(in_tmp("fifo"), 0600), 0);
	/* No writer: a blocking open() would never return. */
	assert_int_equal(file_open(in_tmp("fifo"), FILE_REGULAR, NULL, msg,
	    sizeof(msg)), -1);
	assert_string_equal(msg, "it is a FIFO (named pipe), not a regular "
	    "file");
	assert_int_equal(file_check(in_tmp("fifo"), FILE_REGULAR |
	    FILE_DEVICE, msg, sizeof(msg)), -2);
	assert_string_equal(msg, "it is a FIFO (named pipe), not a regular "
	    "file or a device");
	buf_init(&b);
	assert_int_equal(file_read(in_tmp("fifo"), FILE_REGULAR, 100, &b,
	    NULL, msg, sizeof(msg)), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_devices_only_where_allowed(void **state)
{
	struct buf	 b;
	char		 msg[256];

	(void)state;
	assert_int_equal(symlink("/dev/zero", in_tmp("zero")), 0);
	assert_int_equal(file_check(in_tmp("zero"), FILE_REGULAR, msg,
	    sizeof(msg)), -2);
	assert_string_equal(msg, "it is a character device, not a regular "
	    "file");
	assert_int_equal(file_check(in_tmp("zero"), FILE_REGULAR |
	    FILE_DEVICE, msg, sizeof(msg)), 0);
	assert_int_equal(file_check(in_tmp("zero"), FILE_DEVICE |
	    FILE_NOFOLLOW, msg, sizeof(msg)), -2);
	assert_string_equal(msg, "it is a symbolic link, which is not "
	    "followed here");
	/* Reading a device is never allowed: it may never end. */
	buf_init(&b);
	assert_int_equal(file_read(in_tmp("zero"), FILE_REGULAR | FILE_DEVICE,
	    100, &b, NULL, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "it is a character device, not a regular "
	    "file");
	assert_int_equal(file_check(tmpdir, FILE_REGULAR, msg, sizeof(msg)),
	    -2);
	assert_string_equal(msg, "it is a directory, not a regular file");
	assert_int_equal(file_check(in_tmp("none"), FILE_REGULAR, msg,
	    sizeof(msg)), -1);
	assert_string_equal(msg, strerror(ENOENT));
	buf_free(&b);
}

static void
test_read_is_bounded(void **state)
{
	struct buf	 b;
	char		 msg[256];
	mode_t		 mode = 0;

	(void)state;
	write_text("ten", "0123456789");
	assert_int_equal(chmod(in_tmp("ten"), 0640), 0);
	buf_init(&b);
	buf_puts(&b, "kept:");
	assert_int_equal(file_read(in_tmp("ten"), FILE_REGULAR, 10, &b, &mode,
	    msg, sizeof(msg)), 0);
	assert_string_equal(b.data, "kept:0123456789");
	assert_int_equal(mode, 0640);
	errno = 0;
	assert_int_equal(file_read(in_tmp("ten"), FILE_REGULAR, 9, &b, NULL,
	    msg, sizeof(msg)), -1);
	assert_int_equal(errno, EFBIG);
	assert_string_equal(msg, "it is larger than 9 bytes, the limit for "
	    "this file");
	/* A failed read leaves the buffer as it was. */
	assert_string_equal(b.data, "kept:0123456789");
	assert_int_equal(symlink("ten", in_tmp("link")), 0);
	assert_int_equal(file_read(in_tmp("link"), FILE_REGULAR, 10, &b, NULL,
	    msg, sizeof(msg)), 0);
	assert_int_equal(file_read(in_tmp("link"), FILE_REGULAR |
	    FILE_NOFOLLOW, 10, &b, NULL, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "it is a symbolic link, which is not "
	    "followed here");
	buf_free(&b);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup_tmp, teardown_tmp)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fifo_is_refused_without_blocking),
		T(test_devices_only_where_allowed),
		T(test_read_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
