package fields

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"dinmo/connectors"
)

func TestParseText(t *testing.T) {
	str := connectors.ConfigField{Name: "name", Type: connectors.FieldString}
	req := connectors.ConfigField{Name: "group", Type: connectors.FieldString, Required: true}
	enum := connectors.ConfigField{Name: "kind", Type: connectors.FieldString, Enum: []string{"custom", "purchase"}}
	num := connectors.ConfigField{Name: "size", Type: connectors.FieldInt, Min: 1, Max: 100}
	free := connectors.ConfigField{Name: "offset", Type: connectors.FieldInt}
	flag := connectors.ConfigField{Name: "only", Type: connectors.FieldBool}
	m := connectors.ConfigField{Name: "headers", Type: connectors.FieldStringMap}
	l := connectors.ConfigField{Name: "ids", Type: connectors.FieldStringList}
	tests := []struct {
		f       connectors.ConfigField
		text    string
		want    any
		wantErr string
	}{
		{str, "  spaced  ", "  spaced  ", ""},
		{str, "", "", ""},
		{req, " ", nil, "must not be empty"},
		{enum, "purchase", "purchase", ""},
		{enum, "refund", nil, `"refund" is not allowed; use one of custom, purchase`},
		{num, "42", int64(42), ""},
		{num, " 7 ", int64(7), ""},
		{num, "0", nil, "0 is below the minimum 1"},
		{num, "101", nil, "101 is above the maximum 100"},
		{num, "4.5", nil, `"4.5" is not a whole number`},
		{num, "ten", nil, `"ten" is not a whole number`},
		{free, "-3", int64(-3), ""},
		{flag, "true", true, ""},
		{flag, "FALSE", false, ""},
		{flag, "1", true, ""},
		{flag, "maybe", nil, `"maybe" is not a boolean`},
		{m, `{"a":"b"}`, map[string]string{"a": "b"}, ""},
		{m, `{"a":1}`, nil, "JSON object of strings"},
		{m, `null`, nil, "JSON object of strings"},
		{l, `["x","y"]`, []string{"x", "y"}, ""},
		{l, `x,y`, nil, "JSON list of strings"},
	}
	for _, tt := range tests {
		got, err := ParseText(tt.f, tt.text)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseText(%s, %q) error %v, want %q", tt.f.Name, tt.text, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseText(%s, %q) = %#v, %v; want %#v", tt.f.Name, tt.text, got, err, tt.want)
		}
	}
}

func TestFormatAndSameText(t *testing.T) {
	tests := []struct {
		v         any
		canonical string
		same      []string
		different []string
	}{
		{"Purchase", "Purchase", nil, []string{"purchase", " Purchase"}},
		{true, "true", []string{"TRUE", "1", "t"}, []string{"false", "yes"}},
		{false, "false", []string{"0", "False"}, []string{"true", ""}},
		{int64(10), "10", []string{"010", " 10", "+10"}, []string{"10.0", "11"}},
		{float64(10), "10", []string{"10"}, []string{"9"}}, // a catalog round trip
		{json.Number("5"), "5", []string{"05"}, nil},
		{map[string]any{"b": "2", "a": "1"}, `{"a":"1","b":"2"}`, []string{`{ "b": "2", "a": "1" }`}, []string{`{"a":"1"}`}},
		{[]any{"x", "y"}, `["x","y"]`, []string{`[ "x", "y" ]`}, []string{`["y","x"]`}},
	}
	for _, tt := range tests {
		got, err := FormatText(tt.v)
		if err != nil || got != tt.canonical {
			t.Errorf("FormatText(%#v) = %q, %v; want %q", tt.v, got, err, tt.canonical)
		}
		for _, s := range append([]string{tt.canonical}, tt.same...) {
			if !SameText(s, tt.v) {
				t.Errorf("SameText(%q, %#v) = false, want true", s, tt.v)
			}
		}
		for _, s := range tt.different {
			if SameText(s, tt.v) {
				t.Errorf("SameText(%q, %#v) = true, want false", s, tt.v)
			}
		}
	}
	if _, err := FormatText(1.5); err == nil {
		t.Error("FormatText(1.5): no error")
	}
	if _, err := FormatText(nil); err == nil {
		t.Error("FormatText(nil): no error")
	}
}

func TestFormatDefault(t *testing.T) {
	for _, tt := range []struct {
		f    connectors.ConfigField
		want string
	}{
		{connectors.ConfigField{Type: connectors.FieldString}, ""},
		{connectors.ConfigField{Type: connectors.FieldString, Default: "custom"}, "custom"},
		{connectors.ConfigField{Type: connectors.FieldInt, Default: int64(50)}, "50"},
		{connectors.ConfigField{Type: connectors.FieldBool, Default: false}, "false"},
		{connectors.ConfigField{Type: connectors.FieldStringList, Default: []string{"a"}}, `["a"]`},
	} {
		if got := FormatDefault(tt.f); got != tt.want {
			t.Errorf("FormatDefault(%#v) = %q, want %q", tt.f.Default, got, tt.want)
		}
	}
}
