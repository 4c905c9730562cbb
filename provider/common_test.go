package provider

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"dinmo/catalog"
)

func TestParseImportID(t *testing.T) {
	tests := []struct {
		in            string
		ws, name      string
		raw, wantErrs bool
	}{
		{in: "analytics/customers", ws: "analytics", name: "customers"},
		{in: " analytics/customers ", ws: "analytics", name: "customers"},
		{in: "mdl_01HXYZ", name: "mdl_01HXYZ", raw: true},
		{in: "", wantErrs: true},
		{in: "a/b/c", wantErrs: true},
		{in: "/b", wantErrs: true},
		{in: "a/", wantErrs: true},
	}
	for _, tt := range tests {
		ws, name, raw, err := parseImportID(tt.in)
		if (err != nil) != tt.wantErrs {
			t.Errorf("parseImportID(%q) error = %v, want error %v", tt.in, err, tt.wantErrs)
			continue
		}
		if err == nil && (ws != tt.ws || name != tt.name || raw != tt.raw) {
			t.Errorf("parseImportID(%q) = %q, %q, %v; want %q, %q, %v", tt.in, ws, name, raw, tt.ws, tt.name, tt.raw)
		}
	}
}

func TestNamePatterns(t *testing.T) {
	for _, ok := range []string{"customers", "vip_fr", "a1"} {
		if !viewNamePattern.MatchString(ok) {
			t.Errorf("view name %q must be accepted", ok)
		}
	}
	for _, bad := range []string{"1abc", "Customers", "vip-fr", "", "a b", strings.Repeat("x", 64)} {
		if viewNamePattern.MatchString(bad) {
			t.Errorf("view name %q must be refused", bad)
		}
	}
	for _, ok := range []string{"prod-hook", "1st", "a_b"} {
		if !objectNamePattern.MatchString(ok) {
			t.Errorf("object name %q must be accepted", ok)
		}
	}
	for _, bad := range []string{"-x", "_x", "Prod", "a.b"} {
		if objectNamePattern.MatchString(bad) {
			t.Errorf("object name %q must be refused", bad)
		}
	}
}

func TestSegmentErrorPath(t *testing.T) {
	tests := map[string]path.Path{
		"conditions[2].value":     path.Root("conditions").AtListIndex(2).AtName("value"),
		"conditions[0].values[1]": path.Root("conditions").AtListIndex(0).AtName("values").AtListIndex(1),
		"match":                   path.Root("match"),
		"":                        path.Root("conditions"),
		"groups[0].conditions[1]": path.Root("groups").AtListIndex(0).AtName("conditions").AtListIndex(1),
		"weird path!":             path.Root("conditions"),
	}
	for in, want := range tests {
		if got := segmentErrorPath(in); !got.Equal(want) {
			t.Errorf("segmentErrorPath(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestRefuseIfUsed(t *testing.T) {
	ctx := context.Background()
	store, err := catalog.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ws := &catalog.Workspace{Name: "ws"}
	must(store.CreateWorkspace(ctx, ws))
	src := &catalog.Source{WorkspaceID: ws.ID, Name: "src", Engine: "duckdb", Settings: map[string]any{"path": "/x"}}
	must(store.CreateSource(ctx, src))
	model := &catalog.Model{WorkspaceID: ws.ID, SourceID: src.ID, Name: "m", Type: catalog.ModelUsers, Table: "t", PrimaryKey: "id"}
	must(store.CreateModel(ctx, model))
	seg := &catalog.Segment{WorkspaceID: ws.ID, ModelID: model.ID, Name: "s", Conditions: []byte(`{"match":"all"}`)}
	must(store.CreateSegment(ctx, seg))
	dest := &catalog.Destination{WorkspaceID: ws.ID, Name: "d", Platform: "file", Settings: map[string]any{"directory": "/tmp"}}
	must(store.CreateDestination(ctx, dest))
	other := &catalog.Destination{WorkspaceID: ws.ID, Name: "unused", Platform: "file", Settings: map[string]any{"directory": "/tmp"}}
	must(store.CreateDestination(ctx, other))
	act := &catalog.Activation{WorkspaceID: ws.ID, Name: "a", SegmentID: seg.ID, DestinationID: dest.ID, Service: "records",
		RunType: "delta", SyncMode: "upsert", Enabled: true}
	must(store.CreateActivation(ctx, act))

	d := &providerData{Store: store}
	tests := []struct {
		name string
		refs refs
		want []string
	}{
		{"source", refs{sourceID: src.ID}, []string{`model "m"`}},
		{"model", refs{modelID: model.ID}, []string{`segment "s"`}},
		{"segment", refs{segmentID: seg.ID}, []string{`activation "a"`}},
		{"destination", refs{destinationID: dest.ID}, []string{`activation "a"`}},
		{"unused destination", refs{destinationID: other.ID}, nil},
	}
	for _, tt := range tests {
		var diags diag.Diagnostics
		refused := d.refuseIfUsed(ctx, &diags, "Cannot Delete", tt.name, "x", ws.ID, tt.refs)
		if refused != (len(tt.want) > 0) {
			t.Errorf("%s: refused = %v, want %v (%v)", tt.name, refused, len(tt.want) > 0, diags)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(diags[0].Detail(), w) {
				t.Errorf("%s: detail %q does not name %s", tt.name, diags[0].Detail(), w)
			}
		}
	}
}
