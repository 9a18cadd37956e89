# herder: the developer entry points. `make test` is what CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= .dev/demo
PYTEST_ARGS ?=
N ?=
# `make bench -n 1000` (issue #18's spelling) works as `make bench N=1000`: make reads -n as its own --just-print and
# 1000 as a goal, so a number among bench's goals is the count, and the lines bench needs are marked to run anyway.
BENCH_COUNT := $(if $(filter bench,$(MAKECMDGOALS)),$(shell echo '$(filter-out bench,$(MAKECMDGOALS))' | grep -Ex '[0-9]+'))
RUN_ANYWAY := $(if $(BENCH_COUNT),+)

.PHONY: help install tools packages lint crds crds-check manifests manifests-check image image-report test demo demo-down bench clean

help:
	@echo "make install   .venv with herder[dev], the pinned test binaries (etcd, kube-apiserver, kubectl, vcsim, govc, helm,"
	@echo "               promtool, kstatus, gitleaks, ...; for the node: kubelet, kube-controller-manager, kube-scheduler,"
	@echo "               containerd, pause) and the Debian packages the node needs (runc, CNI plugins, podman)"
	@echo "make lint      ruff, and mypy --strict on operator/ and on the fake provider and the sync tests"
	@echo "make crds      regenerate crds/ from the pydantic models"
	@echo "make manifests regenerate charts/herder/crds and manifests/ from crds/ and the chart"
	@echo "make image     the operator image (podman, on local Debian bases), cached by content under ~/.cache/herder"
	@echo "make image-report  the image's size, Debian packages, Python distributions, leftovers and secret scan"
	@echo "make test      everything: install, lint, image, all tests against the real local stack"
	@echo "make demo      bring up the stack, apply examples/, run the operator, show ECSs reaching Ready"
	@echo "make bench     benchmarks that print figures: N=1000 or -n 1000 (ECSs; 3 runs), BENCH_ARGS='--runs 1 --breakdown', '--scale 10000',"
	@echo "               '--backend scvmm', '--memory-profile FILE' or '--soak --minutes 10' (docs/performance.md)"

$(STAMP): pyproject.toml
	$(RUN_ANYWAY)test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(RUN_ANYWAY)$(BIN)/pip install --quiet --upgrade pip
	$(RUN_ANYWAY)$(BIN)/pip install --quiet -e '.[dev]'
	$(RUN_ANYWAY)touch $@

tools:
	$(RUN_ANYWAY)tools/build.sh

packages:
	$(RUN_ANYWAY)tools/packages.sh

install: $(STAMP) tools packages

lint: $(STAMP)
	$(BIN)/ruff check operator devtools tests
	$(BIN)/mypy operator/herder
	$(BIN)/mypy tests/fakes tests/unit/conftest.py tests/unit/test_sync_*.py

crds: $(STAMP)
	$(BIN)/python -m herder.api.crdgen crds

crds-check: $(STAMP)
	$(BIN)/python -m herder.api.crdgen --check crds

manifests: $(STAMP)
	$(BIN)/python -m herder_dev.render_manifests

manifests-check: $(STAMP)
	$(BIN)/python -m herder_dev.render_manifests --check

image: $(STAMP)
	$(BIN)/python -m herder_dev.image_build

image-report: image tools
	$(BIN)/python -m herder_dev.image_inspect "$$($(BIN)/python -m herder_dev.image_build)"

test: install lint image
	$(BIN)/pytest -ra --durations=15 $(PYTEST_ARGS)

demo: install
	$(BIN)/python -m herder_dev.demo --dir $(DEMO_DIR)

demo-down:
	$(BIN)/herder dev down --dir $(DEMO_DIR)

bench: install
	$(RUN_ANYWAY)$(BIN)/python -m herder_dev.bench $(if $(N),-n $(N),$(if $(BENCH_COUNT),-n $(BENCH_COUNT))) $(BENCH_ARGS)

ifneq ($(BENCH_COUNT),)
$(BENCH_COUNT):
	@:
endif

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .dev
