# syntax=docker/dockerfile:1
# One Dockerfile, one image per service: all five share every layer but an empty last one.
#
#   docker build --build-arg SERVICE=orders -t shop/orders .
#   task images                     # all five (buildah, podman or docker)
#
# PYTHON_IMAGE names the base; any Debian-based CPython >= 3.11 with ca-certificates works.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# ---------------------------------------------------------------------------------------------
# build: uv installs the hashed runtime lock and the project into /opt/venv, then compiles
# the bytecode. Nothing from this stage but /opt/venv reaches the image.
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
ENV UV_NATIVE_TLS=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# binutils only to strip debug info from the wheels' extension modules (~30 MB less).
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends binutils >/dev/null \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}" \
 && /opt/uv/bin/uv venv --quiet --python "$(command -v python3)" /opt/venv
WORKDIR /src
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements-runtime.lock ./
RUN /opt/uv/bin/uv pip install --quiet --python /opt/venv/bin/python \
        --require-hashes --no-deps --only-binary :all: -r requirements-runtime.lock \
 && find /opt/venv -name '*.so' -exec strip --strip-unneeded {} +
COPY pyproject.toml README.md ./
COPY shop ./shop
COPY functions ./functions
COPY gateway ./gateway
# The laptop's `shop` command (devtools/) is not in the build context: drop its script.
RUN /opt/uv/bin/uv pip install --quiet --python /opt/venv/bin/python --no-deps . \
 && rm /opt/venv/bin/shop \
 && /opt/venv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv/lib

# ---------------------------------------------------------------------------------------------
# runtime: the base, a numeric non-root user and the venv. No uv, pip caches or compilers.
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    HOST=0.0.0.0 \
    PORT=8080 \
    SHOP_DATA_DIR=/tmp/shop
# The read-only root filesystem cannot take bytecode at run time: compile the standard
# library now where the base image ships it without (the official images strip *.pyc).
RUN python3 -c 'import compileall, pathlib, re, sysconfig; \
stdlib = pathlib.Path(sysconfig.get_paths()["stdlib"]); \
unused = re.compile(r"/(test|tests|idlelib|tkinter|turtledemo|lib2to3|pydoc_data|ensurepip|site-packages|dist-packages)/"); \
any(stdlib.glob("__pycache__/os.*.pyc")) or compileall.compile_dir(stdlib, quiet=1, workers=0, rx=unused)'
RUN groupadd --system --gid 10001 shop \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin shop
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
STOPSIGNAL SIGTERM

# Per service from here on: metadata only (and one empty layer).
ARG SERVICE=gateway
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
ARG SOURCE=""
# Build args are part of a RUN step's cache key: without this step, buildah's layer cache would
# hand every service the first one's ENV and LABELs (it keys them on the unexpanded text).
RUN test -n "${SERVICE}"
LABEL org.opencontainers.image.title="shop-${SERVICE}" \
      org.opencontainers.image.description="shop: the ${SERVICE} service (Litestar on uvicorn), a Knative Service" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      dev.shop.service="${SERVICE}"
ENV SHOP_SERVICE=${SERVICE}
# Exec form: the app is PID 1's only process and gets SIGTERM itself. It binds 0.0.0.0:$PORT.
ENTRYPOINT ["/opt/venv/bin/shop-serve"]
