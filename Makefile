# vmstated: builds with GNU make and with BSD make (bmake), gcc or clang.
#
#   make                 build everything into $(O) (default: build)
#   make check           unit tests and the pytest suites (see scripts/check)
#   make install         honours PREFIX and DESTDIR
#   make fuzz            run the UCL fuzzer for FUZZ_SECONDS (needs clang)
#   make bench           the benchmarks of bench/
#   make bench-peers     the same beside libvirt, runit and s6 (docs/bench.md)
#
# Only constructs both makes share are used: ?=, !=, explicit rules.

PREFIX?=	/usr/local
BINDIR?=	$(PREFIX)/bin
SBINDIR?=	$(PREFIX)/sbin
MANDIR?=	$(PREFIX)/share/man
EXAMPLESDIR?=	$(PREFIX)/share/examples/vmstated
SYSCONFDIR?=	$(PREFIX)/etc
RUNSTATEDIR?=	/var/run
LOGDIR?=	/var/log/vmstated
CONFIGDIR?=	$(SYSCONFDIR)/vmstated
# The service manager's file, where it looks for it: FreeBSD's rc.d script
# in RCDIR (service(8) and rc(8) read local_startup, /usr/local/etc/rc.d),
# systemd's unit in SYSTEMDUNITDIR (systemd reads /usr/local/lib/systemd/system
# and /usr/lib/systemd/system).  SERVICE=rc.d or SERVICE=systemd installs
# another system's, SERVICE=none neither.
RCDIR?=		$(PREFIX)/etc/rc.d
SYSTEMDUNITDIR?=	$(PREFIX)/lib/systemd/system
# The rotation of the VM logs: newsyslog(8) reads newsyslog.conf.d under
# /etc and /usr/local/etc (FreeBSD 12 and later); logrotate(8) reads
# /etc/logrotate.d only.  LOGROTATE=newsyslog, logrotate or none.
NEWSYSLOGDIR?=	$(PREFIX)/etc/newsyslog.conf.d
LOGROTATEDIR?=	/etc/logrotate.d
PIDFILE?=	$(RUNSTATEDIR)/vmstated.pid

O?=		build
CC?=		cc
OS!=		uname -s | tr 'A-Z' 'a-z'
SERVICE_freebsd=	rc.d
SERVICE_linux=		systemd
SERVICE?=	$(SERVICE_$(OS))
LOGROTATE_freebsd=	newsyslog
LOGROTATE_linux=	logrotate
LOGROTATE?=	$(LOGROTATE_$(OS))

EVENT_CFLAGS!=	pkg-config --cflags libevent_core 2>/dev/null || echo -I/usr/local/include
EVENT_LIBS!=	pkg-config --libs libevent_core 2>/dev/null || echo -L/usr/local/lib -levent_core
CMOCKA_CFLAGS!=	pkg-config --cflags cmocka 2>/dev/null || echo -I/usr/local/include
CMOCKA_LIBS!=	pkg-config --libs cmocka 2>/dev/null || echo -L/usr/local/lib -lcmocka

# Feature macros differ: glibc hides BSD and XSI interfaces under -std=c11.
OS_CPPFLAGS_linux=	-D_GNU_SOURCE
OS_CPPFLAGS_freebsd=
WARNFLAGS?=	-Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
		-Wmissing-prototypes -Wno-unused-parameter
CFLAGS?=	-O2 -g
# Extra link flags for vmstatedctl alone.  CTL_LDFLAGS=-static spares each
# run the dynamic loader (some 0.1 ms, a sixth of spawning /bin/true on a
# Linux VM: bench/profiles.md); not with the sanitizers, which cannot link
# statically, and a static client does not follow libc's updates.
CTL_LDFLAGS?=
# isfinite() is a call to __isfinite in FreeBSD's libm (glibc: a builtin).
LIBM=		-lm
ALL_CFLAGS=	-std=c11 $(WARNFLAGS) $(CFLAGS) $(OS_CPPFLAGS_$(OS)) \
		-Isrc/common -Isrc/hv -Isrc/platform -Isrc/vmstated \
		-DCONFIGDIR=\"$(CONFIGDIR)\" -DRUNSTATEDIR=\"$(RUNSTATEDIR)\" \
		-DLOGDIR=\"$(LOGDIR)\" $(EVENT_CFLAGS)

COMMON_HDRS=	src/common/buf.h src/common/log.h src/common/ucl.h \
		src/common/ucl_lex.h src/common/config.h src/common/proto.h \
		src/common/file.h src/common/trust.h
COMMON_SRCS=	src/common/buf.c src/common/log.c src/common/ucl.c \
		src/common/ucl_lex.c src/common/ucl_number.c \
		src/common/ucl_var.c src/common/ucl_json.c src/common/file.c
CONFIG_SRCS=	src/common/config.c src/common/config_keys.c \
		src/common/config_values.c src/common/config_check.c \
		src/common/config_deps.c src/common/config_disks.c \
		src/common/config_daemon.c src/common/config_pack.c \
		src/common/trust.c
PLATFORM_SRCS=	src/platform/$(OS).c
HV_SRCS=	src/hv/hv.c src/hv/bhyve.c src/hv/bhyve_config.c \
		src/hv/qemu.c
DAEMON_SRCS=	src/vmstated/main.c src/vmstated/vm.c src/vmstated/vmproc.c \
		src/vmstated/vm_actions.c src/vmstated/vmrecord.c \
		src/vmstated/effects.c \
		src/vmstated/task.c src/vmstated/reload.c \
		src/vmstated/probe.c src/vmstated/order.c \
		src/vmstated/proc.c src/vmstated/supervisor.c \
		src/vmstated/control.c src/vmstated/request.c \
		src/vmstated/vmlog.c src/vmstated/persist.c \
		src/vmstated/daemon.c src/common/json_check.c \
		src/vmstated/console.c src/vmstated/logview.c \
		src/vmstated/switch.c src/vmstated/relay.c \
		src/vmstated/metrics.c src/vmstated/events.c \
		src/vmstated/disks.c src/common/expfmt.c
DAEMON_HDRS=	$(COMMON_HDRS) src/common/json_check.h src/common/expfmt.h \
		src/hv/hv.h src/platform/platform.h \
		src/vmstated/vmstated.h src/vmstated/vm_machine.h \
		src/vmstated/proc.h

VMSTATED_SRCS=	$(DAEMON_SRCS) $(HV_SRCS) $(PLATFORM_SRCS) $(CONFIG_SRCS) \
		$(COMMON_SRCS)
CTL_SRCS=	src/vmstatedctl/vmstatedctl.c src/vmstatedctl/conn.c \
		src/vmstatedctl/reply.c src/vmstatedctl/show.c \
		src/vmstatedctl/watch.c src/vmstatedctl/console.c \
		src/vmstatedctl/remote.c \
		src/common/buf.c src/common/log.c
UCL2JSON_SRCS=	src/tools/ucl2json.c $(COMMON_SRCS)

PROGRAMS=	$(O)/vmstated $(O)/vmstatedctl $(O)/ucl2json
STANDIN_SRCS=	tests/standin/standin.c tests/standin/vmm.c src/common/buf.c \
		src/common/log.c
STANDIN_HDRS=	tests/standin/standin.h tests/standin/vmm.h src/common/buf.h \
		src/common/log.h
BHYVE_STANDIN_SRCS= tests/standin/bhyve.c tests/standin/bhyve_config.c \
		tests/standin/bhyve_devices.c
STANDINS=	$(O)/bhyve-standin $(O)/bhyvectl-standin $(O)/clockshift.so
UNIT_TESTS=	$(O)/test_ucl $(O)/test_config $(O)/test_bhyve_config \
		$(O)/test_buf $(O)/test_file $(O)/test_json_check \
		$(O)/test_platform $(O)/test_reply $(O)/test_trust \
		$(O)/test_vm $(O)/test_vm_model $(O)/test_reload $(O)/test_hv \
		$(O)/test_expfmt $(O)/test_conn

all: $(PROGRAMS)

$(O)/vmstated: $(VMSTATED_SRCS) $(DAEMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) -o $@ $(VMSTATED_SRCS) $(LDFLAGS) $(EVENT_LIBS) \
	    $(LIBM)

$(O)/vmstatedctl: $(CTL_SRCS) $(COMMON_HDRS) src/vmstatedctl/vmstatedctl.h
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) -o $@ $(CTL_SRCS) $(LDFLAGS) $(CTL_LDFLAGS) $(LIBM)

$(O)/ucl2json: $(UCL2JSON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) -o $@ $(UCL2JSON_SRCS) $(LDFLAGS) $(LIBM)

# Stand-ins for bhyve and bhyvectl (tests/standin/README.md).
$(O)/bhyve-standin: $(BHYVE_STANDIN_SRCS) tests/standin/bhyve_standin.h \
    $(STANDIN_SRCS) $(STANDIN_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) -Itests/standin -o $@ $(BHYVE_STANDIN_SRCS) \
	    $(STANDIN_SRCS) $(LDFLAGS)

$(O)/bhyvectl-standin: tests/standin/bhyvectl.c $(STANDIN_SRCS) \
    $(STANDIN_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) -Itests/standin -o $@ tests/standin/bhyvectl.c \
	    $(STANDIN_SRCS) $(LDFLAGS)

# The tests' wall-clock shifter (tests/lib/clockshift.c), preloaded into
# the daemon and inherited by its children.  Built without $(CFLAGS): a
# sanitizer runtime in it would be loaded into every hook's shell too.
SHIM_CFLAGS?=	-O2 -g
SHIM_LIBS_linux=	-ldl
SHIM_LIBS_freebsd=
$(O)/clockshift.so: tests/lib/clockshift.c
	@mkdir -p $(O)
	$(CC) -std=c11 $(WARNFLAGS) $(SHIM_CFLAGS) $(OS_CPPFLAGS_$(OS)) -fPIC \
	    -shared -o $@ tests/lib/clockshift.c $(SHIM_LIBS_$(OS))

standins: $(STANDINS)

# Unit tests (cmocka): one program per module.
$(O)/test_buf: tests/unit/test_buf.c $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ tests/unit/test_buf.c \
	    $(COMMON_SRCS) $(LDFLAGS) $(CMOCKA_LIBS) $(LIBM)

$(O)/test_expfmt: tests/unit/test_expfmt.c src/common/expfmt.c \
    src/common/expfmt.h $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ tests/unit/test_expfmt.c \
	    src/common/expfmt.c $(COMMON_SRCS) $(LDFLAGS) $(CMOCKA_LIBS) \
	    $(LIBM)

$(O)/test_file: tests/unit/test_file.c $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ tests/unit/test_file.c \
	    $(COMMON_SRCS) $(LDFLAGS) $(CMOCKA_LIBS) $(LIBM)

$(O)/test_json_check: tests/unit/test_json_check.c src/common/json_check.c \
    src/common/json_check.h $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ \
	    tests/unit/test_json_check.c src/common/json_check.c \
	    $(COMMON_SRCS) $(LDFLAGS) $(CMOCKA_LIBS) $(LIBM)

$(O)/test_ucl: tests/unit/test_ucl.c $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ tests/unit/test_ucl.c \
	    $(COMMON_SRCS) $(LDFLAGS) $(CMOCKA_LIBS) $(LIBM)

$(O)/test_trust: tests/unit/test_trust.c src/common/trust.c $(COMMON_SRCS) \
    $(COMMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ tests/unit/test_trust.c \
	    src/common/trust.c $(COMMON_SRCS) $(LDFLAGS) $(CMOCKA_LIBS) $(LIBM)

$(O)/test_reply: tests/unit/test_reply.c src/vmstatedctl/reply.c \
    src/vmstatedctl/vmstatedctl.h $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Isrc/vmstatedctl -o $@ \
	    tests/unit/test_reply.c src/vmstatedctl/reply.c $(COMMON_SRCS) \
	    $(LDFLAGS) $(CMOCKA_LIBS) $(LIBM)

$(O)/test_conn: tests/unit/test_conn.c src/vmstatedctl/conn.c \
    src/vmstatedctl/vmstatedctl.h $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Isrc/vmstatedctl -o $@ \
	    tests/unit/test_conn.c src/vmstatedctl/conn.c $(COMMON_SRCS) \
	    $(LDFLAGS) $(CMOCKA_LIBS) $(LIBM)

$(O)/test_config: tests/unit/test_config.c $(CONFIG_SRCS) $(COMMON_SRCS) \
    $(COMMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ tests/unit/test_config.c \
	    $(CONFIG_SRCS) $(COMMON_SRCS) $(LDFLAGS) $(CMOCKA_LIBS) $(LIBM)

$(O)/test_bhyve_config: tests/unit/test_bhyve_config.c src/hv/bhyve_config.c \
    src/hv/bhyve_config.h $(CONFIG_SRCS) $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ \
	    tests/unit/test_bhyve_config.c src/hv/bhyve_config.c \
	    $(CONFIG_SRCS) $(COMMON_SRCS) $(LDFLAGS) $(CMOCKA_LIBS) $(LIBM)

# A back end alone, through hv.h: nothing of the daemon is linked.
$(O)/test_hv: tests/unit/test_hv.c $(HV_SRCS) src/hv/hv.h \
    src/hv/bhyve_config.h $(PLATFORM_SRCS) $(CONFIG_SRCS) $(COMMON_SRCS) \
    $(COMMON_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ tests/unit/test_hv.c \
	    $(HV_SRCS) $(PLATFORM_SRCS) $(CONFIG_SRCS) $(COMMON_SRCS) \
	    $(LDFLAGS) $(CMOCKA_LIBS) $(EVENT_LIBS) $(LIBM)

$(O)/test_platform: tests/unit/test_platform.c $(PLATFORM_SRCS) \
    src/platform/platform.h
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ tests/unit/test_platform.c \
	    $(PLATFORM_SRCS) $(LDFLAGS) $(CMOCKA_LIBS)

# The state machine alone (tests/unit/vm_world.c plays the world).
MACHINE_SRCS=	src/vmstated/vm.c src/vmstated/vm_actions.c \
		src/vmstated/vmrecord.c src/vmstated/reload.c src/hv/hv.c \
		$(CONFIG_SRCS) $(COMMON_SRCS)
MACHINE_HDRS=	$(COMMON_HDRS) src/vmstated/vmstated.h \
		src/vmstated/vm_machine.h src/hv/hv.h tests/unit/vm_world.h

$(O)/test_vm: tests/unit/test_vm.c tests/unit/vm_world.c $(MACHINE_SRCS) \
    $(MACHINE_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Itests/unit -o $@ \
	    tests/unit/test_vm.c tests/unit/vm_world.c $(MACHINE_SRCS) \
	    $(LDFLAGS) $(CMOCKA_LIBS) $(LIBM)

$(O)/test_vm_model: tests/unit/test_vm_model.c tests/unit/vm_world.c \
    $(MACHINE_SRCS) $(MACHINE_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Itests/unit -o $@ \
	    tests/unit/test_vm_model.c tests/unit/vm_world.c \
	    $(MACHINE_SRCS) $(LDFLAGS) $(CMOCKA_LIBS) $(LIBM)

$(O)/test_reload: tests/unit/test_reload.c tests/unit/vm_world.c \
    $(MACHINE_SRCS) $(MACHINE_HDRS)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Itests/unit -o $@ \
	    tests/unit/test_reload.c tests/unit/vm_world.c \
	    $(MACHINE_SRCS) $(LDFLAGS) $(CMOCKA_LIBS) $(LIBM)

unit-tests: $(UNIT_TESTS)

test-unit: $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do echo "== $$t"; \
	    (cd tests/unit && ../../$$t) || exit 1; done

test-integration: all standins
	VMSTATED_BUILD=$(O) sh scripts/pytest -q tests/integration

test-e2e: all
	VMSTATED_BUILD=$(O) sh scripts/pytest -q tests/e2e

# Everything, as the README says: installs what is missing, then builds
# and runs every suite (scripts/check).
check:
	O=$(O) sh scripts/check

# libFuzzer on the UCL parser (clang only).
FUZZ_SECONDS?=	60
$(O)/fuzz_ucl: tests/fuzz/fuzz_ucl.c $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(O)
	clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all \
	    $(OS_CPPFLAGS_$(OS)) -Isrc/common -o $@ tests/fuzz/fuzz_ucl.c \
	    $(COMMON_SRCS) $(LIBM)

fuzz: $(O)/fuzz_ucl
	@mkdir -p $(O)/fuzz-corpus
	$(O)/fuzz_ucl -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	    -timeout=5 $(O)/fuzz-corpus tests/fuzz/corpus

$(O)/bench-spawntime: bench/spawntime.c
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) -o $@ bench/spawntime.c $(LDFLAGS)

$(O)/bench-request: bench/request.c
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) -o $@ bench/request.c $(LDFLAGS)

bench: all standins $(O)/bench-spawntime $(O)/bench-request
	VMSTATED_BUILD=$(O) sh bench/run

$(O)/bench-execstamp: bench/execstamp.c
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) -o $@ bench/execstamp.c $(LDFLAGS)

# vmstated beside libvirt, runit, s6 and daemontools (installs them).
bench-peers: all standins $(O)/bench-spawntime $(O)/bench-request \
    $(O)/bench-execstamp
	VMSTATED_BUILD=$(O) sh bench/peers

demo:
	sh scripts/demo

install: all install-$(SERVICE) install-log-$(LOGROTATE)
	mkdir -p $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(EXAMPLESDIR)/bsdvm \
	    $(DESTDIR)$(EXAMPLESDIR)/linuxvm $(DESTDIR)$(CONFIGDIR)
	install -m 0755 $(O)/vmstated $(DESTDIR)$(SBINDIR)/vmstated
	install -m 0755 $(O)/vmstatedctl $(DESTDIR)$(BINDIR)/vmstatedctl
	install -m 0755 $(O)/ucl2json $(DESTDIR)$(BINDIR)/vmstated-ucl2json
	install -m 0644 man/vmstated.8 $(DESTDIR)$(MANDIR)/man8/vmstated.8
	install -m 0644 man/vmstatedctl.1 $(DESTDIR)$(MANDIR)/man1/vmstatedctl.1
	install -m 0644 man/vmstated.conf.5 \
	    $(DESTDIR)$(MANDIR)/man5/vmstated.conf.5
	install -m 0644 examples/bsdvm/config examples/bsdvm/bhyve_config \
	    $(DESTDIR)$(EXAMPLESDIR)/bsdvm/
	install -m 0755 examples/bsdvm/start_network \
	    examples/bsdvm/stop_network $(DESTDIR)$(EXAMPLESDIR)/bsdvm/
	install -m 0644 examples/linuxvm/config \
	    $(DESTDIR)$(EXAMPLESDIR)/linuxvm/
	install -m 0644 examples/README examples/vmstated.conf \
	    $(DESTDIR)$(EXAMPLESDIR)/

# The rc.d script and the systemd unit, with the installed paths: made
# at every install, as the paths may differ from the last one's.
install-rc.d:
	@mkdir -p $(O) $(DESTDIR)$(RCDIR)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@CONFIGDIR@|$(CONFIGDIR)|g' \
	    -e 's|@RUNSTATEDIR@|$(RUNSTATEDIR)|g' -e 's|@LOGDIR@|$(LOGDIR)|g' \
	    rc/vmstated.in > $(O)/vmstated.rc
	install -m 0555 $(O)/vmstated.rc $(DESTDIR)$(RCDIR)/vmstated

install-systemd:
	@mkdir -p $(O) $(DESTDIR)$(SYSTEMDUNITDIR)
	sed -e 's|/usr/sbin/vmstated|$(SBINDIR)/vmstated|g' \
	    -e 's|/etc/vmstated|$(CONFIGDIR)|g' rc/vmstated.service \
	    > $(O)/vmstated.service
	install -m 0644 $(O)/vmstated.service \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/vmstated.service

install-none:

# The rotation of the VM logs, with the installed paths.
install-log-newsyslog:
	@mkdir -p $(O) $(DESTDIR)$(NEWSYSLOGDIR)
	sed -e 's|@LOGDIR@|$(LOGDIR)|g' -e 's|@PIDFILE@|$(PIDFILE)|g' \
	    rc/vmstated.newsyslog.in > $(O)/vmstated.newsyslog
	install -m 0644 $(O)/vmstated.newsyslog \
	    $(DESTDIR)$(NEWSYSLOGDIR)/vmstated.conf

install-log-logrotate:
	@mkdir -p $(O) $(DESTDIR)$(LOGROTATEDIR)
	sed -e 's|@LOGDIR@|$(LOGDIR)|g' -e 's|@PIDFILE@|$(PIDFILE)|g' \
	    rc/vmstated.logrotate.in > $(O)/vmstated.logrotate
	install -m 0644 $(O)/vmstated.logrotate \
	    $(DESTDIR)$(LOGROTATEDIR)/vmstated

install-log-none:

lint-man:
	mandoc -Tlint -Wwarning man/vmstated.8 man/vmstatedctl.1 \
	    man/vmstated.conf.5

clean:
	rm -rf $(O)

.PHONY: all standins unit-tests test-unit test-integration test-e2e check fuzz bench \
	bench-peers demo install install-rc.d install-systemd install-none \
	install-log-newsyslog install-log-logrotate install-log-none \
	lint-man clean
