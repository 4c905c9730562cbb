package bigquery

import (
	"context"
	"strings"
	"testing"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

func TestSpec(t *testing.T) {
	s := New().Spec()
	if s.Engine != warehouse.BigQuery {
		t.Errorf("Engine = %q, want %q", s.Engine, warehouse.BigQuery)
	}
	if s.Available {
		t.Error("Available = true, want false: no driver is built in")
	}
	if s.DisplayName == "" {
		t.Error("no display name")
	}
	all := append(append([]connectors.ConfigField{}, s.Settings...), s.Credentials...)
	if err := connectors.ValidateFields(all); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range all {
		names[f.Name] = true
		if f.Description == "" {
			t.Errorf("field %q has no description", f.Name)
		}
	}
	for _, want := range []string{SettingProjectID, SettingInternalProjectID, SettingLocation,
		SettingMaximumBytesBilled, CredentialServiceAccount} {
		if !names[want] {
			t.Errorf("no field %q", want)
		}
	}
	for _, f := range s.Settings {
		if f.Name == CredentialServiceAccount {
			t.Errorf("secret %q declared as a setting", f.Name)
		}
	}
}

func TestOpenIsUnavailable(t *testing.T) {
	w, err := New().Open(context.Background(), warehouse.Config{}, nil)
	if w != nil || err == nil {
		t.Fatalf("Open = %v, %v; want nil and an error", w, err)
	}
	if got := connectors.CategoryOf(err); got != connectors.CategoryConfiguration {
		t.Errorf("category = %s, want %s", got, connectors.CategoryConfiguration)
	}
	if connectors.IsRetryable(err) {
		t.Error("error is retryable, want permanent")
	}
	for _, want := range []string{`"bigquery"`, "declared but not available in this build yet", "use postgres or duckdb"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
