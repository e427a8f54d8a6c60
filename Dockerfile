# syntax=docker/dockerfile:1
#
# shiplog's container image: one static binary on distroless, run as a
# numeric non-root user, its data directory a volume.
#
#   docker build -t shiplog \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#
# The image's revision label and the binary's `shiplog version` both carry
# REVISION: the source commit is readable from the registry (OCI labels) and
# from the running process alike (docs/provenance.md). deploy/deploy_test.go
# runs this file's `go build` instruction itself, so the two cannot drift.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS="$TARGETOS" GOARCH="$TARGETARCH" go build -trimpath \
      -ldflags "-s -w -X github.com/shiplog-dev/shiplog/internal/version.Version=${VERSION} -X github.com/shiplog-dev/shiplog/internal/version.Commit=${REVISION}" \
      -o /out/shiplog ./cmd/shiplog
# The data directory, owned by the runtime user (distroless has no shell to
# create it later).
RUN mkdir -p /out/var/lib/shiplog

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=
ARG SOURCE=https://github.com/shiplog-dev/shiplog
ARG CREATED=
# The repository declares no licence yet: NOASSERTION (SPDX) until it does.
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.title="shiplog" \
      org.opencontainers.image.description="Makes the GitOps delivery flow visible and measurable, from commit to live traffic" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="${LICENSES}"
COPY --from=build /out/shiplog /usr/local/bin/shiplog
COPY --from=build --chown=65532:65532 /out/var/lib/shiplog /var/lib/shiplog
# shiplog's default store is $XDG_DATA_HOME/shiplog/shiplog.db, so this makes
# it /var/lib/shiplog/shiplog.db for every command (serve, migrate, status)
# unless --db or the configuration file's db says otherwise.
ENV XDG_DATA_HOME=/var/lib
VOLUME /var/lib/shiplog
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["shiplog"]
# Reachable from other machines, so not without access control: API tokens
# (`shiplog token create`); a configuration file may choose oidc instead.
CMD ["serve", "--web.listen-address=:8080", "--auth.mode=token"]
