package destination

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"dinmo/connectors"
)

var testSpec = PlatformSpec{
	Platform: "demo",
	Settings: []connectors.ConfigField{
		{Name: "url", Type: connectors.FieldString, Required: true, Description: "Where to send. More prose."},
		{Name: "mode", Type: connectors.FieldString, Enum: []string{"a", "b"}, Default: "a"},
		{Name: "batch_size", Type: connectors.FieldInt, Default: int64(50), Min: 1, Max: 500},
		{Name: "verbose", Type: connectors.FieldBool, Default: false},
		{Name: "headers", Type: connectors.FieldStringMap},
		{Name: "tags", Type: connectors.FieldStringList},
	},
	Credentials: []connectors.ConfigField{
		{Name: "api_key", Type: connectors.FieldString, Required: true},
		{Name: "region", Type: connectors.FieldString, Enum: []string{"eu", "us"}},
	},
	Services: []ServiceSpec{{Name: "contacts", MaxBatchSize: 200, DefaultBatchSize: 20}},
}

func TestValidateSettings(t *testing.T) {
	okCreds := map[string]string{"api_key": "k-secret-value"}
	cases := []struct {
		name     string
		settings map[string]any
		creds    map[string]string
		want     []string // substrings; empty: valid
	}{
		{"minimal", map[string]any{"url": "https://x"}, okCreds, nil},
		{"go types", map[string]any{"url": "u", "batch_size": int64(5), "verbose": true,
			"headers": map[string]string{"a": "b"}, "tags": []string{"x"}}, okCreds, nil},
		{"JSON round trip types", map[string]any{"url": "u", "batch_size": float64(5), "headers": map[string]any{"a": "b"},
			"tags": []any{"x"}}, okCreds, nil},
		{"json.Number", map[string]any{"url": "u", "batch_size": json.Number("7")}, okCreds, nil},
		{"nil value counts as absent", map[string]any{"url": "u", "mode": nil}, okCreds, nil},
		{"everything wrong", map[string]any{"mode": "c", "batch_size": 1.5, "verbose": "yes", "headers": map[string]any{"a": 1},
			"tags": "x", "extra": 1}, map[string]string{"region": "mars", "token": "zzz-secret"},
			[]string{`setting "url" is required: Where to send.`, `value "c" is not allowed; use one of a, b`,
				`"batch_size": must be a whole number`, `"verbose": must be true or false`, `"headers": must be a map of strings`,
				`"tags": must be a list of strings`, `unknown setting "extra" (known settings: batch_size, headers, mode, tags, url, verbose)`,
				`credential "api_key" is required`, `credential "region": must be one of eu, us`, `unknown credential "token"`}},
		{"bounds", map[string]any{"url": "u", "batch_size": int64(0)}, okCreds, []string{"below the minimum 1"}},
		{"bounds max", map[string]any{"url": "u", "batch_size": 501}, okCreds, []string{"above the maximum 500"}},
		{"empty required string", map[string]any{"url": "  "}, okCreds, []string{`setting "url": must not be empty`}},
		{"empty credential is absent", map[string]any{"url": "u"}, map[string]string{"api_key": ""}, []string{`credential "api_key" is required`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateSettings(testSpec, tc.settings, tc.creds)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			if connectors.CategoryOf(err) != connectors.CategoryConfiguration || connectors.IsRetryable(err) {
				t.Errorf("category %s, retryable %v", connectors.CategoryOf(err), connectors.IsRetryable(err))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			for _, v := range tc.creds {
				if v != "" && strings.Contains(err.Error(), v) {
					t.Errorf("error leaks a credential value: %v", err)
				}
			}
		})
	}
}

func TestApplyDefaults(t *testing.T) {
	in := map[string]any{"url": "u", "mode": nil}
	got := ApplyDefaults(testSpec.Settings, in)
	if got["mode"] != "a" || got["batch_size"] != int64(50) || got["verbose"] != false || got["url"] != "u" {
		t.Errorf("ApplyDefaults = %v", got)
	}
	if _, ok := got["headers"]; ok {
		t.Errorf("a field without default was added")
	}
	if in["mode"] != nil || len(in) != 2 {
		t.Errorf("input modified: %v", in)
	}
}

func TestSettingHelpers(t *testing.T) {
	s := map[string]any{
		"s": "v", "i64": int64(3), "f": float64(4), "frac": 4.5, "num": json.Number("5"), "int": 6,
		"b": true, "m": map[string]any{"a": "b"}, "ms": map[string]string{"c": "d"}, "bad": map[string]any{"a": 1},
		"l": []any{"x", "y"}, "ls": []string{"z"},
	}
	if SettingString(s, "s", "d") != "v" || SettingString(s, "i64", "d") != "d" || SettingString(s, "nope", "d") != "d" {
		t.Error("SettingString")
	}
	for name, want := range map[string]int64{"i64": 3, "f": 4, "num": 5, "int": 6, "frac": 9, "s": 9, "nope": 9} {
		if got := SettingInt(s, name, 9); got != want {
			t.Errorf("SettingInt(%s) = %d, want %d", name, got, want)
		}
	}
	if !SettingBool(s, "b", false) || SettingBool(s, "s", false) {
		t.Error("SettingBool")
	}
	if m := SettingStringMap(s, "m"); m["a"] != "b" {
		t.Errorf("SettingStringMap(m) = %v", m)
	}
	if m := SettingStringMap(s, "ms"); m["c"] != "d" {
		t.Errorf("SettingStringMap(ms) = %v", m)
	}
	if m := SettingStringMap(s, "bad"); m != nil {
		t.Errorf("SettingStringMap(bad) = %v", m)
	}
	if l := SettingStringList(s, "l"); strings.Join(l, ",") != "x,y" {
		t.Errorf("SettingStringList(l) = %v", l)
	}
	if l := SettingStringList(s, "ls"); strings.Join(l, ",") != "z" {
		t.Errorf("SettingStringList(ls) = %v", l)
	}
}

func TestBatchSize(t *testing.T) {
	svc := testSpec.Services[0]
	cases := []struct {
		settings map[string]any
		want     int
	}{
		{nil, 20},
		{map[string]any{"batch_size": int64(150)}, 150},
		{map[string]any{"batch_size": float64(150)}, 150},
		{map[string]any{"batch_size": int64(5000)}, 200},
		{map[string]any{"batch_size": int64(0)}, 20},
		{map[string]any{"batch_size": "big"}, 20},
	}
	for _, tc := range cases {
		if got := BatchSize(svc, tc.settings); got != tc.want {
			t.Errorf("BatchSize(%v) = %d, want %d", tc.settings, got, tc.want)
		}
	}
}

func TestJSONValue(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 3600))
	in := map[string]any{"t": at, "p": &at, "nilp": (*time.Time)(nil), "m": map[string]any{"l": []any{at, 1}}, "s": "x"}
	out := JSONFields(in)
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"m":{"l":["2025-01-02T02:04:05.0000006Z",1]},"nilp":null,"p":"2025-01-02T02:04:05.0000006Z","s":"x","t":"2025-01-02T02:04:05.0000006Z"}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant   %s", b, want)
	}
	if _, ok := in["m"].(map[string]any)["l"].([]any)[0].(time.Time); !ok {
		t.Error("input modified")
	}
	if f := JSONFields(nil); f == nil || len(f) != 0 {
		t.Errorf("JSONFields(nil) = %#v", f)
	}
}
