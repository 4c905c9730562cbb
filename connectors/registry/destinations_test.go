package registry

import (
	"testing"
)

func TestDestinationsAreValidAndUnique(t *testing.T) {
	r, err := New(nil, Destinations())
	if err != nil {
		t.Fatalf("built-in destinations: %v", err)
	}
	for _, name := range []string{"braze", "file", "hubspot", "meta", "webhook"} {
		d, ok := r.Destination(name)
		if !ok {
			t.Errorf("platform %q is not registered", name)
			continue
		}
		if d.Spec().Platform != name {
			t.Errorf("platform %q reports name %q", name, d.Spec().Platform)
		}
	}
	if n := len(r.DestinationSpecs()); n != len(Destinations()) {
		t.Errorf("%d specs for %d platforms", n, len(Destinations()))
	}
}
