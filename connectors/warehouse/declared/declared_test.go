package declared

import (
	"context"
	"strings"
	"testing"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

func TestDeclaredEngines(t *testing.T) {
	want := map[warehouse.Engine][]string{
		warehouse.Redshift:   {"host", "port", "database", "user", "password"},
		warehouse.Snowflake:  {"account", "user", "role", "warehouse", "database", "private_key", "password"},
		warehouse.BigQuery:   {"project_id", "location", "service_account_json"},
		warehouse.Databricks: {"host", "http_path", "catalog", "token"},
	}
	all := All()
	if len(all) != len(want) {
		t.Fatalf("All() has %d engines, want %d", len(all), len(want))
	}
	for _, c := range all {
		s := c.Spec()
		fields, ok := want[s.Engine]
		if !ok {
			t.Errorf("unexpected engine %q", s.Engine)
			continue
		}
		if s.Available {
			t.Errorf("%s: Available = true", s.Engine)
		}
		if s.DisplayName == "" {
			t.Errorf("%s: no display name", s.Engine)
		}
		all := append(append([]connectors.ConfigField{}, s.Settings...), s.Credentials...)
		if err := connectors.ValidateFields(all); err != nil {
			t.Errorf("%s: %v", s.Engine, err)
		}
		names := map[string]bool{}
		for _, f := range all {
			names[f.Name] = true
			if f.Description == "" {
				t.Errorf("%s.%s: no description", s.Engine, f.Name)
			}
		}
		for _, f := range fields {
			if !names[f] {
				t.Errorf("%s: no field %q", s.Engine, f)
			}
		}
		for _, f := range s.Settings {
			for _, secret := range []string{"password", "token", "private_key", "service_account_json"} {
				if f.Name == secret {
					t.Errorf("%s: secret %q declared as a setting", s.Engine, f.Name)
				}
			}
		}

		w, err := c.Open(context.Background(), warehouse.Config{}, nil)
		if w != nil || err == nil {
			t.Fatalf("%s: Open returned %v, %v", s.Engine, w, err)
		}
		if connectors.CategoryOf(err) != connectors.CategoryConfiguration || connectors.IsRetryable(err) {
			t.Errorf("%s: category %s retryable %v", s.Engine, connectors.CategoryOf(err), connectors.IsRetryable(err))
		}
		if !strings.Contains(err.Error(), string(s.Engine)) || !strings.Contains(err.Error(), "use postgres or duckdb") {
			t.Errorf("%s: error %q", s.Engine, err)
		}
	}
}
