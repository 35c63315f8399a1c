/*
 * main.c: vmstated, the parent of everything: options, start-up, signals,
 * the event loop and an orderly exit.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "platform.h"
#include "proc.h"
#include "vmstated.h"

#ifndef CONFIGDIR
#define CONFIGDIR	"/usr/local/etc/vmstated"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/var/run"
#endif
#ifndef LOGDIR
#define LOGDIR		"/var/log/vmstated"
#endif

static struct event_base	*base;
static struct daemon_config	 dconf;
static char			*configdir;
static char			*logdir;
static bool			 shutting_down;

struct event_base *
vmstated_base(void)
{
	return base;
}

const struct daemon_config *
vmstated_config(void)
{
	return &dconf;
}

const char *
vmstated_logdir(void)
{
	return logdir;
}

const char *
vmstated_configdir(void)
{
	return configdir;
}

bool
vmstated_shutting_down(void)
{
	return shutting_down;
}

/*
 * Reload: read vmstated.conf again.  On an error the settings in force
 * stay and the error is returned (malloc'd) for the reply.  The run
 * directory holds the state files and sockets of running VMs: a new one
 * takes effect at the next start of the daemon.
 */
char *
vmstated_reload_config(void)
{
	struct daemon_config	 ndc;
	char			*error = NULL;

	if (cfg_load_daemon(configdir, &ndc, &error) == -1) {
		cfg_daemon_free(&ndc);
		log_warnx("reload: %s; the settings in force stay", error);
		return error;
	}
	if (strcmp(ndc.rundir, dconf.rundir) != 0) {
		log_warnx("reload: rundir %s takes effect when vmstated next "
		    "starts; %s stays in use", ndc.rundir, dconf.rundir);
		free(ndc.rundir);
		ndc.rundir = xstrdup(dconf.rundir);
	}
	cfg_daemon_free(&dconf);
	dconf = ndc;
	return NULL;
}

/* During shutdown: leave the loop once every VM is idle. */
void
vmstated_check_shutdown(void)
{
	if (shutting_down && sv_all_at_rest())
		event_base_loopexit(base, NULL);
}

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: vmstated [-fhnTv] [-c configdir] [-p pidfile] "
	    "[-s socket] [-l logdir]\n"
	    "  -c configdir  VM configuration directory (default %s)\n"
	    "  -f            stay in the foreground, log to stderr too\n"
	    "  -h            print this help and exit\n"
	    "  -n            check every configuration and exit: 0 if all "
	    "are valid\n"
	    "  -p pidfile    (default %s/vmstated.pid)\n"
	    "  -s socket     control socket (default %s/vmstated.sock)\n"
	    "  -T            print the state machine's table and exit\n"
	    "  -l logdir     per-VM logs (default %s)\n"
	    "  -v            more verbose logging (may be repeated)\n",
	    CONFIGDIR, RUNSTATEDIR, RUNSTATEDIR, LOGDIR);
	exit(status);
}

/* An absolute version of path, so that chdir("/") changes nothing. */
static char *
absolute(const char *path)
{
	char	 cwd[PATH_MAX], *abs;

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return xstrdup(path);
	xasprintf(&abs, "%s/%s", cwd, path);
	return abs;
}

/* mkdir -p for one level we own; an existing directory is fine. */
static int
ensure_dir(const char *path, mode_t mode, char *err, size_t errlen)
{
	struct stat	 sb;

	if (mkdir(path, mode) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create directory %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (stat(path, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", path);
		return -1;
	}
	return 0;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reloading configuration, reopening logs");
		sv_reload(NULL);
		break;
	case SIGUSR1:
		log_info("SIGUSR1: reopening the VM logs");
		vmlog_reopen_all();
		break;
	case SIGTERM:
	case SIGINT:
		if (shutting_down) {
			log_info("%s again: still stopping VMs; vmstated exits "
			    "within %.0f s (shutdown_timeout)",
			    sig == SIGTERM ? "SIGTERM" : "SIGINT",
			    order_shutdown_left());
			break;
		}
		log_info("%s: stopping every VM, then exiting",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		shutting_down = true;
		order_shutdown();
		break;
	}
}

/* Let 1000 VMs have their log files and sockets. */
static void
raise_fd_limit(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (rl.rlim_cur > 65536)
			rl.rlim_cur = 65536;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static bool
any_vm_names_owner(const struct cfg_set *set)
{
	size_t	 i;

	for (i = 0; i < set->nvms; i++)
		if (set->vms[i]->owner != NULL || set->vms[i]->group != NULL)
			return true;
	return false;
}

static void __attribute__((noreturn))
startup_failed(const char *msg)
{
	log_warnx("%s", msg);
	daemon_report(0, msg);
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct event	*sigs[4];
	struct cfg_set	*set;
	const char	*pidfile = RUNSTATEDIR "/vmstated.pid";
	const char	*sockpath = RUNSTATEDIR "/vmstated.sock";
	char		 err[2048], *error = NULL;
	char		*abs_pidfile, *abs_sock;
	bool		 foreground = false, check = false, all_stopped;
	int		 ch, verbose = 0, i;
	const int	 signums[4] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1 };

	daemon_sanitize_fds();
	platform_memory_init();
	configdir = xstrdup(CONFIGDIR);
	logdir = xstrdup(LOGDIR);
	while ((ch = getopt(argc, argv, "c:fhl:np:s:Tv")) != -1) {
		switch (ch) {
		case 'c':
			free(configdir);
			configdir = xstrdup(optarg);
			break;
		case 'f':
			foreground = true;
			break;
		case 'h':
			usage(0);
		case 'l':
			free(logdir);
			logdir = xstrdup(optarg);
			break;
		case 'n':
			check = true;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 's':
			sockpath = optarg;
			break;
		case 'T':
			if (vm_check_table() == -1)
				return 1;
			vm_print_table(stdout);
			return 0;
		case 'v':
			verbose++;
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	log_init("vmstated", LOG_TO_STDERR, verbose);
	if (check)
		return cfg_check(configdir, stdout, stderr);

	{
		char *p = absolute(configdir);
		free(configdir);
		configdir = p;
		p = absolute(logdir);
		free(logdir);
		logdir = p;
	}
	abs_pidfile = absolute(pidfile);
	abs_sock = absolute(sockpath);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	if (!foreground)
		daemon_detach();
	/* In the background, start-up errors reach the terminal through
	 * the parent (daemon_report), so the child logs to syslog only. */
	log_init("vmstated", foreground ? LOG_TO_STDERR | LOG_TO_SYSLOG :
	    LOG_TO_SYSLOG, verbose);

	if (cfg_load_daemon(configdir, &dconf, &error) == -1) {
		snprintf(err, sizeof(err), "%s", error);
		free(error);
		startup_failed(err);
	}
	if (ensure_dir(logdir, 0755, err, sizeof(err)) == -1 ||
	    ensure_dir(dconf.rundir, 0755, err, sizeof(err)) == -1)
		startup_failed(err);
	if (daemon_pidfile(abs_pidfile, err, sizeof(err)) == -1)
		startup_failed(err);
	if (daemon_claim_dirs(logdir, dconf.rundir, err, sizeof(err)) == -1)
		startup_failed(err);
	if ((base = event_base_new()) == NULL)
		startup_failed("cannot create the event loop");
	proc_init(base);
	for (i = 0; i < 4; i++) {
		sigs[i] = evsignal_new(base, signums[i], on_signal, NULL);
		evsignal_add(sigs[i], NULL);
	}

	if (vm_check_table() == -1)
		startup_failed("internal error: the state table is "
		    "incomplete");
	if ((set = cfg_load_all(configdir, &dconf)) == NULL) {
		snprintf(err, sizeof(err), "cannot read the configuration "
		    "directory %s: %s; create it or name another with -c",
		    configdir, strerror(errno));
		daemon_pidfile_remove();
		startup_failed(err);
	}
	/* The socket first: a daemon that cannot serve must not touch the
	 * VMs a previous one left (sv_load takes them back). */
	if (control_listen(abs_sock, &dconf, any_vm_names_owner(set), err,
	    sizeof(err)) == -1) {
		cfg_set_free(set);
		daemon_pidfile_remove();
		startup_failed(err);
	}
	metrics_init();
	sv_load(set);
	cfg_set_free(set);
	platform_memory_trim();
	log_info("started: %zu VMs, %zu invalid, socket %s", sv_count(),
	    sv_invalid_count(), abs_sock);
	daemon_report(1, NULL);
	if (!foreground) {
		if (chdir("/") == -1)
			log_warn("chdir /");
	}

	order_autostart();
	event_base_dispatch(base);

	order_report();
	if ((all_stopped = sv_all_at_rest()))
		log_info("every VM is stopped; exiting");
	else
		log_warnx("the shutdown's time is up; exiting");
	control_close();
	logview_close_all();
	daemon_pidfile_remove();
	order_free();
	sv_free();
	events_free();
	disks_free();
	proc_shutdown();
	for (i = 0; i < 4; i++)
		event_free(sigs[i]);
	cfg_daemon_free(&dconf);
	event_base_free(base);
	free(abs_pidfile);
	free(abs_sock);
	free(configdir);
	free(logdir);
	return all_stopped ? 0 : 1;
}
