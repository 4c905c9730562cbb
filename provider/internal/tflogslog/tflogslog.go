// Package tflogslog forwards a connector's log/slog records to terraform-plugin-log, so
// connector logs land where Terraform collects provider logs (TF_LOG, TF_LOG_PATH) with the
// request's masking rules applied. Connectors take a *slog.Logger and know nothing of tflog.
package tflogslog

import (
	"context"
	"log/slog"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// New returns a logger whose records go to tflog through ctx, the request context holding
// Terraform's logging sink and any field masks. Records logged without a context (logger.Info)
// use ctx; records logged with one still use ctx, since only it carries the sink.
func New(ctx context.Context) *slog.Logger {
	return slog.New(&handler{ctx: ctx})
}

type handler struct {
	ctx    context.Context
	attrs  []slog.Attr
	groups []string
}

func (h *handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	fields := make(map[string]any, len(h.attrs)+r.NumAttrs())
	for _, a := range h.attrs {
		addAttr(fields, "", a)
	}
	prefix := groupPrefix(h.groups)
	r.Attrs(func(a slog.Attr) bool {
		addAttr(fields, prefix, a)
		return true
	})
	switch {
	case r.Level >= slog.LevelError:
		tflog.Error(h.ctx, r.Message, fields)
	case r.Level >= slog.LevelWarn:
		tflog.Warn(h.ctx, r.Message, fields)
	case r.Level >= slog.LevelInfo:
		tflog.Info(h.ctx, r.Message, fields)
	case r.Level >= slog.LevelDebug:
		tflog.Debug(h.ctx, r.Message, fields)
	default:
		tflog.Trace(h.ctx, r.Message, fields)
	}
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	prefix := groupPrefix(h.groups)
	n.attrs = append([]slog.Attr{}, h.attrs...)
	for _, a := range as {
		n.attrs = append(n.attrs, slog.Attr{Key: prefix + a.Key, Value: a.Value})
	}
	return &n
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.groups = append(append([]string{}, h.groups...), name)
	return &n
}

func groupPrefix(groups []string) string {
	p := ""
	for _, g := range groups {
		p += g + "."
	}
	return p
}

func addAttr(fields map[string]any, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			addAttr(fields, p, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	fields[prefix+a.Key] = v.Any()
}
