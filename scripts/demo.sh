#!/usr/bin/env bash
# The embedded demo (`make demo`): DuckDB warehouse, SQLite catalog, file destination; offline,
# no credentials. Builds everything, applies examples/quickstart with the local provider build,
# runs the activation twice around a known set of warehouse changes, and shows that the second
# run sent only those changes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=$ROOT/.demo
BIN=$ROOT/bin
VERSION=0.1.0

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# terraform >= 1.11 or OpenTofu, whichever is on PATH.
TF=""
if command -v terraform >/dev/null 2>&1; then TF=terraform
elif command -v tofu >/dev/null 2>&1; then TF=tofu
else
  cat >&2 <<'MSG'
make demo: neither `terraform` nor `tofu` is on PATH.
  Install Terraform >= 1.11 (https://developer.hashicorp.com/terraform/install) or OpenTofu >= 1.11,
  or build OpenTofu from the Go module proxy with `make tofu` (about 10 minutes; puts it in ./bin),
  then run `PATH=$PWD/bin:$PATH make demo`.
MSG
  exit 1
fi
unset TF_CLI_CONFIG_FILE TF_ACC_TERRAFORM_VERSION
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1

say "Building the provider, the runner and the demo tool"
mkdir -p "$BIN"
go build -o "$BIN/terraform-provider-dinmo" .
go build -o "$BIN/dinmo-runner" ./cmd/dinmo-runner
go build -o "$BIN/dinmo-demo" ./cmd/dinmo-demo

say "Preparing $DEMO (a fresh warehouse, catalog and output directory)"
rm -rf "$DEMO"
mkdir -p "$DEMO/work" "$DEMO/out"
for host in registry.terraform.io registry.opentofu.org; do
  dir="$DEMO/plugins/$host/dinmo/dinmo/$VERSION/linux_amd64"
  mkdir -p "$dir"
  cp "$BIN/terraform-provider-dinmo" "$dir/terraform-provider-dinmo_v$VERSION"
done
cp examples/quickstart/*.tf "$DEMO/work/"
export DINMO_CATALOG_URL="sqlite://$DEMO/catalog.db"
export DINMO_SECRET_KEY="demo-only-key-not-for-production"
export TF_VAR_warehouse_path="$DEMO/warehouse.duckdb" TF_VAR_output_dir="$DEMO/out"
"$BIN/dinmo-demo" seed --warehouse "$DEMO/warehouse.duckdb" --customers 5000 --seed 42

say "$TF init and apply examples/quickstart (local provider build, no registry)"
$TF -chdir="$DEMO/work" init -input=false -plugin-dir="$DEMO/plugins" >"$DEMO/init.log" 2>&1 || { cat "$DEMO/init.log"; exit 1; }
$TF -chdir="$DEMO/work" apply -input=false -auto-approve
ACT=$($TF -chdir="$DEMO/work" output -raw activation)

say "First run of $ACT (full: the destination receives every member)"
"$BIN/dinmo-runner" --log-level warn run "$ACT"
first=$(ls -t "$DEMO/out" | head -n1)

say "Changing the warehouse"
"$BIN/dinmo-demo" mutate --warehouse "$DEMO/warehouse.duckdb"

say "Second run of $ACT (delta: only what changed)"
"$BIN/dinmo-runner" --log-level warn run "$ACT"
second=$(ls -t "$DEMO/out" | head -n1)

say "Run history"
"$BIN/dinmo-runner" runs "$ACT"

n1=$(wc -l <"$DEMO/out/$first"); n2=$(wc -l <"$DEMO/out/$second")
echo
echo "First run wrote $n1 records to out/$first"
echo "Second run wrote $n2 records to out/$second:"
for op in insert update delete; do
  printf '  %-6s %s\n' "$op" "$(grep -c "\"op\":\"$op\"" "$DEMO/out/$second" || true)"
done

say "$TF plan right after apply (expect no changes)"
set +e
$TF -chdir="$DEMO/work" plan -input=false -detailed-exitcode >"$DEMO/plan.log" 2>&1
rc=$?
set -e
if [ $rc -eq 0 ]; then echo "No changes: the infrastructure matches the configuration."
else cat "$DEMO/plan.log"; echo "plan was not empty (exit $rc)" >&2; exit 1; fi

say "The full segment builder: examples/ecommerce on a second warehouse"
echo "Models with relationships and calculated fields; segments with related-model, aggregate,"
echo "relative-date and membership conditions (see examples/ecommerce/main.tf)."
"$BIN/dinmo-demo" seed --warehouse "$DEMO/ecommerce.duckdb" --customers 5000 --seed 42
mkdir -p "$DEMO/ecommerce"
cp examples/ecommerce/*.tf "$DEMO/ecommerce/"
$TF -chdir="$DEMO/ecommerce" init -input=false -plugin-dir="$DEMO/plugins" >"$DEMO/ecommerce-init.log" 2>&1 || { cat "$DEMO/ecommerce-init.log"; exit 1; }
TF_VAR_warehouse_path="$DEMO/ecommerce.duckdb" $TF -chdir="$DEMO/ecommerce" apply -no-color -input=false -auto-approve >"$DEMO/ecommerce-apply.log" 2>&1 || { cat "$DEMO/ecommerce-apply.log"; exit 1; }
grep -E '^Apply complete' "$DEMO/ecommerce-apply.log"
echo
if TF_VAR_warehouse_path="$DEMO/ecommerce.duckdb" $TF -chdir="$DEMO/ecommerce" plan -input=false -detailed-exitcode >"$DEMO/ecommerce-plan.log" 2>&1; then
  echo "terraform plan after apply: no changes"
else cat "$DEMO/ecommerce-plan.log"; echo "ecommerce plan was not empty" >&2; exit 1; fi
echo "The SQL each segment compiles to is in its compiled_sql attribute, e.g.:"
echo "  $TF -chdir=$DEMO/ecommerce state show dinmo_segment.loyal_shoe_buyers"
echo
"$BIN/dinmo-runner" stats ecommerce/loyal_shoe_buyers
"$BIN/dinmo-runner" breakdown ecommerce/loyal_shoe_buyers --by country
"$BIN/dinmo-runner" overlap ecommerce/subscribed_europe ecommerce/loyal_shoe_buyers

say "A model kept as a table, and the runner's scheduled tasks"
echo "web_events is materialised as a table (dinmo_segments.mat_web_events) that \`dinmo-runner serve\`"
echo "refreshes every hour; each source's stats (segment sizes, primary key re-check) run daily."
echo "Both run on demand too, and every run is in the task history:"
"$BIN/dinmo-runner" refresh ecommerce/web_events 2>"$DEMO/refresh.log" || { cat "$DEMO/refresh.log"; exit 1; }
"$BIN/dinmo-runner" stats ecommerce >"$DEMO/stats.log" 2>&1 || { cat "$DEMO/stats.log"; exit 1; }
"$BIN/dinmo-runner" tasks ecommerce

cat <<EOF

Where to look:
  files sent         $DEMO/out/
  run history        DINMO_CATALOG_URL=$DINMO_CATALOG_URL bin/dinmo-runner runs $ACT
  task history       DINMO_CATALOG_URL=$DINMO_CATALOG_URL bin/dinmo-runner tasks ecommerce
  warehouse          $DEMO/warehouse.duckdb  (views in schema dinmo_segments, snapshots in dinmo_delta_storage)
  catalog            $DEMO/catalog.db  (SQLite: objects, runs, audit_log)
  terraform          $DEMO/work (quickstart), $DEMO/ecommerce (model graph and segment builder)
EOF
