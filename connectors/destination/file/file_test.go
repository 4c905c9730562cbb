package file

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
)

var started = time.Date(2025, 6, 7, 8, 9, 10, 0, time.FixedZone("X", 2*3600))

func params(dir string, settings map[string]any) destination.OpenParams {
	s := map[string]any{SettingDirectory: dir}
	for k, v := range settings {
		s[k] = v
	}
	return destination.OpenParams{
		Service: ServiceRecords, Settings: s, RunID: "run-42", ActivationID: "act-1",
		ActivationName: "VIP customers/EU", StartedAt: started,
	}
}

func open(t *testing.T, p destination.OpenParams) *fileDestination {
	t.Helper()
	d, err := New().Open(context.Background(), p)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	fd, ok := d.(*fileDestination)
	if !ok {
		t.Fatalf("Open returned %T", d)
	}
	return fd
}

func apply(t *testing.T, d destination.Destination, recs ...destination.Record) []destination.Outcome {
	t.Helper()
	out, err := d.Apply(context.Background(), destination.Batch{RunID: "run-42", Records: recs})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(out) != len(recs) {
		t.Fatalf("%d outcomes for %d records", len(out), len(recs))
	}
	return out
}

func statuses(out []destination.Outcome) string {
	var b strings.Builder
	for _, o := range out {
		b.WriteString(string(o.Status)[:1])
	}
	return b.String()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path) //nolint:gosec // reads back a file the test just wrote in its temp dir
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJSONLinesAreDurableWhenAcknowledged(t *testing.T) {
	dir := t.TempDir()
	d := open(t, params(dir, nil))
	at := time.Date(2025, 1, 2, 3, 4, 5, 600, time.FixedZone("Y", -5*3600))
	out := apply(t, d,
		destination.Record{Key: "1", Op: destination.OpUpsert, Fields: map[string]any{"email": "a<b>@x.io", "at": at, "n": int64(7), "none": nil}},
		destination.Record{Key: "2", Op: destination.OpDelete},
		destination.Record{Key: "3", Op: destination.OpEvent, Fields: map[string]any{"props": map[string]any{"t": at, "l": []any{1.5, true}}}},
	)
	if statuses(out) != "aaa" {
		t.Fatalf("outcomes = %+v", out)
	}
	want := filepath.Join(dir, "VIP_customers_EU-20250607T060910Z-run-42.jsonl")
	if d.path != want {
		t.Fatalf("path = %s, want %s", d.path, want)
	}
	// Read before Close: acknowledged records must already be in the file.
	lines := strings.Split(strings.TrimSuffix(readFile(t, want), "\n"), "\n")
	wantLines := []string{
		`{"op":"upsert","key":"1","fields":{"at":"2025-01-02T08:04:05.0000006Z","email":"a<b>@x.io","n":7,"none":null}}`,
		`{"op":"delete","key":"2","fields":{}}`,
		`{"op":"event","key":"3","fields":{"props":{"l":[1.5,true],"t":"2025-01-02T08:04:05.0000006Z"}}}`,
	}
	if strings.Join(lines, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("file =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
	apply(t, d, destination.Record{Key: "4", Op: destination.OpAdd, Fields: map[string]any{}})
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n := strings.Count(readFile(t, want), "\n"); n != 4 {
		t.Errorf("%d lines, want 4", n)
	}
	if _, err := d.Apply(context.Background(), destination.Batch{Records: []destination.Record{{Key: "5", Op: destination.OpAdd}}}); err == nil {
		t.Errorf("Apply after Close succeeded")
	}
	info, _ := os.Stat(want)
	if info.Mode().Perm() != fileMode {
		t.Errorf("file mode = %v, want %v", info.Mode().Perm(), fileMode)
	}
}

func TestNoFileForARunWithoutRecords(t *testing.T) {
	dir := t.TempDir()
	d := open(t, params(dir, nil))
	if out := apply(t, d); len(out) != 0 {
		t.Fatal(out)
	}
	// Only invalid records: nothing written either.
	apply(t, d, destination.Record{Key: "", Op: destination.OpUpsert})
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("directory holds %v, want no file", entries)
	}
}

func TestCSVHeaderValuesAndUnknownFields(t *testing.T) {
	dir := t.TempDir()
	d := open(t, params(dir, map[string]any{SettingFormat: FormatCSV, SettingFilePrefix: "audit"}))
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	out := apply(t, d,
		destination.Record{Key: "1", Op: destination.OpUpsert, Fields: map[string]any{"email": "a@x.io", "n": int64(1)}},
		destination.Record{Key: "2", Op: destination.OpUpsert, Fields: map[string]any{"email": "b,\"q\"\nx", "age": 3.25, "at": at}},
		destination.Record{Key: "3", Op: destination.OpUpsert, Fields: map[string]any{"op": "x"}},
	)
	if statuses(out) != "aar" || !strings.Contains(out[2].Reason, `"op"`) {
		t.Fatalf("first batch outcomes = %+v", out)
	}
	out = apply(t, d,
		destination.Record{Key: "4", Op: destination.OpUpsert, Fields: map[string]any{"email": "d@x.io", "phone": "+33"}},
		destination.Record{Key: "5", Op: destination.OpDelete, Fields: map[string]any{"n": nil, "at": map[string]any{"k": []any{"v"}}, "age": true}},
		destination.Record{Key: "6", Op: destination.OpUpsert, Fields: map[string]any{"age": math.Inf(1), "n": int64(-2)}},
	)
	if statuses(out) != "raa" {
		t.Fatalf("second batch outcomes = %+v", out)
	}
	if !strings.Contains(out[0].Reason, `field "phone" is not a column`) || !strings.Contains(out[0].Reason, "age, at, email, n") {
		t.Errorf("unknown-field reason = %q", out[0].Reason)
	}
	path := filepath.Join(dir, "audit-20250607T060910Z-run-42.csv")
	rows, err := csv.NewReader(strings.NewReader(readFile(t, path))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"op", "key", "age", "at", "email", "n"},
		{"upsert", "1", "", "", "a@x.io", "1"},
		{"upsert", "2", "3.25", "2025-01-02T03:04:05Z", "b,\"q\"\nx", ""},
		{"delete", "5", "true", `{"k":["v"]}`, "", ""},
		{"upsert", "6", "+Inf", "", "", "-2"},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows = %q", rows)
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d = %q, want %q", i, rows[i], want[i])
		}
	}
}

func TestResumedRunAppendsAndRepairsTail(t *testing.T) {
	for _, format := range []string{FormatJSONL, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			p := params(dir, map[string]any{SettingFormat: format})
			d := open(t, p)
			apply(t, d, destination.Record{Key: "1", Op: destination.OpUpsert, Fields: map[string]any{"a": "x"}})
			path := d.path
			_ = d.Close(context.Background())
			// A crash left half a line behind.
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0) //nolint:gosec // the run's file in the test's temp dir
			if err != nil {
				t.Fatal(err)
			}
			_, _ = f.WriteString(`{"op":"ups`)
			_ = f.Close()

			d2 := open(t, p)
			out := apply(t, d2,
				destination.Record{Key: "2", Op: destination.OpUpsert, Fields: map[string]any{"a": "y"}},
				destination.Record{Key: "3", Op: destination.OpUpsert, Fields: map[string]any{"b": "z"}},
			)
			if statuses(out) != "ar" && format == FormatCSV {
				t.Errorf("csv: outcomes %+v; the existing header must fix the columns", out)
			}
			_ = d2.Close(context.Background())
			got := readFile(t, path)
			if strings.Contains(got, `{"op":"ups`+"\n") || strings.Contains(got, `"ups{`) || !strings.HasSuffix(got, "\n") {
				t.Errorf("partial line not cut:\n%s", got)
			}
			wantLines := map[string]int{FormatJSONL: 3, FormatCSV: 3} // jsonl: 1,2,3; csv: header,1,2
			if n := strings.Count(got, "\n"); n != wantLines[format] {
				t.Errorf("%d lines, want %d:\n%s", n, wantLines[format], got)
			}
			if format == FormatJSONL {
				for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
					if !json.Valid([]byte(line)) {
						t.Errorf("invalid JSON line %q", line)
					}
				}
			}
		})
	}
}

func TestRejectedRecordsAndLimits(t *testing.T) {
	dir := t.TempDir()
	d := open(t, params(dir, map[string]any{SettingBatchSize: int64(3)}))
	out := apply(t, d,
		destination.Record{Key: "", Op: destination.OpUpsert},
		destination.Record{Key: "x", Op: "merge"},
		destination.Record{Key: "y", Op: destination.OpUpsert, Fields: map[string]any{"v": math.NaN()}},
	)
	if statuses(out) != "rrr" {
		t.Errorf("outcomes = %+v", out)
	}
	for _, o := range out {
		if o.Reason == "" {
			t.Errorf("rejected without reason: %+v", o)
		}
	}
	_, err := d.Apply(context.Background(), destination.Batch{Records: make([]destination.Record, 4)})
	if connectors.CategoryOf(err) != connectors.CategoryConfiguration || connectors.IsRetryable(err) {
		t.Errorf("oversized batch: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = d.Apply(ctx, destination.Batch{Records: []destination.Record{{Key: "k", Op: destination.OpUpsert}}})
	if err == nil || !connectors.IsRetryable(err) {
		t.Errorf("cancelled Apply: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files written: %v", entries)
	}
}

func TestWriteFailureKeepsNothingOfTheBatch(t *testing.T) {
	dir := t.TempDir()
	d := open(t, params(dir, nil))
	apply(t, d, destination.Record{Key: "1", Op: destination.OpUpsert})
	before := readFile(t, d.path)
	// Swap in a read-only handle: the next write fails.
	ro, err := os.Open(d.path)
	if err != nil {
		t.Fatal(err)
	}
	rw := d.f
	d.f = ro
	_, err = d.Apply(context.Background(), destination.Batch{Records: []destination.Record{{Key: "2", Op: destination.OpUpsert}}})
	if err == nil || !connectors.IsRetryable(err) {
		t.Errorf("failed write: err = %v, want a retryable error", err)
	}
	d.f = rw
	_ = ro.Close()
	if got := readFile(t, d.path); got != before {
		t.Errorf("file changed after a failed write:\n%s", got)
	}
}

func TestFileNameIsSafe(t *testing.T) {
	cases := []struct{ prefix, run, want string }{
		{"VIP customers", "r1", "VIP_customers-20250607T060910Z-r1.csv"},
		{"../../etc/passwd", "../x", "_.._etc_passwd-20250607T060910Z-_x.csv"},
		{"", "", "dinmo-20250607T060910Z-run.csv"},
		{"été", "a/b", "_t_-20250607T060910Z-a_b.csv"},
	}
	for _, tc := range cases {
		got := FileName(tc.prefix, started, tc.run, FormatCSV)
		if got != tc.want {
			t.Errorf("FileName(%q, %q) = %q, want %q", tc.prefix, tc.run, got, tc.want)
		}
		if strings.ContainsRune(got, filepath.Separator) || strings.HasPrefix(got, ".") {
			t.Errorf("unsafe name %q", got)
		}
	}
}

func TestCheck(t *testing.T) {
	p := New()
	dir := t.TempDir()
	if err := p.Check(context.Background(), params(dir, nil)); err != nil {
		t.Errorf("writable dir: %v", err)
	}
	missing := filepath.Join(dir, "a", "b")
	if err := p.Check(context.Background(), params(missing, nil)); err != nil {
		t.Errorf("creatable dir: %v", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("Check created the directory")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Check left files behind: %v", entries)
	}
	regular := filepath.Join(dir, "file.txt")
	if err := os.WriteFile(regular, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{regular, filepath.Join(regular, "sub")} {
		err := p.Check(context.Background(), params(bad, nil))
		if connectors.CategoryOf(err) != connectors.CategoryConfiguration || connectors.IsRetryable(err) {
			t.Errorf("Check(%s) = %v, want a permanent configuration error", bad, err)
		}
		if _, err := p.Open(context.Background(), params(bad, nil)); err == nil {
			t.Errorf("Open(%s) succeeded", bad)
		}
	}
	for name, settings := range map[string]map[string]any{
		"missing directory": {SettingDirectory: nil},
		"bad format":        {SettingFormat: "xml"},
		"bad batch size":    {SettingBatchSize: int64(100001)},
	} {
		pp := params(dir, settings)
		if settings[SettingDirectory] == nil {
			delete(pp.Settings, SettingDirectory)
		}
		if err := p.Check(context.Background(), pp); connectors.CategoryOf(err) != connectors.CategoryConfiguration {
			t.Errorf("%s: Check = %v", name, err)
		}
	}
	if _, err := p.Open(context.Background(), destination.OpenParams{Service: "lists", Settings: map[string]any{SettingDirectory: dir}}); err == nil {
		t.Errorf("Open of an unknown service succeeded")
	}
}

func TestCheckUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: permission bits do not stop root from writing (the not-a-directory case is covered by TestCheck)")
	}
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) }) //nolint:gosec // restores a directory's traversal bit so TempDir can clean up
	for _, target := range []string{dir, filepath.Join(dir, "sub")} {
		err := New().Check(context.Background(), params(target, nil))
		if connectors.CategoryOf(err) != connectors.CategoryConfiguration || !strings.Contains(err.Error(), "write access") {
			t.Errorf("Check(%s) = %v, want a configuration error about write access", target, err)
		}
	}
}

func TestSpecIsValid(t *testing.T) {
	s := New().Spec()
	if err := connectors.ValidateFields(s.Settings); err != nil {
		t.Fatal(err)
	}
	svc, ok := s.Service(ServiceRecords)
	if !ok || svc.MaxBatchSize != 100000 || svc.DefaultBatchSize != 1000 || !svc.SupportsMode(destination.ModeEvents) {
		t.Errorf("service = %+v", svc)
	}
	if got := destination.BatchSize(svc, map[string]any{}); got != 1000 {
		t.Errorf("default batch size = %d", got)
	}
	if s.Description == "" || s.Platform != Name {
		t.Errorf("spec = %+v", s)
	}
}
