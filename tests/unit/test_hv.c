/*
 * test_hv.c: the back ends alone, through the narrow context of hv.h --
 * no daemon linked in: the command line qemu gets, where the console
 * goes, and the files each back end names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "config.h"
#include "hv.h"

static struct buf	 logged;

static void
test_log(struct hv_vm *hv, const char *fmt, ...)
{
	va_list	 ap;

	(void)hv;
	va_start(ap, fmt);
	buf_vprintf(&logged, fmt, ap);
	va_end(ap);
	buf_putc(&logged, '\n');
}

static void
hv_init(struct hv_vm *hv, struct vm_config *cfg, struct daemon_config *dc)
{
	memset(cfg, 0, sizeof(*cfg));
	memset(dc, 0, sizeof(*dc));
	cfg->name = "vm1";
	cfg->memory_mb = 128;
	dc->rundir = "/run/vmstated";
	dc->qemu_path = "qemu-system-x86_64";
	dc->bhyve_path = "/usr/sbin/bhyve";
	dc->bhyvectl_path = "/usr/sbin/bhyvectl";
	dc->vmmdir = "/dev/vmm";
	memset(hv, 0, sizeof(*hv));
	hv->name = "vm1";
	hv->cfg = cfg;
	hv->dc = dc;
	hv->pid = -1;
	hv->watch_fd = -1;
	hv->log = test_log;
	buf_init(&logged);
}

/* The value after option opt in argv, the n-th time it appears. */
static const char *
option(char **argv, const char *opt, int n)
{
	int	 i;

	for (i = 0; argv[i] != NULL && argv[i + 1] != NULL; i++)
		if (strcmp(argv[i], opt) == 0 && n-- == 0)
			return argv[i + 1];
	return NULL;
}

static void
test_qemu_first_serial_port_is_the_console_socket(void **state)
{
	struct daemon_config	 dc;
	struct vm_config	 cfg;
	struct hv_vm		 hv;
	char			**argv;

	(void)state;
	hv_init(&hv, &cfg, &dc);
	argv = hv_qemu_ops.argv(&hv);
	assert_string_equal(option(argv, "-chardev", 0),
	    "socket,id=vmstated-console,fd=4,server=on,wait=off");
	assert_string_equal(option(argv, "-serial", 0),
	    "chardev:vmstated-console");
	assert_null(option(argv, "-serial", 1));
	hv_argv_free(argv);
	hv_qemu_ops.release(&hv);
	buf_free(&logged);
}

static void
test_qemu_args_with_serial_ports_keep_stdio_first(void **state)
{
	struct daemon_config	 dc;
	struct vm_config	 cfg;
	struct cfg_qemu		 q;
	struct hv_vm		 hv;
	char			*args[] = { "-serial", "pty" }, **argv;
	const char		*why = NULL;

	(void)state;
	hv_init(&hv, &cfg, &dc);
	memset(&q, 0, sizeof(q));
	q.qemu_args = args;
	q.nqemu_args = 2;
	cfg.qemu = &q;
	argv = hv_qemu_ops.argv(&hv);
	assert_string_equal(option(argv, "-serial", 0), "stdio");
	assert_string_equal(option(argv, "-serial", 1), "pty");
	assert_false(strstr(option(argv, "-chardev", 0), "console") != NULL);
	assert_int_equal(hv_qemu_ops.console(&hv, &why), -1);
	assert_string_equal(why, "-serial in its qemu_args");
	hv_argv_free(argv);
	hv_qemu_ops.release(&hv);
	buf_free(&logged);
}

static void
file_seen(const char *what, const char *path, void *arg)
{
	buf_printf(arg, "%s=%s\n", what, path);
}

static void
test_back_ends_name_their_files(void **state)
{
	struct daemon_config	 dc;
	struct vm_config	 cfg;
	struct hv_vm		 hv;
	struct buf		 files;

	(void)state;
	hv_init(&hv, &cfg, &dc);
	buf_init(&files);
	buf_puts(&files, "");
	hv_qemu_ops.files(&hv, file_seen, &files);
	assert_string_equal(files.data, "qmp=/run/vmstated/vm1.qmp\n"
	    "console=/run/vmstated/vm1.console\n"
	    "pidfile=/run/vmstated/vm1.pid\n");
	hv_qemu_ops.release(&hv);
	buf_reset(&files);
	buf_puts(&files, "");
	cfg.configfile_stored = "/etc/vmstated/vm1/bhyve_config";
	hv_bhyve_ops.files(&hv, file_seen, &files);
	assert_string_equal(files.data,
	    "generated=/etc/vmstated/vm1/bhyve_config.generated\n");
	hv_bhyve_ops.release(&hv);
	buf_free(&files);
	buf_free(&logged);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu_first_serial_port_is_the_console_socket),
		cmocka_unit_test(test_qemu_args_with_serial_ports_keep_stdio_first),
		cmocka_unit_test(test_back_ends_name_their_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
