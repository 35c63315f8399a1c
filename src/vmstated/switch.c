/*
 * switch.c: control connections that stop speaking JSON lines.  A
 * `console` or `log` request that request.c accepted sets what the
 * connection becomes (struct ctl_switch); once its reply is queued,
 * control.c hands the connection over here, and it carries the console's
 * bytes or the log's from then on (vmstatedctl(1), PROTOCOL).
 */
#include <stdlib.h>

#include <event2/bufferevent.h>

#include "log.h"
#include "vmstated.h"

void
switch_take(struct ctl_peer *peer, struct bufferevent *bev)
{
	struct ctl_switch	*sw = &peer->sw;
	struct vm		*vm;

	switch (sw->kind) {
	case SWITCH_CONSOLE:
		/* The VM was there when the reply was written, and nothing
		 * ran since; checked again all the same. */
		if ((vm = sv_find(sw->vm)) != NULL)
			console_take(vm, bev, peer->uid, sw->writer,
			    sw->scrollback);
		else
			bufferevent_free(bev);
		break;
	case SWITCH_LOG:
		logview_take(sw->vm, bev, sw->lines, sw->follow);
		break;
	default:
		bufferevent_free(bev);
		break;
	}
	free(sw->vm);
	sw->vm = NULL;
	sw->kind = SWITCH_NONE;
}
