package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/httpx"
	"dinmo/connectors/pii"
)

// maxAudiencePages bounds the audience listing (200 audiences a page).
const maxAudiencePages = 500

// UsersRequest is the body of POST and DELETE /{audience_id}/users.
type UsersRequest struct {
	Payload UsersPayload `json:"payload"`
	Session Session      `json:"session"`
}

// UsersPayload is the customer list: one column name per schema entry and one row of as many
// values per person ("" where the person has no value for a column).
type UsersPayload struct {
	Schema []string   `json:"schema"`
	Data   [][]string `json:"data"`
}

// Session ties the requests of one logical upload together.
type Session struct {
	SessionID         int64 `json:"session_id"`
	BatchSeq          int   `json:"batch_seq"`
	LastBatchFlag     bool  `json:"last_batch_flag"`
	EstimatedNumTotal int   `json:"estimated_num_total,omitempty"`
}

// UsersResponse is Meta's answer to a users request: counts only, no per-row results.
type UsersResponse struct {
	AudienceID          string            `json:"audience_id"`
	SessionID           json.Number       `json:"session_id"`
	NumReceived         int               `json:"num_received"`
	NumInvalidEntries   int               `json:"num_invalid_entries"`
	InvalidEntrySamples map[string]string `json:"invalid_entry_samples"`
}

type audienceDestination struct {
	cfg       *config
	graph     *graphClient
	logger    *slog.Logger
	sessionID func() int64

	mu         sync.Mutex
	audienceID string
	closed     bool
}

var (
	_ destination.Destination    = (*audienceDestination)(nil)
	_ destination.RequestCounter = (*audienceDestination)(nil)
)

// Requests returns the number of HTTP requests sent by this destination (audience lookup and
// creation included), retries included.
func (d *audienceDestination) Requests() int64 { return d.graph.http.Requests() }

// AudienceID returns the id of the audience the destination writes to.
func (d *audienceDestination) AudienceID() string { return d.audienceID }

// resolveAudience sets the audience: the configured id, else the ad account's CUSTOM
// audience with the configured name, else a new one.
func (d *audienceDestination) resolveAudience(ctx context.Context, params destination.OpenParams) error {
	if d.cfg.audienceID != "" {
		d.audienceID = d.cfg.audienceID
		return nil
	}
	name := d.cfg.audienceName
	var found []audienceInfo
	query := url.Values{"fields": {"id,name,subtype"}, "limit": {"200"}}
	path := "/act_" + d.cfg.adAccountID + "/customaudiences"
	for page := 0; ; page++ {
		if page == maxAudiencePages {
			return connectors.Permanent(connectors.CategoryConfiguration,
				fmt.Errorf("meta: ad account %s lists more than %d pages of audiences; set the %q option", d.cfg.adAccountID, maxAudiencePages, OptionAudienceID))
		}
		b, err := d.graph.get(ctx, path, query)
		if err != nil {
			return fmt.Errorf("meta: listing the custom audiences of ad account %s: %w", d.cfg.adAccountID, err)
		}
		var list struct {
			Data   []audienceInfo `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			return connectors.Permanent(connectors.CategoryInternal,
				fmt.Errorf("meta: listing the custom audiences of ad account %s: unreadable answer: %w", d.cfg.adAccountID, err))
		}
		for _, a := range list.Data {
			if a.Name == name {
				found = append(found, a)
			}
		}
		// Follow the cursor with our own base URL rather than paging.next, which names
		// Meta's host even when requests go through a proxy or a regional address.
		if list.Paging.Next == "" || list.Paging.Cursors.After == "" {
			break
		}
		query.Set("after", list.Paging.Cursors.After)
	}
	switch len(found) {
	case 0:
		return d.createAudience(ctx, params)
	case 1:
		if found[0].Subtype != "" && found[0].Subtype != "CUSTOM" {
			return connectors.Permanent(connectors.CategoryConfiguration,
				fmt.Errorf("meta: the audience named %q in ad account %s is a %s audience, not a customer list: choose another %q or set %q",
					name, d.cfg.adAccountID, found[0].Subtype, OptionAudienceName, OptionAudienceID))
		}
		d.audienceID = found[0].ID
		d.logger.Info("meta audience found", slog.String("audience_id", d.audienceID))
		return nil
	}
	ids := make([]string, len(found))
	for i, a := range found {
		ids[i] = a.ID
	}
	return connectors.Permanent(connectors.CategoryConfiguration,
		fmt.Errorf("meta: %d audiences of ad account %s are named %q (ids %s): set the %q option to the one to use",
			len(found), d.cfg.adAccountID, name, strings.Join(ids, ", "), OptionAudienceID))
}

func (d *audienceDestination) createAudience(ctx context.Context, params destination.OpenParams) error {
	body := map[string]any{
		"name":                 d.cfg.audienceName,
		"subtype":              "CUSTOM",
		"customer_file_source": d.cfg.fileSource,
	}
	if d.cfg.audienceDescription != "" {
		body["description"] = d.cfg.audienceDescription
	}
	b, err := d.graph.do(ctx, http.MethodPost, "/act_"+d.cfg.adAccountID+"/customaudiences", nil, body)
	if err != nil {
		return fmt.Errorf("meta: creating the custom audience %q in ad account %s (the ad account must have accepted the Custom Audience terms): %w",
			d.cfg.audienceName, d.cfg.adAccountID, err)
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &created); err != nil || created.ID == "" {
		return connectors.Permanent(connectors.CategoryInternal,
			fmt.Errorf("meta: creating the custom audience %q: unreadable answer %q", d.cfg.audienceName, httpx.Snippet(b)))
	}
	d.audienceID = created.ID
	d.logger.Info("meta audience created", slog.String("audience_id", d.audienceID),
		slog.String("activation_id", params.ActivationID))
	return nil
}

// audienceRow is one record ready to send: its index in the batch and its column values.
type audienceRow struct {
	index  int
	values map[string]string // schema column → value sent
}

// Apply sends the removals (DELETE) and then the additions (POST) of a batch, one request
// each. Records with another operation, an unknown field, or no usable identifier are
// rejected without being sent. Meta reports counts only: an accepted request acknowledges
// every row it carried.
func (d *audienceDestination) Apply(ctx context.Context, batch destination.Batch) ([]destination.Outcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, connectors.Permanent(connectors.CategoryInternal, errors.New("meta: Apply called after Close"))
	}
	if n := len(batch.Records); n > d.cfg.batchSize {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("meta: a batch of %d records exceeds the batch size %d", n, d.cfg.batchSize))
	}
	outcomes := make([]destination.Outcome, len(batch.Records))
	var adds, removes []audienceRow
	dropped := map[string]int{} // field → values left out because they were invalid
	for i, r := range batch.Records {
		if r.Op != destination.OpAdd && r.Op != destination.OpRemove {
			outcomes[i] = rejected(fmt.Sprintf("operation %q is not supported by Meta custom audiences (want add or remove)", r.Op))
			continue
		}
		row, reason := d.normalise(r.Fields, dropped)
		if reason != "" {
			outcomes[i] = rejected(reason)
			continue
		}
		row.index = i
		if r.Op == destination.OpAdd {
			adds = append(adds, row)
		} else {
			removes = append(removes, row)
		}
	}
	if len(dropped) > 0 {
		d.logger.LogAttrs(ctx, slog.LevelWarn, "meta: invalid values left out of rows that had another identifier",
			slog.Any("fields", dropped))
	}
	groups := []struct {
		method string
		rows   []audienceRow
	}{{http.MethodDelete, removes}, {http.MethodPost, adds}}
	sent := false
	for _, g := range groups {
		if len(g.rows) == 0 {
			continue
		}
		err := d.send(ctx, g.method, g.rows)
		switch {
		case err == nil:
			for _, row := range g.rows {
				outcomes[row.index] = destination.Outcome{Status: destination.Acknowledged}
			}
		case sent && connectors.IsRetryable(err):
			// The first request was applied: keep its outcomes, ask for this group again.
			for _, row := range g.rows {
				outcomes[row.index] = destination.Outcome{Status: destination.Retryable, Reason: err.Error()}
			}
		default:
			// Nothing applied yet, or a permanent failure: the whole batch is sent again
			// later, which Meta treats idempotently (adding a member twice changes nothing).
			return nil, err
		}
		sent = true
	}
	return outcomes, nil
}

// send uploads rows as one complete session.
func (d *audienceDestination) send(ctx context.Context, method string, rows []audienceRow) error {
	used := map[string]bool{}
	for _, row := range rows {
		for col := range row.values {
			used[col] = true
		}
	}
	var schema []string
	for _, c := range audienceColumns {
		if used[c.schema] {
			schema = append(schema, c.schema)
		}
	}
	data := make([][]string, len(rows))
	for i, row := range rows {
		data[i] = make([]string, len(schema))
		for j, col := range schema {
			data[i][j] = row.values[col]
		}
	}
	req := UsersRequest{
		Payload: UsersPayload{Schema: schema, Data: data},
		Session: Session{SessionID: d.sessionID(), BatchSeq: 1, LastBatchFlag: true, EstimatedNumTotal: len(rows)},
	}
	verb := "adding"
	if method == http.MethodDelete {
		verb = "removing"
	}
	start := time.Now()
	b, err := d.graph.do(ctx, method, "/"+d.audienceID+"/users", nil, req)
	if err != nil {
		return fmt.Errorf("meta: %s %d people to/from audience %s: %w", verb, len(rows), d.audienceID, err)
	}
	var resp UsersResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		// The request was accepted (2xx); only the counts are unreadable.
		d.logger.LogAttrs(ctx, slog.LevelWarn, "meta: unreadable answer to an accepted audience upload",
			slog.String("audience_id", d.audienceID), slog.String("error", err.Error()))
	}
	d.logger.LogAttrs(ctx, slog.LevelDebug, "meta audience batch sent",
		slog.String("audience_id", d.audienceID), slog.String("method", method), slog.Int("rows", len(rows)),
		slog.Any("schema", schema), slog.Int64("session_id", req.Session.SessionID),
		slog.Int("num_received", resp.NumReceived), slog.Int("num_invalid_entries", resp.NumInvalidEntries),
		slog.Duration("duration", time.Since(start)))
	if resp.NumInvalidEntries > 0 {
		// Meta gives no row index, and the samples are hashed identifiers: log the count only.
		d.logger.LogAttrs(ctx, slog.LevelWarn, "meta: the audience upload had invalid entries; Meta ignores them",
			slog.String("audience_id", d.audienceID), slog.String("method", method),
			slog.Int("rows", len(rows)), slog.Int("num_invalid_entries", resp.NumInvalidEntries))
	}
	return nil
}

// normalise turns a record's fields into payload columns. It returns a reason when the
// record cannot be sent: an unknown field, or no identifier that survives normalisation.
// Invalid values of other fields are left out (counted in dropped) when an identifier exists.
func (d *audienceDestination) normalise(fields map[string]any, dropped map[string]int) (audienceRow, string) {
	row := audienceRow{values: map[string]string{}}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	problems := map[string]string{}
	for _, name := range names {
		col, ok := columnOf(name)
		if !ok {
			return row, fmt.Sprintf("field %q is not a Meta customer list field (known fields: %s)", name, knownAudienceFields())
		}
		spec := fieldSpec(audienceFields, name)
		v := fields[name]
		if v == nil {
			continue
		}
		s, ok := pii.ValueString(v)
		if !ok {
			problems[name] = fmt.Sprintf("%s: a %T value cannot be read as text", name, v)
			continue
		}
		var out string
		var err error
		if spec.Hashed {
			out, err = pii.HashNormalized(spec.PII, s, d.cfg.piiOpts)
		} else {
			out, err = pii.Normalize(spec.PII, s, d.cfg.piiOpts)
		}
		switch {
		case errors.Is(err, pii.ErrEmpty):
			continue
		case err != nil:
			problems[name] = err.Error()
			continue
		}
		row.values[col] = out
	}
	for _, id := range audienceIdentifiers {
		if _, ok := row.values[columnFor(id)]; ok {
			for name := range problems {
				dropped[name]++
			}
			return row, ""
		}
	}
	if len(problems) == 0 {
		return row, "no identifier to match the person: set one of " + strings.Join(audienceIdentifiers, ", ")
	}
	return row, "no usable identifier (" + strings.Join(audienceIdentifiers, ", ") + "): " + joinProblems(problems)
}

// Close releases the HTTP connections. Every upload was a complete session when Apply
// returned, so nothing remains to finish. Close is idempotent; Apply after Close fails.
func (d *audienceDestination) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.graph.http.CloseIdleConnections()
	return nil
}

func columnOf(field string) (string, bool) {
	for _, c := range audienceColumns {
		if c.field == field {
			return c.schema, true
		}
	}
	return "", false
}

func columnFor(field string) string {
	c, _ := columnOf(field)
	return c
}

func knownAudienceFields() string {
	names := make([]string, len(audienceColumns))
	for i, c := range audienceColumns {
		names[i] = c.field
	}
	return strings.Join(names, ", ")
}

func fieldSpec(fields []destination.FieldSpec, name string) destination.FieldSpec {
	i := slices.IndexFunc(fields, func(f destination.FieldSpec) bool { return f.Name == name })
	if i < 0 {
		return destination.FieldSpec{}
	}
	return fields[i]
}

func rejected(reason string) destination.Outcome {
	return destination.Outcome{Status: destination.Rejected, Reason: reason}
}
