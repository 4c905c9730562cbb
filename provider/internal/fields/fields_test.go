package fields

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"dinmo/connectors"
)

var testFields = []connectors.ConfigField{
	{Name: "host", Type: connectors.FieldString, Required: true, Description: "Host name"},
	{Name: "port", Type: connectors.FieldInt, Default: int64(5432), Min: 1, Max: 65535},
	{Name: "sslmode", Type: connectors.FieldString, Enum: []string{"disable", "require"}},
	{Name: "read_only", Type: connectors.FieldBool},
	{Name: "headers", Type: connectors.FieldStringMap},
	{Name: "scopes", Type: connectors.FieldStringList},
}

func TestAttributes(t *testing.T) {
	attrs := Attributes(testFields)
	if len(attrs) != len(testFields) {
		t.Fatalf("got %d attributes, want %d", len(attrs), len(testFields))
	}
	host, ok := attrs["host"].(schema.StringAttribute)
	if !ok || !host.Required || host.Optional {
		t.Errorf("host: got %#v, want a required string", attrs["host"])
	}
	port, ok := attrs["port"].(schema.Int64Attribute)
	if !ok || port.Required || !port.Optional || len(port.Validators) != 1 || port.Default != nil {
		t.Errorf("port: got %#v, want an optional int64 with one validator and no schema default", attrs["port"])
	}
	if !strings.Contains(port.MarkdownDescription, "Between 1 and 65535") || !strings.Contains(port.MarkdownDescription, "`5432`") {
		t.Errorf("port description %q lacks bounds or default", port.MarkdownDescription)
	}
	ssl, ok := attrs["sslmode"].(schema.StringAttribute)
	if !ok || len(ssl.Validators) != 1 || !strings.Contains(ssl.MarkdownDescription, "`disable`") {
		t.Errorf("sslmode: got %#v, want an enum validator and documented values", attrs["sslmode"])
	}
	if _, ok := attrs["read_only"].(schema.BoolAttribute); !ok {
		t.Errorf("read_only: got %T", attrs["read_only"])
	}
	if m, ok := attrs["headers"].(schema.MapAttribute); !ok || m.ElementType != types.StringType {
		t.Errorf("headers: got %#v", attrs["headers"])
	}
	if l, ok := attrs["scopes"].(schema.ListAttribute); !ok || l.ElementType != types.StringType {
		t.Errorf("scopes: got %#v", attrs["scopes"])
	}
	for name, a := range attrs {
		if !reflect.DeepEqual(a.GetType(), AttrType(mustFind(t, name))) {
			t.Errorf("%s: schema type %v differs from AttrType %v", name, a.GetType(), AttrType(mustFind(t, name)))
		}
	}
}

func mustFind(t *testing.T, name string) connectors.ConfigField {
	t.Helper()
	f, ok := Find(testFields, name)
	if !ok {
		t.Fatalf("field %q not found", name)
	}
	return f
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	in := map[string]any{
		"host":      "db.example.com",
		"port":      int64(6543),
		"read_only": true,
		"headers":   map[string]string{"X-A": "1"},
		"scopes":    []string{"a", "b"},
	}
	obj, d := ToObject(testFields, in)
	if d.HasError() {
		t.Fatalf("ToObject: %v", d)
	}
	if !obj.Attributes()["sslmode"].IsNull() {
		t.Errorf("sslmode absent from settings must be null, got %v", obj.Attributes()["sslmode"])
	}
	out, d := FromObject(ctx, testFields, obj)
	if d.HasError() {
		t.Fatalf("FromObject: %v", d)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip: got %#v, want %#v", out, in)
	}

	// The same settings after a JSON round trip (what a catalog gives back) give the same object.
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var decoded map[string]any
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	obj2, d := ToObject(testFields, decoded)
	if d.HasError() {
		t.Fatalf("ToObject(JSON): %v", d)
	}
	if !obj2.Equal(obj) {
		t.Errorf("JSON-decoded settings give %v, want %v", obj2, obj)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var numbers map[string]any
	if err := dec.Decode(&numbers); err != nil {
		t.Fatal(err)
	}
	obj3, d := ToObject(testFields, numbers)
	if d.HasError() || !obj3.Equal(obj) {
		t.Errorf("json.Number settings give %v (%v), want %v", obj3, d, obj)
	}
}

func TestToObjectRejectsWrongTypes(t *testing.T) {
	for name, v := range map[string]any{
		"host":      42,
		"port":      1.5,
		"read_only": "yes",
		"headers":   map[string]any{"a": 1},
		"scopes":    []any{"a", 2},
	} {
		t.Run(name, func(t *testing.T) {
			obj, d := ToObject(testFields, map[string]any{name: v})
			if !d.HasError() {
				t.Fatalf("want an error for %v", v)
			}
			if !strings.Contains(d.Errors()[0].Detail(), name) {
				t.Errorf("error %q does not name the setting", d.Errors()[0].Detail())
			}
			if !obj.Attributes()[name].IsNull() {
				t.Errorf("a bad value must become null, got %v", obj.Attributes()[name])
			}
		})
	}
}

func TestFromObjectNullAndUnknown(t *testing.T) {
	ctx := context.Background()
	out, d := FromObject(ctx, testFields, types.ObjectNull(AttrTypes(testFields)))
	if d.HasError() || len(out) != 0 {
		t.Errorf("null object: got %v, %v; want empty settings", out, d)
	}
	if _, d := FromObject(ctx, testFields, types.ObjectUnknown(AttrTypes(testFields))); !d.HasError() {
		t.Error("unknown object: want an error")
	}
	vals := map[string]attr.Value{}
	for _, f := range testFields {
		vals[f.Name] = nullOf(f)
	}
	vals["host"] = types.StringUnknown()
	obj := types.ObjectValueMust(AttrTypes(testFields), vals)
	if _, d := FromObject(ctx, testFields, obj); !d.HasError() {
		t.Error("unknown attribute: want an error")
	}
}

func TestNames(t *testing.T) {
	got := Names(testFields)
	want := []string{"headers", "host", "port", "read_only", "scopes", "sslmode"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
}
