/*
 * events.c: every event line the daemon sends (control.c writes them)
 * gets a number, counted from 1 by this daemon, and the epoch of this
 * daemon, a random string drawn at its start: a client that reconnects
 * asks for what came after the last number it saw (`"since"`), and the
 * epoch tells it whether those numbers are still this daemon's.
 *
 * The last EVENTS_KEPT events are kept, whoever subscribed, so that a
 * client can be given what it missed, and told when the history does not
 * reach back that far.  What is replayed is filtered as live events are:
 * a VM's events only to those who may operate it (request_may_operate,
 * with the configuration in force now); those of a VM that is gone, to
 * root only.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmstated.h"

struct kept_event {
	uint64_t	 seq;
	char		*vm;
	char		*line;
	size_t		 len;
};

static struct kept_event	kept[EVENTS_KEPT];
static uint64_t			last_seq;
static char			epoch[17];

/*
 * This daemon's epoch: 16 hex digits drawn once.  Random rather than a
 * start time, so that two daemons never share one, whatever the clock
 * did in between.
 */
const char *
events_epoch(void)
{
	unsigned char	 r[8];
	uint64_t	 fallback;
	int		 i;

	if (epoch[0] != '\0')
		return epoch;
	if (getentropy(r, sizeof(r)) == -1) {
		fallback = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid() ^
		    (uint64_t)(vm_clock_mono() * 1e9);
		for (i = 0; i < 8; i++)
			r[i] = (unsigned char)(fallback >> (8 * i));
	}
	for (i = 0; i < 8; i++)
		snprintf(epoch + 2 * i, 3, "%02x", r[i]);
	return epoch;
}

/* The number of the last event; 0 before the first. */
uint64_t
events_last(void)
{
	return last_seq;
}

/* The number of the oldest event kept, or last_seq + 1 when none is. */
static uint64_t
events_oldest(void)
{
	return last_seq > EVENTS_KEPT ? last_seq - EVENTS_KEPT + 1 : 1;
}

/*
 * An event of vm, in line: a JSON object without its closing brace.  It
 * gets its number and the epoch, and is kept.
 */
void
events_publish(struct vm *vm, struct buf *line)
{
	struct kept_event	*k;

	last_seq++;
	buf_printf(line, ",\"seq\":%" PRIu64 ",\"epoch\":\"%s\"}", last_seq,
	    events_epoch());
	k = &kept[last_seq % EVENTS_KEPT];
	free(k->vm);
	free(k->line);
	k->seq = last_seq;
	k->vm = xstrdup(vm->name);
	k->line = xstrndup(line->data, line->len);
	k->len = line->len;
}

/* May this client see the kept event? */
static bool
may_see(const struct ctl_peer *peer, const struct kept_event *k)
{
	struct vm	*vm = sv_find(k->vm);

	return vm != NULL ? request_may_operate(peer, vm) :
	    request_is_admin(peer);
}

/*
 * The kept events after since that this client may see: each appended
 * to reply as a line of its own ("\n" first).  epoch, when not NULL, is
 * the daemon the client counted with.  Returns 0; or 1 when the client
 * missed events that are not kept (another daemon's, or too old), then
 * replays all that are and says why at the start of why.
 */
int
events_replay(const struct ctl_peer *peer, uint64_t since,
    const char *client_epoch, struct buf *reply_why, struct buf *lines)
{
	const struct kept_event	*k;
	uint64_t		 seq, oldest = events_oldest();
	int			 missed = 0;

	if (client_epoch != NULL && strcmp(client_epoch, events_epoch()) != 0) {
		buf_printf(reply_why, "vmstated restarted since event %" PRIu64
		    " (epoch %s, not %s): what happened in between is not "
		    "known; these are the events of the new daemon", since,
		    events_epoch(), client_epoch);
		since = 0;
		missed = 1;
	} else if (since > last_seq) {
		buf_printf(reply_why, "this vmstated has published %" PRIu64
		    " events, not %" PRIu64 ": it is not the daemon that "
		    "numbered them (it restarted since); these are its events",
		    last_seq, since);
		since = 0;
		missed = 1;
	}
	if (since + 1 < oldest) {
		if (!missed)
			buf_printf(reply_why, "events %" PRIu64 " to %" PRIu64
			    " are no longer kept (vmstated keeps the last %d); "
			    "the ones from %" PRIu64 " on follow", since + 1,
			    oldest - 1, EVENTS_KEPT, oldest);
		missed = 1;
		since = oldest - 1;
	}
	for (seq = since + 1; seq <= last_seq; seq++) {
		k = &kept[seq % EVENTS_KEPT];
		if (k->seq != seq || !may_see(peer, k))
			continue;
		buf_putc(lines, '\n');
		buf_append(lines, k->line, k->len);
	}
	return missed;
}

void
events_free(void)
{
	size_t	 i;

	for (i = 0; i < EVENTS_KEPT; i++) {
		free(kept[i].vm);
		free(kept[i].line);
		kept[i].vm = kept[i].line = NULL;
	}
}
