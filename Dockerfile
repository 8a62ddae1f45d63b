# syntax=docker/dockerfile:1
# Multi-stage build of the Go feature server: a static binary (pure-Go SQLite,
# no cgo) on a distroless base. Usage:
#   docker build -t feastgo/feature-server .
#   docker run -v "$PWD/feature_repo:/repo" -p 6566:6566 feastgo/feature-server
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/feature-server ./cmd/feature-server

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/feature-server /usr/local/bin/feature-server
WORKDIR /repo
EXPOSE 6566
ENTRYPOINT ["/usr/local/bin/feature-server"]
CMD ["-c", "/repo", "serve", "-h", "0.0.0.0", "-p", "6566"]
