// Package fields turns a connector's declared configuration fields (connectors.ConfigField)
// into Terraform schema attributes and converts between a settings map (what the catalog
// stores and connectors receive) and the types.Object Terraform holds. The provider builds the
// per-engine and per-platform blocks with it, so a new engine or platform needs no provider
// change.
//
// State keeps exactly what the user wrote: defaults are not put into the schema (they would
// show up as a perpetual diff when a connector changes one) but applied when a connection is
// opened (warehouse.ConfigReader, destination.ApplyDefaults).
package fields

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"dinmo/connectors"
)

// Attributes returns one schema attribute per field: Required fields are required within
// their block, the others optional; enums and bounds become validators.
func Attributes(fs []connectors.ConfigField) map[string]schema.Attribute {
	out := make(map[string]schema.Attribute, len(fs))
	for _, f := range fs {
		desc := Description(f)
		switch f.Type {
		case connectors.FieldString:
			a := schema.StringAttribute{MarkdownDescription: desc, Required: f.Required, Optional: !f.Required}
			if len(f.Enum) > 0 {
				a.Validators = []validator.String{stringvalidator.OneOf(f.Enum...)}
			}
			out[f.Name] = a
		case connectors.FieldInt:
			a := schema.Int64Attribute{MarkdownDescription: desc, Required: f.Required, Optional: !f.Required}
			switch {
			case f.Min != 0 && f.Max != 0:
				a.Validators = []validator.Int64{int64validator.Between(f.Min, f.Max)}
			case f.Min != 0:
				a.Validators = []validator.Int64{int64validator.AtLeast(f.Min)}
			case f.Max != 0:
				a.Validators = []validator.Int64{int64validator.AtMost(f.Max)}
			}
			out[f.Name] = a
		case connectors.FieldBool:
			out[f.Name] = schema.BoolAttribute{MarkdownDescription: desc, Required: f.Required, Optional: !f.Required}
		case connectors.FieldStringMap:
			out[f.Name] = schema.MapAttribute{MarkdownDescription: desc, Required: f.Required, Optional: !f.Required, ElementType: types.StringType}
		case connectors.FieldStringList:
			out[f.Name] = schema.ListAttribute{MarkdownDescription: desc, Required: f.Required, Optional: !f.Required, ElementType: types.StringType}
		}
	}
	return out
}

// Description is the field's Markdown description, completed with its allowed values, bounds
// and run-time default so the generated docs show them.
func Description(f connectors.ConfigField) string {
	d := strings.TrimSpace(f.Description)
	var extra []string
	if len(f.Enum) > 0 {
		q := make([]string, len(f.Enum))
		for i, e := range f.Enum {
			q[i] = "`" + e + "`"
		}
		extra = append(extra, "One of "+strings.Join(q, ", ")+".")
	}
	if f.Min != 0 && f.Max != 0 {
		extra = append(extra, fmt.Sprintf("Between %d and %d.", f.Min, f.Max))
	} else if f.Min != 0 {
		extra = append(extra, fmt.Sprintf("At least %d.", f.Min))
	} else if f.Max != 0 {
		extra = append(extra, fmt.Sprintf("At most %d.", f.Max))
	}
	if f.Default != nil {
		extra = append(extra, "Defaults to `"+formatDefault(f.Default)+"` when omitted.")
	}
	if len(extra) > 0 {
		if d != "" && !strings.HasSuffix(d, ".") {
			d += "."
		}
		d = strings.TrimSpace(d + " " + strings.Join(extra, " "))
	}
	return d
}

func formatDefault(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		return "[" + strings.Join(x, ", ") + "]"
	case map[string]string:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

// AttrType is the Terraform type of one field.
func AttrType(f connectors.ConfigField) attr.Type {
	switch f.Type {
	case connectors.FieldInt:
		return types.Int64Type
	case connectors.FieldBool:
		return types.BoolType
	case connectors.FieldStringMap:
		return types.MapType{ElemType: types.StringType}
	case connectors.FieldStringList:
		return types.ListType{ElemType: types.StringType}
	default:
		return types.StringType
	}
}

// AttrTypes is the object type of a block built from the fields.
func AttrTypes(fs []connectors.ConfigField) map[string]attr.Type {
	out := make(map[string]attr.Type, len(fs))
	for _, f := range fs {
		out[f.Name] = AttrType(f)
	}
	return out
}

// ToObject builds the block's object from stored settings. Fields absent from the settings are
// null, so an object read back from the catalog equals the one the user wrote. Values are
// accepted in the forms a JSON round trip produces (float64 and json.Number for integers,
// []any and map[string]any for collections). Settings keys that no field declares are ignored.
func ToObject(fs []connectors.ConfigField, settings map[string]any) (types.Object, diag.Diagnostics) {
	var diags diag.Diagnostics
	vals := make(map[string]attr.Value, len(fs))
	for _, f := range fs {
		raw, ok := settings[f.Name]
		if !ok || raw == nil {
			vals[f.Name] = nullOf(f)
			continue
		}
		v, err := toValue(f, raw)
		if err != nil {
			diags.AddError("Cannot Read Stored Settings",
				fmt.Sprintf("The catalog holds a value for setting %q that does not fit its declared type %s: %v. "+
					"Set the attribute again in the configuration and apply.", f.Name, f.Type, err))
			vals[f.Name] = nullOf(f)
			continue
		}
		vals[f.Name] = v
	}
	obj, d := types.ObjectValue(AttrTypes(fs), vals)
	diags.Append(d...)
	return obj, diags
}

func nullOf(f connectors.ConfigField) attr.Value {
	switch f.Type {
	case connectors.FieldInt:
		return types.Int64Null()
	case connectors.FieldBool:
		return types.BoolNull()
	case connectors.FieldStringMap:
		return types.MapNull(types.StringType)
	case connectors.FieldStringList:
		return types.ListNull(types.StringType)
	default:
		return types.StringNull()
	}
}

func toValue(f connectors.ConfigField, raw any) (attr.Value, error) {
	switch f.Type {
	case connectors.FieldString:
		s, ok := raw.(string)
		if !ok {
			return nil, fmt.Errorf("got %T, want a string", raw)
		}
		return types.StringValue(s), nil
	case connectors.FieldInt:
		n, err := toInt64(raw)
		if err != nil {
			return nil, err
		}
		return types.Int64Value(n), nil
	case connectors.FieldBool:
		b, ok := raw.(bool)
		if !ok {
			return nil, fmt.Errorf("got %T, want a bool", raw)
		}
		return types.BoolValue(b), nil
	case connectors.FieldStringMap:
		m, err := toStringMap(raw)
		if err != nil {
			return nil, err
		}
		elems := make(map[string]attr.Value, len(m))
		for k, v := range m {
			elems[k] = types.StringValue(v)
		}
		mv, d := types.MapValue(types.StringType, elems)
		if d.HasError() {
			return nil, fmt.Errorf("building map: %v", d)
		}
		return mv, nil
	case connectors.FieldStringList:
		l, err := toStringList(raw)
		if err != nil {
			return nil, err
		}
		elems := make([]attr.Value, len(l))
		for i, v := range l {
			elems[i] = types.StringValue(v)
		}
		lv, d := types.ListValue(types.StringType, elems)
		if d.HasError() {
			return nil, fmt.Errorf("building list: %v", d)
		}
		return lv, nil
	}
	return nil, fmt.Errorf("unknown field type %q", f.Type)
}

func toInt64(raw any) (int64, error) {
	switch x := raw.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float64:
		if x != math.Trunc(x) || x > math.MaxInt64 || x < math.MinInt64 {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		return int64(x), nil
	case json.Number:
		return x.Int64()
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("got %T, want an integer", raw)
}

func toStringMap(raw any) (map[string]string, error) {
	switch x := raw.(type) {
	case map[string]string:
		return x, nil
	case map[string]any:
		out := make(map[string]string, len(x))
		for k, v := range x {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("key %q: got %T, want a string", k, v)
			}
			out[k] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("got %T, want a map of strings", raw)
}

func toStringList(raw any) ([]string, error) {
	switch x := raw.(type) {
	case []string:
		return x, nil
	case []any:
		out := make([]string, len(x))
		for i, v := range x {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("element %d: got %T, want a string", i, v)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("got %T, want a list of strings", raw)
}

// FromObject returns the settings the user wrote in a block: null attributes are left out;
// values take the Go types connectors expect (string, int64, bool, map[string]string,
// []string). An unknown value is an error: call it only with applied configuration.
func FromObject(ctx context.Context, fs []connectors.ConfigField, obj types.Object) (map[string]any, diag.Diagnostics) {
	var diags diag.Diagnostics
	out := map[string]any{}
	if obj.IsNull() {
		return out, diags
	}
	if obj.IsUnknown() {
		diags.AddError("Settings Not Known Yet", "The block's value is not known yet; this is a provider bug when it happens at apply time.")
		return nil, diags
	}
	attrs := obj.Attributes()
	for _, f := range fs {
		v, ok := attrs[f.Name]
		if !ok || v.IsNull() {
			continue
		}
		if v.IsUnknown() {
			diags.AddError("Settings Not Known Yet", fmt.Sprintf("Setting %q is not known yet; this is a provider bug when it happens at apply time.", f.Name))
			continue
		}
		switch x := v.(type) {
		case types.String:
			out[f.Name] = x.ValueString()
		case types.Int64:
			out[f.Name] = x.ValueInt64()
		case types.Bool:
			out[f.Name] = x.ValueBool()
		case types.Map:
			m := map[string]string{}
			diags.Append(x.ElementsAs(ctx, &m, false)...)
			out[f.Name] = m
		case types.List:
			var l []string
			diags.Append(x.ElementsAs(ctx, &l, false)...)
			out[f.Name] = l
		default:
			diags.AddError("Unexpected Setting Type", fmt.Sprintf("Setting %q has value type %T; this is a provider bug.", f.Name, v))
		}
	}
	return out, diags
}

// Names returns the field names, sorted, for messages that list what is allowed.
func Names(fs []connectors.ConfigField) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	sort.Strings(out)
	return out
}

// Find returns the field of a name.
func Find(fs []connectors.ConfigField, name string) (connectors.ConfigField, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	return connectors.ConfigField{}, false
}
