# syntax=docker/dockerfile:1
# Build: docker build -t REGISTRY/foreman-pr-sweeper:TAG .
# The final image holds only a virtualenv with the installed package: no compilers, no
# pip cache, no tests. It runs as a fixed numeric non-root user and writes nothing to
# disk, so it works with readOnlyRootFilesystem: true.
# Supply chain: every dependency, and the setuptools that builds the package, comes from
# requirements-image.txt, pinned and hash-locked (scripts/lock-image regenerates it). For
# a release, pin the base image by digest as well (README, Releasing the image).

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements-image.txt ./
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements-image.txt
COPY pyproject.toml README.md ./
COPY sweeper ./sweeper
# The dependencies are in place: the package alone, built with the locked setuptools.
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation . \
    && /opt/venv/bin/pip uninstall --yes pip setuptools \
    && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

FROM python:3.11.14-slim-bookworm
LABEL org.opencontainers.image.title="foreman-pr-sweeper" \
      org.opencontainers.image.description="Opens the missing pull requests of completed LLMKube Foreman Workloads" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /opt/venv /opt/venv
USER 65532:65532
ENTRYPOINT ["foreman-pr-sweeper"]
