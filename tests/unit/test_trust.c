/*
 * test_trust.c: which files vmstated trusts (trust.c), and the sentence
 * that says why not.
 *
 * Each test builds a small tree in a fresh directory under /tmp (a sticky
 * directory, accepted above the file).  Changing a file's owner needs
 * root: those tests are skipped otherwise.  uid 4242 stands for another
 * user; it need not exist.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "trust.h"

#define OTHER_UID	4242

static char	 tmpdir[64];
static char	 err[4096];

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
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_trust.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	err[0] = '\0';
	return 0;
}

static int
teardown_tmp(void **state)
{
	(void)state;
	return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir/rel, as a static string (one at a time). */
static const char *
at(const char *rel)
{
	static char	 path[2][256];
	static int	 i;

	i = !i;
	snprintf(path[i], sizeof(path[i]), "%s/%s", tmpdir, rel);
	return path[i];
}

static void
make_dir(const char *rel, mode_t mode)
{
	assert_int_equal(mkdir(at(rel), 0700), 0);
	assert_int_equal(chmod(at(rel), mode), 0);
}

static void
make_file(const char *rel, mode_t mode)
{
	int	 fd;

	fd = open(at(rel), O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd != -1);
	close(fd);
	assert_int_equal(chmod(at(rel), mode), 0);
}

static void
skip_unless_root(void)
{
	if (geteuid() != 0)
		skip();
}

static void
assert_contains(const char *s, const char *part)
{
	if (strstr(s, part) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

static void
test_a_root_owned_0755_chain_is_trusted(void **state)
{
	make_dir("etc", 0755);
	make_file("etc/hook", 0755);
	assert_int_equal(trust_path(at("etc/hook"), err, sizeof(err)), 0);
	assert_int_equal(trust_path(at("etc"), err, sizeof(err)), 0);
}

static void
test_a_file_of_another_user_is_refused_naming_owner_mode_and_fix(
    void **state)
{
	char	 fix[300];

	skip_unless_root();
	make_file("hook", 0755);
	assert_int_equal(chown(at("hook"), OTHER_UID, (gid_t)-1), 0);
	assert_int_equal(trust_path(at("hook"), err, sizeof(err)), -1);
	assert_contains(err, "it is owned by uid 4242 (mode 0755)");
	snprintf(fix, sizeof(fix), "run chown root %s", at("hook"));
	assert_contains(err, fix);
}

static void
test_a_group_writable_file_is_refused(void **state)
{
	char	 fix[300];

	make_file("hook", 0775);
	assert_int_equal(trust_path(at("hook"), err, sizeof(err)), -1);
	assert_contains(err, "it is writable by group (owner uid ");
	assert_contains(err, "mode 0775)");
	snprintf(fix, sizeof(fix), "run chmod go-w %s", at("hook"));
	assert_contains(err, fix);
}

static void
test_a_file_writable_by_others_is_refused(void **state)
{
	make_file("hook", 0757);
	assert_int_equal(trust_path(at("hook"), err, sizeof(err)), -1);
	assert_contains(err, "writable by others");
}

static void
test_a_file_in_a_group_writable_directory_is_refused(void **state)
{
	char	 part[300];

	make_dir("d", 0775);
	make_file("d/hook", 0755);
	assert_int_equal(trust_path(at("d/hook"), err, sizeof(err)), -1);
	snprintf(part, sizeof(part), "the directory %s above it is writable "
	    "by group", at("d"));
	assert_contains(err, part);
	snprintf(part, sizeof(part), "chmod go-w %s", at("d"));
	assert_contains(err, part);
}

static void
test_a_directory_of_another_user_above_is_refused(void **state)
{
	skip_unless_root();
	make_dir("d", 0755);
	make_file("d/hook", 0755);
	assert_int_equal(chown(at("d"), OTHER_UID, (gid_t)-1), 0);
	assert_int_equal(trust_path(at("d/hook"), err, sizeof(err)), -1);
	assert_contains(err, "above it is owned by uid 4242 (mode 0755)");
}

static void
test_a_sticky_directory_above_is_accepted_but_not_as_the_end(void **state)
{
	make_dir("tmp", 01777);
	make_file("tmp/hook", 0755);
	assert_int_equal(trust_path(at("tmp/hook"), err, sizeof(err)), 0);
	/* As the directory checked (a logdir), it is refused. */
	assert_int_equal(trust_path(at("tmp"), err, sizeof(err)), -1);
	assert_contains(err, "it is writable by group and others");
}

static void
test_in_a_sticky_directory_an_entry_of_another_user_is_refused(
    void **state)
{
	skip_unless_root();
	make_dir("tmp", 01777);
	make_dir("tmp/theirs", 0755);
	make_file("tmp/theirs/hook", 0755);
	assert_int_equal(chown(at("tmp/theirs"), OTHER_UID, (gid_t)-1), 0);
	assert_int_equal(trust_path(at("tmp/theirs/hook"), err, sizeof(err)),
	    -1);
	assert_contains(err, "owned by uid 4242");
}

static void
test_a_link_to_a_trusted_file_is_followed(void **state)
{
	make_dir("lib", 0755);
	make_file("lib/real", 0755);
	assert_int_equal(symlink("lib/real", at("hook")), 0);
	assert_int_equal(trust_path(at("hook"), err, sizeof(err)), 0);
	/* Relative targets with "..", and absolute ones. */
	make_dir("etc", 0755);
	assert_int_equal(symlink("../lib/real", at("etc/hook")), 0);
	assert_int_equal(trust_path(at("etc/hook"), err, sizeof(err)), 0);
	assert_int_equal(symlink(at("lib/real"), at("abs")), 0);
	assert_int_equal(trust_path(at("abs"), err, sizeof(err)), 0);
}

static void
test_a_link_to_an_untrusted_place_is_refused(void **state)
{
	char	 part[300];

	make_dir("shared", 0777);
	make_file("shared/real", 0755);
	assert_int_equal(symlink("shared/real", at("hook")), 0);
	assert_int_equal(trust_path(at("hook"), err, sizeof(err)), -1);
	snprintf(part, sizeof(part), "the directory %s above it is writable "
	    "by group and others", at("shared"));
	assert_contains(err, part);

	make_file("loose", 0666);
	assert_int_equal(symlink("loose", at("hook2")), 0);
	assert_int_equal(trust_path(at("hook2"), err, sizeof(err)), -1);
	snprintf(part, sizeof(part), "its target %s is writable by group "
	    "and others", at("loose"));
	assert_contains(err, part);
}

static void
test_a_link_of_another_user_is_refused(void **state)
{
	char	 part[300];

	skip_unless_root();
	make_file("real", 0755);
	assert_int_equal(symlink("real", at("hook")), 0);
	assert_int_equal(lchown(at("hook"), OTHER_UID, (gid_t)-1), 0);
	assert_int_equal(trust_path(at("hook"), err, sizeof(err)), -1);
	snprintf(part, sizeof(part), "the symbolic link %s on the way to it "
	    "is owned by uid 4242; ", at("hook"));
	assert_contains(err, part);
	snprintf(part, sizeof(part), "chown -h root %s", at("hook"));
	assert_contains(err, part);
}

static void
test_a_link_loop_is_an_error_not_a_hang(void **state)
{
	assert_int_equal(symlink("b", at("a")), 0);
	assert_int_equal(symlink("a", at("b")), 0);
	assert_int_equal(trust_path(at("a"), err, sizeof(err)), -1);
	assert_contains(err, "more than 32 symbolic links");
}

static void
test_a_missing_file_is_an_error_naming_it(void **state)
{
	char	 part[300];

	assert_int_equal(trust_path(at("nothing"), err, sizeof(err)), -1);
	snprintf(part, sizeof(part), "cannot check %s: No such file",
	    at("nothing"));
	assert_contains(err, part);
}

static void
test_dot_and_dotdot_are_resolved(void **state)
{
	make_dir("a", 0755);
	make_dir("a/b", 0755);
	make_file("a/hook", 0755);
	assert_int_equal(trust_path(at("a/b/../hook"), err, sizeof(err)), 0);
	assert_int_equal(trust_path(at("a/./b/."), err, sizeof(err)), 0);
	assert_int_equal(chmod(at("a/b"), 0777), 0);
	/* Through a directory that is not trusted, even if only passed. */
	assert_int_equal(trust_path(at("a/b/../hook"), err, sizeof(err)),
	    -1);
	/* A link to "." of a loose directory ends there: refused. */
	assert_int_equal(symlink(".", at("a/b/dot")), 0);
	assert_int_equal(chmod(at("a/b"), 01777), 0);
	assert_int_equal(trust_path(at("a/b/dot"), err, sizeof(err)), -1);
}

/*
 * While a configuration loads, the directories above the last trusted
 * file are not looked at again: everything else still is -- a sibling
 * directory, the file itself, a directory checked as the end.
 */
static void
test_a_load_still_checks_what_it_does_not_share(void **state)
{
	make_dir("conf", 0755);
	make_dir("conf/a", 0755);
	make_dir("conf/b", 0775);
	make_file("conf/a/config", 0644);
	make_file("conf/a/loose", 0666);
	make_file("conf/b/config", 0644);
	make_dir("conf/a/tmp", 01777);
	make_file("conf/a/tmp/config", 0644);
	trust_cache_begin();
	assert_int_equal(trust_path(at("conf/a/config"), err, sizeof(err)), 0);
	assert_int_equal(trust_path(at("conf/b/config"), err, sizeof(err)),
	    -1);
	assert_contains(err, "above it is writable by group");
	assert_int_equal(trust_path(at("conf/a/loose"), err, sizeof(err)),
	    -1);
	assert_contains(err, "it is writable by group and others");
	assert_int_equal(trust_path(at("conf/a/tmp/config"), err,
	    sizeof(err)), 0);
	/* The sticky directory passed above a file, not as the end. */
	assert_int_equal(trust_path(at("conf/a/tmp"), err, sizeof(err)), -1);
	assert_int_equal(trust_path(at("conf/a/tmp/."), err, sizeof(err)),
	    -1);
	assert_int_equal(trust_path(at("conf/a/config"), err, sizeof(err)), 0);
	trust_cache_end();
	assert_int_equal(trust_path(at("conf/b/config"), err, sizeof(err)),
	    -1);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup_tmp, teardown_tmp)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_a_root_owned_0755_chain_is_trusted),
		T(test_a_load_still_checks_what_it_does_not_share),
		T(test_a_file_of_another_user_is_refused_naming_owner_mode_and_fix),
		T(test_a_group_writable_file_is_refused),
		T(test_a_file_writable_by_others_is_refused),
		T(test_a_file_in_a_group_writable_directory_is_refused),
		T(test_a_directory_of_another_user_above_is_refused),
		T(test_a_sticky_directory_above_is_accepted_but_not_as_the_end),
		T(test_in_a_sticky_directory_an_entry_of_another_user_is_refused),
		T(test_a_link_to_a_trusted_file_is_followed),
		T(test_a_link_to_an_untrusted_place_is_refused),
		T(test_a_link_of_another_user_is_refused),
		T(test_a_link_loop_is_an_error_not_a_hang),
		T(test_a_missing_file_is_an_error_naming_it),
		T(test_dot_and_dotdot_are_resolved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
