package meta_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/meta"
	"dinmo/connectors/destination/meta/metafake"
	"dinmo/connectors/pii"
)

var fixedNow = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

func conversionsParams(fake *metafake.Server, options map[string]any) destination.OpenParams {
	o := map[string]any{
		meta.OptionPixelID:      testDataset,
		meta.OptionEventName:    "Purchase",
		meta.OptionActionSource: "website",
	}
	for k, v := range options {
		o[k] = v
	}
	return baseParams(fake, meta.ServiceConversions, map[string]any{meta.SettingDefaultPhoneRegion: "FR"}, o)
}

func clockedFake(t *testing.T) *metafake.Server {
	return newFake(t, func(c *metafake.Config) { c.Now = func() time.Time { return fixedNow } })
}

func TestConversionsRequestMapping(t *testing.T) {
	fake := clockedFake(t)
	d := open(t, fastPlatform(meta.WithClock(func() time.Time { return fixedNow })),
		conversionsParams(fake, map[string]any{meta.OptionTestEventCode: "TEST123", meta.OptionLimitedDataUse: true}))
	at := fixedNow.Add(-2 * time.Hour)
	full := destination.Record{Key: "order-1", Op: destination.OpEvent, Fields: map[string]any{
		meta.FieldEventTime:       at,
		meta.FieldEventSourceURL:  "https://shop.example.com/checkout",
		meta.FieldEmail:           "Person@Example.com",
		meta.FieldPhone:           "06 12 34 56 78",
		meta.FieldFirstName:       "First",
		meta.FieldLastName:        "Müller",
		meta.FieldGender:          "female",
		meta.FieldDateOfBirth:     time.Date(1990, 3, 7, 0, 0, 0, 0, time.UTC),
		meta.FieldCity:            "Saint-Étienne",
		meta.FieldState:           "California",
		meta.FieldZip:             "94103-1234",
		meta.FieldCountry:         "UK",
		meta.FieldExternalID:      "crm-1",
		meta.FieldClientIPAddress: "2001:db8::1",
		meta.FieldClientUserAgent: "Mozilla/5.0",
		meta.FieldFBC:             "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
		meta.FieldFBP:             "fb.1.1558571054389.1098115397",
		meta.FieldValue:           int64(42),
		meta.FieldCurrency:        "EUR",
		meta.FieldOrderID:         "O-1",
		meta.FieldContentIDs:      []any{"sku-1", "sku-2"},
		"coupon":                  "WELCOME",
	}}
	minimal := destination.Record{Key: "order-2", Op: destination.OpEvent, Fields: map[string]any{
		meta.FieldEventTime:       at.Unix(),
		meta.FieldEventID:         "evt-2",
		meta.FieldEventSourceURL:  "https://shop.example.com/",
		meta.FieldClientUserAgent: "Mozilla/5.0",
		meta.FieldFBP:             "fb.1.1558571054389.1098115397",
		meta.FieldContentIDs:      "sku-3, sku-4",
	}}
	out, err := apply(t, d, full, minimal)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o.Status != destination.Acknowledged {
			t.Errorf("record %d: %+v", i, o)
		}
	}
	reqs := dataRequests(fake)
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/"+testDataset+"/events" {
		t.Fatalf("requests = %+v", reqs)
	}
	if string(reqs[0].Params["test_event_code"]) != `"TEST123"` {
		t.Errorf("test_event_code = %s", reqs[0].Params["test_event_code"])
	}
	var events []map[string]any
	if err := json.Unmarshal(reqs[0].Params["data"], &events); err != nil {
		t.Fatal(err)
	}
	h := func(rule, v string) string {
		s, err := pii.HashNormalized(rule, v, pii.Options{PhoneFormat: pii.PhoneFormatDigits, DefaultRegion: "FR"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	e := events[0]
	for k, want := range map[string]any{
		"event_name": "Purchase", "event_time": float64(at.Unix()), "event_id": "order-1",
		"action_source": "website", "event_source_url": "https://shop.example.com/checkout",
		"data_processing_options_country": float64(0), "data_processing_options_state": float64(0),
	} {
		if e[k] != want {
			t.Errorf("%s = %v, want %v", k, e[k], want)
		}
	}
	if dpo, _ := e["data_processing_options"].([]any); len(dpo) != 1 || dpo[0] != "LDU" {
		t.Errorf("data_processing_options = %v", e["data_processing_options"])
	}
	user, _ := e["user_data"].(map[string]any)
	wantUser := map[string]any{
		"em":                []any{emailHash},
		"ph":                []any{h(pii.RulePhone, "+33612345678")},
		"fn":                firstNameHash,
		"ln":                h(pii.RuleLastName, "müller"),
		"ge":                pii.SHA256Hex("f"),
		"db":                pii.SHA256Hex("19900307"),
		"ct":                pii.SHA256Hex("saintétienne"),
		"st":                pii.SHA256Hex("ca"),
		"zp":                pii.SHA256Hex("94103"),
		"country":           pii.SHA256Hex("gb"),
		"external_id":       []any{pii.SHA256Hex("crm-1")},
		"client_ip_address": "2001:db8::1",
		"client_user_agent": "Mozilla/5.0",
		"fbc":               "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
		"fbp":               "fb.1.1558571054389.1098115397",
	}
	if len(user) != len(wantUser) {
		t.Errorf("user_data has %d keys, want %d: %v", len(user), len(wantUser), user)
	}
	for k, want := range wantUser {
		got, _ := json.Marshal(user[k])
		w, _ := json.Marshal(want)
		if string(got) != string(w) {
			t.Errorf("user_data.%s = %s, want %s", k, got, w)
		}
	}
	custom, _ := e["custom_data"].(map[string]any)
	if custom["value"] != float64(42) || custom["currency"] != "eur" || custom["order_id"] != "O-1" || custom["coupon"] != "WELCOME" {
		t.Errorf("custom_data = %v", custom)
	}
	if ids, _ := custom["content_ids"].([]any); len(ids) != 2 || ids[1] != "sku-2" {
		t.Errorf("content_ids = %v", custom["content_ids"])
	}
	e2 := events[1]
	if e2["event_id"] != "evt-2" || e2["event_time"] != float64(at.Unix()) {
		t.Errorf("second event = %v", e2)
	}
	custom2, _ := e2["custom_data"].(map[string]any)
	if ids, _ := custom2["content_ids"].([]any); len(ids) != 2 || ids[0] != "sku-3" {
		t.Errorf("content_ids from text = %v", e2["custom_data"])
	}
	stored := fake.Events(testDataset)
	if len(stored) != 2 || stored[0].TestEventCode != "TEST123" {
		t.Errorf("stored events = %+v", stored)
	}
	noViolations(t, fake)
}

func TestConversionsRecordsRejectedLocally(t *testing.T) {
	fake := clockedFake(t)
	d := open(t, fastPlatform(meta.WithClock(func() time.Time { return fixedNow })), conversionsParams(fake, nil))
	web := func(key string, mutate func(map[string]any)) destination.Record {
		f := map[string]any{
			meta.FieldEventTime:       fixedNow.Add(-time.Hour),
			meta.FieldEventSourceURL:  "https://shop.example.com/",
			meta.FieldClientUserAgent: "Mozilla/5.0",
			meta.FieldEmail:           "a@example.com",
		}
		mutate(f)
		return destination.Record{Key: key, Op: destination.OpEvent, Fields: f}
	}
	cases := []struct {
		rec    destination.Record
		reason string // "" means acknowledged
	}{
		{web("ok", func(map[string]any) {}), ""},
		{web("too-old", func(f map[string]any) { f[meta.FieldEventTime] = fixedNow.Add(-8 * 24 * time.Hour) }), "more than 7 days"},
		{web("almost-too-old", func(f map[string]any) { f[meta.FieldEventTime] = fixedNow.Add(-7*24*time.Hour + 30*time.Minute) }), "more than 7 days"},
		{web("future", func(f map[string]any) { f[meta.FieldEventTime] = fixedNow.Add(time.Hour) }), "future"},
		{web("no-time", func(f map[string]any) { delete(f, meta.FieldEventTime) }), "event_time is required"},
		{web("bad-time", func(f map[string]any) { f[meta.FieldEventTime] = "yesterday" }), "event_time must be"},
		{web("no-ua", func(f map[string]any) { delete(f, meta.FieldClientUserAgent) }), "client_user_agent"},
		{web("no-url", func(f map[string]any) { delete(f, meta.FieldEventSourceURL) }), "event_source_url"},
		{web("no-identifier", func(f map[string]any) { delete(f, meta.FieldEmail) }), "no customer information"},
		{web("bad-email-only", func(f map[string]any) { f[meta.FieldEmail] = "not-an-email" }), "no usable customer information"},
		{web("value-no-currency", func(f map[string]any) { f[meta.FieldValue] = 3.5 }), "currency is required"},
		{web("bad-currency", func(f map[string]any) { f[meta.FieldCurrency] = "euro" }), "ISO 4217"},
		{web("bad-value", func(f map[string]any) { f[meta.FieldValue] = "lots"; f[meta.FieldCurrency] = "EUR" }), "value must be a number"},
		{web("bad-ip-dropped", func(f map[string]any) { f[meta.FieldClientIPAddress] = "999.1.1.1" }), ""},
		{destination.Record{Key: "upsert", Op: destination.OpUpsert, Fields: map[string]any{}}, "not supported"},
	}
	recs := make([]destination.Record, len(cases))
	for i, c := range cases {
		recs[i] = c.rec
	}
	out, err := apply(t, d, recs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		o := out[i]
		if c.reason == "" {
			if o.Status != destination.Acknowledged {
				t.Errorf("%s: %+v, want acknowledged", c.rec.Key, o)
			}
			continue
		}
		if o.Status != destination.Rejected || !strings.Contains(o.Reason, c.reason) {
			t.Errorf("%s: %+v, want rejected mentioning %q", c.rec.Key, o, c.reason)
		}
	}
	var events []map[string]any
	if err := json.Unmarshal(dataRequests(fake)[0].Params["data"], &events); err != nil || len(events) != 2 {
		t.Fatalf("sent %d events (%v), want 2", len(events), err)
	}
	if _, ok := events[1]["user_data"].(map[string]any)["client_ip_address"]; ok {
		t.Errorf("an invalid IP address was sent")
	}
	noViolations(t, fake)
}

func TestConversionsBatchLevelErrors(t *testing.T) {
	fake := clockedFake(t)
	d := open(t, fastPlatform(meta.WithClock(func() time.Time { return fixedNow })),
		conversionsParams(fake, map[string]any{meta.OptionActionSource: "physical_store"}))
	recs := []destination.Record{eventAt(0), eventAt(1), eventAt(2)}

	// An invalid event makes Meta refuse the request: its events are rejected with the reason.
	fake.FailNext(1, connectortest.Failure{Reject: map[string]string{"k001": "The parameter em is not hashed"}})
	out, err := apply(t, d, recs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o.Status != destination.Rejected || !strings.Contains(o.Reason, "em is not hashed") {
			t.Errorf("record %d: %+v, want rejected with Meta's reason", i, o)
		}
	}
	if n := len(fake.Events(testDataset)); n != 0 {
		t.Errorf("%d events stored after a refused request", n)
	}

	// Throttling fails the batch as retryable; a missing dataset as not_found.
	fake.FailNextGraph(1, metafake.GraphError{Status: 400, Code: 17, Message: "(#17) User request limit reached"})
	if _, err := apply(t, d, recs...); !connectors.IsRetryable(err) || connectors.CategoryOf(err) != connectors.CategoryRateLimit {
		t.Errorf("throttled: err = %v", err)
	}
	fake.FailNextGraph(1, metafake.GraphError{Status: 400, Code: 100, Subcode: 33, Message: "Unsupported post request."})
	if _, err := apply(t, d, recs...); connectors.CategoryOf(err) != connectors.CategoryNotFound {
		t.Errorf("missing dataset: err = %v", err)
	}

	// Resent events are deduplicated by Meta (event_name + event_id within 48 hours).
	for range 2 {
		if _, err := apply(t, d, recs...); err != nil {
			t.Fatal(err)
		}
	}
	if got := fake.Keys(); !slices.Equal(got, []string{"k000", "k001", "k002"}) {
		t.Errorf("stored event ids = %v, want each once", got)
	}
}

func eventAt(i int) destination.Record {
	r := eventRecord(i)
	r.Fields[meta.FieldEventTime] = fixedNow.Add(-time.Hour)
	return r
}
