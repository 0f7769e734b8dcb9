# syntax=docker/dockerfile:1
# Build: docker build -t foreman-pr-sweeper .
# The final image holds only a virtualenv with the installed package: no compilers, no
# pip cache, no tests. It runs as a fixed numeric non-root user and writes nothing to
# disk, so it works with readOnlyRootFilesystem: true.

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md constraints.txt ./
COPY sweeper ./sweeper
RUN /opt/venv/bin/pip install --no-cache-dir -c constraints.txt . \
    && /opt/venv/bin/pip uninstall --yes pip setuptools wheel \
    && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

FROM python:3.11.14-slim-bookworm
LABEL org.opencontainers.image.title="foreman-pr-sweeper" \
      org.opencontainers.image.description="Opens the missing pull requests of completed LLMKube Foreman Workloads" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /opt/venv /opt/venv
USER 65532:65532
ENTRYPOINT ["foreman-pr-sweeper"]
