# truthgate's container image: the webhook (`truthgate serve`) and the PostSync verifier
# (`truthgate verify`) from one image.
#
#   docker build -t truthgate:dev .
#
# Three stages: `build` builds truthgate's wheel and installs it with its dependencies into a
# virtualenv; `extension` builds the Argo CD UI extension's bundle from its lockfile
# (`npm ci && npm run build` in argocd/extension); the final stage copies only that
# virtualenv, the Rego policies and the bundle (/opt/truthgate/extension/extension-truthgate.js)
# onto a clean python slim base, so no compiler, node, pip or npm cache or source tree ships.
# It runs as a numeric non-root user and writes nothing outside /tmp and the ledger volume, so it runs with
# readOnlyRootFilesystem.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/truthgate/venv
COPY pyproject.toml README.md requirements.lock ./
COPY webhooks ./webhooks
COPY policies ./policies
# The TruthCheck CRD is the schema truthgate validates specs against (<venv>/share/truthgate/crds).
COPY charts/truthgate/crds ./charts/truthgate/crds
# Every dependency ships binary wheels for this platform; pip fails rather than compile. The
# versions are the lock's (requirements.lock), the same ones CI tested.
RUN /opt/truthgate/venv/bin/pip wheel --only-binary=:all: --no-binary=truthgate \
        -c requirements.lock --wheel-dir /wheels . \
 && /opt/truthgate/venv/bin/pip install --no-index --find-links /wheels truthgate \
 && /opt/truthgate/venv/bin/pip uninstall -y pip setuptools \
 # Byte-compile now: at run time the root filesystem is read-only.
 && /opt/truthgate/venv/bin/python -m compileall -q /opt/truthgate/venv/lib

FROM ${NODE_IMAGE} AS extension
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
WORKDIR /src
# The lockfile first, so the dependency layer is reused while only the sources change.
COPY argocd/extension/package.json argocd/extension/package-lock.json ./
RUN npm ci
COPY argocd/extension/build.mjs ./
COPY argocd/extension/src ./src
# Writes dist/extension-truthgate.js, the bundle argocd-server loads.
RUN npm run build

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="truthgate" \
      org.opencontainers.image.description="Admission intent ledger and post-sync verification above Argo CD" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/truthgate/venv /opt/truthgate/venv
# The wheel carries the policies too (<venv>/share/truthgate/policies); this copy is the stable
# path users and the chart point --policies at, and TRUTHGATE_POLICY_ROOT makes it the default.
COPY policies /opt/truthgate/policies
# The Argo CD UI extension's bundle at a stable path, so the extension installer's tarball can
# be made from the image you deploy (docs/install.md); the release tarball itself is
# `npm run package` (docs/releasing.md). Only the bundle: no node, npm or node_modules.
COPY --from=extension /src/dist/extension-truthgate.js /opt/truthgate/extension/extension-truthgate.js
# The ledger volume's mount point, owned by the runtime user (the chart also sets fsGroup).
RUN mkdir -p /var/lib/truthgate && chown 65532:65532 /var/lib/truthgate
ENV PATH=/opt/truthgate/venv/bin:$PATH \
    TRUTHGATE_POLICY_ROOT=/opt/truthgate/policies \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp
# Writable only through the data volume: `truthgate serve`'s default ledger (truthgate.db)
# lands there.
USER 65532:65532
WORKDIR /var/lib/truthgate
EXPOSE 8443
ENTRYPOINT ["truthgate"]
CMD ["--help"]
