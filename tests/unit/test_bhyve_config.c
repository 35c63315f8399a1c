/*
 * test_bhyve_config.c: the generated bhyve configuration.
 *
 * The rendered text is compared byte for byte with the files of
 * tests/fixtures/bhyve/ (run from tests/unit); the write is checked for
 * what a crash-safe replacement promises: the result is there, nothing
 * else is left behind, and a failure names the file.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bhyve_config.h"
#include "buf.h"
#include "config.h"

#define FIXTURES	"../fixtures/bhyve"

static char	 tmpdir[64];

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	(void)chmod(path, 0755);
	return remove(path);
}

static int
setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_bhyve_config.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_tmp(void **state)
{
	(void)state;
	(void)chmod(tmpdir, 0755);
	return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The whole file into b; fails the test if it cannot be read. */
static void
read_file(const char *path, struct buf *b)
{
	char	 chunk[4096];
	size_t	 n;
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL)
		fail_msg("cannot read %s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(b, chunk, n);
	fclose(f);
}

static void
copy_file(const char *from, const char *to, mode_t mode)
{
	struct buf	 b;
	FILE		*f;

	buf_init(&b);
	read_file(from, &b);
	if ((f = fopen(to, "w")) == NULL)
		fail_msg("cannot write %s", to);
	if (b.len > 0)
		fwrite(b.data, 1, b.len, f);
	fclose(f);
	chmod(to, mode);
	buf_free(&b);
}

/* got must be the bytes of the fixture file `expected`. */
static void
assert_same_as(const struct buf *got, const char *expected)
{
	struct buf	 want;

	buf_init(&want);
	read_file(expected, &want);
	if (got->len != want.len || memcmp(got->data, want.data, got->len))
		fail_msg("differs from %s; got:\n%.*s", expected,
		    (int)got->len, got->data);
	buf_free(&want);
}

/* A VM with nothing set but its name, as the loader leaves it; its
 * consoles, all absent, and its rarer strings, for a test to set. */
static void
vm_init(struct vm_config *vm, const char *name)
{
	memset(vm, 0, sizeof(*vm));
	vm->name = xstrdup(name);
	vm->consoles = xcalloc(CFG_MAX_CONSOLES, sizeof(*vm->consoles));
	vm->extra = xcalloc(1, sizeof(*vm->extra));
	vm->generate_acpi_tables = CFG_UNSET;
	vm->vmexit_on_halt = CFG_UNSET;
	vm->wire_memory = CFG_UNSET;
}

static void
vm_clear(struct vm_config *vm)
{
	int	 i;

	free(vm->name);
	free(vm->configfile_stored);
	free(vm->extra->bootrom);
	free(vm->extra->hostbridge);
	free(vm->extra);
	for (i = 0; i < CFG_MAX_CONSOLES; i++)
		free(vm->consoles[i].backend);
	free(vm->consoles);
}

/* Render vm over the fixture orig and compare with the fixture expected. */
static void
check_render(const struct vm_config *vm, const char *orig,
    const char *expected)
{
	struct buf	 in, out;

	buf_init(&in);
	buf_init(&out);
	if (orig != NULL)
		read_file(orig, &in);
	bhyve_config_render(vm, in.data, in.len, &out);
	assert_same_as(&out, expected);
	buf_free(&in);
	buf_free(&out);
}

static void
test_name_alone_follows_the_file(void **state)
{
	struct vm_config	 vm;

	(void)state;
	vm_init(&vm, "bsdvm");
	check_render(&vm, FIXTURES "/bsdvm.bhyve_config",
	    FIXTURES "/bsdvm.expected");
	vm_clear(&vm);
}

static void
test_every_setting(void **state)
{
	struct vm_config	 vm;

	(void)state;
	vm_init(&vm, "full");
	vm.memory_mb = 2048;
	vm.cpus = 8;
	vm.sockets = 2;
	vm.cores = 2;
	vm.threads = 2;
	vm.extra->bootrom =
	    xstrdup("/usr/local/share/uefi-firmware/BHYVE_UEFI.fd");
	vm.generate_acpi_tables = CFG_YES;
	vm.vmexit_on_halt = CFG_NO;
	vm.wire_memory = CFG_YES;
	vm.extra->hostbridge = xstrdup("amd_hostbridge");
	vm.consoles[0].present = true;
	vm.consoles[0].enabled = true;
	vm.consoles[0].backend = xstrdup("/dev/nmdm0A");
	vm.consoles[1].present = true;
	vm.consoles[1].enabled = false;
	vm.consoles[1].backend = xstrdup("/dev/nmdm1A");
	vm.consoles[2].present = true;
	vm.consoles[2].enabled = true;
	vm.consoles[2].backend = xstrdup("stdio");
	check_render(&vm, FIXTURES "/bsdvm.bhyve_config",
	    FIXTURES "/full.expected");
	vm_clear(&vm);
}

/*
 * The AMD host bridge's ids under the names bhyve_config(5) documents,
 * pcireg.vendor and pcireg.device, and as vendor and devid, the only
 * names FreeBSD 13's pci_hostbridge.c reads (14's reads them first).
 */
static void
test_amd_hostbridge_uses_pcireg_and_13s_names(void **state)
{
	struct vm_config	 vm;
	struct buf		 out;

	(void)state;
	vm_init(&vm, "amd");
	vm.extra->hostbridge = xstrdup("amd_hostbridge");
	buf_init(&out);
	bhyve_config_render(&vm, NULL, 0, &out);
	assert_string_equal(out.data, "name=amd\n"
	    "pci.0.0.0.device=hostbridge\n"
	    "pci.0.0.0.pcireg.vendor=0x1022\n"
	    "pci.0.0.0.pcireg.device=0x7432\n"
	    "pci.0.0.0.vendor=0x1022\n"
	    "pci.0.0.0.devid=0x7432\n");
	buf_free(&out);
	vm_clear(&vm);
}

/* A topology is written whole, threads included, after the file's. */
static void
test_topology_written_whole(void **state)
{
	struct vm_config	 vm;
	struct buf		 out;

	(void)state;
	vm_init(&vm, "smt");
	vm.cpus = 4;
	vm.sockets = 1;
	vm.cores = 2;
	vm.threads = 2;
	buf_init(&out);
	bhyve_config_render(&vm, "cores=4\n", 8, &out);
	assert_string_equal(out.data, "cores=4\nname=smt\ncpus=4\n"
	    "sockets=1\ncores=2\nthreads=2\n");
	buf_free(&out);
	vm_clear(&vm);
}

static void
test_newline_added_when_missing(void **state)
{
	struct vm_config	 vm;
	struct buf		 out;

	(void)state;
	vm_init(&vm, "noeol");
	check_render(&vm, FIXTURES "/noeol.bhyve_config",
	    FIXTURES "/noeol.expected");
	buf_init(&out);
	bhyve_config_render(&vm, NULL, 0, &out);
	assert_string_equal(out.data, "name=noeol\n");
	buf_free(&out);
	vm_clear(&vm);
}

static void
test_percent_stays_a_percent(void **state)
{
	struct vm_config	 vm;
	struct buf		 out;

	(void)state;
	vm_init(&vm, "pct");
	vm.extra->bootrom = xstrdup("/fw/100%.fd");
	buf_init(&out);
	bhyve_config_render(&vm, "", 0, &out);
	assert_string_equal(out.data, "name=pct\nlpc.bootrom=/fw/100%%.fd\n");
	buf_free(&out);
	vm_clear(&vm);
}

/* The daemon's console comes last, after a console of the config's. */
static void
test_console_line_comes_last(void **state)
{
	struct vm_config	 vm;
	struct buf		 out;

	(void)state;
	vm_init(&vm, "con");
	buf_init(&out);
	bhyve_config_render_console(&vm, "lpc.com2.path=/dev/x\n", 21,
	    "/dev/nmdm-con-A", &out);
	assert_string_equal(out.data, "lpc.com2.path=/dev/x\nname=con\n"
	    "lpc.com1.path=/dev/nmdm-con-A\n");
	buf_free(&out);
	vm_clear(&vm);
}

/* Where the configuration puts com1 itself: no console of the daemon's. */
static void
test_console_owner(void **state)
{
	static const char	 file[] = "x=1\nlpc.com1.path=stdio\n";
	static const char	 other[] = "lpc.com2.path=stdio\n# lpc.com1.path=a\n"
	    "xlpc.com1.path=b\n";
	struct vm_config	 vm;

	(void)state;
	vm_init(&vm, "own");
	assert_null(bhyve_config_console_owner(&vm, NULL, 0));
	assert_null(bhyve_config_console_owner(&vm, other, sizeof(other) - 1));
	assert_string_equal(bhyve_config_console_owner(&vm, file,
	    sizeof(file) - 1), "lpc.com1.path of its configfile");
	vm.consoles[0].present = vm.consoles[0].enabled = true;
	vm.consoles[0].backend = xstrdup("/dev/nmdm0A");
	assert_string_equal(bhyve_config_console_owner(&vm, NULL, 0),
	    "consoles { com1 } of its config");
	/* A disabled port leaves com1 to the daemon. */
	vm.consoles[0].enabled = false;
	assert_null(bhyve_config_console_owner(&vm, NULL, 0));
	vm_clear(&vm);
}

/* A daemon started later reads the console's path back: the last line. */
static void
test_last_value(void **state)
{
	static const char	 text[] = "lpc.com1.path=stdio\nname=x\n"
	    "lpc.com1.path=/dev/pts/7\nlpc.com1.pathx=no";
	char			*v;

	(void)state;
	v = bhyve_config_last_value(text, sizeof(text) - 1, "lpc.com1.path");
	assert_string_equal(v, "/dev/pts/7");
	free(v);
	assert_null(bhyve_config_last_value(text, sizeof(text) - 1, "cpus"));
}

static void
test_loaded_compat_config(void **state)
{
	struct vm_config	*vm;
	struct buf		 in, out;
	char			*error, path[PATH_MAX];

	(void)state;
	vm = cfg_load_vm("../fixtures/config/good/compat", NULL, &error);
	if (vm == NULL)
		fail_msg("%s", error);
	buf_init(&in);
	buf_init(&out);
	read_file(cfg_configfile(vm, path, sizeof(path)), &in);
	bhyve_config_render(vm, in.data, in.len, &out);
	assert_same_as(&out, FIXTURES "/compat.expected");
	buf_free(&in);
	buf_free(&out);
	cfg_vm_free(vm);
}

static void
test_generated_path(void **state)
{
	struct vm_config	 vm;
	char			*path;

	(void)state;
	vm_init(&vm, "x");
	assert_null(bhyve_config_generated_path(&vm));
	vm.configfile_stored = xstrdup("/etc/vmstated/x/bhyve_config");
	path = bhyve_config_generated_path(&vm);
	assert_string_equal(path, "/etc/vmstated/x/bhyve_config.generated");
	free(path);
	vm_clear(&vm);
}

/* The names in tmpdir, sorted, joined by spaces. */
static char *
list_tmpdir(void)
{
	struct dirent	 *de;
	struct buf	  b;
	DIR		 *d;
	char		**names = NULL, *s;
	size_t		  n = 0, i, j;

	d = opendir(tmpdir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			s = names[j];
			names[j] = names[j - 1];
			names[j - 1] = s;
		}
	buf_init(&b);
	buf_puts(&b, "");
	for (i = 0; i < n; i++) {
		buf_printf(&b, "%s%s", i ? " " : "", names[i]);
		free(names[i]);
	}
	free(names);
	return buf_steal(&b);
}

static void
test_write_replaces_atomically(void **state)
{
	struct vm_config	 vm;
	struct buf		 err, got;
	struct stat		 st;
	char			*listing, *generated;

	(void)state;
	vm_init(&vm, "bsdvm");
	xasprintf(&vm.configfile_stored, "%s/bhyve_config", tmpdir);
	copy_file(FIXTURES "/bsdvm.bhyve_config", vm.configfile_stored, 0640);
	buf_init(&err);
	if (bhyve_config_write(&vm, &err) != 0)
		fail_msg("%s", err.data);
	generated = bhyve_config_generated_path(&vm);
	buf_init(&got);
	read_file(generated, &got);
	assert_same_as(&got, FIXTURES "/bsdvm.expected");
	buf_free(&got);
	assert_int_equal(stat(generated, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	listing = list_tmpdir();
	assert_string_equal(listing, "bhyve_config bhyve_config.generated");
	free(listing);

	/* Again, over the old one, with a new setting. */
	vm.memory_mb = 512;
	if (bhyve_config_write(&vm, &err) != 0)
		fail_msg("%s", err.data);
	buf_init(&got);
	read_file(generated, &got);
	assert_non_null(strstr(got.data, "\nname=bsdvm\nmemory.size=512M\n"));
	buf_free(&got);
	listing = list_tmpdir();
	assert_string_equal(listing, "bhyve_config bhyve_config.generated");
	free(listing);
	free(generated);
	buf_free(&err);
	vm_clear(&vm);
}

/*
 * A file that already holds what would be written stays (no rename, no
 * write on the way to a restart); any difference -- its bytes, its mode,
 * a second name -- and it is replaced.
 */
static void
test_write_keeps_a_file_that_holds_it(void **state)
{
	struct vm_config	 vm;
	struct buf		 err, got;
	struct stat		 st, again;
	char			*generated, *other;
	FILE			*f;

	(void)state;
	vm_init(&vm, "bsdvm");
	xasprintf(&vm.configfile_stored, "%s/bhyve_config", tmpdir);
	copy_file(FIXTURES "/bsdvm.bhyve_config", vm.configfile_stored, 0640);
	generated = bhyve_config_generated_path(&vm);
	buf_init(&err);
	if (bhyve_config_write(&vm, &err) != 0)
		fail_msg("%s", err.data);
	assert_int_equal(stat(generated, &st), 0);

	if (bhyve_config_write(&vm, &err) != 0)
		fail_msg("%s", err.data);
	assert_int_equal(stat(generated, &again), 0);
	assert_true(again.st_ino == st.st_ino);

	/* Its bytes changed: replaced, with the right ones. */
	assert_non_null(f = fopen(generated, "a"));
	fputs("memory.size=1G\n", f);
	fclose(f);
	if (bhyve_config_write(&vm, &err) != 0)
		fail_msg("%s", err.data);
	assert_int_equal(stat(generated, &again), 0);
	assert_true(again.st_ino != st.st_ino);
	buf_init(&got);
	read_file(generated, &got);
	assert_same_as(&got, FIXTURES "/bsdvm.expected");
	buf_free(&got);

	/* Its mode changed: replaced. */
	st = again;
	assert_int_equal(chmod(generated, 0600), 0);
	if (bhyve_config_write(&vm, &err) != 0)
		fail_msg("%s", err.data);
	assert_int_equal(stat(generated, &again), 0);
	assert_true(again.st_ino != st.st_ino);
	assert_int_equal(again.st_mode & 0777, 0640);

	/* A second name: replaced, the other name left as it was. */
	st = again;
	xasprintf(&other, "%s/other", tmpdir);
	assert_int_equal(link(generated, other), 0);
	if (bhyve_config_write(&vm, &err) != 0)
		fail_msg("%s", err.data);
	assert_int_equal(stat(generated, &again), 0);
	assert_true(again.st_ino != st.st_ino);
	assert_int_equal(again.st_nlink, 1);
	assert_int_equal(stat(other, &again), 0);
	assert_true(again.st_ino == st.st_ino);
	free(other);
	free(generated);
	buf_free(&err);
	vm_clear(&vm);
}

static void
test_write_failures_name_the_file(void **state)
{
	struct vm_config	 vm;
	struct buf		 err;
	char			*path, *listing, *want;

	(void)state;
	vm_init(&vm, "x");
	buf_init(&err);

	/* No configfile to start from. */
	xasprintf(&vm.configfile_stored, "%s/missing", tmpdir);
	assert_int_equal(bhyve_config_write(&vm, &err), -1);
	xasprintf(&want, "cannot read the bhyve configuration file %s/missing: "
	    "No such file or directory", tmpdir);
	assert_string_equal(err.data, want);
	free(want);
	buf_reset(&err);

	/* A directory where the generated file goes: rename fails. */
	free(vm.configfile_stored);
	xasprintf(&vm.configfile_stored, "%s/bhyve_config", tmpdir);
	copy_file(FIXTURES "/noeol.bhyve_config", vm.configfile_stored, 0644);
	xasprintf(&path, "%s/bhyve_config.generated", tmpdir);
	assert_int_equal(mkdir(path, 0755), 0);
	free(path);
	xasprintf(&path, "%s/bhyve_config.generated/inside", tmpdir);
	assert_int_equal(mkdir(path, 0755), 0);
	free(path);
	assert_int_equal(bhyve_config_write(&vm, &err), -1);
	xasprintf(&want, "cannot write %s/bhyve_config.generated: ", tmpdir);
	assert_non_null(strstr(err.data, want));
	free(want);
	listing = list_tmpdir();
	assert_string_equal(listing, "bhyve_config bhyve_config.generated");
	free(listing);
	buf_reset(&err);

	/* A directory we may not write (meaningless as root). */
	if (geteuid() != 0) {
		xasprintf(&path, "%s/bhyve_config.generated/inside", tmpdir);
		rmdir(path);
		free(path);
		xasprintf(&path, "%s/bhyve_config.generated", tmpdir);
		rmdir(path);
		free(path);
		chmod(tmpdir, 0555);
		assert_int_equal(bhyve_config_write(&vm, &err), -1);
		assert_non_null(strstr(err.data, "Permission denied"));
		chmod(tmpdir, 0755);
		listing = list_tmpdir();
		assert_string_equal(listing, "bhyve_config");
		free(listing);
	}
	buf_free(&err);
	vm_clear(&vm);
}

/*
 * The configfile may have changed since the configuration was loaded:
 * a FIFO must not block the daemon in open(), a link to /dev/zero must
 * not be read to the end of memory, a huge file is refused.
 */
static void
test_configfile_that_cannot_end_is_refused(void **state)
{
	struct vm_config	 vm;
	struct buf		 err;
	char			*want, *listing;
	FILE			*f;

	(void)state;
	vm_init(&vm, "x");
	buf_init(&err);
	xasprintf(&vm.configfile_stored, "%s/bhyve_config", tmpdir);

	assert_int_equal(mkfifo(vm.configfile_stored, 0600), 0);
	assert_int_equal(bhyve_config_write(&vm, &err), -1);
	xasprintf(&want, "cannot read the bhyve configuration file %s: it is "
	    "a FIFO (named pipe), not a regular file", vm.configfile_stored);
	assert_string_equal(err.data, want);
	free(want);
	buf_reset(&err);

	assert_int_equal(unlink(vm.configfile_stored), 0);
	assert_int_equal(symlink("/dev/zero", vm.configfile_stored), 0);
	assert_int_equal(bhyve_config_write(&vm, &err), -1);
	xasprintf(&want, "cannot read the bhyve configuration file %s: it is "
	    "a character device, not a regular file", vm.configfile_stored);
	assert_string_equal(err.data, want);
	free(want);
	buf_reset(&err);

	assert_int_equal(unlink(vm.configfile_stored), 0);
	assert_non_null(f = fopen(vm.configfile_stored, "w"));
	assert_int_equal(fseek(f, BHYVE_CONFIG_MAX, SEEK_SET), 0);
	assert_int_equal(fputc('\n', f), '\n');
	assert_int_equal(fclose(f), 0);
	assert_int_equal(bhyve_config_write(&vm, &err), -1);
	xasprintf(&want, "cannot read the bhyve configuration file %s: it is "
	    "larger than 1 MiB, the limit for this file", vm.configfile_stored);
	assert_string_equal(err.data, want);
	free(want);
	listing = list_tmpdir();
	assert_string_equal(listing, "bhyve_config");
	free(listing);
	buf_free(&err);
	vm_clear(&vm);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup_tmp, teardown_tmp)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_alone_follows_the_file),
		cmocka_unit_test(test_every_setting),
		cmocka_unit_test(test_amd_hostbridge_uses_pcireg_and_13s_names),
		cmocka_unit_test(test_topology_written_whole),
		cmocka_unit_test(test_newline_added_when_missing),
		cmocka_unit_test(test_percent_stays_a_percent),
		cmocka_unit_test(test_console_line_comes_last),
		cmocka_unit_test(test_console_owner),
		cmocka_unit_test(test_last_value),
		cmocka_unit_test(test_loaded_compat_config),
		cmocka_unit_test(test_generated_path),
		T(test_write_replaces_atomically),
		T(test_write_keeps_a_file_that_holds_it),
		T(test_write_failures_name_the_file),
		T(test_configfile_that_cannot_end_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
