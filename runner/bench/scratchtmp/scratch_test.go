package scratchtmp

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/duckdb"
)

func TestMem(t *testing.T) {
	path := os.Getenv("SCRATCH_DB")
	if path == "" {
		t.Skip()
	}
	ctx := context.Background()
	_, statErr := os.Stat(path)
	w, err := duckdb.New().Open(ctx, warehouse.Config{Settings: map[string]any{duckdb.SettingPath: path}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	db := w.DB()
	db.SetMaxOpenConns(1)
	run := func(q string) {
		t0 := time.Now()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		l := q
		if len(l) > 70 {
			l = l[:70]
		}
		fmt.Printf("%7.2f s %s\n", time.Since(t0).Seconds(), strings.ReplaceAll(l, "\n", " "))
	}
	if statErr != nil {
		b, _ := os.ReadFile("/tmp/dgen.sql")
		for _, q := range strings.Split(strings.ReplaceAll(string(b), "1000001", os.Getenv("SCRATCH_N")), ";\n") {
			if q = strings.TrimSpace(q); q != "" {
				run(q)
			}
		}
	}
	if m := os.Getenv("MEMLIMIT"); m != "" {
		run("SET memory_limit = '" + m + "'")
	}
	if th := os.Getenv("THREADS"); th != "" {
		run("SET threads = " + th)
	}
	run("DROP TABLE IF EXISTS dinmo_delta_storage.d1")
	run(`CREATE TABLE dinmo_delta_storage.d1 AS SELECT CASE WHEN s.k IS NULL THEN 'added' WHEN r.k IS NULL THEN 'removed' ELSE 'changed' END AS kind, COALESCE(r.k, s.k) AS k, r.h, r.email, r.score FROM (SELECT CAST(id AS VARCHAR) AS k, hash(email, first_name, last_name, phone, country, city, score, lifetime_value, created_at, vip) AS h, email, first_name, last_name, phone, country, city, score, lifetime_value, created_at, vip FROM dinmo_segments.seg) r FULL OUTER JOIN dinmo_delta_storage.snap s ON r.k = s.k WHERE r.k IS NULL OR s.k IS NULL OR r.h <> s.h`)
	run("SELECT COUNT(*), COUNT(id), COUNT(DISTINCT id) FROM dinmo_segments.seg")
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM") {
			fmt.Println(l)
		}
	}
}
