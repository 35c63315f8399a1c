/*
 * test_config.c: the configuration model, its defaults and its errors.
 *
 * Good configurations come from tests/fixtures/config/ (run from
 * tests/unit); each error class is a small config written into a fresh
 * temporary directory, and the test checks the words a person would read:
 * file, line, key and what was expected.
 */
#include <sys/types.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/sysmacros.h>
#endif

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
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
#include "config.h"

#define GOOD		"../fixtures/config/good"
#define DEFAULTS	"../fixtures/config/defaults"

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
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
teardown_tmp(void **state)
{
	(void)state;
	return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write text to tmpdir/rel, creating the directories on the way. */
static void
write_file(const char *rel, const char *text)
{
	char	 path[PATH_MAX], *p;
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	for (p = path + strlen(tmpdir) + 1; (p = strchr(p, '/')) != NULL;
	    p++) {
		*p = '\0';
		(void)mkdir(path, 0755);
		*p = '/';
	}
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

/* tmpdir/dir/config holding text, plus an empty tmpdir/dir/bhyve_config. */
static void
write_vm(const char *dir, const char *text)
{
	char	 rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/bhyve_config", dir);
	write_file(rel, "cpus=1\n");
	snprintf(rel, sizeof(rel), "%s/config", dir);
	write_file(rel, text);
}

static char *
tmp_path(const char *rel)
{
	char	*p;

	xasprintf(&p, "%s/%s", tmpdir, rel);
	return p;
}

/* Load tmpdir/dir; it must be valid. */
static struct vm_config *
load_ok(const char *dir, const struct daemon_config *dc)
{
	struct vm_config	*vm;
	char			*path, *error = NULL;

	path = tmp_path(dir);
	vm = cfg_load_vm(path, dc, &error);
	if (vm == NULL)
		fail_msg("%s refused:\n%s", path, error);
	free(path);
	return vm;
}

/* Load tmpdir/dir; it must be refused.  The errors, malloc'd. */
static char *
load_error(const char *dir, const struct daemon_config *dc)
{
	struct vm_config	*vm;
	char			*path, *error = NULL;

	path = tmp_path(dir);
	vm = cfg_load_vm(path, dc, &error);
	if (vm != NULL)
		fail_msg("%s was accepted", path);
	assert_non_null(error);
	free(path);
	return error;
}

/* One VM from text; its errors must contain each of the needles. */
static void
expect_errors(const char *text, ...)
{
	const char	*needle;
	char		*error;
	va_list		 ap;

	write_vm("vm", text);
	error = load_error("vm", NULL);
	va_start(ap, text);
	while ((needle = va_arg(ap, const char *)) != NULL)
		if (strstr(error, needle) == NULL)
			fail_msg("for:\n%s\nwant: %s\ngot:\n%s", text, needle,
			    error);
	va_end(ap);
	free(error);
}

/* "<tmpdir>/vm/config:LINE: " */
static const char *
at(int line)
{
	static char	 where[PATH_MAX];

	snprintf(where, sizeof(where), "%s/vm/config:%d: ", tmpdir, line);
	return where;
}

static size_t
count_lines(const char *s)
{
	size_t	 n = 1;

	for (; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

static void
test_bare_keys_take_the_directory_name(void **state)
{
	struct vm_config	*vm;
	char			*error;

	(void)state;
	vm = cfg_load_vm(GOOD "/bare", NULL, &error);
	assert_non_null(vm);
	assert_string_equal(vm->name, "bare");
	assert_string_equal(vm->dirname, "bare");
	assert_non_null(strstr(vm->dir, "/tests/fixtures/config/good/bare"));
	assert_true(vm->dir[0] == '/');
	assert_string_equal(vm->extra->os, "FreeBSD");
	assert_string_equal(vm->extra->osversion, "13.2");
	assert_string_equal(vm->extra->description, "A simple test VM");
	assert_int_equal(vm->memory_mb, 4096);
	assert_int_equal(vm->cpus, 4);
	assert_int_equal(vm->sockets, 2);
	assert_int_equal(vm->cores, 2);
	assert_int_equal(vm->maxrestart, 5);
	assert_int_equal(vm->maxrestarttime, 60);
	assert_int_equal(vm->generate_acpi_tables, CFG_YES);
	assert_int_equal(vm->vmexit_on_halt, CFG_YES);
	cfg_vm_free(vm);
}

static void
test_wrapped_section_names_the_vm(void **state)
{
	struct vm_config	*vm;
	char			*error, *want, path[PATH_MAX];

	(void)state;
	vm = cfg_load_vm(GOOD "/json", NULL, &error);
	assert_non_null(vm);
	assert_string_equal(vm->name, "jsonvm");
	assert_int_equal(vm->memory_mb, 512);
	assert_true(vm->autostart);
	assert_int_equal(vm->stoptimeout, 45);
	xasprintf(&want, "%s/bhyve_config", vm->dir);
	assert_string_equal(cfg_configfile(vm, path, sizeof(path)), want);
	/* Kept as its name in dir (config_pack.c). */
	assert_true(vm->configfile_in_dir);
	free(want);
	cfg_vm_free(vm);
}

static void
test_builtin_defaults(void **state)
{
	struct vm_config	*vm;
	char			*error, *want, path[PATH_MAX];
	int			 i;

	(void)state;
	vm = cfg_load_vm(GOOD "/bsdvm", NULL, &error);
	assert_non_null(vm);
	assert_string_equal(vm->name, "bsdvm");
	assert_int_equal(vm->hypervisor, HV_BHYVE);
	assert_false(vm->autostart);
	assert_int_equal(vm->maxrestart, 3);
	assert_int_equal(vm->maxrestarttime, 30);
	assert_int_equal(vm->stoptimeout, 30);
	assert_int_equal(vm->hooktimeout, 60);
	assert_int_equal(vm->memory_mb, 0);
	assert_int_equal(vm->cpus, 0);
	assert_int_equal(vm->generate_acpi_tables, CFG_UNSET);
	assert_int_equal(vm->vmexit_on_halt, CFG_UNSET);
	assert_int_equal(vm->wire_memory, CFG_UNSET);
	assert_null(cfg_extra(vm)->hostbridge);
	assert_null(vm->owner);
	assert_null(vm->group);
	assert_null(cfg_extra(vm)->bootrom);
	/* A bhyve VM that gives none keeps no room for the qemu keys
	 * nor for os, description, bootrom... */
	assert_null(vm->qemu);
	assert_null(vm->extra);
	assert_null(cfg_extra(vm)->os);
	assert_null(cfg_qemu(vm)->qemu_binary);
	assert_false(cfg_qemu(vm)->watchdog);
	for (i = 0; i < CFG_MAX_CONSOLES; i++)
		assert_false(vm->consoles[i].present);
	assert_string_equal(vm->scriptpath, vm->dir);
	xasprintf(&want, "%s/config", vm->dir);
	assert_string_equal(cfg_config_path(vm, path, sizeof(path)), want);
	free(want);
	cfg_vm_free(vm);
}

static void
test_qemu_keys(void **state)
{
	struct vm_config	*vm;
	char			*error, *want, path[PATH_MAX];

	(void)state;
	vm = cfg_load_vm(GOOD "/linux", NULL, &error);
	if (vm == NULL)
		fail_msg("%s", error);
	assert_int_equal(vm->hypervisor, HV_QEMU);
	assert_null(cfg_configfile(vm, path, sizeof(path)));
	assert_int_equal(vm->memory_mb, 256);
	assert_int_equal(vm->cpus, 2);
	xasprintf(&want, "%s/vmlinuz", vm->dir);
	assert_string_equal(vm->qemu->kernel, want);
	free(want);
	assert_non_null(strstr(vm->qemu->initrd, "/linux/initrd.img"));
	assert_string_equal(vm->qemu->append, "console=ttyS0 quiet");
	assert_int_equal(vm->qemu->ndisks, 2);
	assert_non_null(strstr(vm->qemu->disks[0], "/linux/disk0.img"));
	assert_non_null(strstr(vm->qemu->disks[1], "/linux/disk1.img"));
	assert_int_equal(vm->qemu->nqemu_args, 3);
	assert_string_equal(vm->qemu->qemu_args[0], "-nographic");
	assert_string_equal(vm->qemu->qemu_args[2], "mon:stdio");
	assert_int_equal(vm->stoptimeout, 20);
	assert_int_equal(vm->hooktimeout, 0);
	cfg_vm_free(vm);
}

static void
test_qemu_args_string_and_binary(void **state)
{
	struct vm_config	*vm;
	char			*want;

	(void)state;
	write_file("q/vmlinuz", "");
	write_file("q/config", "hypervisor = qemu\nkernel = vmlinuz\n"
	    "qemu_args = \"  -nographic   -vga none \"\n"
	    "qemu_binary = qemu-system-aarch64\n");
	vm = load_ok("q", NULL);
	assert_int_equal(vm->qemu->nqemu_args, 3);
	assert_string_equal(vm->qemu->qemu_args[0], "-nographic");
	assert_string_equal(vm->qemu->qemu_args[1], "-vga");
	assert_string_equal(vm->qemu->qemu_args[2], "none");
	assert_string_equal(vm->qemu->qemu_binary, "qemu-system-aarch64");
	cfg_vm_free(vm);

	write_file("q/config", "hypervisor = qemu\n"
	    "qemu_binary = bin/qemu\ndisk = [\"a.img\", \"/abs/b.img\"]\n");
	write_file("q/a.img", "");
	/* /abs/b.img does not exist: only the error says so. */
	want = load_error("q", NULL);
	assert_non_null(strstr(want, "disk: cannot read /abs/b.img"));
	free(want);
	write_file("q/config", "hypervisor = qemu\nqemu_binary = bin/qemu\n");
	vm = load_ok("q", NULL);
	xasprintf(&want, "%s/q/bin/qemu", tmpdir);
	assert_string_equal(vm->qemu->qemu_binary, want);
	free(want);
	cfg_vm_free(vm);
}

/*
 * A disk is raw unless its config says qcow2: the format is never read
 * from the image, whose bytes the guest writes.
 */
static void
test_disk_formats_come_from_the_config_only(void **state)
{
	struct vm_config	*vm, *other;
	char			*error;

	(void)state;
	write_file("q/a.img", "");
	write_file("q/b.qcow2", "QFI\xfb");
	write_file("q/c.img", "QFI\xfb");
	write_file("q/config", "hypervisor = qemu\n"
	    "disk = [ \"a.img\", { path = \"b.qcow2\"; format = qcow2; } ]\n"
	    "disk { path = c.img; format = RAW; }\n"
	    "disk = c.img\n");
	vm = load_ok("q", NULL);
	assert_int_equal(vm->qemu->ndisks, 4);
	assert_non_null(strstr(vm->qemu->disks[1], "/q/b.qcow2"));
	assert_int_equal(vm->qemu->disk_formats[0], CFG_DISK_RAW);
	assert_int_equal(vm->qemu->disk_formats[1], CFG_DISK_QCOW2);
	assert_int_equal(vm->qemu->disk_formats[2], CFG_DISK_RAW);
	assert_int_equal(vm->qemu->disk_formats[3], CFG_DISK_RAW);
	assert_string_equal(cfg_disk_format_name(vm->qemu->disk_formats[1]),
	    "qcow2");
	other = cfg_vm_dup(vm);
	assert_true(cfg_vm_equal(vm, other));
	other->qemu->disk_formats[3] = CFG_DISK_QCOW2;
	assert_false(cfg_vm_equal(vm, other));
	cfg_vm_free(other);
	cfg_vm_free(vm);

	write_file("q/config", "hypervisor = qemu\n"
	    "disk { path = a.img; format = vmdk; }\n"
	    "disk { format = qcow2; }\n"
	    "disk { path = a.img; size = 10G; }\n");
	error = load_error("q", NULL);
	assert_non_null(strstr(error, ":2: disk.format: expected raw or "
	    "qcow2"));
	assert_non_null(strstr(error, ":3: disk: a disk section needs its "
	    "path"));
	assert_non_null(strstr(error, ":4: disk.size: unknown key"));
	free(error);
}

static void
test_compatibility_keys(void **state)
{
	struct vm_config	*vm;
	char			*error;

	(void)state;
	vm = cfg_load_vm(GOOD "/compat", NULL, &error);
	if (vm == NULL)
		fail_msg("%s", error);
	assert_int_equal(vm->cpus, 2);
	assert_true(vm->autostart);
	assert_string_equal(vm->extra->hostbridge, "amd_hostbridge");
	assert_int_equal(vm->wire_memory, CFG_YES);
	assert_true(vm->consoles[0].present);
	assert_true(vm->consoles[0].enabled);
	assert_string_equal(vm->consoles[0].backend, "/dev/nmdm0A");
	assert_true(vm->consoles[1].present);
	assert_false(vm->consoles[1].enabled);
	assert_false(vm->consoles[2].present);
	cfg_vm_free(vm);

	write_vm("vm", "configfile = bhyve_config; hostbridge = yes;\n"
	    "consoles { com4 = stdio; }\n");
	vm = load_ok("vm", NULL);
	assert_string_equal(vm->extra->hostbridge, "hostbridge");
	assert_true(vm->consoles[3].enabled);
	assert_string_equal(vm->consoles[3].backend, "stdio");
	cfg_vm_free(vm);
}

/* memory = TEXT gives mb megabytes. */
static void
check_memory(const char *text, int64_t mb)
{
	struct vm_config	*vm;
	char			 config[256];

	snprintf(config, sizeof(config), "configfile = bhyve_config;\n"
	    "memory = %s;\n", text);
	write_vm("vm", config);
	vm = load_ok("vm", NULL);
	if (vm->memory_mb != mb)
		fail_msg("memory = %s: got %lld, want %lld", text,
		    (long long)vm->memory_mb, (long long)mb);
	cfg_vm_free(vm);
}

static void
test_memory_sizes_are_binary_like_bhyve(void **state)
{
	(void)state;
	check_memory("2048", 2048);
	check_memory("4G", 4096);
	check_memory("4g", 4096);
	check_memory("\"512M\"", 512);
	check_memory("\"4GB\"", 4096);
	check_memory("\"4GiB\"", 4096);
	check_memory("4gb", 4096);
	check_memory("1T", 1048576);
	check_memory("2048K", 2);
	check_memory("\"1024\"", 1024);
	check_memory("4m", 4);		/* UCL's minutes: the token counts */
}

static void
test_memory_errors(void **state)
{
	(void)state;
	write_vm("vm", "configfile = bhyve_config;\nmemory = lots;\n");
	expect_errors("configfile = bhyve_config;\n\n\nmemory = lots;\n",
	    "vm/config:4: memory: expected megabytes (e.g. 2048) or a size "
	    "with K/M/G/T suffix (e.g. \"4G\"), got \"lots\"", NULL);
	expect_errors("configfile = bhyve_config;\nmemory = 1.5G;\n",
	    "memory: expected megabytes", "got 1.5G", NULL);
	expect_errors("configfile = bhyve_config;\nmemory = 1000K;\n",
	    "memory: 1000K is not a whole number of megabytes", NULL);
	expect_errors("configfile = bhyve_config;\nmemory = 0;\n",
	    "memory: 0 is out of range: expected a size from 1M to 16T", NULL);
	expect_errors("configfile = bhyve_config;\nmemory = [1];\n",
	    "memory: expected megabytes", "got a list", NULL);
}

static void
test_seconds_and_booleans(void **state)
{
	struct vm_config	*vm;

	(void)state;
	write_vm("vm", "configfile = bhyve_config;\nmaxrestarttime = 30s;\n"
	    "stoptimeout = 2min;\nhooktimeout = \"45\";\nautostart = \"on\";\n"
	    "generate_acpi_tables = false;\nvmexit_on_halt = 1;\n"
	    "wire_memory = \"no\";\n");
	vm = load_ok("vm", NULL);
	assert_int_equal(vm->maxrestarttime, 30);
	assert_int_equal(vm->stoptimeout, 120);
	assert_int_equal(vm->hooktimeout, 45);
	assert_true(vm->autostart);
	assert_int_equal(vm->generate_acpi_tables, CFG_NO);
	assert_int_equal(vm->vmexit_on_halt, CFG_YES);
	assert_int_equal(vm->wire_memory, CFG_NO);
	cfg_vm_free(vm);

	expect_errors("configfile = bhyve_config;\nautostart = \"maybe\";\n",
	    "config:2: autostart: expected yes or no, got \"maybe\"", NULL);
	expect_errors("configfile = bhyve_config;\nstoptimeout = 500ms;\n",
	    "stoptimeout: 500ms is not a whole number of seconds", NULL);
	expect_errors("configfile = bhyve_config;\nhooktimeout = soon;\n",
	    "hooktimeout: expected seconds from 0 to", "got \"soon\"", NULL);
}

static void
test_relative_paths_become_absolute(void **state)
{
	struct vm_config	*vm;
	char			*want, path[PATH_MAX];

	(void)state;
	write_file("vm/scripts/.keep", "");
	write_file("vm/fw/rom.fd", "");
	write_vm("vm", "configfile = ./bhyve_config;\nscriptpath = scripts;\n"
	    "bootrom = fw/rom.fd;\n");
	vm = load_ok("vm", NULL);
	xasprintf(&want, "%s/vm/bhyve_config", tmpdir);
	assert_string_equal(cfg_configfile(vm, path, sizeof(path)), want);
	free(want);
	xasprintf(&want, "%s/vm/scripts", tmpdir);
	assert_string_equal(vm->scriptpath, want);
	free(want);
	xasprintf(&want, "%s/vm/fw/rom.fd", tmpdir);
	assert_string_equal(vm->extra->bootrom, want);
	free(want);
	cfg_vm_free(vm);
}

/* cpus/sockets/cores/threads as written, and what they must become. */
static void
check_topology(const char *keys, int64_t cpus, int64_t sockets,
    int64_t cores, int64_t threads)
{
	struct vm_config	*vm;
	char			 config[256];

	snprintf(config, sizeof(config), "configfile = bhyve_config;\n%s\n",
	    keys);
	write_vm("vm", config);
	vm = load_ok("vm", NULL);
	if (vm->cpus != cpus || vm->sockets != sockets || vm->cores != cores ||
	    vm->threads != threads)
		fail_msg("%s: got cpus %lld sockets %lld cores %lld threads "
		    "%lld", keys, (long long)vm->cpus, (long long)vm->sockets,
		    (long long)vm->cores, (long long)vm->threads);
	cfg_vm_free(vm);
}

static void
test_cpu_topology(void **state)
{
	(void)state;
	check_topology("cpus = 4;", 4, 0, 0, 0);
	check_topology("numcpus = 3;", 3, 0, 0, 0);
	check_topology("sockets = 2; cores = 4;", 8, 2, 4, 1);
	check_topology("cpus = 8; cores = 4;", 8, 2, 4, 1);
	check_topology("cpus = 2; sockets = 2;", 2, 2, 1, 1);
	check_topology("cores = 2;", 2, 1, 2, 1);
	check_topology("threads = 2;", 2, 1, 1, 2);
	check_topology("cpus = 8; cores = 2; threads = 2;", 8, 2, 2, 2);
	check_topology("sockets = 2; cores = 2; threads = 2;", 8, 2, 2, 2);
	expect_errors("configfile = bhyve_config;\ncpus = 6;\nsockets = 2;\n"
	    "cores = 2;\n", "config:2: cpus: 6 does not match sockets (2) x "
	    "cores (2) x threads (1) = 4; bhyve refuses such a topology: "
	    "correct one of them, or leave cpus out", NULL);
	expect_errors("configfile = bhyve_config;\ncpus = 4;\nsockets = 1;\n"
	    "threads = 2;\n", "config:2: cpus: 4 does not match sockets (1) x "
	    "cores (1) x threads (2) = 2", NULL);
	expect_errors("configfile = bhyve_config;\ncpus = 3;\ncores = 2;\n",
	    "cpus: 3 virtual CPUs cannot be split into sockets of 2 cores x "
	    "1 threads; make it a multiple of 2, or give sockets", NULL);
	expect_errors("configfile = bhyve_config;\ncpus = 6;\ncores = 2;\n"
	    "threads = 2;\n", "cpus: 6 virtual CPUs cannot be split into "
	    "sockets of 2 cores x 2 threads; make it a multiple of 4", NULL);
	expect_errors("configfile = bhyve_config;\nsockets = 32;\n"
	    "cores = 16;\n", "sockets: sockets (32) x cores (16) x threads "
	    "(1) makes 512 virtual CPUs; at most 256", NULL);
	expect_errors("configfile = bhyve_config;\ncores = 16;\n"
	    "threads = 32;\n", "cores: sockets (1) x cores (16) x threads "
	    "(32) makes 512 virtual CPUs; at most 256", NULL);
	expect_errors("configfile = bhyve_config;\nthreads = 0;\n",
	    "threads: 0 is out of range: expected a number of threads per "
	    "core from 1 to 256", NULL);
	expect_errors("configfile = bhyve_config;\ncpus = 0;\n",
	    "cpus: 0 is out of range: expected a number of virtual CPUs from "
	    "1 to 256", NULL);
	expect_errors("configfile = bhyve_config;\ncpus = 2;\nnumcpus = 2;\n",
	    "config:3: numcpus: is the old name of cpus, which is also given "
	    "(line 2); keep one", NULL);
}

/* A VM whose config is text and whose bhyve configuration file is file. */
static void
write_vm_with_file(const char *text, const char *file)
{
	write_vm("vm", text);
	write_file("vm/bhyve_config", file);
}

/*
 * cpus alone is written after the bhyve configuration file, which bhyve
 * reads its sockets, cores and threads from, with sockets defaulting to
 * cpus (bhyverun.c, calc_topology).
 */
static void
test_cpus_against_file_topology(void **state)
{
	struct vm_config	*vm;
	char			*error, *want;

	(void)state;
	/* sockets = cpus by default, so cores=2 makes 8 of 4. */
	write_vm_with_file("configfile = bhyve_config;\ncpus = 4;\n",
	    "name=x\n# cores=4\ncores=2\n");
	error = load_error("vm", NULL);
	xasprintf(&want, "%scpus: 4 does not match the topology of %s/vm/"
	    "bhyve_config: sockets (4, bhyve's default) x cores (2, line 3) x "
	    "threads (1, bhyve's default) = 8; bhyve refuses such a topology: "
	    "give sockets, cores and threads here as well, or correct that "
	    "file", at(2), tmpdir);
	if (strstr(error, want) == NULL)
		fail_msg("want: %s\ngot:\n%s", want, error);
	free(want);
	free(error);

	/* The last value of a key wins, as in bhyve. */
	write_vm_with_file("configfile = bhyve_config;\ncpus = 4;\n",
	    "sockets=1\ncores=2\nthreads=2\nsockets=3\n");
	error = load_error("vm", NULL);
	if (strstr(error, "sockets (3, line 4) x cores (2, line 2) x threads "
	    "(2, line 3) = 12") == NULL)
		fail_msg("got:\n%s", error);
	free(error);

	/* The file's own cpus, when the config gives none. */
	write_vm_with_file("configfile = bhyve_config;\n",
	    "cpus=4\ncores=0x2\n");
	error = load_error("vm", NULL);
	xasprintf(&want, "%sconfigfile: %s/vm/bhyve_config line 1: cpus=4 "
	    "does not match sockets (4, bhyve's default) x cores (2, line 2) "
	    "x threads (1, bhyve's default) = 8", at(1), tmpdir);
	if (strstr(error, want) == NULL)
		fail_msg("want: %s\ngot:\n%s", want, error);
	free(want);
	free(error);

	/* Consistent: accepted. */
	write_vm_with_file("configfile = bhyve_config;\ncpus = 4;\n",
	    "sockets=1\ncores=2\nthreads=2\n");
	vm = load_ok("vm", NULL);
	assert_int_equal(vm->cpus, 4);
	assert_int_equal(vm->sockets, 0);
	cfg_vm_free(vm);
	/* The config's own topology replaces the file's: all are written. */
	write_vm_with_file("configfile = bhyve_config;\ncpus = 4;\ncores = 4;"
	    "\n", "cores=2\n");
	vm = load_ok("vm", NULL);
	assert_int_equal(vm->sockets, 1);
	assert_int_equal(vm->cores, 4);
	cfg_vm_free(vm);
	/* A value bhyve expands, or would reject itself: bhyve judges. */
	write_vm_with_file("configfile = bhyve_config;\ncpus = 4;\n",
	    "cores=%(mycores)\n");
	cfg_vm_free(load_ok("vm", NULL));
	write_vm_with_file("configfile = bhyve_config;\ncpus = 4;\n",
	    " cores=2\nsockets\n");
	cfg_vm_free(load_ok("vm", NULL));
}

static void
test_unknown_key_suggests_the_nearest(void **state)
{
	(void)state;
	expect_errors("configfile = bhyve_config;\nmemroy = 4G;\n",
	    "config:2: memroy: unknown key; did you mean \"memory\"?", NULL);
	expect_errors("configfile = bhyve_config;\nstop_timeout = 4;\n",
	    "stop_timeout: unknown key; did you mean \"stoptimeout\"?", NULL);
	expect_errors("configfile = bhyve_config;\nfrobnicate = 4;\n",
	    "frobnicate: unknown key; see vmstated.conf(5)", NULL);
	expect_errors("configfile = bhyve_config;\nsocket_mode = \"0660\";\n",
	    "socket_mode: is a daemon setting, not a VM's: move it to "
	    "vmstated.conf", NULL);
	expect_errors("configfile = bhyve_config;\n"
	    "consoles { com5 { backend = x; } }\n",
	    "consoles.com5: unknown key; did you mean \"com1\"?", NULL);
}

static void
test_wrong_types_and_ranges(void **state)
{
	(void)state;
	expect_errors("configfile = bhyve_config;\nmaxrestart = -1;\n",
	    "maxrestart: -1 is out of range: expected a number of restarts "
	    "from 0 to", NULL);
	expect_errors("configfile = bhyve_config;\nmaxrestart = often;\n",
	    "maxrestart: expected a number of restarts from 0 to 1000000, got "
	    "\"often\"", NULL);
	expect_errors("configfile = bhyve_config;\nhypervisor = kvm;\n",
	    "hypervisor: expected bhyve or qemu, got \"kvm\"", NULL);
	expect_errors("configfile = bhyve_config;\nos { x = 1; }\n",
	    "os: expected a string, got a section { ... }", NULL);
	expect_errors("configfile = bhyve_config;\nmaxrestarttime = 0;\n",
	    "maxrestarttime: 0 is out of range: expected seconds from 1", NULL);
	expect_errors("configfile = bhyve_config;\nhostbridge = intel;\n",
	    "hostbridge: expected hostbridge, amd_hostbridge, yes or no", NULL);
	expect_errors("configfile = \"\";\n",
	    "configfile: expected a path, got an empty string", NULL);
	expect_errors("configfile = \"bhyve\\nconfig\";\n",
	    "configfile: contains a control character", NULL);
}

static void
test_missing_configfile(void **state)
{
	char	*error;

	(void)state;
	write_file("vm/config", "vm {\n\tos = FreeBSD;\n}\n");
	error = load_error("vm", NULL);
	assert_non_null(strstr(error, at(1)));
	assert_non_null(strstr(error, "configfile: missing: a bhyve VM needs "
	    "the bhyve configuration file"));
	free(error);
}

static void
test_owner_and_group_must_exist(void **state)
{
	struct vm_config	*vm;
	struct passwd		*pw = getpwuid(getuid());
	struct group		*gr = getgrgid(getgid());
	char			 config[512];

	(void)state;
	assert_non_null(pw);
	assert_non_null(gr);
	snprintf(config, sizeof(config), "configfile = bhyve_config;\n"
	    "owner = \"%s\";\ngroup = \"%s\";\n", pw->pw_name, gr->gr_name);
	write_vm("vm", config);
	vm = load_ok("vm", NULL);
	assert_string_equal(vm->owner, pw->pw_name);
	assert_int_equal(vm->owner_uid, getuid());
	assert_string_equal(vm->group, gr->gr_name);
	assert_int_equal(vm->group_gid, getgid());
	cfg_vm_free(vm);

	expect_errors("configfile = bhyve_config;\nowner = nosuchuser0x;\n"
	    "group = nosuchgroup0x;\n",
	    "config:2: owner: no such user \"nosuchuser0x\" on this host; "
	    "create the user or correct the name",
	    "config:3: group: no such group \"nosuchgroup0x\"", NULL);
}

static void
test_unreadable_files(void **state)
{
	(void)state;
	expect_errors("configfile = nothere;\n", "config:1: configfile: cannot "
	    "read ", "/vm/nothere: No such file or directory", NULL);
	write_file("vm/adir/.keep", "");
	expect_errors("configfile = adir;\n", "configfile: cannot use ",
	    "/vm/adir: it is a directory, not a regular file", NULL);
	expect_errors("configfile = bhyve_config;\nbootrom = /no/such.fd;\n",
	    "config:2: bootrom: cannot read /no/such.fd", NULL);
	expect_errors("configfile = bhyve_config;\n"
	    "scriptpath = bhyve_config;\n",
	    "scriptpath: ", "/vm/bhyve_config is not a directory", NULL);
	expect_errors("hypervisor = qemu;\nkernel = /no/vmlinuz;\n",
	    "config:2: kernel: cannot read /no/vmlinuz", NULL);
}

/*
 * A FIFO would block whoever opens it, /dev/zero never ends: a file key
 * naming one is refused at load, with file, line and key.
 */
static void
test_fifo_and_device_files_refused(void **state)
{
	char	*fifo, *zero;

	(void)state;
	write_vm("vm", "");
	fifo = tmp_path("vm/fifo");
	zero = tmp_path("vm/zero");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(symlink("/dev/zero", zero), 0);
	expect_errors("configfile = fifo;\n", at(1), "configfile: cannot use ",
	    "/vm/fifo: it is a FIFO (named pipe), not a regular file", NULL);
	expect_errors("configfile = zero;\n", at(1), "configfile: cannot use ",
	    "/vm/zero: it is a character device, not a regular file", NULL);
	expect_errors("configfile = bhyve_config;\nbootrom = fifo;\n", at(2),
	    "bootrom: cannot use ", "/vm/fifo: it is a FIFO", NULL);
	expect_errors("hypervisor = qemu;\nkernel = zero;\ninitrd = fifo;\n",
	    at(2), "kernel: cannot use ", "/vm/zero: it is a character "
	    "device, not a regular file", at(3), "initrd: cannot use ", NULL);
	/* A disk may be a device, not a FIFO. */
	expect_errors("hypervisor = qemu;\ndisk = [/dev/null, fifo];\n", at(2),
	    "disk: cannot use ", "/vm/fifo: it is a FIFO (named pipe), not a "
	    "regular file or a device", NULL);
	free(fifo);
	free(zero);
}

/* A config holding `key = "<n times c>";` plus a configfile. */
static char *
config_with_long(const char *key, size_t n, char c)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b);
	buf_printf(&b, "configfile = bhyve_config;\n%s = \"", key);
	for (i = 0; i < n; i++)
		buf_putc(&b, c);
	buf_puts(&b, "\";\n");
	return buf_steal(&b);
}

/*
 * Every string is copied into each status reply: each has a limit, and
 * an error about one never repeats it.
 */
static void
test_string_limits(void **state)
{
	struct vm_config	*vm;
	char			*text, *error;

	(void)state;
	text = config_with_long("description", 1024, 'd');
	write_vm("vm", text);
	vm = load_ok("vm", NULL);
	assert_int_equal(strlen(vm->extra->description), 1024);
	cfg_vm_free(vm);
	free(text);
	text = config_with_long("description", 1025, 'd');
	expect_errors(text, at(2), "description: is 1025 bytes long; at most "
	    "1024 are allowed: shorten it", NULL);
	free(text);
	text = config_with_long("description", 900 * 1024, 'x');
	write_vm("vm", text);
	error = load_error("vm", NULL);
	assert_non_null(strstr(error, "description: is 921600 bytes long"));
	assert_true(strlen(error) < 300);
	free(error);
	free(text);
	/* Larger, the file itself is refused. */
	text = config_with_long("description", 10 * 1024 * 1024, 'x');
	expect_errors(text, "/vm/config: cannot read: it holds more than 1 MiB, "
	    "the limit for a configuration file with the files it includes",
	    NULL);
	free(text);
	text = config_with_long("owner", 33, 'u');
	expect_errors(text, "owner: is 33 bytes long; at most 32", NULL);
	free(text);
	text = config_with_long("osversion", 65, '1');
	expect_errors(text, "osversion: is 65 bytes long; at most 64", NULL);
	free(text);
	text = config_with_long("bootrom", 1024, 'p');
	expect_errors(text, "bootrom: is 1024 bytes long; at most 1023", NULL);
	free(text);
	/* A relative path is measured once made absolute. */
	text = config_with_long("bootrom", 1020, 'p');
	expect_errors(text, "bootrom: is ", " bytes long as an absolute path; "
	    "at most 1023 are allowed", NULL);
	free(text);
	text = config_with_long("name", 65, 'n');
	expect_errors(text, "name: is 65 bytes long; at most 64", NULL);
	free(text);
}

static void
test_list_limits(void **state)
{
	struct buf	 b;
	int		 i;

	(void)state;
	buf_init(&b);
	buf_puts(&b, "hypervisor = qemu;\ndisk = [");
	for (i = 0; i < 65; i++)
		buf_puts(&b, "/dev/null, ");
	buf_puts(&b, "];\n");
	expect_errors(b.data, at(2), "disk: more than 64 disks; at most 64 "
	    "are allowed", NULL);
	buf_reset(&b);
	buf_puts(&b, "hypervisor = qemu;\nqemu_args = \"");
	for (i = 0; i < 257; i++)
		buf_puts(&b, "-a ");
	buf_puts(&b, "\";\n");
	expect_errors(b.data, at(2), "qemu_args: more than 256 qemu_args; at "
	    "most 256 are allowed", NULL);
	buf_reset(&b);
	buf_puts(&b, "hypervisor = qemu;\n");
	for (i = 0; i < 257; i++)
		buf_puts(&b, "qemu_args = [-a];\n");
	expect_errors(b.data, at(258), "qemu_args: more than 256", NULL);
	buf_free(&b);
}

static void
test_invalid_utf8_refused(void **state)
{
	char	*error;

	(void)state;
	expect_errors("configfile = bhyve_config;\ndescription = \"caf\xe9\";\n",
	    at(2), "description: is not valid UTF-8 (byte 0xe9 at offset 3); "
	    "write it in UTF-8", NULL);
	expect_errors("configfile = bhyve_config;\nos = \xff;\n", at(2),
	    "os: is not valid UTF-8 (byte 0xff at offset 0)", NULL);
	write_vm("vm", "configfile = bhyve_config;\n"
	    "description = \"caf\xc3\xa9 \xe2\x82\xac\";\n");
	cfg_vm_free(load_ok("vm", NULL));
	/* A relative path takes the bytes of the directory's name. */
	write_vm("caf\xe9", "vm { configfile = bhyve_config; }\n");
	error = load_error("caf\xe9", NULL);
	assert_non_null(strstr(error, "config:1: configfile: the absolute path "
	    "made from \"bhyve_config\" has a byte that is not UTF-8 or is a "
	    "control character (0xe9 at offset "));
	free(error);
}

/* A file of many errors reports the first ones, and how many more. */
static void
test_errors_are_capped(void **state)
{
	struct buf	 b;
	char		*error, *last;
	int		 i;

	(void)state;
	buf_init(&b);
	buf_puts(&b, "configfile = bhyve_config;\n");
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "unknown%d = 1;\n", i);
	write_vm("vm", b.data);
	error = load_error("vm", NULL);
	last = strrchr(error, '\n');
	assert_non_null(last);
	assert_string_equal(last, "\n... and 980 more errors in this file, "
	    "not shown");
	assert_non_null(strstr(error, "config:21: unknown19: unknown key"));
	assert_null(strstr(error, "unknown20:"));
	free(error);
	/* A section key too long for a name is not repeated whole. */
	buf_reset(&b);
	for (i = 0; i < 10000; i++)
		buf_putc(&b, 'v');
	buf_puts(&b, " { configfile = bhyve_config; }\n");
	write_vm("vm", b.data);
	error = load_error("vm", NULL);
	assert_non_null(strstr(error, "\"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
	    "...\" (from the section) is not a valid VM name"));
	assert_true(strlen(error) < 400);
	free(error);
	buf_free(&b);
}

/* chmod tmpdir/rel. */
static void
chmod_file(const char *rel, mode_t mode)
{
	char	*path = tmp_path(rel);

	assert_int_equal(chmod(path, mode), 0);
	free(path);
}

/*
 * Root acts on what these files say or hold: a config, an included file,
 * vmstated.conf, and the files a VM names (disks aside) that group or
 * others could write make the VM invalid (trust.c has the rule).
 */
static void
test_untrusted_files(void **state)
{
	struct daemon_config	 dc;
	char			*error;

	(void)state;
	write_vm("vm", "configfile = bhyve_config;\n");
	chmod_file("vm/config", 0664);
	error = load_error("vm", NULL);
	assert_non_null(strstr(error, "/vm/config: is not trusted: it is "
	    "writable by group (owner uid "));
	assert_non_null(strstr(error, "run chmod go-w "));
	free(error);
	chmod_file("vm/config", 0644);

	write_file("vm/fw.fd", "");
	chmod_file("vm/fw.fd", 0646);
	expect_errors("configfile = bhyve_config;\nbootrom = fw.fd;\n",
	    "config:2: bootrom: ", "/vm/fw.fd is not trusted: it is writable "
	    "by others", NULL);
	chmod_file("vm/bhyve_config", 0666);
	expect_errors("configfile = bhyve_config;\n", "config:1: configfile: ",
	    "/vm/bhyve_config is not trusted: it is writable by group and "
	    "others", NULL);
	chmod_file("vm/bhyve_config", 0644);
	write_file("vm/hooks/.keep", "");
	chmod_file("vm/hooks", 0775);
	expect_errors("configfile = /dev/null;\nscriptpath = hooks;\n",
	    "config:2: scriptpath: ", "/vm/hooks is not trusted: it is "
	    "writable by group", NULL);
	write_file("vm/k/vmlinuz", "");
	chmod_file("vm/k", 0777);
	expect_errors("hypervisor = qemu;\nkernel = k/vmlinuz;\n",
	    "config:2: kernel: ", "/vm/k/vmlinuz is not trusted: the "
	    "directory ", "/vm/k above it is writable by group and others",
	    NULL);
	write_file("vm/initrd.img", "");
	chmod_file("vm/initrd.img", 0664);
	expect_errors("hypervisor = qemu;\nkernel = /dev/null;\n"
	    "initrd = initrd.img;\n", "config:3: initrd: ", NULL);
	/* A disk is the guest's: whoever may write it is the admin's call. */
	write_file("vm/disk.img", "");
	chmod_file("vm/disk.img", 0666);
	write_vm("vm", "hypervisor = qemu;\ndisk = disk.img;\n");
	cfg_vm_free(load_ok("vm", NULL));

	write_file("vm/more.conf", "memory = 1G;\n");
	chmod_file("vm/more.conf", 0664);
	expect_errors("configfile = /dev/null;\n.include \"more.conf\"\n",
	    "/vm/more.conf: is not trusted: it is writable by group", NULL);

	write_file("vmstated.conf", "rundir = /tmp;\n");
	chmod_file("vmstated.conf", 0664);
	assert_int_equal(cfg_load_daemon(tmpdir, &dc, &error), -1);
	assert_non_null(strstr(error, "/vmstated.conf: is not trusted: it is "
	    "writable by group"));
	free(error);
	cfg_daemon_free(&dc);
}

static void
test_duplicate_key(void **state)
{
	(void)state;
	expect_errors("configfile = bhyve_config;\nmemory = 1G;\n"
	    "memory = 2G;\n", "config:3: memory: given twice (first on "
	    "line 2); keep one", NULL);
}

static void
test_every_error_is_reported(void **state)
{
	char	*error;

	(void)state;
	write_vm("vm", "vm {\n configfile = bhyve_config;\n memory = lots;\n"
	    " cpus = many;\n stoptimeout = 0;\n colour = blue;\n}\n");
	error = load_error("vm", NULL);
	assert_int_equal(count_lines(error), 4);
	assert_non_null(strstr(error, at(3)));
	assert_non_null(strstr(error, at(4)));
	assert_non_null(strstr(error, at(5)));
	assert_non_null(strstr(error, at(6)));
	/* In line order. */
	assert_true(strstr(error, at(3)) < strstr(error, at(6)));
	free(error);
}

static void
test_syntax_error_names_line_and_column(void **state)
{
	char	*error;

	(void)state;
	write_vm("vm", "vm {\n  configfile = bhyve_config;\n");
	error = load_error("vm", NULL);
	assert_int_equal(count_lines(error), 1);
	assert_non_null(strstr(error, "/vm/config:3:1: unterminated section "
	    "\"vm\" opened at line 1"));
	free(error);
	write_vm("vm", "vm {\n  description = \"abc\n}\n");
	error = load_error("vm", NULL);
	assert_non_null(strstr(error, "/vm/config:2:21: unterminated string"));
	free(error);
}

static void
test_keys_of_the_other_hypervisor(void **state)
{
	(void)state;
	expect_errors("configfile = bhyve_config;\nkernel = bhyve_config;\n",
	    "config:2: kernel: is a qemu setting, and this VM's hypervisor is "
	    "bhyve; remove it, or set hypervisor = qemu", NULL);
	expect_errors("hypervisor = qemu;\nconfigfile = bhyve_config;\n"
	    "vmexit_on_halt = yes;\n",
	    "config:2: configfile: is a bhyve setting",
	    "config:3: vmexit_on_halt: is a bhyve setting", NULL);
	expect_errors("hypervisor = qemu;\nappend = \"quiet\";\n",
	    "config:2: append: needs kernel", NULL);
	/* bhyve has no watchdog the daemon could hear of. */
	expect_errors("configfile = bhyve_config;\nwatchdog = yes;\n",
	    "config:2: watchdog: is a qemu setting, and this VM's hypervisor "
	    "is bhyve", NULL);
}

static void
test_names(void **state)
{
	struct vm_config	*vm;

	(void)state;
	write_vm("vm", "configfile = bhyve_config;\nname = web-01.example;\n");
	vm = load_ok("vm", NULL);
	assert_string_equal(vm->name, "web-01.example");
	cfg_vm_free(vm);
	write_vm("vm", "outer {\nconfigfile = bhyve_config;\n"
	    "name = inner;\n}\n");
	vm = load_ok("vm", NULL);
	assert_string_equal(vm->name, "inner");
	cfg_vm_free(vm);
	expect_errors("\"-x\" { configfile = bhyve_config; }\n",
	    "config:1: name: \"-x\" (from the section) is not a valid VM name",
	    NULL);
	expect_errors("configfile = bhyve_config;\nname = \"a/b\";\n",
	    "config:2: name: \"a/b\" (from name) is not a valid VM name", NULL);
	expect_errors("configfile = bhyve_config;\n"
	    "name = abcdefghijklmnopqrstuvwxyz0123456789;\n",
	    "name: \"abcdefghijklmnopqrstuvwxyz0123456789\" is 36 characters "
	    "long; bhyve accepts at most 31", NULL);
	write_file("bad dir/vmlinuz", "");
	write_file("bad dir/config", "hypervisor = qemu;\n");
	free(load_error("bad dir", NULL));
	expect_errors("a { configfile = bhyve_config; }\n"
	    "b { configfile = bhyve_config; }\n",
	    "config:1: holds 2 VM sections (\"a\" on line 1, \"b\" on line 2); "
	    "a config file describes one VM", NULL);
}

static void
test_no_config_file(void **state)
{
	char	*error;

	(void)state;
	write_file("empty/notes.txt", "");
	error = load_error("empty", NULL);
	assert_non_null(strstr(error,
	    "/empty/config: no config file; create "));
	assert_non_null(strstr(error, "or remove the directory"));
	free(error);
}

static void
test_case_insensitive_keys(void **state)
{
	struct vm_config	*vm;

	(void)state;
	write_vm("vm", "ConfigFile = bhyve_config;\nMemory = 1G;\n");
	vm = load_ok("vm", NULL);
	assert_int_equal(vm->memory_mb, 1024);
	cfg_vm_free(vm);
}

static void
test_load_all(void **state)
{
	struct cfg_set	*set;
	size_t		 i;

	(void)state;
	set = cfg_load_all(GOOD, NULL);
	assert_non_null(set);
	for (i = 0; i < set->ninvalid; i++)
		print_error("%s\n", set->invalid[i].error);
	assert_int_equal(set->ninvalid, 0);
	assert_int_equal(set->nvms, 5);
	/* Sorted by directory name; .hidden and README skipped. */
	assert_string_equal(set->vms[0]->dirname, "bare");
	assert_string_equal(set->vms[1]->dirname, "bsdvm");
	assert_string_equal(set->vms[2]->dirname, "compat");
	assert_string_equal(set->vms[3]->dirname, "json");
	assert_string_equal(set->vms[4]->dirname, "linux");
	assert_string_equal(set->vms[3]->name, "jsonvm");
	cfg_set_free(set);
}

static void
test_load_all_keeps_good_vms_beside_bad_ones(void **state)
{
	struct cfg_set	*set;

	(void)state;
	write_vm("a", "configfile = bhyve_config;\n");
	write_vm("b", "configfile = bhyve_config;\nmemory = lots;\n");
	write_file("c/README", "");
	write_file("vmstated.conf", "");
	set = cfg_load_all(tmpdir, NULL);
	assert_non_null(set);
	assert_int_equal(set->nvms, 1);
	assert_string_equal(set->vms[0]->name, "a");
	assert_int_equal(set->ninvalid, 2);
	assert_string_equal(set->invalid[0].name, "b");
	assert_non_null(strstr(set->invalid[0].dir, "/b"));
	assert_non_null(strstr(set->invalid[0].error, "/b/config:2: memory:"));
	assert_string_equal(set->invalid[1].name, "c");
	assert_non_null(strstr(set->invalid[1].error, "no config file"));
	cfg_set_free(set);
}

static void
test_duplicate_names_refuse_both(void **state)
{
	struct cfg_set	*set;
	char		*one, *two;

	(void)state;
	write_vm("one", "web { configfile = bhyve_config; }\n");
	write_vm("two", "configfile = bhyve_config;\nname = web;\n");
	write_vm("three", "configfile = bhyve_config;\n");
	set = cfg_load_all(tmpdir, NULL);
	assert_non_null(set);
	assert_int_equal(set->nvms, 1);
	assert_string_equal(set->vms[0]->name, "three");
	assert_int_equal(set->ninvalid, 2);
	one = tmp_path("one");
	two = tmp_path("two");
	assert_string_equal(set->invalid[0].name, "web");
	assert_non_null(strstr(set->invalid[0].error, "/one/config:1: name: "
	    "\"web\" is also the name of the VM in "));
	assert_non_null(strstr(set->invalid[0].error, two));
	assert_non_null(strstr(set->invalid[1].error, "/two/config:2: name: "));
	assert_non_null(strstr(set->invalid[1].error, one));
	free(one);
	free(two);
	cfg_set_free(set);
}

static void
test_load_all_unreadable_directory(void **state)
{
	(void)state;
	errno = 0;
	assert_null(cfg_load_all("/nonexistent/vmstated", NULL));
	assert_int_equal(errno, ENOENT);
}

static void
test_daemon_builtin_defaults(void **state)
{
	struct daemon_config	 dc;
	char			*error, *want;

	(void)state;
	assert_int_equal(cfg_load_daemon(tmpdir, &dc, &error), 0);
	assert_null(error);
	xasprintf(&want, "%s/vmstated.conf", tmpdir);
	assert_string_equal(dc.path, want);
	free(want);
	assert_false(dc.socket_mode_set);
	assert_null(dc.socket_group);
	assert_string_equal(dc.rundir, RUNSTATEDIR "/vmstated");
	assert_string_equal(dc.bhyve_path, "/usr/sbin/bhyve");
	assert_string_equal(dc.bhyvectl_path, "/usr/sbin/bhyvectl");
	assert_string_equal(dc.qemu_path, "qemu-system-x86_64");
	assert_int_equal(dc.defaults.maxrestart, 3);
	assert_int_equal(dc.defaults.stoptimeout, 30);
	cfg_daemon_free(&dc);
}

static void
test_daemon_keys_and_defaults(void **state)
{
	struct daemon_config	 dc;
	struct cfg_set		*set;
	char			*error;

	(void)state;
	if (cfg_load_daemon(DEFAULTS, &dc, &error) != 0)
		fail_msg("%s", error);
	assert_true(dc.socket_mode_set);
	assert_int_equal(dc.socket_mode, 0660);
	assert_true(dc.rundir[0] == '/');
	assert_non_null(strstr(dc.rundir, "/fixtures/config/defaults/run"));
	assert_string_equal(dc.bhyve_path, "/usr/local/libexec/bhyve-standin");
	assert_int_equal(dc.defaults.stoptimeout, 10);
	set = cfg_load_all(DEFAULTS, &dc);
	assert_non_null(set);
	assert_int_equal(set->ninvalid, 0);
	assert_int_equal(set->nvms, 2);
	/* db: its own keys win; its topology replaces the default's. */
	assert_string_equal(set->vms[0]->name, "db");
	assert_int_equal(set->vms[0]->stoptimeout, 99);
	assert_int_equal(set->vms[0]->maxrestart, 0);
	assert_int_equal(set->vms[0]->cpus, 4);
	assert_int_equal(set->vms[0]->memory_mb, 1024);
	/* web: everything from defaults{}. */
	assert_string_equal(set->vms[1]->name, "web");
	assert_int_equal(set->vms[1]->stoptimeout, 10);
	assert_int_equal(set->vms[1]->maxrestart, 7);
	assert_int_equal(set->vms[1]->cpus, 2);
	assert_int_equal(set->vms[1]->qemu->nqemu_args, 1);
	cfg_set_free(set);
	cfg_daemon_free(&dc);
}

/* vmstated.conf holding text must be refused with each needle. */
static void
expect_daemon_errors(const char *text, ...)
{
	struct daemon_config	 dc;
	const char		*needle;
	char			*error;
	va_list			 ap;

	write_file("vmstated.conf", text);
	assert_int_equal(cfg_load_daemon(tmpdir, &dc, &error), -1);
	assert_non_null(error);
	va_start(ap, text);
	while ((needle = va_arg(ap, const char *)) != NULL)
		if (strstr(error, needle) == NULL)
			fail_msg("for:\n%s\nwant: %s\ngot:\n%s", text, needle,
			    error);
	va_end(ap);
	/* Refused as a whole: the built-in values hold. */
	assert_false(dc.socket_mode_set);
	assert_int_equal(dc.defaults.stoptimeout, 30);
	assert_string_equal(dc.bhyve_path, "/usr/sbin/bhyve");
	free(error);
	cfg_daemon_free(&dc);
}

static void
test_daemon_errors(void **state)
{
	(void)state;
	expect_daemon_errors("socket_mode = 0660;\n",
	    "vmstated.conf:1: socket_mode: write the mode as octal digits in a "
	    "string, e.g. socket_mode = \"0660\"; UCL reads the bare number "
	    "0660 as decimal 660", NULL);
	expect_daemon_errors("socket_mode = \"0999\";\n",
	    "socket_mode: expected a mode of octal digits", NULL);
	expect_daemon_errors("socket_group = nosuchgroup0x;\n",
	    "vmstated.conf:1: socket_group: no such group", NULL);
	expect_daemon_errors("bhyve_path = /x;\nstoptimeout = 5;\n",
	    "vmstated.conf:2: stoptimeout: is a VM setting: put it inside "
	    "defaults { }", NULL);
	expect_daemon_errors("rundri = /x;\n",
	    "rundri: unknown key; did you mean \"rundir\"?", NULL);
	expect_daemon_errors("defaults {\n stoptimeout = 5;\n name = x;\n"
	    " configfile = y;\n memory = lots;\n}\n",
	    "vmstated.conf:3: defaults.name: cannot have a default",
	    "vmstated.conf:4: defaults.configfile: cannot have a default",
	    "vmstated.conf:5: defaults.memory: expected megabytes", NULL);
	expect_daemon_errors("rundir = /a;\nrundir = /b;\n",
	    "vmstated.conf:2: rundir: given twice (first on line 1)", NULL);
	expect_daemon_errors("defaults = 3;\n",
	    "defaults: expected a section defaults { key = value; ... }, got 3",
	    NULL);
}

static void
test_vm_dup_and_equal(void **state)
{
	struct vm_config	*a, *b;
	char			*error;

	(void)state;
	a = cfg_load_vm(GOOD "/compat", NULL, &error);
	assert_non_null(a);
	b = cfg_vm_dup(a);
	assert_true(cfg_vm_equal(a, b));
	assert_true(a->consoles[0].backend != b->consoles[0].backend);

	b->memory_mb = 1024;
	assert_false(cfg_vm_equal(a, b));
	b->memory_mb = a->memory_mb;
	assert_true(cfg_vm_equal(a, b));
	b->stoptimeout++;
	assert_false(cfg_vm_equal(a, b));
	b->stoptimeout--;
	free(b->consoles[0].backend);
	b->consoles[0].backend = xstrdup("/dev/nmdm9A");
	assert_false(cfg_vm_equal(a, b));
	cfg_vm_free(b);

	b = cfg_vm_dup(a);
	b->hypervisor = HV_QEMU;
	assert_false(cfg_vm_equal(a, b));
	cfg_vm_free(b);
	b = cfg_vm_dup(a);
	b->wire_memory = CFG_NO;
	assert_false(cfg_vm_equal(a, b));
	cfg_vm_free(b);
	b = cfg_vm_dup(a);
	free(b->extra->hostbridge);
	b->extra->hostbridge = NULL;
	assert_false(cfg_vm_equal(a, b));
	cfg_vm_free(b);
	cfg_vm_free(a);

	a = cfg_load_vm(GOOD "/linux", NULL, &error);
	assert_non_null(a);
	b = cfg_vm_dup(a);
	assert_true(cfg_vm_equal(a, b));
	free(b->qemu->qemu_args[2]);
	b->qemu->qemu_args[2] = xstrdup("stdio");
	assert_false(cfg_vm_equal(a, b));
	cfg_vm_free(b);
	b = cfg_vm_dup(a);
	b->qemu->ndisks = 1;
	assert_false(cfg_vm_equal(a, b));
	b->qemu->ndisks = 2;
	cfg_vm_free(b);
	cfg_vm_free(a);
}

/* cfg_check()'s output streams, as strings. */
static int
run_check(const char *dir, char **out, char **err)
{
	FILE	*fo, *fe;
	size_t	 lo, le;
	int	 rc;

	fo = open_memstream(out, &lo);
	fe = open_memstream(err, &le);
	rc = cfg_check(dir, fo, fe);
	fclose(fo);
	fclose(fe);
	return rc;
}

static void
test_check(void **state)
{
	char	*out, *err, *line;

	(void)state;
	assert_int_equal(run_check(GOOD, &out, &err), 0);
	assert_string_equal(err, "");
	assert_int_equal(count_lines(out), 6);	/* 5 lines + end */
	assert_non_null(strstr(out, "bsdvm\t/"));
	xasprintf(&line, "linux\t%s", "/");
	assert_non_null(strstr(out, line));
	free(line);
	assert_non_null(strstr(out, "/fixtures/config/good/linux\tqemu\n"));
	free(out);
	free(err);

	write_vm("good", "configfile = bhyve_config;\n");
	write_vm("bad", "configfile = bhyve_config;\nmemory = lots;\n");
	assert_int_equal(run_check(tmpdir, &out, &err), 1);
	xasprintf(&line, "good\t%s/good\tbhyve\n", tmpdir);
	assert_string_equal(out, line);
	free(line);
	assert_non_null(strstr(err, "/bad/config:2: memory: expected"));
	free(out);
	free(err);

	write_file("vmstated.conf", "socket_mode = 0660;\n");
	assert_int_equal(run_check(tmpdir, &out, &err), 1);
	assert_non_null(strstr(err, "vmstated.conf:1: socket_mode"));
	free(out);
	free(err);

	assert_int_equal(run_check("/nonexistent/vmstated", &out, &err), 1);
	assert_non_null(strstr(err, "/nonexistent/vmstated: cannot read the "
	    "configuration directory"));
	free(out);
	free(err);
}

/* ---- The disks of a VM (config_disks.c). ---- */

/* The disks of a bhyve VM named vm in tmpdir/vm whose configfile holds
 * text, as "path[ ro]" lines. */
static char *
bhyve_disks(const char *text)
{
	struct vm_config	 vm;
	struct cfg_disks	 d;
	struct buf		 b;
	char			 dir[256], file[PATH_MAX];
	size_t			 i;

	write_file("vm/bhyve_config", text);
	snprintf(dir, sizeof(dir), "%s/vm", tmpdir);
	snprintf(file, sizeof(file), "%s/bhyve_config", dir);
	memset(&vm, 0, sizeof(vm));
	vm.name = "vm";
	vm.dir = dir;
	vm.hypervisor = HV_BHYVE;
	vm.configfile_stored = file;
	memset(&d, 0, sizeof(d));
	assert_int_equal(cfg_vm_disks(&vm, NULL, &d), 0);
	buf_init(&b);
	buf_puts(&b, "");
	for (i = 0; i < d.n; i++)
		buf_printf(&b, "%s%s\n", d.v[i].path + (strncmp(d.v[i].path,
		    tmpdir, strlen(tmpdir)) == 0 ? strlen(tmpdir) : 0),
		    d.v[i].readonly ? " ro" : "");
	cfg_disks_free(&d);
	return buf_steal(&b);
}

static void
test_disks_of_a_bhyve_configuration(void **state)
{
	char	*s;

	(void)state;
	/* Each block device bhyve opens, relative to the VM's directory. */
	s = bhyve_disks("name=x\n"
	    "pci.0.4.0.device=virtio-blk\npci.0.4.0.path=/vm/a.img\n"
	    "pci.0.5.0.device=nvme\npci.0.5.0.path=b.img\n"
	    "pci.0.6.0.device=nvme\npci.0.6.0.ram=1024\n"
	    "pci.0.7.0.device=ahci\npci.0.7.0.port.0.type=cd\n"
	    "pci.0.7.0.port.0.path=/iso/install.iso\n"
	    "pci.0.7.0.port.2.type=hd\npci.0.7.0.port.2.path=c.img\n"
	    "pci.0.7.0.port.3.path=no-type.img\n"
	    "pci.1.0.0.device=virtio-net\npci.1.0.0.path=/not/a/disk\n"
	    "lpc.bootvars=vars.fd\n");
	assert_string_equal(s, "/vm/a.img\n/vm/b.img\n/iso/install.iso ro\n"
	    "/vm/c.img\n/vm/vars.fd\n");
	free(s);
	/* The last value of a key wins; ro; %(key) and \\c as bhyve reads
	 * them, name being the VM's (vmstated appends it); comments. */
	s = bhyve_disks("#pci.0.3.0.device=virtio-blk\n"
	    "pci.0.3.0.path=/commented.img\n"
	    "pci.0.4.0.device=virtio-blk\npci.0.4.0.path=/old.img\n"
	    "pci.0.4.0.path=/new.img\npci.0.4.0.ro=on\n"
	    "pci.0.5.0.device=virtio-blk\n"
	    "pci.0.5.0.path=/d/%(name)-%(base).img\nbase=disk\\%x\n"
	    "name=not-this\n"
	    "pci.0.6.0.device=nvme\npci.0.6.0.device=virtio-rnd\n"
	    "pci.0.6.0.path=/gone.img\n");
	assert_string_equal(s, "/new.img ro\n/d/vm-disk%x.img\n");
	free(s);
}

static void
test_disks_clash_by_file_unless_both_read_only(void **state)
{
	struct cfg_disks	 a, b, c;
	char			 img[PATH_MAX], link[PATH_MAX];

	(void)state;
	write_file("one.img", "x");
	snprintf(img, sizeof(img), "%s/one.img", tmpdir);
	snprintf(link, sizeof(link), "%s/link.img", tmpdir);
	assert_int_equal(symlink(img, link), 0);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	cfg_disks_add(&a, tmpdir, "one.img", false);
	cfg_disks_add(&b, "/elsewhere", link, true);
	cfg_disks_add(&c, tmpdir, "one.img", true);
	cfg_disks_add(&c, NULL, "/missing.img", false);
	/* A link is the same file; read-only on both sides is no clash. */
	assert_non_null(cfg_disks_clash(&a, &b));
	assert_string_equal(cfg_disks_clash(&a, &b)->path, img);
	assert_null(cfg_disks_clash(&b, &c));
	cfg_disks_free(&b);
	cfg_disks_add(&b, "/", "missing.img", true);
	/* A file that does not exist is known by its path. */
	assert_non_null(cfg_disks_clash(&b, &c));
	cfg_disks_free(&a);
	cfg_disks_free(&b);
	cfg_disks_free(&c);
	/* A disk device is the same through another node of it. */
	snprintf(link, sizeof(link), "%s/null-node", tmpdir);
	if (mknod(link, S_IFCHR | 0600, makedev(1, 3)) == 0) {
		cfg_disks_add(&a, NULL, "/dev/null", false);
		cfg_disks_add(&b, NULL, link, false);
		cfg_disks_add(&c, NULL, "/dev/zero", false);
		assert_non_null(cfg_disks_clash(&a, &b));
		assert_null(cfg_disks_clash(&a, &c));
		cfg_disks_free(&a);
		cfg_disks_free(&b);
		cfg_disks_free(&c);
	}
}

static void
test_check_warns_about_a_shared_disk(void **state)
{
	char	*out, *err, *want;

	(void)state;
	write_file("shared.img", "x");
	write_vm("a", "configfile = bhyve_config;\n");
	write_file("a/bhyve_config", "pci.0.4.0.device=virtio-blk\n"
	    "pci.0.4.0.path=../shared.img\n");
	write_vm("b", "configfile = bhyve_config;\n");
	write_file("b/bhyve_config", "pci.0.4.0.device=nvme\n"
	    "pci.0.4.0.path=../shared.img\n");
	assert_int_equal(run_check(tmpdir, &out, &err), 0);
	xasprintf(&want, "warning: a (%s/a) and b (%s/b) both use the disk "
	    "%s/a/../shared.img: vmstated starts neither while the other "
	    "runs\n", tmpdir, tmpdir, tmpdir);
	assert_string_equal(err, want);
	free(want);
	free(out);
	free(err);
}

/*
 * Each number at the top of its range comes back whole: struct vm_config
 * keeps them in 32 or 16 bits, which their bounds allow (config_keys.c
 * asserts it at compile time; this checks what the parser stores).
 */
static void
test_numbers_at_their_bounds(void **state)
{
	struct vm_config	*vm;

	(void)state;
	write_vm("vm", "configfile = bhyve_config;\n"
	    "memory = 16T;\nmaxrestart = 1000000;\n"
	    "maxrestarttime = 31536000;\nstoptimeout = 31536000;\n"
	    "hooktimeout = 31536000;\nautostart_delay = 31536000;\n"
	    "probe_interval = 31536000;\nprobe_timeout = 31536000;\n"
	    "probe_failures = 1000;\ncpus = 256;\n");
	vm = load_ok("vm", NULL);
	assert_int_equal(vm->memory_mb, 16 * 1024 * 1024);
	assert_int_equal(vm->maxrestart, 1000000);
	assert_int_equal(vm->maxrestarttime, 31536000);
	assert_int_equal(vm->stoptimeout, 31536000);
	assert_int_equal(vm->hooktimeout, 31536000);
	assert_int_equal(vm->autostart_delay, 31536000);
	assert_int_equal(vm->probe_interval, 31536000);
	assert_int_equal(vm->probe_timeout, 31536000);
	assert_int_equal(vm->probe_failures, 1000);
	assert_int_equal(vm->cpus, 256);
	cfg_vm_free(vm);

	write_vm("vm", "configfile = bhyve_config;\n"
	    "sockets = 1;\ncores = 256;\nthreads = 1;\n");
	vm = load_ok("vm", NULL);
	assert_int_equal(vm->cores, 256);
	assert_int_equal(vm->cpus, 256);
	cfg_vm_free(vm);
	write_vm("vm", "configfile = bhyve_config;\n"
	    "sockets = 256;\ncores = 1;\nthreads = 1;\n");
	vm = load_ok("vm", NULL);
	assert_int_equal(vm->sockets, 256);
	cfg_vm_free(vm);
	write_vm("vm", "configfile = bhyve_config;\n"
	    "sockets = 1;\ncores = 1;\nthreads = 256;\n");
	vm = load_ok("vm", NULL);
	assert_int_equal(vm->threads, 256);
	cfg_vm_free(vm);
}

/*
 * A loaded configuration is one allocation (config_pack.c) that holds
 * every string and list; dirname, scriptpath and a name that ends the
 * directory share dir's bytes; a packed copy of a loose one owes it
 * nothing.
 */
static void
test_packed_configuration_holds_everything(void **state)
{
	struct vm_config	*vm, *loose, *packed;
	char			*error;
	size_t			 len;
	int			 i;

	(void)state;
	write_file("q/a.img", "");
	write_file("q/b.qcow2", "QFI\xfb");
	write_file("q/k", "");
	write_file("q/config", "q {\nhypervisor = qemu;\nos = Linux;\n"
	    "osversion = 6.1;\nowner = root;\ngroup = 0;\n"
	    "description = \"a qemu VM\";\nkernel = k;\ninitrd = k;\n"
	    "append = \"console=ttyS0\";\ndisk = a.img;\n"
	    "disk { path = b.qcow2; format = qcow2; }\n"
	    "qemu_args = [ \"-nodefaults\", \"-vga\", \"none\" ];\n"
	    "qemu_binary = qemu-system-x86_64;\ndepends = [ a, b ];\n"
	    "scriptpath = /usr/share;\n}\n");
	vm = load_ok("q", NULL);
	assert_string_equal(vm->name, "q");
	assert_string_equal(vm->scriptpath, "/usr/share");
	assert_int_equal(vm->qemu->ndisks, 2);
	assert_int_equal(vm->qemu->disk_formats[1], CFG_DISK_QCOW2);
	assert_string_equal(vm->qemu->qemu_args[2], "none");
	assert_string_equal(vm->depends[1], "b");
	assert_string_equal(vm->qemu->append, "console=ttyS0");
	len = strlen(vm->dir);
	assert_ptr_equal(vm->dirname, vm->dir + len - 1);
	assert_ptr_equal(vm->name, vm->dirname);
	loose = cfg_vm_dup(vm);
	assert_true(cfg_vm_equal(vm, loose));
	packed = cfg_vm_pack(loose);
	cfg_vm_free(loose);
	assert_true(cfg_vm_equal(vm, packed));
	assert_true(packed->qemu->disks[0] != vm->qemu->disks[0]);
	/* No consoles: the qemu part follows the structure, in its chunk,
	 * and the rarer strings' part follows it. */
	assert_ptr_equal(packed->qemu, (void *)(packed + 1));
	assert_ptr_equal(vm->qemu, (void *)(vm + 1));
	assert_ptr_equal(packed->extra, (void *)(packed->qemu + 1));
	assert_string_equal(packed->extra->description, "a qemu VM");
	cfg_vm_free(packed);
	cfg_vm_free(vm);

	vm = cfg_load_vm(GOOD "/compat", NULL, &error);
	assert_non_null(vm);
	assert_ptr_equal(vm->scriptpath, vm->dir);
	loose = cfg_vm_dup(vm);
	packed = cfg_vm_pack(loose);
	cfg_vm_free(loose);
	assert_true(cfg_vm_equal(vm, packed));
	for (i = 0; i < CFG_MAX_CONSOLES; i++)
		assert_int_equal(packed->consoles[i].present, i < 2);
	assert_string_equal(packed->consoles[1].backend, "/dev/nmdm1A");
	cfg_vm_free(packed);
	cfg_vm_free(vm);
}

/*
 * A configfile in the VM's directory is kept as its name after dir's
 * bytes; one elsewhere as its path.  Copies, loose or packed again (a
 * reload packs a copy), name the same file.
 */
static void
test_packed_configfile_in_and_out_of_dir(void **state)
{
	struct vm_config	*vm, *loose, *packed;
	char			 path[PATH_MAX], want[PATH_MAX];
	int			 round;

	(void)state;
	write_file("in/bhyve_config", "");
	write_vm("in", "configfile = bhyve_config;\n");
	write_file("elsewhere.conf", "");
	write_vm("out", "configfile = ../elsewhere.conf;\n");
	for (round = 0; round < 2; round++) {
		vm = load_ok(round == 0 ? "in" : "out", NULL);
		snprintf(want, sizeof(want), round == 0 ? "%s/in/bhyve_config" :
		    "%s/out/../elsewhere.conf", tmpdir);
		assert_string_equal(cfg_configfile(vm, path, sizeof(path)), want);
		assert_int_equal(vm->configfile_in_dir, round == 0);
		packed = cfg_vm_pack(vm);	/* packed from packed */
		assert_string_equal(cfg_configfile(packed, path, sizeof(path)),
		    want);
		assert_int_equal(packed->configfile_in_dir, round == 0);
		assert_true(cfg_vm_equal(vm, packed));
		loose = cfg_vm_dup(packed);
		assert_false(loose->configfile_in_dir);
		assert_string_equal(loose->configfile_stored, want);
		assert_true(cfg_vm_equal(loose, vm));
		cfg_vm_free(packed);
		packed = cfg_vm_pack(loose);
		assert_string_equal(cfg_configfile(packed, path, sizeof(path)),
		    want);
		assert_true(cfg_vm_equal(packed, vm));
		cfg_vm_free(packed);
		cfg_vm_free(loose);
		cfg_vm_free(vm);
	}
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup_tmp, teardown_tmp)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_bare_keys_take_the_directory_name),
		T(test_wrapped_section_names_the_vm),
		T(test_builtin_defaults),
		T(test_qemu_keys),
		T(test_qemu_args_string_and_binary),
		T(test_disk_formats_come_from_the_config_only),
		T(test_compatibility_keys),
		T(test_memory_sizes_are_binary_like_bhyve),
		T(test_memory_errors),
		T(test_seconds_and_booleans),
		T(test_relative_paths_become_absolute),
		T(test_cpu_topology),
		T(test_cpus_against_file_topology),
		T(test_unknown_key_suggests_the_nearest),
		T(test_wrong_types_and_ranges),
		T(test_missing_configfile),
		T(test_owner_and_group_must_exist),
		T(test_unreadable_files),
		T(test_fifo_and_device_files_refused),
		T(test_string_limits),
		T(test_list_limits),
		T(test_invalid_utf8_refused),
		T(test_errors_are_capped),
		T(test_untrusted_files),
		T(test_duplicate_key),
		T(test_every_error_is_reported),
		T(test_syntax_error_names_line_and_column),
		T(test_keys_of_the_other_hypervisor),
		T(test_names),
		T(test_no_config_file),
		T(test_case_insensitive_keys),
		T(test_load_all),
		T(test_load_all_keeps_good_vms_beside_bad_ones),
		T(test_duplicate_names_refuse_both),
		T(test_load_all_unreadable_directory),
		T(test_daemon_builtin_defaults),
		T(test_daemon_keys_and_defaults),
		T(test_daemon_errors),
		T(test_vm_dup_and_equal),
		T(test_numbers_at_their_bounds),
		T(test_packed_configuration_holds_everything),
		T(test_packed_configfile_in_and_out_of_dir),
		T(test_check),
		T(test_disks_of_a_bhyve_configuration),
		T(test_disks_clash_by_file_unless_both_read_only),
		T(test_check_warns_about_a_shared_disk),
	};

	/* Config files must be trusted (trust.h): never group-writable,
	 * whatever the umask the tests run with. */
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
