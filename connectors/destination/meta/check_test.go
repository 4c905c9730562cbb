package meta_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/meta"
	"dinmo/connectors/destination/meta/metafake"
	"dinmo/connectors/pii"
)

func TestCheck(t *testing.T) {
	fake := newFake(t)
	audience := fake.CreateAudience(testAccount, "VIP customers", "")
	lookalike := fake.CreateAudience(testAccount, "Lookalike", "LOOKALIKE")
	ctx := context.Background()
	p := fastPlatform()
	cases := []struct {
		name   string
		params func() destination.OpenParams
		cat    connectors.Category // "" means success
		text   string
	}{
		{"token only", func() destination.OpenParams { return baseParams(fake, "", nil, nil) }, "", ""},
		{"audiences", func() destination.OpenParams {
			return baseParams(fake, meta.ServiceCustomAudiences, nil, map[string]any{meta.OptionAudienceID: audience})
		}, "", ""},
		{"conversions", func() destination.OpenParams {
			return baseParams(fake, meta.ServiceConversions, nil, map[string]any{
				meta.OptionPixelID: testDataset, meta.OptionEventName: "Lead", meta.OptionActionSource: "system_generated"})
		}, "", ""},
		{"bad token", func() destination.OpenParams {
			p := baseParams(fake, "", nil, nil)
			p.Credentials[meta.CredentialAccessToken] = "EAAwrong-token"
			return p
		}, connectors.CategoryCredentials, "190"},
		{"bad app secret", func() destination.OpenParams {
			p := baseParams(fake, "", nil, nil)
			p.Credentials[meta.CredentialAppSecret] = "wrong-secret"
			return p
		}, connectors.CategoryConfiguration, "appsecret_proof"},
		{"no app secret where the app requires one", func() destination.OpenParams {
			p := baseParams(fake, "", nil, nil)
			delete(p.Credentials, meta.CredentialAppSecret)
			return p
		}, connectors.CategoryConfiguration, "appsecret_proof"},
		{"unknown ad account", func() destination.OpenParams {
			return baseParams(fake, meta.ServiceCustomAudiences, map[string]any{meta.SettingAdAccountID: "555"}, nil)
		}, connectors.CategoryNotFound, "ad account"},
		{"unknown audience", func() destination.OpenParams {
			return baseParams(fake, meta.ServiceCustomAudiences, nil, map[string]any{meta.OptionAudienceID: "42"})
		}, connectors.CategoryNotFound, "audience"},
		{"lookalike audience", func() destination.OpenParams {
			return baseParams(fake, meta.ServiceCustomAudiences, nil, map[string]any{meta.OptionAudienceID: lookalike})
		}, connectors.CategoryConfiguration, "LOOKALIKE"},
		{"unknown dataset", func() destination.OpenParams {
			return baseParams(fake, meta.ServiceConversions, nil, map[string]any{
				meta.OptionPixelID: "111", meta.OptionEventName: "Lead", meta.OptionActionSource: "other"})
		}, connectors.CategoryNotFound, "dataset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Check(ctx, tc.params())
			if tc.cat == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil || connectors.CategoryOf(err) != tc.cat || connectors.IsRetryable(err) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("Check: err = %v, want a permanent %s error mentioning %q", err, tc.cat, tc.text)
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "EAAwrong-token") || strings.Contains(err.Error(), goldenProof) {
				t.Errorf("the error carries a secret: %v", err)
			}
		})
	}
	if fake.Hits() != 0 {
		t.Errorf("Check sent %d data requests", fake.Hits())
	}
	if fake.TokenInURL() != 0 {
		t.Errorf("the token was sent in a URL")
	}
}

func TestConfigurationValidation(t *testing.T) {
	fake := newFake(t)
	ctx := context.Background()
	conv := func(opts map[string]any) map[string]any {
		o := map[string]any{meta.OptionPixelID: testDataset, meta.OptionEventName: "Purchase", meta.OptionActionSource: "website"}
		for k, v := range opts {
			if v == nil {
				delete(o, k)
				continue
			}
			o[k] = v
		}
		return o
	}
	cases := []struct {
		name     string
		service  string
		settings map[string]any
		options  map[string]any
		creds    map[string]string
		want     string
	}{
		{"bad account", meta.ServiceCustomAudiences, map[string]any{meta.SettingAdAccountID: "act_abc"}, nil, nil, "ad_account_id"},
		{"audiences need an account", meta.ServiceCustomAudiences, map[string]any{meta.SettingAdAccountID: nil}, nil, nil, "required by the custom_audiences service"},
		{"bad version", "", map[string]any{meta.SettingAPIVersion: "25"}, nil, nil, "api_version"},
		{"bad region", "", map[string]any{meta.SettingDefaultPhoneRegion: "XX"}, nil, nil, "default_phone_region"},
		{"batch too large", "", map[string]any{meta.SettingBatchSize: int64(20000)}, nil, nil, "batch_size"},
		{"unknown setting", "", map[string]any{"pixel_id": "1"}, nil, nil, `unknown setting "pixel_id"`},
		{"no token", "", nil, nil, map[string]string{meta.CredentialAccessToken: ""}, "access_token"},
		{"unknown service", "lookalikes", nil, nil, nil, "unknown service"},
		{"no pixel", meta.ServiceConversions, nil, conv(map[string]any{meta.OptionPixelID: nil}), nil, `option "pixel_id" is required`},
		{"bad action source", meta.ServiceConversions, nil, conv(map[string]any{meta.OptionActionSource: "shop"}), nil, `option "action_source"`},
		{"unknown option", meta.ServiceConversions, nil, conv(map[string]any{"audience_name": "x"}), nil, `unknown option "audience_name"`},
		{"bad audience id", meta.ServiceCustomAudiences, nil, map[string]any{meta.OptionAudienceID: "abc"}, nil, "audience_id"},
		{"bad file source", meta.ServiceCustomAudiences, nil, map[string]any{meta.OptionCustomerFileSource: "MINE"}, nil, "customer_file_source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			params := baseParams(fake, tc.service, nil, tc.options)
			for k, v := range tc.settings {
				if v == nil {
					delete(params.Settings, k)
					continue
				}
				params.Settings[k] = v
			}
			for k, v := range tc.creds {
				params.Credentials[k] = v
			}
			for _, call := range []func() error{
				func() error { return fastPlatform().Check(ctx, params) },
				func() error { _, err := fastPlatform().Open(ctx, params); return err },
			} {
				err := call()
				if connectors.CategoryOf(err) != connectors.CategoryConfiguration || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want a configuration error mentioning %q", err, tc.want)
				}
			}
		})
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("invalid configurations sent %d requests", n)
	}
}

func TestSpec(t *testing.T) {
	spec := meta.New().Spec()
	if spec.Platform != meta.Name {
		t.Errorf("platform = %q", spec.Platform)
	}
	for _, fields := range [][]connectors.ConfigField{spec.Settings, spec.Credentials} {
		if err := connectors.ValidateFields(fields); err != nil {
			t.Error(err)
		}
	}
	aud, ok := spec.Service(meta.ServiceCustomAudiences)
	if !ok || aud.MaxBatchSize != 10000 || aud.MinAudienceSize != 100 || !aud.RequireIdentifier ||
		!slices.Equal(aud.SyncModes, []destination.SyncMode{destination.ModeList}) || aud.Family != destination.FamilyLists {
		t.Errorf("custom_audiences = %+v", aud)
	}
	conv, ok := spec.Service(meta.ServiceConversions)
	if !ok || conv.MaxBatchSize != 1000 || !slices.Equal(conv.SyncModes, []destination.SyncMode{destination.ModeEvents}) ||
		conv.Family != destination.FamilyEvents {
		t.Errorf("conversions = %+v", conv)
	}
	for _, svc := range spec.Services {
		if err := connectors.ValidateFields(svc.Options); err != nil {
			t.Errorf("%s options: %v", svc.Name, err)
		}
		names := map[string]bool{}
		for _, f := range svc.Fields {
			if names[f.Name] {
				t.Errorf("%s: field %q declared twice", svc.Name, f.Name)
			}
			names[f.Name] = true
			if f.Description == "" {
				t.Errorf("%s.%s has no description", svc.Name, f.Name)
			}
			if f.PII != "" {
				if _, ok := pii.LookupRule(f.PII); !ok {
					t.Errorf("%s.%s: unknown PII rule %q", svc.Name, f.Name, f.PII)
				}
			}
			if f.Hashed && f.PII == "" {
				t.Errorf("%s.%s is hashed without a normalisation rule", svc.Name, f.Name)
			}
		}
		for _, id := range svc.Identifiers {
			if !names[id] {
				t.Errorf("%s: identifier %q is not a declared field", svc.Name, id)
			}
		}
	}
	// MADID and EXTERN_ID travel unhashed in audiences, as Meta documents.
	for _, f := range aud.Fields {
		if (f.Name == meta.FieldMADID || f.Name == meta.FieldExternalID) == f.Hashed {
			t.Errorf("custom_audiences.%s: Hashed = %v", f.Name, f.Hashed)
		}
	}
}

func TestAppSecretProof(t *testing.T) {
	// Computed with: echo -n EAAtoken-0123456789 | openssl dgst -sha256 -hmac appsecret-abcdef
	if got := meta.AppSecretProof(testSecret, testToken); got != goldenProof {
		t.Errorf("AppSecretProof = %s, want %s", got, goldenProof)
	}
}

func TestNoAppSecretNoProof(t *testing.T) {
	fake := metafake.New(t, metafake.Config{AccessToken: testToken, AdAccounts: []string{testAccount}})
	params := baseParams(fake, "", nil, nil)
	delete(params.Credentials, meta.CredentialAppSecret)
	if err := fastPlatform().Check(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	for _, r := range fake.Requests() {
		if r.Query.Has("appsecret_proof") || r.Header.Get("Authorization") != "Bearer "+testToken {
			t.Errorf("request %s %s: query %v", r.Method, r.Path, r.Query)
		}
	}
}
