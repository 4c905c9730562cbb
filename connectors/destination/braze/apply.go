package braze

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
)

type brazeDestination struct {
	cfg    *config
	logger *slog.Logger
	client *client

	mu     sync.Mutex
	seq    int
	closed bool
}

var (
	_ destination.Destination    = (*brazeDestination)(nil)
	_ destination.RequestCounter = (*brazeDestination)(nil)
)

// Requests returns the number of HTTP requests sent by this destination, retries included.
func (d *brazeDestination) Requests() int64 { return d.client.http.Requests() }

// Apply sends one batch: one /users/track request for user_attributes, track_events and
// user_lists, or one /v2/subscription/status/set request per subscription state and kind of
// identifier for subscription_status. Records that cannot be sent (no identifier, invalid
// e-mail or phone, missing event time, an operation the service does not perform) are
// rejected without being sent. A whole-request failure fails the batch; every write is safe
// to send again except events, which Braze would record twice only if an answer was lost.
func (d *brazeDestination) Apply(ctx context.Context, batch destination.Batch) ([]destination.Outcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, connectors.Permanent(connectors.CategoryInternal, errors.New("braze: Apply called after Close"))
	}
	if n := len(batch.Records); n > d.cfg.batchSize {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("braze: a batch of %d records exceeds the batch size %d of service %q", n, d.cfg.batchSize, d.cfg.service.Name))
	}
	if err := ctx.Err(); err != nil {
		return nil, connectors.Retryable(connectors.CategoryTimeout, fmt.Errorf("braze: batch not sent: %w", err))
	}
	d.seq++
	outcomes := make([]destination.Outcome, len(batch.Records))
	var reqs []request
	var err error
	if d.cfg.service.Name == ServiceSubscriptionStatus {
		reqs, err = d.subscriptionRequests(batch.Records, outcomes)
	} else {
		reqs, err = d.trackRequests(batch.Records, outcomes)
	}
	if err != nil {
		return nil, err
	}
	start := time.Now()
	unlocated := 0
	for _, req := range reqs {
		op := fmt.Sprintf("batch %d: %s", d.seq, req.path)
		status, body, err := d.client.post(ctx, req.path, req.body)
		if err != nil {
			return nil, fmt.Errorf("braze: sending batch %d to %s: %w", d.seq, req.path, err)
		}
		n, err := d.client.interpret(op, req, status, body, outcomes)
		if err != nil {
			return nil, err
		}
		unlocated += n
	}
	d.logBatch(ctx, len(reqs), time.Since(start), unlocated, outcomes)
	return outcomes, nil
}

// Close releases the HTTP connections. Every batch was final when Apply returned. Close is
// idempotent; Apply after Close fails.
func (d *brazeDestination) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.client.http.CloseIdleConnections()
	return nil
}

func (d *brazeDestination) logBatch(ctx context.Context, requests int, dur time.Duration, unlocated int, outcomes []destination.Outcome) {
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
	if unlocated > 0 {
		// Counted only: the error texts may quote the refused values.
		d.logger.LogAttrs(ctx, slog.LevelWarn, "braze reported errors it did not attach to an object",
			slog.Int("batch", d.seq), slog.Int("errors", unlocated))
	}
	d.logger.LogAttrs(ctx, slog.LevelDebug, "braze batch sent", slog.Int("batch", d.seq), slog.Int("requests", requests),
		slog.Duration("duration", dur), slog.Int("acknowledged", ack), slog.Int("rejected", rej), slog.Int("retryable", retry))
}

// trackRequests builds the /users/track request of a batch (none when every record was
// rejected locally) and fills the outcomes of locally rejected records.
func (d *brazeDestination) trackRequests(records []destination.Record, outcomes []destination.Outcome) ([]request, error) {
	array := "attributes"
	var build objectBuilder = d.attributesObject
	switch d.cfg.service.Name {
	case ServiceTrackEvents:
		array, build = "events", d.eventObject
		if d.cfg.eventType == EventTypePurchase {
			array, build = "purchases", d.purchaseObject
		}
	case ServiceUserLists:
		build = d.listObject
	}
	objects := make([]map[string]any, 0, len(records))
	req := request{path: PathUsersTrack, array: array}
	for i, r := range records {
		obj, reason, err := build(r)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			outcomes[i] = rejected(reason)
			continue
		}
		objects = append(objects, obj)
		req.recs = append(req.recs, []int{i})
	}
	if len(objects) == 0 {
		return nil, nil
	}
	body, err := json.Marshal(map[string]any{array: objects})
	if err != nil {
		return nil, connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf("braze: encoding batch %d: %w", d.seq, err))
	}
	req.body = body
	return []request{req}, nil
}

// objectBuilder returns a record's Braze object, or a reason to reject the record, or an error
// that fails the batch (a mapping Braze can never accept).
type objectBuilder func(destination.Record) (map[string]any, string, error)

func (d *brazeDestination) attributesObject(r destination.Record) (map[string]any, string, error) {
	var updateOnly bool
	switch r.Op {
	case destination.OpInsert, destination.OpUpsert:
	case destination.OpUpdate:
		updateOnly = true
	default:
		return nil, fmt.Sprintf("operation %q is not supported by %s: it creates and updates user attributes, never deletes profiles", r.Op, ServiceUserAttributes), nil
	}
	kind, id, reason := identify(r.Fields, "external_id", "braze_id")
	if reason != "" {
		return nil, reason, nil
	}
	obj := map[string]any{kind: id, "_update_existing_only": updateOnly}
	for _, name := range sortedFields(r.Fields) {
		if name == "external_id" || name == "braze_id" {
			continue
		}
		if err := checkFieldName(name, "attribute", ServiceUserAttributes); err != nil {
			return nil, "", err
		}
		v, reason := attributeValue(name, r.Fields[name], d.cfg.phoneRegion)
		if reason != "" {
			return nil, reason, nil
		}
		obj[name] = v
	}
	return obj, "", nil
}

func (d *brazeDestination) listObject(r destination.Record) (map[string]any, string, error) {
	var member bool
	switch r.Op {
	case destination.OpAdd:
		member = true
	case destination.OpRemove:
	default:
		return nil, fmt.Sprintf("operation %q is not supported by %s: it only adds users to and removes them from the audience", r.Op, ServiceUserLists), nil
	}
	kind, id, reason := identify(r.Fields, "external_id")
	if reason != "" {
		return nil, reason, nil
	}
	return map[string]any{kind: id, d.cfg.attributeName: member, "_update_existing_only": true}, "", nil
}

// eventCommon checks the operation and fills the identifier, time and flag of an event or
// purchase object.
func (d *brazeDestination) eventCommon(r destination.Record) (map[string]any, string) {
	if r.Op != destination.OpEvent {
		return nil, fmt.Sprintf("operation %q is not supported by %s: it only sends events", r.Op, ServiceTrackEvents)
	}
	kind, id, reason := identify(r.Fields, "external_id", "braze_id")
	if reason != "" {
		return nil, reason
	}
	t, reason := eventTime(r.Fields["time"])
	if reason != "" {
		return nil, reason
	}
	obj := map[string]any{kind: id, "time": t}
	if d.cfg.updateExistingOnly {
		obj["_update_existing_only"] = true
	}
	return obj, ""
}

// eventKnownFields are record fields that are not event properties.
var eventKnownFields = map[string]bool{"external_id": true, "braze_id": true, "time": true}

// purchaseKnownFields are record fields that are not purchase properties.
var purchaseKnownFields = map[string]bool{"external_id": true, "braze_id": true, "time": true,
	"product_id": true, "currency": true, "price": true, "quantity": true}

func (d *brazeDestination) eventObject(r destination.Record) (map[string]any, string, error) {
	obj, reason := d.eventCommon(r)
	if reason != "" {
		return nil, reason, nil
	}
	obj["name"] = d.cfg.eventName
	props, err := properties(r.Fields, eventKnownFields)
	if err != nil {
		return nil, "", err
	}
	if len(props) > 0 {
		obj["properties"] = props
	}
	return obj, "", nil
}

func (d *brazeDestination) purchaseObject(r destination.Record) (map[string]any, string, error) {
	obj, reason := d.eventCommon(r)
	if reason != "" {
		return nil, reason, nil
	}
	productID, reason := productID(r.Fields["product_id"])
	if reason != "" {
		return nil, reason, nil
	}
	currency, reason := currencyCode(r.Fields["currency"])
	if reason != "" {
		return nil, reason, nil
	}
	price, reason := priceValue(r.Fields["price"])
	if reason != "" {
		return nil, reason, nil
	}
	obj["product_id"], obj["currency"], obj["price"] = productID, currency, price
	if q, ok := r.Fields["quantity"]; ok && q != nil {
		n, reason := quantityValue(q)
		if reason != "" {
			return nil, reason, nil
		}
		obj["quantity"] = n
	}
	props, err := properties(r.Fields, purchaseKnownFields)
	if err != nil {
		return nil, "", err
	}
	if len(props) > 0 {
		obj["properties"] = props
	}
	return obj, "", nil
}

// properties returns the event properties of a record: its fields other than known ones.
func properties(fields map[string]any, known map[string]bool) (map[string]any, error) {
	props := map[string]any{}
	for _, name := range sortedFields(fields) {
		if known[name] {
			continue
		}
		if err := checkFieldName(name, "event property", ServiceTrackEvents); err != nil {
			return nil, err
		}
		props[name] = destination.JSONValue(fields[name])
	}
	return props, nil
}

// subscriptionRequests builds one request per subscription state and kind of identifier, in
// the order they first appear in the batch, and fills the outcomes of locally rejected
// records. An identifier given by several records is sent once.
func (d *brazeDestination) subscriptionRequests(records []destination.Record, outcomes []destination.Outcome) ([]request, error) {
	type groupKey struct{ state, kind string }
	type group struct {
		ids []string
		pos map[string]int
		req request
	}
	var order []groupKey
	groups := map[groupKey]*group{}
	for i, r := range records {
		var state string
		switch r.Op {
		case destination.OpAdd:
			state = "subscribed"
		case destination.OpRemove:
			state = "unsubscribed"
		default:
			outcomes[i] = rejected(fmt.Sprintf("operation %q is not supported by %s: it only subscribes (add) and unsubscribes (remove) users", r.Op, ServiceSubscriptionStatus))
			continue
		}
		kind, id, reason := subscriptionIdentity(r.Fields, d.cfg.phoneRegion)
		if reason != "" {
			outcomes[i] = rejected(reason)
			continue
		}
		k := groupKey{state, kind}
		g, ok := groups[k]
		if !ok {
			g = &group{pos: map[string]int{}, req: request{path: PathSubscriptionStatusSet, array: kind + "s"}}
			groups[k] = g
			order = append(order, k)
		}
		p, seen := g.pos[id]
		if !seen {
			p = len(g.ids)
			g.pos[id] = p
			g.ids = append(g.ids, id)
			g.req.recs = append(g.req.recs, nil)
		}
		g.req.recs[p] = append(g.req.recs[p], i)
	}
	reqs := make([]request, 0, len(order))
	for _, k := range order {
		g := groups[k]
		body, err := json.Marshal(map[string]any{"subscription_groups": []map[string]any{{
			"subscription_group_id": d.cfg.groupID,
			"subscription_state":    k.state,
			g.req.array:             g.ids,
		}}})
		if err != nil {
			return nil, connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("braze: encoding batch %d: %w", d.seq, err))
		}
		g.req.body = body
		reqs = append(reqs, g.req)
	}
	return reqs, nil
}

func sortedFields(fields map[string]any) []string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func rejected(reason string) destination.Outcome {
	return destination.Outcome{Status: destination.Rejected, Reason: reason}
}
