/*
 * qemu.c: the qemu back end.
 *
 * qemu's exit status cannot tell a guest reboot from a poweroff, so qemu
 * runs with -no-reboot (a guest reset makes it exit) and a QMP monitor,
 * whose SHUTDOWN event carries the reason: guest-reset, guest-shutdown,
 * guest-panic (with a pvpanic device), host-signal, host-qmp-quit...
 *
 * QMP: prepare() binds and listens on <rundir>/<name>.qmp and the child
 * inherits that socket as fd 3 (-chardev socket,fd=3,server=on,wait=off).
 * The guest's first serial port is the daemon's console (vmstated(8),
 * CONSOLE) the same way: <rundir>/<name>.console, fd 4, which the daemon
 * connects to after the spawn, and again after a restart of its own (qemu
 * accepts a new client once the old one is gone).
 * Because the socket listens before qemu even starts, spawned() can
 * connect at once, without waiting or retrying; qemu accepts the
 * connection once its monitor runs and sends its greeting.  Everything
 * after that happens from the event loop on a non-blocking descriptor.
 * When qemu exits, everything it wrote is already in the socket, so
 * classify_exit() drains it before deciding: the reap and the last event
 * may arrive in either order.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "file.h"
#include "log.h"
#include "ucl.h"
#include "config.h"
#include "hv.h"

#define QMP_LINE_MAX	(64 * 1024)	/* longer: qemu is not speaking QMP */
#define QMP_REASON_MAX	64

struct qemu_state {
	char		*sock_path;	/* <rundir>/<name>.qmp */
	int		 listen_fd;	/* until the child has it, or -1 */
	char		*console_path;	/* <rundir>/<name>.console */
	int		 console_listen_fd; /* until the child has it, or -1 */
	int		 fd;		/* our QMP connection, or -1 */
	struct event	*ev_read;
	struct event	*ev_write;
	struct buf	 in;		/* bytes not yet forming a line */
	struct buf	 out;		/* commands not yet written */
	bool		 negotiated;	/* qmp_capabilities answered */
	bool		 powerdown_pending; /* asked before negotiation */
	bool		 panicked;	/* GUEST_PANICKED seen */
	char		 reason[QMP_REASON_MAX]; /* SHUTDOWN reason, or "" */
};

static void	qmp_close(struct hv_vm *, struct qemu_state *);
static void	qmp_on_read(evutil_socket_t, short, void *);
static void	qmp_on_write(evutil_socket_t, short, void *);

/* The VM's back-end state, created on first use. */
static struct qemu_state *
qemu_state(struct hv_vm *hv)
{
	struct qemu_state	*qs = hv->state;

	if (qs == NULL) {
		qs = xcalloc(1, sizeof(*qs));
		qs->listen_fd = -1;
		qs->console_listen_fd = -1;
		qs->fd = -1;
		buf_init(&qs->in);
		buf_init(&qs->out);
		hv->state = qs;
	}
	return qs;
}

/* <rundir>/<name>.qmp, remembered in the state. */
static const char *
qemu_sock_path(struct hv_vm *hv, struct qemu_state *qs)
{
	if (qs->sock_path == NULL)
		xasprintf(&qs->sock_path, "%s/%s.qmp",
		    hv->dc->rundir, hv->name);
	return qs->sock_path;
}

/* <rundir>/<name>.console, remembered in the state. */
static const char *
qemu_console_path(struct hv_vm *hv, struct qemu_state *qs)
{
	if (qs->console_path == NULL)
		xasprintf(&qs->console_path, "%s/%s.console", hv->dc->rundir,
		    hv->name);
	return qs->console_path;
}

/* ---- The command line. ---- */

struct argv_builder {
	char	**v;
	size_t	  n, cap;
};

static void
argv_add(struct argv_builder *ab, char *owned)
{
	if (ab->n + 2 > ab->cap) {
		ab->cap = ab->cap ? ab->cap * 2 : 32;
		ab->v = xrealloc(ab->v, ab->cap * sizeof(*ab->v));
	}
	ab->v[ab->n++] = owned;
	ab->v[ab->n] = NULL;
}

static void
argv_add2(struct argv_builder *ab, const char *opt, const char *value)
{
	argv_add(ab, xstrdup(opt));
	argv_add(ab, xstrdup(value));
}

/*
 * A value inside a qemu option list ("file=...,format=raw"): a comma is
 * written twice.  Returns a new string.
 */
static char *
qemu_opt_escape(const char *s)
{
	struct buf	 b;

	buf_init(&b);
	for (; *s != '\0'; s++) {
		if (*s == ',')
			buf_putc(&b, ',');
		buf_putc(&b, *s);
	}
	return buf_steal(&b);
}

/*
 * Whether the user's qemu_args give serial ports of their own (-serial):
 * then the first port stays "stdio", the VM log, as before the daemon
 * had consoles, so that theirs keep their numbers, and the VM has no
 * console of the daemon's.
 */
static bool
qemu_own_serial(const struct vm_config *cfg)
{
	const struct cfg_qemu	*q = cfg_qemu(cfg);
	size_t			 i;

	for (i = 0; i < q->nqemu_args; i++)
		if (strcmp(q->qemu_args[i], "-serial") == 0 ||
		    strcmp(q->qemu_args[i], "--serial") == 0)
			return true;
	return false;
}

/* True when one of the user's qemu_args mentions s. */
static bool
qemu_args_mention(const struct vm_config *cfg, const char *s)
{
	const struct cfg_qemu	*q = cfg_qemu(cfg);
	size_t			 i;

	for (i = 0; i < q->nqemu_args; i++)
		if (strstr(q->qemu_args[i], s) != NULL)
			return true;
	return false;
}

/*
 * -smp from cpus, sockets, cores and threads, each only when given.  Returns a new
 * string, or NULL when none is given.
 */
static char *
qemu_smp(const struct vm_config *cfg)
{
	struct buf	 b;

	if (cfg->cpus == 0 && cfg->sockets == 0 && cfg->cores == 0)
		return NULL;
	buf_init(&b);
	if (cfg->cpus != 0)
		buf_printf(&b, "cpus=%lld", (long long)cfg->cpus);
	if (cfg->sockets != 0)
		buf_printf(&b, "%ssockets=%lld", b.len ? "," : "",
		    (long long)cfg->sockets);
	if (cfg->cores != 0)
		buf_printf(&b, "%scores=%lld", b.len ? "," : "",
		    (long long)cfg->cores);
	if (cfg->threads != 0)
		buf_printf(&b, "%sthreads=%lld", b.len ? "," : "",
		    (long long)cfg->threads);
	return buf_steal(&b);
}

/*
 * A pvpanic device lets qemu see a guest panic (GUEST_PANICKED, SHUTDOWN
 * guest-panic) instead of a guest that hangs.  The ISA one is what x86
 * guests know best; other targets get the PCI one.
 */
static const char *
qemu_pvpanic_device(const char *binary)
{
	const char	*base = strrchr(binary, '/');

	base = base ? base + 1 : binary;
	if (strstr(base, "x86_64") != NULL || strstr(base, "i386") != NULL)
		return "pvpanic";
	return "pvpanic-pci";
}

static const char *
qemu_binary(const struct hv_vm *hv)
{
	if (cfg_qemu(hv->cfg)->qemu_binary != NULL)
		return cfg_qemu(hv->cfg)->qemu_binary;
	return hv->dc->qemu_path;
}

/*
 * The qemu command line of a VM: its settings, then the fixed options that
 * make supervision work, then the user's qemu_args (last, so that they can
 * add devices and accelerators, e.g. -accel kvm).
 */
static char **
qemu_argv(struct hv_vm *hv)
{
	const struct vm_config	*cfg = hv->cfg;
	const struct cfg_qemu	*q = cfg_qemu(cfg);
	struct argv_builder	 ab = { NULL, 0, 0 };
	const char		*binary = qemu_binary(hv);
	char			*s, *esc;
	size_t			 i;

	argv_add(&ab, xstrdup(binary));
	esc = qemu_opt_escape(hv->name);
	argv_add(&ab, xstrdup("-name"));
	xasprintf(&s, "guest=%s", esc);
	argv_add(&ab, s);
	free(esc);
	/* Headless: no default NIC, VGA or monitor; the first serial port
	 * is the daemon's console (fd 4), or the VM log (the child's stdout)
	 * when the user's qemu_args have serial ports of their own. */
	argv_add(&ab, xstrdup("-nodefaults"));
	argv_add2(&ab, "-display", "none");
	if (qemu_own_serial(cfg))
		argv_add2(&ab, "-serial", "stdio");
	else {
		argv_add2(&ab, "-chardev", "socket,id=vmstated-console,fd=4,"
		    "server=on,wait=off");
		argv_add2(&ab, "-serial", "chardev:vmstated-console");
	}
	argv_add(&ab, xstrdup("-no-reboot"));

	if (cfg->memory_mb != 0) {
		xasprintf(&s, "%lldM", (long long)cfg->memory_mb);
		argv_add(&ab, xstrdup("-m"));
		argv_add(&ab, s);
	}
	if ((s = qemu_smp(cfg)) != NULL) {
		argv_add(&ab, xstrdup("-smp"));
		argv_add(&ab, s);
	}
	if (cfg_extra(cfg)->bootrom != NULL)
		argv_add2(&ab, "-bios", cfg_extra(cfg)->bootrom);
	if (cfg->generate_acpi_tables == CFG_NO)
		argv_add2(&ab, "-machine", "acpi=off");
	if (cfg->wire_memory == CFG_YES)
		argv_add2(&ab, "-overcommit", "mem-lock=on");
	if (q->kernel != NULL)
		argv_add2(&ab, "-kernel", q->kernel);
	if (q->initrd != NULL)
		argv_add2(&ab, "-initrd", q->initrd);
	if (q->append != NULL)
		argv_add2(&ab, "-append", q->append);
	for (i = 0; i < q->ndisks; i++) {
		esc = qemu_opt_escape(q->disks[i]);
		/* The format the config gives, never one guessed from the
		 * image: the guest writes its bytes (config.h). */
		xasprintf(&s, "file=%s,format=%s,if=virtio", esc,
		    cfg_disk_format_name(q->disk_formats[i]));
		free(esc);
		argv_add(&ab, xstrdup("-drive"));
		argv_add(&ab, s);
	}
	if (!qemu_args_mention(cfg, "pvpanic"))
		argv_add2(&ab, "-device", qemu_pvpanic_device(binary));
	/* An emulated watchdog whose expiry qemu only reports (QMP WATCHDOG):
	 * the daemon kills and restarts the guest, counted as a crash.
	 * qemu's own actions would reset it behind our back (-no-reboot
	 * makes that an exit) or pause it forever. */
	if (q->watchdog) {
		argv_add2(&ab, "-device", "i6300esb");
		argv_add2(&ab, "-action", "watchdog=none");
	}
	/* qemu writes and locks it: a qemu the state file lost track of is
	 * found by the lock (qemu_find). */
	xasprintf(&s, "%s/%s.pid", hv->dc->rundir, hv->name);
	argv_add(&ab, xstrdup("-pidfile"));
	argv_add(&ab, s);
	argv_add2(&ab, "-chardev",
	    "socket,id=vmstated-qmp,fd=3,server=on,wait=off");
	argv_add2(&ab, "-mon", "chardev=vmstated-qmp,mode=control");
	for (i = 0; i < q->nqemu_args; i++)
		argv_add(&ab, xstrdup(q->qemu_args[i]));
	return ab.v;
}

/* ---- Before the start: files and the QMP socket. ---- */

/*
 * Check that a file the command line names is there and of a kind qemu
 * can use without hanging (a regular file; a device for a disk): the file
 * may have changed since the configuration was loaded.  stat() only: the
 * daemon opens none of them, and must not open a FIFO.
 */
static int
qemu_check_file(const struct vm_config *cfg, const char *key,
    const char *path, int allow, struct buf *err)
{
	char	 msg[256], config[PATH_MAX];
	int	 saved;

	if (file_check(path, allow, msg, sizeof(msg)) == 0)
		return 0;
	saved = errno;
	buf_printf(err, "%s: %s %s: %s", cfg_config_path(cfg, config,
	    sizeof(config)), key, path, msg);
	return file_transient(saved) ? -2 : -1;
}

/*
 * Create the listening QMP socket <rundir>/<name>.qmp, replacing a stale
 * one, readable by its owner only.  Returns the descriptor, or -1 with a
 * sentence in *err (-2: no descriptor to be had, for now).
 */
static int
qemu_listen(const char *path, const char *what, struct buf *err)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old_umask;
	int			 fd, rc, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		buf_printf(err, "%s socket path %s is too long (at most %zu "
		    "bytes); choose a shorter rundir", what, path,
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* Only a socket is stale: anything else in the run directory (the
	 * daemon's own, see daemon_claim_dirs) is not ours to remove.  bind
	 * never follows a link put there: it fails instead. */
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		buf_printf(err, "%s exists and is not a socket; remove it",
		    path);
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		buf_printf(err, "cannot remove stale %s socket %s: %s", what,
		    path, strerror(errno));
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		saved = errno;
		buf_printf(err, "cannot create %s socket: %s", what,
		    strerror(saved));
		return file_transient(saved) ? -2 : -1;
	}
	/* The daemon has no threads: the umask can change for one call. */
	old_umask = umask(077);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (rc == -1 || listen(fd, 4) == -1) {
		buf_printf(err, "cannot listen on %s socket %s: %s", what,
		    path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* Close the listening sockets the child has not taken. */
static void
qemu_close_listeners(struct qemu_state *qs)
{
	if (qs->listen_fd != -1)
		close(qs->listen_fd);
	if (qs->console_listen_fd != -1)
		close(qs->console_listen_fd);
	qs->listen_fd = qs->console_listen_fd = -1;
}

/*
 * Before each start: check the files the command line names and create
 * the QMP and console sockets.  Returns 0, or -1 with a sentence in *err;
 * -2 when that failed for lack of resources (descriptors, memory).
 */
static int
qemu_prepare(struct hv_vm *hv, struct buf *err)
{
	const struct vm_config	*cfg = hv->cfg;
	const struct cfg_qemu	*q = cfg_qemu(cfg);
	struct qemu_state	*qs = qemu_state(hv);
	size_t			 i;
	int			 r;

	qmp_close(hv, qs);
	qemu_close_listeners(qs);
	qs->negotiated = qs->powerdown_pending = qs->panicked = false;
	qs->reason[0] = '\0';

	if (q->kernel != NULL && (r = qemu_check_file(cfg, "kernel",
	    q->kernel, FILE_REGULAR, err)) != 0)
		return r;
	if (q->initrd != NULL && (r = qemu_check_file(cfg, "initrd",
	    q->initrd, FILE_REGULAR, err)) != 0)
		return r;
	if (cfg_extra(cfg)->bootrom != NULL && (r = qemu_check_file(cfg,
	    "bootrom", cfg_extra(cfg)->bootrom, FILE_REGULAR, err)) != 0)
		return r;
	for (i = 0; i < q->ndisks; i++)
		if ((r = qemu_check_file(cfg, "disk", q->disks[i],
		    FILE_REGULAR | FILE_DEVICE, err)) != 0)
			return r;

	free(qs->sock_path);
	qs->sock_path = NULL;
	free(qs->console_path);
	qs->console_path = NULL;
	if ((qs->listen_fd = qemu_listen(qemu_sock_path(hv, qs), "QMP",
	    err)) < 0) {
		r = qs->listen_fd;
		qs->listen_fd = -1;
		return r;
	}
	if (!qemu_own_serial(cfg) && (qs->console_listen_fd = qemu_listen(
	    qemu_console_path(hv, qs), "console", err)) < 0) {
		r = qs->console_listen_fd;
		qs->console_listen_fd = -1;
		qemu_close_listeners(qs);
		unlink(qs->sock_path);
		return r;
	}
	return 0;
}

/* QMP's listening socket as fd 3, the console's as fd 4. */
static int
qemu_child_fds(struct hv_vm *hv, int fds[HV_MAX_FDS])
{
	struct qemu_state	*qs = qemu_state(hv);

	fds[0] = qs->listen_fd;
	fds[1] = qs->console_listen_fd;
	return qs->console_listen_fd != -1 ? 2 : 1;
}

/* ---- QMP. ---- */

/* Queue a command and write what the socket takes now. */
static void
qmp_send(struct hv_vm *hv, struct qemu_state *qs, const char *command)
{
	buf_printf(&qs->out, "{\"execute\": \"%s\"}\r\n", command);
	qmp_on_write(qs->fd, EV_WRITE, hv);
}

/* Forget the connection; what it told us (the reason) stays. */
static void
qmp_close(struct hv_vm *hv, struct qemu_state *qs)
{
	if (qs->ev_read != NULL) {
		event_free(qs->ev_read);
		qs->ev_read = NULL;
	}
	if (qs->ev_write != NULL) {
		event_free(qs->ev_write);
		qs->ev_write = NULL;
	}
	if (qs->fd != -1) {
		close(qs->fd);
		qs->fd = -1;
	}
	buf_reset(&qs->in);
	buf_reset(&qs->out);
}

/* A QMP event: remember why qemu is going away. */
static void
qmp_handle_event(struct hv_vm *hv, struct qemu_state *qs, const char *name,
    const struct ucl_node *msg)
{
	const struct ucl_node	*data, *reason;

	if (strcmp(name, "GUEST_PANICKED") == 0) {
		qs->panicked = true;
		hv->log(hv, "qemu: the guest panicked");
	} else if (strcmp(name, "SHUTDOWN") == 0) {
		data = ucl_lookup(msg, "data");
		reason = data ? ucl_lookup(data, "reason") : NULL;
		snprintf(qs->reason, sizeof(qs->reason), "%s",
		    reason != NULL && reason->type == UCL_STRING ?
		    reason->v.string.ptr : "unknown");
		hv->log(hv, "qemu: shutdown, reason %s", qs->reason);
	} else if (strcmp(name, "POWERDOWN") == 0)
		hv->log(hv, "qemu: ACPI power button pressed");
	else if (strcmp(name, "WATCHDOG") == 0) {
		data = ucl_lookup(msg, "data");
		reason = data ? ucl_lookup(data, "action") : NULL;
		hv->log(hv, "qemu: the guest's watchdog expired (action %s)",
		    reason != NULL && reason->type == UCL_STRING ?
		    reason->v.string.ptr : "unknown");
		/* Only the watchdog the daemon gave it: one of the user's
		 * qemu_args acts as the user said. */
		if (cfg_qemu(hv->cfg)->watchdog && hv->watchdog != NULL)
			hv->watchdog(hv);
	}
}

/* One line from qemu: the greeting, a reply or an event. */
static void
qmp_handle_line(struct hv_vm *hv, struct qemu_state *qs, const char *line,
    size_t len)
{
	struct ucl_error	 uerr;
	struct ucl_node		*msg;
	const struct ucl_node	*n;

	if ((msg = ucl_parse_buffer(line, len, "QMP", &uerr)) == NULL) {
		hv->log(hv, "qemu: unreadable QMP message: %s", uerr.message);
		return;
	}
	if (ucl_lookup(msg, "QMP") != NULL)
		qmp_send(hv, qs, "qmp_capabilities");
	else if ((n = ucl_lookup(msg, "event")) != NULL &&
	    n->type == UCL_STRING)
		qmp_handle_event(hv, qs, n->v.string.ptr, msg);
	else if (ucl_lookup(msg, "return") != NULL && !qs->negotiated) {
		qs->negotiated = true;
		if (qs->powerdown_pending) {
			qs->powerdown_pending = false;
			qmp_send(hv, qs, "system_powerdown");
		}
	} else if ((n = ucl_lookup(msg, "error")) != NULL) {
		n = ucl_lookup(n, "desc");
		hv->log(hv, "qemu: QMP error: %s", n && n->type == UCL_STRING ?
		    n->v.string.ptr : "(no description)");
	}
	ucl_free(msg);
}

/*
 * Read what qemu has sent, at most max_reads chunks (so that a chatty
 * qemu cannot hold the event loop), and act on each complete line.
 * Returns 0 while the connection lasts, -1 once it is closed (end of
 * file, an error, or a line too long to be QMP).
 */
static int
qmp_read(struct hv_vm *hv, struct qemu_state *qs, size_t max_reads)
{
	char	 chunk[4096], *nl;
	ssize_t	 n;
	size_t	 len, reads;

	for (reads = 0; reads < max_reads; reads++) {
		n = read(qs->fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			/* ECONNRESET: qemu quit with our bytes unread. */
			qmp_close(hv, qs);
			return -1;
		}
		buf_append(&qs->in, chunk, (size_t)n);
		while ((nl = memchr(qs->in.data, '\n', qs->in.len)) != NULL) {
			len = (size_t)(nl - qs->in.data);
			if (len > 0 && qs->in.data[len - 1] == '\r')
				len--;
			if (len > 0)
				qmp_handle_line(hv, qs, qs->in.data, len);
			if (qs->fd == -1)	/* closed while answering */
				return -1;
			buf_consume(&qs->in, (size_t)(nl - qs->in.data) + 1);
		}
		if (qs->in.len > QMP_LINE_MAX) {
			hv->log(hv, "qemu: QMP line longer than %d bytes; "
			    "closing the QMP connection", QMP_LINE_MAX);
			qmp_close(hv, qs);
			return -1;
		}
	}
	return 0;
}

static void
qmp_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct hv_vm	*hv = arg;

	(void)qmp_read(hv, qemu_state(hv), 16);
}

/* Write queued commands; wait for EV_WRITE when the socket is full. */
static void
qmp_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct hv_vm		*hv = arg;
	struct qemu_state	*qs = qemu_state(hv);
	ssize_t			 n;

	while (qs->fd != -1 && qs->out.len > 0) {
		n = send(qs->fd, qs->out.data, qs->out.len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(qs->ev_write, NULL);
			return;
		}
		if (n == -1) {
			hv->log(hv, "qemu: cannot write to QMP: %s",
			    strerror(errno));
			qmp_close(hv, qs);
			return;
		}
		buf_consume(&qs->out, (size_t)n);
	}
}

/*
 * Connect to the QMP socket and watch the connection from the event loop.
 * Returns 0, or -1 (logged in the VM log).
 */
static int
qmp_connect(struct hv_vm *hv, struct qemu_state *qs)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", qs->sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		hv->log(hv, "qemu: cannot connect to QMP socket %s: %s",
		    qs->sock_path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	qs->fd = fd;
	qs->negotiated = false;
	qs->ev_read = event_new(hv->base, fd, EV_READ | EV_PERSIST,
	    qmp_on_read, hv);
	qs->ev_write = event_new(hv->base, fd, EV_WRITE, qmp_on_write,
	    hv);
	if (qs->ev_read == NULL || qs->ev_write == NULL ||
	    event_add(qs->ev_read, NULL) == -1) {
		hv->log(hv, "qemu: cannot watch the QMP socket");
		qmp_close(hv, qs);
		return -1;
	}
	return 0;
}

/*
 * Right after the spawn: the child holds the listening socket now, so let
 * go of ours, and connect.  The connection is queued on the listening
 * socket at once; qemu's greeting follows when its monitor runs.  Also
 * called (without a listening socket) for a qemu taken back from a
 * previous daemon: qemu accepts a new client once the old one is gone.
 */
static void
qemu_spawned(struct hv_vm *hv)
{
	struct qemu_state	*qs = qemu_state(hv);

	qemu_close_listeners(qs);
	qemu_sock_path(hv, qs);
	if (qs->fd == -1)
		(void)qmp_connect(hv, qs);
}

/*
 * The daemon's end of the console: a connection to <rundir>/<name>.console,
 * where qemu listens (it accepts it once its main loop runs; what the
 * daemon writes meanwhile waits in the socket).  -1 when the user's
 * qemu_args have serial ports of their own, or the connection failed.
 */
static int
qemu_console(struct hv_vm *hv, const char **why)
{
	struct qemu_state	*qs = qemu_state(hv);
	struct sockaddr_un	 sun;
	const char		*path;
	int			 fd;

	*why = NULL;
	if (qemu_own_serial(hv->cfg)) {
		*why = "-serial in its qemu_args";
		return -1;
	}
	path = qemu_console_path(hv, qs);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		hv->log(hv, "qemu: cannot connect to console socket %s: %s",
		    path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Ask the guest to power down through QMP.  Returns 0 when asked (or when
 * the request will go out as soon as QMP is negotiated), -1 when there is
 * no QMP connection.  A qemu taken back from a previous daemon still
 * listens on its socket (qemu accepts a new client when one leaves), so
 * the connection is made here if there is none.
 */
static int
qemu_request_stop(struct hv_vm *hv)
{
	struct qemu_state	*qs = qemu_state(hv);

	if (qs->fd == -1 && hv->pid > 0) {
		qemu_sock_path(hv, qs);
		(void)qmp_connect(hv, qs);
	}
	if (qs->fd == -1)
		return -1;
	if (qs->negotiated)
		qmp_send(hv, qs, "system_powerdown");
	else
		qs->powerdown_pending = true;
	return 0;
}

/*
 * Why qemu exited.  A signal or a non-zero status is a crash; otherwise
 * the SHUTDOWN reason decides: a guest reset (or a reset asked over QMP)
 * is a reboot, a guest shutdown a poweroff, and anything else -- a panic,
 * a signal to qemu, a quit over QMP, no SHUTDOWN event at all -- a crash.
 * The status of a qemu taken back from a previous daemon is unknown: the
 * reason alone decides.
 */
static enum hv_exit
qemu_classify_exit(struct hv_vm *hv, int status, bool known)
{
	struct qemu_state	*qs = qemu_state(hv);

	/* qemu is gone: whatever it said is in the socket now, and the
	 * socket ends: reading it all is bounded. */
	if (qs->fd != -1)
		(void)qmp_read(hv, qs, SIZE_MAX);
	if (known && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		return HV_EXIT_CRASH;
	if (qs->panicked)
		return HV_EXIT_CRASH;
	if (strcmp(qs->reason, "guest-reset") == 0 ||
	    strcmp(qs->reason, "host-qmp-system-reset") == 0)
		return HV_EXIT_REBOOT;
	if (strcmp(qs->reason, "guest-shutdown") == 0)
		return HV_EXIT_POWEROFF;
	if (qs->reason[0] == '\0')
		hv->log(hv, "qemu: exited without a SHUTDOWN event");
	return HV_EXIT_CRASH;
}

/*
 * A qemu of this VM that no state file names: qemu holds a write lock on
 * its -pidfile for as long as it runs (qemu_write_pidfile()); the lock's
 * holder is the pid.  -1 when there is none.
 */
static pid_t
qemu_find(struct hv_vm *hv, bool anywhere)
{
	struct flock	 fl;
	char		*path;
	pid_t		 pid = -1;
	int		 fd;

	xasprintf(&path, "%s/%s.pid", hv->dc->rundir, hv->name);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	free(path);
	if (fd == -1)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK &&
	    fl.l_pid > 0)
		pid = fl.l_pid;
	close(fd);
	return pid;
}

/* After the exit: close QMP and remove the socket. */
static void
qemu_cleanup(struct hv_vm *hv)
{
	struct qemu_state	*qs = hv->state;

	if (qs == NULL)
		return;
	qmp_close(hv, qs);
	qemu_close_listeners(qs);
	if (qs->sock_path != NULL)
		unlink(qs->sock_path);
	if (qs->console_path != NULL)
		unlink(qs->console_path);
}

static void
qemu_release(struct hv_vm *hv)
{
	struct qemu_state	*qs = hv->state;

	if (qs == NULL)
		return;
	qemu_cleanup(hv);
	buf_free(&qs->in);
	buf_free(&qs->out);
	free(qs->sock_path);
	free(qs->console_path);
	free(qs);
	hv->state = NULL;
}

static void
qemu_files(struct hv_vm *hv, hv_file_cb cb, void *arg)
{
	struct qemu_state	*qs = qemu_state(hv);
	char			*path;

	cb("qmp", qemu_sock_path(hv, qs), arg);
	if (!qemu_own_serial(hv->cfg))
		cb("console", qemu_console_path(hv, qs), arg);
	xasprintf(&path, "%s/%s.pid", hv->dc->rundir, hv->name);
	cb("pidfile", path, arg);
	free(path);
}

const struct hv_ops hv_qemu_ops = {
	.name = "qemu",
	.prepare = qemu_prepare,
	.argv = qemu_argv,
	.instance_exists = NULL,
	.destroy_argv = NULL,
	.child_fds = qemu_child_fds,
	.spawned = qemu_spawned,
	.console = qemu_console,
	.request_stop = qemu_request_stop,
	.classify_exit = qemu_classify_exit,
	.find = qemu_find,
	.cleanup = qemu_cleanup,
	.release = qemu_release,
	.files = qemu_files,
};
