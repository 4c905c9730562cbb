package tflogslog

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-log/tflog"
	"github.com/hashicorp/terraform-plugin-log/tflogtest"
)

func TestForwardsToTflog(t *testing.T) {
	var out bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &out)
	ctx = tflog.MaskAllFieldValuesStrings(ctx, "hunter2")

	logger := New(ctx).With("engine", "duckdb").WithGroup("q")
	logger.Warn("query failed", slog.Int("rows", 3), slog.String("secret", "hunter2"))

	entries, err := tflogtest.MultilineJSONDecode(&out)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("got %d entries, want 1: %s", len(entries), out.String())
	}
	e := entries[0]
	if e["@message"] != "query failed" || e["@level"] != "warn" {
		t.Errorf("message or level wrong: %v", e)
	}
	if e["engine"] != "duckdb" || e["q.rows"] != float64(3) {
		t.Errorf("attributes not forwarded with their group: %v", e)
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Errorf("masked value leaked: %s", out.String())
	}
}
