/*
 * bhyve.c: a stand-in for bhyve(8), for the tests and the benchmark.
 *
 * bhyve cannot run here, so vmstated's bhyve back end is tested against
 * this program.  Whatever a supervisor can see of bhyve it does as FreeBSD
 * 14's bhyve does, in the order usr.sbin/bhyve/bhyverun.c main() does it:
 * the options, the configuration checks, the VM instance (do_open()), the
 * memory, the devices and the files they open (init_pci()), the vCPUs,
 * then setproctitle("%s", vmname) -- /proc/PID/cmdline reads "bhyve: NAME"
 * from then on -- and the running guest.  tests/standin/README.md lists
 * each behaviour with the source it comes from.
 *
 * What the guest does is steered by configuration keys under "standin."
 * (bhyve accepts any key, so they are harmless to it):
 *
 *   standin.exit=N          exit with status N after standin.delay
 *   standin.signal=NAME     die by signal NAME (SEGV, KILL...) after the delay
 *   standin.delay=SECONDS   (decimal) when; default 0.  Without standin.exit
 *                           or standin.signal the guest runs until told
 *   standin.exits=A,B,...   what run 1, 2, ... of this VM does: a status,
 *                           a signal name, or "run"; later runs fall back to
 *                           standin.signal / standin.exit / running
 *   standin.counter=PATH    run counter file; default
 *                           <standin.record>.<vmname>.runs
 *   standin.sigterm=MODE    the guest's answer to the power button:
 *                           poweroff (exit 1, default), halt (2), reboot (0),
 *                           a number N (exit N), ignore (keeps running),
 *                           die (ACPI not enabled yet: default disposition)
 *   standin.shutdown_delay=SECONDS  how long the guest takes to power off
 *   standin.stdout=TEXT, standin.stderr=TEXT   printed once the guest runs
 *   standin.console=TEXT    printed on com1 (lpc.com1.path) once it runs,
 *                           with \r \n \e \\, and \c: no line end
 *   standin.console_every=SECONDS  "standin: tick N" on com1 that often
 *   standin.console_echo=yes  com1 input is echoed and each line answered
 *                           "standin: got LINE" (and recorded)
 *   standin.stop_after=instance  stop (SIGSTOP) once the VM instance is
 *                           open, so a test can act on it and SIGCONT
 *   standin.record=PATH     append JSON lines (see the README)
 *
 * An invalid standin.* value exits 4 with a message, like a bad bhyve key.
 */
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "bhyve_standin.h"
#include "standin.h"
#include "vmm.h"

/* What this run of the guest does when nothing interrupts it. */
enum plan_kind { PLAN_RUN, PLAN_EXIT, PLAN_SIGNAL };

struct plan {
	enum plan_kind	 kind;
	int		 value;		/* status or signal number */
};

int			 raw_stdio;
static const char	*record_path;	/* standin.record, once parsed */
static const char	*vmname;
static struct vmm	 vm = { NULL, -1, 0, 0, 0, VMM_VCPUS_NONE };
static struct buf	 lastmsg;	/* the last message, the exit reason */

static void	 usage(int) __attribute__((noreturn));
static void	 suspend_exit(int, const char *) __attribute__((noreturn));
static void	 die_by_signal(int, const char *) __attribute__((noreturn));
static void	 act(struct plan, const char *) __attribute__((noreturn));
static void	 record_event(const char *, const char *, const char *, int,
		    const char *);

/* ---- messages ---------------------------------------------------------- */

/* Print one message on stderr and remember it (without its newline). */
static void
message_str(bool prog, int errnum, const char *eol, const char *text)
{
	struct buf	 m;

	buf_init(&m);
	buf_puts(&m, "");
	if (prog)
		buf_printf(&m, "%s: ", BHYVE_PROGNAME);
	buf_puts(&m, text);
	if (errnum >= 0)
		buf_printf(&m, ": %s", fbsd_strerror(errnum));
	fprintf(stderr, "%s%s", m.data, eol);
	fflush(stderr);
	while (m.len > 0 && (m.data[m.len - 1] == '\n' ||
	    m.data[m.len - 1] == '\r'))
		m.data[--m.len] = '\0';
	buf_reset(&lastmsg);
	buf_puts(&lastmsg, m.data);
	buf_free(&m);
}

static void
message(bool prog, int errnum, const char *eol, const char *fmt, va_list ap)
{
	struct buf	 t;

	buf_init(&t);
	buf_puts(&t, "");
	buf_vprintf(&t, fmt, ap);
	message_str(prog, errnum, eol, t.data);
	buf_free(&t);
}

void
b_err(int status, const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	message(true, saved, "\n", fmt, ap);
	va_end(ap);
	finish(status, NULL);
}

void
b_errx(int status, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	message(true, -1, "\n", fmt, ap);
	va_end(ap);
	finish(status, NULL);
}

void
b_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	message(true, saved, "\n", fmt, ap);
	va_end(ap);
	errno = saved;
}

void
b_warnx(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	message(true, -1, "\n", fmt, ap);
	va_end(ap);
	errno = saved;
}

void
b_perror(const char *s)
{
	int	 saved = errno;

	message_str(false, saved, "\n", s);
	errno = saved;
}

void
b_eprintln(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	message(false, -1, raw_stdio ? "\r\n" : "\n", fmt, ap);
	va_end(ap);
	errno = saved;
}

void
b_eprintf(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	message(false, -1, "", fmt, ap);
	va_end(ap);
	errno = saved;
}

/* ---- command line ------------------------------------------------------ */

/* bhyverun.c usage() of FreeBSD 14 */
static void
usage(int code)
{
	int	 w;

	w = (int)strlen(BHYVE_PROGNAME);
	fprintf(stderr,
	    "Usage: %s [-AaCDeHhPSuWwxY]\n"
	    "       %*s [-c [[cpus=]numcpus][,sockets=n][,cores=n][,threads=n]]\n"
	    "       %*s [-G port] [-k config_file] [-l lpc] [-m mem] "
	    "[-o var=value]\n"
	    "       %*s [-p vcpu:hostcpu] [-r file] [-s pci] [-U uuid] vmname\n"
	    "       -A: create ACPI tables\n"
	    "       -a: local apic is in xAPIC mode (deprecated)\n"
	    "       -C: include guest memory in core file\n"
	    "       -c: number of CPUs and/or topology specification\n"
	    "       -D: destroy on power-off\n"
	    "       -e: exit on unhandled I/O access\n"
	    "       -G: start a debug server\n"
	    "       -H: vmexit from the guest on HLT\n"
	    "       -h: help\n"
	    "       -k: key=value flat config file\n"
	    "       -K: PS2 keyboard layout\n"
	    "       -l: LPC device configuration\n"
	    "       -m: memory size\n"
	    "       -o: set config 'var' to 'value'\n"
	    "       -P: vmexit from the guest on pause\n"
	    "       -p: pin 'vcpu' to 'hostcpu'\n"
	    "       -S: guest memory cannot be swapped\n"
	    "       -s: <slot,driver,configinfo> PCI slot config\n"
	    "       -U: UUID\n"
	    "       -u: RTC keeps UTC time\n"
	    "       -W: force virtio to use single-vector MSI\n"
	    "       -w: ignore unimplemented MSRs\n"
	    "       -x: local APIC is in x2APIC mode\n"
	    "       -Y: disable MPtable generation\n",
	    BHYVE_PROGNAME, w, "", w, "", w, "");
	finish(code, "usage");
}

/* parse_gdb_options(): [w][address:]port */
static void
parse_gdb_options(const char *opt)
{
	const char	*colon;
	char		*addr;

	if (opt[0] == 'w') {
		cfg_set("gdb.wait", "true");
		opt++;
	}
	if ((colon = strrchr(opt, ':')) == NULL) {
		cfg_set("gdb.port", opt);
		return;
	}
	addr = xstrndup(opt, (size_t)(colon - opt));
	cfg_set("gdb.address", addr);
	free(addr);
	cfg_set("gdb.port", colon + 1);
}

static const char optstring[] =
#ifdef __GLIBC__
    "+"		/* stop at the first operand, as BSD getopt does */
#endif
    "aehuwxACDHIPSWYk:f:o:p:G:c:s:m:l:K:U:";

static void
parse_options(int argc, char **argv)
{
	int	 c;

	while ((c = getopt(argc, argv, optstring)) != -1) {
		switch (c) {
		case 'a':
			cfg_set("x86.x2apic", "false");
			break;
		case 'A':	/* a no-op: ACPI tables are always built */
		case 'I':	/* deprecated: the ioapic is always there */
		case 'f':	/* fw_cfg items are not modelled */
			break;
		case 'D':
			cfg_set("destroy_on_poweroff", "true");
			break;
		case 'p':
			if (!cfg_parse_pincpu(optarg))
				b_errx(EX_USAGE, "invalid vcpu pinning "
				    "configuration '%s'", optarg);
			break;
		case 'c':
			if (!cfg_parse_topology(optarg))
				b_errx(EX_USAGE, "invalid cpu topology '%s'",
				    optarg);
			break;
		case 'C':
			cfg_set("memory.guest_in_core", "true");
			break;
		case 'G':
			parse_gdb_options(optarg);
			break;
		case 'k':
			cfg_parse_file(optarg);
			break;
		case 'K':
			cfg_set("keyboard.layout", optarg);
			break;
		case 'l':
			if (strncmp(optarg, "help", strlen(optarg)) == 0) {
				printf("bootrom\ncom1\ncom2\ncom3\ncom4\n"
				    "pc-testdev\n");
				exit(0);
			}
			if (lpc_device_parse(optarg) != 0)
				b_errx(EX_USAGE, "invalid lpc device "
				    "configuration '%s'", optarg);
			break;
		case 's':
			if (strncmp(optarg, "help", strlen(optarg)) == 0) {
				pci_print_supported_devices();
				exit(0);
			}
			if (pci_parse_slot(optarg) != 0)
				finish(4, NULL);
			break;
		case 'S':
			cfg_set("memory.wired", "true");
			break;
		case 'm':
			cfg_set("memory.size", optarg);
			break;
		case 'o':
			if (!cfg_parse_option(optarg))
				b_errx(EX_USAGE, "invalid configuration "
				    "option '%s'", optarg);
			break;
		case 'H':
			cfg_set("x86.vmexit_on_hlt", "true");
			break;
		case 'P':
			cfg_set("x86.vmexit_on_pause", "true");
			break;
		case 'e':
			cfg_set("x86.strictio", "true");
			break;
		case 'u':
			cfg_set("rtc.use_localtime", "false");
			break;
		case 'U':
			cfg_set("uuid", optarg);
			break;
		case 'w':
			cfg_set("x86.strictmsr", "false");
			break;
		case 'W':
			cfg_set("virtio_msix", "false");
			break;
		case 'x':
			cfg_set("x86.x2apic", "true");
			break;
		case 'Y':
			cfg_set("x86.mptable", "false");
			break;
		case 'h':
			usage(0);
		default:
			usage(1);
		}
	}
}

/* ---- records ----------------------------------------------------------- */

static void
record_header(struct buf *b, const char *event, bool *first)
{
	buf_putc(b, '{');
	standin_json_key(b, "event", first);
	buf_json_cstr(b, event);
	standin_json_key(b, "vm", first);
	buf_json_cstr(b, vmname);
	standin_json_key(b, "pid", first);
	buf_printf(b, "%ld", (long)getpid());
	standin_json_key(b, "time", first);
	buf_printf(b, "%.6f", standin_now());
}

static void
record_write(struct buf *b)
{
	if (record_path != NULL && standin_append_line(record_path, b) == -1)
		fprintf(stderr, "%s: standin.record %s: %s\n", BHYVE_PROGNAME,
		    record_path, strerror(errno));
}

struct config_json {
	struct buf	*b;
	bool		 first;
};

static void
config_member(const char *key, const char *value, void *arg)
{
	struct config_json	*cj = arg;

	standin_json_key(cj->b, key, &cj->first);
	buf_json_cstr(cj->b, value);
}

static void
record_start(int argc, char **argv, double start, long run)
{
	struct config_json	 cj;
	struct buf		 b;
	char			 cwd[PATH_MAX];
	bool			 first = true;
	int			 i;

	if (record_path == NULL)
		return;
	buf_init(&b);
	record_header(&b, "start", &first);
	standin_json_key(&b, "exec_time", &first);
	buf_printf(&b, "%.6f", start);
	standin_json_key(&b, "run", &first);
	if (run > 0)
		buf_printf(&b, "%ld", run);
	else
		buf_puts(&b, "null");
	standin_json_key(&b, "ppid", &first);
	buf_printf(&b, "%ld", (long)getppid());
	standin_json_key(&b, "pgid", &first);
	buf_printf(&b, "%ld", (long)getpgrp());
	standin_json_key(&b, "sid", &first);
	buf_printf(&b, "%ld", (long)getsid(0));
	standin_json_key(&b, "uid", &first);
	buf_printf(&b, "%ld", (long)getuid());
	standin_json_key(&b, "gid", &first);
	buf_printf(&b, "%ld", (long)getgid());
	standin_json_key(&b, "cwd", &first);
	buf_json_cstr(&b, getcwd(cwd, sizeof(cwd)));
	standin_json_key(&b, "argv", &first);
	for (i = 0; i < argc; i++) {
		buf_puts(&b, i == 0 ? "[" : ", ");
		buf_json_cstr(&b, argv[i]);
	}
	buf_putc(&b, ']');
	standin_json_key(&b, "config", &first);
	buf_putc(&b, '{');
	cj.b = &b;
	cj.first = true;
	cfg_walk(config_member, &cj);
	buf_putc(&b, '}');
	standin_record_inherited(&b, &first);
	buf_putc(&b, '}');
	record_write(&b);
	buf_free(&b);
}

static void
record_event(const char *event, const char *key, const char *value,
    int status, const char *reason)
{
	struct buf	 b;
	bool		 first = true;

	if (record_path == NULL)
		return;
	buf_init(&b);
	record_header(&b, event, &first);
	if (key != NULL) {
		standin_json_key(&b, key, &first);
		buf_json_cstr(&b, value);
	}
	if (status >= 0) {
		standin_json_key(&b, "status", &first);
		buf_printf(&b, "%d", status);
	}
	if (reason != NULL) {
		standin_json_key(&b, "reason", &first);
		buf_json_cstr(&b, reason);
	}
	buf_putc(&b, '}');
	record_write(&b);
	buf_free(&b);
}

/* {"event": "open", "what", "slot", "port", "path" (as configured),
 *  "resolved" (the file opened, absolute), "readonly"} */
void
record_open(const char *what, const char *slot, int port, const char *path,
    int fd, bool readonly)
{
	struct buf	 b;
	char		 link[64], target[PATH_MAX];
	ssize_t		 n;
	bool		 first = true;

	if (record_path == NULL)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, target, sizeof(target) - 1)) >= 0)
		target[n] = '\0';
	else if (realpath(path, target) == NULL)
		snprintf(target, sizeof(target), "%s", path);
	buf_init(&b);
	record_header(&b, "open", &first);
	standin_json_key(&b, "what", &first);
	buf_json_cstr(&b, what);
	standin_json_key(&b, "slot", &first);
	buf_json_cstr(&b, slot);
	standin_json_key(&b, "port", &first);
	if (port >= 0)
		buf_printf(&b, "%d", port);
	else
		buf_puts(&b, "null");
	standin_json_key(&b, "path", &first);
	buf_json_cstr(&b, path);
	standin_json_key(&b, "resolved", &first);
	buf_json_cstr(&b, target);
	standin_json_key(&b, "readonly", &first);
	buf_puts(&b, readonly ? "true" : "false");
	buf_putc(&b, '}');
	record_write(&b);
	buf_free(&b);
}

/* ---- exits ------------------------------------------------------------- */

/* Every exit after the options were read: record it, then exit. */
void
finish(int status, const char *reason)
{
	fflush(stdout);
	record_event("exit", NULL, NULL, status,
	    reason != NULL ? reason : lastmsg.data != NULL ? lastmsg.data :
	    "error");
	exit(status);
}

/*
 * vmexit_suspend(): the guest suspended the VM (reset 0, power-off 1,
 * halt 2, triple fault 3): its vCPUs are suspended, so the instance can be
 * reinitialised; on power-off destroy_on_poweroff is read, and the VM
 * destroyed.
 */
static void
suspend_exit(int status, const char *reason)
{
	vmm_suspended(&vm);
	if (status == 1 && cfg_bool_default("destroy_on_poweroff", false) &&
	    vmm_enabled())
		(void)vmm_destroy(vmname);
	finish(status, reason);
}

static void
die_by_signal(int sig, const char *reason)
{
	struct rlimit	 nocore = { 0, 0 };
	sigset_t	 set;

	fflush(stdout);
	fflush(stderr);
	record_event("exit", "signal", standin_signame(sig), -1, reason);
	setrlimit(RLIMIT_CORE, &nocore);	/* no core files in the tests */
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	kill(getpid(), SIGKILL);
	_exit(128 + sig);
}

/* ---- the VM instance ---------------------------------------------------- */

/*
 * do_open() of FreeBSD 13/14: vm_create(); EEXIST with a bootrom means
 * reinitialise and reuse, without one the instance is taken as the
 * userspace loader (bhyveload) left it; a fresh instance needs a bootrom
 * (and stays created when bhyve then exits).
 */
static void
do_open(void)
{
	const char	*action;
	bool		 romboot, reinit;

	romboot = lpc_bootrom();
	reinit = false;
	action = "created";
	if (!vmm_enabled()) {
		if (!romboot) {
			b_eprintf("virtual machine cannot be booted\n");
			finish(4, NULL);
		}
		return;
	}
	if (vmm_create(vmname) != 0) {
		if (errno != EEXIST) {
			b_perror("vm_create");
			finish(4, NULL);
		}
		reinit = romboot;
		action = romboot ? "reinit" : "reused";
	} else if (!romboot) {
		b_eprintf("virtual machine cannot be booted\n");
		finish(4, NULL);
	}
	if (vmm_open(vmname, &vm) != 0) {
		b_perror("vm_open");
		finish(4, NULL);
	}
	if (reinit && vmm_reinit(&vm) != 0) {
		b_perror("vm_reinit");
		finish(4, NULL);
	}
	record_event("instance", "action", action, -1, NULL);
}

/* vm_setup_memory(): above 3G (lowmem_limit) the segment is 4G plus the
 * rest; its length must be a whole number of pages. */
static void
setup_memory(unsigned long long memsize, bool wired)
{
	const unsigned long long lowmem = 3ULL << 30;
	unsigned long long	 objsize;
	int			 error;

	objsize = memsize > lowmem ? (4ULL << 30) + memsize - lowmem : memsize;
	error = 0;
	if (objsize == 0 || objsize % 4096 != 0)
		error = EINVAL;
	else if (vmm_enabled() && vmm_setup_memory(&vm, objsize, wired) != 0)
		error = errno;
	if (error != 0) {
		b_eprintf("Unable to setup memory (%d)\n", error);
		finish(4, NULL);
	}
}

/* fbsdrun_addcpu(): vm_activate_cpu() of the vCPUs. */
static void
start_vcpus(void)
{
	if (vmm_enabled() && vmm_activate(&vm) != 0)
		b_err(EX_OSERR, "could not activate CPU %d", 0);
}

/* setproctitle("%s", vmname), once the VM is set up and before its vCPUs
 * are resumed; recorded with the title, since argv is gone from then on. */
static void
retitle(int argc, char **argv)
{
	char	*title;

	standin_setproctitle(argc, argv, BHYVE_PROGNAME, vmname);
	xasprintf(&title, "%s: %s", BHYVE_PROGNAME, vmname);
	record_event("retitle", "title", title, -1, NULL);
	free(title);
}

/* ---- the guest --------------------------------------------------------- */

static double
standin_seconds(const char *key)
{
	const char	*v;
	char		*end;
	double		 d;

	if ((v = cfg_get_raw(key)) == NULL)
		return 0;
	d = strtod(v, &end);
	if (end == v || *end != '\0' || !(d >= 0 && d < 1e9))
		b_errx(4, "invalid value for %s: '%s' (seconds expected)", key,
		    v);
	return d;
}

/* One step of a plan: "N" (status), a signal name, or "run". */
static struct plan
parse_step(const char *key, const char *v)
{
	struct plan	 p;
	char		*end;
	long		 n;

	p.kind = PLAN_RUN;
	p.value = 0;
	if (strcmp(v, "run") == 0)
		return p;
	n = strtol(v, &end, 10);
	if (end != v && *end == '\0' && n >= 0 && n <= 255) {
		p.kind = PLAN_EXIT;
		p.value = (int)n;
	} else if ((p.value = standin_signum(v)) != -1)
		p.kind = PLAN_SIGNAL;
	else
		b_errx(4, "invalid value for %s: '%s' (an exit status, a "
		    "signal name or \"run\" expected)", key, v);
	return p;
}

/* The run number of this VM (1, 2, ...) from its counter file, or 0. */
static long
count_run(void)
{
	const char	*counter;
	char		*path, line[32];
	FILE		*fp;
	long		 run;

	path = NULL;
	if ((counter = cfg_get_raw("standin.counter")) == NULL) {
		if (record_path == NULL || vmname == NULL)
			return 0;
		xasprintf(&path, "%s.%s.runs", record_path, vmname);
		counter = path;
	}
	run = 1;
	if ((fp = fopen(counter, "r")) != NULL) {
		if (fgets(line, sizeof(line), fp) != NULL)
			run = strtol(line, NULL, 10) + 1;
		fclose(fp);
	}
	if ((fp = fopen(counter, "w")) != NULL) {
		fprintf(fp, "%ld\n", run);
		fclose(fp);
	}
	free(path);
	return run;
}

static struct plan
choose_plan(long run)
{
	const char	*steps, *v;
	char		*copy, *cur, *step;
	struct plan	 p;
	long		 i;

	p.kind = PLAN_RUN;
	p.value = 0;
	if ((steps = cfg_get_raw("standin.exits")) != NULL) {
		if (run == 0)
			b_errx(4, "standin.exits needs standin.record or "
			    "standin.counter");
		copy = cur = xstrdup(steps);
		for (i = 1; (step = strsep(&cur, ",")) != NULL; i++)
			if (i == run) {
				p = parse_step("standin.exits", step);
				free(copy);
				return p;
			}
		free(copy);
	}
	if ((v = cfg_get_raw("standin.signal")) != NULL) {
		p = parse_step("standin.signal", v);
		if (p.kind != PLAN_SIGNAL)
			b_errx(4, "invalid value for standin.signal: '%s'", v);
	} else if ((v = cfg_get_raw("standin.exit")) != NULL)
		p = parse_step("standin.exit", v);
	return p;
}

/* The exit status the power button leads to, -1 to ignore it, -2 to die. */
static int
sigterm_status(void)
{
	const char	*v;
	struct plan	 p;

	if ((v = cfg_get_raw("standin.sigterm")) == NULL ||
	    strcmp(v, "poweroff") == 0)
		return 1;
	if (strcmp(v, "halt") == 0)
		return 2;
	if (strcmp(v, "reboot") == 0)
		return 0;
	if (strcmp(v, "ignore") == 0)
		return -1;
	if (strcmp(v, "die") == 0)
		return -2;
	p = parse_step("standin.sigterm", v);
	if (p.kind != PLAN_EXIT)
		b_errx(4, "invalid value for standin.sigterm: '%s'", v);
	return p.value;
}

/* Statuses 0-3 are the guest suspending the VM (vmexit_suspend()); any
 * other is bhyve giving up on a running guest, its vCPUs still active. */
static void
act(struct plan p, const char *reason)
{
	if (p.kind == PLAN_SIGNAL)
		die_by_signal(p.value, reason);
	if (p.value >= 0 && p.value <= 3)
		suspend_exit(p.value, reason);
	finish(p.value, reason);
}

/* ---- the guest's serial console --------------------------------------- */

/*
 * What the stand-in's guest does on com1 (standin.console,
 * standin.console_every, standin.console_echo): what a real guest prints
 * and answers there.  bhyve's UART writes each byte to its backend's
 * non-blocking descriptor and ignores a failure (uart_emul.c ttywrite()):
 * a byte the backend does not take now is lost, and so it is here.
 */
static void
console_write(const char *s, size_t n)
{
	ssize_t	 w;

	while (com1_out != -1 && n > 0) {
		w = write(com1_out, s, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;			/* dropped, as bhyve does */
		s += w;
		n -= (size_t)w;
	}
}

static void
console_say(const char *fmt, ...)
{
	struct buf	 b;
	va_list		 ap;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	console_write(b.data, b.len);
	buf_free(&b);
}

/*
 * standin.console: TEXT, in which \r, \n and \e (ESC) stand for those
 * characters and \\ for a backslash, then "\r\n" unless TEXT ends in
 * \c (a line left without its end, as a prompt).
 */
static void
console_text(const char *text)
{
	struct buf	 b;
	bool		 end = true;

	buf_init(&b);
	for (; *text != '\0'; text++) {
		if (*text != '\\' || text[1] == '\0') {
			buf_putc(&b, *text);
			continue;
		}
		switch (*++text) {
		case 'r':
			buf_putc(&b, '\r');
			break;
		case 'n':
			buf_putc(&b, '\n');
			break;
		case 'e':
			buf_putc(&b, '\033');
			break;
		case 'c':
			end = false;
			break;
		default:
			buf_putc(&b, *text);
			break;
		}
	}
	if (end)
		buf_puts(&b, "\r\n");
	console_write(b.data, b.len);
	buf_free(&b);
}

/*
 * standin.console_echo: a guest shell, in short.  Each byte typed is
 * echoed; a line (ended by CR or LF) is answered "standin: got LINE" and
 * recorded ({"event": "console", "input": LINE}).
 */
static void
console_input(struct buf *line)
{
	char	 buf[512];
	ssize_t	 n, i;

	n = read(com1_in, buf, sizeof(buf));
	if (n <= 0)
		return;
	for (i = 0; i < n; i++) {
		if (buf[i] == '\r' || buf[i] == '\n') {
			console_write("\r\n", 2);
			if (line->len == 0)
				continue;
			record_event("console", "input", line->data, -1,
			    NULL);
			console_say("standin: got %s", line->data);
			buf_reset(line);
			continue;
		}
		console_write(&buf[i], 1);
		buf_putc(line, buf[i]);
	}
}

/* ---- waiting ----------------------------------------------------------- */

static volatile sig_atomic_t	 caught_sig;
static volatile sig_atomic_t	 caught_val;

static void
on_guest_signal(int sig, siginfo_t *info, void *ctx)
{
	(void)ctx;
	caught_sig = sig;
	caught_val = info != NULL ? info->si_value.sival_int : 0;
}

/*
 * Wait for one of the signals of set (blocked), at most ts (NULL: no
 * limit).  Without a console to read, sigtimedwait(2) as bhyve's mevent
 * loop waits; with one, pselect(2) on com1, the signals being caught by a
 * handler while it waits.  Returns the signal (and *val, its si_value),
 * 0 when com1 had input, -1 at the time limit.
 */
static int
wait_guest(const sigset_t *set, struct timespec *ts, int *val,
    struct buf *line)
{
	static bool		 handlers;
	struct sigaction	 sa;
	siginfo_t		 info;
	sigset_t		 during;
	fd_set			 rfds;
	int			 sig, n;

	if (com1_in == -1 || !cfg_bool_default("standin.console_echo",
	    false)) {
		sig = sigtimedwait(set, &info, ts);
		*val = sig > 0 ? info.si_value.sival_int : 0;
		return sig > 0 ? sig : -1;
	}
	if (!handlers) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_guest_signal;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		for (sig = 1; sig < NSIG; sig++)
			if (sigismember(set, sig) == 1)
				sigaction(sig, &sa, NULL);
		handlers = true;
	}
	sigprocmask(SIG_SETMASK, NULL, &during);
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(set, sig) == 1)
			sigdelset(&during, sig);
	caught_sig = 0;
	FD_ZERO(&rfds);
	FD_SET(com1_in, &rfds);
	n = pselect(com1_in + 1, &rfds, NULL, NULL, ts, &during);
	if (caught_sig != 0) {
		*val = caught_val;
		return caught_sig;
	}
	if (n > 0) {
		console_input(line);
		return 0;
	}
	return n == 0 ? -1 : 0;
}

/*
 * The guest runs: wait for the plan's deadline, the power button
 * (SIGTERM) or a bhyvectl operation (SIGUSR2), whichever comes first.
 * Nothing polls: the stand-in sleeps in sigtimedwait(2), or pselect(2)
 * when its guest answers on com1.
 */
static void
run_guest(struct plan plan, double delay, int on_sigterm,
    double shutdown_delay)
{
	struct timespec	 ts;
	struct buf	 line;
	sigset_t	 set;
	struct plan	 off;
	const char	*text;
	double		 deadline, off_at, next, left = 0, every, tick_at;
	long		 ticks = 0;
	int		 sig, val;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (on_sigterm != -2) {
		/* pm.c smi_cmd_handler(): once the guest enables ACPI,
		 * SIGTERM is ignored and watched (mevent EVF_SIGNAL). */
		sigaddset(&set, SIGTERM);
		signal(SIGTERM, SIG_IGN);
	}
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* The console speaks once the power button works: a test that read
	 * standin.stdout may press it. */
	if ((text = cfg_get_raw("standin.stdout")) != NULL) {
		printf("%s\n", text);
		fflush(stdout);
	}
	if ((text = cfg_get_raw("standin.stderr")) != NULL)
		fprintf(stderr, "%s\n", text);
	if ((text = cfg_get_raw("standin.console")) != NULL)
		console_text(text);
	every = standin_seconds("standin.console_every");
	tick_at = every > 0 ? standin_now() + every : -1;
	buf_init(&line);
	buf_puts(&line, "");
	deadline = plan.kind == PLAN_RUN ? -1 : standin_now() + delay;
	off_at = -1;
	off.kind = PLAN_EXIT;
	off.value = on_sigterm;
	for (;;) {
		next = deadline;
		if (off_at >= 0 && (next < 0 || off_at < next))
			next = off_at;
		if (tick_at >= 0 && (next < 0 || tick_at < next))
			next = tick_at;
		if (next >= 0 && (left = next - standin_now()) <= 0) {
			if (next == tick_at) {
				console_say("standin: tick %ld", ++ticks);
				tick_at += every;
				continue;
			}
			if (next == off_at)
				act(off, "sigterm");
			act(plan, "planned");
		}
		if (next >= 0) {
			ts.tv_sec = (time_t)left;
			ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		}
		sig = wait_guest(&set, next >= 0 ? &ts : NULL, &val, &line);
		if (sig == SIGTERM) {
			record_event("signal", "signal", "TERM", -1, NULL);
			if (on_sigterm >= 0 && off_at < 0)
				off_at = standin_now() + shutdown_delay;
		} else if (sig == SIGUSR2) {
			switch (val) {
			case STANDIN_OP_DESTROYED:
				/* vm_loop() and fbsdrun_start_thread() */
				b_eprintln("vm_run error %d, errno %d", -1,
				    ENXIO);
				finish(1, "destroyed");
			case STANDIN_OP_POWEROFF:
				suspend_exit(1, "force-poweroff");
			case STANDIN_OP_RESET:
				suspend_exit(0, "force-reset");
			}
		}
	}
}

int
main(int argc, char **argv)
{
	struct plan		 plan;
	const char		*stop_after;
	unsigned long long	 memsize;
	sigset_t		 usr2;
	double			 start, delay, shutdown_delay;
	long			 run;
	int			 on_sigterm, ncpus;
	bool			 wired;

	start = standin_now();
	buf_init(&lastmsg);
	buf_puts(&lastmsg, "");

	cfg_init();
	parse_options(argc, argv);
	record_path = cfg_get_raw("standin.record");
	if (argc - optind == 1)
		cfg_set("name", argv[optind]);
	vmname = cfg_get("name");
	run = count_run();
	record_start(argc, argv, start, run);
	/* bhyvectl's operations (sent once the vCPUs are active) wait until
	 * the guest runs. */
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	sigprocmask(SIG_BLOCK, &usr2, NULL);
	if (argc - optind > 1 || vmname == NULL)
		usage(1);
	if (cfg_bool_default("config.dump", false)) {
		cfg_dump();
		finish(1, "config.dump");
	}

	ncpus = cfg_topology();
	cfg_check_cpusets(ncpus);
	memsize = cfg_memsize();
	plan = choose_plan(run);
	delay = standin_seconds("standin.delay");
	shutdown_delay = standin_seconds("standin.shutdown_delay");
	on_sigterm = sigterm_status();
	stop_after = cfg_get_raw("standin.stop_after");
	if (stop_after != NULL && strcmp(stop_after, "instance") != 0)
		b_errx(4, "invalid value for standin.stop_after: '%s' "
		    "(\"instance\" expected)", stop_after);

	do_open();
	if (stop_after != NULL)
		raise(SIGSTOP);
	/* bhyve_init_vcpu() */
	(void)cfg_bool_default("x86.vmexit_on_hlt", false);
	(void)cfg_bool_default("x86.vmexit_on_pause", false);
	(void)cfg_bool_default("x86.x2apic", false);
	wired = cfg_bool_default("memory.wired", false);
	(void)cfg_bool_default("memory.guest_in_core", false);
	setup_memory(memsize, wired);
	/* bhyve_init_platform(): rtc_init() */
	(void)cfg_bool_default("rtc.use_localtime", true);
	if (init_pci() != 0) {
		b_eprintln("Device emulation initialization error: %s",
		    fbsd_strerror(errno));
		finish(4, NULL);
	}
	(void)cfg_bool("acpi_tables");		/* vmgenc_init() */
	start_vcpus();
	/* bhyve_init_platform_late() */
	(void)cfg_bool_default("x86.mptable", true);
	if (cfg_bool("acpi_tables"))
		(void)cfg_bool_default("acpi_tables_in_memory", true);

	retitle(argc, argv);
	run_guest(plan, delay, on_sigterm, shutdown_delay);
	return 4;	/* bhyve's main() never returns either */
}
