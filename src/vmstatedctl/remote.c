/*
 * remote.c: vmstatedctl beyond one host.
 *
 * `vmstatedctl -H [user@]host command ...` runs the command against the
 * daemon of another host, over ssh(1), as `virsh -c qemu+ssh://` does:
 * ssh runs `vmstatedctl --stdio [-s socket]` there, which connects to that
 * host's socket and relays the protocol's lines both ways, and the local
 * client talks through ssh exactly as it would to a socket (ssh's end is
 * one side of a socketpair, so conn.c does not know the difference).
 * ssh authenticates; the remote daemon authorizes the remote user from
 * the peer credentials of the --stdio process, as it does any client.
 *
 * VMSTATED_SSH names the ssh command and its options (run by sh(1), as
 * git's GIT_SSH_COMMAND is; default "ssh"), VMSTATED_REMOTE_COMMAND the
 * client on the other host (run by the remote user's shell; default
 * "vmstatedctl").
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "vmstatedctl.h"

#define REMOTE_SSH		"ssh"
#define REMOTE_COMMAND		"vmstatedctl"
#define REMOTE_REAP_SECONDS	5	/* for ssh to end once we are done */
#define RELAY_CHUNK		(64 * 1024)

static pid_t	 ssh_pid = -1;
static char	*ssh_host;
static char	*remote_path;		/* "host (over ssh)", for messages */

static const char *
env_or(const char *name, const char *fallback)
{
	const char	*v = getenv(name);

	return v != NULL && *v != '\0' ? v : fallback;
}

/* The command line the remote user's shell runs. */
static char *
remote_command(const char *socket)
{
	struct buf	 b;

	buf_init(&b);
	buf_printf(&b, "%s --stdio", env_or("VMSTATED_REMOTE_COMMAND",
	    REMOTE_COMMAND));
	if (socket != NULL) {
		buf_puts(&b, " -s ");
		buf_shell_quote(&b, socket);
	}
	return buf_steal(&b);
}

/* In the child: ssh with its standard input and output on fd. */
static void __attribute__((noreturn))
exec_ssh(int fd, const char *host, const char *command)
{
	char	*script;
	char	*argv[12];
	int	 n = 0;

	if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1) {
		fprintf(stderr, "vmstatedctl: dup2: %s\n", strerror(errno));
		_exit(CTL_EXIT_UNREACHABLE);
	}
	if (fd > 1)
		close(fd);
	signal(SIGPIPE, SIG_DFL);
	/* "$@": the host and command stay single words, whatever they hold. */
	xasprintf(&script, "%s \"$@\"", env_or("VMSTATED_SSH", REMOTE_SSH));
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = script;
	argv[n++] = "vmstatedctl-ssh";
	argv[n++] = "-T";		/* no terminal: the lines go through */
	argv[n++] = "-e";
	argv[n++] = "none";		/* and ~ is no escape */
	argv[n++] = "--";
	argv[n++] = (char *)host;
	argv[n++] = (char *)command;
	argv[n] = NULL;
	execv("/bin/sh", argv);
	fprintf(stderr, "vmstatedctl: cannot run /bin/sh for ssh: %s\n",
	    strerror(errno));
	_exit(CTL_EXIT_UNREACHABLE);
}

/*
 * Connect c to the daemon of host through ssh: socket is the remote
 * socket's path, or NULL for the remote client's default.  Returns 0, or
 * -1 after saying why (the caller exits with CTL_EXIT_UNREACHABLE).
 * Whether ssh reached the host shows when the reply comes, or does not.
 */
int
remote_connect(struct ctl_conn *c, const char *host, const char *socket)
{
	char	*command;
	int	 sv[2];

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	buf_init(&c->in);
	ssh_host = xstrdup(host);
	xasprintf(&remote_path, "%s (over ssh)", host);
	c->path = remote_path;
	c->remote = true;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("cannot reach %s: socketpair", host);
		return -1;
	}
	command = remote_command(socket);
	fflush(stdout);
	fflush(stderr);
	if ((ssh_pid = fork()) == -1) {
		log_warn("cannot reach %s: fork", host);
		close(sv[0]);
		close(sv[1]);
		free(command);
		return -1;
	}
	if (ssh_pid == 0)
		exec_ssh(sv[1], host, command);
	free(command);
	close(sv[1]);
	c->fd = sv[0];
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) == -1) {
		log_warn("cannot reach %s: fcntl", host);
		return -1;
	}
	return 0;
}

/* Wait for ssh at most seconds; its wait status, or -1 if it still runs. */
static int
reap_within(double seconds)
{
	double	 deadline = ctl_now() + seconds;
	int	 status;
	pid_t	 r;

	for (;;) {
		r = waitpid(ssh_pid, &status, WNOHANG);
		if (r == ssh_pid)
			return status;
		if (r == -1 && errno != EINTR)
			return 0;
		if (ctl_now() >= deadline)
			return -1;
		(void)poll(NULL, 0, 20);
	}
}

/*
 * The connection is closed: ssh ends (its standard input is gone), and
 * we wait for it, bounded.  status is what the command came to; a client
 * that never got a reply is told what ssh said it came to.  Returns the
 * exit status.
 */
int
remote_end(int status)
{
	int	 ws;

	if (ssh_pid <= 0)
		return status;
	if ((ws = reap_within(REMOTE_REAP_SECONDS)) == -1) {
		kill(ssh_pid, SIGTERM);
		if ((ws = reap_within(1)) == -1) {
			kill(ssh_pid, SIGKILL);
			ws = reap_within(REMOTE_REAP_SECONDS);
		}
	}
	ssh_pid = -1;
	if (status == CTL_EXIT_UNREACHABLE && ws != -1 && WIFEXITED(ws))
		log_warnx("%s: no reply through ssh; ssh ended with exit "
		    "status %d%s", ssh_host, WEXITSTATUS(ws),
		    WEXITSTATUS(ws) == 255 ? " (it could not reach the host, "
		    "or log in: see its message above)" :
		    WEXITSTATUS(ws) == CTL_EXIT_UNREACHABLE ? " (vmstatedctl "
		    "there could not reach its daemon)" : "");
	else if (status == CTL_EXIT_UNREACHABLE && ws != -1)
		log_warnx("%s: no reply through ssh; ssh was killed by "
		    "signal %d", ssh_host, WTERMSIG(ws));
	free(ssh_host);
	free(remote_path);
	ssh_host = remote_path = NULL;
	return status;
}

/* Write all of buf to fd (blocking); -1 on error. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { fd, POLLOUT, 0 };
			(void)poll(&pfd, 1, -1);
			continue;
		}
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Move what one side has to say to the other.  Returns 1 when it said
 * something, 0 when it has closed, -1 on an error (said).
 */
static int
relay_stdin(struct ctl_conn *c, char *buf)
{
	ssize_t	 n = read(0, buf, RELAY_CHUNK);

	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	return ctl_send(c, buf, (size_t)n, 0) == 0 ? 1 : -1;
}

static int
relay_daemon(struct ctl_conn *c, char *buf)
{
	ssize_t	 n = read(c->fd, buf, RELAY_CHUNK);

	if (n == -1 && (errno == EINTR || errno == EAGAIN ||
	    errno == EWOULDBLOCK))
		return 1;
	if (n == 0 || (n == -1 && errno == ECONNRESET))
		return 0;
	if (n == -1) {
		log_warn("cannot read from vmstated on %s", c->path);
		return -1;
	}
	return write_all(1, buf, (size_t)n) == 0 ? 1 : 0;
}

/*
 * --stdio: connect to the socket at path and copy standard input to it
 * and what it says to standard output, until either side closes (ssh
 * closes our standard input when the client at the other end is done).
 * Returns the exit status: 0, 3 when the daemon cannot be reached, 1 on
 * an error.
 */
int
remote_stdio(const char *path)
{
	struct ctl_conn	 c;
	struct pollfd	 pfd[2];
	char		*buf;
	int		 r = 1;

	if (ctl_connect(&c, path, ctl_now() + CTL_DEFAULT_TIMEOUT) == -1)
		return CTL_EXIT_UNREACHABLE;
	signal(SIGPIPE, SIG_IGN);
	buf = xmalloc(RELAY_CHUNK);
	pfd[0].fd = 0;
	pfd[0].events = POLLIN;
	pfd[1].fd = c.fd;
	pfd[1].events = POLLIN;
	while (r == 1) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			r = -1;
			break;
		}
		/* The daemon first: a reply is never lost to a closing stdin. */
		if (pfd[1].revents != 0)
			r = relay_daemon(&c, buf);
		if (r == 1 && pfd[0].revents != 0)
			r = relay_stdin(&c, buf);
	}
	free(buf);
	ctl_close(&c);
	return r == -1 ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}
