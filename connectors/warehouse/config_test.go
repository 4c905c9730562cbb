package warehouse_test

import (
	"encoding/json"
	"strings"
	"testing"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

var testSpec = warehouse.Spec{
	Engine: "test",
	Settings: []connectors.ConfigField{
		{Name: "host", Type: connectors.FieldString, Required: true},
		{Name: "port", Type: connectors.FieldInt, Default: int64(5432), Min: 1, Max: 65535},
		{Name: "mode", Type: connectors.FieldString, Default: "b", Enum: []string{"a", "b"}},
		{Name: "flag", Type: connectors.FieldBool, Default: false},
		{Name: "limit", Type: connectors.FieldInt, Min: 1},
	},
	Credentials: []connectors.ConfigField{
		{Name: "password", Type: connectors.FieldString},
		{Name: "token", Type: connectors.FieldString, Required: true},
	},
}

func TestConfigReaderDefaultsAndTypes(t *testing.T) {
	cfg := warehouse.Config{
		Settings:    map[string]any{"host": "db", "port": float64(6543), "flag": "true", "limit": json.Number("7")},
		Credentials: map[string]string{"token": "s3cret"},
	}
	r := warehouse.NewConfigReader(testSpec, cfg)
	if got := r.String("host"); got != "db" {
		t.Errorf("host = %q", got)
	}
	if got := r.Int("port"); got != 6543 {
		t.Errorf("port = %d", got)
	}
	if got := r.String("mode"); got != "b" {
		t.Errorf("mode default = %q", got)
	}
	if !r.Bool("flag") {
		t.Error("flag = false, want true")
	}
	if got := r.Int("limit"); got != 7 {
		t.Errorf("limit = %d", got)
	}
	if got := r.Credential("token"); got != "s3cret" {
		t.Errorf("token = %q", got)
	}
	if got := r.Credential("password"); got != "" {
		t.Errorf("password = %q", got)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
}

func TestConfigReaderErrors(t *testing.T) {
	cfg := warehouse.Config{
		Settings:    map[string]any{"port": 70000.0, "mode": "c", "flag": "maybe", "limit": 1.5},
		Credentials: map[string]string{"password": "hunter2-secret"},
	}
	r := warehouse.NewConfigReader(testSpec, cfg)
	r.String("host")
	r.Int("port")
	r.String("mode")
	r.Bool("flag")
	r.Int("limit")
	r.Credential("password")
	r.Credential("token")
	err := r.Err()
	if err == nil {
		t.Fatal("Err = nil, want errors")
	}
	if connectors.CategoryOf(err) != connectors.CategoryConfiguration || connectors.IsRetryable(err) {
		t.Errorf("error category = %s retryable=%v, want permanent configuration", connectors.CategoryOf(err), connectors.IsRetryable(err))
	}
	msg := err.Error()
	for _, want := range []string{`"host" is required`, `"port" must be between 1 and 65535`, `"mode" must be one of a, b`,
		`"flag" must be true or false`, `"limit" must be an integer`, `credential "token" is required`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error leaks a credential: %q", msg)
	}
}
