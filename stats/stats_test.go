package stats

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/bigquery"
	"dinmo/connectors/warehouse/databricks"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/connectors/warehouse/postgres"
	"dinmo/connectors/warehouse/redshift"
	"dinmo/connectors/warehouse/snowflake"
	"dinmo/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Hostile names: the golden files show they are quoted by each dialect.
var (
	goldenModel = Relation{Schema: warehouse.SchemaSegments, Name: `model_x"; --`}
	goldenSeg   = Relation{Schema: warehouse.SchemaSegments, Name: "segment_it's"}
	goldenOther = Relation{Schema: warehouse.SchemaSegments, Name: "segment_b"}
)

// TestGolden pins the SQL of every statement on every engine.
func TestGolden(t *testing.T) {
	for _, d := range []warehouse.Dialect{postgres.NewDialect(), duckdb.NewDialect(), snowflake.NewDialect(), bigquery.NewDialect(), redshift.NewDialect(), databricks.NewDialect()} {
		t.Run(string(d.Engine()), func(t *testing.T) {
			var b strings.Builder
			write := func(name, sql string) { b.WriteString("-- " + name + "\n" + sql + ";\n\n") }
			write("duplicate keys", DuplicateKeySQL(d, goldenModel, `id"`))
			write("duplicate keys of a query", DuplicateKeyQuerySQL(d, "SELECT * FROM t;", `id"`))
			write("size", SizeSQL(d, goldenSeg, goldenModel))
			write("breakdown", BreakdownSQL(d, goldenSeg, "country"))
			write("overlap", OverlapSQL(d, goldenSeg, goldenOther, `id"`))
			for i, s := range HistorySQL(d) {
				write("history "+string(rune('a'+i)), s)
			}
			write("record", RecordSQL(d))
			write("history query", HistoryQuerySQL(d, 10))
			for i, s := range KeyHistorySQL(d) {
				write("key history "+string(rune('a'+i)), s)
			}
			write("record key check", RecordKeyCheckSQL(d))
			file := filepath.Join("testdata", string(d.Engine())+".golden")
			if *update {
				if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file) //nolint:gosec // G304: the test's own golden files
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("SQL differs from %s (run with -update after checking):\n%s", file, b.String())
			}
		})
	}
}

const fixture = `CREATE TABLE people (id INTEGER, country VARCHAR(10), vip BOOLEAN);
INSERT INTO people VALUES (1, 'FR', TRUE), (2, 'FR', FALSE), (3, 'DE', TRUE), (4, NULL, TRUE), (5, 'FR', FALSE), (6, 'ES', FALSE), (7, 'DE', FALSE), (8, 'FR', TRUE), (9, 'IT', FALSE), (10, 'FR', FALSE);
CREATE TABLE dups (id INTEGER);
INSERT INTO dups VALUES (1), (2), (2), (3), (NULL), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16), (17), (18);
CREATE TABLE empty_t (id INTEGER);
CREATE VIEW seg_vip AS SELECT * FROM people WHERE vip;
CREATE VIEW seg_fr AS SELECT * FROM people WHERE country = 'FR';
CREATE VIEW seg_none AS SELECT * FROM people WHERE id < 0`

func run(t *testing.T, w warehouse.Warehouse, schema string) {
	ctx := context.Background()
	d := w.Dialect()
	db := w.DB()
	for _, stmt := range strings.Split(fixture, ";") {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	rel := func(n string) Relation { return Relation{Schema: schema, Name: n} }

	t.Run("duplicate keys", func(t *testing.T) {
		for _, tc := range []struct {
			rel           string
			rows, invalid int64
			share         float64
		}{
			{"people", 10, 0, 0},
			// 20 rows, 18 distinct non-NULL keys: one duplicate of 2 and one NULL.
			{"dups", 20, 2, 0.1},
			{"empty_t", 0, 0, 0},
		} {
			kc, err := DuplicateKeys(ctx, db, d, rel(tc.rel), "id")
			if err != nil {
				t.Fatal(err)
			}
			if kc.Rows != tc.rows || kc.Invalid != tc.invalid || kc.Share != tc.share {
				t.Errorf("%s: got %+v, want rows %d invalid %d share %v", tc.rel, kc, tc.rows, tc.invalid, tc.share)
			}
		}
		kc, err := DuplicateKeysOfQuery(ctx, db, d, "SELECT id FROM dups WHERE id IS NOT NULL", "id")
		if err != nil || kc.Rows != 19 || kc.Invalid != 1 {
			t.Errorf("query: got %+v, %v", kc, err)
		}
		if err := RecordKeyCheck(ctx, db, d, "mdl-1", KeyCheck{Rows: 20, Invalid: 2, Share: 0.1}, time.Now()); err != nil {
			t.Fatal(err)
		}
		var n, invalid int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*), SUM(invalid) FROM dinmo_stats.model_key_checks").Scan(&n, &invalid); err != nil || n != 1 || invalid != 2 {
			t.Errorf("key checks: %d rows, %d invalid, %v", n, invalid, err)
		}
		if _, err := DuplicateKeys(ctx, db, d, rel("people"), "nope"); err == nil || !strings.Contains(err.Error(), `primary key "nope"`) {
			t.Errorf("unknown key: got %v", err)
		}
	})

	t.Run("size and history", func(t *testing.T) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		s, err := SegmentSize(ctx, db, d, rel("seg_vip"), rel("people"), now)
		if err != nil {
			t.Fatal(err)
		}
		if s.Size != 4 || s.ParentSize != 10 || s.Share != 0.4 || !s.ComputedAt.Equal(now) {
			t.Fatalf("size: got %+v", s)
		}
		h, err := History(ctx, w, "seg-1", 5)
		if err != nil || len(h) != 0 {
			t.Fatalf("history before any record: %v, %v", h, err)
		}
		for i := range 3 {
			s.ComputedAt = now.Add(time.Duration(i) * time.Hour)
			s.Size = int64(4 + i)
			if err := Record(ctx, db, d, "seg-1", s); err != nil {
				t.Fatal(err)
			}
		}
		if err := Record(ctx, db, d, "seg-2", s); err != nil {
			t.Fatal(err)
		}
		h, err = History(ctx, w, "seg-1", 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 || h[0].Size != 6 || !h[0].ComputedAt.Equal(now.Add(2*time.Hour)) || h[1].Size != 5 || h[0].Share != 0.6 {
			t.Errorf("history: got %+v", h)
		}
		s, err = SegmentSize(ctx, db, d, rel("seg_none"), rel("empty_t"), now)
		if err != nil || s.Size != 0 || s.Share != 0 {
			t.Errorf("empty: got %+v, %v", s, err)
		}
	})

	t.Run("breakdown", func(t *testing.T) {
		rows, err := Breakdown(ctx, db, d, rel("people"), []string{"country", "vip"}, -1)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			v := r.Value
			if r.Null {
				v = "null"
			}
			got = append(got, r.Field+"="+strings.ToLower(v)+":"+itoa(r.Count)+":"+ftoa(r.Percent))
		}
		want := []string{"country=fr:5:50", "country=de:2:20", "country=es:1:10", "country=it:1:10", "country=null:1:10", "vip=false:6:60", "vip=true:4:40"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("breakdown:\n got %v\nwant %v", got, want)
		}
		if _, err := Breakdown(ctx, db, d, rel("people"), nil, -1); err == nil {
			t.Error("breakdown without fields: no error")
		}
	})

	t.Run("overlap", func(t *testing.T) {
		o, err := Overlaps(ctx, db, d, []Member{{"vip", rel("seg_vip")}, {"fr", rel("seg_fr")}, {"none", rel("seg_none")}}, "id")
		if err != nil {
			t.Fatal(err)
		}
		if o.Sizes["vip"] != 4 || o.Sizes["fr"] != 5 || o.Sizes["none"] != 0 {
			t.Errorf("sizes: %v", o.Sizes)
		}
		want := []Pair{{"vip", "fr", 2, 0.5, 0.4}, {"vip", "none", 0, 0, 0}, {"fr", "none", 0, 0, 0}}
		if len(o.Pairs) != len(want) {
			t.Fatalf("pairs: %+v", o.Pairs)
		}
		for i := range want {
			if o.Pairs[i] != want[i] {
				t.Errorf("pair %d: got %+v, want %+v", i, o.Pairs[i], want[i])
			}
		}
		if _, err := Overlaps(ctx, db, d, []Member{{"vip", rel("seg_vip")}}, "id"); err == nil {
			t.Error("one segment: no error")
		}
		if _, err := Overlaps(ctx, db, d, []Member{{"vip", rel("seg_vip")}, {"vip", rel("seg_vip")}}, "id"); err == nil {
			t.Error("same segment twice: no error")
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func TestDuckDB(t *testing.T) {
	w, err := duckdb.New().Open(t.Context(), warehouse.Config{Settings: map[string]any{duckdb.SettingPath: filepath.Join(t.TempDir(), "stats.duckdb")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	run(t, w, "main")
}

func TestPostgres(t *testing.T) {
	pcfg, err := pgx.ParseConfig(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	w, err := postgres.New().Open(t.Context(), warehouse.Config{
		Settings: map[string]any{
			postgres.SettingHost: pcfg.Host, postgres.SettingPort: int64(pcfg.Port), postgres.SettingDatabase: pcfg.Database,
			postgres.SettingUser: pcfg.User, postgres.SettingSSLMode: "disable",
		},
		Credentials: map[string]string{postgres.CredentialPassword: pcfg.Password},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	run(t, w, "public")
}
