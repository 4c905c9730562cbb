// Command terraform-provider-dinmo serves the dinmo Terraform provider.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"dinmo/connectors/registry"
	"dinmo/provider"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version, registry.Default()), providerserver.ServeOpts{
		Address: "registry.terraform.io/dinmo/dinmo",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
