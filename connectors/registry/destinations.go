package registry

import (
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/braze"
	"dinmo/connectors/destination/file"
	"dinmo/connectors/destination/hubspot"
	"dinmo/connectors/destination/meta"
	"dinmo/connectors/destination/webhook"
)

// Destinations returns every destination platform built into this binary, in a fixed order.
// Adding a platform means adding it here; there is no init() registration.
func Destinations() []destination.Platform {
	return []destination.Platform{
		braze.New(),
		file.New(),
		hubspot.New(),
		meta.New(),
		webhook.New(),
	}
}
