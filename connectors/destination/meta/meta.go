// Package meta is the "meta" destination platform: Meta's Marketing API (Facebook and
// Instagram ads) through the Graph API. It offers two services:
//
//   - custom_audiences keeps a customer-list Custom Audience in step with a segment: people
//     entering the segment are added (POST /{audience_id}/users), people leaving it removed
//     (DELETE /{audience_id}/users). Identifiers are normalised and SHA-256 hashed as Meta's
//     hashing guide says (package connectors/pii) before they leave the runner; mobile
//     advertising ids and external ids are sent as they are. The audience is found by name in
//     the ad account, or created, when the activation does not name one by id.
//   - conversions sends each new event row once to the Conversions API
//     (POST /{dataset_id}/events), with the customer information hashed the same way.
//
// Requests carry the system-user access token in the Authorization header (never in the URL,
// which proxies log) and, when an app secret is configured, appsecret_proof =
// hex(HMAC-SHA256(app_secret, access_token)) as a query parameter, redacted in logs.
//
// Vendor behaviours this package documents rather than hides:
//
//   - Custom audience uploads report only counts (num_received, num_invalid_entries and a few
//     samples) and are processed asynchronously (up to 24 hours): an accepted request
//     acknowledges every row it carried, and invalid entries are reported as a warning with
//     their count. Rows whose identifiers all fail normalisation are rejected locally and not
//     sent.
//   - Upload sessions: the runner does not announce a run's last batch and each Apply sends
//     at most one request per operation (MaxBatchSize is Meta's 10,000-row limit), so every
//     request is its own complete session (a fresh random 63-bit session_id, batch_seq 1,
//     last_batch_flag true). No session is ever left open waiting for a final batch.
//   - The Conversions API accepts or refuses a request as a whole and refuses the whole
//     request when one event is older than seven days, so events older than seven days (less
//     an hour of margin for retries) or dated in the future are rejected locally, one by one.
//     A request refused as invalid (error code 100) rejects the events it carried with Meta's
//     message; the runner sends rejected rows again on the next run.
//   - Meta signals throttling with HTTP 400/403 and error codes 4, 17, 32, 613 and 80000-80099
//     rather than 429; those fail the batch as retryable rate_limit errors. Code 190 (invalid
//     or expired token) and permission codes are credentials errors, code 100 a configuration
//     error (not_found for missing objects), codes 1 and 2 and transient errors retryable.
package meta

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/httpx"
	"dinmo/connectors/pii"
)

// Name is the stable name of this platform.
const Name = "meta"

// Services.
const (
	ServiceCustomAudiences = "custom_audiences"
	ServiceConversions     = "conversions"
)

// Setting and credential keys.
const (
	SettingAPIVersion         = "api_version"
	SettingAdAccountID        = "ad_account_id"
	SettingDefaultPhoneRegion = "default_phone_region"
	SettingBatchSize          = destination.SettingBatchSize
	SettingMaxRetries         = "max_retries"
	SettingRequestsPerSecond  = "requests_per_second"
	CredentialAccessToken     = "access_token"
	CredentialAppSecret       = "app_secret"
)

// Options of the custom_audiences service.
const (
	OptionAudienceName        = "audience_name"
	OptionAudienceDescription = "audience_description"
	OptionCustomerFileSource  = "customer_file_source"
	OptionAudienceID          = "audience_id"
)

// Options of the conversions service.
const (
	OptionPixelID        = "pixel_id"
	OptionEventName      = "event_name"
	OptionActionSource   = "action_source"
	OptionTestEventCode  = "test_event_code"
	OptionLimitedDataUse = "limited_data_use"
)

// Defaults and limits.
const (
	// DefaultAPIVersion is the Graph API version requests are sent to.
	DefaultAPIVersion = "v25.0"
	// DefaultBaseURL is the Graph API host; OpenParams.BaseURL replaces it.
	DefaultBaseURL = "https://graph.facebook.com"
	// MaxAudienceRows is Meta's limit of rows per custom audience users request.
	MaxAudienceRows = 10000
	// MaxEvents is Meta's limit of events per Conversions API request.
	MaxEvents = 1000
	// MinAudienceSize is the number of matched people Meta needs before it serves ads to a
	// custom audience.
	MinAudienceSize = 100
	// MaxEventAge is how old an event may be: Meta refuses older ones.
	MaxEventAge = 7 * 24 * time.Hour
	// EventAgeMargin is subtracted from MaxEventAge when rejecting old events locally, so
	// an event does not age past the limit while its request waits for retries.
	EventAgeMargin = time.Hour
	// MaxClockSkew is how far in the future an event time may be (clock differences).
	MaxClockSkew = time.Minute
)

// Customer file sources (who collected the data of a customer list).
const (
	FileSourceUser        = "USER_PROVIDED_ONLY"
	FileSourcePartner     = "PARTNER_PROVIDED_ONLY"
	FileSourceUserPartner = "BOTH_USER_AND_PARTNER_PROVIDED"
)

// ActionSources lists the Conversions API's action_source values.
var ActionSources = []string{"website", "email", "app", "phone_call", "chat", "physical_store",
	"system_generated", "business_messaging", "other"}

// Fields of the custom_audiences service (destination field names users map to).
const (
	FieldEmail        = "email"
	FieldPhone        = "phone"
	FieldFirstName    = "first_name"
	FieldLastName     = "last_name"
	FieldFirstInitial = "first_initial"
	FieldCity         = "city"
	FieldState        = "state"
	FieldZip          = "zip"
	FieldCountry      = "country"
	FieldBirthYear    = "birth_year"
	FieldBirthMonth   = "birth_month"
	FieldBirthDay     = "birth_day"
	FieldDateOfBirth  = "date_of_birth"
	FieldGender       = "gender"
	FieldMADID        = "madid"
	FieldExternalID   = "external_id"
)

// Fields of the conversions service besides the customer information fields above.
const (
	FieldEventTime       = "event_time"
	FieldEventID         = "event_id"
	FieldEventSourceURL  = "event_source_url"
	FieldClientIPAddress = "client_ip_address"
	FieldClientUserAgent = "client_user_agent"
	FieldFBC             = "fbc"
	FieldFBP             = "fbp"
	FieldValue           = "value"
	FieldCurrency        = "currency"
	FieldOrderID         = "order_id"
	FieldContentIDs      = "content_ids"
)

// audienceColumn ties a custom_audiences field to its column in Meta's payload schema.
type audienceColumn struct {
	field  string
	schema string
}

// audienceColumns is the order of columns in the payload schema.
var audienceColumns = []audienceColumn{
	{FieldEmail, "EMAIL"}, {FieldPhone, "PHONE"}, {FieldFirstName, "FN"}, {FieldLastName, "LN"},
	{FieldFirstInitial, "FI"}, {FieldZip, "ZIP"}, {FieldCity, "CT"}, {FieldState, "ST"},
	{FieldCountry, "COUNTRY"}, {FieldBirthYear, "DOBY"}, {FieldBirthMonth, "DOBM"},
	{FieldBirthDay, "DOBD"}, {FieldGender, "GEN"}, {FieldMADID, "MADID"}, {FieldExternalID, "EXTERN_ID"},
}

// audienceIdentifiers are the fields that identify a person on their own.
var audienceIdentifiers = []string{FieldEmail, FieldPhone, FieldMADID, FieldExternalID}

var audienceFields = []destination.FieldSpec{
	{Name: FieldEmail, Type: "string", PII: pii.RuleEmail, Hashed: true,
		Description: "E-mail address (`EMAIL`): trimmed, lowercased, SHA-256 hashed. Values that are already SHA-256 hex are sent as they are."},
	{Name: FieldPhone, Type: "string", PII: pii.RulePhone, Hashed: true,
		Description: "Phone number (`PHONE`): digits with the country code, no `+` or leading zeros, SHA-256 hashed. Numbers without a country code need the `default_phone_region` setting."},
	{Name: FieldFirstName, Type: "string", PII: pii.RuleFirstName, Hashed: true,
		Description: "First name (`FN`): lowercased letters only (accents and non-Latin scripts kept), SHA-256 hashed."},
	{Name: FieldLastName, Type: "string", PII: pii.RuleLastName, Hashed: true,
		Description: "Last name (`LN`): lowercased letters only, SHA-256 hashed."},
	{Name: FieldFirstInitial, Type: "string", PII: pii.RuleFirstInitial, Hashed: true,
		Description: "First initial (`FI`), from a first name or an initial, lowercased, SHA-256 hashed."},
	{Name: FieldZip, Type: "string", PII: pii.RuleZip, Hashed: true,
		Description: "Postal code (`ZIP`): lowercased, no spaces; United States codes keep five digits. SHA-256 hashed."},
	{Name: FieldCity, Type: "string", PII: pii.RuleCity, Hashed: true,
		Description: "City (`CT`): lowercased letters only, no spaces or punctuation, SHA-256 hashed."},
	{Name: FieldState, Type: "string", PII: pii.RuleState, Hashed: true,
		Description: "State or province (`ST`): two-letter code for the United States, lowercased letters elsewhere, SHA-256 hashed."},
	{Name: FieldCountry, Type: "string", PII: pii.RuleCountry, Hashed: true,
		Description: "Country (`COUNTRY`): ISO 3166-1 alpha-2 code, lowercased, SHA-256 hashed."},
	{Name: FieldBirthYear, Type: "string", PII: pii.RuleBirthYear, Hashed: true,
		Description: "Year of birth (`DOBY`, `YYYY`), from a year or a date, SHA-256 hashed."},
	{Name: FieldBirthMonth, Type: "string", PII: pii.RuleBirthMonth, Hashed: true,
		Description: "Month of birth (`DOBM`, `MM`), from a month number or a date, SHA-256 hashed."},
	{Name: FieldBirthDay, Type: "string", PII: pii.RuleBirthDay, Hashed: true,
		Description: "Day of birth (`DOBD`, `DD`), from a day number or a date, SHA-256 hashed."},
	{Name: FieldGender, Type: "string", PII: pii.RuleGender, Hashed: true,
		Description: "Gender (`GEN`): `m` or `f`, SHA-256 hashed."},
	{Name: FieldMADID, Type: "string", PII: pii.RuleMADID,
		Description: "Mobile advertising id (`MADID`: IDFA or Android advertising id), lowercased, sent unhashed as Meta asks."},
	{Name: FieldExternalID, Type: "string", PII: pii.RuleExternalID,
		Description: "Your own customer id (`EXTERN_ID`), trimmed and sent as is. It only matches people whose id Meta already knows from your pixel or app events."},
}

// userDataKeys maps the conversions customer information fields to user_data keys.
var userDataKeys = []struct {
	field, key string
	array      bool // sent as a list of one value
}{
	{FieldEmail, "em", true}, {FieldPhone, "ph", true}, {FieldFirstName, "fn", false},
	{FieldLastName, "ln", false}, {FieldGender, "ge", false}, {FieldDateOfBirth, "db", false},
	{FieldCity, "ct", false}, {FieldState, "st", false}, {FieldZip, "zp", false},
	{FieldCountry, "country", false}, {FieldExternalID, "external_id", true},
}

var conversionFields = []destination.FieldSpec{
	{Name: FieldEventTime, Type: "timestamp", Required: true,
		Description: "When the event happened (a timestamp, RFC 3339 text or Unix seconds). Meta refuses events older than seven days: older rows are rejected without being sent."},
	{Name: FieldEventID, Type: "string",
		Description: "Deduplication id (`event_id`), matched by Meta against the same event sent by the pixel within 48 hours. Default: the record key."},
	{Name: FieldEventSourceURL, Type: "string",
		Description: "Page where the event happened (`event_source_url`); required when `action_source` is `website`."},
	{Name: FieldEmail, Type: "string", PII: pii.RuleEmail, Hashed: true, Description: "E-mail address (`em`), normalised and SHA-256 hashed."},
	{Name: FieldPhone, Type: "string", PII: pii.RulePhone, Hashed: true, Description: "Phone number (`ph`): digits with country code, SHA-256 hashed."},
	{Name: FieldFirstName, Type: "string", PII: pii.RuleFirstName, Hashed: true, Description: "First name (`fn`), SHA-256 hashed."},
	{Name: FieldLastName, Type: "string", PII: pii.RuleLastName, Hashed: true, Description: "Last name (`ln`), SHA-256 hashed."},
	{Name: FieldGender, Type: "string", PII: pii.RuleGender, Hashed: true, Description: "Gender (`ge`): `m` or `f`, SHA-256 hashed."},
	{Name: FieldDateOfBirth, Type: "string", PII: pii.RuleDateOfBirth, Hashed: true, Description: "Date of birth (`db`, `YYYYMMDD`), SHA-256 hashed."},
	{Name: FieldCity, Type: "string", PII: pii.RuleCity, Hashed: true, Description: "City (`ct`), SHA-256 hashed."},
	{Name: FieldState, Type: "string", PII: pii.RuleState, Hashed: true, Description: "State (`st`), SHA-256 hashed."},
	{Name: FieldZip, Type: "string", PII: pii.RuleZip, Hashed: true, Description: "Postal code (`zp`), SHA-256 hashed."},
	{Name: FieldCountry, Type: "string", PII: pii.RuleCountry, Hashed: true, Description: "Country (`country`, ISO 3166-1 alpha-2), SHA-256 hashed."},
	{Name: FieldExternalID, Type: "string", PII: pii.RuleExternalID, Hashed: true, Description: "Your customer id (`external_id`), SHA-256 hashed as Meta recommends."},
	{Name: FieldClientIPAddress, Type: "string", Description: "Client IP address (`client_ip_address`), sent unhashed."},
	{Name: FieldClientUserAgent, Type: "string", Description: "Browser user agent (`client_user_agent`), sent unhashed; required when `action_source` is `website`."},
	{Name: FieldFBC, Type: "string", Description: "Click id cookie (`fbc`, `_fbc`), sent unhashed."},
	{Name: FieldFBP, Type: "string", Description: "Browser id cookie (`fbp`, `_fbp`), sent unhashed."},
	{Name: FieldValue, Type: "number", Description: "Monetary value of the event (`custom_data.value`); needs `currency`."},
	{Name: FieldCurrency, Type: "string", Description: "ISO 4217 currency code of `value` (`custom_data.currency`)."},
	{Name: FieldOrderID, Type: "string", Description: "Order id (`custom_data.order_id`)."},
	{Name: FieldContentIDs, Type: "object", Description: "Product ids (`custom_data.content_ids`): a list, or text with comma-separated ids."},
}

// conversionIdentifiers are the user_data fields that can identify a customer.
var conversionIdentifiers = []string{FieldEmail, FieldPhone, FieldExternalID, FieldFBC, FieldFBP, FieldClientIPAddress}

var spec = destination.PlatformSpec{
	Platform:    Name,
	DisplayName: "Meta Ads",
	Description: "Meta's Marketing API (Facebook and Instagram ads): customer-list Custom Audiences and the Conversions API. " +
		"Identifiers are normalised and SHA-256 hashed as Meta's hashing guide requires before they are sent.",
	Settings: []connectors.ConfigField{
		{Name: SettingAPIVersion, Type: connectors.FieldString, Default: DefaultAPIVersion,
			Description: "Graph API version, such as `v25.0`."},
		{Name: SettingAdAccountID, Type: connectors.FieldString,
			Description: "Ad account id, with or without the `act_` prefix. Required by the `custom_audiences` service."},
		{Name: SettingDefaultPhoneRegion, Type: connectors.FieldString,
			Description: "ISO 3166-1 alpha-2 country (such as `FR`) assumed for phone numbers written without a country code. " +
				"Without it such numbers are rejected."},
		{Name: SettingBatchSize, Type: connectors.FieldInt, Min: 1, Max: MaxAudienceRows,
			Description: "Records per request; at most 10000 for audiences and 1000 for conversions (the default for each)."},
		{Name: SettingMaxRetries, Type: connectors.FieldInt, Default: int64(5), Max: 20,
			Description: "Retries of a request after network errors, HTTP 429 and 5xx answers (0 disables retries)."},
		{Name: SettingRequestsPerSecond, Type: connectors.FieldInt, Default: int64(0), Max: 1000,
			Description: "Most requests per second, retries included (0: unlimited). Meta throttles by usage points rather than a fixed rate."},
	},
	Credentials: []connectors.ConfigField{
		{Name: CredentialAccessToken, Type: connectors.FieldString, Required: true,
			Description: "System-user access token from Business Manager with the `ads_management` permission, sent as `Authorization: Bearer`."},
		{Name: CredentialAppSecret, Type: connectors.FieldString,
			Description: "Secret of the Meta app the token belongs to. When set, requests carry `appsecret_proof`, which apps that require it demand."},
	},
	Services: []destination.ServiceSpec{
		{
			Name: ServiceCustomAudiences,
			Description: "Keeps a customer-list Custom Audience in step with the segment: entering people are added, leaving people removed. " +
				"Meta matches the hashed identifiers asynchronously (up to 24 hours) and serves ads only to audiences of at least 100 matched people.",
			Family:            destination.FamilyLists,
			RunTypes:          []destination.RunType{destination.RunFull, destination.RunDelta},
			SyncModes:         []destination.SyncMode{destination.ModeList},
			Identifiers:       audienceIdentifiers,
			Fields:            audienceFields,
			RequireIdentifier: true,
			Options: []connectors.ConfigField{
				{Name: OptionAudienceName, Type: connectors.FieldString,
					Description: "Name of the Custom Audience; it is found by name in the ad account or created. Default: the activation's name."},
				{Name: OptionAudienceDescription, Type: connectors.FieldString,
					Description: "Description given to the audience when dinmo creates it."},
				{Name: OptionCustomerFileSource, Type: connectors.FieldString, Default: FileSourceUser,
					Enum:        []string{FileSourceUser, FileSourcePartner, FileSourceUserPartner},
					Description: "Who collected the data, as Meta's terms require when creating the audience."},
				{Name: OptionAudienceID, Type: connectors.FieldString,
					Description: "Id of an existing customer-list audience to use instead of finding or creating one by name."},
			},
			MaxBatchSize:     MaxAudienceRows,
			DefaultBatchSize: MaxAudienceRows,
			MinAudienceSize:  MinAudienceSize,
		},
		{
			Name: ServiceConversions,
			Description: "Sends each new event row once to the Conversions API of a dataset (pixel), with hashed customer information. " +
				"Each activation sends one event name from one action source.",
			Family:            destination.FamilyEvents,
			RunTypes:          []destination.RunType{destination.RunFull, destination.RunDelta, destination.RunIncremental},
			SyncModes:         []destination.SyncMode{destination.ModeEvents},
			Identifiers:       conversionIdentifiers,
			Fields:            conversionFields,
			AllowCustomFields: true,
			Options: []connectors.ConfigField{
				{Name: OptionPixelID, Type: connectors.FieldString, Required: true,
					Description: "Dataset id (formerly pixel id) the events are sent to."},
				{Name: OptionEventName, Type: connectors.FieldString, Required: true,
					Description: "Event name: a standard event (`Purchase`, `Lead`, `CompleteRegistration`...) or a custom one."},
				{Name: OptionActionSource, Type: connectors.FieldString, Required: true, Enum: ActionSources,
					Description: "Where the conversions happened. `website` events also need `client_user_agent` and `event_source_url`."},
				{Name: OptionTestEventCode, Type: connectors.FieldString,
					Description: "Code from Events Manager's Test Events tab: events then show there and are not used for ads."},
				{Name: OptionLimitedDataUse, Type: connectors.FieldBool, Default: false,
					Description: "Flags every event for Limited Data Use (`data_processing_options: [\"LDU\"]`, with Meta geolocating the user) under US state privacy laws."},
			},
			MaxBatchSize:     MaxEvents,
			DefaultBatchSize: MaxEvents,
		},
	},
}

// Option tunes a Platform; production uses none.
type Option func(*Platform)

// WithBackoff sets the bounds of the retry backoff (defaults: httpx's). Tests use
// milliseconds.
func WithBackoff(minBackoff, maxBackoff time.Duration) Option {
	return func(p *Platform) { p.minBackoff, p.maxBackoff = minBackoff, maxBackoff }
}

// WithTransport sets the HTTP round tripper under the shared transport.
func WithTransport(rt http.RoundTripper) Option {
	return func(p *Platform) { p.transport = rt }
}

// WithClock sets the clock used to judge event ages (tests).
func WithClock(now func() time.Time) Option {
	return func(p *Platform) { p.now = now }
}

// WithSessionIDs sets the source of upload session ids (tests; default: crypto/rand).
func WithSessionIDs(next func() int64) Option {
	return func(p *Platform) { p.sessionID = next }
}

// Platform implements destination.Platform for Meta.
type Platform struct {
	minBackoff, maxBackoff time.Duration
	transport              http.RoundTripper
	now                    func() time.Time
	sessionID              func() int64
}

var _ destination.Platform = (*Platform)(nil)

// New returns the Meta platform.
func New(opts ...Option) *Platform {
	p := &Platform{now: time.Now, sessionID: randomSessionID}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Spec declares the platform.
func (p *Platform) Spec() destination.PlatformSpec { return spec }

// Check validates the configuration and verifies, with read-only requests, that the token
// works and reaches what the service needs: the ad account (and the audience named by
// audience_id) for custom_audiences, the dataset for conversions, the token's user when no
// service is given.
func (p *Platform) Check(ctx context.Context, params destination.OpenParams) error {
	cfg, err := parseConfig(params)
	if err != nil {
		return err
	}
	g := p.newGraph(cfg, params, nil)
	defer g.http.CloseIdleConnections()
	switch params.Service {
	case ServiceCustomAudiences:
		if _, err := g.get(ctx, "/act_"+cfg.adAccountID, url.Values{"fields": {"id,name"}}); err != nil {
			return fmt.Errorf("meta: checking access to ad account %q: %w", cfg.adAccountID, err)
		}
		if id := cfg.audienceID; id != "" {
			if _, err := g.audience(ctx, id); err != nil {
				return fmt.Errorf("meta: checking audience %q: %w", id, err)
			}
		}
	case ServiceConversions:
		if _, err := g.get(ctx, "/"+cfg.pixelID, url.Values{"fields": {"id,name"}}); err != nil {
			return fmt.Errorf("meta: checking access to dataset %q: %w", cfg.pixelID, err)
		}
	default:
		if _, err := g.get(ctx, "/me", url.Values{"fields": {"id"}}); err != nil {
			return fmt.Errorf("meta: checking the access token: %w", err)
		}
		if cfg.adAccountID != "" {
			if _, err := g.get(ctx, "/act_"+cfg.adAccountID, url.Values{"fields": {"id,name"}}); err != nil {
				return fmt.Errorf("meta: checking access to ad account %q: %w", cfg.adAccountID, err)
			}
		}
	}
	return nil
}

// Open validates the configuration and returns a destination for one run. For
// custom_audiences without audience_id it finds the audience by name in the ad account (or
// creates it); with audience_id it sends nothing (Check verifies the id).
func (p *Platform) Open(ctx context.Context, params destination.OpenParams) (destination.Destination, error) {
	cfg, err := parseConfig(params)
	if err != nil {
		return nil, err
	}
	logger := params.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With(slog.String("platform", Name), slog.String("service", params.Service),
		slog.String("run_id", params.RunID), slog.String("activation_id", params.ActivationID))
	g := p.newGraph(cfg, params, logger)
	switch params.Service {
	case ServiceCustomAudiences:
		d := &audienceDestination{cfg: cfg, graph: g, logger: logger, sessionID: p.sessionID}
		if err := d.resolveAudience(ctx, params); err != nil {
			g.http.CloseIdleConnections()
			return nil, err
		}
		return d, nil
	case ServiceConversions:
		return &conversionsDestination{cfg: cfg, graph: g, logger: logger, now: p.now}, nil
	}
	return nil, unknownService(params.Service)
}

func unknownService(s string) error {
	return connectors.Permanent(connectors.CategoryConfiguration,
		fmt.Errorf("meta: unknown service %q: use %q or %q", s, ServiceCustomAudiences, ServiceConversions))
}

// config is the parsed, validated configuration of one destination and service.
type config struct {
	service     destination.ServiceSpec
	baseURL     string // scheme://host/version
	adAccountID string // digits
	piiOpts     pii.Options
	batchSize   int
	maxRetries  int64
	rps         int64
	token       string
	appSecret   string

	// custom_audiences
	audienceName, audienceDescription, fileSource, audienceID string
	// conversions
	pixelID, eventName, actionSource, testEventCode string
	limitedDataUse                                  bool
}

var (
	versionPattern = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)
	idPattern      = regexp.MustCompile(`^[0-9]+$`)
)

func parseConfig(params destination.OpenParams) (*config, error) {
	settings := destination.ApplyDefaults(spec.Settings, params.Settings)
	if err := destination.ValidateSettings(spec, settings, params.Credentials); err != nil {
		return nil, err
	}
	var problems []string
	cfg := &config{
		maxRetries: destination.SettingInt(settings, SettingMaxRetries, 5),
		rps:        destination.SettingInt(settings, SettingRequestsPerSecond, 0),
		token:      strings.TrimSpace(params.Credentials[CredentialAccessToken]),
		appSecret:  strings.TrimSpace(params.Credentials[CredentialAppSecret]),
	}
	version := strings.TrimSpace(destination.SettingString(settings, SettingAPIVersion, DefaultAPIVersion))
	if !versionPattern.MatchString(version) {
		problems = append(problems, fmt.Sprintf("setting %q must look like v25.0", SettingAPIVersion))
	}
	base := strings.TrimRight(strings.TrimSpace(params.BaseURL), "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		problems = append(problems, "the API base URL must be an http(s) address without credentials")
	}
	cfg.baseURL = base + "/" + version
	if raw := strings.TrimSpace(destination.SettingString(settings, SettingAdAccountID, "")); raw != "" {
		id := strings.TrimPrefix(raw, "act_")
		if !idPattern.MatchString(id) {
			problems = append(problems, fmt.Sprintf("setting %q must be digits, optionally prefixed with act_ (such as act_1234567890)", SettingAdAccountID))
		}
		cfg.adAccountID = id
	}
	if region := strings.TrimSpace(destination.SettingString(settings, SettingDefaultPhoneRegion, "")); region != "" {
		if !pii.IsPhoneRegion(region) {
			problems = append(problems, fmt.Sprintf("setting %q must be an ISO 3166-1 alpha-2 country code such as FR", SettingDefaultPhoneRegion))
		}
		cfg.piiOpts.DefaultRegion = strings.ToUpper(region)
	}
	cfg.piiOpts.PhoneFormat = pii.PhoneFormatDigits
	if cfg.maxRetries < 0 {
		problems = append(problems, fmt.Sprintf("setting %q must be 0 or more", SettingMaxRetries))
	}
	if cfg.rps < 0 {
		problems = append(problems, fmt.Sprintf("setting %q must be 0 (unlimited) or more", SettingRequestsPerSecond))
	}
	if cfg.token == "" {
		problems = append(problems, fmt.Sprintf("credential %q must not be blank", CredentialAccessToken))
	}
	if params.Service != "" {
		svc, ok := spec.Service(params.Service)
		if !ok {
			return nil, unknownService(params.Service)
		}
		cfg.service = svc
		cfg.batchSize = destination.BatchSize(svc, settings)
		opts := destination.ApplyDefaults(svc.Options, params.Options)
		if err := validateOptions(svc, opts); err != nil {
			return nil, err
		}
		switch svc.Name {
		case ServiceCustomAudiences:
			if cfg.adAccountID == "" {
				problems = append(problems, fmt.Sprintf("setting %q is required by the %s service", SettingAdAccountID, ServiceCustomAudiences))
			}
			cfg.audienceName = strings.TrimSpace(destination.SettingString(opts, OptionAudienceName, ""))
			if cfg.audienceName == "" {
				cfg.audienceName = strings.TrimSpace(params.ActivationName)
			}
			cfg.audienceDescription = destination.SettingString(opts, OptionAudienceDescription, "")
			cfg.fileSource = destination.SettingString(opts, OptionCustomerFileSource, FileSourceUser)
			cfg.audienceID = strings.TrimSpace(destination.SettingString(opts, OptionAudienceID, ""))
			switch {
			case cfg.audienceID != "" && !idPattern.MatchString(cfg.audienceID):
				problems = append(problems, fmt.Sprintf("option %q must be the audience's numeric id", OptionAudienceID))
			case cfg.audienceID == "" && cfg.audienceName == "":
				problems = append(problems, fmt.Sprintf("option %q (or the activation's name) is needed to find or create the audience", OptionAudienceName))
			}
		case ServiceConversions:
			cfg.pixelID = strings.TrimSpace(destination.SettingString(opts, OptionPixelID, ""))
			if !idPattern.MatchString(cfg.pixelID) {
				problems = append(problems, fmt.Sprintf("option %q must be the dataset's numeric id", OptionPixelID))
			}
			cfg.eventName = strings.TrimSpace(destination.SettingString(opts, OptionEventName, ""))
			if cfg.eventName == "" {
				problems = append(problems, fmt.Sprintf("option %q must not be blank", OptionEventName))
			}
			cfg.actionSource = destination.SettingString(opts, OptionActionSource, "")
			cfg.testEventCode = strings.TrimSpace(destination.SettingString(opts, OptionTestEventCode, ""))
			cfg.limitedDataUse = destination.SettingBool(opts, OptionLimitedDataUse, false)
		}
	}
	if len(problems) > 0 {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("destination %q: invalid configuration: %s", Name, strings.Join(problems, "; ")))
	}
	return cfg, nil
}

// validateOptions checks service options against their declaration with the rules of
// destination.ValidateSettings, naming them options.
func validateOptions(svc destination.ServiceSpec, opts map[string]any) error {
	err := destination.ValidateSettings(destination.PlatformSpec{Platform: Name, Settings: svc.Options}, opts, nil)
	if err == nil {
		return nil
	}
	msg := err.Error()
	if _, detail, ok := strings.Cut(msg, "invalid configuration: "); ok {
		msg = detail
	}
	msg = strings.NewReplacer(`setting "`, `option "`, "known settings", "known options").Replace(msg)
	return connectors.Permanent(connectors.CategoryConfiguration,
		fmt.Errorf("meta: service %q: invalid service_options: %s", svc.Name, msg))
}

// newGraph builds the Graph API client of one destination (or one Check).
func (p *Platform) newGraph(cfg *config, params destination.OpenParams, logger *slog.Logger) *graphClient {
	if logger == nil {
		logger = params.Logger
	}
	maxRetries := int(cfg.maxRetries)
	if maxRetries == 0 {
		maxRetries = -1 // httpx: 0 means the default, negative none
	}
	proof := ""
	if cfg.appSecret != "" {
		proof = AppSecretProof(cfg.appSecret, cfg.token)
	}
	client := httpx.New(httpx.Options{
		MaxRetries:        maxRetries,
		MinBackoff:        p.minBackoff,
		MaxBackoff:        p.maxBackoff,
		RequestsPerSecond: float64(cfg.rps),
		Burst:             1,
		Logger:            logger,
		Redact:            []string{cfg.token, cfg.appSecret, proof},
		Transport:         p.transport,
	})
	return &graphClient{http: client, base: cfg.baseURL, token: cfg.token, proof: proof}
}
