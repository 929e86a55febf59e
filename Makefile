# Two commands do all the set-up on a fresh Linux machine (as root):
#   make demo   builds the network-namespace lab and shows the reserved source IP at work
#   make test   type-checks, lints and runs every test
.PHONY: install demo test check lint typecheck bench clean

install:
	@scripts/install.sh

demo: install
	bin/egress-router lab demo

test: install
	npm run typecheck
	npm run lint
	npm run format:check
	npm test

# Each benchmark runs its competitor (Squid, HAProxy) in the same run; about 15 minutes in all.
bench: install
	bench/run-http-proxy.sh
	scripts/bench-dns-proxy.sh
	node_modules/node/bin/node --disable-warning=ExperimentalWarning bench/takeover.ts

clean:
	bin/egress-router lab down --all || true
