// Package catalogtest is the conformance suite every catalog back-end passes: the same test
// functions run against SQLite and PostgreSQL, so the two cannot drift apart.
//
// Usage (see catalog's own tests):
//
//	catalogtest.Run(t, func(t *testing.T) string { return pgtest.DSN(t) })
package catalogtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"dinmo/catalog"
	"dinmo/schedule"
)

// secret is a credential value that must never appear in an audit entry or an error.
const secret = "enc:v1:TOP-SECRET-CREDENTIAL-0123456789" //nolint:gosec // G101: a fake sealed value the suite checks never leaks

// Run runs the suite. newURL returns the catalog URL of a fresh, empty database for each call
// (each subtest gets its own).
func Run(t *testing.T, newURL func(t *testing.T) string) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newURL func(t *testing.T) string)
	}{
		{"RoundTrip", testRoundTrip},
		{"Update", testUpdate},
		{"Validation", testValidation},
		{"NotFound", testNotFound},
		{"Conflict", testConflict},
		{"InUse", testInUse},
		{"Audit", testAudit},
		{"ActivationRunnerFields", testActivationRunnerFields},
		{"DueActivations", testDueActivations},
		{"Leases", testLeases},
		{"LeaseRace", testLeaseRace},
		{"Runs", testRuns},
		{"Tasks", testTasks},
		{"Migrations", testMigrations},
		{"ConcurrentStores", testConcurrentStores},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newURL) })
	}
}

func open(t *testing.T, url string) catalog.Store {
	t.Helper()
	s, err := catalog.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func ctxAs(t *testing.T, actor string) context.Context {
	return catalog.WithActor(t.Context(), actor)
}

// ts returns a UTC time at the catalog's microsecond precision.
func ts(sec int64) time.Time {
	return time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC).Add(time.Duration(sec) * time.Second)
}

func ptr[T any](v T) *T { return &v }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("%s mismatch:\n got: %s\nwant: %s", what, g, w)
	}
}

func wantErr(t *testing.T, what string, err, sentinel error, contains ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: error %v, want errors.Is %v", what, err, sentinel)
		return
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("%s: error %q does not mention %q", what, err, c)
		}
	}
}

// fixture is one object of every kind in one workspace.
type fixture struct {
	ws  *catalog.Workspace
	src *catalog.Source
	mdl *catalog.Model
	seg *catalog.Segment
	dst *catalog.Destination
	act *catalog.Activation
}

func newFixture(t *testing.T, s catalog.Store, wsName string) fixture {
	t.Helper()
	ctx := ctxAs(t, "terraform")
	f := fixture{}
	f.ws = &catalog.Workspace{Name: wsName, Description: "team space", Settings: catalog.WorkspaceSettings{CronEnabled: true, AlertEmails: []string{"a@example.com"}}}
	must(t, s.CreateWorkspace(ctx, f.ws))
	f.src = &catalog.Source{WorkspaceID: f.ws.ID, Name: "warehouse", Engine: "duckdb",
		Settings:    map[string]any{"path": "/tmp/w.duckdb", "port": float64(5432), "ssl": true, "nested": map[string]any{"a": []any{"x", float64(1)}}},
		Credentials: map[string]string{"password": secret}, CredentialsVersion: "v1",
		StatsSchedule: schedule.Schedule{Type: schedule.TypeInterval, Every: "6h", At: "01:00"}}
	must(t, s.CreateSource(ctx, f.src))
	f.mdl = &catalog.Model{WorkspaceID: f.ws.ID, SourceID: f.src.ID, Name: "customers", Description: "all customers", Type: catalog.ModelUsers,
		SQL: "SELECT * FROM customers", PrimaryKey: "id", ViewName: "model_customers",
		Columns:         []catalog.Column{{Name: "id", Type: "BIGINT", Category: "number"}, {Name: "email", Type: "VARCHAR", Category: "string"}},
		Fields:          []catalog.Field{{Column: "email", DisplayName: "E-mail", Semantic: "email"}, {Column: "id", Type: "integer", Categorical: true}},
		TimestampColumn: "signed_up_at",
		Relationships:   []catalog.Relationship{{Name: "orders", To: "orders", Kind: "one_to_many", FromColumn: "id", ToColumn: "customer_id"}},
		Calculated:      json.RawMessage(`[{"name":"ltv","kind":"aggregate","path":["orders"],"function":"sum","column":"amount"}]`),
		Materialization: catalog.Materialization{Mode: catalog.MaterializeTable,
			Refresh: schedule.Schedule{Type: schedule.TypeRecurrence, Rules: []schedule.Rule{{Days: []string{"mon"}, Times: []string{"09:00"}}}}},
		DuplicateKeyShare: 0.0125, DuplicateKeyCheckedAt: ptrTime(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC))}
	must(t, s.CreateModel(ctx, f.mdl))
	f.seg = &catalog.Segment{WorkspaceID: f.ws.ID, ModelID: f.mdl.ID, Name: "vip", Description: "big spenders",
		Conditions:  json.RawMessage(`{"type":"and","conditions":[{"column":"ltv","op":">","value":1000}]}`),
		CompiledSQL: "SELECT * FROM model_customers WHERE ltv > 1000", ViewName: "segment_vip"}
	must(t, s.CreateSegment(ctx, f.seg))
	f.dst = &catalog.Destination{WorkspaceID: f.ws.ID, Name: "hook", Platform: "webhook",
		Settings: map[string]any{"url": "http://localhost/hook"}, Credentials: map[string]string{"token": secret}, CredentialsVersion: "1",
		BaseURL: "https://proxy.example.com/hooks"}
	must(t, s.CreateDestination(ctx, f.dst))
	f.act = &catalog.Activation{WorkspaceID: f.ws.ID, Name: "vip-to-hook", Description: "push vips", SegmentID: f.seg.ID,
		DestinationID: f.dst.ID, Service: "records", RunType: "delta", SyncMode: "upsert", Lookback: 90 * time.Minute,
		Mappings: []catalog.Mapping{{Column: "email", Field: "email"}, {Column: "id", Field: "external_id"}},
		// Service options hold the JSON-stable types the provider writes (numbers read back
		// as float64).
		Options:  map[string]any{"event_name": "order_completed", "update_existing_only": true, "max_age_days": float64(7)},
		Schedule: schedule.Schedule{Type: schedule.TypeRecurrence, Rules: []schedule.Rule{{Days: []string{"mon", "wed"}, Times: []string{"09:00"}}}},
		Guards:   catalog.Guards{MaxRemovalPercent: ptr(12.5), MinSnapshotForRemovalGuard: ptr(int64(10)), BlockEmptyResult: ptr(false)},
		Enabled:  true, NextRunAt: ptr(ts(0))}
	must(t, s.CreateActivation(ctx, f.act))
	return f
}

func testRoundTrip(t *testing.T, newURL func(t *testing.T) string) {
	s := open(t, newURL(t))
	ctx := t.Context()
	f := newFixture(t, s, "marketing")

	prefixes := map[string]string{f.ws.ID: "ws_", f.src.ID: "src_", f.mdl.ID: "mdl_", f.seg.ID: "seg_", f.dst.ID: "dst_", f.act.ID: "act_"}
	for id, p := range prefixes {
		if !strings.HasPrefix(id, p) || len(id) != len(p)+16 || strings.ToLower(id) != id {
			t.Errorf("id %q: want %s + 16 lowercase hex characters", id, p)
		}
	}
	if f.ws.CreatedAt.IsZero() || !f.ws.CreatedAt.Equal(f.ws.UpdatedAt) || f.ws.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt/UpdatedAt not set to one UTC time: %v %v", f.ws.CreatedAt, f.ws.UpdatedAt)
	}

	w, err := s.GetWorkspace(ctx, f.ws.ID)
	must(t, err)
	equal(t, "GetWorkspace", w, f.ws)
	w, err = s.GetWorkspaceByName(ctx, "marketing")
	must(t, err)
	equal(t, "GetWorkspaceByName", w, f.ws)
	ws, err := s.ListWorkspaces(ctx)
	must(t, err)
	equal(t, "ListWorkspaces", ws, []catalog.Workspace{*f.ws})

	src, err := s.GetSource(ctx, f.src.ID)
	must(t, err)
	equal(t, "GetSource", src, f.src)
	src, err = s.GetSourceByName(ctx, f.ws.ID, "warehouse")
	must(t, err)
	equal(t, "GetSourceByName", src, f.src)
	srcs, err := s.ListSources(ctx, f.ws.ID)
	must(t, err)
	equal(t, "ListSources", srcs, []catalog.Source{*f.src})

	m, err := s.GetModel(ctx, f.mdl.ID)
	must(t, err)
	equal(t, "GetModel", m, f.mdl)
	m, err = s.GetModelByName(ctx, f.ws.ID, "customers")
	must(t, err)
	equal(t, "GetModelByName", m, f.mdl)
	ms, err := s.ListModels(ctx, f.ws.ID)
	must(t, err)
	equal(t, "ListModels", ms, []catalog.Model{*f.mdl})

	seg, err := s.GetSegment(ctx, f.seg.ID)
	must(t, err)
	equal(t, "GetSegment", seg, f.seg)
	seg, err = s.GetSegmentByName(ctx, f.ws.ID, "vip")
	must(t, err)
	equal(t, "GetSegmentByName", seg, f.seg)
	segs, err := s.ListSegments(ctx, f.ws.ID)
	must(t, err)
	equal(t, "ListSegments", segs, []catalog.Segment{*f.seg})

	d, err := s.GetDestination(ctx, f.dst.ID)
	must(t, err)
	equal(t, "GetDestination", d, f.dst)
	d, err = s.GetDestinationByName(ctx, f.ws.ID, "hook")
	must(t, err)
	equal(t, "GetDestinationByName", d, f.dst)
	ds, err := s.ListDestinations(ctx, f.ws.ID)
	must(t, err)
	equal(t, "ListDestinations", ds, []catalog.Destination{*f.dst})

	a, err := s.GetActivation(ctx, f.act.ID)
	must(t, err)
	equal(t, "GetActivation", a, f.act)
	a, err = s.GetActivationByName(ctx, f.ws.ID, "vip-to-hook")
	must(t, err)
	equal(t, "GetActivationByName", a, f.act)

	// A model by table, an activation of a model with nil/empty optional fields and runner
	// state set at creation, a caller-chosen ID, nil vs empty maps.
	m2 := &catalog.Model{ID: "mdl_custom", WorkspaceID: f.ws.ID, SourceID: f.src.ID, Name: "orders", Type: catalog.ModelEvents, Table: "sales.orders", Columns: []catalog.Column{}}
	must(t, s.CreateModel(ctx, m2))
	if m2.ID != "mdl_custom" {
		t.Errorf("caller-set ID replaced by %q", m2.ID)
	}
	got, err := s.GetModel(ctx, "mdl_custom")
	must(t, err)
	equal(t, "GetModel(table model)", got, m2)
	a2 := &catalog.Activation{WorkspaceID: f.ws.ID, Name: "orders-to-hook", ModelID: m2.ID, DestinationID: f.dst.ID,
		Schedule: schedule.Schedule{Type: schedule.TypeManual}, Paused: true, RemovalsApproved: true, PauseReason: "created paused", PausedBy: "user", FullResyncRequested: true}
	must(t, s.CreateActivation(ctx, a2))
	got2, err := s.GetActivation(ctx, a2.ID)
	must(t, err)
	equal(t, "GetActivation(model activation)", got2, a2)
	if got2.NextRunAt != nil || got2.Mappings != nil || got2.Options != nil {
		t.Errorf("nil NextRunAt/Mappings/Options came back as %v/%v/%v", got2.NextRunAt, got2.Mappings, got2.Options)
	}
	acts, err := s.ListActivations(ctx, f.ws.ID)
	must(t, err)
	equal(t, "ListActivations", acts, []catalog.Activation{*got2, *f.act}) // by name
	d2 := &catalog.Destination{WorkspaceID: f.ws.ID, Name: "empty", Platform: "file", Settings: map[string]any{}}
	must(t, s.CreateDestination(ctx, d2))
	gotD2, err := s.GetDestination(ctx, d2.ID)
	must(t, err)
	equal(t, "GetDestination(empty settings, nil credentials)", gotD2, d2)
	if gotD2.Settings == nil || gotD2.Credentials != nil || gotD2.BaseURL != "" {
		t.Errorf("empty map / nil map / empty base URL not preserved: %#v %#v %q", gotD2.Settings, gotD2.Credentials, gotD2.BaseURL)
	}

	// Another workspace does not see these objects.
	other := &catalog.Workspace{Name: "other"}
	must(t, s.CreateWorkspace(ctx, other))
	srcs, err = s.ListSources(ctx, other.ID)
	must(t, err)
	if len(srcs) != 0 {
		t.Errorf("ListSources(other workspace) = %d sources, want 0", len(srcs))
	}
	ws, err = s.ListWorkspaces(ctx)
	must(t, err)
	if len(ws) != 2 || ws[0].Name != "marketing" || ws[1].Name != "other" {
		t.Errorf("ListWorkspaces not ordered by name: %+v", ws)
	}
}

func testUpdate(t *testing.T, newURL func(t *testing.T) string) {
	s := open(t, newURL(t))
	ctx := ctxAs(t, "terraform")
	f := newFixture(t, s, "w")
	time.Sleep(2 * time.Millisecond) // UpdatedAt must move past CreatedAt

	created := f.ws.CreatedAt
	f.ws.Name, f.ws.Description, f.ws.Settings = "w2", "", catalog.WorkspaceSettings{}
	must(t, s.UpdateWorkspace(ctx, f.ws))
	if !f.ws.CreatedAt.Equal(created) || !f.ws.UpdatedAt.After(created) {
		t.Errorf("after update CreatedAt=%v UpdatedAt=%v, want CreatedAt kept and UpdatedAt later", f.ws.CreatedAt, f.ws.UpdatedAt)
	}
	w, err := s.GetWorkspace(ctx, f.ws.ID)
	must(t, err)
	equal(t, "updated workspace", w, f.ws)

	src2 := &catalog.Source{WorkspaceID: f.ws.ID, Name: "second", Engine: "postgres"}
	must(t, s.CreateSource(ctx, src2))
	f.src.Name, f.src.Engine = "wh", "postgres"
	f.src.Settings = map[string]any{"host": "db"}
	f.src.Credentials = map[string]string{"password": secret + "-rotated"}
	f.src.CredentialsVersion = "v2"
	must(t, s.UpdateSource(ctx, f.src))
	got, err := s.GetSource(ctx, f.src.ID)
	must(t, err)
	equal(t, "updated source", got, f.src)

	f.mdl.SourceID, f.mdl.SQL, f.mdl.Table, f.mdl.PrimaryKey = src2.ID, "", "public.customers", "email"
	f.mdl.Columns = nil
	must(t, s.UpdateModel(ctx, f.mdl))
	gotM, err := s.GetModel(ctx, f.mdl.ID)
	must(t, err)
	equal(t, "updated model", gotM, f.mdl)

	f.seg.Conditions, f.seg.CompiledSQL, f.seg.Name = json.RawMessage(`{"type":"or"}`), "SELECT 1", "vip2"
	must(t, s.UpdateSegment(ctx, f.seg))
	gotS, err := s.GetSegment(ctx, f.seg.ID)
	must(t, err)
	equal(t, "updated segment", gotS, f.seg)

	f.dst.Settings = map[string]any{"url": "http://localhost/other"}
	f.dst.Platform = "file"
	f.dst.BaseURL = ""
	must(t, s.UpdateDestination(ctx, f.dst))
	gotD, err := s.GetDestination(ctx, f.dst.ID)
	must(t, err)
	equal(t, "updated destination", gotD, f.dst)

	f.act.SegmentID, f.act.ModelID = "", f.mdl.ID
	f.act.Mappings = []catalog.Mapping{{Column: "email", Field: "mail"}}
	f.act.Options = map[string]any{"event_name": "order_refunded", "nested": map[string]any{"a": []any{"x"}}}
	f.act.Schedule = schedule.Schedule{Type: schedule.TypeCron, Cron: "0 3 * * *"}
	f.act.Guards = catalog.Guards{RejectedWarningPercent: ptr(1.0)}
	f.act.Enabled, f.act.Service, f.act.SyncMode, f.act.RunType, f.act.Description = false, "lists", "mirror", "full", "changed"
	must(t, s.UpdateActivation(ctx, f.act))
	gotA, err := s.GetActivation(ctx, f.act.ID)
	must(t, err)
	equal(t, "updated activation", gotA, f.act)

	// An update that changes nothing keeps UpdatedAt and writes no audit entry.
	before, err := s.ListAudit(ctx, catalog.AuditFilter{ObjectID: f.dst.ID})
	must(t, err)
	upd := f.dst.UpdatedAt
	same := *f.dst
	must(t, s.UpdateDestination(ctx, &same))
	if !same.UpdatedAt.Equal(upd) {
		t.Errorf("no-op update moved UpdatedAt from %v to %v", upd, same.UpdatedAt)
	}
	after, err := s.ListAudit(ctx, catalog.AuditFilter{ObjectID: f.dst.ID})
	must(t, err)
	if len(after) != len(before) {
		t.Errorf("no-op update wrote %d audit entries", len(after)-len(before))
	}

	// Changing only the service options, or only the base URL, is audited as such.
	f.act.Options = map[string]any{"event_name": "order_shipped"}
	must(t, s.UpdateActivation(ctx, f.act))
	f.dst.BaseURL = "http://127.0.0.1:8080"
	must(t, s.UpdateDestination(ctx, f.dst))
	for id, want := range map[string][]any{f.act.ID: {"options"}, f.dst.ID: {"api_base_url"}} {
		entries, err := s.ListAudit(ctx, catalog.AuditFilter{ObjectID: id, Limit: 1})
		must(t, err)
		if len(entries) != 1 {
			t.Fatalf("audit of %s: %d entries", id, len(entries))
		}
		equal(t, "changed fields of "+id, entries[0].Details["changed"], want)
	}
	gotA, err = s.GetActivation(ctx, f.act.ID)
	must(t, err)
	equal(t, "activation with new options", gotA.Options, f.act.Options)
	gotD, err = s.GetDestination(ctx, f.dst.ID)
	must(t, err)
	equal(t, "destination with a base URL", gotD.BaseURL, f.dst.BaseURL)

	// The workspace of an object cannot change.
	other := &catalog.Workspace{Name: "other"}
	must(t, s.CreateWorkspace(ctx, other))
	moved := *f.dst
	moved.WorkspaceID = other.ID
	if err := s.UpdateDestination(ctx, &moved); err == nil || !strings.Contains(err.Error(), "another workspace") {
		t.Errorf("moving a destination to another workspace: error %v, want a clear refusal", err)
	}
}

func testValidation(t *testing.T, newURL func(t *testing.T) string) {
	s := open(t, newURL(t))
	ctx := t.Context()
	f := newFixture(t, s, "w")
	tests := []struct {
		name    string
		err     error
		mention string
	}{
		{"workspace without name", s.CreateWorkspace(ctx, &catalog.Workspace{}), "name"},
		{"source without engine", s.CreateSource(ctx, &catalog.Source{WorkspaceID: f.ws.ID, Name: "x"}), "engine"},
		{"source without workspace", s.CreateSource(ctx, &catalog.Source{Name: "x", Engine: "duckdb"}), "workspace_id"},
		{"model with sql and table", s.CreateModel(ctx, &catalog.Model{WorkspaceID: f.ws.ID, SourceID: f.src.ID, Name: "x", SQL: "SELECT 1", Table: "t"}), "exactly one of sql and table"},
		{"model with neither sql nor table", s.CreateModel(ctx, &catalog.Model{WorkspaceID: f.ws.ID, SourceID: f.src.ID, Name: "x"}), "exactly one of sql and table"},
		{"segment without model", s.CreateSegment(ctx, &catalog.Segment{WorkspaceID: f.ws.ID, Name: "x"}), "model_id"},
		{"segment with invalid conditions", s.CreateSegment(ctx, &catalog.Segment{WorkspaceID: f.ws.ID, ModelID: f.mdl.ID, Name: "x", Conditions: json.RawMessage(`{`)}), "conditions"},
		{"destination without platform", s.CreateDestination(ctx, &catalog.Destination{WorkspaceID: f.ws.ID, Name: "x"}), "platform"},
		{"activation with segment and model", s.CreateActivation(ctx, &catalog.Activation{WorkspaceID: f.ws.ID, Name: "x", SegmentID: f.seg.ID, ModelID: f.mdl.ID, DestinationID: f.dst.ID}), "exactly one of segment_id and model_id"},
		{"activation without destination", s.CreateActivation(ctx, &catalog.Activation{WorkspaceID: f.ws.ID, Name: "x", SegmentID: f.seg.ID}), "destination_id"},
		{"run without activation", s.CreateRun(ctx, &catalog.Run{}), "activation_id"},
		{"finish run with bad status", s.FinishRun(ctx, &catalog.Run{ID: "run_x", Status: "running"}), "status"},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if !strings.Contains(tt.err.Error(), tt.mention) {
			t.Errorf("%s: error %q does not mention %q", tt.name, tt.err, tt.mention)
		}
	}
	ws, err := s.ListSources(ctx, f.ws.ID)
	must(t, err)
	if len(ws) != 1 {
		t.Errorf("invalid creates stored objects: %d sources", len(ws))
	}
}

func testNotFound(t *testing.T, newURL func(t *testing.T) string) {
	s := open(t, newURL(t))
	ctx := t.Context()
	f := newFixture(t, s, "w")
	other := &catalog.Workspace{Name: "other"}
	must(t, s.CreateWorkspace(ctx, other))
	otherSrc := &catalog.Source{WorkspaceID: other.ID, Name: "s", Engine: "duckdb"}
	must(t, s.CreateSource(ctx, otherSrc))

	errOf := func(_ any, err error) error { return err }
	_, _, leaseErr := s.LeaseHolder(ctx, "act_missing")
	tests := []struct {
		name    string
		err     error
		mention string
	}{
		{"GetWorkspace", errOf(s.GetWorkspace(ctx, "ws_missing")), "ws_missing"},
		{"GetWorkspaceByName", errOf(s.GetWorkspaceByName(ctx, "nope")), "nope"},
		{"GetSource", errOf(s.GetSource(ctx, "src_missing")), "src_missing"},
		{"GetSourceByName", errOf(s.GetSourceByName(ctx, f.ws.ID, "nope")), "nope"},
		{"GetSourceByName other workspace", errOf(s.GetSourceByName(ctx, other.ID, "warehouse")), "warehouse"},
		{"GetModel", errOf(s.GetModel(ctx, "mdl_123")), "get model mdl_123: not found"},
		{"GetModelByName", errOf(s.GetModelByName(ctx, f.ws.ID, "nope")), "nope"},
		{"GetSegment", errOf(s.GetSegment(ctx, "seg_missing")), "seg_missing"},
		{"GetSegmentByName", errOf(s.GetSegmentByName(ctx, f.ws.ID, "nope")), "nope"},
		{"GetDestination", errOf(s.GetDestination(ctx, "dst_missing")), "dst_missing"},
		{"GetDestinationByName", errOf(s.GetDestinationByName(ctx, f.ws.ID, "nope")), "nope"},
		{"GetActivation", errOf(s.GetActivation(ctx, "act_missing")), "act_missing"},
		{"GetActivationByName", errOf(s.GetActivationByName(ctx, f.ws.ID, "nope")), "nope"},
		{"GetRun", errOf(s.GetRun(ctx, "run_missing")), "run_missing"},
		{"UpdateWorkspace", s.UpdateWorkspace(ctx, &catalog.Workspace{ID: "ws_missing", Name: "x"}), "ws_missing"},
		{"UpdateSource", s.UpdateSource(ctx, &catalog.Source{ID: "src_missing", WorkspaceID: f.ws.ID, Name: "x", Engine: "duckdb"}), "src_missing"},
		{"UpdateModel", s.UpdateModel(ctx, &catalog.Model{ID: "mdl_missing", WorkspaceID: f.ws.ID, SourceID: f.src.ID, Name: "x", Table: "t"}), "mdl_missing"},
		{"UpdateSegment", s.UpdateSegment(ctx, &catalog.Segment{ID: "seg_missing", WorkspaceID: f.ws.ID, ModelID: f.mdl.ID, Name: "x"}), "seg_missing"},
		{"UpdateDestination", s.UpdateDestination(ctx, &catalog.Destination{ID: "dst_missing", WorkspaceID: f.ws.ID, Name: "x", Platform: "file"}), "dst_missing"},
		{"UpdateActivation", s.UpdateActivation(ctx, &catalog.Activation{ID: "act_missing", WorkspaceID: f.ws.ID, Name: "x", SegmentID: f.seg.ID, DestinationID: f.dst.ID}), "act_missing"},
		{"DeleteWorkspace", s.DeleteWorkspace(ctx, "ws_missing"), "ws_missing"},
		{"DeleteSource", s.DeleteSource(ctx, "src_missing"), "src_missing"},
		{"DeleteModel", s.DeleteModel(ctx, "mdl_missing"), "mdl_missing"},
		{"DeleteSegment", s.DeleteSegment(ctx, "seg_missing"), "seg_missing"},
		{"DeleteDestination", s.DeleteDestination(ctx, "dst_missing"), "dst_missing"},
		{"DeleteActivation", s.DeleteActivation(ctx, "act_missing"), "act_missing"},
		{"SetActivationPause", s.SetActivationPause(ctx, "act_missing", true, "r", "user"), "act_missing"},
		{"SetActivationSchedule", s.SetActivationSchedule(ctx, "act_missing", nil, false), "act_missing"},
		{"AcquireLease", errOf(s.AcquireLease(ctx, "act_missing", "r1", time.Minute)), "act_missing"},
		{"StealLease", errOf(s.StealLease(ctx, "act_missing", "r1", "r2", time.Minute)), "act_missing"},
		{"LeaseHolder", leaseErr, "act_missing"},
		{"ReleaseLease", s.ReleaseLease(ctx, "act_missing", "r1"), "act_missing"},
		{"CreateRun", s.CreateRun(ctx, &catalog.Run{ActivationID: "act_missing"}), "act_missing"},
		{"UpdateRunProgress", s.UpdateRunProgress(ctx, &catalog.Run{ID: "run_missing"}), "run_missing"},
		{"FinishRun", s.FinishRun(ctx, &catalog.Run{ID: "run_missing", Status: catalog.RunSucceeded}), "run_missing"},
		// References must exist, in the same workspace.
		{"CreateSource in missing workspace", s.CreateSource(ctx, &catalog.Source{WorkspaceID: "ws_missing", Name: "x", Engine: "duckdb"}), "ws_missing"},
		{"CreateModel with missing source", s.CreateModel(ctx, &catalog.Model{WorkspaceID: f.ws.ID, SourceID: "src_missing", Name: "x", Table: "t"}), "src_missing"},
		{"CreateModel with source of another workspace", s.CreateModel(ctx, &catalog.Model{WorkspaceID: f.ws.ID, SourceID: otherSrc.ID, Name: "x", Table: "t"}), otherSrc.ID},
		{"CreateSegment with missing model", s.CreateSegment(ctx, &catalog.Segment{WorkspaceID: f.ws.ID, ModelID: "mdl_missing", Name: "x"}), "mdl_missing"},
		{"CreateActivation with missing destination", s.CreateActivation(ctx, &catalog.Activation{WorkspaceID: f.ws.ID, Name: "x", SegmentID: f.seg.ID, DestinationID: "dst_missing"}), "dst_missing"},
		{"CreateActivation with missing segment", s.CreateActivation(ctx, &catalog.Activation{WorkspaceID: f.ws.ID, Name: "x", SegmentID: "seg_missing", DestinationID: f.dst.ID}), "seg_missing"},
		{"UpdateModel to missing source", s.UpdateModel(ctx, &catalog.Model{ID: f.mdl.ID, WorkspaceID: f.ws.ID, SourceID: "src_missing", Name: "customers", Table: "t"}), "src_missing"},
	}
	for _, tt := range tests {
		wantErr(t, tt.name, tt.err, catalog.ErrNotFound, tt.mention)
	}
	if l, err := s.ListModels(ctx, f.ws.ID); err != nil || len(l) != 1 {
		t.Errorf("ListModels after failed creates = %d, %v; want the fixture's model only", len(l), err)
	}
	if l, err := s.ListRuns(ctx, "act_missing", 0); err != nil || len(l) != 0 {
		t.Errorf("ListRuns(unknown activation) = %v, %v; want empty", l, err)
	}
}

func testConflict(t *testing.T, newURL func(t *testing.T) string) {
	s := open(t, newURL(t))
	ctx := t.Context()
	f := newFixture(t, s, "w")
	g := newFixture(t, s, "g") // the same names in another workspace are fine

	var dupWS catalog.Workspace
	dupWS.Name = "w"
	err := s.CreateWorkspace(ctx, &dupWS)
	wantErr(t, "duplicate workspace", err, catalog.ErrConflict, `create workspace "w": already exists`)
	if dupWS.ID != "" || !dupWS.CreatedAt.IsZero() {
		t.Errorf("failed create left ID %q / CreatedAt %v set", dupWS.ID, dupWS.CreatedAt)
	}
	tests := []struct {
		name string
		err  error
		msg  string
	}{
		{"source", s.CreateSource(ctx, &catalog.Source{WorkspaceID: f.ws.ID, Name: "warehouse", Engine: "duckdb", Credentials: map[string]string{"k": secret}}),
			`create source "warehouse": already exists in workspace`},
		{"model", s.CreateModel(ctx, &catalog.Model{WorkspaceID: f.ws.ID, SourceID: f.src.ID, Name: "customers", Table: "t"}),
			`create model "customers": already exists in workspace`},
		{"segment", s.CreateSegment(ctx, &catalog.Segment{WorkspaceID: f.ws.ID, ModelID: f.mdl.ID, Name: "vip"}),
			`create segment "vip": already exists in workspace`},
		{"destination", s.CreateDestination(ctx, &catalog.Destination{WorkspaceID: f.ws.ID, Name: "hook", Platform: "file", Credentials: map[string]string{"k": secret}}),
			`create destination "hook": already exists in workspace`},
		{"activation", s.CreateActivation(ctx, &catalog.Activation{WorkspaceID: f.ws.ID, Name: "vip-to-hook", SegmentID: f.seg.ID, DestinationID: f.dst.ID}),
			`create activation "vip-to-hook": already exists in workspace`},
		{"same id", s.CreateSource(ctx, &catalog.Source{ID: f.src.ID, WorkspaceID: f.ws.ID, Name: "fresh", Engine: "duckdb"}), ""},
	}
	for _, tt := range tests {
		wantErr(t, tt.name, tt.err, catalog.ErrConflict, tt.msg)
		if tt.err != nil && strings.Contains(tt.err.Error(), secret) {
			t.Errorf("%s: error leaks a credential: %v", tt.name, tt.err)
		}
	}

	// Renaming onto an existing name conflicts; the stored object is unchanged.
	m2 := &catalog.Model{WorkspaceID: f.ws.ID, SourceID: f.src.ID, Name: "orders", Table: "orders"}
	must(t, s.CreateModel(ctx, m2))
	m2.Name = "customers"
	wantErr(t, "rename model", s.UpdateModel(ctx, m2), catalog.ErrConflict, "customers")
	got, err := s.GetModel(ctx, m2.ID)
	must(t, err)
	if got.Name != "orders" {
		t.Errorf("failed rename stored name %q", got.Name)
	}
	g.ws.Name = "w"
	wantErr(t, "rename workspace", s.UpdateWorkspace(ctx, g.ws), catalog.ErrConflict, `"w"`)
}

func testInUse(t *testing.T, newURL func(t *testing.T) string) {
	s := open(t, newURL(t))
	ctx := ctxAs(t, "terraform")
	f := newFixture(t, s, "w")
	a2 := &catalog.Activation{WorkspaceID: f.ws.ID, Name: "all-customers", ModelID: f.mdl.ID, DestinationID: f.dst.ID}
	must(t, s.CreateActivation(ctx, a2))

	wantErr(t, "delete workspace", s.DeleteWorkspace(ctx, f.ws.ID), catalog.ErrInUse, `delete workspace "w": still in use by source "warehouse"`)
	wantErr(t, "delete source", s.DeleteSource(ctx, f.src.ID), catalog.ErrInUse, `delete source "warehouse": still in use by model "customers"`)
	wantErr(t, "delete model", s.DeleteModel(ctx, f.mdl.ID), catalog.ErrInUse, `delete model "customers": still in use by segment "vip"`)
	wantErr(t, "delete segment", s.DeleteSegment(ctx, f.seg.ID), catalog.ErrInUse, `delete segment "vip": still in use by activation "vip-to-hook"`)
	wantErr(t, "delete destination", s.DeleteDestination(ctx, f.dst.ID), catalog.ErrInUse, `delete destination "hook": still in use by activation "all-customers"`)

	// Runs go with their activation; the audit log keeps its entries.
	run := &catalog.Run{ActivationID: f.act.ID, RunType: "full", Trigger: "manual"}
	must(t, s.CreateRun(ctx, run))
	must(t, s.DeleteActivation(ctx, f.act.ID))
	if _, err := s.GetRun(ctx, run.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("run of a deleted activation: GetRun error %v, want ErrNotFound", err)
	}
	entries, err := s.ListAudit(ctx, catalog.AuditFilter{ObjectID: run.ID})
	must(t, err)
	if len(entries) != 1 || entries[0].Action != "run.start" {
		t.Errorf("audit of the deleted activation's run: %+v, want its run.start entry", entries)
	}

	must(t, s.DeleteSegment(ctx, f.seg.ID))
	wantErr(t, "delete model used by activation", s.DeleteModel(ctx, f.mdl.ID), catalog.ErrInUse, `activation "all-customers"`)
	must(t, s.DeleteActivation(ctx, a2.ID))
	must(t, s.DeleteDestination(ctx, f.dst.ID))
	must(t, s.DeleteModel(ctx, f.mdl.ID))
	must(t, s.DeleteSource(ctx, f.src.ID))
	must(t, s.DeleteWorkspace(ctx, f.ws.ID))
	if _, err := s.GetWorkspace(ctx, f.ws.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("GetWorkspace after delete: %v, want ErrNotFound", err)
	}
	deletes, err := s.ListAudit(ctx, catalog.AuditFilter{WorkspaceID: f.ws.ID, Limit: 1000})
	must(t, err)
	n := 0
	for _, e := range deletes {
		if e.Action == "delete" {
			n++
		}
	}
	if n != 7 {
		t.Errorf("audit has %d delete entries, want 7", n)
	}
}

func testAudit(t *testing.T, newURL func(t *testing.T) string) {
	s := open(t, newURL(t))
	f := newFixture(t, s, "w")
	ctx := ctxAs(t, "cli")
	f.src.Credentials = map[string]string{"password": secret + "-2"}
	f.src.CredentialsVersion = "v2"
	must(t, s.UpdateSource(ctx, f.src))
	must(t, s.SetActivationPause(ctxAs(t, "runner:r1"), f.act.ID, true, "destination auth failed", "auto"))
	must(t, s.SetActivationPause(ctxAs(t, "runner:r1"), f.act.ID, false, "checks pass", "auto"))
	must(t, s.AppendAudit(t.Context(), catalog.AuditEntry{Action: "resync.request", ObjectKind: catalog.KindActivation, ObjectID: f.act.ID, WorkspaceID: f.ws.ID, Details: map[string]any{"why": "cli"}}))
	if err := s.AppendAudit(ctx, catalog.AuditEntry{}); err == nil {
		t.Error("AppendAudit without action: no error")
	}

	src, err := s.ListAudit(t.Context(), catalog.AuditFilter{ObjectID: f.src.ID})
	must(t, err)
	if len(src) != 2 {
		t.Fatalf("source audit entries: %d, want 2 (create, update)", len(src))
	}
	upd, crt := src[0], src[1] // newest first
	if crt.Action != "create" || crt.Actor != "terraform" || crt.ObjectKind != catalog.KindSource || crt.ObjectName != "warehouse" || crt.WorkspaceID != f.ws.ID {
		t.Errorf("create entry = %+v", crt)
	}
	if upd.Action != "update" || upd.Actor != "cli" || upd.ID <= crt.ID || upd.At.Before(crt.At) {
		t.Errorf("update entry = %+v", upd)
	}
	equal(t, "changed fields", upd.Details["changed"], []any{"credentials", "credentials_version"})

	act, err := s.ListAudit(t.Context(), catalog.AuditFilter{ObjectID: f.act.ID})
	must(t, err)
	var actions []string
	for _, e := range act {
		actions = append(actions, e.Action+"/"+e.Actor)
	}
	equal(t, "activation audit", actions, []string{"resync.request/unknown", "resume/runner:r1", "pause/runner:r1", "create/terraform"})
	equal(t, "pause details", act[2].Details, map[string]any{"reason": "destination auth failed", "by": "auto"})

	ws, err := s.ListAudit(t.Context(), catalog.AuditFilter{WorkspaceID: f.ws.ID})
	must(t, err)
	if len(ws) != 10 { // 6 creates, 1 update, pause, resume, appended
		t.Errorf("workspace audit entries: %d, want 10", len(ws))
	}
	limited, err := s.ListAudit(t.Context(), catalog.AuditFilter{WorkspaceID: f.ws.ID, Limit: 3})
	must(t, err)
	equal(t, "limited audit", limited, ws[:3])

	// No credential value anywhere in the audit log.
	all, err := s.ListAudit(t.Context(), catalog.AuditFilter{Limit: 10000})
	must(t, err)
	b, err := json.Marshal(all)
	must(t, err)
	if strings.Contains(string(b), "TOP-SECRET") {
		t.Errorf("audit log contains a credential value: %s", b)
	}
}

func testActivationRunnerFields(t *testing.T, newURL func(t *testing.T) string) {
	s := open(t, newURL(t))
	ctx := t.Context()
	f := newFixture(t, s, "w")
	next := ts(60)
	must(t, s.SetActivationPause(ctx, f.act.ID, true, "mass removal guard", "auto"))
	must(t, s.SetActivationSchedule(ctx, f.act.ID, &next, false))
	if ok, err := s.AcquireLease(ctx, f.act.ID, "r1", time.Hour); err != nil || !ok {
		t.Fatalf("AcquireLease: %v, %v", ok, err)
	}

	// The provider writes what it declares, with stale or zero runner fields.
	upd := *f.act
	upd.Description = "new"
	upd.Paused, upd.PauseReason, upd.PausedBy, upd.NextRunAt, upd.FullResyncRequested = false, "", "", nil, false
	must(t, s.UpdateActivation(ctx, &upd))
	if !upd.Paused || upd.PauseReason != "mass removal guard" || upd.PausedBy != "auto" || upd.NextRunAt == nil || !upd.NextRunAt.Equal(next) || upd.FullResyncRequested {
		t.Errorf("UpdateActivation did not return the stored runner fields: %+v", upd)
	}
	got, err := s.GetActivation(ctx, f.act.ID)
	must(t, err)
	equal(t, "activation after update", got, &upd)
	if owner, _, err := s.LeaseHolder(ctx, f.act.ID); err != nil || owner != "r1" {
		t.Errorf("UpdateActivation touched the lease: owner %q, %v", owner, err)
	}

	// FullResyncRequested=true is written; false does not clear it.
	upd.FullResyncRequested = true
	must(t, s.UpdateActivation(ctx, &upd))
	upd.FullResyncRequested = false
	upd.Description = "newer"
	must(t, s.UpdateActivation(ctx, &upd))
	if !upd.FullResyncRequested {
		t.Error("UpdateActivation with false cleared the full resync request")
	}
	got, err = s.GetActivation(ctx, f.act.ID)
	must(t, err)
	if !got.FullResyncRequested || got.Description != "newer" {
		t.Errorf("stored full resync = %v, description %q", got.FullResyncRequested, got.Description)
	}
	audit, err := s.ListAudit(ctx, catalog.AuditFilter{ObjectID: f.act.ID, Limit: 2})
	must(t, err)
	equal(t, "changed fields of a full resync request", audit[1].Details["changed"], []any{"full_resync"})

	// The runner clears it with SetActivationSchedule, and unschedules with nil.
	must(t, s.SetActivationSchedule(ctx, f.act.ID, nil, false))
	got, err = s.GetActivation(ctx, f.act.ID)
	must(t, err)
	if got.FullResyncRequested || got.NextRunAt != nil {
		t.Errorf("after SetActivationSchedule(nil, false): full=%v next=%v", got.FullResyncRequested, got.NextRunAt)
	}
	if !got.UpdatedAt.Equal(upd.UpdatedAt) {
		t.Errorf("runner bookkeeping moved UpdatedAt from %v to %v", upd.UpdatedAt, got.UpdatedAt)
	}

	// An approval is runner state: recorded and audited, kept by UpdateActivation, consumed.
	must(t, s.SetActivationApproval(ctx, f.act.ID, true))
	upd.Description = "approved"
	upd.RemovalsApproved = false
	must(t, s.UpdateActivation(ctx, &upd))
	got, err = s.GetActivation(ctx, f.act.ID)
	must(t, err)
	if !got.RemovalsApproved || !upd.RemovalsApproved {
		t.Errorf("approval lost by UpdateActivation: stored %v, returned %v", got.RemovalsApproved, upd.RemovalsApproved)
	}
	audit, err = s.ListAudit(ctx, catalog.AuditFilter{ObjectID: f.act.ID, Limit: 2})
	must(t, err)
	if audit[1].Action != "approve" {
		t.Errorf("approval audited as %q, want approve", audit[1].Action)
	}
	must(t, s.SetActivationApproval(ctx, f.act.ID, false))
	if got, err = s.GetActivation(ctx, f.act.ID); err != nil || got.RemovalsApproved {
		t.Errorf("approval not consumed: %v, %v", got.RemovalsApproved, err)
	}
	wantErr(t, "SetActivationApproval(missing)", s.SetActivationApproval(ctx, "act_missing", true), catalog.ErrNotFound, "act_missing")

	// Resume clears reason and by.
	must(t, s.SetActivationPause(ctx, f.act.ID, false, "", "user"))
	got, err = s.GetActivation(ctx, f.act.ID)
	must(t, err)
	if got.Paused || got.PauseReason != "" || got.PausedBy != "" {
		t.Errorf("after resume: paused=%v reason=%q by=%q", got.Paused, got.PauseReason, got.PausedBy)
	}
}

func testDueActivations(t *testing.T, newURL func(t *testing.T) string) {
	s := open(t, newURL(t))
	ctx := t.Context()
	f := newFixture(t, s, "w") // f.act: enabled, next = ts(0)
	g := newFixture(t, s, "g")
	nowT := ts(100)
	mk := func(ws *fixture, name string, enabled bool, next *time.Time) *catalog.Activation {
		a := &catalog.Activation{WorkspaceID: ws.ws.ID, Name: name, SegmentID: ws.seg.ID, DestinationID: ws.dst.ID, Enabled: enabled, NextRunAt: next}
		must(t, s.CreateActivation(ctx, a))
		return a
	}
	dueEarly := mk(&g, "due-early", true, ptr(ts(-50)))
	dueNow := mk(&f, "due-now", true, ptr(nowT))
	mk(&f, "future", true, ptr(ts(101)))
	mk(&f, "unscheduled", true, nil)
	mk(&f, "disabled", false, ptr(ts(-10)))
	paused := mk(&g, "paused", true, ptr(ts(-20)))
	must(t, s.SetActivationPause(ctx, paused.ID, true, "user pause", "user"))

	due, err := s.DueActivations(ctx, nowT)
	must(t, err)
	var names []string
	for _, a := range due {
		names = append(names, a.Name)
	}
	equal(t, "due activations", names, []string{dueEarly.Name, "vip-to-hook", "vip-to-hook", dueNow.Name})
	if due[0].ID != dueEarly.ID || due[3].ID != dueNow.ID {
		t.Errorf("due order wrong: %v", names)
	}
	none, err := s.DueActivations(ctx, ts(-1000))
	must(t, err)
	if len(none) != 0 {
		t.Errorf("due long ago: %d activations, want 0", len(none))
	}
}

func testLeases(t *testing.T, newURL func(t *testing.T) string) {
	s := open(t, newURL(t))
	ctx := t.Context()
	f := newFixture(t, s, "w")
	id := f.act.ID

	owner, until, err := s.LeaseHolder(ctx, id)
	must(t, err)
	if owner != "" || !until.IsZero() {
		t.Errorf("fresh lease holder %q until %v, want free", owner, until)
	}
	before := time.Now()
	ok, err := s.AcquireLease(ctx, id, "r1", time.Minute)
	must(t, err)
	if !ok {
		t.Fatal("r1 could not take a free lease")
	}
	owner, until, err = s.LeaseHolder(ctx, id)
	must(t, err)
	if owner != "r1" || until.Before(before.Add(59*time.Second)) || until.After(time.Now().Add(61*time.Second)) {
		t.Errorf("holder %q until %v, want r1 for about a minute", owner, until)
	}
	if ok, err := s.AcquireLease(ctx, id, "r2", time.Minute); err != nil || ok {
		t.Errorf("r2 took a lease r1 holds: %v, %v", ok, err)
	}
	if ok, err := s.AcquireLease(ctx, id, "r1", time.Hour); err != nil || !ok {
		t.Errorf("r1 could not renew its lease: %v, %v", ok, err)
	}
	must(t, s.ReleaseLease(ctx, id, "r2")) // not the owner: no effect
	if owner, _, _ := s.LeaseHolder(ctx, id); owner != "r1" {
		t.Errorf("ReleaseLease by a non-owner freed the lease (holder %q)", owner)
	}
	must(t, s.ReleaseLease(ctx, id, "r1"))
	if owner, _, _ := s.LeaseHolder(ctx, id); owner != "" {
		t.Errorf("after release, holder %q", owner)
	}

	// Expiry lets another owner take it.
	if ok, err := s.AcquireLease(ctx, id, "r1", 30*time.Millisecond); err != nil || !ok {
		t.Fatalf("r1 acquire: %v, %v", ok, err)
	}
	time.Sleep(60 * time.Millisecond)
	if owner, until, _ := s.LeaseHolder(ctx, id); owner != "r1" || !until.Before(time.Now()) {
		t.Errorf("expired lease reported as %q until %v, want r1 with a past expiry", owner, until)
	}
	if ok, err := s.AcquireLease(ctx, id, "r2", time.Minute); err != nil || !ok {
		t.Errorf("r2 could not take an expired lease: %v, %v", ok, err)
	}

	// StealLease only from the current holder.
	if ok, err := s.StealLease(ctx, id, "r1", "r3", time.Minute); err != nil || ok {
		t.Errorf("stole from a non-holder: %v, %v", ok, err)
	}
	if ok, err := s.StealLease(ctx, id, "r2", "r3", time.Minute); err != nil || !ok {
		t.Errorf("could not take over from the holder: %v, %v", ok, err)
	}
	if owner, _, _ := s.LeaseHolder(ctx, id); owner != "r3" {
		t.Errorf("after take-over, holder %q, want r3", owner)
	}

	if _, err := s.AcquireLease(ctx, id, "", time.Minute); err == nil {
		t.Error("AcquireLease without owner: no error")
	}
	if _, err := s.AcquireLease(ctx, id, "r1", 0); err == nil {
		t.Error("AcquireLease with zero ttl: no error")
	}
}

func testLeaseRace(t *testing.T, newURL func(t *testing.T) string) {
	url := newURL(t)
	s := open(t, url)
	s2 := open(t, url) // a second store, as a second runner process would have
	ctx := t.Context()
	f := newFixture(t, s, "w")
	const n = 8
	var wg sync.WaitGroup
	results := make([]bool, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st := s
			if i%2 == 1 {
				st = s2
			}
			results[i], errs[i] = st.AcquireLease(ctx, f.act.ID, fmt.Sprintf("runner-%d", i), time.Minute)
		}()
	}
	close(start)
	wg.Wait()
	winners := 0
	winner := ""
	for i := range n {
		if errs[i] != nil {
			t.Errorf("runner-%d: %v", i, errs[i])
		}
		if results[i] {
			winners++
			winner = fmt.Sprintf("runner-%d", i)
		}
	}
	if winners != 1 {
		t.Fatalf("%d runners got the lease, want exactly 1", winners)
	}
	if owner, _, _ := s2.LeaseHolder(ctx, f.act.ID); owner != winner {
		t.Errorf("holder %q, winner %q", owner, winner)
	}
}

func testRuns(t *testing.T, newURL func(t *testing.T) string) {
	s := open(t, newURL(t))
	ctx := ctxAs(t, "runner:r1")
	f := newFixture(t, s, "w")

	r1 := &catalog.Run{ActivationID: f.act.ID, RunType: "full", Trigger: "schedule", RunnerID: "r1", StartedAt: ts(0), Status: "bogus"}
	must(t, s.CreateRun(ctx, r1))
	if !strings.HasPrefix(r1.ID, "run_") || r1.Status != catalog.RunRunning || r1.WorkspaceID != f.ws.ID || r1.FinishedAt != nil {
		t.Errorf("CreateRun result %+v", r1)
	}
	got, err := s.GetRun(ctx, r1.ID)
	must(t, err)
	equal(t, "GetRun(running)", got, r1)

	r1.RowsEvaluated, r1.Added, r1.Requests = 1000, 10, 2
	must(t, s.UpdateRunProgress(ctx, r1))
	got, err = s.GetRun(ctx, r1.ID)
	must(t, err)
	if got.RowsEvaluated != 1000 || got.Added != 10 || got.Requests != 2 || got.Status != catalog.RunRunning {
		t.Errorf("after progress: %+v", got)
	}

	r1.Status = catalog.RunWarning
	r1.RowsSkipped, r1.Changed, r1.Removed, r1.Acknowledged, r1.Rejected, r1.Retryable = 3, 4, 5, 15, 2, 1
	r1.ErrorCategory, r1.ErrorMessage = "rejected", "2 records rejected"
	r1.SampleErrors = []catalog.SampleError{{Key: "42", Reason: "invalid email"}, {Key: "43", Reason: "too long"}}
	r1.Warnings = []string{"2 rows rejected"}
	must(t, s.FinishRun(ctx, r1))
	if r1.FinishedAt == nil || r1.FinishedAt.Location() != time.UTC {
		t.Fatalf("FinishRun did not set FinishedAt: %v", r1.FinishedAt)
	}
	got, err = s.GetRun(ctx, r1.ID)
	must(t, err)
	equal(t, "GetRun(finished)", got, r1)
	if err := s.UpdateRunProgress(ctx, r1); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("progress of a finished run: %v, want a not-running error", err)
	}

	r2 := &catalog.Run{ActivationID: f.act.ID, RunType: "delta", Trigger: "manual", StartedAt: ts(10)}
	must(t, s.CreateRun(ctx, r2))
	r3 := &catalog.Run{ActivationID: f.act.ID, RunType: "delta", Trigger: "schedule", StartedAt: ts(20)}
	must(t, s.CreateRun(ctx, r3))
	fin := ts(25)
	r3.Status, r3.FinishedAt = catalog.RunFailed, &fin
	must(t, s.FinishRun(ctx, r3))

	// Another activation's runs stay apart.
	other := &catalog.Activation{WorkspaceID: f.ws.ID, Name: "other", ModelID: f.mdl.ID, DestinationID: f.dst.ID}
	must(t, s.CreateActivation(ctx, other))
	must(t, s.CreateRun(ctx, &catalog.Run{ActivationID: other.ID, StartedAt: ts(30)}))

	runs, err := s.ListRuns(ctx, f.act.ID, 0)
	must(t, err)
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	equal(t, "ListRuns newest first", ids, []string{r3.ID, r2.ID, r1.ID})
	equal(t, "listed failed run", runs[0], *r3)
	runs, err = s.ListRuns(ctx, f.act.ID, 2)
	must(t, err)
	if len(runs) != 2 || runs[0].ID != r3.ID {
		t.Errorf("ListRuns(limit 2) = %d runs", len(runs))
	}

	n, err := s.MarkInterruptedRuns(ctx, f.act.ID)
	must(t, err)
	if n != 1 {
		t.Errorf("MarkInterruptedRuns changed %d runs, want 1 (r2)", n)
	}
	got, err = s.GetRun(ctx, r2.ID)
	must(t, err)
	if got.Status != catalog.RunInterrupted || got.FinishedAt == nil {
		t.Errorf("interrupted run: status %q finished %v", got.Status, got.FinishedAt)
	}
	got, err = s.GetRun(ctx, r3.ID)
	must(t, err)
	if got.Status != catalog.RunFailed {
		t.Errorf("MarkInterruptedRuns touched a finished run: %q", got.Status)
	}
	if n, _ := s.MarkInterruptedRuns(ctx, f.act.ID); n != 0 {
		t.Errorf("second MarkInterruptedRuns changed %d", n)
	}

	audit, err := s.ListAudit(ctx, catalog.AuditFilter{ObjectID: r1.ID})
	must(t, err)
	if len(audit) != 2 || audit[0].Action != "run.finish" || audit[1].Action != "run.start" {
		t.Fatalf("run audit = %+v", audit)
	}
	fe := audit[0]
	if fe.Actor != "runner:r1" || fe.ObjectKind != catalog.KindRun || fe.ObjectName != f.act.Name || fe.WorkspaceID != f.ws.ID {
		t.Errorf("run.finish entry = %+v", fe)
	}
	wantDetails := map[string]any{"status": catalog.RunWarning, "activation_id": f.act.ID, "error_category": "rejected",
		"rows_evaluated": float64(1000), "rows_skipped": float64(3), "added": float64(10), "changed": float64(4), "removed": float64(5),
		"acknowledged": float64(15), "rejected": float64(2), "retryable": float64(1), "requests": float64(2)}
	equal(t, "run.finish details", fe.Details, wantDetails)
}

func testMigrations(t *testing.T, newURL func(t *testing.T) string) {
	url := newURL(t)
	ctx := t.Context()

	// Several processes may open a fresh catalog at once: exactly one migrates.
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]catalog.Store, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = catalog.Open(ctx, url)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("concurrent Open %d: %v", i, errs[i])
		} else {
			must(t, stores[i].Close())
		}
	}

	s1 := open(t, url)
	f := newFixture(t, s1, "w")
	must(t, s1.Close())
	s2 := open(t, url) // reopen: migrations already applied, data intact
	got, err := s2.GetActivation(ctx, f.act.ID)
	must(t, err)
	equal(t, "activation after reopen", got, f.act)
}

func testConcurrentStores(t *testing.T, newURL func(t *testing.T) string) {
	url := newURL(t)
	a, b := open(t, url), open(t, url)
	ctx := t.Context()
	f := newFixture(t, a, "shared")
	const writers, perWriter = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter*3)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := a
			if w%2 == 1 {
				st = b
			}
			for i := range perWriter {
				d := &catalog.Destination{WorkspaceID: f.ws.ID, Name: fmt.Sprintf("d-%d-%d", w, i), Platform: "file"}
				if err := st.CreateDestination(ctx, d); err != nil {
					errs <- err
					continue
				}
				act := &catalog.Activation{WorkspaceID: f.ws.ID, Name: d.Name, SegmentID: f.seg.ID, DestinationID: d.ID}
				if err := st.CreateActivation(ctx, act); err != nil {
					errs <- err
					continue
				}
				r := &catalog.Run{ActivationID: act.ID}
				if err := st.CreateRun(ctx, r); err != nil {
					errs <- err
					continue
				}
				r.Status = catalog.RunSucceeded
				if err := st.FinishRun(ctx, r); err != nil {
					errs <- err
				}
				if _, err := st.ListActivations(ctx, f.ws.ID); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	for _, st := range []catalog.Store{a, b} {
		ds, err := st.ListDestinations(ctx, f.ws.ID)
		must(t, err)
		if len(ds) != writers*perWriter+1 {
			t.Errorf("destinations seen: %d, want %d", len(ds), writers*perWriter+1)
		}
		names := make([]string, 0, len(ds))
		for _, d := range ds {
			names = append(names, d.Name)
		}
		if !sort.StringsAreSorted(names) {
			t.Errorf("ListDestinations not sorted by name")
		}
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

// testTasks covers the runner's tasks: upsert keeps the lease, a due task is claimed by one
// owner only, release stores the next time, runs keep their history until the task is deleted.
func testTasks(t *testing.T, newURL func(t *testing.T) string) {
	s := open(t, newURL(t))
	ctx := t.Context()
	f := newFixture(t, s, "w")
	past, future := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond), time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)

	_, err := s.AcquireTask(ctx, catalog.TaskModelRefresh, f.mdl.ID, "r1", time.Minute, nil)
	wantErr(t, "acquire missing task", err, catalog.ErrNotFound)

	task := &catalog.Task{Kind: catalog.TaskModelRefresh, ObjectID: f.mdl.ID, WorkspaceID: f.ws.ID, Schedule: `{"type":"interval","every":"1h"}`, NextRunAt: &future}
	must(t, s.PutTask(ctx, task))
	// An occurrence is claimed only while it is the task's next one.
	ok, err := s.AcquireTask(ctx, task.Kind, task.ObjectID, "r1", time.Minute, &past)
	must(t, err)
	if ok {
		t.Fatal("an occurrence that is not the task's next one was claimed")
	}
	task.NextRunAt = &past
	must(t, s.PutTask(ctx, task))
	ok, err = s.AcquireTask(ctx, task.Kind, task.ObjectID, "r1", time.Minute, &past)
	must(t, err)
	if !ok {
		t.Fatal("the task's next occurrence, free, was not claimed")
	}
	ok, err = s.AcquireTask(ctx, task.Kind, task.ObjectID, "r2", time.Minute, nil)
	must(t, err)
	if ok {
		t.Fatal("a task held by r1 was claimed by r2")
	}
	// Upserting the schedule leaves the lease alone.
	task.Schedule = `{"type":"interval","every":"2h"}`
	must(t, s.PutTask(ctx, task))
	tasks, err := s.ListTasks(ctx)
	must(t, err)
	if len(tasks) != 1 || tasks[0].LeaseOwner != "r1" || tasks[0].Schedule != task.Schedule || tasks[0].NextRunAt == nil || !tasks[0].NextRunAt.Equal(past) {
		t.Fatalf("tasks after upsert = %+v", tasks)
	}
	// Release by a non-holder changes nothing; by the holder frees it and stores next.
	must(t, s.ReleaseTask(ctx, task.Kind, task.ObjectID, "r2", nil))
	must(t, s.ReleaseTask(ctx, task.Kind, task.ObjectID, "r1", &future))
	tasks, err = s.ListTasks(ctx)
	must(t, err)
	if tasks[0].LeaseOwner != "" || tasks[0].NextRunAt == nil || !tasks[0].NextRunAt.Equal(future) {
		t.Fatalf("task after release = %+v", tasks[0])
	}
	ok, err = s.AcquireTask(ctx, task.Kind, task.ObjectID, "r3", time.Minute, &past)
	must(t, err)
	if ok {
		t.Fatal("an occurrence claimed again after its run moved the task on")
	}
	ok, err = s.AcquireTask(ctx, task.Kind, task.ObjectID, "r2", time.Minute, nil)
	must(t, err)
	if !ok {
		t.Fatal("an on-demand claim of a free task failed")
	}

	// Runs: history per object and per workspace, newest first; interrupted marking.
	r1 := &catalog.TaskRun{Kind: task.Kind, ObjectID: f.mdl.ID, WorkspaceID: f.ws.ID, ObjectName: "customers", RunnerID: "r1", Trigger: "schedule", StartedAt: ts(10)}
	must(t, s.CreateTaskRun(ctx, r1))
	r1.Status, r1.Rows, r1.Message = catalog.RunSucceeded, 42, "refreshed"
	must(t, s.FinishTaskRun(ctx, r1))
	wantErr(t, "finish twice", s.FinishTaskRun(ctx, r1), catalog.ErrNotFound)
	r2 := &catalog.TaskRun{Kind: catalog.TaskSourceStats, ObjectID: f.src.ID, WorkspaceID: f.ws.ID, ObjectName: "warehouse", StartedAt: ts(20)}
	must(t, s.CreateTaskRun(ctx, r2))
	r3 := &catalog.TaskRun{Kind: task.Kind, ObjectID: f.mdl.ID, WorkspaceID: f.ws.ID, StartedAt: ts(30)}
	must(t, s.CreateTaskRun(ctx, r3))
	n, err := s.MarkInterruptedTaskRuns(ctx, task.Kind, f.mdl.ID)
	must(t, err)
	equal(t, "interrupted", n, 1)
	runs, err := s.ListTaskRuns(ctx, f.ws.ID, f.mdl.ID, 0)
	must(t, err)
	if len(runs) != 2 || runs[0].ID != r3.ID || runs[0].Status != catalog.RunInterrupted || runs[1].ID != r1.ID ||
		runs[1].Rows != 42 || runs[1].Message != "refreshed" || runs[1].Status != catalog.RunSucceeded || runs[1].FinishedAt == nil {
		t.Fatalf("model task runs = %+v", runs)
	}
	all, err := s.ListTaskRuns(ctx, f.ws.ID, "", 2)
	must(t, err)
	if len(all) != 2 || all[0].ID != r3.ID || all[1].ID != r2.ID {
		t.Fatalf("workspace task runs (limit 2) = %+v", all)
	}
	must(t, s.DeleteTask(ctx, task.Kind, task.ObjectID))
	tasks, err = s.ListTasks(ctx)
	must(t, err)
	runs, err = s.ListTaskRuns(ctx, f.ws.ID, f.mdl.ID, 0)
	must(t, err)
	if len(tasks) != 0 || len(runs) != 0 {
		t.Fatalf("after delete: %d tasks, %d runs of the model", len(tasks), len(runs))
	}
	must(t, s.DeleteTask(ctx, task.Kind, task.ObjectID)) // idempotent
}
