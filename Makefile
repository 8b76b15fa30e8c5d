# mod_certmap — build, test, demo and benchmark.
#
#   make            builds .libs/mod_certmap.so with apxs
#   make install    installs it where `apxs -q LIBEXECDIR` says
#   make test       engine unit tests, PAM tests, the Apache::Test suite
#   make demo       a local httpd on loopback showing every outcome
#   make bench      benchmarks against a bare mod_ssl baseline
#   make deb        the Debian package, build/libapache2-mod-certmap_*.deb
#   make fuzz       libFuzzer runs of the engine, bounded (FUZZ_SECONDS)
#   make soak       SOAK_SECONDS of mixed clients, two graceful restarts
#   make clean

APXS      ?= apxs
CC        ?= gcc
PKG_LIBS   = -lssl -lcrypto -lpam -lunistring -lpcre2-8 -lldap -llber

MODULE_SRCS = mod_certmap.c certmap_config.c certmap_outcome.c \
              certmap_tls.c certmap_secret.c certmap_cache.c certmap_dump.c \
              certmap_memo.c certmap_directory.c certmap_ad.c \
              certmap_explain.c certmap_facts.c certmap_proxy.c \
              certmap_status.c \
              certmap_logon_helper.c certmap_logond.c \
              certmap_pam.c certmap_rules.c
HEADERS     = certmap_rules.h certmap_private.h certmap_pam.h \
              certmap_directory.h certmap_ad.h certmap_logond.h

WARN        = -Wall -Wextra -Werror -Wno-unused-parameter \
              -Wmissing-prototypes -Wstrict-prototypes -Wshadow
APXS_WARN   = $(foreach w,$(WARN) $(EXTRA_CFLAGS),-Wc,$(w))
APXS_LDFLAGS = -Wl,-Wl,--version-script=$(CURDIR)/mod_certmap.map \
               $(foreach f,$(EXTRA_LDFLAGS),-Wl,$(f))

# Engine and unit tests are built outside apxs, with APR's own flags.
APR_CFLAGS  = $(shell apr-1-config --cflags --cppflags --includes) \
              $(shell apu-1-config --includes)
APR_LIBS    = $(shell apr-1-config --link-ld) $(shell apu-1-config --link-ld)
SAN_FLAGS   = -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer -g -O1
TEST_CFLAGS = $(WARN) -std=gnu11 -I. $(APR_CFLAGS) $(SAN_FLAGS)

all: .libs/mod_certmap.so

.libs/mod_certmap.so: $(MODULE_SRCS) $(HEADERS) mod_certmap.map
	$(APXS) -c -o mod_certmap.la $(APXS_WARN) $(APXS_LDFLAGS) \
	    $(MODULE_SRCS) $(PKG_LIBS)

# A copy of the module built with AddressSanitizer and UBSan; the test
# suite loads it into httpd with the sanitizer runtime preloaded.
ASAN_DIR = build/asan
asan: $(ASAN_DIR)/mod_certmap.so
$(ASAN_DIR)/mod_certmap.so: $(MODULE_SRCS) $(HEADERS) mod_certmap.map
	mkdir -p $(ASAN_DIR)
	$(CC) -shared -fPIC -o $@ $(WARN) -std=gnu11 $(SAN_FLAGS) \
	    -I$(shell $(APXS) -q INCLUDEDIR) $(APR_CFLAGS) \
	    -Wl,--version-script=mod_certmap.map \
	    $(MODULE_SRCS) $(PKG_LIBS)

install: .libs/mod_certmap.so
	$(APXS) -i -n certmap mod_certmap.la

# ---- tests ---------------------------------------------------------------

UNIT_TESTS = tests/unit/test_rules tests/unit/test_ad \
             tests/unit/test_pam_wrapper tests/unit/test_logond
tests/unit/test_ad: tests/unit/test_ad.c certmap_ad.c certmap_ad.h \
    certmap_rules.h
	$(CC) $(TEST_CFLAGS) -o $@ tests/unit/test_ad.c certmap_ad.c \
	    $(APR_LIBS) -lssl -lcrypto -lcmocka
tests/unit/test_rules: tests/unit/test_rules.c certmap_rules.c certmap_rules.h
	$(CC) $(TEST_CFLAGS) -o $@ tests/unit/test_rules.c certmap_rules.c \
	    $(APR_LIBS) -lssl -lcrypto -lunistring -lpcre2-8 -lcmocka

# PAM logon under pam_wrapper + pam_matrix: the test builds its own service
# directory and re-runs itself with libpam_wrapper preloaded.
build/pam_certmap_test.so: tests/pam/pam_certmap_test.c
	mkdir -p build
	$(CC) -shared -fPIC $(WARN) -std=gnu11 -o $@ tests/pam/pam_certmap_test.c
tests/unit/test_pam_wrapper: tests/unit/test_pam_wrapper.c certmap_pam.c \
    certmap_pam.h build/pam_certmap_test.so
	$(CC) $(TEST_CFLAGS) \
	    -DCERTMAP_TEST_PAM_MODULE='"$(CURDIR)/build/pam_certmap_test.so"' \
	    -o $@ tests/unit/test_pam_wrapper.c certmap_pam.c -lpam -lcmocka

# The logon helper (certmap_logond.c): its wire format, and client and
# server against real PAM under pam_wrapper (a hung stack is pam_exec).
tests/unit/test_logond: tests/unit/test_logond.c certmap_logond.c \
    certmap_logond.h certmap_pam.c certmap_pam.h
	$(CC) $(TEST_CFLAGS) -o $@ tests/unit/test_logond.c certmap_logond.c \
	    certmap_pam.c -lpam -lcmocka

# libcrypt linked in from the start: ASan's crypt_r interceptor resolves
# the real crypt_r only then, and pam_unix (dlopen'ed later) calls it.
tests/unit/test_pam_root: tests/unit/test_pam_root.c certmap_pam.c certmap_pam.h
	$(CC) $(TEST_CFLAGS) -o $@ tests/unit/test_pam_root.c certmap_pam.c \
	    -lpam -lcmocka -Wl,--no-as-needed -lcrypt

test-unit: $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do echo "== $$t"; $$t || exit 1; done

# The real pam_unix logon needs root (to create a system user); skipped
# with a message otherwise.
test-pam-root: tests/unit/test_pam_root
	@if [ "$$(id -u)" -eq 0 ]; then \
	    echo "== tests/unit/test_pam_root (real pam_unix)"; \
	    tests/unit/test_pam_root; \
	else \
	    echo "== tests/unit/test_pam_root: skipped, needs root"; \
	fi

# Debian's own apache2, started as root with User an account outside group
# shadow, the shipped PAM file (pam_unix) and real local accounts: password
# and account-only logons through the logon helper.  Needs root (creates
# and removes accounts); says so and passes nothing otherwise.
test-apache-pam-root: all
	sh tests/pam-root/run-apache-pam-root.sh

# Apache::Test refuses to run as root: tests/run-httpd-tests.sh runs it
# as an unprivileged user it creates when started as root.
test-httpd: all asan
	sh tests/run-httpd-tests.sh

# The same suite under the other MPMs the contract names.
test-httpd-worker: all asan
	CERTMAP_MPM=worker sh tests/run-httpd-tests.sh
test-httpd-prefork: all asan
	CERTMAP_MPM=prefork sh tests/run-httpd-tests.sh

# Every stage runs even after a failure; the run ends with one line,
# "N passed, M failed", and a non-zero exit on any failure.
test: all
	sh tests/run-all.sh

# ---- fuzzing -----------------------------------------------------------------
# `make fuzz`: two libFuzzer targets over the engine, each run for
# FUZZ_SECONDS from a fixed FUZZ_SEED on a corpus built under build/fuzz
# from the test PKI; one PASS/FAIL line each, non-zero exit on any crash
# or disagreement (tests/fuzz/run-fuzz.sh).  Needs clang and libFuzzer.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SEED    ?= 1
FUZZ_CFLAGS   = $(WARN) -std=gnu11 -I. $(APR_CFLAGS) -g -O1 \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_LIBS     = $(APR_LIBS) -lssl -lcrypto -lunistring -lpcre2-8
FUZZ_TARGETS  = build/fuzz/fuzz_engine build/fuzz/fuzz_rules

build/fuzz/fuzz_engine: tests/fuzz/fuzz_engine.c certmap_rules.c certmap_rules.h
	@mkdir -p build/fuzz
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: no $(FUZZ_CC);" \
	    "sh scripts/install-deps.sh installs clang and libFuzzer" >&2; exit 1; }
	@echo "fuzz: building $@ ($(FUZZ_CC), libFuzzer, ASan, UBSan)"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_engine.c certmap_rules.c \
	    $(FUZZ_LIBS)
build/fuzz/fuzz_rules: tests/fuzz/fuzz_rules.c certmap_rules.c certmap_rules.h
	@mkdir -p build/fuzz
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: no $(FUZZ_CC);" \
	    "sh scripts/install-deps.sh installs clang and libFuzzer" >&2; exit 1; }
	@echo "fuzz: building $@ ($(FUZZ_CC), libFuzzer, ASan, UBSan)"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_rules.c certmap_rules.c \
	    $(FUZZ_LIBS)

fuzz: $(FUZZ_TARGETS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SEED=$(FUZZ_SEED) \
	    sh tests/fuzz/run-fuzz.sh $(FUZZ_TARGETS)

.PHONY: fuzz

# ---- demo, bench ------------------------------------------------------------

demo: all
	sh demo/run-demo.sh

bench: all
	sh bench/run-bench.sh

# SOAK_SECONDS (default 600) of mixed clients at concurrency 16 against one
# httpd, two graceful restarts; not part of `make test` (tests/soak/).
soak: all
	sh tests/soak/run-soak.sh

clean:
	rm -rf .libs build *.la *.lo *.slo *.o $(UNIT_TESTS) \
	    tests/unit/test_pam_root bench/bench_engine
	-[ -f t/TEST ] && (cd t && ./TEST -clean >/dev/null 2>&1) || true

.PHONY: all asan install test test-unit test-pam-root test-httpd \
        test-apache-pam-root \
        test-httpd-worker test-httpd-prefork demo bench soak clean

# Engine micro-benchmarks (bench/bench_engine.c); optimised, no sanitizers.
bench/bench_engine: bench/bench_engine.c certmap_rules.c certmap_rules.h
	$(CC) $(WARN) -std=gnu11 -O2 -g -I. $(APR_CFLAGS) -o $@ \
	    bench/bench_engine.c certmap_rules.c $(APR_LIBS) -lssl -lcrypto -lunistring -lpcre2-8

# ---- the certmap command-line tool (tools/) ----------------------------------
# `certmap blob|explain|import-iis`: built by `make`, installed by `make
# install` into $(DESTDIR)$(BINDIR), tested by `make test`.

BINDIR     ?= /usr/local/bin
TOOL_SRCS   = tools/certmap.c tools/certmap_explain_tool.c \
              tools/certmap_import_iis.c

all: tools/certmap
tools/certmap: $(TOOL_SRCS) tools/certmap_tool.h certmap_rules.c certmap_rules.h
	$(CC) $(WARN) -std=gnu11 -O2 -g $(EXTRA_CFLAGS) -I. $(APR_CFLAGS) -o $@ \
	    $(TOOL_SRCS) certmap_rules.c $(APR_LIBS) -lssl -lcrypto -lunistring -lpcre2-8 \
	    $(EXTRA_LDFLAGS)

MANDIR     ?= /usr/local/share/man
install: install-tools
install-tools: tools/certmap
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 755 tools/certmap $(DESTDIR)$(BINDIR)/certmap
	install -m 644 man/certmap.1 $(DESTDIR)$(MANDIR)/man1/certmap.1
	install -m 644 man/mod_certmap.8 $(DESTDIR)$(MANDIR)/man8/mod_certmap.8

# `make test` runs it as one stage of tests/run-all.sh.
test-tools: all
	sh tests/tools/run-tools-tests.sh

clean: clean-tools
clean-tools:
	rm -f tools/certmap

.PHONY: install-tools test-tools clean-tools

# ---- the Debian package (debian/) ----------------------------------------------
# `make deb` builds it from a clean copy of the tree (scripts/make-deb.sh);
# `make test-deb` checks it (tests/deb/run-deb-tests.sh: file list, lintian,
# man pages; with CERTMAP_TEST_SYSTEM=1 also install, a mapped request
# through Debian's own apache2, purge).
deb:
	sh scripts/make-deb.sh

test-deb:
	sh tests/deb/run-deb-tests.sh

.PHONY: deb test-deb
