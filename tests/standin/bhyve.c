/*
 * bhyve.c: a stand-in for bhyve(8), for the tests and the benchmark.
 *
 * bhyve cannot run here, so vmstated's bhyve back end is tested against
 * this program.  What a supervisor can see of bhyve it does as FreeBSD 14's
 * bhyve does (usr.sbin/bhyve/bhyverun.c, config.c, amd64/bhyverun_machdep.c):
 *
 *   - the command line: getopt "aehuwxACDHIPSWYk:f:o:p:G:c:s:m:l:K:U:",
 *     options stop at the first operand; one operand at most, the VM name;
 *     -h prints the usage and exits 0, a bad option or a second operand
 *     exits 1 after the usage, and so does a missing name (neither an operand
 *     nor "name" in the configuration);
 *   - -k file: "key=value" lines; lines starting with '#' and empty lines
 *     are skipped; no trimming; a line without '=' or with an empty value
 *     is an error (exit 4); a file that cannot be opened exits 4; a later
 *     value overrides an earlier one, and -k and -o apply in order;
 *     "a.b=" where "a" is a value, or "a=" where "a.b" exists, exit 4;
 *   - defaults acpi_tables=true, acpi_tables_in_memory=true,
 *     memory.size=256M, x86.strictmsr=true, lpc.fwcfg=bhyve;
 *     config.dump=true prints the configuration and exits 1;
 *   - the checks made before the guest runs: booleans (exit 4), cpus,
 *     sockets, cores, threads and their product (exit 4), memory.size
 *     (exit 64, EX_USAGE), creating the VM instance (a fresh instance needs
 *     lpc.bootrom, "virtual machine cannot be booted", exit 4; an instance
 *     a live bhyve uses is busy, exit 4), the bootrom file (exit 4);
 *   - SIGTERM is the ACPI power button: the guest then powers off and bhyve
 *     exits 1 (standin.sigterm below chooses how the guest reacts);
 *   - exit statuses: 0 rebooted, 1 powered off, 2 halted, 3 triple fault,
 *     4 error; -D (destroy_on_poweroff) destroys the instance on exit 1.
 *
 * With VMSTATED_STANDIN_VMM=DIR in the environment, DIR plays /dev/vmm:
 * bhyve creates DIR/NAME and holds a lock on it while it runs,
 * bhyvectl --destroy removes it (see standin.h).
 *
 * Everything else is steered by configuration keys under "standin." (bhyve
 * accepts any key, so they are harmless to it):
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
 *   standin.record=PATH     append JSON lines: {"event": "start", ...} per
 *                           run (argv, pids, config, descriptors, signals,
 *                           environment), "signal" per SIGTERM received and
 *                           "exit" (status or signal, reason) before exiting
 *
 * An invalid standin.* value exits 4 with a message, like a bad bhyve key.
 */
#include <sys/file.h>
#include <sys/resource.h>
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

/* What this run of the guest does when nothing interrupts it. */
enum plan_kind { PLAN_RUN, PLAN_EXIT, PLAN_SIGNAL };

struct plan {
	enum plan_kind	 kind;
	int		 value;		/* status or signal number */
};

struct setting		*settings;
size_t			 nsettings;
const char		*progname;
static const char	*record_path;	/* standin.record, once parsed */
static const char	*vmname;
static int		 instance_fd = -1;
static char		*instance_path;

static void	 usage(int) __attribute__((noreturn));

/* ---- command line ------------------------------------------------------ */

static void
usage(int code)
{
	int	 w;

	w = (int)strlen(progname);
	fprintf(stderr,
	    "Usage: %s [-aCDeHhPSuWwxY]\n"
	    "       %*s [-c [[cpus=]numcpus][,sockets=n][,cores=n][,threads=n]]\n"
	    "       %*s [-G port] [-k config_file] [-l lpc] [-m mem] "
	    "[-o var=value]\n"
	    "       %*s [-p vcpu:hostcpu] [-r file] [-s pci] [-U uuid] vmname\n"
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
	    progname, w, "", w, "", w, "");
	finish(code, "usage");
}

/* -c: bhyve_topology_parse(); false when malformed. */
static bool
parse_topology(const char *opt)
{
	static const char *const keys[] = { "cpus", "sockets", "cores",
	    "threads" };
	char		*copy, *str, *cp;
	size_t		 i, n;
	bool		 ok;

	if (*opt == '\0') {
		for (i = 0; i < 4; i++)
			cfg_set(keys[i], "1");
		return true;
	}
	ok = true;
	copy = str = xstrdup(opt);
	while (ok && (cp = strsep(&str, ",")) != NULL) {
		for (i = 0; i < 4; i++) {
			n = strlen(keys[i]);
			if (strncmp(cp, keys[i], n) == 0 && cp[n] == '=') {
				cfg_set(keys[i], cp + n + 1);
				break;
			}
		}
		if (i < 4)
			continue;
		if (strchr(cp, '=') != NULL)
			ok = false;
		else
			cfg_set("cpus", cp);
	}
	free(copy);
	return ok;
}

/* -l: the LPC devices a supervisor uses (bootrom, com1-com4). */
static bool
parse_lpc(const char *opt)
{
	char	*copy, *name, *rest, *key;
	bool	 ok;

	copy = xstrdup(opt);
	rest = copy;
	name = strsep(&rest, ",");
	ok = true;
	if (strcasecmp(name, "bootrom") == 0 && rest != NULL) {
		cfg_set("lpc.bootrom", strsep(&rest, ","));
		if (rest != NULL)
			cfg_set("lpc.bootvars", rest);
	} else if (strncasecmp(name, "com", 3) == 0 && name[3] >= '1' &&
	    name[3] <= '4' && name[4] == '\0' && rest != NULL) {
		xasprintf(&key, "lpc.com%c.path", name[3]);
		cfg_set(key, rest);
		free(key);
	} else
		ok = false;
	free(copy);
	return ok;
}

/* -s: only the slot and the driver are kept (pci.0.SLOT.0.device). */
static void
parse_pci(const char *opt)
{
	char	*copy, *rest, *slot, *key;

	copy = xstrdup(opt);
	rest = copy;
	slot = strsep(&rest, ",");
	if (rest == NULL || *rest == '\0')
		fail(4, "Invalid PCI slot info field \"%s\"", opt);
	xasprintf(&key, "pci.0.%s.0.device", slot);
	cfg_set(key, strsep(&rest, ","));
	free(key);
	free(copy);
}

static const char optstring[] =
#ifdef __GLIBC__
    "+"		/* stop at the first operand, as BSD getopt does */
#endif
    "aehuwxACDHIPSWYk:f:o:p:G:c:s:m:l:K:U:";

static void
parse_options(int argc, char **argv)
{
	char	*key;
	int	 c, vcpu, pcpu;

	while ((c = getopt(argc, argv, optstring)) != -1) {
		switch (c) {
		case 'a':
			cfg_set("x86.x2apic", "false");
			break;
		case 'A':	/* a no-op since ACPI tables are always built */
		case 'I':	/* deprecated: the ioapic is always there */
		case 'f':	/* fw_cfg items are not modelled */
			break;
		case 'D':
			cfg_set("destroy_on_poweroff", "true");
			break;
		case 'p':
			if (sscanf(optarg, "%d:%d", &vcpu, &pcpu) != 2 ||
			    vcpu < 0 || pcpu < 0)
				fail(EX_USAGE, "%s: invalid vcpu pinning "
				    "configuration '%s'", progname, optarg);
			xasprintf(&key, "vcpu.%d.cpuset", vcpu);
			cfg_set(key, strchr(optarg, ':') + 1);
			free(key);
			break;
		case 'c':
			if (!parse_topology(optarg))
				fail(EX_USAGE, "%s: invalid cpu topology '%s'",
				    progname, optarg);
			break;
		case 'C':
			cfg_set("memory.guest_in_core", "true");
			break;
		case 'G':
			if (*optarg == 'w') {
				cfg_set("gdb.wait", "true");
				optarg++;
			}
			cfg_set("gdb.port", optarg);
			break;
		case 'k':
			cfg_parse_file(optarg);
			break;
		case 'K':
			cfg_set("keyboard.layout", optarg);
			break;
		case 'l':
			if (strncmp(optarg, "help", strlen(optarg)) == 0) {
				printf("bootrom\ncom1\ncom2\ncom3\ncom4\n");
				exit(0);
			}
			if (!parse_lpc(optarg))
				fail(EX_USAGE, "%s: invalid lpc device "
				    "configuration '%s'", progname, optarg);
			break;
		case 's':
			if (strncmp(optarg, "help", strlen(optarg)) == 0)
				exit(0);
			parse_pci(optarg);
			break;
		case 'S':
			cfg_set("memory.wired", "true");
			break;
		case 'm':
			cfg_set("memory.size", optarg);
			break;
		case 'o':
			if (!cfg_parse_option(optarg))
				fail(EX_USAGE, "%s: invalid configuration "
				    "option '%s'", progname, optarg);
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

/* ---- the VM instance and the bootrom ---------------------------------- */

/*
 * do_open(): create the VM instance, or reuse the one left by an earlier
 * run.  A fresh instance can only boot from a bootrom; an instance that a
 * live bhyve holds is busy.
 */
static void
open_instance(void)
{
	bool	 romboot, created;
	int	 fd;

	romboot = cfg_get("lpc.bootrom") != NULL;
	if (strchr(vmname, '/') != NULL || *vmname == '\0')
		fail(4, "vm_create: %s", strerror(EINVAL));
	if ((instance_path = standin_instance_path(vmname)) == NULL) {
		if (!romboot)
			fail(4, "virtual machine cannot be booted");
		return;
	}
	created = true;
	fd = open(instance_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1 && errno == EEXIST) {
		created = false;
		fd = open(instance_path, O_RDWR | O_CLOEXEC);
	}
	if (fd == -1)
		fail(4, "vm_create: %s", strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		fail(4, "vm_reinit: %s", strerror(EBUSY));
	}
	if (created && !romboot)
		fail(4, "virtual machine cannot be booted");
	if (ftruncate(fd, 0) == -1 || dprintf(fd, "%ld\n", (long)getpid()) < 0)
		fail(4, "vm_create: %s", strerror(errno));
	instance_fd = fd;
}

static void
check_bootrom(void)
{
	const char	*rom;
	int		 fd;

	if ((rom = cfg_get("lpc.bootrom")) == NULL)
		return;
	if ((fd = open(rom, O_RDONLY)) == -1)
		fail(4, "Error opening bootrom \"%s\": %s", rom,
		    strerror(errno));
	close(fd);
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
		fprintf(stderr, "%s: standin.record %s: %s\n", progname,
		    record_path, strerror(errno));
}

static void
record_start(int argc, char **argv, double start, long run)
{
	struct buf	 b;
	char		 cwd[PATH_MAX];
	bool		 first = true, cfirst = true;
	int		 i;
	size_t		 s;

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
	for (s = 0; s < nsettings; s++) {
		standin_json_key(&b, settings[s].key, &cfirst);
		buf_json_cstr(&b, settings[s].value);
	}
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

/* ---- exits ------------------------------------------------------------- */

/* Every exit after the options were read: record it, then exit. */
void
finish(int status, const char *reason)
{
	fflush(stdout);
	if (status == 1 && instance_fd != -1 &&
	    cfg_bool("destroy_on_poweroff", false))
		unlink(instance_path);
	record_event("exit", NULL, NULL, status, reason);
	exit(status);
}

/* Print the message as bhyve would (callers add the "bhyve: " of errx()
 * where bhyve has one), then exit with status. */
void
fail(int status, const char *fmt, ...)
{
	struct buf	 msg;
	va_list		 ap;

	buf_init(&msg);
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", msg.data);
	finish(status, msg.data);
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

/* ---- the guest --------------------------------------------------------- */

static double
standin_seconds(const char *key)
{
	const char	*v;
	char		*end;
	double		 d;

	if ((v = cfg_get(key)) == NULL)
		return 0;
	d = strtod(v, &end);
	if (end == v || *end != '\0' || !(d >= 0 && d < 1e9))
		fail(4, "%s: invalid value for %s: '%s' (seconds expected)",
		    progname, key, v);
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
		fail(4, "%s: invalid value for %s: '%s' (an exit status, a "
		    "signal name or \"run\" expected)", progname, key, v);
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
	if ((counter = cfg_get("standin.counter")) == NULL) {
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
	if ((steps = cfg_get("standin.exits")) != NULL) {
		if (run == 0)
			fail(4, "%s: standin.exits needs standin.record or "
			    "standin.counter", progname);
		copy = cur = xstrdup(steps);
		for (i = 1; (step = strsep(&cur, ",")) != NULL; i++)
			if (i == run) {
				p = parse_step("standin.exits", step);
				free(copy);
				return p;
			}
		free(copy);
	}
	if ((v = cfg_get("standin.signal")) != NULL) {
		p = parse_step("standin.signal", v);
		if (p.kind != PLAN_SIGNAL)
			fail(4, "%s: invalid value for standin.signal: '%s'",
			    progname, v);
	} else if ((v = cfg_get("standin.exit")) != NULL)
		p = parse_step("standin.exit", v);
	return p;
}

/* The exit status the power button leads to, -1 to ignore it, -2 to die. */
static int
sigterm_status(void)
{
	const char	*v;
	struct plan	 p;

	if ((v = cfg_get("standin.sigterm")) == NULL ||
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
		fail(4, "%s: invalid value for standin.sigterm: '%s'",
		    progname, v);
	return p.value;
}

static void
act(struct plan p, const char *reason)
{
	if (p.kind == PLAN_SIGNAL)
		die_by_signal(p.value, reason);
	finish(p.value, reason);
}

/*
 * The guest runs: wait for the plan's deadline, the power button
 * (SIGTERM) or a bhyvectl operation (SIGUSR2), whichever comes first.
 * Nothing polls: sigtimedwait() sleeps until one of them.
 */
static void
run_guest(struct plan plan, double delay, int on_sigterm,
    double shutdown_delay)
{
	struct timespec	 ts;
	siginfo_t	 info;
	sigset_t	 set;
	struct plan	 off;
	const char	*text;
	double		 deadline, off_at, next, left = 0;
	int		 sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (on_sigterm != -2)
		sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* The console speaks once the power button works: a test that read
	 * standin.stdout may press it. */
	if ((text = cfg_get("standin.stdout")) != NULL) {
		printf("%s\n", text);
		fflush(stdout);
	}
	if ((text = cfg_get("standin.stderr")) != NULL)
		fprintf(stderr, "%s\n", text);
	deadline = plan.kind == PLAN_RUN ? -1 : standin_now() + delay;
	off_at = -1;
	off.kind = PLAN_EXIT;
	off.value = on_sigterm;
	for (;;) {
		next = deadline;
		if (off_at >= 0 && (next < 0 || off_at < next))
			next = off_at;
		if (next >= 0 && (left = next - standin_now()) <= 0) {
			if (next == off_at)
				act(off, "sigterm");
			act(plan, "planned");
		}
		if (next >= 0) {
			ts.tv_sec = (time_t)left;
			ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		}
		sig = sigtimedwait(&set, &info, next >= 0 ? &ts : NULL);
		if (sig == SIGTERM) {
			record_event("signal", "signal", "TERM", -1, NULL);
			if (on_sigterm >= 0 && off_at < 0)
				off_at = standin_now() + shutdown_delay;
		} else if (sig == SIGUSR2) {
			switch (info.si_value.sival_int) {
			case STANDIN_OP_DESTROYED:
				fprintf(stderr, "vm_run error -1, errno %d\n",
				    ENXIO);
				finish(1, "destroyed");
			case STANDIN_OP_POWEROFF:
				finish(1, "force-poweroff");
			case STANDIN_OP_RESET:
				finish(0, "force-reset");
			}
		}
	}
}

int
main(int argc, char **argv)
{
	struct plan	 plan;
	double		 start, delay, shutdown_delay;
	char		*slash;
	long		 run;
	int		 on_sigterm;

	start = standin_now();
	progname = (slash = strrchr(argv[0], '/')) != NULL ? slash + 1 :
	    argv[0];
	cfg_set("acpi_tables", "true");
	cfg_set("acpi_tables_in_memory", "true");
	cfg_set("memory.size", "256M");
	cfg_set("x86.strictmsr", "true");
	cfg_set("lpc.fwcfg", "bhyve");
	parse_options(argc, argv);

	record_path = cfg_get("standin.record");
	if (argc - optind == 1)
		cfg_set("name", argv[optind]);
	vmname = cfg_get("name");
	run = count_run();
	record_start(argc, argv, start, run);
	if (argc - optind > 1 || vmname == NULL)
		usage(1);
	if (cfg_bool("config.dump", false)) {
		cfg_dump("");
		finish(1, "config.dump");
	}

	check_booleans();
	check_topology();
	check_memsize();
	plan = choose_plan(run);
	delay = standin_seconds("standin.delay");
	shutdown_delay = standin_seconds("standin.shutdown_delay");
	on_sigterm = sigterm_status();
	open_instance();
	check_bootrom();

	run_guest(plan, delay, on_sigterm, shutdown_delay);
	return 4;	/* bhyve's main() never returns either */
}
