/*
 * file.c: open, check and read the files the daemon is given without
 * ever blocking its loop or reading without bound (see file.h).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"

const char *
file_type_name(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO (named pipe)";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISLNK(mode))
		return "a symbolic link";
	return "a special file";
}

/* Is a file of this mode one that `allow` permits? */
static int
file_type_ok(mode_t mode, int allow)
{
	if (S_ISREG(mode))
		return (allow & FILE_REGULAR) != 0;
	if (S_ISBLK(mode) || S_ISCHR(mode))
		return (allow & FILE_DEVICE) != 0;
	return 0;
}

/* "it is a FIFO (named pipe), not a regular file" into msg. */
static void
file_type_error(mode_t mode, int allow, char *msg, size_t msgsize)
{
	snprintf(msg, msgsize, "it is %s, not %s", file_type_name(mode),
	    (allow & FILE_DEVICE) == 0 ? "a regular file" :
	    (allow & FILE_REGULAR) == 0 ? "a device" :
	    "a regular file or a device");
}

/* The reason open() failed; ELOOP under O_NOFOLLOW is a link. */
static void
file_open_error(int error, int flags, char *msg, size_t msgsize)
{
	if ((flags & FILE_NOFOLLOW) && (error == ELOOP || error == EMLINK))
		snprintf(msg, msgsize, "it is a symbolic link, which is not "
		    "followed here");
	else
		snprintf(msg, msgsize, "%s", strerror(error));
}

int
file_open(const char *path, int allow, struct stat *st, char *msg,
    size_t msgsize)
{
	struct stat	 sb;
	int		 fd, saved;
	int		 oflags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;

	if (allow & FILE_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	if ((fd = open(path, oflags)) == -1) {
		saved = errno;
		file_open_error(saved, allow, msg, msgsize);
		errno = saved;		/* EMFILE is worth trying again */
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		saved = errno;
		snprintf(msg, msgsize, "%s", strerror(saved));
		close(fd);
		errno = saved;
		return -1;
	}
	if (!file_type_ok(sb.st_mode, allow)) {
		file_type_error(sb.st_mode, allow, msg, msgsize);
		close(fd);
		return -1;
	}
	if (st != NULL)
		*st = sb;
	return fd;
}

/*
 * stat() first, so that nothing but a regular file is ever opened here:
 * opening a device can have effects (a tape rewinds on close), and the
 * program that uses it opens it anyway.
 */
int
file_check(const char *path, int allow, char *msg, size_t msgsize)
{
	struct stat	 st;
	int		 fd, r;

	r = (allow & FILE_NOFOLLOW) ? lstat(path, &st) : stat(path, &st);
	if (r == -1) {
		snprintf(msg, msgsize, "%s", strerror(errno));
		return -1;
	}
	if ((allow & FILE_NOFOLLOW) && S_ISLNK(st.st_mode)) {
		file_open_error(ELOOP, allow, msg, msgsize);
		return -2;
	}
	if (!file_type_ok(st.st_mode, allow)) {
		file_type_error(st.st_mode, allow, msg, msgsize);
		return -2;
	}
	if (!S_ISREG(st.st_mode)) {
		if (access(path, R_OK) == -1) {
			snprintf(msg, msgsize, "%s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if ((fd = file_open(path, allow, NULL, msg, msgsize)) == -1)
		return -1;
	close(fd);
	return 0;
}

/* "it is larger than N bytes, the limit" into msg; errno EFBIG. */
static void
file_size_error(size_t max, char *msg, size_t msgsize)
{
	errno = EFBIG;
	if (max >= 1024 * 1024 && max % (1024 * 1024) == 0)
		snprintf(msg, msgsize, "it is larger than %zu MiB, the limit "
		    "for this file", max / 1024 / 1024);
	else
		snprintf(msg, msgsize, "it is larger than %zu bytes, the "
		    "limit for this file", max);
}

int
file_read(const char *path, int flags, size_t max, struct buf *b,
    mode_t *mode, char *msg, size_t msgsize)
{
	struct stat	 st;
	char		 chunk[16384];
	size_t		 before = b->len, got = 0, want;
	ssize_t		 n;
	int		 fd, saved;

	/* Only a regular file has an end: a device never needs reading. */
	if ((fd = file_open(path, (flags & ~FILE_DEVICE) | FILE_REGULAR, &st,
	    msg, msgsize)) == -1)
		return -1;
	if (st.st_size < 0 || (unsigned long long)st.st_size > max) {
		file_size_error(max, msg, msgsize);
		goto fail;
	}
	for (;;) {
		/* One byte more than allowed tells a file that grew. */
		want = max - got + 1 < sizeof(chunk) ? max - got + 1 :
		    sizeof(chunk);
		if ((n = read(fd, chunk, want)) == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(msg, msgsize, "%s", strerror(errno));
			goto fail;
		}
		if ((size_t)n > max - got) {
			file_size_error(max, msg, msgsize);
			goto fail;
		}
		buf_append(b, chunk, (size_t)n);
		got += (size_t)n;
	}
	close(fd);
	if (mode != NULL)
		*mode = st.st_mode & 07777;
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	b->len = before;
	if (b->data != NULL)
		b->data[b->len] = '\0';
	return -1;
}

bool
file_transient(int error)
{
	return error == EMFILE || error == ENFILE || error == EAGAIN ||
	    error == ENOMEM;
}
