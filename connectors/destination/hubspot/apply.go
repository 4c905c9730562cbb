package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/httpx"
	"dinmo/connectors/pii"
)

// endpoint is one of the batch write endpoints.
type endpoint string

const (
	epUpsert endpoint = "upsert"
	epCreate endpoint = "create"
	epUpdate endpoint = "update"
)

// endpoints in the order a batch mixing operations is sent.
var endpoints = []endpoint{epUpsert, epCreate, epUpdate}

var opEndpoint = map[destination.Operation]endpoint{
	destination.OpUpsert: epUpsert,
	destination.OpInsert: epCreate,
	destination.OpUpdate: epUpdate,
}

type hubspotDestination struct {
	cfg    *config
	logger *slog.Logger
	client *client

	mu     sync.Mutex
	seq    int
	closed bool
}

var (
	_ destination.Destination    = (*hubspotDestination)(nil)
	_ destination.RequestCounter = (*hubspotDestination)(nil)
)

// Requests returns the number of HTTP requests sent by this destination, retries included.
func (d *hubspotDestination) Requests() int64 { return d.client.http.Requests() }

// Close releases the HTTP connections. Every batch was final when Apply returned. Close is
// idempotent; Apply after Close fails.
func (d *hubspotDestination) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.client.http.CloseIdleConnections()
	return nil
}

// input is one record ready to send.
type input struct {
	idx   int // index of the record in the batch
	id    string
	props map[string]string
	trace string // objectWriteTraceId
}

// run is the state of one Apply call.
type run struct {
	d        *hubspotDestination
	seq      int
	outcomes []destination.Outcome
	acked    int // records acknowledged by HubSpot so far
	requests int
}

// Apply sends one batch and returns one outcome per record. Records are grouped by operation
// (upsert, insert → create, update) and sent as one request per group; records repeating a
// matching value already in the request go in a follow-up request, since HubSpot refuses
// duplicate ids in one batch. Records that cannot be sent (no matching value, an invalid
// e-mail, a value HubSpot cannot store) are rejected without being sent.
//
// A non-nil error means nothing of the batch is known to be applied: credentials, a
// configuration HubSpot refuses for every record, or a transport failure on the first
// request. A failure after some records were acknowledged leaves the others Retryable.
func (d *hubspotDestination) Apply(ctx context.Context, batch destination.Batch) ([]destination.Outcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, connectors.Permanent(connectors.CategoryInternal, errClosed)
	}
	if n := len(batch.Records); n > d.cfg.batchSize {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("hubspot: a batch of %d records exceeds the batch size %d (HubSpot takes at most %d records per request)", n, d.cfg.batchSize, MaxBatchSize))
	}
	d.seq++
	r := &run{d: d, seq: d.seq, outcomes: make([]destination.Outcome, len(batch.Records))}
	start := time.Now()
	groups, err := r.prepare(batch.Records)
	if err != nil {
		return nil, err
	}
	for _, ep := range endpoints {
		for _, round := range rounds(groups[ep]) {
			if err := r.send(ctx, ep, round); err != nil {
				if r.acked == 0 {
					return nil, err
				}
				r.leaveRetryable(err)
				d.logBatch(ctx, r, time.Since(start))
				return r.outcomes, nil
			}
		}
	}
	d.logBatch(ctx, r, time.Since(start))
	return r.outcomes, nil
}

// prepare turns records into inputs per endpoint, rejecting those that cannot be sent. A
// batch none of whose records carries the matching property at all means the mappings do not
// target it: that is a configuration error, not a fault of each record.
func (r *run) prepare(records []destination.Record) (map[endpoint][]*input, error) {
	cfg := r.d.cfg
	groups := map[endpoint][]*input{}
	candidates, unmapped := 0, 0
	for i, rec := range records {
		ep, ok := opEndpoint[rec.Op]
		if !ok {
			r.reject(i, fmt.Sprintf("operation %q is not supported: HubSpot services create and update records (sync modes insert, update and upsert)", rec.Op))
			continue
		}
		candidates++
		if _, mapped := rec.Fields[cfg.idProperty]; !mapped {
			unmapped++
		}
		in, reason := r.buildInput(i, rec)
		if reason != "" {
			r.reject(i, reason)
			continue
		}
		groups[ep] = append(groups[ep], in)
	}
	if candidates > 0 && unmapped == candidates {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("hubspot: the activation's mappings do not target the matching property %q (option %q): map a model column to it",
				cfg.idProperty, OptionIDProperty))
	}
	return groups, nil
}

// buildInput converts a record's fields to HubSpot property strings, or says why it cannot.
// Reasons name fields, never values.
func (r *run) buildInput(i int, rec destination.Record) (*input, string) {
	cfg := r.d.cfg
	svc, _ := spec.Service(cfg.service)
	props := make(map[string]string, len(rec.Fields)+1)
	names := make([]string, 0, len(rec.Fields))
	for name := range rec.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" {
			return nil, "a mapping targets an empty property name"
		}
		s, err := propertyValue(rec.Fields[name])
		if err != nil {
			return nil, fmt.Sprintf("field %q: %v", name, err)
		}
		if rule := piiRule(svc, name); rule != "" && s != "" {
			norm, err := pii.Normalize(rule, s, pii.Options{})
			if err != nil {
				return nil, fmt.Sprintf("field %q: %v", name, err)
			}
			s = norm
		}
		props[name] = s
	}
	id := strings.TrimSpace(props[cfg.idProperty])
	if id == "" {
		return nil, fmt.Sprintf("the record has no value for the matching property %q, so HubSpot cannot identify it", cfg.idProperty)
	}
	props[cfg.idProperty] = id
	return &input{idx: i, id: id, props: props, trace: fmt.Sprintf("dinmo-%d-%d", r.seq, i)}, ""
}

// piiRule returns the normalisation rule the service declares for a field.
func piiRule(svc destination.ServiceSpec, name string) string {
	for _, f := range svc.Fields {
		if f.Name == name {
			return f.PII
		}
	}
	return ""
}

// propertyValue renders a record value the way HubSpot stores properties: as a string.
func propertyValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil // an empty string clears the property
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int8, int16, int32, int64:
		return fmt.Sprintf("%d", x), nil
	case uint, uint8, uint16, uint32, uint64:
		return fmt.Sprintf("%d", x), nil
	case float32:
		return formatFloat(float64(x), 32)
	case float64:
		return formatFloat(x, 64)
	case json.Number:
		return x.String(), nil
	case time.Time:
		return formatTime(x), nil
	case *time.Time:
		if x == nil {
			return "", nil
		}
		return formatTime(*x), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if e == nil {
				continue
			}
			switch e.(type) {
			case []any, map[string]any:
				return "", errors.New("a list holds a list or an object; HubSpot multiple-option properties take a list of values")
			}
			s, err := propertyValue(e)
			if err != nil {
				return "", err
			}
			if strings.Contains(s, ";") {
				return "", errors.New("a list value contains \";\", the separator of HubSpot multiple-option values")
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ";"), nil
	case []string:
		items := make([]any, len(x))
		for i, s := range x {
			items[i] = s
		}
		return propertyValue(items)
	case map[string]any:
		b, err := json.Marshal(destination.JSONValue(x))
		if err != nil {
			return "", fmt.Errorf("the object cannot be encoded as JSON text: %w", err)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("values of type %T cannot be sent to HubSpot", v)
}

func formatFloat(f float64, bits int) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", errors.New("the number is not finite (NaN or infinity)")
	}
	return strconv.FormatFloat(f, 'f', -1, bits), nil
}

// formatTime renders a timestamp for HubSpot: ISO 8601 in UTC with milliseconds, or the ISO
// date when it is exactly midnight UTC (how a DATE column arrives), which HubSpot's date
// properties require and its datetime properties accept.
func formatTime(t time.Time) string {
	t = t.UTC()
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format(time.DateOnly)
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// rounds splits inputs so that no request repeats a matching value: the first occurrence of
// each value goes in the first round, the second in the next, and so on. HubSpot refuses a
// batch with duplicate ids; sending them in order keeps the last record's values, as two
// batches would.
func rounds(inputs []*input) [][]*input {
	var out [][]*input
	seen := map[string]int{}
	for _, in := range inputs {
		n := seen[in.id]
		seen[in.id] = n + 1
		if n == len(out) {
			out = append(out, nil)
		}
		out[n] = append(out[n], in)
	}
	return out
}

// wireInput is one element of "inputs"; the fields sent depend on the endpoint.
type wireInput struct {
	ID                 string            `json:"id,omitempty"`
	IDProperty         string            `json:"idProperty,omitempty"`
	Properties         map[string]string `json:"properties"`
	ObjectWriteTraceID string            `json:"objectWriteTraceId"`
}

type wireBatch struct {
	Inputs []wireInput `json:"inputs"`
}

func (r *run) body(ep endpoint, inputs []*input) wireBatch {
	cfg := r.d.cfg
	b := wireBatch{Inputs: make([]wireInput, len(inputs))}
	for i, in := range inputs {
		w := wireInput{Properties: in.props, ObjectWriteTraceID: in.trace}
		if ep != epCreate {
			w.ID, w.IDProperty = in.id, cfg.idProperty
		}
		b.Inputs[i] = w
	}
	return b
}

// send posts inputs to one batch endpoint and records their outcomes. Requests HubSpot
// refuses whole because of some of their records are split until those are isolated.
func (r *run) send(ctx context.Context, ep endpoint, inputs []*input) error {
	if len(inputs) == 0 {
		return nil
	}
	cfg := r.d.cfg
	path := "/crm/v3/objects/" + url.PathEscape(cfg.objectType) + "/batch/" + string(ep)
	r.requests++
	status, body, err := r.d.client.call(ctx, http.MethodPost, path, r.body(ep, inputs))
	if err != nil {
		return err
	}
	r.d.logRequest(ctx, r.seq, ep, len(inputs), status)
	switch {
	case status == http.StatusMultiStatus:
		r.mapMultiStatus(ep, inputs, body)
		return nil
	case status >= 200 && status < 300:
		for _, in := range inputs {
			r.ack(in.idx)
		}
		return nil
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return r.d.client.credentialsError(fmt.Sprintf("%s of %d %s", ep, len(inputs), cfg.objectType), status, body)
	case status < 400 || status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		return fmt.Errorf("hubspot: %s of %d %s: %w", ep, len(inputs), cfg.objectType,
			httpx.Classify(status, []byte(r.d.client.http.Redact(string(body)))))
	}
	e := parseAPIError(body)
	summary := r.d.client.http.Redact(e.summary())
	if e.isConfigError() {
		return connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("hubspot: HubSpot refused the %s of %d %s because of the configuration (HTTP %d, %s): check the mappings' property names (internal names of writable %s properties) and option %q",
				ep, len(inputs), cfg.objectType, status, summary, cfg.objectType, OptionIDProperty))
	}
	recordLevel := e.isRecordError(status) || (ep == epUpdate && e.Category == "OBJECT_NOT_FOUND")
	if recordLevel {
		if named, rest := r.named(e, inputs); len(named) > 0 {
			for _, in := range named {
				r.reject(in.idx, r.reason(ep, e, summary))
			}
			return r.send(ctx, ep, rest)
		}
		if len(inputs) == 1 {
			r.reject(inputs[0].idx, r.reason(ep, e, summary))
			return nil
		}
		half := len(inputs) / 2
		if err := r.send(ctx, ep, inputs[:half]); err != nil {
			return err
		}
		return r.send(ctx, ep, inputs[half:])
	}
	cat := connectors.CategoryConfiguration
	if status == http.StatusNotFound {
		cat = connectors.CategoryNotFound
	}
	return connectors.Permanent(cat, fmt.Errorf("hubspot: HubSpot refused the %s of %d %s (HTTP %d, %s): check the object type, option %q and the mappings",
		ep, len(inputs), cfg.objectType, status, summary, OptionIDProperty))
}

// named splits inputs into those a whole-request error names in its context and the others.
func (r *run) named(e apiError, inputs []*input) (named, rest []*input) {
	idx := newInputIndex(inputs)
	hit := map[*input]bool{}
	for _, v := range e.contextValues(r.d.cfg.idProperty) {
		if in := idx.lookup(v); in != nil {
			hit[in] = true
		}
	}
	for _, in := range inputs {
		if hit[in] {
			named = append(named, in)
		} else {
			rest = append(rest, in)
		}
	}
	return named, rest
}

// reason is the rejection reason of a record HubSpot refused with e.
func (r *run) reason(ep endpoint, e apiError, summary string) string {
	prop := r.d.cfg.idProperty
	switch {
	case ep == epUpdate && e.Category == "OBJECT_NOT_FOUND":
		return fmt.Sprintf("no HubSpot record has this %s (update never creates records): %s", prop, summary)
	case ep == epCreate && e.Category == "CONFLICT":
		return fmt.Sprintf("a HubSpot record with this %s already exists (insert never modifies records): %s", prop, summary)
	}
	return summary
}

// inputIndex finds the input an id of HubSpot's answer refers to: a matching value (exactly,
// or case-insensitively since HubSpot lowercases e-mails) or an objectWriteTraceId.
type inputIndex struct {
	byID    map[string]*input
	byFold  map[string]*input
	byTrace map[string]*input
}

func newInputIndex(inputs []*input) inputIndex {
	x := inputIndex{byID: map[string]*input{}, byFold: map[string]*input{}, byTrace: map[string]*input{}}
	for _, in := range inputs {
		x.byID[in.id] = in
		x.byFold[strings.ToLower(in.id)] = in
		x.byTrace[in.trace] = in
	}
	return x
}

func (x inputIndex) lookup(v string) *input {
	if in := x.byID[v]; in != nil {
		return in
	}
	if in := x.byTrace[v]; in != nil {
		return in
	}
	return x.byFold[strings.ToLower(v)]
}

// multiStatus is the body of a 207 answer.
type multiStatus struct {
	Status  string `json:"status"`
	Results []struct {
		ID                 string             `json:"id"`
		ObjectWriteTraceID string             `json:"objectWriteTraceId"`
		Properties         map[string]*string `json:"properties"`
	} `json:"results"`
	NumErrors int        `json:"numErrors"`
	Errors    []apiError `json:"errors"`
}

// mapMultiStatus gives each input its outcome from a 207 answer: inputs named by an error's
// context are rejected with its message (or retryable when it is transient); the others are
// acknowledged. When an error names no input, only inputs the results confirm (by trace id or
// matching value) are acknowledged and the rest are left retryable, since one of them failed.
func (r *run) mapMultiStatus(ep endpoint, inputs []*input, body []byte) {
	var ms multiStatus
	if err := json.Unmarshal(body, &ms); err != nil {
		for _, in := range inputs {
			r.retry(in.idx, "HubSpot answered 207 with an unreadable body: "+err.Error())
		}
		return
	}
	idx := newInputIndex(inputs)
	failed := map[*input]apiError{}
	var unmatched []apiError
	for _, e := range ms.Errors {
		matched := false
		for _, v := range e.contextValues(r.d.cfg.idProperty) {
			if in := idx.lookup(v); in != nil {
				if _, dup := failed[in]; !dup {
					failed[in] = e
				}
				matched = true
			}
		}
		if !matched {
			unmatched = append(unmatched, e)
		}
	}
	confirmed := map[*input]bool{}
	for _, res := range ms.Results {
		if in := idx.byTrace[res.ObjectWriteTraceID]; in != nil && res.ObjectWriteTraceID != "" {
			confirmed[in] = true
			continue
		}
		if v := res.Properties[r.d.cfg.idProperty]; v != nil {
			if in := idx.lookup(*v); in != nil {
				confirmed[in] = true
			}
		}
	}
	for _, in := range inputs {
		if e, ok := failed[in]; ok {
			summary := r.d.client.http.Redact(e.summary())
			if e.isTransient() {
				r.retry(in.idx, "HubSpot could not apply it now: "+summary)
			} else {
				r.reject(in.idx, r.reason(ep, e, summary))
			}
			continue
		}
		if len(unmatched) > 0 && !confirmed[in] {
			r.retry(in.idx, "HubSpot reported an error that names no record, and did not confirm this one: "+
				r.d.client.http.Redact(unmatched[0].summary()))
			continue
		}
		r.ack(in.idx)
	}
}

func (r *run) ack(i int) {
	r.outcomes[i] = destination.Outcome{Status: destination.Acknowledged}
	r.acked++
}

func (r *run) reject(i int, reason string) {
	r.outcomes[i] = destination.Outcome{Status: destination.Rejected, Reason: reason}
}

func (r *run) retry(i int, reason string) {
	r.outcomes[i] = destination.Outcome{Status: destination.Retryable, Reason: reason}
}

// leaveRetryable gives every record without an outcome a Retryable one naming err.
func (r *run) leaveRetryable(err error) {
	reason := "not sent after an earlier request of the batch failed: " + err.Error()
	for i, o := range r.outcomes {
		if o.Status == "" {
			r.retry(i, reason)
		}
	}
}

func (d *hubspotDestination) logRequest(ctx context.Context, seq int, ep endpoint, inputs, status int) {
	if !d.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	d.logger.LogAttrs(ctx, slog.LevelDebug, "hubspot request answered", slog.Int("batch", seq),
		slog.String("endpoint", string(ep)), slog.String("object_type", d.cfg.objectType),
		slog.Int("inputs", inputs), slog.Int("status", status))
}

func (d *hubspotDestination) logBatch(ctx context.Context, r *run, dur time.Duration) {
	if !d.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	var ack, rej, retry int
	for _, o := range r.outcomes {
		switch o.Status {
		case destination.Acknowledged:
			ack++
		case destination.Rejected:
			rej++
		case destination.Retryable:
			retry++
		}
	}
	d.logger.LogAttrs(ctx, slog.LevelDebug, "hubspot batch applied", slog.Int("batch", r.seq),
		slog.String("object_type", d.cfg.objectType), slog.Int("requests", r.requests), slog.Duration("duration", dur),
		slog.Int("acknowledged", ack), slog.Int("rejected", rej), slog.Int("retryable", retry))
}
