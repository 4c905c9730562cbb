package registry

import (
	"context"
	"strings"
	"testing"

	"dinmo/connectors"
	"dinmo/connectors/destination"
)

// stubPlatform is a platform that only declares a spec.
type stubPlatform struct{ spec destination.PlatformSpec }

func (p stubPlatform) Spec() destination.PlatformSpec { return p.spec }

func (stubPlatform) Check(context.Context, destination.OpenParams) error { return nil }

func (stubPlatform) Open(context.Context, destination.OpenParams) (destination.Destination, error) {
	return nil, nil
}

func TestNewValidatesIdentifierOption(t *testing.T) {
	service := func(identifierOption string, options ...connectors.ConfigField) destination.PlatformSpec {
		return destination.PlatformSpec{Platform: "stub", Services: []destination.ServiceSpec{{
			Name: "objects", RunTypes: []destination.RunType{destination.RunDelta}, SyncModes: []destination.SyncMode{destination.ModeUpsert},
			MaxBatchSize: 10, DefaultBatchSize: 10, Options: options, IdentifierOption: identifierOption,
		}}}
	}
	tests := []struct {
		name    string
		spec    destination.PlatformSpec
		wantErr string
	}{
		{"none", service(""), ""},
		{"string option", service("id_property", connectors.ConfigField{Name: "id_property", Type: connectors.FieldString}), ""},
		{"undeclared", service("id_property"), `identifier option "id_property" is not one of the service's options`},
		{"not a string", service("id_property", connectors.ConfigField{Name: "id_property", Type: connectors.FieldInt}), "must be a string option"},
	}
	for _, tt := range tests {
		_, err := New(nil, []destination.Platform{stubPlatform{tt.spec}})
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
}
