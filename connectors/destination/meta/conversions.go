package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/pii"
)

// EventsRequest is the body of POST /{dataset_id}/events.
type EventsRequest struct {
	Data          []map[string]any `json:"data"`
	TestEventCode string           `json:"test_event_code,omitempty"`
}

// EventsResponse is Meta's answer to an events request.
type EventsResponse struct {
	EventsReceived int             `json:"events_received"`
	Messages       json.RawMessage `json:"messages"`
	FBTraceID      string          `json:"fbtrace_id"`
}

type conversionsDestination struct {
	cfg    *config
	graph  *graphClient
	logger *slog.Logger
	now    func() time.Time

	mu     sync.Mutex
	closed bool
}

var (
	_ destination.Destination    = (*conversionsDestination)(nil)
	_ destination.RequestCounter = (*conversionsDestination)(nil)
)

// Requests returns the number of HTTP requests sent by this destination, retries included.
func (d *conversionsDestination) Requests() int64 { return d.graph.http.Requests() }

// knownConversionFields are the declared fields; others go to custom_data.
var knownConversionFields = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range conversionFields {
		m[f.Name] = true
	}
	return m
}()

// Apply sends a batch of events in one request. Events that Meta would refuse (too old, in
// the future, website events without user agent or URL, no customer information) are
// rejected without being sent, since one bad event makes Meta refuse the whole request.
func (d *conversionsDestination) Apply(ctx context.Context, batch destination.Batch) ([]destination.Outcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, connectors.Permanent(connectors.CategoryInternal, errors.New("meta: Apply called after Close"))
	}
	if n := len(batch.Records); n > d.cfg.batchSize {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("meta: a batch of %d events exceeds the batch size %d", n, d.cfg.batchSize))
	}
	now := d.now()
	outcomes := make([]destination.Outcome, len(batch.Records))
	var sent []int
	var events []map[string]any
	dropped := map[string]int{}
	for i, r := range batch.Records {
		if r.Op != destination.OpEvent {
			outcomes[i] = rejected(fmt.Sprintf("operation %q is not supported by the Conversions API (want event)", r.Op))
			continue
		}
		ev, reason := d.buildEvent(r, now, dropped)
		if reason != "" {
			outcomes[i] = rejected(reason)
			continue
		}
		sent = append(sent, i)
		events = append(events, ev)
	}
	if len(dropped) > 0 {
		d.logger.LogAttrs(ctx, slog.LevelWarn, "meta: invalid values left out of events that had other customer information",
			slog.Any("fields", dropped))
	}
	if len(events) == 0 {
		return outcomes, nil
	}
	start := time.Now()
	b, err := d.graph.do(ctx, http.MethodPost, "/"+d.cfg.pixelID+"/events", nil,
		EventsRequest{Data: events, TestEventCode: d.cfg.testEventCode})
	if err != nil {
		var ge *GraphError
		if errors.As(err, &ge) && ge.Code == codeInvalidParameter && ge.Subcode != subcodeNoObject {
			// Meta refused the request as invalid: reject its events with Meta's reason. They
			// keep their state and are sent again on the next run, once the data is fixed.
			reason := "Meta refused the request: " + ge.Error()
			for _, i := range sent {
				outcomes[i] = rejected(reason)
			}
			d.logger.LogAttrs(ctx, slog.LevelWarn, "meta: the Conversions API refused a batch as invalid",
				slog.Int("events", len(sent)), slog.Int("code", ge.Code), slog.Int("subcode", ge.Subcode),
				slog.String("fbtrace_id", ge.FBTraceID))
			return outcomes, nil
		}
		return nil, fmt.Errorf("meta: sending %d events to dataset %s: %w", len(events), d.cfg.pixelID, err)
	}
	var resp EventsResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		d.logger.LogAttrs(ctx, slog.LevelWarn, "meta: unreadable answer to an accepted events request",
			slog.String("error", err.Error()))
	} else if resp.EventsReceived != len(events) {
		d.logger.LogAttrs(ctx, slog.LevelWarn, "meta: the Conversions API received fewer events than were sent",
			slog.Int("sent", len(events)), slog.Int("events_received", resp.EventsReceived),
			slog.String("fbtrace_id", resp.FBTraceID))
	}
	for _, i := range sent {
		outcomes[i] = destination.Outcome{Status: destination.Acknowledged}
	}
	d.logger.LogAttrs(ctx, slog.LevelDebug, "meta events sent", slog.String("dataset_id", d.cfg.pixelID),
		slog.Int("events", len(events)), slog.Int("events_received", resp.EventsReceived),
		slog.Int("rejected_locally", len(batch.Records)-len(events)), slog.Duration("duration", time.Since(start)))
	return outcomes, nil
}

// buildEvent maps one record to a server event, or says why it cannot be sent.
func (d *conversionsDestination) buildEvent(r destination.Record, now time.Time, dropped map[string]int) (map[string]any, string) {
	f := r.Fields
	at, reason := eventTime(f[FieldEventTime])
	if reason != "" {
		return nil, reason
	}
	switch oldest := now.Add(-(MaxEventAge - EventAgeMargin)); {
	case at.Before(oldest):
		return nil, fmt.Sprintf("event_time %s is more than 7 days old (less an hour of margin): Meta refuses such events",
			at.UTC().Format(time.RFC3339))
	case at.After(now.Add(MaxClockSkew)):
		return nil, fmt.Sprintf("event_time %s is in the future", at.UTC().Format(time.RFC3339))
	}
	eventID := r.Key
	if v, ok := f[FieldEventID]; ok && v != nil {
		s, ok := pii.ValueString(v)
		if !ok || strings.TrimSpace(s) == "" {
			return nil, "event_id must be non-empty text"
		}
		eventID = strings.TrimSpace(s)
	}
	if eventID == "" {
		return nil, "the event has no event_id and an empty record key"
	}
	ev := map[string]any{
		"event_name":    d.cfg.eventName,
		"event_time":    at.Unix(),
		"event_id":      eventID,
		"action_source": d.cfg.actionSource,
	}
	if s := textField(f, FieldEventSourceURL); s != "" {
		ev["event_source_url"] = s
	}
	user := map[string]any{}
	problems := map[string]string{}
	for _, k := range userDataKeys {
		v, ok := f[k.field]
		if !ok || v == nil {
			continue
		}
		s, ok := pii.ValueString(v)
		if !ok {
			problems[k.field] = fmt.Sprintf("%s: a %T value cannot be read as text", k.field, v)
			continue
		}
		h, err := pii.HashNormalized(fieldSpec(conversionFields, k.field).PII, s, d.cfg.piiOpts)
		switch {
		case errors.Is(err, pii.ErrEmpty):
			continue
		case err != nil:
			problems[k.field] = err.Error()
			continue
		}
		if k.array {
			user[k.key] = []string{h}
		} else {
			user[k.key] = h
		}
	}
	if ip := textField(f, FieldClientIPAddress); ip != "" {
		if net.ParseIP(ip) == nil {
			problems[FieldClientIPAddress] = "client_ip_address is not an IPv4 or IPv6 address"
		} else {
			user["client_ip_address"] = ip
		}
	}
	for _, k := range []string{FieldClientUserAgent, FieldFBC, FieldFBP} {
		if s := textField(f, k); s != "" {
			user[k] = s
		}
	}
	hasIdentifier := false
	for _, k := range []string{"em", "ph", "external_id", "fbc", "fbp", "client_ip_address"} {
		if _, ok := user[k]; ok {
			hasIdentifier = true
		}
	}
	if !hasIdentifier {
		if len(problems) > 0 {
			return nil, "no usable customer information: " + joinProblems(problems)
		}
		return nil, "no customer information to match the event: set one of " + strings.Join(conversionIdentifiers, ", ")
	}
	for k := range problems {
		dropped[k]++
	}
	if d.cfg.actionSource == "website" {
		if _, ok := user["client_user_agent"]; !ok {
			return nil, "website events need client_user_agent"
		}
		if _, ok := ev["event_source_url"]; !ok {
			return nil, "website events need event_source_url"
		}
	}
	ev["user_data"] = user
	custom, reason := customData(f)
	if reason != "" {
		return nil, reason
	}
	if len(custom) > 0 {
		ev["custom_data"] = custom
	}
	if d.cfg.limitedDataUse {
		ev["data_processing_options"] = []string{"LDU"}
		ev["data_processing_options_country"] = 0
		ev["data_processing_options_state"] = 0
	}
	return ev, ""
}

// customData builds custom_data from value, currency, order_id, content_ids and the custom
// fields of the mapping.
func customData(f map[string]any) (map[string]any, string) {
	custom := map[string]any{}
	if v, ok := f[FieldValue]; ok && v != nil {
		n, ok := number(v)
		if !ok {
			return nil, "value must be a number"
		}
		custom["value"] = n
		cur := textField(f, FieldCurrency)
		if cur == "" {
			return nil, "currency is required with value"
		}
	}
	if cur := textField(f, FieldCurrency); cur != "" {
		if len(cur) != 3 || strings.Trim(strings.ToLower(cur), "abcdefghijklmnopqrstuvwxyz") != "" {
			return nil, "currency must be a three-letter ISO 4217 code such as EUR"
		}
		custom["currency"] = strings.ToLower(cur)
	}
	if s := textField(f, FieldOrderID); s != "" {
		custom["order_id"] = s
	}
	if v, ok := f[FieldContentIDs]; ok && v != nil {
		ids, ok := stringList(v)
		if !ok {
			return nil, "content_ids must be a list of ids or comma-separated text"
		}
		if len(ids) > 0 {
			custom["content_ids"] = ids
		}
	}
	names := make([]string, 0, len(f))
	for k := range f {
		if !knownConversionFields[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		if f[k] == nil {
			continue
		}
		custom[k] = destination.JSONValue(f[k])
	}
	return custom, ""
}

// eventTime reads event_time: a time, RFC 3339 text, or Unix seconds.
func eventTime(v any) (time.Time, string) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, "event_time is required"
	case time.Time:
		return x, ""
	case *time.Time:
		if x == nil {
			return time.Time{}, "event_time is required"
		}
		return *x, ""
	case string:
		s := strings.TrimSpace(x)
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, ""
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0), ""
		}
		return time.Time{}, "event_time must be a timestamp, RFC 3339 text or Unix seconds"
	}
	if n, ok := number(v); ok && !math.IsInf(n, 0) && math.Abs(n) < 1e12 {
		return time.Unix(int64(n), 0), ""
	}
	return time.Time{}, "event_time must be a timestamp, RFC 3339 text or Unix seconds"
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return number(float64(x))
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func stringList(v any) ([]string, bool) {
	var out []string
	switch x := v.(type) {
	case string:
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, true
	case []string:
		for _, p := range x {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, true
	case []any:
		for _, e := range x {
			s, ok := pii.ValueString(e)
			if !ok {
				return nil, false
			}
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, true
	}
	return nil, false
}

// textField returns a field's value as trimmed text ("" when absent or not text).
func textField(f map[string]any, name string) string {
	s, _ := pii.ValueString(f[name])
	return strings.TrimSpace(s)
}

func joinProblems(problems map[string]string) string {
	keys := make([]string, 0, len(problems))
	for k := range problems {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	msgs := make([]string, len(keys))
	for i, k := range keys {
		msgs[i] = problems[k]
	}
	return strings.Join(msgs, "; ")
}

// Close releases the HTTP connections; every batch was final when Apply returned. Close is
// idempotent; Apply after Close fails.
func (d *conversionsDestination) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.graph.http.CloseIdleConnections()
	return nil
}
