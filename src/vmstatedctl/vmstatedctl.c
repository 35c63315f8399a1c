/*
 * vmstatedctl: the command-line client of vmstated.
 *
 *	vmstatedctl [-dhjOqrw] [-H [user@]host] [-S [epoch:]number]
 *	    [-s socket] [-t seconds] command [vmname ...]
 *	vmstatedctl console [-nr] vmname
 *	vmstatedctl log [-f] [-n lines] vmname
 *	vmstatedctl --stdio [-s socket]
 *
 * It sends one request line to the daemon's control socket (proto.h),
 * reads the reply line, prints it for people (or as it is, with -j), and
 * exits 0 on success, 1 when the daemon refused or the operation failed,
 * 2 on a usage error and 3 when the daemon cannot be reached.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"
#include "vmstatedctl.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/var/run"
#endif
#define DEFAULT_SOCKET	RUNSTATEDIR "/vmstated.sock"

/* What each command takes, and how its success reads. */
struct command {
	const char	*name;
	int		 min_vms;
	int		 max_vms;	/* -1: any number */
	bool		 watchable;	/* -w applies */
	const char	*doing;		/* "vm: starting (state ...)" */
};

static const struct command commands[] = {
	{ "start",	1, -1, true,	"starting" },
	{ "stop",	1, -1, true,	"stopping" },
	{ "restart",	1, -1, true,	"restarting" },
	{ "kill",	1, -1, true,	"killed" },
	{ "failreset",	1, -1, false,	"reset" },
	{ "status",	0, -1, false,	NULL },
	{ "info",	1, 1,  false,	NULL },
	{ "reload",	0, 0,  false,	NULL },
	{ "events",	0, 0,  false,	NULL },
	{ "console",	1, 1,  false,	NULL },
	{ "log",	1, 1,  false,	NULL },
	{ "reopen",	0, 0,  false,	NULL },
	{ "metrics",	0, 0,  false,	NULL },
};

static void
usage_text(FILE *f)
{
	fprintf(f,
"usage: vmstatedctl [-dhjOqrw] [-H [user@]host] [-S [epoch:]number]\n"
"                   [-s socket] [-t seconds] command [vmname ...]\n"
"       vmstatedctl --stdio [-s socket]\n"
"commands:\n"
"  start VM ...      start the VMs\n"
"  stop VM ...       stop gracefully (ACPI power button), forced after the\n"
"                    VM's stoptimeout\n"
"  restart VM ...    stop, then start again\n"
"  kill VM ...       stop at once (SIGKILL), then run the stop hooks\n"
"  failreset VM ...  move failed VMs back to stopped\n"
"  status [VM ...]   table of the VMs and their states\n"
"  info VM           every detail of one VM\n"
"  reload            make vmstated re-read its configuration\n"
"  events            print state changes as they happen\n"
"  console [-nr] VM  attach to the VM's serial console (~. detaches);\n"
"                    -n without the scrollback, -r read-only\n"
"  log [-f] [-n N] VM  print the VM's log: -n N its last N lines,\n"
"                    -f then follow it\n"
"  reopen            make vmstated reopen the VM logs (after rotation)\n"
"  metrics           the metrics, in Prometheus's text format\n"
"options:\n"
"  -h  this help      -j  JSON output      -q  print nothing on success\n"
"  -r  stop: stop the VMs that depend on it first (recursively)\n"
"  -d  status: the VMs in start order, with what each depends on\n"
"  -w  wait until each VM is running (start, restart) or stopped (stop,\n"
"      kill), printing its states on the way; at most -t seconds (120)\n"
"  -O  metrics: OpenMetrics instead of Prometheus's text format\n"
"  -S [epoch:]number  events: first the kept events after that number\n"
"  -H [user@]host  run the command on that host's vmstated, through ssh\n"
"      ($VMSTATED_SSH, else ssh) and vmstatedctl --stdio there\n"
"  --stdio     relay standard input and output to the socket (for -H)\n"
"  -s socket   default $VMSTATED_SOCKET, else " DEFAULT_SOCKET "\n"
"  -t seconds  how long to wait for the reply (30), or with -w for the VMs\n");
}

static void __attribute__((noreturn))
usage(const char *why, ...)
{
	va_list	 ap;

	if (why != NULL) {
		fprintf(stderr, "vmstatedctl: ");
		va_start(ap, why);
		vfprintf(stderr, why, ap);
		va_end(ap);
		fprintf(stderr, "\n");
	}
	usage_text(stderr);
	exit(CTL_EXIT_USAGE);
}

/* -t: a whole number of seconds, at least 1. */
static long
parse_seconds(const char *s)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || n < 1 ||
	    n > INT_MAX / 1000)
		usage("-t wants a whole number of seconds, at least 1, "
		    "not \"%s\"", s);
	return n;
}

static char	*since_epoch;	/* -S's epoch, a copy (free_arg_words) */

/*
 * -S: the number of the last event seen, alone or after the epoch of
 * the daemon that numbered it ("3f2a...:42", as events -j shows them).
 */
static void
parse_since(const char *s, struct ctl_opts *o)
{
	const char		*colon = strrchr(s, ':'), *digits = s;
	char			*end;
	unsigned long long	 n;

	if (colon != NULL) {
		if (colon == s)
			usage("-S wants [epoch:]number, not \"%s\"", s);
		free(since_epoch);
		o->since_epoch = since_epoch = xstrndup(s,
		    (size_t)(colon - s));
		digits = colon + 1;
	}
	errno = 0;
	n = strtoull(digits, &end, 10);
	if (*digits < '0' || *digits > '9' || *end != '\0' || errno != 0 ||
	    n > INT64_MAX)
		usage("-S wants the number of an event (0 or more), perhaps "
		    "after its epoch and a colon, not \"%s\"", s);
	o->replay = true;
	o->since = n;
}

/* --stdio, --since N (or --since=N). */
static void
parse_long(const char *arg, int argc, char **argv, int *i,
    struct ctl_opts *o)
{
	size_t	 len = strlen("--since");

	if (strcmp(arg, "--stdio") == 0)
		o->stdio = true;
	else if (strcmp(arg, "--since") == 0) {
		if (*i + 1 >= argc)
			usage("option --since needs a value");
		parse_since(argv[++*i], o);
	} else if (strncmp(arg, "--since=", len + 1) == 0)
		parse_since(arg + len + 1, o);
	else
		usage("unknown option %s", arg);
}

/*
 * Options may come before or after the command (as with most service
 * managers); "--" ends them, for a VM whose name starts with '-'.
 */
static char	**arg_words;	/* lives as long as the program */

/* A whole number of at least 0 (log -n). */
static long
parse_lines(const char *s)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || n < 0 ||
	    n > 100000000)
		usage("log -n wants a number of lines, not \"%s\"", s);
	return n;
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * The command word, found before the options are read: -n takes a value
 * for log (-n 20) and none for console.  A -n followed by digits is
 * taken to have them as its value.
 */
static const char *
prescan_command(int argc, char **argv)
{
	const char	*a;
	int		 i;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (strcmp(a, "--") == 0)
			return i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-' || a[1] == '\0')
			return a;
		if (a[1] == '-') {
			if (strcmp(a, "--since") == 0)
				i++;	/* its value is the next word */
			continue;
		}
		for (a++; *a != '\0'; a++) {
			if (*a == 's' || *a == 't' || *a == 'H' || *a == 'S') {
				if (a[1] == '\0')
					i++;	/* its value is the next word */
				break;
			}
			if (*a == 'n' && a[1] == '\0' && i + 1 < argc &&
			    all_digits(argv[i + 1]))
				i++;
		}
	}
	return NULL;
}

static void
free_arg_words(void)
{
	free(arg_words);
	free(since_epoch);
}

static void
parse_args(int argc, char **argv, struct ctl_opts *o)
{
	char	**words = arg_words = xcalloc((size_t)argc + 1,
	    sizeof(*words));
	const char *arg, *value, *command;
	int	 i, nwords = 0;
	bool	 options = true, is_log, is_console;

	atexit(free_arg_words);

	memset(o, 0, sizeof(*o));
	o->timeout = -1;
	o->lines = -1;
	command = prescan_command(argc, argv);
	is_log = command != NULL && strcmp(command, "log") == 0;
	is_console = command != NULL && strcmp(command, "console") == 0;
	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (!options || arg[0] != '-' || arg[1] == '\0') {
			words[nwords++] = argv[i];
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			options = false;
			continue;
		}
		if (arg[1] == '-') {
			parse_long(arg, argc, argv, &i, o);
			continue;
		}
		for (arg++; *arg != '\0'; arg++) {
			switch (*arg) {
			case 'h':
				usage_text(stdout);
				exit(CTL_EXIT_OK);
			case 'j':
				o->json = true;
				continue;
			case 'q':
				o->quiet = true;
				continue;
			case 'w':
				o->watch = true;
				continue;
			case 'r':
				/* -r: read-only for console, recursive
				 * for stop. */
				if (is_console)
					o->readonly = true;
				else
					o->recursive = true;
				continue;
			case 'd':
				o->order = true;
				continue;
			case 'O':
				o->openmetrics = true;
				continue;
			case 'f':
				o->follow = true;
				continue;
			case 'n':
				if (!is_log) {
					o->no_scrollback = true;
					continue;
				}
				break;
			case 's':
			case 't':
			case 'H':
			case 'S':
				break;
			default:
				usage("unknown option -%c", *arg);
			}
			/* -s, -t, -H and -S take the rest of the word, or the
			 * next. */
			if (arg[1] != '\0')
				value = arg + 1;
			else if (i + 1 < argc)
				value = argv[++i];
			else
				usage("option -%c needs a value", *arg);
			if (*arg == 's') {
				if (*value == '\0')
					usage("-s wants a socket path");
				o->socket = value;
			} else if (*arg == 'H') {
				/* Never an option of ssh's. */
				if (*value == '\0' || *value == '-')
					usage("-H wants [user@]host, not \"%s\"",
					    value);
				o->host = value;
			} else if (*arg == 'S')
				parse_since(value, o);
			else if (*arg == 'n')
				o->lines = parse_lines(value);
			else
				o->timeout = parse_seconds(value);
			break;
		}
	}
	if (o->stdio) {
		/* A relay: everything else comes through it. */
		if (nwords > 0 || o->host != NULL || o->watch || o->json ||
		    o->quiet || o->recursive || o->order || o->openmetrics ||
		    o->replay || o->timeout != -1)
			usage("--stdio takes no command and no option but -s");
		return;
	}
	if (nwords == 0)
		usage("no command given");
	o->command = words[0];
	o->vms = words + 1;
	o->nvms = nwords - 1;
}

/* Check the command and its VM count; returns its table entry. */
static const struct command *
check_command(const struct ctl_opts *o)
{
	const struct command	*cmd = NULL;
	size_t			 i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, o->command) == 0)
			cmd = &commands[i];
	if (cmd == NULL)
		usage("unknown command \"%s\"", o->command);
	if (o->nvms < cmd->min_vms)
		usage("%s: name the VM%s to act on", cmd->name,
		    cmd->max_vms == 1 ? "" : "(s)");
	if (cmd->max_vms == 0 && o->nvms > 0)
		usage("%s takes no VM names", cmd->name);
	if (cmd->max_vms > 0 && o->nvms > cmd->max_vms)
		usage("%s takes exactly one VM name", cmd->name);
	if (o->watch && !cmd->watchable)
		usage("-w applies to start, stop, restart and kill, "
		    "not to %s", cmd->name);
	if (o->recursive && strcmp(cmd->name, "stop") != 0)
		usage("-r applies to stop, not to %s", cmd->name);
	if (o->order && strcmp(cmd->name, "status") != 0)
		usage("-d applies to status, not to %s", cmd->name);
	if (o->openmetrics && strcmp(cmd->name, "metrics") != 0)
		usage("-O applies to metrics, not to %s", cmd->name);
	if (o->replay && strcmp(cmd->name, "events") != 0)
		usage("-S applies to events, not to %s", cmd->name);
	if ((o->readonly || o->no_scrollback) &&
	    strcmp(cmd->name, "console") != 0)
		usage("-r and -n apply to console (and -n N to log), not to "
		    "%s", cmd->name);
	if ((o->follow || o->lines >= 0) && strcmp(cmd->name, "log") != 0)
		usage("-f and -n N apply to log, not to %s", cmd->name);
	for (i = 0; i < (size_t)o->nvms; i++)
		if (o->vms[i][0] == '\0')
			usage("an empty VM name");
	return cmd;
}

/*
 * Check one line from the daemon into *r.  Returns 0, or -1 after saying
 * what is wrong with it; reply_free() is due either way.
 */
int
ctl_parse_reply(struct reply *r, const char *line, size_t len)
{
	const char	*p = line;

	if (reply_parse(r, line, len) == 0)
		return 0;
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (*p == '[')
		log_warnx("vmstated sent a line that is not a JSON object: "
		    "%.200s", line);
	else
		log_warnx("vmstated sent a line that is not JSON (%s): %.200s",
		    r->error, line);
	return -1;
}

/* The request line, newline included. */
static void
build_request(struct buf *b, const struct ctl_opts *o)
{
	int	 i;

	buf_puts(b, "{\"command\":");
	buf_json_cstr(b, o->command);
	buf_puts(b, ",\"vms\":[");
	for (i = 0; i < o->nvms; i++) {
		if (i > 0)
			buf_putc(b, ',');
		buf_json_cstr(b, o->vms[i]);
	}
	buf_puts(b, "]");
	if (o->watch)
		buf_puts(b, ",\"watch\":true");
	if (o->recursive)
		buf_puts(b, ",\"recursive\":true");
	if (o->openmetrics)
		buf_puts(b, ",\"format\":\"openmetrics\"");
	if (o->replay) {
		buf_printf(b, ",\"since\":%llu", o->since);
		if (o->since_epoch != NULL) {
			buf_puts(b, ",\"epoch\":");
			buf_json_cstr(b, o->since_epoch);
		}
	}
	if (o->readonly)
		buf_puts(b, ",\"readonly\":true");
	if (o->no_scrollback)
		buf_puts(b, ",\"scrollback\":false");
	if (o->follow)
		buf_puts(b, ",\"follow\":true");
	if (o->lines >= 0)
		buf_printf(b, ",\"lines\":%ld", o->lines);
	buf_puts(b, "}\n");
}

/*
 * start, stop, restart, kill, failreset: one line per VM the daemon
 * accepted, its message on stderr for each it refused.  Returns
 * CTL_EXIT_OK when all were accepted, else CTL_EXIT_FAILED.
 */
static int
show_results(struct reply *reply, const struct ctl_opts *o,
    const struct command *cmd)
{
	const struct reply_value	*results;
	struct reply_value		 r;
	struct reply_cursor		 c;
	const char			*vm, *state, *error;
	int				 status = CTL_EXIT_OK;

	if ((results = reply_get(reply, "results")) == NULL ||
	    results->type != REPLY_ARRAY) {
		if ((error = reply_str(reply, NULL, "error")) != NULL) {
			log_warnx("%s", error);
			return CTL_EXIT_FAILED;
		}
		if (!reply_true(reply, NULL, "ok")) {
			log_warnx("vmstated refused the request without "
			    "saying why");
			return CTL_EXIT_FAILED;
		}
		return CTL_EXIT_OK;
	}
	reply_enter(reply, results, &c, NULL);
	while (reply_next(&c, NULL, &r)) {
		vm = reply_str(reply, &r, "vm");
		if (!reply_true(reply, &r, "ok")) {
			error = reply_str(reply, &r, "error");
			if (error != NULL)
				log_warnx("%s", error);
			else
				log_warnx("%s: refused, no reason given",
				    vm != NULL ? vm : "?");
			status = CTL_EXIT_FAILED;
			continue;
		}
		if (o->quiet || o->json || o->watch || vm == NULL)
			continue;
		show_sanitized(vm);
		printf(": %s", cmd->doing);
		if ((state = reply_str(reply, &r, "state")) != NULL) {
			printf(" (state ");
			show_sanitized(state);
			printf(")");
		}
		printf("\n");
	}
	if (status == CTL_EXIT_OK && !reply_true(reply, NULL, "ok"))
		status = CTL_EXIT_FAILED;
	return status;
}

/* Act on a reply that is not ok: print its error.  Returns the exit. */
static int
refused(struct reply *reply)
{
	const char	*error = reply_str(reply, NULL, "error");

	log_warnx("%s", error != NULL ? error :
	    "vmstated refused the request without saying why");
	return CTL_EXIT_FAILED;
}

/*
 * events -S: say so when the daemon no longer had every event after the
 * number (its history is bounded, or it is another daemon).  The events
 * it had follow all the same.
 */
static void
events_missed(struct reply *reply)
{
	const char	*why;

	if (!reply_true(reply, NULL, "missed"))
		return;
	why = reply_str(reply, NULL, "warning");
	log_warnx("some events were missed: %s", why != NULL ? why :
	    "vmstated did not say why");
}

/* metrics: the text as it is (for a file, node_exporter's textfile). */
static int
show_metrics(struct reply *reply)
{
	const struct reply_value	*text = reply_get(reply, "text");
	struct reply_value		 copy;

	if (text == NULL || text->type != REPLY_STRING) {
		log_warnx("vmstated sent metrics without their text");
		return CTL_EXIT_FAILED;
	}
	copy = *text;
	fputs(reply_string(reply, &copy), stdout);
	return CTL_EXIT_OK;
}

/*
 * Turn the reply into output and an exit status; events and -w go on
 * reading the connection.
 */
static int
handle_reply(struct ctl_conn *c, const struct ctl_opts *o,
    const struct command *cmd, struct reply *reply, const char *line,
    double deadline)
{
	int	 status;

	if (o->json && !o->quiet)
		printf("%s\n", line);
	fflush(stdout);
	if (cmd->doing != NULL) {
		status = show_results(reply, o, cmd);
		if (o->watch && reply_get(reply, "results") != NULL &&
		    watch_states(c, o, reply, deadline) != CTL_EXIT_OK)
			status = CTL_EXIT_FAILED;
		return status;
	}
	if (!reply_true(reply, NULL, "ok"))
		return refused(reply);
	if (strcmp(cmd->name, "events") == 0) {
		events_missed(reply);
		return watch_events(c, o);
	}
	if (strcmp(cmd->name, "console") == 0)
		return console_session(c, o, reply);
	if (strcmp(cmd->name, "log") == 0)
		return log_session(c, o);
	if (strcmp(cmd->name, "reopen") == 0)
		return CTL_EXIT_OK;
	if (strcmp(cmd->name, "reload") == 0)
		return show_reload(reply, o->quiet || o->json);
	if (o->json || o->quiet)
		return CTL_EXIT_OK;
	if (strcmp(cmd->name, "metrics") == 0)
		return show_metrics(reply);
	if (strcmp(cmd->name, "status") == 0)
		return (o->order ? show_status_order(reply) :
		    show_status(reply)) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
	return show_info(reply) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

/*
 * Read the reply line before deadline into *reply, skipping any event
 * line that might come first.  Returns 0, or -1 with *status set.
 */
static int
read_reply(struct ctl_conn *c, long seconds, double deadline,
    struct reply *reply, char **line, int *status)
{
	size_t	 len;
	int	 rv;

	for (;;) {
		rv = ctl_read_line(c, line, &len, deadline);
		if (rv == CTL_LINE_TIMEOUT) {
			log_warnx("no reply from vmstated on %s within %ld s; "
			    "is it hung? (-t to wait longer)", c->path,
			    seconds);
			*status = CTL_EXIT_UNREACHABLE;
			return -1;
		}
		if (rv == CTL_LINE_EOF) {
			/* Through ssh, remote_end() says what ssh said. */
			if (!c->remote)
				log_warnx("vmstated on %s closed the connection "
				    "without replying; see its log", c->path);
			*status = CTL_EXIT_UNREACHABLE;
			return -1;
		}
		if (rv != CTL_LINE_OK) {
			*status = rv == CTL_LINE_INTERRUPTED ? CTL_EXIT_OK :
			    CTL_EXIT_FAILED;
			return -1;
		}
		if (ctl_parse_reply(reply, *line, len) == -1) {
			reply_free(reply);
			free(*line);
			*status = CTL_EXIT_FAILED;
			return -1;
		}
		if (reply_get(reply, "event") == NULL)
			return 0;
		reply_free(reply);
		free(*line);
	}
}

int
main(int argc, char **argv)
{
	const struct command	*cmd;
	struct ctl_opts		 o;
	struct ctl_conn		 c;
	struct reply		 reply;
	struct buf		 req;
	const char		*env;
	char			*line;
	double			 deadline;
	long			 seconds;
	int			 status;

	log_init("vmstatedctl", LOG_TO_STDERR, 0);
	parse_args(argc, argv, &o);
	/* With -H, -s names the other host's socket; else its default. */
	if (o.socket == NULL && o.host == NULL) {
		env = getenv("VMSTATED_SOCKET");
		o.socket = env != NULL && *env != '\0' ? env : DEFAULT_SOCKET;
	}
	if (o.stdio)
		return remote_stdio(o.socket);
	cmd = check_command(&o);
	seconds = o.timeout;
	if (seconds < 0)
		seconds = o.watch ? CTL_DEFAULT_WAIT : CTL_DEFAULT_TIMEOUT;
	o.timeout = seconds;
	deadline = ctl_now() + (double)seconds;

	if (strcmp(cmd->name, "events") == 0 ||
	    strcmp(cmd->name, "console") == 0 ||
	    strcmp(cmd->name, "log") == 0)
		ctl_catch_signals();
	if (o.host != NULL ? remote_connect(&c, o.host, o.socket) == -1 :
	    ctl_connect(&c, o.socket, deadline) == -1) {
		ctl_close(&c);
		return o.host != NULL ? remote_end(CTL_EXIT_UNREACHABLE) :
		    CTL_EXIT_UNREACHABLE;
	}
	buf_init(&req);
	build_request(&req, &o);
	if (ctl_send(&c, req.data, req.len, deadline) == -1) {
		buf_free(&req);
		ctl_close(&c);
		return o.host != NULL ? remote_end(CTL_EXIT_UNREACHABLE) :
		    CTL_EXIT_UNREACHABLE;
	}
	buf_free(&req);

	if (read_reply(&c, seconds, deadline, &reply, &line, &status) == 0) {
		status = handle_reply(&c, &o, cmd, &reply, line, deadline);
		reply_free(&reply);
		free(line);
	}
	ctl_close(&c);
	if (o.host != NULL)
		status = remote_end(status);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_warn("cannot write the output");
		if (status == CTL_EXIT_OK)
			status = CTL_EXIT_FAILED;
	}
	return status;
}
