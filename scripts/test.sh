#!/usr/bin/env bash
# `make test`: vet, lint, docs check, then the whole Go test suite with the provider acceptance
# tests enabled (TF_ACC=1) against the installed terraform (or tofu) binary, never a download.
# PostgreSQL tests start their own throwaway cluster (internal/pgtest) unless TEST_PG_DSN is set.
# Prints a summary and fails if any acceptance test was skipped.
#   --no-lint   skip golangci-lint and the docs check (used by `make testacc`)
#   TESTS=...   packages to test (default ./...)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LINT=1
[ "${1:-}" = "--no-lint" ] && LINT=0
TESTS=${TESTS:-./...}

unset TF_ACC_TERRAFORM_VERSION   # would force a download
unset TF_CLI_CONFIG_FILE         # a missing file breaks tofu's version parsing
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_ACC=1

if [ -z "${TF_ACC_TERRAFORM_PATH:-}" ]; then
  if command -v terraform >/dev/null 2>&1; then
    TF_ACC_TERRAFORM_PATH=$(command -v terraform)
  elif command -v tofu >/dev/null 2>&1 || [ -x "$ROOT/bin/tofu" ]; then
    TF_ACC_TERRAFORM_PATH=$(command -v tofu || echo "$ROOT/bin/tofu")
  else
    echo "make test: neither terraform nor tofu found; install Terraform >= 1.11, or run 'make tofu' (builds OpenTofu into ./bin)" >&2
    exit 1
  fi
fi
export TF_ACC_TERRAFORM_PATH
case "$(basename "$TF_ACC_TERRAFORM_PATH")" in
  tofu*) export TF_ACC_PROVIDER_HOST=registry.opentofu.org TF_ACC_PROVIDER_NAMESPACE=hashicorp ;;
esac
# tfplugindocs runs terraform from PATH.
PATH="$(dirname "$TF_ACC_TERRAFORM_PATH"):$ROOT/bin:$PATH"
echo "terraform for acceptance tests: $TF_ACC_TERRAFORM_PATH ($("$TF_ACC_TERRAFORM_PATH" version | head -n1))"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1 && [ -z "${TEST_PG_DSN:-}" ]; then
  echo "make test: PostgreSQL server binaries not found (apt-get install postgresql) and TEST_PG_DSN unset" >&2
  exit 1
fi

echo "==> go vet"
go vet ./...
if [ $LINT = 1 ]; then
  echo "==> golangci-lint"
  make --no-print-directory lint
  echo "==> docs check"
  make --no-print-directory docs-check
fi

echo "==> go test -race (TF_ACC=1)"
log=$(mktemp /tmp/dinmo-test.XXXXXX.log)
set +e
go test -race -count=1 -timeout 40m -v $TESTS 2>&1 | tee "$log" | grep -vE '^=== (RUN|PAUSE|CONT|NAME)'
rc=${PIPESTATUS[0]}
set -e
passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
acc=$(grep -cE '^\s*--- PASS: TestAcc' "$log" || true)
accskip=$(grep -E '^\s*--- SKIP: TestAcc' "$log" || true)
echo
echo "acceptance tests passed: $acc"
if [ -n "$accskip" ]; then
  echo "acceptance tests were skipped (they must run):" >&2
  echo "$accskip" >&2
  rc=1
fi
if [ "$acc" -eq 0 ] && [[ "$TESTS" == ./... || "$TESTS" == ./provider/... ]]; then
  echo "no acceptance test ran" >&2
  rc=1
fi
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests:"; grep -E '^\s*--- SKIP' "$log" || true
fi
echo "$passed passed, $failed failed, $skipped skipped"
rm -f "$log"
exit $rc
