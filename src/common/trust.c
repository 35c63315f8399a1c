/*
 * trust.c: the StrictModes check of trust.h.
 *
 * The path is walked from / one component at a time, as the kernel would
 * resolve it, so that a symbolic link anywhere on the way is seen and its
 * target walked in turn: checking realpath()'s answer alone would miss a
 * link that someone else could replace.  Each entry is looked at with
 * lstat(2), which never blocks (a FIFO is not opened) and never follows.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "trust.h"

#define TRUST_MAX_LINKS	32

/*
 * While a configuration is loaded (trust_cache_begin), the directory
 * above the last file found trusted, with no link in it: every directory
 * on the way to it passed as one above a file.  Only root could change
 * that meanwhile, so the walks of the next files (the same configuration
 * directory, the same VM directory) start below what they share with it.
 * A thousand VMs are two thousand walks of the same few directories.
 */
static bool		 cache_on;
static struct buf	 cache_dir;

/* What an entry is to the file being checked, for the message. */
enum trust_role {
	ROLE_FILE,		/* the file itself */
	ROLE_TARGET,		/* the file, reached through a link */
	ROLE_LINK,		/* a symbolic link on the way */
	ROLE_DIR,		/* a directory above it */
};

static bool
trusted_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* "owned by uid 1001 and writable by group (mode 0664)" and the like. */
static void
describe(struct buf *b, const struct stat *st, mode_t writable)
{
	bool	 owner = !trusted_owner(st->st_uid);

	if (owner)
		buf_printf(b, "owned by uid %ld", (long)st->st_uid);
	if (writable != 0)
		buf_printf(b, "%swritable by %s", owner ? " and " : "",
		    writable == (S_IWGRP | S_IWOTH) ? "group and others" :
		    writable == S_IWGRP ? "group" : "others");
	if (S_ISLNK(st->st_mode))
		return;
	if (owner)
		buf_printf(b, " (mode %04o)", (unsigned)(st->st_mode & 07777));
	else
		buf_printf(b, " (owner uid %ld, mode %04o)", (long)st->st_uid,
		    (unsigned)(st->st_mode & 07777));
}

/*
 * The sentence about one entry that fails the rule: what it is to the
 * file, what is wrong with it, and the command that fixes it.
 */
static void
complain(char *err, size_t errlen, enum trust_role role, const char *path,
    const struct stat *st, mode_t writable)
{
	struct buf	 b;
	uid_t		 me = geteuid();
	bool		 owner = !trusted_owner(st->st_uid);
	char		 who[32];

	buf_init(&b);
	switch (role) {
	case ROLE_FILE:
		buf_puts(&b, "it is ");
		break;
	case ROLE_TARGET:
		buf_printf(&b, "its target %s is ", path);
		break;
	case ROLE_LINK:
		buf_printf(&b, "the symbolic link %s on the way to it is ",
		    path);
		break;
	case ROLE_DIR:
		buf_printf(&b, "the directory %s above it is ", path);
		break;
	}
	describe(&b, st, writable);
	if (me == 0)
		snprintf(who, sizeof(who), "root");
	else
		snprintf(who, sizeof(who), "%ld", (long)me);
	buf_printf(&b, "; vmstated trusts a path only if nobody but root%s%s "
	    "can change it or a directory above it: run ", me == 0 ? "" :
	    " and uid ", me == 0 ? "" : who);
	if (owner)
		buf_printf(&b, "chown %s%s %s", S_ISLNK(st->st_mode) ? "-h " :
		    "", who, path);
	if (writable != 0)
		buf_printf(&b, "%schmod go-w %s", owner ? " && " : "", path);
	snprintf(err, errlen, "%s", b.data);
	buf_free(&b);
}

/*
 * The next component of s from *pos: its start and length; false at the
 * end.  *last tells whether nothing but slashes follows it.
 */
static bool
next_component(const char *s, size_t *pos, const char **comp, size_t *len,
    bool *last)
{
	size_t	 i = *pos, end;

	while (s[i] == '/')
		i++;
	if (s[i] == '\0')
		return false;
	for (end = i; s[end] != '\0' && s[end] != '/'; end++)
		;
	*comp = s + i;
	*len = end - i;
	*pos = end;
	while (s[end] == '/')
		end++;
	*last = s[end] == '\0';
	return true;
}

/* Remove the last component of a resolved path ("" is /). */
static void
drop_last(struct buf *done)
{
	while (done->len > 0 && done->data[done->len - 1] != '/')
		done->len--;
	if (done->len > 0)
		done->len--;
	if (done->data != NULL)
		done->data[done->len] = '\0';
}

/*
 * One entry: its owner, and its write bits unless it is a link (a link
 * has no mode of its own) or a sticky directory above the file.
 */
static int
check_entry(const char *path, const struct stat *st, bool last,
    enum trust_role role, char *err, size_t errlen)
{
	mode_t	 writable = 0;

	if (!S_ISLNK(st->st_mode)) {
		writable = st->st_mode & (S_IWGRP | S_IWOTH);
		if (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) && !last)
			writable = 0;
	}
	if (writable == 0 && trusted_owner(st->st_uid))
		return 0;
	complain(err, errlen, role, path, st, writable);
	return -1;
}

/* Is the directory dir (no link in it) one that the cache vouches for? */
static bool
trust_cached(const struct buf *dir)
{
	return cache_on && dir->len <= cache_dir.len &&
	    memcmp(cache_dir.data, dir->data, dir->len) == 0 &&
	    (cache_dir.data[dir->len] == '/' ||
	    cache_dir.data[dir->len] == '\0');
}

void
trust_cache_begin(void)
{
	cache_on = true;
	buf_reset(&cache_dir);
}

void
trust_cache_end(void)
{
	cache_on = false;
	buf_free(&cache_dir);
}

/*
 * Follow the link at path: the rest of the walk becomes its target
 * followed by what was left after it.
 */
static int
follow(const char *path, struct buf *todo, size_t *pos, struct buf *done,
    char *err, size_t errlen)
{
	char		 target[PATH_MAX];
	struct buf	 rest;
	ssize_t		 n;

	if ((n = readlink(path, target, sizeof(target) - 1)) == -1) {
		snprintf(err, errlen, "cannot read the symbolic link %s: %s",
		    path, strerror(errno));
		return -1;
	}
	target[n] = '\0';
	buf_init(&rest);
	buf_puts(&rest, target);
	buf_putc(&rest, '/');
	buf_puts(&rest, todo->data + *pos);
	buf_free(todo);
	*todo = rest;
	*pos = 0;
	if (target[0] == '/')
		buf_reset(done);
	return 0;
}

/*
 * The walk; sticky_end accepts a sticky directory at the end of the path
 * as well as above it.
 */
static int
trust_walk(const char *path, bool sticky_end, char *err, size_t errlen)
{
	struct buf	 done, todo;
	struct stat	 st;
	const char	*comp;
	char		 cwd[PATH_MAX];
	size_t		 pos = 0, len;
	int		 links = 0, rc = -1;
	bool		 last, followed = false;
	enum trust_role	 role;

	buf_init(&done);
	buf_init(&todo);
	if (path[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			snprintf(err, errlen, "cannot check %s: %s", path,
			    strerror(errno));
			return -1;
		}
		buf_printf(&todo, "%s/", cwd);
	}
	buf_puts(&todo, path);

	if (!cache_on || cache_dir.len == 0) {
		if (lstat("/", &st) == -1) {
			snprintf(err, errlen, "cannot check /: %s",
			    strerror(errno));
			goto out;
		}
		if (check_entry("/", &st, false, ROLE_DIR, err, errlen) == -1)
			goto out;
	}

	while (next_component(todo.data, &pos, &comp, &len, &last)) {
		if (len == 1 && comp[0] == '.')
			continue;
		if (len == 2 && comp[0] == '.' && comp[1] == '.') {
			/* done holds no link: ".." is its parent. */
			drop_last(&done);
			continue;
		}
		buf_putc(&done, '/');
		buf_append(&done, comp, len);
		if (!last && trust_cached(&done))
			continue;
		if (lstat(done.data, &st) == -1) {
			snprintf(err, errlen, "cannot check %s: %s", done.data,
			    strerror(errno));
			goto out;
		}
		if (S_ISLNK(st.st_mode))
			role = ROLE_LINK;
		else if (last)
			role = followed ? ROLE_TARGET : ROLE_FILE;
		else
			role = ROLE_DIR;
		if (check_entry(done.data, &st, last && !sticky_end, role, err,
		    errlen) == -1)
			goto out;
		if (S_ISLNK(st.st_mode)) {
			if (++links > TRUST_MAX_LINKS) {
				snprintf(err, errlen, "cannot check it: more "
				    "than %d symbolic links on the way (a "
				    "loop?) at %s", TRUST_MAX_LINKS,
				    done.data);
				goto out;
			}
			if (follow(done.data, &todo, &pos, &done, err,
			    errlen) == -1)
				goto out;
			drop_last(&done);
			followed = true;
			continue;
		}
		if (!last && !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "cannot check it: %s is not a "
			    "directory", done.data);
			goto out;
		}
	}
	/* The end of the walk, checked as the file itself: a path may end
	 * in "." or "..", or in a link to a directory above. */
	if (lstat(done.len > 0 ? done.data : "/", &st) == -1) {
		snprintf(err, errlen, "cannot check %s: %s", done.len > 0 ?
		    done.data : "/", strerror(errno));
		goto out;
	}
	if (check_entry(done.len > 0 ? done.data : "/", &st, !sticky_end,
	    followed ? ROLE_TARGET : ROLE_FILE, err, errlen) == -1)
		goto out;
	if (cache_on) {
		/* Everything above the end passed as a directory above. */
		drop_last(&done);
		buf_reset(&cache_dir);
		buf_append(&cache_dir, done.data != NULL ? done.data : "",
		    done.len);
	}
	rc = 0;
out:
	buf_free(&done);
	buf_free(&todo);
	return rc;
}

int
trust_path(const char *path, char *err, size_t errlen)
{
	return trust_walk(path, false, err, errlen);
}

int
trust_socket_dir(const char *dir, char *err, size_t errlen)
{
	return trust_walk(dir, true, err, errlen);
}
