# syntax=docker/dockerfile:1
# herder operator image. Build from the repository root:  docker build -t herder:dev .
# Only the runtime package `herder` (operator/) is built and installed: devtools/ (herder_dev: the local
# test world, simulators, benchmarks) is not even in the build context (.dockerignore).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# README.m[d]: the glob makes the file optional (pyproject names it as the long description).
COPY pyproject.toml README.m[d] ./
COPY operator/ operator/
# Wheels for herder and its dependencies (all are published as binary wheels: no compiler needed).
RUN pip wheel --wheel-dir /wheels .
# A self-contained virtualenv, copied whole into the runtime image: no pip, no build tools there.
RUN python -m venv /opt/herder \
 && /opt/herder/bin/pip install --no-index --find-links /wheels herder \
 && /opt/herder/bin/pip uninstall --yes setuptools pip \
 && /opt/herder/bin/python -c "import herder.cli, herder.metrics" \
 && ! /opt/herder/bin/python -c "import herder_dev" 2>/dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="herder" \
      org.opencontainers.image.description="Kubernetes operator for VMs, images and resource pools on vCenter and SCVMM" \
      org.opencontainers.image.licenses="Apache-2.0"
# A named user (not just a uid): Kopf derives its peer identity from the user name when POD_ID is unset.
RUN groupadd --system --gid 65532 herder \
 && useradd --system --uid 65532 --gid herder --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin herder
COPY --from=builder /opt/herder /opt/herder
# No .pyc writes: the chart mounts the root filesystem read-only.
ENV PATH=/opt/herder/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
# 8080: Kopf liveness (/healthz), 9090: Prometheus (/metrics).
EXPOSE 8080 9090
ENTRYPOINT ["herder"]
CMD ["run", "--liveness", "http://0.0.0.0:8080/healthz", "--metrics-port", "9090", "--log-format", "json"]
