package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"dinmo/connectors"
	"dinmo/provider/internal/fields"
	"dinmo/secrets"
)

var testKinds = []connKind{
	{
		Name: "alpha", DisplayName: "Alpha", Available: true,
		Settings: []connectors.ConfigField{{Name: "host", Type: connectors.FieldString, Required: true, Description: "Host."}},
		Credentials: []connectors.ConfigField{
			{Name: "password", Type: connectors.FieldString, Required: true, Description: "Password."},
			{Name: "token", Type: connectors.FieldString, Description: "Token."},
		},
	},
	{
		Name: "beta", DisplayName: "Beta", Available: false,
		Settings: []connectors.ConfigField{{Name: "account", Type: connectors.FieldString, Description: "Account."}},
	},
}

func stringMapValue(m map[string]string) types.Map {
	if m == nil {
		return types.MapNull(types.StringType)
	}
	elems := map[string]attr.Value{}
	for k, v := range m {
		elems[k] = types.StringValue(v)
	}
	return types.MapValueMust(types.StringType, elems)
}

func connWith(kind string, wo, ref map[string]string) connModel {
	m := connModel{CredentialsWO: stringMapValue(wo), CredentialsRef: stringMapValue(ref), Blocks: map[string]types.Object{},
		CredentialsWOVersion: types.StringValue("1")}
	for _, k := range testKinds {
		if k.Name == kind {
			vals := map[string]attr.Value{}
			for _, f := range k.Settings {
				vals[f.Name] = types.StringValue("x")
			}
			m.Blocks[k.Name] = types.ObjectValueMust(fields.AttrTypes(k.Settings), vals)
		} else {
			m.Blocks[k.Name] = types.ObjectNull(fields.AttrTypes(k.Settings))
		}
	}
	return m
}

func TestValidateConn(t *testing.T) {
	tests := []struct {
		name      string
		m         connModel
		wantPaths []path.Path
		wantText  string
	}{
		{name: "ok write-only", m: connWith("alpha", map[string]string{"password": "p"}, nil)},
		{name: "ok reference", m: connWith("alpha", nil, map[string]string{"password": "env:PW", "token": "file:/t"})},
		{
			name: "unknown credential", m: connWith("alpha", map[string]string{"password": "p", "api_key": "k"}, nil),
			wantPaths: []path.Path{path.Root(attrCredentialsWO).AtMapKey("api_key")}, wantText: "password, token",
		},
		{
			name: "given twice", m: connWith("alpha", map[string]string{"password": "p"}, map[string]string{"password": "env:PW"}),
			wantPaths: []path.Path{path.Root(attrCredentialsRef).AtMapKey("password")}, wantText: "both",
		},
		{
			name: "required missing", m: connWith("alpha", map[string]string{"token": "t"}, nil),
			wantPaths: []path.Path{path.Root(attrCredentialsWO)}, wantText: `needs credential "password"`,
		},
		{
			name: "write-only without a version",
			m: func() connModel {
				m := connWith("alpha", map[string]string{"password": "p"}, nil)
				m.CredentialsWOVersion = types.StringNull()
				return m
			}(),
			wantPaths: []path.Path{path.Root(attrCredentialsWOVersion)}, wantText: "change it whenever the credentials change",
		},
		{
			name: "unavailable kind", m: connWith("beta", nil, nil),
			wantPaths: []path.Path{path.Root("beta")}, wantText: "engine beta is declared but not available in this build yet",
		},
		{
			name: "unknown write-only map skips the required check",
			m: func() connModel {
				m := connWith("alpha", nil, nil)
				m.CredentialsWO = types.MapUnknown(types.StringType)
				return m
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d diag.Diagnostics
			validateConn(tt.m, "source", "engine", testKinds, &d)
			if len(d) != len(tt.wantPaths) {
				t.Fatalf("got %d diagnostics, want %d: %v", len(d), len(tt.wantPaths), d)
			}
			for i, want := range tt.wantPaths {
				wp, ok := d[i].(diag.DiagnosticWithPath)
				if !ok || !wp.Path().Equal(want) {
					t.Errorf("diagnostic %d at %v, want %s", i, d[i], want)
				}
				if !strings.Contains(d[i].Detail(), tt.wantText) {
					t.Errorf("detail %q does not contain %q", d[i].Detail(), tt.wantText)
				}
			}
		})
	}
}

func TestNewCredentials(t *testing.T) {
	t.Setenv("DINMO_TEST_TOKEN", "tok-value")
	sealer, err := secrets.NewSealer("a passphrase of some length")
	if err != nil {
		t.Fatal(err)
	}
	d := &providerData{Sealer: sealer}
	var diags diag.Diagnostics
	c := d.newCredentials(map[string]string{"password": "hunter2"}, map[string]string{"token": "env:DINMO_TEST_TOKEN"}, "Cannot Create Source", &diags) //nolint:gosec // G101: test values
	if diags.HasError() {
		t.Fatal(diags)
	}
	if !secrets.IsSealed(c.Stored["password"]) || c.Stored["token"] != "env:DINMO_TEST_TOKEN" {
		t.Errorf("stored: %v", c.Stored)
	}
	if c.Plain["password"] != "hunter2" || c.Plain["token"] != "tok-value" {
		t.Errorf("plain values not resolved")
	}
	if !credentialsPath(c).Equal(path.Root(attrCredentialsWO)) {
		t.Errorf("sealed credentials must be reported at %s", attrCredentialsWO)
	}
	if p := credentialsPath(credentials{Stored: map[string]string{"token": "env:X"}}); !p.Equal(path.Root(attrCredentialsRef)) {
		t.Errorf("references-only credentials must be reported at %s, got %s", attrCredentialsRef, p)
	}
	back, err := d.storedCredentials(c.Stored)
	if err != nil || back.Plain["password"] != "hunter2" {
		t.Errorf("stored credentials do not resolve: %v", err)
	}

	// Without a key, a write-only value cannot be stored: the error says how to provide one
	// and never contains the value.
	noKey := &providerData{}
	diags = nil
	noKey.newCredentials(map[string]string{"password": "hunter2"}, nil, "Cannot Create Source", &diags)
	if len(diags) != 1 {
		t.Fatalf("got %v, want one error", diags)
	}
	wp, ok := diags[0].(diag.DiagnosticWithPath)
	if !ok || !wp.Path().Equal(path.Root(attrCredentialsWO).AtMapKey("password")) {
		t.Errorf("error not at credentials_wo[password]: %v", diags[0])
	}
	if !strings.Contains(diags[0].Detail(), secrets.ErrNoKey.Error()) || strings.Contains(diags[0].Detail(), "hunter2") {
		t.Errorf("detail: %q", diags[0].Detail())
	}

	// An unresolvable reference is reported at its key.
	diags = nil
	d.newCredentials(nil, map[string]string{"token": "env:DINMO_TEST_UNSET_VARIABLE"}, "Cannot Create Source", &diags) //nolint:gosec // G101: test values
	if len(diags) != 1 {
		t.Fatalf("got %v, want one error", diags)
	}
	if wp, ok := diags[0].(diag.DiagnosticWithPath); !ok || !wp.Path().Equal(path.Root(attrCredentialsRef).AtMapKey("token")) {
		t.Errorf("error not at credentials_ref[token]: %v", diags[0])
	}
}

func TestRefsFromStored(t *testing.T) {
	sealer, err := secrets.NewSealer("a passphrase of some length")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealer.Seal("x")
	if err != nil {
		t.Fatal(err)
	}
	got := refsFromStored(map[string]string{"password": sealed, "token": "file:/run/token"}) //nolint:gosec // G101: test values
	want := stringMapValue(map[string]string{"token": "file:/run/token"})                    //nolint:gosec // G101: test values
	if !got.Equal(want) {
		t.Errorf("refsFromStored = %v, want %v", got, want)
	}
	if !refsFromStored(map[string]string{"password": sealed}).IsNull() {
		t.Error("only sealed values must give a null map")
	}
}
