# llmgw: build, run, test, bench and fuzz ngx_http_llmgw_module.
#
#   make          build build/nginx/objs/ngx_http_llmgw_module.so
#   make run      install what is missing, build, run examples/ on 127.0.0.1
#   make test     install what is missing, build, run every suite
#   make test-suites  only the t/*.t suites, nothing installed or built
#   make bench    wrk against 127.0.0.1, ratios against plain nginx
#   make bench-state  revocation propagation between two nodes on Redis
#   make fuzz     libFuzzer targets, bounded run time
#   make asan     the suites against an AddressSanitizer build

SHELL        := /bin/bash
NGX_SRC      ?= /usr/share/nginx/src
NGINX        ?= /usr/sbin/nginx
BUILD        ?= $(CURDIR)/build
OBJS          = $(BUILD)/nginx/objs
MODULE        = $(OBJS)/ngx_http_llmgw_module.so
SYSPY        := /usr/bin/python3
CC_OPT       ?= -g -O2 -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2
WARN          = -Wall -Wextra -Werror -Wno-unused-parameter
LD_OPT       ?= -Wl,-z,relro -Wl,-z,now -fPIC
RUN_PREFIX    = $(BUILD)/run
FUZZ_SECONDS ?= 60

# Debian packages the build, the suites and the tools need.  Node.js: the
# machine's own when it has one (Debian's npm conflicts with NodeSource's
# nodejs), else Debian's.  The Perl modules from libtest-longstring-perl on
# are what the CPAN Test::Nginx needs besides Test::Base, so the suites can
# run under it too (README, "Building and testing").  faketime: the limit
# windows' tests set nginx's wall clock (t/limit-window.t).
DEB_PKGS = nginx nginx-dev gcc make libc6-dev libssl-dev libjansson-dev \
           libjwt-dev libhiredis-dev redis-server wrk perl libtest-base-perl \
           libtest-longstring-perl liblist-moreutils-perl libtext-diff-perl \
           liburi-perl libwww-perl libipc-run-perl \
           python3 python3-jwt python3-cryptography python3-botocore \
           python3-yaml faketime clang \
           libclang-rt-14-dev valgrind ca-certificates openssl procps curl \
           dpkg-dev xz-utils
NODE_PKGS = nodejs npm

SRCS = config ngx_http_llmgw_module.c $(wildcard ngx_http_llmgw_*_module.c) \
       $(wildcard src/*.c src/*.h) src/SOURCES

.PHONY: all build deps run stop test test-only test-unit test-suites asan \
        bench bench-state fuzz clean

all: build

build: $(MODULE)

deps:
	@want="$(DEB_PKGS)"; command -v npm > /dev/null || want="$$want $(NODE_PKGS)"; \
	missing=""; \
	for p in $$want; do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "run as root, or install:$$missing" >&2; exit 1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@test -d t/sdk/node_modules || npm ci --prefix t/sdk --no-audit --no-fund

$(BUILD)/nginx/.configured: config src/SOURCES $(wildcard ngx_http_llmgw_*_module.c)
	@test -d $(NGX_SRC)/src || { echo "no nginx source in $(NGX_SRC): make deps" >&2; exit 1; }
	rm -rf $(BUILD)/nginx
	mkdir -p $(BUILD)
	cp -r $(NGX_SRC) $(BUILD)/nginx
	. $(BUILD)/nginx/conf_flags && cd $(BUILD)/nginx && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="$(CC_OPT) $(WARN)" --with-ld-opt="$(LD_OPT)" \
	        --add-dynamic-module=$(CURDIR) > $(BUILD)/configure.log 2>&1 \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }
	touch $@

$(MODULE): $(BUILD)/nginx/.configured $(SRCS)
	$(MAKE) -s -C $(BUILD)/nginx -f objs/Makefile modules

run: deps build
	tools/run-example.sh "$(NGINX)" "$(MODULE)" "$(RUN_PREFIX)"

stop:
	-tools/run-example.sh --stop "$(RUN_PREFIX)"

test: deps build test-only

test-only: test-unit test-suites

test-unit:
	t/unit/run.sh "$(BUILD)"

# the t/*.t suites alone: under the Test::Nginx::Socket perl finds (PERL5LIB),
# else t/lib's; LLMGW_RUNNER=cpan refuses t/lib's
test-suites:
	t/run-tests.sh "$(NGINX)" "$(MODULE)"

# nginx itself and the module built with AddressSanitizer, and pools that
# allocate every block separately (NGX_DEBUG_PALLOC) so ASan sees each one.
# nginx-dev has headers only: the whole source is Debian's orig tarball.
ASAN_BUILD = $(CURDIR)/build-asan
ASAN_NGX   = $(ASAN_BUILD)/nginx-1.22.1
ASAN_OPT   = -g -O1 -fno-omit-frame-pointer -fsanitize=address \
             -DNGX_DEBUG_PALLOC=1 $(WARN)

asan: deps
	rm -rf $(ASAN_BUILD) && mkdir -p $(ASAN_BUILD)
	tar -xzf "$$(tools/nginx-source.sh)" -C $(ASAN_BUILD)
	. $(NGX_SRC)/conf_flags && cd $(ASAN_NGX) && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="$(ASAN_OPT)" --with-ld-opt="-fsanitize=address" \
	        --add-dynamic-module=$(CURDIR) > $(ASAN_BUILD)/configure.log 2>&1 \
	    || { tail -20 $(ASAN_BUILD)/configure.log; exit 1; }
	$(MAKE) -s -C $(ASAN_NGX) -f objs/Makefile binary modules
	LLMGW_ASAN=1 t/run-tests.sh "$(ASAN_NGX)/objs/nginx" \
	    "$(ASAN_NGX)/objs/ngx_http_llmgw_module.so"

bench: deps build
	bench/run.sh "$(NGINX)" "$(MODULE)"

bench-state: deps build
	bench/state-propagation.pl "$(NGINX)" "$(MODULE)" $(TRIALS)

fuzz: deps build
	fuzz/run.sh "$(BUILD)" "$(FUZZ_SECONDS)"

clean:
	rm -rf build build-asan
