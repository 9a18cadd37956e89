# herder operator image. Build from the repository root:  docker build -t herder:dev .   (or: make image)
# Only the runtime package `herder` (operator/) is built and installed: devtools/ (herder_dev: the local
# test world, simulators, benchmarks) is not even in the build context (.dockerignore).
#
# PYTHON_IMAGE is the runtime base: a Debian with Python 3.11 (python:3.11-slim by default). BUILDER_IMAGE,
# the same unless set, must also have `python3 -m venv` with pip; the test world builds on local Debian
# bases made by debootstrap (devtools/herder_dev/image_build.py), a runtime one without python3-venv.

ARG PYTHON_IMAGE=python:3.11-slim
ARG BUILDER_IMAGE=${PYTHON_IMAGE}

FROM ${BUILDER_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
# A self-contained virtualenv, copied whole into the runtime image: wheels for herder and its dependencies
# (all published as binary wheels: no compiler needed), then pip and setuptools go. Behind a TLS-intercepting
# proxy, pass its CA as a build secret (never stored in a layer): --secret id=pip-ca,src=proxy-ca.pem
RUN --mount=type=secret,id=pip-ca,target=/run/secrets/pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
 && python3 -m venv /opt/herder \
 && /opt/herder/bin/pip wheel --quiet --wheel-dir /wheels . \
 && /opt/herder/bin/pip install --quiet --no-index --find-links /wheels herder \
 && /opt/herder/bin/pip uninstall --quiet --yes setuptools pip \
 && /opt/herder/bin/python -c "import herder.cli, herder.metrics" \
 && ! /opt/herder/bin/python -c "import herder_dev" 2>/dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="herder" \
      org.opencontainers.image.description="Kubernetes operator for VMs, images and resource pools on vCenter and SCVMM" \
      org.opencontainers.image.licenses="Apache-2.0"
# python:3.11-slim ships pip, setuptools and wheel, and ensurepip's copies of them: none stays in the image.
# A named user (not just a uid): Kopf derives its peer identity from the user name when POD_ID is unset.
RUN if python3 -m pip --version >/dev/null 2>&1; then \
      python3 -m pip uninstall --quiet --yes --root-user-action=ignore pip setuptools wheel; \
    fi \
 && find / -xdev \( -name 'pip-*.whl' -o -name 'setuptools-*.whl' -o -name 'wheel-*.whl' \) -delete \
 && ! python3 -m pip --version 2>/dev/null \
 && groupadd --system --gid 65532 herder \
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
