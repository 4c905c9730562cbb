// Package hubspot is the "hubspot" destination platform: it keeps HubSpot CRM records
// (contacts, companies, deals and custom objects) in step with a segment through the CRM v3
// batch APIs, matching records on a unique property (the contact e-mail by default).
//
// Requests (base https://api.hubapi.com, Authorization: Bearer <private app token>):
//
//	upsert  POST /crm/v3/objects/{objectType}/batch/upsert  {"inputs":[{"id":v,"idProperty":p,"properties":{...}}]}
//	insert  POST /crm/v3/objects/{objectType}/batch/create  {"inputs":[{"properties":{...}}]}
//	update  POST /crm/v3/objects/{objectType}/batch/update  {"inputs":[{"id":v,"idProperty":p,"properties":{...}}]}
//
// with at most 100 inputs each. Property values are strings: numbers in decimal, booleans as
// "true"/"false", timestamps as ISO 8601 in UTC with milliseconds (a timestamp at exactly
// midnight UTC as an ISO date, which date and datetime properties both accept), lists as
// ";"-separated options (multiple checkboxes), objects as JSON text, and null as "" (which
// clears the property).
//
// Outcomes: a 207 answer names failed inputs in errors[].context (their id values); the
// records it names are rejected with HubSpot's message (or retryable when the error is
// transient) and the others acknowledged. HubSpot refuses some batches whole for one record
// (409 "Contact already exists", 400 VALIDATION_ERROR on one invalid value); such batches are
// split in halves and resent until the culprits are isolated and rejected alone, so one bad
// row never holds back a hundred good ones. A mapping that targets a property that does not
// exist (or is read-only), or a matching property that is not unique, fails the batch as a
// configuration error. 401/403 are credentials errors; 429 (TEN_SECONDLY_ROLLING), 423 Locked
// and 5xx are retried by the shared transport, and a DAILY 429 ends the batch at once as a
// retryable rate_limit error.
package hubspot

import (
	"context"
	"errors"
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
const Name = "hubspot"

// DefaultBaseURL is HubSpot's API address; OpenParams.BaseURL overrides it.
const DefaultBaseURL = "https://api.hubapi.com"

// Services.
const (
	ServiceContacts      = "contacts"
	ServiceCompanies     = "companies"
	ServiceDeals         = "deals"
	ServiceCustomObjects = "custom_objects"
)

// Setting, credential and option keys.
const (
	SettingPortalID       = "portal_id"
	SettingRequestsPer10s = "requests_per_10s"
	SettingBatchSize      = destination.SettingBatchSize
	SettingMaxRetries     = "max_retries"
	CredentialAccessToken = "access_token"
	OptionIDProperty      = "id_property"
	OptionObjectType      = "object_type"
)

// Defaults and limits.
const (
	// DefaultContactIDProp is the property contacts are matched on unless id_property says
	// otherwise: HubSpot keeps one contact per e-mail address.
	DefaultContactIDProp = "email"
	// DefaultRequestsPer10s is HubSpot's limit for a private app on Free and Starter accounts.
	DefaultRequestsPer10s = 100
	// DefaultMaxRetries is the number of retries of a failed request.
	DefaultMaxRetries = 5
	// MaxBatchSize is HubSpot's maximum number of inputs per batch request.
	MaxBatchSize = 100

	defaultBatchSize       = MaxBatchSize
	maxRequestsPer10s      = 250
	minRequestsPer10s      = 10
	maxConfigurableRetries = 10
)

// Rate limit declared for every service: HubSpot allows 100 requests per rolling 10 seconds
// to a private app on Free and Starter accounts (190 on Professional and Enterprise, 250 with
// the API limit increase). 9 per second with a bucket of 10 never exceeds 100 in any 10 s.
const (
	requestsPerSecond = 9
	burst             = 10
)

var (
	// propertyNamePattern is HubSpot's rule for internal property names.
	propertyNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	// customObjectPattern accepts a custom object's objectTypeId (2-1234567) or fully qualified
	// name (p1234567_cars, or p_cars for app objects).
	customObjectPattern = regexp.MustCompile(`^(2-[0-9]+|p[0-9]*_[A-Za-z][A-Za-z0-9_]*)$`)
)

func idPropertyOption(def string) connectors.ConfigField {
	f := connectors.ConfigField{
		Name: OptionIDProperty, Type: connectors.FieldString,
		Description: "Internal name of the HubSpot property records are matched on. It must be a property with unique values " +
			"(\"Require unique values for this property\" in HubSpot), and the activation's mappings must target it.",
	}
	if def != "" {
		f.Default = def
		f.Description = "Internal name of the HubSpot property contacts are matched on: `email` (default) or a property with unique values. " +
			"The activation's mappings must target it."
	} else {
		f.Required = true
	}
	return f
}

var objectModes = []destination.SyncMode{destination.ModeInsert, destination.ModeUpdate, destination.ModeUpsert}

var objectRunTypes = []destination.RunType{destination.RunFull, destination.RunDelta}

func objectService(name, description string, fields []destination.FieldSpec, options []connectors.ConfigField, identifiers []string) destination.ServiceSpec {
	return destination.ServiceSpec{
		Name:                  name,
		Description:           description,
		Family:                destination.FamilyObjects,
		RunTypes:              objectRunTypes,
		SyncModes:             objectModes,
		Identifiers:           identifiers,
		IdentifierOption:      OptionIDProperty, // records match on the property it names; mappings must target it
		Fields:                fields,
		AllowCustomFields:     true,
		Options:               options,
		CreatesUnknownRecords: true,
		MaxBatchSize:          MaxBatchSize,
		DefaultBatchSize:      defaultBatchSize,
		RequestsPerSecond:     requestsPerSecond,
		Burst:                 burst,
	}
}

func text(name, description string) destination.FieldSpec {
	return destination.FieldSpec{Name: name, Description: description, Type: "string"}
}

var contactFields = []destination.FieldSpec{
	{Name: "email", Description: "E-mail address, HubSpot's unique key for contacts. Trimmed and lowercased before sending (HubSpot stores it lowercased).",
		Type: "string", PII: pii.RuleEmail},
	text("firstname", "First name."),
	text("lastname", "Last name."),
	text("phone", "Phone number, sent as written."),
	text("mobilephone", "Mobile phone number, sent as written."),
	text("company", "Company name as typed on the contact (not an association)."),
	text("jobtitle", "Job title."),
	text("website", "Website URL."),
	text("address", "Street address."),
	text("city", "City."),
	text("state", "State or region."),
	text("zip", "Postal code."),
	text("country", "Country."),
	text("lifecyclestage", "Lifecycle stage: an option's internal value such as `lead` or `customer`."),
	text("hs_lead_status", "Lead status: an option's internal value such as `NEW` or `OPEN`."),
	text("hubspot_owner_id", "Id of the HubSpot user owning the contact."),
}

var companyFields = []destination.FieldSpec{
	text("name", "Company name."),
	text("domain", "Company domain name (`example.com`)."),
	text("industry", "Industry: an option's internal value."),
	text("phone", "Phone number."),
	text("website", "Website URL."),
	text("address", "Street address."),
	text("city", "City."),
	text("state", "State or region."),
	text("zip", "Postal code."),
	text("country", "Country."),
	{Name: "numberofemployees", Description: "Number of employees.", Type: "integer"},
	{Name: "annualrevenue", Description: "Annual revenue, in the account's currency.", Type: "number"},
	text("description", "Description."),
	text("lifecyclestage", "Lifecycle stage: an option's internal value."),
	text("hubspot_owner_id", "Id of the HubSpot user owning the company."),
}

var dealFields = []destination.FieldSpec{
	text("dealname", "Deal name."),
	{Name: "amount", Description: "Deal amount, in the account's currency.", Type: "number"},
	{Name: "closedate", Description: "Expected or actual close date.", Type: "timestamp"},
	text("pipeline", "Pipeline id (`default` for the default sales pipeline)."),
	text("dealstage", "Deal stage id within the pipeline (`appointmentscheduled`, `closedwon`...)."),
	text("dealtype", "Deal type: `newbusiness` or `existingbusiness`."),
	text("description", "Description."),
	text("hubspot_owner_id", "Id of the HubSpot user owning the deal."),
}

var spec = destination.PlatformSpec{
	Platform:    Name,
	DisplayName: "HubSpot",
	Description: "Creates and updates HubSpot CRM records (contacts, companies, deals and custom objects) through the CRM v3 batch APIs, " +
		"matching records on a unique property. Authenticate with a private app access token that has the read and write scopes of " +
		"the objects you sync (`crm.objects.contacts.read` and `.write`, `crm.objects.companies.*`, `crm.objects.deals.*`, " +
		"`crm.objects.custom.*`) and the schema read scope of their properties (`crm.schemas.contacts.read`...). " +
		"Values are sent as HubSpot property strings: numbers in decimal, booleans as `true`/`false`, timestamps in ISO 8601 (UTC, " +
		"an ISO date at midnight), lists as `;`-separated options, and null clears the property. Records HubSpot refuses " +
		"(an invalid value, an existing contact in insert mode, an unknown record in update mode) are rejected one by one with " +
		"HubSpot's message; the rest of their batch is applied.",
	Settings: []connectors.ConfigField{
		{Name: SettingPortalID, Type: connectors.FieldInt, Min: 1,
			Description: "Id of the HubSpot account (Hub ID) the token must belong to. When set, checks verify it, so a token of " +
				"another account (a sandbox) is caught before any data is sent."},
		{Name: SettingRequestsPer10s, Type: connectors.FieldInt, Default: int64(DefaultRequestsPer10s),
			Min: minRequestsPer10s, Max: maxRequestsPer10s,
			Description: "Most requests dinmo sends in any 10 seconds. HubSpot allows a private app 100 (Free and Starter), 190 " +
				"(Professional and Enterprise) or 250 (with the API limit increase); set a lower value to leave room for other " +
				"integrations of the account."},
		{Name: SettingBatchSize, Type: connectors.FieldInt, Default: int64(defaultBatchSize), Min: 1, Max: MaxBatchSize,
			Description: "Records per request (1 to 100, HubSpot's maximum)."},
		{Name: SettingMaxRetries, Type: connectors.FieldInt, Default: int64(DefaultMaxRetries), Max: maxConfigurableRetries,
			Description: "Retries of a request after network errors, 429, 423 and 5xx answers (0 disables retries)."},
	},
	Credentials: []connectors.ConfigField{
		{Name: CredentialAccessToken, Type: connectors.FieldString, Required: true,
			Description: "Access token of a HubSpot private app (`pat-...`), sent as `Authorization: Bearer`."},
	},
	Services: []destination.ServiceSpec{
		objectService(ServiceContacts,
			"Creates and updates HubSpot contacts, matched on `email` or on another property with unique values.",
			contactFields, []connectors.ConfigField{idPropertyOption(DefaultContactIDProp)}, []string{DefaultContactIDProp}),
		objectService(ServiceCompanies,
			"Creates and updates HubSpot companies, matched on a company property with unique values (for example an external id).",
			companyFields, []connectors.ConfigField{idPropertyOption("")}, nil),
		objectService(ServiceDeals,
			"Creates and updates HubSpot deals, matched on a deal property with unique values (for example an order id).",
			dealFields, []connectors.ConfigField{idPropertyOption("")}, nil),
		objectService(ServiceCustomObjects,
			"Creates and updates records of one HubSpot custom object, matched on one of its properties with unique values.",
			nil, []connectors.ConfigField{
				{Name: OptionObjectType, Type: connectors.FieldString, Required: true,
					Description: "The custom object: its objectTypeId (`2-1234567`) or its fully qualified name (`p1234567_cars`)."},
				idPropertyOption(""),
			}, nil),
	},
}

// Option tunes a Platform; production uses none.
type Option func(*Platform)

// WithBackoff sets the bounds of the retry backoff (defaults: httpx's 500ms and 30s). Tests
// use milliseconds.
func WithBackoff(minBackoff, maxBackoff time.Duration) Option {
	return func(p *Platform) { p.minBackoff, p.maxBackoff = minBackoff, maxBackoff }
}

// WithMaxRetryAfter caps how long a Retry-After is waited (default: httpx's 5 minutes).
func WithMaxRetryAfter(d time.Duration) Option {
	return func(p *Platform) { p.maxRetryAfter = d }
}

// WithTransport sets the HTTP round tripper under the shared transport.
func WithTransport(rt http.RoundTripper) Option {
	return func(p *Platform) { p.transport = rt }
}

// WithClock sets the clock used to estimate when HubSpot's daily limit resets (tests).
func WithClock(now func() time.Time) Option {
	return func(p *Platform) { p.now = now }
}

// Platform implements destination.Platform for HubSpot.
type Platform struct {
	minBackoff, maxBackoff time.Duration
	maxRetryAfter          time.Duration
	transport              http.RoundTripper
	now                    func() time.Time
}

var _ destination.Platform = (*Platform)(nil)

// New returns the HubSpot platform.
func New(opts ...Option) *Platform {
	p := &Platform{now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Spec declares the platform.
func (p *Platform) Spec() destination.PlatformSpec { return spec }

// config is the parsed, validated configuration of one destination (and, when a service is
// given, of one activation).
type config struct {
	baseURL        string
	token          string
	portalID       int64
	requestsPer10s int64
	batchSize      int
	maxRetries     int64

	// Set when a service is given.
	service    string
	objectType string // path segment: contacts, companies, deals or the custom object
	idProperty string
}

func parseConfig(params destination.OpenParams, needService bool) (*config, error) {
	settings := destination.ApplyDefaults(spec.Settings, params.Settings)
	if err := destination.ValidateSettings(spec, settings, params.Credentials); err != nil {
		return nil, err
	}
	cfg := &config{
		baseURL:        DefaultBaseURL,
		token:          strings.TrimSpace(params.Credentials[CredentialAccessToken]),
		portalID:       destination.SettingInt(settings, SettingPortalID, 0),
		requestsPer10s: destination.SettingInt(settings, SettingRequestsPer10s, DefaultRequestsPer10s),
		maxRetries:     destination.SettingInt(settings, SettingMaxRetries, DefaultMaxRetries),
	}
	var problems []string
	if cfg.maxRetries < 0 {
		problems = append(problems, fmt.Sprintf("setting %q must be 0 or more", SettingMaxRetries))
	}
	if strings.ContainsAny(cfg.token, " \t\r\n") {
		problems = append(problems, fmt.Sprintf("credential %q must not contain white space", CredentialAccessToken))
	}
	if params.BaseURL != "" {
		u, err := url.Parse(params.BaseURL)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("the API base URL is not a valid URL: %v", err))
		case u.Scheme != "http" && u.Scheme != "https":
			problems = append(problems, "the API base URL must start with http:// or https://")
		case u.Host == "":
			problems = append(problems, "the API base URL has no host")
		case u.User != nil || u.RawQuery != "":
			problems = append(problems, "the API base URL must not contain user credentials or a query")
		default:
			cfg.baseURL = strings.TrimRight(u.String(), "/")
		}
	}
	if params.Service != "" || needService {
		svc, ok := spec.Service(params.Service)
		if !ok {
			names := make([]string, len(spec.Services))
			for i, s := range spec.Services {
				names[i] = s.Name
			}
			problems = append(problems, fmt.Sprintf("unknown service %q: HubSpot offers %s", params.Service, strings.Join(names, ", ")))
		} else {
			cfg.service = svc.Name
			cfg.batchSize = destination.BatchSize(svc, settings)
			problems = append(problems, cfg.parseOptions(svc, params.Options)...)
		}
	}
	if len(problems) > 0 {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("destination %q: invalid configuration: %s", Name, strings.Join(problems, "; ")))
	}
	return cfg, nil
}

// parseOptions validates the activation's service options and fills the object type and
// matching property.
func (cfg *config) parseOptions(svc destination.ServiceSpec, given map[string]any) []string {
	var problems []string
	opts := destination.ApplyDefaults(svc.Options, given)
	declared := map[string]bool{}
	for _, f := range svc.Options {
		declared[f.Name] = true
	}
	for k := range opts {
		if !declared[k] {
			problems = append(problems, fmt.Sprintf("service %q has no option %q", svc.Name, k))
		}
	}
	str := func(name string) (string, bool) {
		v, ok := opts[name]
		if !ok || v == nil {
			return "", true
		}
		s, isString := v.(string)
		if !isString {
			problems = append(problems, fmt.Sprintf("option %q must be a string", name))
			return "", false
		}
		return strings.TrimSpace(s), true
	}
	switch svc.Name {
	case ServiceCustomObjects:
		ot, ok := str(OptionObjectType)
		switch {
		case !ok:
		case ot == "":
			problems = append(problems, fmt.Sprintf("option %q is required: the custom object's objectTypeId (2-1234567) or fully qualified name (p1234567_cars)", OptionObjectType))
		case !customObjectPattern.MatchString(ot):
			problems = append(problems, fmt.Sprintf("option %q: %q is not a custom object's objectTypeId (2-1234567) or fully qualified name (p1234567_cars); find them under Settings > Objects > Custom objects", OptionObjectType, ot))
		default:
			cfg.objectType = ot
		}
	default:
		cfg.objectType = svc.Name
	}
	idp, ok := str(OptionIDProperty)
	switch {
	case !ok:
	case idp == "":
		problems = append(problems, fmt.Sprintf("option %q is required: the internal name of a %s property with unique values that the mappings target", OptionIDProperty, svc.Name))
	case idp == "hs_object_id":
		problems = append(problems, fmt.Sprintf("option %q: hs_object_id is the record id HubSpot assigns, not a property records can be matched on; use a property with unique values", OptionIDProperty))
	case !propertyNamePattern.MatchString(idp):
		problems = append(problems, fmt.Sprintf("option %q: %q is not a HubSpot internal property name (lowercase letters, digits and underscores, starting with a letter)", OptionIDProperty, idp))
	default:
		cfg.idProperty = idp
	}
	return problems
}

// httpClient builds the shared transport for cfg.
func (p *Platform) httpClient(cfg *config, logger *slog.Logger) *httpx.Client {
	maxRetries := int(cfg.maxRetries)
	if maxRetries == 0 {
		maxRetries = -1 // httpx: 0 means default, negative means none
	}
	base := p.transport
	if base == nil {
		base = http.DefaultTransport
		if dt, ok := base.(*http.Transport); ok {
			base = dt.Clone() // own connection pool, closed by CloseIdleConnections
		}
	}
	now := p.now
	if now == nil {
		now = time.Now
	}
	return httpx.New(httpx.Options{
		MaxRetries:    maxRetries,
		MinBackoff:    p.minBackoff,
		MaxBackoff:    p.maxBackoff,
		MaxRetryAfter: p.maxRetryAfter,
		// Spread evenly (no burst): at most requests_per_10s in any rolling 10 seconds, with a
		// tenth of headroom for clock skew between dinmo and HubSpot.
		RequestsPerSecond: float64(cfg.requestsPer10s) * 0.9 / 10,
		Burst:             1,
		Logger:            logger,
		Redact:            []string{cfg.token},
		UserAgent:         httpx.DefaultUserAgent,
		Transport:         &hubspotTransport{base: base, now: now},
	})
}

func discardLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Check validates the configuration offline, then verifies the token with GET
// /account-info/v3/details (and, with portal_id, that it belongs to that account). When a
// service is given it also reads the definition of the matching property (GET
// /crm/v3/properties/{objectType}/{id_property}): it must exist and hold unique values.
func (p *Platform) Check(ctx context.Context, params destination.OpenParams) error {
	cfg, err := parseConfig(params, false)
	if err != nil {
		return err
	}
	logger := discardLogger(params.Logger).With(slog.String("platform", Name))
	c := &client{http: p.httpClient(cfg, logger), baseURL: cfg.baseURL, token: cfg.token}
	defer c.http.CloseIdleConnections()
	if err := c.checkAccount(ctx, cfg.portalID); err != nil {
		return err
	}
	if cfg.service == "" {
		return nil
	}
	return c.checkIDProperty(ctx, cfg.objectType, cfg.idProperty)
}

// Open validates the configuration and returns a destination for one run. It does not
// contact HubSpot: Check does.
func (p *Platform) Open(_ context.Context, params destination.OpenParams) (destination.Destination, error) {
	cfg, err := parseConfig(params, true)
	if err != nil {
		return nil, err
	}
	logger := discardLogger(params.Logger).With(slog.String("platform", Name), slog.String("service", cfg.service),
		slog.String("run_id", params.RunID), slog.String("activation_id", params.ActivationID))
	return &hubspotDestination{
		cfg:    cfg,
		logger: logger,
		client: &client{http: p.httpClient(cfg, logger), baseURL: cfg.baseURL, token: cfg.token},
	}, nil
}

// errClosed is returned by Apply after Close.
var errClosed = errors.New("hubspot: Apply called after Close")
