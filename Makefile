# aws - build, run and test. See README.md for the two commands that do all set-up.

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude
LDLIBS   = -laio -lhttp_parser -pthread
BUILD   ?= build

SRCS    := $(wildcard src/*.c)
OBJS    := $(SRCS:src/%.c=$(BUILD)/%.o)
HDRS    := $(wildcard include/*.h)

# Debian packages: what building needs, and what the tests need on top.
RUN_PKGS  = gcc make libc6-dev libaio-dev libhttp-parser-dev
TEST_PKGS = $(RUN_PKGS) libcmocka-dev curl wget netcat-openbsd valgrind iproute2 procps \
            python3 python3-pytest
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all run check test unit integration deps-run deps-test install uninstall clean

all: aws sockop_preload.so

aws: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(BUILD)/%.o: src/%.c $(HDRS) | $(BUILD)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD):
	mkdir -p $@

# The split-I/O preload: every socket recv capped at 20 bytes, every send/sendfile halved.
sockop_preload.so: src/preload/sockop_preload.c
	$(CC) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

# Installs the missing packages of a list (apt-get, through sudo unless root).
define install_missing
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

deps-run:
	$(call install_missing,$(RUN_PKGS))

deps-test:
	$(call install_missing,$(TEST_PKGS))

run: deps-run
	$(MAKE) all
	./aws

# Unit tests link only the module under test (and log.o), never main.c: tests/unit/test_X.c
# links build/X.o, plus what UNIT_DEPS_test_X adds.
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
UNIT_DEPS_test_response = $(BUILD)/mime.o

$(BUILD)/tests/%: tests/unit/%.c $(OBJS) | $(BUILD)
	@mkdir -p $(BUILD)/tests
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/$(patsubst test_%,%,$*).o $(UNIT_DEPS_$*) $(BUILD)/log.o \
		$(LDLIBS) -lcmocka

unit: $(UNIT_TESTS)

check: deps-test
	$(MAKE) all unit
	tests/run.sh

test: check

# The binary, the preload library (for anyone who wants to test a build) and the man page.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/aws $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 aws $(DESTDIR)$(PREFIX)/bin/aws
	install -m 644 sockop_preload.so $(DESTDIR)$(PREFIX)/lib/aws/sockop_preload.so
	install -m 644 contrib/aws.1 $(DESTDIR)$(PREFIX)/share/man/man1/aws.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/aws $(DESTDIR)$(PREFIX)/lib/aws/sockop_preload.so \
		$(DESTDIR)$(PREFIX)/share/man/man1/aws.1
	-rmdir $(DESTDIR)$(PREFIX)/lib/aws

clean:
	rm -rf $(BUILD) aws sockop_preload.so
