package meta_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"dinmo/connectors/destination"
	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/meta"
	"dinmo/connectors/destination/meta/metafake"
)

const (
	testToken     = "EAAtoken-0123456789"
	testSecret    = "appsecret-abcdef"
	testAccount   = "1234567890"
	testDataset   = "987654321"
	goldenProof   = "b069080e91d66d1b47aab2b906ac8d95b603245120990a340858001a4820db23"
	emailHash     = "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345" // person@example.com
	phoneHash     = "dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383" // 448444124653
	firstNameHash = "a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e" // first
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fastPlatform(opts ...meta.Option) *meta.Platform {
	return meta.New(append([]meta.Option{meta.WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)...)
}

func newFake(t *testing.T, mutate ...func(*metafake.Config)) *metafake.Server {
	cfg := metafake.Config{AccessToken: testToken, AppSecret: testSecret,
		AdAccounts: []string{testAccount}, Datasets: []string{testDataset}}
	for _, m := range mutate {
		m(&cfg)
	}
	return metafake.New(t, cfg)
}

func baseParams(fake *metafake.Server, service string, settings, options map[string]any) destination.OpenParams {
	s := map[string]any{meta.SettingAdAccountID: "act_" + testAccount, meta.SettingMaxRetries: int64(1)}
	for k, v := range settings {
		s[k] = v
	}
	return destination.OpenParams{
		Service:        service,
		Settings:       s,
		Options:        options,
		Credentials:    map[string]string{meta.CredentialAccessToken: testToken, meta.CredentialAppSecret: testSecret},
		RunID:          "run-1",
		ActivationID:   "act-1",
		ActivationName: "VIP customers",
		StartedAt:      time.Now(),
		BaseURL:        fake.URL(),
	}
}

func audienceRecord(i int) destination.Record {
	return destination.Record{
		Key: fmt.Sprintf("k%03d", i),
		Op:  destination.OpAdd,
		Fields: map[string]any{
			meta.FieldEmail:      fmt.Sprintf("User%d@Example.com", i),
			meta.FieldExternalID: fmt.Sprintf("k%03d", i),
			meta.FieldCountry:    "FR",
		},
	}
}

func eventRecord(i int) destination.Record {
	return destination.Record{
		Key: fmt.Sprintf("k%03d", i),
		Op:  destination.OpEvent,
		Fields: map[string]any{
			meta.FieldEventTime: time.Now().Add(-time.Hour),
			meta.FieldEmail:     fmt.Sprintf("user%d@example.com", i),
			meta.FieldValue:     float64(i) + 0.5,
			meta.FieldCurrency:  "EUR",
		},
	}
}

func TestConformanceCustomAudiences(t *testing.T) {
	connectortest.RunConformance(t, connectortest.Driver{
		Platform: fastPlatform(),
		Service:  meta.ServiceCustomAudiences,
		Setup: func(t *testing.T, o connectortest.SetupOptions) (connectortest.Fake, destination.OpenParams) {
			fake := newFake(t, func(c *metafake.Config) { c.MaxAudienceRows = o.BatchSize })
			id := fake.CreateAudience(testAccount, "VIP customers", "")
			return fake, baseParams(fake, "", map[string]any{
				meta.SettingBatchSize:         int64(o.BatchSize),
				meta.SettingMaxRetries:        int64(o.MaxRetries),
				meta.SettingRequestsPerSecond: int64(o.RequestsPerSecond),
			}, map[string]any{meta.OptionAudienceID: id})
		},
		Record:           audienceRecord,
		RemoveOp:         destination.OpRemove,
		NoPartialFailure: true,
	})
}

func TestConformanceConversions(t *testing.T) {
	connectortest.RunConformance(t, connectortest.Driver{
		Platform: fastPlatform(),
		Service:  meta.ServiceConversions,
		Setup: func(t *testing.T, o connectortest.SetupOptions) (connectortest.Fake, destination.OpenParams) {
			fake := newFake(t, func(c *metafake.Config) { c.MaxEvents = o.BatchSize })
			return fake, baseParams(fake, "", map[string]any{
				meta.SettingBatchSize:         int64(o.BatchSize),
				meta.SettingMaxRetries:        int64(o.MaxRetries),
				meta.SettingRequestsPerSecond: int64(o.RequestsPerSecond),
			}, map[string]any{
				meta.OptionPixelID:      testDataset,
				meta.OptionEventName:    "Purchase",
				meta.OptionActionSource: "physical_store",
			})
		},
		Record:           eventRecord,
		NoRemove:         true,
		NoPartialFailure: true,
	})
}

func open(t *testing.T, p *meta.Platform, params destination.OpenParams) destination.Destination {
	t.Helper()
	d, err := p.Open(context.Background(), params)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

func apply(t *testing.T, d destination.Destination, recs ...destination.Record) ([]destination.Outcome, error) {
	t.Helper()
	return d.Apply(context.Background(), destination.Batch{RunID: "run-1", ActivationID: "act-1", Records: recs})
}

func noViolations(t *testing.T, fake *metafake.Server) {
	t.Helper()
	if v := fake.Violations(); len(v) > 0 {
		t.Errorf("contract violations:\n%s", strings.Join(v, "\n"))
	}
	if n := fake.TokenInURL(); n > 0 {
		t.Errorf("%d requests carried the access token in the URL", n)
	}
}
