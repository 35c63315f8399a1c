/*
 * vmstatedctl.h: the client's map.  Prototypes are grouped by the file that
 * defines them: vmstatedctl.c parses the command line and runs commands,
 * conn.c talks to the socket, show.c turns replies into text, watch.c
 * follows event streams (-w, events).
 */
#ifndef VMSTATEDCTL_H
#define VMSTATEDCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ucl.h"

/*
 * A reply line may be longer than a request line (status of many VMs):
 * accept up to this many bytes before calling the daemon broken.
 */
#define CTL_MAX_REPLY		(16 * 1024 * 1024)

#define CTL_DEFAULT_TIMEOUT	30	/* seconds, for the reply */
#define CTL_DEFAULT_WAIT	120	/* seconds, with -w */

struct ctl_opts {
	const char	 *socket;
	bool		  json;		/* -j */
	bool		  quiet;	/* -q */
	bool		  watch;	/* -w */
	long		  timeout;	/* -t, or -1 when not given */
	const char	 *command;
	char		**vms;
	int		  nvms;
};

struct ctl_conn {
	int		 fd;
	const char	*path;
	struct buf	 in;		/* bytes read, not yet a line */
	bool		 eof;
};

/* Results of ctl_read_line(). */
#define CTL_LINE_OK		0
#define CTL_LINE_EOF		1	/* the daemon hung up */
#define CTL_LINE_TIMEOUT	2	/* the deadline passed */
#define CTL_LINE_INTERRUPTED	3	/* SIGINT or SIGTERM came */
#define CTL_LINE_ERROR		-1	/* read error, overlong line */

/* vmstatedctl.c */
struct ucl_node	*ctl_parse_reply(const char *line, size_t len);

/* conn.c */
double	 ctl_now(void);
int	 ctl_connect(struct ctl_conn *, const char *path, double deadline);
int	 ctl_send(struct ctl_conn *, const char *line, size_t len,
	    double deadline);
int	 ctl_read_line(struct ctl_conn *, char **line, size_t *len,
	    double deadline);
void	 ctl_close(struct ctl_conn *);
void	 ctl_catch_signals(void);
bool	 ctl_interrupted(void);

/* show.c */
void	 show_sanitized(const char *);
char	*show_scalar(const struct ucl_node *);
void	 show_uptime(struct buf *, int64_t seconds);
void	 show_time(struct buf *, double unixtime);
const char *show_str(const struct ucl_node *obj, const char *key);
int	 show_status(const struct ucl_node *reply);
int	 show_info(const struct ucl_node *reply);
int	 show_reload(const struct ucl_node *reply, bool quiet);
void	 show_event(const struct ucl_node *event);

/* watch.c */
int	 watch_states(struct ctl_conn *, const struct ctl_opts *,
	    const struct ucl_node *reply, double deadline);
int	 watch_events(struct ctl_conn *, const struct ctl_opts *);

#endif
