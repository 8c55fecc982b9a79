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
            python3 python3-pytest util-linux $(FUZZ_PKGS)
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all run check test unit integration deps-run deps-test install uninstall clean \
        deps-fuzz fuzz fuzz-long check-asan bench soak

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

# Unit tests, the integration suite plain / preloaded / under valgrind / against an
# ASan+UBSan build, and a short run of every fuzzer; one closing line for all of it.
check: deps-test
	$(MAKE) all unit $(ASAN_BUILD)/aws
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

# Minutes of mixed load (wrk, slowloris, resets, verified downloads) under the split-I/O
# preload, sampling RSS and descriptors every second; fails on growth. Not part of check.
SOAK_SECONDS ?= 600
soak: all
	tests/soak/run.sh $(SOAK_SECONDS)

# wrk against aws, nginx, lighttpd and h2o in one run; see bench/README.md.
bench: all $(BUILD)/floor
	bench/run.sh

# The benchmark's yardstick: only the system calls a /static response cannot avoid.
$(BUILD)/floor: bench/floor.c | $(BUILD)
	$(CC) $(CFLAGS) -o $@ $<

# Fuzzing: clang-14 + libFuzzer. tests/fuzz/run.sh builds build/fuzz/, replays
# tests/fuzz/regressions/, then fuzzes each target for N seconds.
FUZZ_PKGS = clang-14 libclang-rt-14-dev libhttp-parser-dev

deps-fuzz:
	$(call install_missing,$(FUZZ_PKGS))

fuzz: deps-fuzz
	tests/fuzz/run.sh 20

fuzz-long: deps-fuzz
	tests/fuzz/run.sh 600

# ./aws with ASan+UBSan in its own build directory, driven by the integration suite.
ASAN_BUILD  = $(BUILD)/asan
ASAN_FLAGS  = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ASAN_OBJS  := $(SRCS:src/%.c=$(ASAN_BUILD)/%.o)

$(ASAN_BUILD)/%.o: src/%.c $(HDRS)
	@mkdir -p $(ASAN_BUILD)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

$(ASAN_BUILD)/aws: $(ASAN_OBJS)
	$(CC) $(ASAN_FLAGS) -o $@ $(ASAN_OBJS) $(LDLIBS)

check-asan: deps-test
	$(MAKE) all $(ASAN_BUILD)/aws
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:verify_asan_link_order=0 UBSAN_OPTIONS=print_stacktrace=1 \
	AWS_BIN=$(CURDIR)/$(ASAN_BUILD)/aws tests/integration/run.sh plain

clean:
	rm -rf $(BUILD) aws sockop_preload.so
