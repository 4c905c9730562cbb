// Package braze is the "braze" destination platform: it keeps Braze user profiles in step with
// the warehouse through the Braze REST API of the customer's instance.
//
// Services and the endpoints they use:
//
//	user_attributes      POST /users/track  attributes[]   standard and custom attributes
//	track_events         POST /users/track  events[] or purchases[]  one object per record
//	subscription_status  POST /v2/subscription/status/set  add → subscribed, remove → unsubscribed
//	user_lists           POST /users/track  attributes[]   a boolean attribute per audience
//
// Every request carries "Authorization: Bearer <REST API key>". /users/track takes at most 75
// objects per request and answers {"message":"success","errors":[{"type","input_array","index"}]}
// when some objects were refused: each refused object's record is rejected with Braze's reason
// and the others are acknowledged. A fatal answer (message other than "success") fails the
// whole batch, unless every object of the request is named in its errors, in which case each
// record is rejected with its own reason. Braze throttles with 429 and X-RateLimit-Reset (UTC
// epoch seconds), which the shared transport honours.
//
// Contract sources: braze.com/docs/api/endpoints/user_data/post_user_track,
// braze.com/docs/api/objects_filters/{user_attributes,event,purchase}_object,
// braze.com/docs/api/endpoints/subscription_groups/post_update_user_subscription_group_status_v2,
// braze.com/docs/api/api_limits and braze.com/docs/api/errors.
package braze

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/httpx"
	"dinmo/connectors/pii"
)

// Name is the stable name of this platform.
const Name = "braze"

// Services.
const (
	ServiceUserAttributes     = "user_attributes"
	ServiceTrackEvents        = "track_events"
	ServiceSubscriptionStatus = "subscription_status"
	ServiceUserLists          = "user_lists"
)

// Setting and credential keys.
const (
	SettingRESTEndpoint       = "rest_endpoint"
	SettingBatchSize          = destination.SettingBatchSize
	SettingRequestsPerSecond  = "requests_per_second"
	SettingMaxRetries         = "max_retries"
	SettingDefaultPhoneRegion = "default_phone_region"
	CredentialAPIKey          = "api_key"
)

// Service option keys.
const (
	OptionEventType           = "event_type"
	OptionEventName           = "event_name"
	OptionUpdateExistingOnly  = "update_existing_only"
	OptionSubscriptionGroupID = "subscription_group_id"
	OptionAttributeName       = "attribute_name"
)

// Event types of the track_events service.
const (
	EventTypeCustom   = "custom"
	EventTypePurchase = "purchase"
)

// API paths, relative to the instance's REST endpoint.
const (
	PathUsersTrack            = "/users/track"
	PathSubscriptionStatusSet = "/v2/subscription/status/set"
)

// Limits documented by Braze (braze.com/docs/api/api_limits).
const (
	// MaxTrackObjects is the most objects one /users/track request carries (75 per array;
	// one record is one object, and a request uses one array).
	MaxTrackObjects = 75
	// MaxSubscriptionIDs is the most ids one subscription group update carries.
	MaxSubscriptionIDs = 50
	// DefaultBatchSize is 50, the per-request limit of contracts on "Monthly Active Users -
	// CY 24-25", so the default works on every contract; others may raise batch_size to 75.
	DefaultBatchSize = 50
	// TrackRequestsPerSecond and TrackBurst express /users/track's 3,000 requests per three
	// seconds per workspace.
	TrackRequestsPerSecond = 1000
	TrackBurst             = 3000
	// SubscriptionRequestsPerSecond and SubscriptionBurst express /subscription/status/set's
	// 5,000 requests per minute, shared between v1 and v2.
	SubscriptionRequestsPerSecond = 5000.0 / 60
	SubscriptionBurst             = 5000
	// DefaultRequestsPerSecond is the client-side limit used unless requests_per_second says
	// otherwise: a tenth of the /users/track budget, which the workspace shares with its SDKs
	// and other integrations, and far above what one sequential run sends.
	DefaultRequestsPerSecond = 100
	// DefaultMaxRetries is the number of retries of a request after 429, 5xx and network
	// errors.
	DefaultMaxRetries = 5
)

// maxNameLength bounds attribute, property and event names (Braze: 255 characters).
const maxNameLength = 255

var settings = []connectors.ConfigField{
	{Name: SettingRESTEndpoint, Type: connectors.FieldString, Required: true,
		Description: "REST endpoint of your Braze instance, for example `https://rest.iad-01.braze.com` or `https://rest.fra-01.braze.eu` " +
			"(Braze dashboard: **Settings → APIs and Identifiers**). It must be an `https://` address on `braze.com` or `braze.eu`; " +
			"the dashboard address (`dashboard-01.braze.com`) is not the REST endpoint."},
	{Name: SettingBatchSize, Type: connectors.FieldInt, Default: int64(DefaultBatchSize), Min: 1, Max: MaxTrackObjects,
		Description: "Records per request. The default 50 suits every Braze contract; contracts without the " +
			"\"Monthly Active Users - CY 24-25\" limits may use up to 75. Subscription updates never carry more than 50."},
	{Name: SettingRequestsPerSecond, Type: connectors.FieldInt, Default: int64(DefaultRequestsPerSecond), Min: 1, Max: TrackRequestsPerSecond,
		Description: "Most requests per second this destination sends, retries included. Braze allows 3,000 `/users/track` requests " +
			"per three seconds and 5,000 subscription updates per minute per workspace, shared with your other integrations; " +
			"the lower of this value and Braze's limit applies."},
	{Name: SettingMaxRetries, Type: connectors.FieldInt, Default: int64(DefaultMaxRetries), Max: 20,
		Description: "Retries of a request after a network error, a 429 (waiting until `X-RateLimit-Reset`) or a 5xx answer (0 disables retries)."},
	{Name: SettingDefaultPhoneRegion, Type: connectors.FieldString,
		Description: "ISO 3166-1 alpha-2 country (for example `FR`) assumed for phone numbers written without a country code. " +
			"Without it, such numbers are rejected: Braze needs E.164 numbers (`+33612345678`)."},
}

var credentials = []connectors.ConfigField{
	{Name: CredentialAPIKey, Type: connectors.FieldString, Required: true,
		Description: "A Braze REST API key (**Settings → APIs and Identifiers → API Keys**) with the `users.track` permission, " +
			"plus `subscription.status.set` for the `subscription_status` service. Sent as `Authorization: Bearer <key>`."},
}

var identifierFields = []destination.FieldSpec{
	{Name: "external_id", Type: "string", PII: pii.RuleExternalID,
		Description: "The user's external ID in Braze. Used when set; otherwise `braze_id` identifies the user."},
	{Name: "braze_id", Type: "string", PII: pii.RuleExternalID,
		Description: "The Braze user identifier, used for records without an `external_id`."},
}

var attributeFields = append(slices.Clone(identifierFields),
	destination.FieldSpec{Name: "email", Type: "string", PII: pii.RuleEmail,
		Description: "E-mail address, trimmed and lowercased. An invalid address rejects the record; an empty one clears the attribute."},
	destination.FieldSpec{Name: "phone", Type: "string", PII: pii.RulePhone,
		Description: "Phone number, sent in E.164 (`+33612345678`); numbers without a country code need `default_phone_region`. An invalid number rejects the record."},
	destination.FieldSpec{Name: "first_name", Type: "string", Description: "First name."},
	destination.FieldSpec{Name: "last_name", Type: "string", Description: "Last name."},
	destination.FieldSpec{Name: "gender", Type: "string", Description: "`M`, `F`, `O` (other), `N` (not applicable) or `P` (prefer not to say)."},
	destination.FieldSpec{Name: "dob", Type: "string", Description: "Date of birth, sent as `YYYY-MM-DD` (dates and timestamps are converted)."},
	destination.FieldSpec{Name: "country", Type: "string", Description: "ISO 3166-1 alpha-2 country code."},
	destination.FieldSpec{Name: "home_city", Type: "string", Description: "Home city."},
	destination.FieldSpec{Name: "language", Type: "string", Description: "ISO 639-1 language code."},
	destination.FieldSpec{Name: "time_zone", Type: "string", Description: "IANA time zone name, for example `Europe/Paris`."},
	destination.FieldSpec{Name: "email_subscribe", Type: "string", Description: "`opted_in`, `subscribed` or `unsubscribed`."},
	destination.FieldSpec{Name: "push_subscribe", Type: "string", Description: "`opted_in`, `subscribed` or `unsubscribed`."},
)

var eventFields = append(slices.Clone(identifierFields),
	destination.FieldSpec{Name: "time", Type: "timestamp", Required: true,
		Description: "When the event or purchase happened (a timestamp, or ISO 8601 text)."},
	destination.FieldSpec{Name: "product_id", Type: "string",
		Description: "Purchases: the product (or order type) bought. Required when `event_type` is `purchase`."},
	destination.FieldSpec{Name: "currency", Type: "string",
		Description: "Purchases: ISO 4217 currency code (`EUR`), uppercased. Required when `event_type` is `purchase`."},
	destination.FieldSpec{Name: "price", Type: "number",
		Description: "Purchases: unit price in the currency's base unit. Required when `event_type` is `purchase`."},
	destination.FieldSpec{Name: "quantity", Type: "integer",
		Description: "Purchases: quantity bought, 1 to 100 (default 1)."},
)

var subscriptionFields = []destination.FieldSpec{
	{Name: "external_id", Type: "string", PII: pii.RuleExternalID,
		Description: "The user's external ID in Braze. Used first when set."},
	{Name: "email", Type: "string", PII: pii.RuleEmail,
		Description: "E-mail address (trimmed and lowercased), used for records without an `external_id`. Braze updates every user sharing the address."},
	{Name: "phone", Type: "string", PII: pii.RulePhone,
		Description: "Phone number, sent in E.164 (`+33612345678`), used for records with neither `external_id` nor `email` (SMS groups). " +
			"Numbers without a country code need `default_phone_region`."},
}

var listFields = []destination.FieldSpec{
	{Name: "external_id", Type: "string", PII: pii.RuleExternalID, Required: true,
		Description: "The user's external ID in Braze. Only existing users are updated."},
}

var spec = destination.PlatformSpec{
	Platform:    Name,
	DisplayName: "Braze",
	Description: "Syncs user attributes, custom events and purchases, subscription group membership, and segments " +
		"(as boolean attributes) to a Braze workspace through its REST API.",
	Settings:    settings,
	Credentials: credentials,
	Services: []destination.ServiceSpec{
		{
			Name: ServiceUserAttributes,
			Description: "Sets standard and custom attributes on Braze user profiles through `POST /users/track`. " +
				"`upsert` creates unknown users; `update` only changes existing ones (`_update_existing_only`). " +
				"Mapped fields that are not standard profile fields become custom attributes, created by Braze on first use; " +
				"a null value removes the attribute. Users leaving the segment are not deleted.",
			Family:            destination.FamilyObjects,
			RunTypes:          []destination.RunType{destination.RunFull, destination.RunDelta},
			SyncModes:         []destination.SyncMode{destination.ModeUpdate, destination.ModeUpsert},
			Identifiers:       []string{"external_id", "braze_id"},
			RequireIdentifier: true,
			Fields:            attributeFields,
			AllowCustomFields: true,
			// Creation depends on the mode: upsert creates, update does not.
			CreatesUnknownRecords: true,
			MaxBatchSize:          MaxTrackObjects,
			DefaultBatchSize:      DefaultBatchSize,
			RequestsPerSecond:     TrackRequestsPerSecond,
			Burst:                 TrackBurst,
		},
		{
			Name: ServiceTrackEvents,
			Description: "Sends each new event row once to `POST /users/track`, as a custom event named by `event_name` " +
				"or, with `event_type = \"purchase\"`, as a purchase (`product_id`, `currency`, `price`, `quantity`). " +
				"Mapped fields other than the known ones become event properties (names up to 255 characters, not starting with `$`). " +
				"Braze creates unknown users unless `update_existing_only` is set. Braze does not deduplicate events, so full runs " +
				"are not offered: `delta` sends the rows that appeared since the previous run, and `incremental` sends each " +
				"event row once, tracked by the model's timestamp, tolerating late rows within the activation's lookback.",
			Family: destination.FamilyEvents,
			// Delta and incremental runs send only new event rows; a full run would duplicate every
			// event in Braze.
			RunTypes:          []destination.RunType{destination.RunDelta, destination.RunIncremental},
			SyncModes:         []destination.SyncMode{destination.ModeEvents},
			Identifiers:       []string{"external_id", "braze_id"},
			RequireIdentifier: true,
			Fields:            eventFields,
			AllowCustomFields: true,
			Options: []connectors.ConfigField{
				{Name: OptionEventType, Type: connectors.FieldString, Default: EventTypeCustom, Enum: []string{EventTypeCustom, EventTypePurchase},
					Description: "`custom` sends custom events, `purchase` sends purchases."},
				{Name: OptionEventName, Type: connectors.FieldString,
					Description: "Name of the custom event (up to 255 characters). Required when `event_type` is `custom`."},
				{Name: OptionUpdateExistingOnly, Type: connectors.FieldBool, Default: false,
					Description: "Record events only for users that already exist in Braze, instead of creating them."},
			},
			CreatesUnknownRecords: true,
			MaxBatchSize:          MaxTrackObjects,
			DefaultBatchSize:      DefaultBatchSize,
			RequestsPerSecond:     TrackRequestsPerSecond,
			Burst:                 TrackBurst,
		},
		{
			Name: ServiceSubscriptionStatus,
			Description: "Subscribes users entering the segment to a Braze subscription group (email or SMS) and unsubscribes " +
				"those leaving it, through `POST /v2/subscription/status/set`. Users are identified by `external_id`, else " +
				"`email`, else `phone` (E.164). Users who never were members are left alone.",
			Family:            destination.FamilyLists,
			RunTypes:          []destination.RunType{destination.RunFull, destination.RunDelta},
			SyncModes:         []destination.SyncMode{destination.ModeList},
			Identifiers:       []string{"external_id", "email", "phone"},
			RequireIdentifier: true,
			Fields:            subscriptionFields,
			Options: []connectors.ConfigField{
				{Name: OptionSubscriptionGroupID, Type: connectors.FieldString, Required: true,
					Description: "The `subscription_group_id` of the group, copied from Braze (**Audience → Subscriptions**)."},
			},
			MaxBatchSize:      MaxSubscriptionIDs,
			DefaultBatchSize:  MaxSubscriptionIDs,
			RequestsPerSecond: SubscriptionRequestsPerSecond,
			Burst:             SubscriptionBurst,
		},
		{
			Name: ServiceUserLists,
			Description: "Exports a segment as a boolean custom attribute through `POST /users/track`: `true` for users entering it, " +
				"`false` for users leaving it. Braze has no list API: build a Braze segment on `<attribute> is true`. " +
				"Only existing users are updated (`_update_existing_only`).",
			Family:            destination.FamilyLists,
			RunTypes:          []destination.RunType{destination.RunFull, destination.RunDelta},
			SyncModes:         []destination.SyncMode{destination.ModeList},
			Identifiers:       []string{"external_id"},
			RequireIdentifier: true,
			Fields:            listFields,
			Options: []connectors.ConfigField{
				{Name: OptionAttributeName, Type: connectors.FieldString,
					Description: "Name of the boolean attribute (up to 255 characters, not starting with `$`, not a standard profile field). " +
						"Default: the activation's name, lowercased, with every run of characters other than letters, digits and `_` replaced by `_`."},
			},
			MaxBatchSize:      MaxTrackObjects,
			DefaultBatchSize:  DefaultBatchSize,
			RequestsPerSecond: TrackRequestsPerSecond,
			Burst:             TrackBurst,
		},
	},
}

// Option tunes a Platform; production uses none.
type Option func(*Platform)

// WithBackoff sets the bounds of the retry backoff (defaults: httpx's 500ms and 30s). Tests
// use milliseconds.
func WithBackoff(minBackoff, maxBackoff time.Duration) Option {
	return func(p *Platform) { p.minBackoff, p.maxBackoff = minBackoff, maxBackoff }
}

// WithMaxRetryAfter caps how long a server-requested wait (X-RateLimit-Reset, Retry-After) is
// honoured (default: httpx's 5 minutes).
func WithMaxRetryAfter(d time.Duration) Option {
	return func(p *Platform) { p.maxRetryAfter = d }
}

// WithTransport sets the HTTP round tripper under the shared transport.
func WithTransport(rt http.RoundTripper) Option {
	return func(p *Platform) { p.transport = rt }
}

// Platform implements destination.Platform for Braze.
type Platform struct {
	minBackoff, maxBackoff time.Duration
	maxRetryAfter          time.Duration
	transport              http.RoundTripper
}

var _ destination.Platform = (*Platform)(nil)

// New returns the Braze platform.
func New(opts ...Option) *Platform {
	p := &Platform{}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Spec declares the platform.
func (p *Platform) Spec() destination.PlatformSpec { return spec }

// Check validates the settings, the credentials and, when params.Service is set, the service
// and its options; then it verifies the REST API key against the endpoint the service writes
// to (/users/track, or /v2/subscription/status/set for subscription_status) with a request
// that carries no object, which Braze refuses without touching any user. Braze has no
// read-only endpoint that every key may call: its keys hold per-endpoint permissions. 401,
// 403 and 404 (Braze's answer to a key unknown on the instance) fail as credentials errors.
func (p *Platform) Check(ctx context.Context, params destination.OpenParams) error {
	cfg, err := parseConfig(params, params.Service != "")
	if err != nil {
		return err
	}
	logger := params.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client := p.newClient(cfg, logger.With(slog.String("platform", Name)))
	defer client.http.CloseIdleConnections()
	path, body := PathUsersTrack, []byte(`{"attributes":[]}`)
	if cfg.service.Name == ServiceSubscriptionStatus {
		path, body = PathSubscriptionStatusSet, []byte(`{"subscription_groups":[]}`)
	}
	status, resp, err := client.post(ctx, path, body)
	if err != nil {
		return fmt.Errorf("braze: checking the API key: %w", err)
	}
	switch {
	case status >= 200 && status < 300, status == http.StatusBadRequest:
		// An empty payload is refused with 400 once the key is accepted.
		return nil
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound:
		return client.credentialsError("checking the API key", path, status, resp)
	}
	return fmt.Errorf("braze: checking the API key: %s answered: %w", path, httpx.Classify(status, []byte(client.http.Redact(string(resp)))))
}

// Open validates the configuration and returns a destination for one run of one service. It
// sends nothing.
func (p *Platform) Open(_ context.Context, params destination.OpenParams) (destination.Destination, error) {
	cfg, err := parseConfig(params, true)
	if err != nil {
		return nil, err
	}
	logger := params.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With(slog.String("platform", Name), slog.String("service", cfg.service.Name),
		slog.String("run_id", params.RunID), slog.String("activation_id", params.ActivationID))
	return &brazeDestination{cfg: cfg, logger: logger, client: p.newClient(cfg, logger)}, nil
}

func (p *Platform) newClient(cfg *config, logger *slog.Logger) *client {
	maxRetries := cfg.maxRetries
	if maxRetries == 0 {
		maxRetries = -1 // httpx: 0 means the default, negative means none
	}
	return &client{
		base:   cfg.base,
		apiKey: cfg.apiKey,
		http: httpx.New(httpx.Options{
			MaxRetries:        maxRetries,
			MinBackoff:        p.minBackoff,
			MaxBackoff:        p.maxBackoff,
			MaxRetryAfter:     p.maxRetryAfter,
			RequestsPerSecond: cfg.requestsPerSecond,
			Burst:             1,
			Logger:            logger,
			Redact:            []string{cfg.apiKey},
			Transport:         p.transport,
		}),
	}
}

// config is the parsed, validated configuration of one destination.
type config struct {
	base              *url.URL
	apiKey            string
	batchSize         int
	requestsPerSecond float64
	maxRetries        int
	phoneRegion       string
	service           destination.ServiceSpec

	// Service options.
	eventType          string
	eventName          string
	updateExistingOnly bool
	groupID            string
	attributeName      string
}

// parseConfig validates params. withService also requires a known service and validates its
// options; Check of a destination without an activation has no service.
func parseConfig(params destination.OpenParams, withService bool) (*config, error) {
	st := destination.ApplyDefaults(spec.Settings, params.Settings)
	if err := destination.ValidateSettings(spec, st, params.Credentials); err != nil {
		return nil, err
	}
	var problems []string
	cfg := &config{
		apiKey:      strings.TrimSpace(params.Credentials[CredentialAPIKey]),
		maxRetries:  int(destination.SettingInt(st, SettingMaxRetries, DefaultMaxRetries)),
		phoneRegion: strings.ToUpper(strings.TrimSpace(destination.SettingString(st, SettingDefaultPhoneRegion, ""))),
	}
	endpoint, err := parseRESTEndpoint(destination.SettingString(st, SettingRESTEndpoint, ""))
	if err != nil {
		problems = append(problems, err.Error())
	}
	cfg.base = endpoint
	if params.BaseURL != "" {
		u, err := url.Parse(strings.TrimRight(params.BaseURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, "the base URL override must be an http(s) address")
		} else {
			cfg.base = u
		}
	}
	if cfg.maxRetries < 0 {
		problems = append(problems, fmt.Sprintf("setting %q must be 0 (no retries) or more", SettingMaxRetries))
	}
	if cfg.phoneRegion != "" && !isRegionCode(cfg.phoneRegion) {
		problems = append(problems, fmt.Sprintf("setting %q must be an ISO 3166-1 alpha-2 country code such as FR or US", SettingDefaultPhoneRegion))
	}
	if strings.ContainsAny(cfg.apiKey, " \t\r\n") {
		problems = append(problems, fmt.Sprintf("credential %q must be a single token without white space", CredentialAPIKey))
	}
	svcName := params.Service
	if !withService && svcName == "" {
		svcName = ServiceUserAttributes
	}
	svc, ok := spec.Service(svcName)
	if !ok {
		names := make([]string, len(spec.Services))
		for i, s := range spec.Services {
			names[i] = s.Name
		}
		problems = append(problems, fmt.Sprintf("unknown service %q (Braze offers %s)", params.Service, strings.Join(names, ", ")))
	} else {
		cfg.service = svc
		cfg.batchSize = destination.BatchSize(svc, st)
		rps := float64(destination.SettingInt(st, SettingRequestsPerSecond, DefaultRequestsPerSecond))
		cfg.requestsPerSecond = min(rps, svc.RequestsPerSecond)
		if withService {
			problems = append(problems, cfg.parseOptions(params)...)
		}
	}
	if len(problems) > 0 {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("destination %q: invalid configuration: %s", Name, strings.Join(problems, "; ")))
	}
	return cfg, nil
}

// parseRESTEndpoint checks the rest_endpoint setting: an https URL of a Braze host, without
// path, query or credentials.
func parseRESTEndpoint(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("setting %q is not a valid URL: %w", SettingRESTEndpoint, err)
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme != "https":
		return nil, fmt.Errorf("setting %q must start with https:// (for example https://rest.iad-01.braze.com)", SettingRESTEndpoint)
	case u.User != nil:
		return nil, fmt.Errorf("setting %q must not contain credentials: put the REST API key in the %q credential", SettingRESTEndpoint, CredentialAPIKey)
	case host == "":
		return nil, fmt.Errorf("setting %q has no host", SettingRESTEndpoint)
	case !strings.HasSuffix(host, ".braze.com") && !strings.HasSuffix(host, ".braze.eu"):
		return nil, fmt.Errorf("setting %q must be a Braze REST endpoint on braze.com or braze.eu, such as https://rest.iad-01.braze.com or https://rest.fra-01.braze.eu", SettingRESTEndpoint)
	case strings.HasPrefix(host, "dashboard"):
		return nil, fmt.Errorf("setting %q is a dashboard address: use the REST endpoint of the same cluster (dashboard-01.braze.com → rest.iad-01.braze.com, see Settings → APIs and Identifiers)", SettingRESTEndpoint)
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("setting %q must be the instance address only, without a path (https://rest.iad-01.braze.com, not …/users/track)", SettingRESTEndpoint)
	}
	return u, nil
}

// parseOptions validates the service options (types, enums, cross-field rules) and stores
// them in cfg.
func (cfg *config) parseOptions(params destination.OpenParams) []string {
	svc := cfg.service
	opts := destination.ApplyDefaults(svc.Options, params.Options)
	var problems []string
	declared := map[string]connectors.ConfigField{}
	for _, f := range svc.Options {
		declared[f.Name] = f
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f, ok := declared[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown service option %q for service %q", k, svc.Name))
			continue
		}
		v := opts[k]
		switch f.Type {
		case connectors.FieldString:
			s, ok := v.(string)
			if !ok {
				problems = append(problems, fmt.Sprintf("service option %q must be a string", k))
			} else if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
				problems = append(problems, fmt.Sprintf("service option %q: %q is not allowed; use one of %s", k, s, strings.Join(f.Enum, ", ")))
			}
		case connectors.FieldBool:
			if _, ok := v.(bool); !ok {
				problems = append(problems, fmt.Sprintf("service option %q must be true or false", k))
			}
		}
	}
	for _, f := range svc.Options {
		if f.Required && strings.TrimSpace(destination.SettingString(opts, f.Name, "")) == "" {
			problems = append(problems, fmt.Sprintf("service option %q is required: %s", f.Name, f.Description))
		}
	}
	if len(problems) > 0 {
		return problems
	}
	switch svc.Name {
	case ServiceTrackEvents:
		cfg.eventType = destination.SettingString(opts, OptionEventType, EventTypeCustom)
		cfg.eventName = strings.TrimSpace(destination.SettingString(opts, OptionEventName, ""))
		cfg.updateExistingOnly = destination.SettingBool(opts, OptionUpdateExistingOnly, false)
		switch {
		case cfg.eventType == EventTypeCustom && cfg.eventName == "":
			problems = append(problems, fmt.Sprintf("service option %q is required when %q is %q", OptionEventName, OptionEventType, EventTypeCustom))
		case cfg.eventType == EventTypePurchase && cfg.eventName != "":
			problems = append(problems, fmt.Sprintf("service option %q does not apply to purchases: remove it, or set %q to %q", OptionEventName, OptionEventType, EventTypeCustom))
		case len([]rune(cfg.eventName)) > maxNameLength:
			problems = append(problems, fmt.Sprintf("service option %q is longer than %d characters", OptionEventName, maxNameLength))
		}
	case ServiceSubscriptionStatus:
		cfg.groupID = strings.TrimSpace(destination.SettingString(opts, OptionSubscriptionGroupID, ""))
	case ServiceUserLists:
		name, err := listAttributeName(destination.SettingString(opts, OptionAttributeName, ""), params.ActivationName)
		if err != nil {
			problems = append(problems, err.Error())
		}
		cfg.attributeName = name
	}
	return problems
}

// listAttributeName returns the user_lists attribute: the attribute_name option as given, or
// the sanitised activation name.
func listAttributeName(option, activationName string) (string, error) {
	if name := strings.TrimSpace(option); name != "" {
		if err := checkAttributeName(name); err != nil {
			return "", fmt.Errorf("service option %q: %w", OptionAttributeName, err)
		}
		return name, nil
	}
	name := SanitizeAttributeName(activationName)
	if name == "" {
		return "", fmt.Errorf("service option %q is required: the activation name %q gives no usable attribute name", OptionAttributeName, activationName)
	}
	if err := checkAttributeName(name); err != nil {
		return "", fmt.Errorf("the attribute name derived from the activation name: %w; set service option %q", err, OptionAttributeName)
	}
	return name, nil
}

// SanitizeAttributeName turns an activation name into the default user_lists attribute name:
// lowercased, every run of characters other than ASCII letters, digits and "_" replaced by
// one "_", without leading or trailing "_", at most 255 characters. "VIP customers (FR)"
// gives "vip_customers_fr".
func SanitizeAttributeName(s string) string {
	var b strings.Builder
	pending := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			if pending && b.Len() > 0 {
				b.WriteByte('_')
			}
			pending = false
			b.WriteRune(r)
			continue
		}
		pending = true
	}
	out := strings.Trim(b.String(), "_")
	if len(out) > maxNameLength {
		out = strings.TrimRight(out[:maxNameLength], "_")
	}
	return out
}

// reservedAttributeNames are keys of a Braze attributes object that are not plain attributes:
// identifiers, control flags and structured fields dinmo does not write.
var reservedAttributeNames = map[string]bool{
	"external_id": true, "braze_id": true, "user_alias": true, "_update_existing_only": true,
	"push_token_import": true, "push_tokens": true, "subscription_groups": true, "api_key": true,
}

// profileFields are Braze's standard profile fields: a user_lists attribute must not take
// their name.
var profileFields = map[string]bool{
	"country": true, "current_location": true, "date_of_first_session": true, "date_of_last_session": true,
	"dob": true, "email": true, "email_subscribe": true, "facebook": true, "first_name": true, "gender": true,
	"home_city": true, "image_url": true, "language": true, "last_name": true, "marked_email_as_spam_at": true,
	"phone": true, "push_subscribe": true, "time_zone": true, "twitter": true, "email_open_tracking_disabled": true,
	"email_click_tracking_disabled": true, "alias_name": true, "alias_label": true,
}

// checkAttributeName validates a custom attribute name chosen for user_lists.
func checkAttributeName(name string) error {
	switch {
	case strings.HasPrefix(name, "$"):
		return errors.New("attribute names must not start with $")
	case len([]rune(name)) > maxNameLength:
		return fmt.Errorf("attribute names are at most %d characters", maxNameLength)
	case reservedAttributeNames[name] || profileFields[name]:
		return fmt.Errorf("%q is a Braze profile field or reserved key; choose another attribute name", name)
	}
	return nil
}

func isRegionCode(s string) bool {
	if len(s) != 2 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
