// Command dinmo-runner executes dinmo activations: it schedules them (serve), runs one in the
// foreground (run) and shows their history (runs, activations). See runner/cli.
package main

import (
	"os"

	"dinmo/runner/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
