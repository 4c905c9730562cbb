// Command dinmo-demo prepares the embedded demo: it seeds a DuckDB warehouse with a generated
// e-commerce dataset (deterministic seed) and applies a known set of changes between two runs,
// so `make demo` can show that the second run sends only what changed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"dinmo/internal/demodata"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: dinmo-demo seed|mutate --warehouse PATH [--customers N] [--seed N]")
		return 2
	}
	fs := flag.NewFlagSet("dinmo-demo "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("warehouse", "", "path of the DuckDB warehouse file")
	customers := fs.Int("customers", 5000, "number of customers to generate (seed)")
	seed := fs.Uint64("seed", 42, "random seed (seed)")
	segmentView := fs.String("segment-view", "segment_loyal_subscribers", "view of dinmo_segments whose members the changes target (mutate)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "dinmo-demo: --warehouse is required")
		return 2
	}
	ctx := context.Background()
	switch args[0] {
	case "seed":
		st, err := demodata.Seed(ctx, *path, *customers, *seed)
		if err != nil {
			fmt.Fprintln(stderr, "dinmo-demo seed:", err)
			return 1
		}
		fmt.Fprintf(stdout, "seeded %s: %d customers, %d orders (seed %d)\n", *path, st.Customers, st.Orders, *seed)
	case "mutate":
		ch, err := demodata.Mutate(ctx, *path, *segmentView)
		if err != nil {
			fmt.Fprintln(stderr, "dinmo-demo mutate:", err)
			return 1
		}
		fmt.Fprintf(stdout, "changed the warehouse: %d new qualifying customers, %d members moved city, %d members unsubscribed, %d members deleted, %d non-members renamed (not mapped)\n",
			ch.Inserted, ch.Updated, ch.Unsubscribed, ch.Deleted, ch.Untouched)
		fmt.Fprintf(stdout, "expected on the next delta run: %d added, %d changed, %d removed\n", ch.Inserted, ch.Updated, ch.Unsubscribed+ch.Deleted)
	default:
		fmt.Fprintf(stderr, "dinmo-demo: unknown command %q (want seed or mutate)\n", args[0])
		return 2
	}
	return 0
}
