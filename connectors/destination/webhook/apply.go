package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/httpx"
)

// maxResponseBody bounds how much of an answer is read (per-record results included).
const maxResponseBody = 16 << 20

// Payload is the JSON body of one request. Receivers may decode into it.
type Payload struct {
	ActivationID   string          `json:"activation_id"`
	ActivationName string          `json:"activation_name"`
	RunID          string          `json:"run_id"`
	Batch          int             `json:"batch"`
	SentAt         string          `json:"sent_at"`
	Records        []PayloadRecord `json:"records"`
}

// PayloadRecord is one record of a Payload. Op is one of the destination operations
// (insert, update, upsert, delete, add, remove, event); Fields is always an object.
type PayloadRecord struct {
	Key    string         `json:"key"`
	Op     string         `json:"op"`
	Fields map[string]any `json:"fields"`
}

// Response is the optional JSON answer through which a receiver reports per-record outcomes.
// Keys not listed are acknowledged.
type Response struct {
	Results []Result `json:"results"`
}

// Result is the outcome of one record in a Response. Status is "acknowledged", "rejected"
// (permanent, Reason says why) or "retryable" (send again later).
type Result struct {
	Key    string `json:"key"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// wireRecord keeps the key order stable in the body: key, op, fields.
type wireRecord struct {
	Key    string          `json:"key"`
	Op     string          `json:"op"`
	Fields json.RawMessage `json:"fields"`
}

var validOps = map[destination.Operation]bool{
	destination.OpInsert: true, destination.OpUpdate: true, destination.OpUpsert: true, destination.OpDelete: true,
	destination.OpAdd: true, destination.OpRemove: true, destination.OpEvent: true,
}

type webhookDestination struct {
	cfg    *config
	params destination.OpenParams
	logger *slog.Logger
	client *httpx.Client

	mu     sync.Mutex
	seq    int
	closed bool
}

var (
	_ destination.Destination    = (*webhookDestination)(nil)
	_ destination.RequestCounter = (*webhookDestination)(nil)
)

// Requests returns the number of HTTP requests sent by this destination, retries included.
func (d *webhookDestination) Requests() int64 { return d.client.Requests() }

// Apply sends one batch as one POST (retried inside the shared transport) and maps the
// answer to one outcome per record. Records with an empty key, an unknown operation or
// fields that cannot be encoded as JSON are rejected without being sent.
func (d *webhookDestination) Apply(ctx context.Context, batch destination.Batch) ([]destination.Outcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, connectors.Permanent(connectors.CategoryInternal, errors.New("webhook: Apply called after Close"))
	}
	if n := len(batch.Records); n > d.cfg.batchSize {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("webhook: a batch of %d records exceeds the batch size %d", n, d.cfg.batchSize))
	}
	d.seq++
	seq := d.seq
	outcomes := make([]destination.Outcome, len(batch.Records))
	sent := make([]int, 0, len(batch.Records)) // indexes of records in the body
	wire := make([]wireRecord, 0, len(batch.Records))
	for i, r := range batch.Records {
		switch {
		case r.Key == "":
			outcomes[i] = rejected("the record has an empty key")
			continue
		case !validOps[r.Op]:
			outcomes[i] = rejected(fmt.Sprintf("operation %q is not supported by the webhook", r.Op))
			continue
		}
		fields, err := json.Marshal(destination.JSONFields(r.Fields))
		if err != nil {
			outcomes[i] = rejected("a field value cannot be encoded as JSON: " + err.Error())
			continue
		}
		sent = append(sent, i)
		wire = append(wire, wireRecord{Key: r.Key, Op: string(r.Op), Fields: fields})
	}
	if len(wire) == 0 {
		return outcomes, nil
	}
	runID := batch.RunID
	if runID == "" {
		runID = d.params.RunID
	}
	activationID := batch.ActivationID
	if activationID == "" {
		activationID = d.params.ActivationID
	}
	records, err := json.Marshal(wire)
	if err != nil {
		return nil, connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("webhook: encoding batch %d: %w", seq, err))
	}
	body, err := json.Marshal(struct {
		ActivationID   string          `json:"activation_id"`
		ActivationName string          `json:"activation_name"`
		RunID          string          `json:"run_id"`
		Batch          int             `json:"batch"`
		SentAt         string          `json:"sent_at"`
		Records        json.RawMessage `json:"records"`
	}{activationID, d.params.ActivationName, runID, seq, destination.FormatTime(time.Now()), records})
	if err != nil {
		return nil, connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("webhook: encoding batch %d: %w", seq, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.url.String(), bytes.NewReader(body))
	if err != nil {
		return nil, connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf("webhook: building request: %w", err))
	}
	for k, v := range d.cfg.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, idempotencyKey(runID, seq, records))
	req.Header.Set(HeaderRunID, runID)
	req.Header.Set(HeaderActivationID, activationID)
	if d.cfg.bearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+d.cfg.bearerToken)
	}
	start := time.Now()
	resp, err := d.client.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("webhook: sending batch %d: %w", seq, err)
	}
	respBody, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	_ = resp.Body.Close()
	if readErr != nil {
		// The endpoint may have applied the batch; sending it again is safe because the
		// Idempotency-Key lets it recognise the duplicate.
		return nil, connectors.Retryable(connectors.CategoryConnection,
			fmt.Errorf("webhook: reading the answer to batch %d: %s", seq, d.client.Redact(readErr.Error())))
	}
	if err := d.mapAnswer(seq, resp.StatusCode, respBody, batch.Records, sent, outcomes); err != nil {
		return nil, err
	}
	d.logBatch(ctx, seq, resp.StatusCode, time.Since(start), outcomes)
	return outcomes, nil
}

// mapAnswer fills outcomes[sent...] from the endpoint's answer, or returns a whole-batch error.
func (d *webhookDestination) mapAnswer(seq, status int, body []byte, records []destination.Record, sent []int, outcomes []destination.Outcome) error {
	switch {
	case status >= 200 && status < 300:
		results, err := parseResults(body)
		if err != nil {
			reason := "the endpoint answered " + strconv.Itoa(status) + " with an unreadable results list: " + err.Error()
			for _, i := range sent {
				outcomes[i] = rejected(reason)
			}
			return nil
		}
		for _, i := range sent {
			outcomes[i] = destination.Outcome{Status: destination.Acknowledged}
			if r, ok := results[records[i].Key]; ok {
				outcomes[i] = d.resultOutcome(r)
			}
		}
		return nil
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		reason := (&httpx.StatusError{StatusCode: status, Snippet: d.client.Redact(httpx.Snippet(body))}).Error()
		for _, i := range sent {
			outcomes[i] = rejected(reason)
		}
		return nil
	case status == http.StatusRequestEntityTooLarge:
		return connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("webhook: the endpoint refused batch %d of %d records as too large (HTTP 413): lower the %q setting", seq, len(sent), SettingBatchSize))
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("webhook: the endpoint refused the credentials of batch %d (check bearer_token and signing_secret): %w",
			seq, httpx.Classify(status, []byte(d.client.Redact(string(body)))))
	}
	return fmt.Errorf("webhook: batch %d: %w", seq, httpx.Classify(status, []byte(d.client.Redact(string(body)))))
}

// parseResults returns the per-key results of a 2xx answer: none for an empty or non-JSON
// body, or a JSON value without "results".
func parseResults(body []byte) (map[string]Result, error) {
	top := jsonObject(body)
	raw, ok := top["results"]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var list []Result
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("\"results\" must be a list of {key, status, reason}: %w", err)
	}
	out := make(map[string]Result, len(list))
	for _, r := range list {
		out[r.Key] = r
	}
	return out, nil
}

// jsonObject decodes body as a JSON object, or returns nil when it is not one (empty, plain
// text, a list): such an answer carries no per-record results.
func jsonObject(body []byte) map[string]json.RawMessage {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil
	}
	return top
}

func (d *webhookDestination) resultOutcome(r Result) destination.Outcome {
	reason := d.client.Redact(httpx.Snippet([]byte(r.Reason)))
	switch destination.Status(r.Status) {
	case destination.Acknowledged:
		return destination.Outcome{Status: destination.Acknowledged}
	case destination.Rejected:
		if reason == "" {
			reason = "rejected by the endpoint"
		}
		return rejected(reason)
	case destination.Retryable:
		if reason == "" {
			reason = "the endpoint asked to send it again"
		}
		return destination.Outcome{Status: destination.Retryable, Reason: reason}
	}
	return rejected(fmt.Sprintf("the endpoint answered an unknown status %q (want acknowledged, rejected or retryable)", httpx.Snippet([]byte(r.Status))))
}

func (d *webhookDestination) logBatch(ctx context.Context, seq, status int, dur time.Duration, outcomes []destination.Outcome) {
	if !d.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	var ack, rej, retry int
	for _, o := range outcomes {
		switch o.Status {
		case destination.Acknowledged:
			ack++
		case destination.Rejected:
			rej++
		case destination.Retryable:
			retry++
		}
	}
	d.logger.LogAttrs(ctx, slog.LevelDebug, "webhook batch sent", slog.Int("batch", seq), slog.Int("status", status),
		slog.Duration("duration", dur), slog.Int("acknowledged", ack), slog.Int("rejected", rej), slog.Int("retryable", retry))
}

// Close releases the HTTP connections. The webhook holds no other state: every batch was
// final when Apply returned. Close is idempotent; Apply after Close fails.
func (d *webhookDestination) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.client.CloseIdleConnections()
	return nil
}

// idempotencyKey identifies one batch: run, sequence number and a digest of the records. The
// digest keeps keys distinct if a resumed run numbers its batches from 1 again with other
// records, while retries of the same batch (same bytes) keep the same key.
func idempotencyKey(runID string, seq int, records []byte) string {
	sum := sha256.Sum256(records)
	return fmt.Sprintf("%s-%d-%s", runID, seq, hex.EncodeToString(sum[:8]))
}

func rejected(reason string) destination.Outcome {
	return destination.Outcome{Status: destination.Rejected, Reason: reason}
}
