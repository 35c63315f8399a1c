/*
 * proc.c: child processes, started with fork+exec and reaped on SIGCHLD
 * from the event loop.  A close-on-exec pipe tells the parent whether the
 * exec worked, so that "cannot execute" reaches the person who asked
 * instead of looking like a crash.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "log.h"
#include "platform.h"
#include "proc.h"

struct child {
	pid_t		 pid;
	proc_exit_cb	 cb;
	void		*arg;
};

static struct child	*children;
static size_t		 nchildren, capchildren;
static struct event	*sigchld_event;

extern char **environ;

static struct child *
proc_find(pid_t pid)
{
	size_t	 i;

	for (i = 0; i < nchildren; i++)
		if (children[i].pid == pid)
			return &children[i];
	return NULL;
}

/* Reap every child that has exited and run its callback. */
static void
proc_reap(evutil_socket_t sig, short what, void *unused)
{
	struct child	 c, *found;
	pid_t		 pid;
	int		 status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		if ((found = proc_find(pid)) == NULL)
			continue;
		c = *found;
		*found = children[--nchildren];
		if (c.cb != NULL)
			c.cb(pid, status, c.arg);
	}
}

void
proc_init(struct event_base *base)
{
	sigchld_event = evsignal_new(base, SIGCHLD, proc_reap, NULL);
	if (sigchld_event == NULL || evsignal_add(sigchld_event, NULL) == -1)
		fatalx("cannot watch SIGCHLD");
}

void
proc_shutdown(void)
{
	if (sigchld_event != NULL)
		event_free(sigchld_event);
	sigchld_event = NULL;
	free(children);
	children = NULL;
	nchildren = capchildren = 0;
}

void
proc_forget(pid_t pid)
{
	struct child	*c;

	if ((c = proc_find(pid)) != NULL)
		c->cb = NULL;
}

/* Report an exec failure to the parent and die. */
static void __attribute__((noreturn))
proc_child_fail(int errpipe, char what)
{
	int	 err = errno;

	(void)!write(errpipe, &what, 1);
	(void)!write(errpipe, &err, sizeof(err));
	_exit(127);
}

/*
 * Start the runner's program with posix_spawn(3), a vfork underneath: the
 * runner is a copy of the whole daemon, not worth copying again, and the
 * program runs at once where the runner waits.  Its stdout and stderr go
 * to out[1] (when there is one); the signals the runner ignores are
 * default again.  A script without "#!" is run by /bin/sh, as
 * proc_exec_child() does.  0 with *pid, or an errno.
 */
static int
proc_spawn_program(const struct proc_spec *spec, const int out[2],
    pid_t *pid)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 dflt;
	char				*shargv[3];
	int				 r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return r;
	if ((r = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return r;
	}
	if (out[1] != -1 &&
	    ((r = posix_spawn_file_actions_adddup2(&fa, out[1], 1)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, out[1], 2)) != 0 ||
	    (r = posix_spawn_file_actions_addclose(&fa, out[0])) != 0 ||
	    (r = posix_spawn_file_actions_addclose(&fa, out[1])) != 0))
		goto done;
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGHUP);
	if ((r = posix_spawnattr_setsigdefault(&attr, &dflt)) != 0 ||
	    (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF)) != 0)
		goto done;
	if (strchr(spec->path, '/') != NULL)
		r = posix_spawn(pid, spec->path, &fa, &attr, spec->argv,
		    environ);
	else
		r = posix_spawnp(pid, spec->path, &fa, &attr, spec->argv,
		    environ);
	if (r == ENOEXEC) {
		shargv[0] = "sh";
		shargv[1] = (char *)spec->path;
		shargv[2] = NULL;
		if (posix_spawn(pid, "/bin/sh", &fa, &attr, shargv,
		    environ) == 0)
			r = 0;
	}
done:
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return r;
}

/*
 * The runner (proc_spec.status_path): the program runs as our child; its
 * end is written where the next daemon looks, and we end as it did.  We
 * ignore the signals its process group gets at the time limit, so that
 * the record says how the program ended; SIGKILL ends us too, and then
 * there is no record.  Never returns.
 */
static void __attribute__((noreturn))
proc_run_and_record(const struct proc_spec *spec, int errpipe)
{
	char	 line[64];
	pid_t	 pid;
	int	 status, fd, n, sig, r, out[2] = { -1, -1 };

	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (spec->out_tag != NULL && pipe(out) == -1)
		proc_child_fail(errpipe, 'e');
	if ((r = proc_spawn_program(spec, out, &pid)) != 0) {
		errno = r;
		proc_child_fail(errpipe, 'e');
	}
	close(errpipe);			/* it runs: the daemon goes on */
	if (out[0] != -1) {
		close(out[1]);
		status = relay_run(out[0], 1, spec->out_tag, pid);
	} else
		while (waitpid(pid, &status, 0) == -1)
			if (errno != EINTR)
				_exit(127);
	if (spec->status_path == NULL)
		goto end;
	n = snprintf(line, sizeof(line), "task %ld %d", (long)getpid(),
	    status);
	memset(line + n, ' ', sizeof(line) - (size_t)n - 1);
	line[sizeof(line) - 1] = '\n';
	if ((fd = open(spec->status_path, O_WRONLY | O_CLOEXEC |
	    O_NOFOLLOW)) != -1) {
		(void)!pwrite(fd, line, sizeof(line), spec->status_offset);
		close(fd);
	}
end:
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
	signal(sig, SIG_DFL);
	kill(getpid(), sig);
	_exit(128 + sig);
}

/*
 * In the child: wait until the parent has recorded us, set up
 * descriptors, environment and directory, then exec.  A script without
 * "#!" is run by /bin/sh, as execvp(3) and the shell do: the man page's
 * own stop_network example has none.
 */
static void
proc_exec_child(const struct proc_spec *spec, int errpipe, int gopipe)
{
	sigset_t	 mask;
	char		*shargv[3], go;
	int		 fd, i, moved[2];
	ssize_t		 n;

	sigemptyset(&mask);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			signal(i, SIG_DFL);
	if (spec->new_pgrp)
		setpgid(0, 0);
	else
		setsid();
	do
		n = read(gopipe, &go, 1);
	while (n == -1 && errno == EINTR);
	if (n != 1)
		_exit(127);		/* the daemon died before recording us */
	close(gopipe);

	/* Keep the error pipe out of the way of 0-3. */
	if ((fd = fcntl(errpipe, F_DUPFD_CLOEXEC, 10)) != -1) {
		close(errpipe);
		errpipe = fd;
	}
	if ((fd = open("/dev/null", O_RDONLY)) != -1 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	fd = spec->out_fd;
	if (fd == -1)
		fd = open("/dev/null", O_WRONLY);
	if (fd != -1) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	/* Each passed descriptor to its place, 3, 4...: first out of the
	 * way of those places, so that none overwrites another. */
	for (i = 0; i < spec->npass; i++)
		moved[i] = fcntl(spec->pass_fds[i], F_DUPFD, 10);
	for (i = 0; i < spec->npass; i++) {
		if (moved[i] == -1)
			proc_child_fail(errpipe, 'e');
		dup2(moved[i], 3 + i);
		fcntl(3 + i, F_SETFD, 0);
	}
	fd = 3 + spec->npass;
	if (errpipe > fd)
		platform_close_range(fd, errpipe - 1);
	platform_close_range(errpipe + 1, -1);

	if (spec->env_add != NULL)
		for (i = 0; spec->env_add[i] != NULL; i++)
			putenv(spec->env_add[i]);
	if (spec->cwd != NULL && chdir(spec->cwd) == -1)
		proc_child_fail(errpipe, 'c');
	if (spec->status_path != NULL || spec->out_tag != NULL)
		proc_run_and_record(spec, errpipe);
	if (strchr(spec->path, '/') != NULL)
		execv(spec->path, spec->argv);
	else
		execvp(spec->path, spec->argv);
	if (errno == ENOEXEC) {
		shargv[0] = "sh";
		shargv[1] = (char *)spec->path;
		shargv[2] = NULL;
		execv("/bin/sh", shargv);
		errno = ENOEXEC;
	}
	proc_child_fail(errpipe, 'e');
}

static void
proc_close_pair(int p[2])
{
	close(p[0]);
	close(p[1]);
}

pid_t
proc_spawn(const struct proc_spec *spec, proc_exit_cb cb, void *arg,
    char *err, size_t errlen)
{
	struct child	*c;
	pid_t		 pid;
	int		 p[2], go[2], child_errno = 0, saved;
	char		 what = 0;
	ssize_t		 n;

	if (pipe(p) == -1) {
		saved = errno;
		snprintf(err, errlen, "cannot create a pipe: %s",
		    strerror(errno));
		errno = saved;
		return -1;
	}
	if (pipe(go) == -1) {
		saved = errno;
		snprintf(err, errlen, "cannot create a pipe: %s",
		    strerror(errno));
		proc_close_pair(p);
		errno = saved;
		return -1;
	}
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	fcntl(go[0], F_SETFD, FD_CLOEXEC);
	fcntl(go[1], F_SETFD, FD_CLOEXEC);
	if ((pid = fork()) == -1) {
		saved = errno;
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		proc_close_pair(p);
		proc_close_pair(go);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		close(go[1]);
		proc_exec_child(spec, p[1], go[0]);
	}
	close(p[1]);
	close(go[0]);
	if (spec->new_pgrp)
		setpgid(pid, pid);	/* both sides, to win the race */

	if (nchildren == capchildren) {
		capchildren = capchildren ? capchildren * 2 : 16;
		children = xrealloc(children, capchildren * sizeof(*children));
	}
	c = &children[nchildren++];
	c->pid = pid;
	c->cb = cb;
	c->arg = arg;

	if (spec->before_exec != NULL)
		spec->before_exec(pid, arg);
	(void)!write(go[1], "g", 1);
	close(go[1]);

	/* Wait for exec: the pipe closes on success, carries errno on
	 * failure.  This takes as long as one fork+exec, never longer. */
	do
		n = read(p[0], &what, 1);
	while (n == -1 && errno == EINTR);
	if (n == 1) {
		while (read(p[0], &child_errno, sizeof(child_errno)) == -1 &&
		    errno == EINTR)
			;
		proc_forget(pid);
		snprintf(err, errlen, "%s %s: %s",
		    what == 'c' ? "cannot change to directory" :
		    "cannot execute",
		    what == 'c' ? spec->cwd : spec->path,
		    strerror(child_errno));
		close(p[0]);
		errno = child_errno;
		return -1;
	}
	close(p[0]);
	return pid;
}

void
proc_describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "wait status %#x", status);
}
