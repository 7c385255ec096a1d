# postern: top-level Makefile (GNU make).
#
# Everything is built out of tree into $(O) (default: build/), so that the
# sanitizer build (make O=build-san SAN=1) lives beside the normal one.
#
# Each program directory holds one entry file named after the program
# (smtpd/smtpd.c, ...); every other .c file of the directory goes into
# $(O)/<dir>/lib<dir>.a, which the program and the unit tests link.

.DEFAULT_GOAL := all

O	?= build
PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec/postern
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc/postern
SYSTEMDDIR ?= /etc/systemd/system

CC	?= cc
# Debian's python3, which has python3-aiosmtpd and python3-dkim (not a
# pyenv or virtualenv one that may come first in PATH).
PYTHON	?= /usr/bin/python3
WARN	= -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wmissing-prototypes \
	  -Wno-unused-parameter -Wstrict-prototypes -Wformat=2
CFLAGS	?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -I. -Ilib $(shell pkg-config --cflags libbsd-overlay)
ifeq ($(SAN),1)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif
# The fuzz build (make O=build-fuzz CC=clang FUZZ=1 fuzz) instruments every
# object for coverage, not only the fuzz target's own file.
ifeq ($(FUZZ),1)
CFLAGS	+= -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
endif
ALL_CFLAGS = $(WARN) $(CFLAGS) $(CPPFLAGS)

BSD	= $(shell pkg-config --libs libbsd-overlay)
LIBS_smtpd  = -ltls -lssl -lcrypto -levent $(BSD)
LIBS_authd  = -ldb -lcrypto -levent $(BSD)
LIBS_queued = -levent -lpthread $(BSD)
LIBS_signd  = -lcrypto -levent $(BSD)
LIBS_relayd = -ltls -lunbound -levent $(BSD)
LIBS_master = -lcrypto -levent $(BSD)
LIBS_ctl    = -lcrypto -levent $(BSD)
LIBS_ALL    = -ltls -lssl -lcrypto -lunbound -ldb -levent -lpthread $(BSD)

PROGS_LIBEXEC = smtpd authd queued signd relayd
DIRS	= lib master ctl $(PROGS_LIBEXEC)

# program name -> directory
dir_posternd   = master
dir_posternctl = ctl
$(foreach p,$(PROGS_LIBEXEC),$(eval dir_$(p) = $(p)))
entry_posternd = posternd
entry_posternctl = posternctl

# Programs go to $(O)/bin, which is also the libexec directory of tests.
BINS	= $(O)/bin/posternd $(O)/bin/posternctl $(addprefix $(O)/bin/,$(PROGS_LIBEXEC))

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o)
LIBPOSTERN = $(O)/lib/libpostern.a

# Per-directory archives of everything but the entry file.
define dirlib
$(1)_ENTRY := $(1)/$(2).c
$(1)_SRCS := $$(filter-out $(1)/$(2).c,$$(wildcard $(1)/*.c))
$(1)_OBJS := $$($(1)_SRCS:%.c=$(O)/%.o)
$(O)/$(1)/lib$(1).a: $$($(1)_OBJS) $(O)/lib/empty.o
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
$(O)/bin/$(3): $(O)/$(1)/$(2).o $(O)/$(1)/lib$(1).a $(LIBPOSTERN)
	@mkdir -p $$(@D)
	$(CC) $(LDFLAGS) -o $$@ $(O)/$(1)/$(2).o -Wl,--whole-archive \
	    $(O)/$(1)/lib$(1).a -Wl,--no-whole-archive $(LIBPOSTERN) $(LIBS_$(1))
endef
$(eval $(call dirlib,master,posternd,posternd))
$(eval $(call dirlib,ctl,posternctl,posternctl))
$(foreach p,$(PROGS_LIBEXEC),$(eval $(call dirlib,$(p),$(p),$(p))))

DIRLIBS = $(foreach d,master ctl $(PROGS_LIBEXEC),$(O)/$(d)/lib$(d).a)

UNIT_SRCS := $(wildcard regress/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(O)/%)
FUZZ_SRCS := $(wildcard regress/fuzz/fuzz_*.c)

.PHONY: all clean test unit install format bench bench-peers fuzz check-config
BENCH_SRCS := $(wildcard regress/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:%.c=$(O)/%)
all: $(BINS) $(UNIT_BINS) $(BENCH_BINS)

$(O)/lib/empty.o:
	@mkdir -p $(@D)
	echo 'extern int postern_empty_unit; int postern_empty_unit;' | \
	    $(CC) $(ALL_CFLAGS) -Wno-missing-variable-declarations -x c -c -o $@ -

$(LIBPOSTERN): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(O)/%.o: %.c $(wildcard lib/*.h) $(wildcard */*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -c -o $@ $<

$(O)/regress/unit/test_%: regress/unit/test_%.c regress/unit/unit.h $(DIRLIBS) $(LIBPOSTERN)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(DIRLIBS) $(LIBPOSTERN) $(LIBS_ALL)

$(O)/regress/bench/%: regress/bench/%.c $(DIRLIBS) $(LIBPOSTERN)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(DIRLIBS) $(LIBPOSTERN) $(LIBS_ALL) -lm

# Fuzz targets need clang's libFuzzer: make O=build-fuzz CC=clang FUZZ=1 fuzz
fuzz: $(FUZZ_SRCS:regress/fuzz/%.c=$(O)/fuzz/%)
$(O)/fuzz/%: regress/fuzz/%.c $(DIRLIBS) $(LIBPOSTERN)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
	    $(DIRLIBS) $(LIBPOSTERN) $(LIBS_ALL)

unit: $(UNIT_BINS)

# The whole suite: unit tests, protocol transcripts, whole-daemon tests.
# It needs root (real users, real chroots); regress/setup installs what is
# missing (packages, system users) first.
test: all
	sh regress/setup
	$(PYTHON) regress/run.py --build $(O)

bench: all
	sh regress/setup
	$(PYTHON) regress/bench/run.py --build $(O)

bench-peers: all
	sh regress/setup
	$(PYTHON) regress/bench/run.py --build $(O) --peers

install: $(BINS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(O)/bin/posternd $(O)/bin/posternctl $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(addprefix $(O)/bin/,$(PROGS_LIBEXEC)) $(DESTDIR)$(LIBEXECDIR)/
	install -m 0644 man/postern.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/posternd.8 man/posternctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -d $(DESTDIR)$(SYSTEMDDIR)
	install -m 0644 etc/postern.service $(DESTDIR)$(SYSTEMDDIR)/
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)
	install -m 0644 etc/postern.conf $(DESTDIR)$(SYSCONFDIR)/postern.conf.sample
	[ -n "$(DESTDIR)" ] || sh etc/postern-setup

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(O) build-san

-include $(shell find $(O) -name '*.d' 2>/dev/null)
