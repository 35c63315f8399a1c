/*
 * proto.h: the control protocol between vmstatedctl (or any script) and
 * vmstated, over a SOCK_STREAM UNIX socket.
 *
 * Requests and replies are JSON objects, one per line ("\n"-terminated).  A
 * connection may carry any number of requests; each gets exactly one reply
 * line, in order.  A line over PROTO_MAX_LINE bytes, invalid JSON, a
 * request that is not an object, a wrong type, an unknown command or VM
 * gets an error reply and the connection stays usable (an overlong line is
 * skipped up to its newline).
 *
 * Request:
 *	{"command": "start", "vms": ["a", "b"], "watch": false}
 *   command: start stop restart kill status info failreset reload events
 *	      console log reopen metrics
 *   vms:     array of VM names (status: optional, empty = all)
 *   watch:   optional; true subscribes the connection to state events
 *	      before the command acts, so the client sees every state the
 *	      VMs pass through (vmstatedctl -w).  Events follow the reply.
 *	      The subscription stays when at least one VM was accepted; the
 *	      reply then says "watching": true (false: no events follow).
 *
 * Reply:
 *	{"ok": true, "results": [{"vm": "a", "ok": true, "state": "start_network"},
 *	    {"vm": "b", "ok": false, "error": "b: is running; ..."}]}
 *	{"ok": false, "error": "unknown command \"frob\"; ..."}
 *   "ok" is true only when every VM's operation was accepted.
 *
 * Who may do what (request.c): start, stop, restart, kill, failreset and
 * info: root, the VM's owner and the holders of its group; status and
 * events: anyone who can connect, events of the VMs the client may
 * operate only; metrics: anyone, a VM's series only to those who may
 * operate it; reload: root.
 *
 * status:  {"ok": true, "vms": [{"name", "state", "pid", "uptime",
 *	     "restarts", "maxrestart", "maxrestarttime", "owner", "group",
 *	     "description", "hypervisor", "error"(invalid only)}]}
 *	     "pid" is null when no process runs; "uptime" is seconds or null.
 * info:    {"ok": true, "vm": {...every status field, "config": {every key},
 *	     "paths": {"dir", "config", "scriptpath", "log", "generated"},
 *	     "last_exit", "restart_history": [unix times], "pending": bool}}
 * reload:  {"ok": true, "added": [...], "removed": [...], "changed": [...],
 *	     "invalid": [{"vm", "error"}]}
 * events:  {"ok": true, "epoch": "...", "seq": N} then one event line per
 *	     state change.  With "since": N (and "epoch"), the kept events
 *	     after N come first (events.c); the reply then says "since",
 *	     "missed" and, when missed, a "warning" saying why.
 * metrics: {"ok": true, "format": "prometheus", "content_type": "...",
 *	     "text": "# HELP ..."}; "format": "openmetrics" in the request
 *	     for OpenMetrics (metrics.c, expfmt.c).
 * reopen:  {"ok": true}: the VM logs are opened anew at their next line.
 * console: {"ok": true, "vm", "mode": "read-write"|"read-only",
 *	     "writer_uid"}, then the connection carries the console's bytes
 *	     both ways ("readonly", "scrollback": optional booleans).
 * log:     {"ok": true, "vm", "path"}, then the log's bytes ("lines": the
 *	     last ones only; "follow": then what is added).
 *
 * Event line (events, or after a reply to a "watch" request):
 *	{"event": "state", "vm": "a", "from": "stopped", "to": "start_network",
 *	 "reason": "request", "time": 1764200000.123, "pid": null, "seq": 42,
 *	 "epoch": "9c0f3e5a1b2d4c6e"}
 */
#ifndef VMSTATED_PROTO_H
#define VMSTATED_PROTO_H

#define PROTO_MAX_LINE		(64 * 1024)

/* vmstatedctl exit statuses (vmstatedctl(1)). */
#define CTL_EXIT_OK		0
#define CTL_EXIT_FAILED		1	/* the daemon refused, or it failed */
#define CTL_EXIT_USAGE		2
#define CTL_EXIT_UNREACHABLE	3

#endif
