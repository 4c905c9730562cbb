#!/usr/bin/env bash
# Builds OpenTofu from the Go module proxy into ./bin/tofu, for machines with neither terraform
# nor tofu (HashiCorp's download hosts may be unreachable; Debian has no terraform package).
# `go install` refuses OpenTofu because its go.mod has replace directives, so this builds it
# from a scratch module that copies them. Takes about 10 minutes and 2 GB of RAM on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOFU_VERSION=${TOFU_VERSION:-v1.12.6}
if [ -x "$ROOT/bin/tofu" ]; then echo "bin/tofu already built"; exit 0; fi
work=$(mktemp -d /tmp/tofu-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init tofubuild >/dev/null 2>&1
go get "github.com/opentofu/opentofu@$TOFU_VERSION"
gomod=$(go mod download -json "github.com/opentofu/opentofu@$TOFU_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
# Copy OpenTofu's own replace directives (hcl/v2 => opentofu/hcl/v2, ...).
grep -E '^replace |^\s+[^ ]+ (v[^ ]+ )?=> ' "$gomod" | sed 's/^\s*/replace /; s/^replace replace /replace /' | grep -v '^replace ($' >>go.mod || true
go mod tidy
mkdir -p "$ROOT/bin"
go build -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o "$ROOT/bin/tofu" github.com/opentofu/opentofu/cmd/tofu
"$ROOT/bin/tofu" version
