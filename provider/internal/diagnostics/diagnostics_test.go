package diagnostics

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
)

func TestDetail(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		what, todo string
		err        error
		want       string
	}{
		{"It failed.", "Retry.", cause, "It failed.\n\nRetry.\n\nCause: boom"},
		{"It failed.", "", nil, "It failed."},
		{"", "Retry.", cause, "Retry.\n\nCause: boom"},
	}
	for _, tt := range tests {
		if got := Detail(tt.what, tt.todo, tt.err); got != tt.want {
			t.Errorf("Detail(%q, %q, %v) = %q, want %q", tt.what, tt.todo, tt.err, got, tt.want)
		}
	}
}

func TestAddAttributeError(t *testing.T) {
	var d diag.Diagnostics
	AddAttributeError(&d, path.Root("sql"), "Cannot Create Model", "The SQL is wrong.", "Fix it.", errors.New("syntax error"))
	if len(d) != 1 || d[0].Summary() != "Cannot Create Model" {
		t.Fatalf("got %v", d)
	}
	wp, ok := d[0].(diag.DiagnosticWithPath)
	if !ok || !wp.Path().Equal(path.Root("sql")) {
		t.Errorf("diagnostic has no path sql: %#v", d[0])
	}
	if !strings.HasSuffix(d[0].Detail(), "Cause: syntax error") {
		t.Errorf("cause must come last: %q", d[0].Detail())
	}
}

func TestRedact(t *testing.T) {
	sentinel := errors.New("auth failed")
	err := fmt.Errorf("connect with password s3cr3t-pw: %w", sentinel)
	r := Redact(err, "s3cr3t-pw", "")
	if strings.Contains(r.Error(), "s3cr3t-pw") {
		t.Errorf("secret still in %q", r.Error())
	}
	if !strings.Contains(r.Error(), "(redacted)") {
		t.Errorf("no redaction marker in %q", r.Error())
	}
	if !errors.Is(r, sentinel) {
		t.Error("redaction must keep the error chain")
	}
	if got := Redact(err, "absent"); got.Error() != err.Error() {
		t.Error("an error without secrets must be returned unchanged")
	}
	if Redact(nil, "x") != nil {
		t.Error("nil must stay nil")
	}
}
