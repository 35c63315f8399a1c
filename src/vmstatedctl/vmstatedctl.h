/*
 * vmstatedctl.h: the client's map.  Prototypes are grouped by the file that
 * defines them: vmstatedctl.c parses the command line and runs commands,
 * conn.c talks to the socket, show.c turns replies into text, watch.c
 * follows event streams (-w, events), console.c carries a console or a
 * log once the connection has switched to it, remote.c reaches other
 * hosts over ssh (-H, --stdio).
 */
#ifndef VMSTATEDCTL_H
#define VMSTATEDCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * A reply line may be longer than a request line (status of many VMs):
 * accept up to this many bytes before calling the daemon broken (the
 * metrics of 10,000 VMs are 16 MB).
 */
#define CTL_MAX_REPLY		(256 * 1024 * 1024)

#define CTL_DEFAULT_TIMEOUT	30	/* seconds, for the reply */
#define CTL_DEFAULT_WAIT	120	/* seconds, with -w */

struct ctl_opts {
	const char	 *socket;
	bool		  json;		/* -j */
	bool		  quiet;	/* -q */
	bool		  watch;	/* -w */
	bool		  recursive;	/* -r: stop what depends on it */
	bool		  order;	/* -d: status in start order */
	bool		  openmetrics;	/* -O: metrics as OpenMetrics */
	bool		  stdio;	/* --stdio: relay, for -H */
	const char	 *host;		/* -H [user@]host, or NULL */
	bool		  replay;	/* -S: events since a number */
	unsigned long long since;
	const char	 *since_epoch;	/* -S EPOCH:N, or NULL */
	bool		  readonly;	/* console -r */
	bool		  no_scrollback; /* console -n */
	bool		  follow;	/* log -f */
	long		  lines;	/* log -n N; -1: all */
	long		  timeout;	/* -t, or -1 when not given */
	const char	 *command;
	char		**vms;
	int		  nvms;
};

struct ctl_conn {
	int		 fd;
	const char	*path;
	struct buf	 in;		/* bytes read, from in_off not yet a
					   line */
	size_t		 in_off;	/* lines taken before it */
	bool		 eof;
	bool		 remote;	/* through ssh (remote.c) */
};

/* Results of ctl_read_line(). */
#define CTL_LINE_OK		0
#define CTL_LINE_EOF		1	/* the daemon hung up */
#define CTL_LINE_TIMEOUT	2	/* the deadline passed */
#define CTL_LINE_INTERRUPTED	3	/* SIGINT or SIGTERM came */
#define CTL_LINE_ERROR		-1	/* read error, overlong line */

/*
 * A reply line as reply.c reads it: checked once, then walked in order
 * (reply_enter, reply_next) without building a tree.
 */
enum reply_type {
	REPLY_NULL,
	REPLY_BOOLEAN,
	REPLY_INT,
	REPLY_FLOAT,
	REPLY_STRING,
	REPLY_ARRAY,
	REPLY_OBJECT,
};

struct reply_value {
	enum reply_type	 type;
	bool		 boolean;
	int64_t		 integer;
	double		 number;	/* REPLY_FLOAT */
	const char	*string;	/* NULL until reply_string() */
	size_t		 len;		/* of string; NULs count */
	const char	*at;		/* where it starts in the line */
};

struct reply_member {
	const char		*key;
	size_t			 key_len;	/* NULs count */
	struct reply_value	 value;
};

struct reply {
	const char		*line;
	size_t			 len;
	struct reply_member	*members;	/* the top level, in order */
	size_t			 nmembers;
	struct reply_block	*arena;		/* decoded strings */
	char			 error[128];	/* why reply_parse() failed */
};

/* Walks one object or array; see reply_enter(). */
struct reply_cursor {
	struct reply		*reply;
	struct reply_cursor	*parent;
	const char		*start;		/* its opening bracket */
	const char		*p;		/* next byte to read */
	const char		*pending;	/* a value not yet passed */
	size_t			 count;		/* members or elements read */
	bool			 object;
	bool			 done;
	char			 key[64];	/* the last key, when short */
	const char		*key_at;	/* its key_len bytes, no NUL */
	size_t			 key_len;	/* of the last key; NULs count */
};

/* vmstatedctl.c */
int	 ctl_parse_reply(struct reply *, const char *line, size_t len);

/* reply.c */
int	 reply_parse(struct reply *, const char *line, size_t len);
void	 reply_free(struct reply *);
const struct reply_value *reply_get(const struct reply *, const char *key);
void	 reply_enter(struct reply *, const struct reply_value *,
	    struct reply_cursor *, struct reply_cursor *parent);
bool	 reply_next(struct reply_cursor *, const char **key,
	    struct reply_value *);
bool	 reply_lookup(struct reply *, const struct reply_value *obj,
	    const char *key, struct reply_value *);
const char *reply_string(struct reply *, struct reply_value *);
size_t	 reply_append_string(const struct reply_value *, struct buf *);
const char *reply_plain(const struct reply_value *, size_t *len);
const char *reply_str(struct reply *, const struct reply_value *obj,
	    const char *key);
bool	 reply_true(struct reply *, const struct reply_value *obj,
	    const char *key);

/* conn.c */
double	 ctl_now(void);
int	 ctl_connect(struct ctl_conn *, const char *path, double deadline);
int	 ctl_send(struct ctl_conn *, const char *line, size_t len,
	    double deadline);
/* What was read past the last line taken (console and log sessions),
 * and forget it. */
const char	*ctl_pending(struct ctl_conn *, size_t *len);
void		 ctl_pending_done(struct ctl_conn *);
int	 ctl_read_line(struct ctl_conn *, char **line, size_t *len,
	    double deadline);
void	 ctl_close(struct ctl_conn *);
void	 ctl_catch_signals(void);
bool	 ctl_interrupted(void);
int	 ctl_signal_fd(void);

/* console.c */
int	 console_session(struct ctl_conn *, const struct ctl_opts *,
	    struct reply *);
int	 log_session(struct ctl_conn *, const struct ctl_opts *);

/* show.c */
void	 show_sanitized(const char *);
int	 show_status_order(struct reply *);
void	 show_uptime(struct buf *, int64_t seconds);
void	 show_time(struct buf *, double unixtime);
int	 show_status(struct reply *);
int	 show_info(struct reply *);
int	 show_reload(struct reply *, bool quiet);
void	 show_event(struct reply *event);

/* remote.c */
int	 remote_connect(struct ctl_conn *, const char *host,
	    const char *socket);
int	 remote_end(int status);
int	 remote_stdio(const char *socket);

/* watch.c */
int	 watch_states(struct ctl_conn *, const struct ctl_opts *,
	    struct reply *, double deadline);
int	 watch_events(struct ctl_conn *, const struct ctl_opts *);

#endif
