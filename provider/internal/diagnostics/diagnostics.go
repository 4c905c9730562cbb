// Package diagnostics builds every error and warning the dinmo provider shows, so they all read
// the same way: a short Title Case summary naming the action that failed, then a detail that
// says what happened, what to do about it, and the underlying cause last.
//
// Callers never pass secrets here; errors from connectors are redacted by the caller with
// Redact before they reach a diagnostic.
package diagnostics

import (
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
)

// Detail joins what happened, what to do and the cause into one detail text. Empty parts are
// left out, so each helper below can be used with or without an error.
func Detail(what, todo string, err error) string {
	var parts []string
	if what = strings.TrimSpace(what); what != "" {
		parts = append(parts, what)
	}
	if todo = strings.TrimSpace(todo); todo != "" {
		parts = append(parts, todo)
	}
	if err != nil {
		parts = append(parts, "Cause: "+err.Error())
	}
	return strings.Join(parts, "\n\n")
}

// AddError adds an error that concerns the resource as a whole (a catalog or warehouse
// failure, not one attribute's value).
func AddError(d *diag.Diagnostics, summary, what, todo string, err error) {
	d.AddError(summary, Detail(what, todo, err))
}

// AddAttributeError adds an error pointing at the attribute whose value is at fault, so
// Terraform underlines it in the configuration.
func AddAttributeError(d *diag.Diagnostics, p path.Path, summary, what, todo string, err error) {
	d.AddAttributeError(p, summary, Detail(what, todo, err))
}

// AddWarning adds a warning: the operation went on, but the user should know something.
func AddWarning(d *diag.Diagnostics, summary, what, todo string, err error) {
	d.AddWarning(summary, Detail(what, todo, err))
}

// AddAttributeWarning adds a warning pointing at one attribute.
func AddAttributeWarning(d *diag.Diagnostics, p path.Path, summary, what, todo string, err error) {
	d.AddAttributeWarning(p, summary, Detail(what, todo, err))
}

// redactedError keeps the error chain (errors.Is and errors.As still work) while its text has
// every secret replaced.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Redact returns err with every occurrence of the given secret values in its text replaced by
// "(redacted)". Connectors promise never to put credentials in errors; this is the second
// line of defence for messages that come from drivers and servers we do not control.
func Redact(err error, secretValues ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secretValues {
		if s == "" || !strings.Contains(msg, s) {
			continue
		}
		msg = strings.ReplaceAll(msg, s, "(redacted)")
		changed = true
	}
	if !changed {
		return err
	}
	return &redactedError{msg: msg, err: err}
}
