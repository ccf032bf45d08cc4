# syntax=docker/dockerfile:1
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# podtap's container image, the one the Helm chart (helm/podtap) runs:
#
#   docker build -t ghcr.io/podtap/podtap:0.1.0 .
#   docker push ghcr.io/podtap/podtap:0.1.0
#
# (the tag is the chart's appVersion; see helm/podtap/README.md). Two
# stages: "build" compiles with Debian's toolchain exactly as `make` does on
# a developer's machine; the final image holds Debian slim, the shared
# libraries build/podtap links (and CA certificates for https OTLP
# endpoints), and the one binary: nothing from the build tree. The BPF
# object is embedded in the binary (bpftool's skeleton), and
# bpf/vmlinux/<arch>/vmlinux.h is committed, so the build does not read
# the build host's kernel: the image runs on any kernel with BTF.
# tests/e2e/image.bats checks what can be checked without a Docker engine.

ARG DEBIAN_RELEASE=bookworm

FROM debian:${DEBIAN_RELEASE}-slim AS build
# The Makefile's BUILD_PKGS.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev \
      libmicrohttpd-dev libprotobuf-c-dev protobuf-c-compiler \
      libcurl4-openssl-dev libjson-c-dev ca-certificates pkg-config gcc make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY bpf/ bpf/
COPY user/ user/
# No .git in the build context: the version comes from here
# (docker build --build-arg VERSION=0.1.0 .), else the Makefile's default.
ARG VERSION=
RUN make -j"$(nproc)" ${VERSION:+VERSION="$VERSION"} \
 && build/podtap --version

FROM debian:${DEBIAN_RELEASE}-slim
# What `ldd build/podtap` needs: the packages of the libraries podtap links
# directly (their own dependencies come with them), and ca-certificates for
# https OTLP endpoints (libcurl verifies against the system store).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libbpf1 libelf1 zlib1g libmicrohttpd12 libprotobuf-c1 libcurl4 \
      libjson-c5 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/podtap /usr/local/bin/podtap
# Root in the container: the chart grants capabilities to uid 0 only (see
# helm/podtap/README.md, "Capabilities").
USER 0
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/podtap"]
LABEL org.opencontainers.image.title="podtap" \
      org.opencontainers.image.description="eBPF HTTP observability agent: per-pod Prometheus metrics and OpenTelemetry spans" \
      org.opencontainers.image.licenses="LGPL-2.1 OR BSD-2-Clause" \
      org.opencontainers.image.source="https://github.com/podtap/podtap"
