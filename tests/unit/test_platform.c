/*
 * test_platform.c: what the daemon learns about processes from the system
 * (src/platform/$(uname -s).c): a start time that identifies a process
 * across exec, finding a process by the title it gave itself, the exit
 * status of a watched process, and signals that cannot reach a reused pid.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "platform.h"

static int	  saved_argc;
static char	**saved_argv;

/* Children still to be killed when a test ends, even by a failed assert. */
static pid_t	  children[4];
static int	  nchildren;

static pid_t
fork_child(void)
{
	pid_t	 pid;

	assert_true(nchildren < (int)(sizeof(children) / sizeof(children[0])));
	pid = fork();
	assert_true(pid != -1);
	if (pid > 0)
		children[nchildren++] = pid;
	return pid;
}

static void
reaped(pid_t pid)
{
	int	 i;

	for (i = 0; i < nchildren; i++)
		if (children[i] == pid)
			children[i] = -1;
}

static int
kill_children(void **state)
{
	int	 i;

	for (i = 0; i < nchildren; i++) {
		if (children[i] <= 0)
			continue;
		(void)kill(children[i], SIGKILL);
		(void)waitpid(children[i], NULL, 0);
	}
	nchildren = 0;
	return 0;
}

/* A child that waits to be killed. */
static pid_t
spawn_sleeper(void)
{
	pid_t	 pid;

	if ((pid = fork_child()) == 0) {
		for (;;)
			pause();
	}
	return pid;
}

/* Wait, with a generous bound, until a watched process has exited. */
static void
wait_exit(int fd)
{
	struct pollfd	 pfd;

	pfd.fd = fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 30000), 1);
}

static int
wait_status(pid_t pid)
{
	int	 status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	reaped(pid);
	return status;
}

static void
test_start_is_stable_across_exec(void **state)
{
	uint64_t	 before, after, self, init;
	int		 go[2], execd[2];
	char		 c = 'x';
	pid_t		 pid;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(execd), 0);
	assert_int_equal(fcntl(execd[1], F_SETFD, FD_CLOEXEC), 0);
	if ((pid = fork_child()) == 0) {
		close(execd[0]);
		if (read(go[0], &c, 1) == 1)
			execl("/bin/sleep", "sleep", "30", (char *)NULL);
		(void)write(execd[1], &c, 1);
		_exit(127);
	}
	close(go[0]);
	close(execd[1]);
	assert_int_equal(platform_proc_start(pid, &before), 0);
	assert_int_equal(write(go[1], &c, 1), 1);
	/* The close-on-exec end closes without a byte once exec succeeded. */
	assert_int_equal(read(execd[0], &c, 1), 0);
	assert_int_equal(platform_proc_start(pid, &after), 0);
	assert_true(before == after);

	/* Another process, started earlier, has another start time. */
	assert_int_equal(platform_proc_start(getpid(), &self), 0);
	assert_true(self <= before);
	assert_int_equal(platform_proc_start(1, &init), 0);
	assert_true(init < before);
	close(go[1]);
	close(execd[0]);
}

static void
test_start_of_dead_process_is_esrch(void **state)
{
	uint64_t	 start;
	pid_t		 pid;

	if ((pid = fork_child()) == 0)
		_exit(0);
	(void)wait_status(pid);
	errno = 0;
	assert_int_equal(platform_proc_start(pid, &start), -1);
	assert_int_equal(errno, ESRCH);
}

/* A zombie has ended: a daemon must not take back a hypervisor whose
 * exit nobody has collected yet. */
static void
test_start_of_a_zombie_is_esrch(void **state)
{
	siginfo_t	 info;
	uint64_t	 start;
	pid_t		 pid;

	if ((pid = fork_child()) == 0)
		_exit(0);
	/* Wait for the exit without collecting it. */
	memset(&info, 0, sizeof(info));
	assert_int_equal(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT),
	    0);
	errno = 0;
	assert_int_equal(platform_proc_start(pid, &start), -1);
	assert_int_equal(errno, ESRCH);
	(void)wait_status(pid);
}

/*
 * Retitle the calling process the way bhyve's setproctitle("%s", name)
 * does: FreeBSD stores the title in the kernel; Linux's /proc/PID/cmdline
 * shows the argument area, which is rewritten in place.
 */
static int
retitle(const char *title)
{
#ifdef __FreeBSD__
	setproctitle("-%s", title);
	return 0;
#else
	char	*start = saved_argv[0];
	char	*end = saved_argv[saved_argc - 1] +
		    strlen(saved_argv[saved_argc - 1]) + 1;

	if ((size_t)(end - start) <= strlen(title))
		return -1;
	memset(start, '\0', (size_t)(end - start));
	memcpy(start, title, strlen(title));
	return 0;
#endif
}

static void
test_find_title_finds_retitled_process(void **state)
{
	char	 title[64], other[64];
	int	 ready[2];
	char	 c = 'x';
	pid_t	 pid;

	snprintf(title, sizeof(title), "bhyve: t%ld", (long)getpid());
	snprintf(other, sizeof(other), "bhyve: none%ld", (long)getpid());
	assert_int_equal(pipe(ready), 0);
	if ((pid = fork_child()) == 0) {
		c = retitle(title) == 0 && chdir("/tmp") == 0 ? 'y' : 'n';
		(void)write(ready[1], &c, 1);
		for (;;)
			pause();
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	if (c != 'y')
		skip();		/* argv[] too short for the title */

	assert_int_equal(platform_find_title(title, NULL), pid);
	assert_int_equal(platform_find_title(other, NULL), 0);
	/* Asked for one in a directory: only that one. */
	assert_int_equal(platform_find_title(title, "/tmp"), pid);
	assert_int_equal(platform_find_title(title, "/"), 0);
	/* The whole command line, not a prefix of it. */
	title[strlen(title) - 1] = '\0';
	assert_int_equal(platform_find_title(title, NULL), 0);
	assert_int_equal(platform_find_title("bhyve:", NULL), 0);
}

static void
test_watch_status(void **state)
{
	int	 status = -1, fd;
	pid_t		 pid;

	if ((pid = fork_child()) == 0)
		_exit(7);
	assert_true((fd = platform_watch_pid(pid)) != -1);
	wait_exit(fd);
#ifdef __linux__
	/* Linux tells the status of children through wait(2) only. */
	assert_int_equal(platform_watch_status(fd, &status), -1);
#else
	assert_int_equal(platform_watch_status(fd, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
#endif
	status = wait_status(pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	close(fd);
}

static void
test_signal_never_reaches_reused_pid(void **state)
{
	int	 fd, status;
	pid_t	 pid;

	pid = spawn_sleeper();
	assert_true((fd = platform_watch_pid(pid)) != -1);
	assert_int_equal(platform_signal(fd, pid, 0), 0);
	assert_int_equal(platform_signal(fd, pid, SIGTERM), 0);
	wait_exit(fd);
	status = wait_status(pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	/* The pid is free for reuse now: the descriptor knows it is gone. */
	errno = 0;
	assert_int_equal(platform_signal(fd, pid, SIGTERM), -1);
	assert_int_equal(errno, ESRCH);
	close(fd);
}

#ifdef __linux__
/*
 * The signal goes to the process of the pidfd, whatever the pid says: a
 * pid that now names another process is never used.
 */
static void
test_signal_goes_through_pidfd(void **state)
{
	int	 fd, status;
	pid_t	 watched, other;

	watched = spawn_sleeper();
	other = spawn_sleeper();
	assert_true((fd = platform_watch_pid(watched)) != -1);
	assert_int_equal(platform_signal(fd, other, SIGTERM), 0);
	wait_exit(fd);
	status = wait_status(watched);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	assert_int_equal(waitpid(other, &status, WNOHANG), 0);
	close(fd);
}
#endif

static void
test_signal_without_descriptor_uses_pid(void **state)
{
	int	 fd, status;
	pid_t	 pid;

	pid = spawn_sleeper();
	assert_true((fd = platform_watch_pid(pid)) != -1);
	assert_int_equal(platform_signal(-1, pid, SIGTERM), 0);
	wait_exit(fd);
	close(fd);
	status = wait_status(pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_start_is_stable_across_exec,
		    kill_children),
		cmocka_unit_test_teardown(test_start_of_a_zombie_is_esrch,
		    kill_children),
		cmocka_unit_test_teardown(test_start_of_dead_process_is_esrch,
		    kill_children),
		cmocka_unit_test_teardown(
		    test_find_title_finds_retitled_process, kill_children),
		cmocka_unit_test_teardown(test_watch_status, kill_children),
		cmocka_unit_test_teardown(test_signal_never_reaches_reused_pid,
		    kill_children),
#ifdef __linux__
		cmocka_unit_test_teardown(test_signal_goes_through_pidfd,
		    kill_children),
#endif
		cmocka_unit_test_teardown(
		    test_signal_without_descriptor_uses_pid, kill_children),
	};

	saved_argc = argc;
	saved_argv = argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
