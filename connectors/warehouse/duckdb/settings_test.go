package duckdb

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "192MB", want: 192_000_000},
		{in: "192 mb", want: 192_000_000},
		{in: "1.5GB", want: 1_500_000_000},
		{in: "64MiB", want: 64 << 20},
		{in: "2GiB", want: 2 << 30},
		{in: "512KiB", want: 512 << 10},
		{in: "1TB", want: 1e12},
		{in: "100000B", want: 100_000},
		{in: " 96MiB ", want: 96 << 20},
		{in: "100", bad: true},
		{in: "MB", bad: true},
		{in: "-5MB", bad: true},
		{in: "5 parsecs", bad: true},
		{in: "80%", bad: true},
		{in: "", bad: true},
		{in: "1e3MB", bad: true},
		{in: "99999999999TB", bad: true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		switch {
		case tt.bad && err == nil:
			t.Errorf("parseSize(%q) = %d, want an error", tt.in, got)
		case !tt.bad && (err != nil || got != tt.want):
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestSettingsValidated(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "x.db")
	tests := []struct {
		name     string
		settings map[string]any
		contains []string
	}{
		{"memory_limit without unit", map[string]any{SettingMemoryLimit: "100"}, []string{`"memory_limit"`, "not a memory size"}},
		{"memory_limit unknown unit", map[string]any{SettingMemoryLimit: "5 parsecs"}, []string{`"memory_limit"`, "not a memory size"}},
		{"memory_limit too small", map[string]any{SettingMemoryLimit: "1MB"}, []string{`"memory_limit"`, "at least 16MB"}},
		{"memory_limit not a string", map[string]any{SettingMemoryLimit: int64(5)}, []string{`"memory_limit"`, "must be a string"}},
		{"threads zero", map[string]any{SettingThreads: int64(0)}, []string{`"threads"`, "between 1 and 1024"}},
		{"threads too many", map[string]any{SettingThreads: int64(5000)}, []string{`"threads"`, "between 1 and 1024"}},
		{"threads not a number", map[string]any{SettingThreads: "many"}, []string{`"threads"`, "must be an integer"}},
		{"temp_directory is a file", map[string]any{SettingTempDirectory: file}, []string{`"temp_directory"`, "is a file"}},
		{"temp_directory parent missing", map[string]any{SettingTempDirectory: filepath.Join(dir, "no", "spill")}, []string{`"temp_directory"`, "does not exist"}},
		{"temp_directory blank", map[string]any{SettingTempDirectory: "  "}, []string{`"temp_directory"`, "must be a directory path"}},
		{"path with #", map[string]any{SettingPath: filepath.Join(dir, "a#b.db")}, []string{`'#'`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := map[string]any{SettingPath: db}
			for k, v := range tt.settings {
				settings[k] = v
			}
			w, err := New().Open(context.Background(), warehouse.Config{Settings: settings}, nil)
			if err == nil {
				_ = w.Close()
				t.Fatal("Open succeeded")
			}
			if connectors.CategoryOf(err) != connectors.CategoryConfiguration || connectors.IsRetryable(err) {
				t.Errorf("category = %s (retryable %v): %v", connectors.CategoryOf(err), connectors.IsRetryable(err), err)
			}
			for _, c := range tt.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("error %q does not contain %s", err, c)
				}
			}
			if len(instances) != 0 {
				t.Errorf("a refused open left %d instances", len(instances))
			}
		})
	}
}

// settingsOf reads the instance settings DuckDB applied.
func settingsOf(t *testing.T, w *Warehouse) (memoryLimit, threads, tempDirectory string) {
	t.Helper()
	q := "SELECT current_setting('memory_limit'), CAST(current_setting('threads') AS VARCHAR), current_setting('temp_directory')"
	if err := w.DB().QueryRowContext(t.Context(), q).Scan(&memoryLimit, &threads, &tempDirectory); err != nil {
		t.Fatal(err)
	}
	return memoryLimit, threads, tempDirectory
}

func TestSettingsApplied(t *testing.T) {
	dir := t.TempDir()
	t.Run("defaults", func(t *testing.T) {
		path := filepath.Join(dir, "defaults.db")
		w := open(t, path)
		mem, threads, tmp := settingsOf(t, w)
		// DefaultMemoryLimit, 192MB, is 183.1 MiB, as DuckDB prints it.
		if mem != "183.1 MiB" {
			t.Errorf("memory_limit = %q, want 183.1 MiB (%s)", mem, DefaultMemoryLimit)
		}
		if want := fmt.Sprint(min(runtime.NumCPU(), 4)); threads != want {
			t.Errorf("threads = %s, want %s", threads, want)
		}
		if tmp != path+".tmp" {
			t.Errorf("temp_directory = %q, want DuckDB's default %q", tmp, path+".tmp")
		}
	})
	t.Run("set", func(t *testing.T) {
		spill := filepath.Join(dir, "spill")
		w := open(t, filepath.Join(dir, "set.db"), SettingMemoryLimit, "96MiB", SettingThreads, int64(3), SettingTempDirectory, spill)
		mem, threads, tmp := settingsOf(t, w)
		if mem != "96.0 MiB" || threads != "3" || tmp != spill {
			t.Errorf("settings = %q, %s, %q; want 96.0 MiB, 3, %q", mem, threads, tmp, spill)
		}
	})
	t.Run("memory", func(t *testing.T) {
		w := open(t, MemoryPath, SettingMemoryLimit, "1GiB", SettingThreads, int64(1))
		mem, threads, _ := settingsOf(t, w)
		if mem != "1.0 GiB" || threads != "1" {
			t.Errorf("settings of %s = %q, %s; want 1.0 GiB, 1", MemoryPath, mem, threads)
		}
	})
	t.Run("read-only", func(t *testing.T) {
		path := filepath.Join(dir, "ro.db")
		w := open(t, path)
		exec(t, w.DB(), "CREATE TABLE t AS SELECT 1 AS x")
		_ = w.Close()
		ro := open(t, path, SettingReadOnly, true, SettingMemoryLimit, "64MiB")
		if mem, _, _ := settingsOf(t, ro); mem != "64.0 MiB" {
			t.Errorf("memory_limit = %q, want 64.0 MiB", mem)
		}
		if _, err := ro.DB().ExecContext(t.Context(), "CREATE TABLE u (a INTEGER)"); err == nil {
			t.Error("write to a read-only database succeeded")
		}
	})
}

// TestMemoryLimitSpills checks that a query larger than memory_limit runs by spilling into
// temp_directory rather than failing.
func TestMemoryLimitSpills(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: aggregates a few million rows")
	}
	dir := t.TempDir()
	spill := filepath.Join(dir, "spill")
	w := open(t, filepath.Join(dir, "spill.db"), SettingMemoryLimit, "32MB", SettingThreads, int64(1), SettingTempDirectory, spill)
	// 2M groups of a hash aggregate: about 100MB, far more than 32MB.
	q := "SELECT COUNT(*) FROM (SELECT i % 2000000 AS g, COUNT(*) AS c FROM range(4000000) t(i) GROUP BY g)"
	var n int64
	if err := w.DB().QueryRowContext(t.Context(), q).Scan(&n); err != nil {
		t.Fatalf("a query over memory_limit: %v", err)
	}
	if n != 2_000_000 {
		t.Errorf("count = %d", n)
	}
	if info, err := os.Stat(spill); err != nil || !info.IsDir() {
		t.Errorf("nothing was spilled into temp_directory %s: %v", spill, err)
	}
}

// TestSettingsConflict: an open asking for other settings while the file is open in the
// process joins the instance as it is (a runner must not fail the runs in progress when a
// source's settings change) and logs a warning naming the differences; once the file is
// closed, it opens with the new settings.
func TestSettingsConflict(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "conflict.db")
	a := open(t, path, SettingMemoryLimit, "64MB", SettingThreads, int64(2))
	// The same values, spelled differently, join the instance without a warning.
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	var joined []*Warehouse
	join := func(settings ...any) *Warehouse {
		t.Helper()
		cfg := warehouse.Config{Settings: map[string]any{SettingPath: path}}
		for i := 0; i+1 < len(settings); i += 2 {
			name, ok := settings[i].(string)
			if !ok {
				t.Fatalf("setting name %v is a %T, want string", settings[i], settings[i])
			}
			cfg.Settings[name] = settings[i+1]
		}
		w, err := New().Open(ctx, cfg, logger)
		if err != nil {
			t.Fatalf("open with %v: %v", settings, err)
		}
		t.Cleanup(func() { _ = w.Close() })
		dw, ok := w.(*Warehouse)
		if !ok {
			t.Fatalf("Open returned a %T", w)
		}
		joined = append(joined, dw)
		return dw
	}
	b := join(SettingMemoryLimit, "64 mb", SettingThreads, "2")
	if a.DB() != b.DB() || logs.Len() != 0 {
		t.Fatalf("opens with the same settings: same pool %v, logs %q", a.DB() == b.DB(), logs.String())
	}
	for _, tt := range []struct {
		name     string
		settings []any
		contains string
	}{
		{"memory_limit", []any{SettingMemoryLimit, "128MB", SettingThreads, int64(2)}, `memory_limit \"64MB\" (asked \"128MB\")`},
		{"defaults", nil, `memory_limit \"64MB\" (asked \"` + DefaultMemoryLimit + `\")`},
		{"threads", []any{SettingMemoryLimit, "64MB", SettingThreads, int64(1)}, "threads 2 (asked 1)"},
		{"temp_directory", []any{SettingMemoryLimit, "64MB", SettingThreads, int64(2), SettingTempDirectory, dir}, `temp_directory \"\" (asked \"` + dir + `\")`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			w := join(tt.settings...)
			if w.DB() != a.DB() {
				t.Fatal("an open with other settings got another pool")
			}
			if mem, threads, _ := settingsOf(t, w); mem != "61.0 MiB" || threads != "2" {
				t.Errorf("the joined instance's settings changed: %s, %s", mem, threads)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), tt.contains) {
				t.Errorf("warning %q does not contain %q", logs.String(), tt.contains)
			}
		})
	}
	// Shared joins whatever the instance was opened with.
	db, release, err := Shared(path)
	if err != nil {
		t.Fatalf("Shared of an instance opened with other settings: %v", err)
	}
	if db != a.DB() {
		t.Error("Shared got another pool")
	}
	release()
	// Once every holder closed the file, it opens with new settings.
	_ = a.Close()
	for _, w := range joined {
		_ = w.Close()
	}
	c := open(t, path, SettingMemoryLimit, "128MiB")
	if mem, _, _ := settingsOf(t, c); mem != "128.0 MiB" {
		t.Errorf("memory_limit after reopening = %q, want 128.0 MiB", mem)
	}
}

// TestOutOfMemoryNamesTheSetting: a statement that needs more than memory_limit fails with a
// permanent configuration error that names the setting to raise (running it again would need
// the same memory).
func TestOutOfMemoryNamesTheSetting(t *testing.T) {
	w := open(t, filepath.Join(t.TempDir(), "oom.db"), SettingMemoryLimit, "20MB", SettingThreads, int64(1))
	var n int64
	err := w.DB().QueryRowContext(t.Context(), "SELECT len(list(i)) FROM range(50000000) t(i)").Scan(&n)
	if err == nil {
		t.Fatalf("a 50M-element list fitted in 20MB (%d)", n)
	}
	got := w.ClassifyError(t.Context(), err)
	if connectors.CategoryOf(got) != connectors.CategoryConfiguration || connectors.IsRetryable(got) ||
		!strings.Contains(got.Error(), "raise the source's memory_limit") {
		t.Fatalf("classified as %s (retryable %v): %v", connectors.CategoryOf(got), connectors.IsRetryable(got), got)
	}
}
