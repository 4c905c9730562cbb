// Package metafake is a fake of the parts of Meta's Graph API that the meta destination
// uses (httptest), enforcing the documented contract and keeping the state requests build:
// custom audiences and their members, and the events each dataset received.
//
// Enforced contract (anything else is answered with Meta's error format,
// {"error":{"message","type","code","error_subcode","fbtrace_id"}}, and recorded in
// Violations):
//
//   - paths start with the configured API version (/v25.0/...); known nodes and edges only:
//     /me, /act_{id}, /act_{id}/customaudiences (GET list with fields, limit and after cursor;
//     POST create), /{audience_id} (GET), /{audience_id}/users (POST add, DELETE remove),
//     /{dataset_id} (GET), /{dataset_id}/events (POST);
//   - an access token, as "Authorization: Bearer" (or OAuth) or an access_token parameter,
//     equal to the configured one (else code 104 or 190); appsecret_proof equal to
//     hex(HMAC-SHA256(app_secret, token)) when an app secret is configured (else code 100);
//   - bodies of POST and DELETE are application/json or application/x-www-form-urlencoded
//     (structured form values JSON-encoded, as the official SDKs send them); unknown
//     parameters are refused;
//   - users: payload {schema, data[, is_raw]} with a multi-key schema of known columns (no
//     duplicates), 1 to 10,000 rows of exactly len(schema) strings, hashed columns empty or
//     64 lowercase hex, MADID a lowercase UUID, EXTERN_ID any text, at least one value per
//     row; session {session_id > 0, batch_seq, last_batch_flag[, estimated_num_total]} with
//     batch_seq starting at 1 and increasing by one per session_id, and no batch after the
//     last one; flagged audiences refuse edits (code 100, subcode 1713230);
//   - events: data of 1 to 1,000 events with event_name, integer event_time at most seven
//     days old and not in the future, action_source from Meta's list, user_data with at
//     least one customer information parameter besides client_user_agent, hashed user_data
//     values as 64 lowercase hex (external_id may be raw), client_ip_address a valid IP,
//     website events with client_user_agent and event_source_url, custom_data value numeric
//     and currency three letters, known keys only. Events repeating an (event_name, event_id)
//     received within 48 hours are counted as received but not stored again, as Meta
//     deduplicates them.
//
// Hits, MaxBatchSeen and scripted failures (FailNext, FailNextGraph) concern the data
// requests only (users and events edges): checks and audience lookups are counted by
// ControlHits, so the conformance suite's request counts describe Apply.
package metafake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"dinmo/connectors/destination/connectortest"
)

// Limits Meta documents.
const (
	MaxAudienceRows = 10000
	MaxEvents       = 1000
	// EventMaxAge is how old an event may be; DedupWindow how long event ids are remembered.
	EventMaxAge = 7 * 24 * time.Hour
	DedupWindow = 48 * time.Hour
	// FutureTolerance is how far in the future an event_time may be (clock skew).
	FutureTolerance = time.Minute
)

// Config says what the fake demands and what exists in it.
type Config struct {
	// APIVersion is the version prefix requests must use (default "v25.0").
	APIVersion string
	// AccessToken is the token requests must carry (required).
	AccessToken string
	// AppSecret, when set, makes appsecret_proof mandatory.
	AppSecret string
	// AdAccounts lists the ad account ids (digits) that exist.
	AdAccounts []string
	// Datasets lists the dataset (pixel) ids that exist.
	Datasets []string
	// MaxAudienceRows and MaxEvents lower the per-request limits (defaults: Meta's).
	MaxAudienceRows int
	MaxEvents       int
	// PageSize is the default page size of audience listings (default 25).
	PageSize int
	// Now is the fake's clock (default time.Now).
	Now func() time.Time
}

// GraphError is a scripted error answer in Meta's format.
type GraphError struct {
	Status      int
	Code        int
	Subcode     int
	Type        string
	Message     string
	IsTransient bool
	RetryAfter  string
}

// Audience is a custom audience held by the fake.
type Audience struct {
	ID, AdAccountID, Name, Subtype, Description, CustomerFileSource string
	Flagged                                                         bool
}

// Event is one stored event: its dataset, the event as received, and when.
type Event struct {
	DatasetID     string
	TestEventCode string
	Fields        map[string]any
	Received      time.Time
}

// Request is one request received, with its parameters (query and body merged, structured
// values as JSON) and the status answered.
type Request struct {
	Method string
	Path   string // without the version prefix
	Query  url.Values
	Params map[string]json.RawMessage
	Header http.Header
	Status int
	Data   bool // a users or events request
}

type scripted struct {
	failure *connectortest.Failure
	graph   *GraphError
}

type sessionState struct {
	lastSeq int
	closed  bool
}

// Server is the fake Graph API. It is safe for concurrent use.
type Server struct {
	// HTTPFake provides URL (the base address to give as OpenParams.BaseURL, no version),
	// Close, Hits (data requests), MaxBatchSeen (rows or events of one data request),
	// Violations and SensitiveValues (the token, app secret and proofs configured or
	// received).
	connectortest.HTTPFake

	cfg Config

	mu          sync.Mutex
	script      connectortest.Script[scripted]
	controlHits int
	tokenInURL  int
	nextID      int64
	trace       int
	audiences   []*Audience
	members     map[string][]map[string]string // audience id → members (column → value)
	sessions    map[string]map[int64]*sessionState
	stored      []Event
	requests    []Request
}

var _ connectortest.Fake = (*Server)(nil)

// New starts a fake; t.Cleanup closes it.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.APIVersion == "" {
		cfg.APIVersion = "v25.0"
	}
	if cfg.AccessToken == "" {
		t.Fatal("metafake: Config.AccessToken is required")
	}
	if cfg.MaxAudienceRows <= 0 || cfg.MaxAudienceRows > MaxAudienceRows {
		cfg.MaxAudienceRows = MaxAudienceRows
	}
	if cfg.MaxEvents <= 0 || cfg.MaxEvents > MaxEvents {
		cfg.MaxEvents = MaxEvents
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 25
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:      cfg,
		nextID:   23850000000000,
		members:  map[string][]map[string]string{},
		sessions: map[string]map[int64]*sessionState{},
	}
	sensitive := []string{cfg.AccessToken}
	if cfg.AppSecret != "" {
		sensitive = append(sensitive, cfg.AppSecret, proof(cfg.AppSecret, cfg.AccessToken))
	}
	s.Start(t, &s.mu, http.HandlerFunc(s.serve), sensitive...)
	return s
}

// CreateAudience adds an audience to an ad account (subtype "" means CUSTOM) and returns its id.
func (s *Server) CreateAudience(adAccountID, name, subtype string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if subtype == "" {
		subtype = "CUSTOM"
	}
	return s.addAudience(&Audience{AdAccountID: adAccountID, Name: name, Subtype: subtype, CustomerFileSource: "USER_PROVIDED_ONLY"})
}

// FlagAudience marks an audience as flagged (operation_status 471): edits are refused.
func (s *Server) FlagAudience(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.audience(id); a != nil {
		a.Flagged = true
	}
}

func (s *Server) addAudience(a *Audience) string {
	s.nextID++
	a.ID = strconv.FormatInt(s.nextID, 10)
	s.audiences = append(s.audiences, a)
	return a.ID
}

// Audiences returns copies of the audiences of an ad account, in creation order.
func (s *Server) Audiences(adAccountID string) []Audience {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Audience
	for _, a := range s.audiences {
		if a.AdAccountID == adAccountID {
			out = append(out, *a)
		}
	}
	return out
}

// Members returns copies of an audience's members (schema column → value).
func (s *Server) Members(audienceID string) []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]string, len(s.members[audienceID]))
	for i, m := range s.members[audienceID] {
		out[i] = copyRow(m)
	}
	return out
}

// Events returns the stored events of a dataset, in arrival order.
func (s *Server) Events(datasetID string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, e := range s.stored {
		if e.DatasetID == datasetID {
			out = append(out, e)
		}
	}
	return out
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// FailNext makes the next n data requests that pass the contract checks fail as f says, in
// Meta's format: Status 401 → code 190 (expired token), 403 → code 200, 429 → code 17,
// 500 → code 1, other 5xx → code 2 (transient), other statuses → code 100. A partial failure
// (Reject, Retry) names record keys: for audiences the EXTERN_ID of rows, which are left out
// and reported in num_invalid_entries and invalid_entry_samples (Meta has no per-row
// result); for events the event_id, and the whole request is refused with code 100 as Meta
// refuses a request holding an invalid event.
func (s *Server) FailNext(n int, f connectortest.Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script.Add(n, scripted{failure: &f})
}

// FailNextGraph makes the next n data requests that pass the contract checks answer e.
func (s *Server) FailNextGraph(n int, e GraphError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script.Add(n, scripted{graph: &e})
}

// ControlHits is the number of requests other than data requests (checks, audience lookups
// and creation); Hits counts the data requests (users and events edges), whatever their fate.
func (s *Server) ControlHits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.controlHits
}

// TokenInURL counts requests that carried the access token in the URL query, which proxies
// and access logs record; Meta accepts it, dinmo must not do it.
func (s *Server) TokenInURL() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenInURL
}

// Keys returns, sorted, the EXTERN_ID of every audience member that has one and the
// event_id of every stored event: what the conformance suite's record keys become.
func (s *Server) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for _, ms := range s.members {
		for _, m := range ms {
			if v := m["EXTERN_ID"]; v != "" {
				keys = append(keys, v)
			}
		}
	}
	for _, e := range s.stored {
		if id, ok := e.Fields["event_id"].(string); ok && id != "" {
			keys = append(keys, id)
		}
	}
	sort.Strings(keys)
	return keys
}

func proof(secret, token string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(token))
	return hex.EncodeToString(mac.Sum(nil))
}

// call is one request being served.
type call struct {
	r      *http.Request
	w      http.ResponseWriter
	path   string // without the version prefix
	params map[string]json.RawMessage
	data   bool
	status int
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, readErr := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &call{r: r, w: w}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	last := segs[len(segs)-1]
	c.data = (last == "users" || last == "events") && len(segs) >= 2
	if c.data {
		s.CountHits(1)
	} else {
		s.controlHits++
	}
	defer func() {
		s.requests = append(s.requests, Request{Method: r.Method, Path: c.path, Query: r.URL.Query(),
			Params: c.params, Header: r.Header.Clone(), Status: c.status, Data: c.data})
	}()
	if v := r.Header.Get("Authorization"); v != "" {
		s.AddSensitive(v)
		if _, tok, ok := strings.Cut(v, " "); ok {
			s.AddSensitive(tok)
		}
	}
	if readErr != nil {
		s.violation(c, 100, 0, "OAuthException", "reading the body: %v", readErr)
		return
	}
	if len(segs) < 2 || segs[0] != s.cfg.APIVersion {
		s.violation(c, 100, 0, "GraphMethodException",
			"Unknown path components: %s (requests must start with /%s/)", r.URL.Path, s.cfg.APIVersion)
		return
	}
	c.path = "/" + strings.Join(segs[1:], "/")
	params, problem := s.parseParams(r, body)
	c.params = params
	if problem != "" {
		s.violation(c, 100, 0, "GraphMethodException", "%s", problem)
		return
	}
	for _, k := range []string{"access_token", "appsecret_proof"} {
		s.AddSensitive(paramString(params, k))
	}
	if !s.authorized(c) {
		return
	}
	s.route(c, segs[1:])
}

// parseParams merges query and body parameters. Body values of a form are kept as JSON when
// they parse as JSON objects or lists (the SDKs JSON-encode structured parameters).
func (s *Server) parseParams(r *http.Request, body []byte) (map[string]json.RawMessage, string) {
	params := map[string]json.RawMessage{}
	for k, vs := range r.URL.Query() {
		if len(vs) != 1 {
			return nil, fmt.Sprintf("parameter %s given %d times", k, len(vs))
		}
		if k == "access_token" {
			s.tokenInURL++
		}
		params[k] = formValue(vs[0])
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return params, ""
	}
	if r.Method == http.MethodGet {
		return nil, "a GET request must not have a body"
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Sprintf("Content-Type %q is not a media type", r.Header.Get("Content-Type"))
	}
	switch mt {
	case "application/json":
		var top map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&top); err != nil {
			return nil, "the JSON body is not an object: " + err.Error()
		}
		for k, v := range top {
			if _, dup := params[k]; dup {
				return nil, fmt.Sprintf("parameter %s given in the query and the body", k)
			}
			params[k] = v
		}
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, "the form body is malformed: " + err.Error()
		}
		for k, vs := range form {
			if _, dup := params[k]; dup || len(vs) != 1 {
				return nil, fmt.Sprintf("parameter %s given more than once", k)
			}
			params[k] = formValue(vs[0])
		}
	default:
		return nil, fmt.Sprintf("Content-Type %q is not supported: send application/json or a form", mt)
	}
	return params, ""
}

func formValue(v string) json.RawMessage {
	t := strings.TrimSpace(v)
	if (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) && json.Valid([]byte(t)) {
		return json.RawMessage(t)
	}
	b, _ := json.Marshal(v)
	return b
}

func paramString(params map[string]json.RawMessage, k string) string {
	raw, ok := params[k]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func (s *Server) authorized(c *call) bool {
	token := ""
	if v := c.r.Header.Get("Authorization"); v != "" {
		scheme, tok, ok := strings.Cut(v, " ")
		if !ok || (!strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "OAuth")) {
			s.violation(c, 190, 0, "OAuthException", "Invalid OAuth access token - Cannot parse access token")
			return false
		}
		token = strings.TrimSpace(tok)
	}
	if t := paramString(c.params, "access_token"); t != "" {
		if token != "" && t != token {
			s.violation(c, 190, 0, "OAuthException", "two different access tokens were given")
			return false
		}
		token = t
	}
	switch {
	case token == "":
		s.violation(c, 104, 0, "OAuthException", "An access token is required to request this resource.")
		return false
	case token != s.cfg.AccessToken:
		s.violation(c, 190, 0, "OAuthException", "Invalid OAuth access token - Cannot parse access token")
		return false
	}
	if s.cfg.AppSecret != "" {
		p := paramString(c.params, "appsecret_proof")
		switch {
		case p == "":
			s.violation(c, 100, 0, "GraphMethodException", "API calls from the server require an appsecret_proof argument")
			return false
		case !hmac.Equal([]byte(p), []byte(proof(s.cfg.AppSecret, token))):
			s.violation(c, 100, 0, "GraphMethodException", "Invalid appsecret_proof provided in the API argument")
			return false
		}
	}
	return true
}

var (
	digits      = regexp.MustCompile(`^[0-9]+$`)
	hexHash     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

func (s *Server) route(c *call, segs []string) {
	m := c.r.Method
	node := segs[0]
	switch {
	case len(segs) == 1 && node == "me" && m == http.MethodGet:
		s.getNode(c, map[string]any{"id": "10000000000001", "name": "dinmo system user"}, "User")
		return
	case strings.HasPrefix(node, "act_"):
		id := strings.TrimPrefix(node, "act_")
		if !digits.MatchString(id) || !slices.Contains(s.cfg.AdAccounts, id) {
			s.noObject(c, node)
			return
		}
		switch {
		case len(segs) == 1 && m == http.MethodGet:
			s.getNode(c, map[string]any{"id": node, "account_id": id, "name": "Ad account " + id, "account_status": 1}, "AdAccount")
			return
		case len(segs) == 2 && segs[1] == "customaudiences" && m == http.MethodGet:
			s.listAudiences(c, id)
			return
		case len(segs) == 2 && segs[1] == "customaudiences" && m == http.MethodPost:
			s.createAudience(c, id)
			return
		}
	case digits.MatchString(node):
		if a := s.audience(node); a != nil {
			switch {
			case len(segs) == 1 && m == http.MethodGet:
				s.getNode(c, map[string]any{"id": a.ID, "name": a.Name, "subtype": a.Subtype, "description": a.Description,
					"customer_file_source": a.CustomerFileSource, "account_id": a.AdAccountID}, "CustomAudience")
				return
			case len(segs) == 2 && segs[1] == "users" && (m == http.MethodPost || m == http.MethodDelete):
				s.users(c, a)
				return
			}
		} else if slices.Contains(s.cfg.Datasets, node) {
			switch {
			case len(segs) == 1 && m == http.MethodGet:
				s.getNode(c, map[string]any{"id": node, "name": "Dataset " + node}, "AdsPixel")
				return
			case len(segs) == 2 && segs[1] == "events" && m == http.MethodPost:
				s.events(c, node)
				return
			}
		} else {
			s.noObject(c, node)
			return
		}
	}
	s.violation(c, 100, 0, "GraphMethodException", "Unsupported %s request on %s", strings.ToLower(m), c.path)
}

func (s *Server) noObject(c *call, id string) {
	s.violation(c, 100, 33, "GraphMethodException",
		"Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
		strings.ToLower(c.r.Method), id)
}

// allowParams refuses parameters other than the allowed ones (plus the auth parameters).
func (s *Server) allowParams(c *call, allowed ...string) bool {
	for k := range c.params {
		if k == "access_token" || k == "appsecret_proof" || slices.Contains(allowed, k) {
			continue
		}
		s.violation(c, 100, 0, "OAuthException", "(#100) Param %s is not a valid parameter of this request", k)
		return false
	}
	return true
}

// fieldsParam reads the fields parameter against a node's known fields.
func (s *Server) fieldsParam(c *call, known []string, typ string) ([]string, bool) {
	raw := paramString(c.params, "fields")
	if raw == "" {
		return []string{"id"}, true
	}
	var out []string
	for _, f := range strings.Split(raw, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(known, f) {
			s.violation(c, 100, 0, "OAuthException", "(#100) Tried accessing nonexisting field (%s) on node type (%s)", f, typ)
			return nil, false
		}
		out = append(out, f)
	}
	return out, true
}

func (s *Server) getNode(c *call, node map[string]any, typ string) {
	if !s.allowParams(c, "fields") {
		return
	}
	known := make([]string, 0, len(node))
	for k := range node {
		known = append(known, k)
	}
	fields, ok := s.fieldsParam(c, known, typ)
	if !ok {
		return
	}
	out := map[string]any{}
	for _, f := range fields {
		out[f] = node[f]
	}
	s.answer(c, http.StatusOK, out)
}

func (s *Server) listAudiences(c *call, adAccountID string) {
	if !s.allowParams(c, "fields", "limit", "after") {
		return
	}
	fields, ok := s.fieldsParam(c, []string{"id", "name", "subtype", "description", "customer_file_source"}, "CustomAudience")
	if !ok {
		return
	}
	limit := s.cfg.PageSize
	if v := paramString(c.params, "limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			s.violation(c, 100, 0, "OAuthException", "(#100) limit must be a number from 1 to 500")
			return
		}
		limit = n
	}
	var list []*Audience
	for _, a := range s.audiences {
		if a.AdAccountID == adAccountID {
			list = append(list, a)
		}
	}
	start := 0
	if v := paramString(c.params, "after"); v != "" {
		b, err := base64.StdEncoding.DecodeString(v)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(list) {
			s.violation(c, 100, 0, "OAuthException", "(#100) invalid after cursor")
			return
		}
		start = n
	}
	end := min(start+limit, len(list))
	data := []map[string]any{}
	for _, a := range list[start:end] {
		node := map[string]any{"id": a.ID, "name": a.Name, "subtype": a.Subtype, "description": a.Description,
			"customer_file_source": a.CustomerFileSource}
		row := map[string]any{}
		for _, f := range fields {
			row[f] = node[f]
		}
		data = append(data, row)
	}
	resp := map[string]any{"data": data}
	if len(data) > 0 {
		paging := map[string]any{"cursors": map[string]string{
			"before": base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(start))),
			"after":  base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(end))),
		}}
		if end < len(list) {
			q := url.Values{"limit": {strconv.Itoa(limit)}, "after": {base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(end)))},
				"fields": {strings.Join(fields, ",")}}
			paging["next"] = "https://graph.facebook.com/" + s.cfg.APIVersion + "/act_" + adAccountID + "/customaudiences?" + q.Encode()
		}
		resp["paging"] = paging
	}
	s.answer(c, http.StatusOK, resp)
}

var fileSources = []string{"USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"}

func (s *Server) createAudience(c *call, adAccountID string) {
	if !s.allowParams(c, "name", "subtype", "customer_file_source", "description") {
		return
	}
	name := paramString(c.params, "name")
	subtype := paramString(c.params, "subtype")
	source := paramString(c.params, "customer_file_source")
	switch {
	case strings.TrimSpace(name) == "":
		s.violation(c, 100, 0, "OAuthException", "(#100) The parameter name is required")
	case subtype != "CUSTOM":
		s.violation(c, 100, 0, "OAuthException", "(#100) subtype must be CUSTOM for a customer list, got %q", subtype)
	case !slices.Contains(fileSources, source):
		s.violation(c, 100, 0, "OAuthException", "(#100) customer_file_source must be one of %s", strings.Join(fileSources, ", "))
	default:
		id := s.addAudience(&Audience{AdAccountID: adAccountID, Name: name, Subtype: subtype,
			Description: paramString(c.params, "description"), CustomerFileSource: source})
		s.answer(c, http.StatusOK, map[string]string{"id": id})
	}
}

func (s *Server) audience(id string) *Audience {
	for _, a := range s.audiences {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// Column kinds of the users payload.
var (
	hashedColumns = []string{"EMAIL", "PHONE", "FN", "LN", "FI", "ZIP", "CT", "ST", "COUNTRY", "DOBY", "DOBM", "DOBD", "GEN"}
	strongColumns = []string{"EMAIL", "PHONE", "MADID", "EXTERN_ID"}
)

func (s *Server) users(c *call, a *Audience) {
	if !s.allowParams(c, "payload", "session", "namespace") {
		return
	}
	var payload struct {
		Schema []string            `json:"schema"`
		Data   [][]json.RawMessage `json:"data"`
		IsRaw  *bool               `json:"is_raw"`
	}
	raw, ok := c.params["payload"]
	if !ok {
		s.violation(c, 100, 0, "OAuthException", "(#100) The parameter payload is required")
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&payload); err != nil {
		s.violation(c, 100, 0, "OAuthException", "(#100) payload must be {schema: [columns], data: [[values]]}: %v", err)
		return
	}
	s.SeeBatch(len(payload.Data))
	seen := map[string]bool{}
	for _, col := range payload.Schema {
		if !slices.Contains(hashedColumns, col) && col != "MADID" && col != "EXTERN_ID" {
			s.violation(c, 100, 0, "OAuthException", "(#100) Invalid schema column %q", col)
			return
		}
		if seen[col] {
			s.violation(c, 100, 0, "OAuthException", "(#100) schema column %q repeated", col)
			return
		}
		seen[col] = true
	}
	switch {
	case len(payload.Schema) == 0:
		s.violation(c, 100, 0, "OAuthException", "(#100) payload.schema must list at least one column")
		return
	case len(payload.Data) == 0:
		s.violation(c, 100, 0, "OAuthException", "(#100) payload.data is empty")
		return
	case len(payload.Data) > s.cfg.MaxAudienceRows:
		s.violation(c, 100, 0, "OAuthException", "(#100) payload.data has %d rows, more than the %d allowed", len(payload.Data), s.cfg.MaxAudienceRows)
		return
	}
	rows := make([]map[string]string, len(payload.Data))
	for i, r := range payload.Data {
		if len(r) != len(payload.Schema) {
			s.violation(c, 100, 0, "OAuthException", "(#100) row %d has %d values for %d schema columns", i, len(r), len(payload.Schema))
			return
		}
		row := map[string]string{}
		for j, v := range r {
			var str string
			if err := json.Unmarshal(v, &str); err != nil {
				s.violation(c, 100, 0, "OAuthException", "(#100) row %d column %s must be a string", i, payload.Schema[j])
				return
			}
			col := payload.Schema[j]
			if str == "" {
				continue
			}
			switch {
			case slices.Contains(hashedColumns, col) && !hexHash.MatchString(str):
				s.violation(c, 100, 0, "OAuthException", "(#100) row %d column %s must be SHA-256 as 64 lowercase hex characters", i, col)
				return
			case col == "MADID" && !uuidPattern.MatchString(str):
				s.violation(c, 100, 0, "OAuthException", "(#100) row %d MADID must be an unhashed lowercase advertising id", i)
				return
			}
			row[col] = str
		}
		if len(row) == 0 {
			s.violation(c, 100, 0, "OAuthException", "(#100) row %d has no value", i)
			return
		}
		rows[i] = row
	}
	session, ok := s.session(c, a.ID)
	if !ok {
		return
	}
	if a.Flagged {
		s.violation(c, 100, 1713230, "OAuthException",
			"Before updating user memberships, you must resolve integrity restrictions on this Data File Custom Audience.")
		return
	}
	f := s.popScript(c)
	if f == nil && c.status != 0 {
		return // a scripted error was answered
	}
	invalid := map[string]string{}
	applied := 0
	for _, row := range rows {
		if f != nil {
			if reason, ok := f.Reject[row["EXTERN_ID"]]; ok {
				invalid[row["EXTERN_ID"]] = reason
				continue
			}
			if reason, ok := f.Retry[row["EXTERN_ID"]]; ok {
				invalid[row["EXTERN_ID"]] = reason
				continue
			}
		}
		if c.r.Method == http.MethodPost {
			s.addMember(a.ID, row)
		} else {
			s.removeMember(a.ID, row)
		}
		applied++
	}
	if session != nil {
		st := s.sessions[a.ID][session.id]
		if st == nil {
			st = &sessionState{}
			if s.sessions[a.ID] == nil {
				s.sessions[a.ID] = map[int64]*sessionState{}
			}
			s.sessions[a.ID][session.id] = st
		}
		st.lastSeq = session.seq
		st.closed = session.last
	}
	resp := map[string]any{
		"audience_id":           a.ID,
		"num_received":          len(rows),
		"num_invalid_entries":   len(invalid),
		"invalid_entry_samples": invalid,
	}
	if session != nil {
		resp["session_id"] = strconv.FormatInt(session.id, 10)
	}
	s.answer(c, http.StatusOK, resp)
}

type sessionParam struct {
	id   int64
	seq  int
	last bool
}

// session checks the session parameter; nil when absent.
func (s *Server) session(c *call, audienceID string) (*sessionParam, bool) {
	raw, ok := c.params["session"]
	if !ok {
		return nil, true
	}
	var p struct {
		SessionID         *int64 `json:"session_id"`
		BatchSeq          *int   `json:"batch_seq"`
		LastBatchFlag     *bool  `json:"last_batch_flag"`
		EstimatedNumTotal *int   `json:"estimated_num_total"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		s.violation(c, 100, 0, "OAuthException", "(#100) session must be {session_id, batch_seq, last_batch_flag, estimated_num_total}: %v", err)
		return nil, false
	}
	switch {
	case p.SessionID == nil || *p.SessionID <= 0:
		s.violation(c, 100, 0, "OAuthException", "(#100) session.session_id must be a positive integer")
		return nil, false
	case p.BatchSeq == nil || *p.BatchSeq < 1:
		s.violation(c, 100, 0, "OAuthException", "(#100) session.batch_seq must start at 1")
		return nil, false
	case p.LastBatchFlag == nil:
		s.violation(c, 100, 0, "OAuthException", "(#100) session.last_batch_flag is required")
		return nil, false
	case p.EstimatedNumTotal != nil && *p.EstimatedNumTotal < 0:
		s.violation(c, 100, 0, "OAuthException", "(#100) session.estimated_num_total must not be negative")
		return nil, false
	}
	st := s.sessions[audienceID][*p.SessionID]
	switch {
	case st == nil && *p.BatchSeq != 1:
		s.violation(c, 100, 0, "OAuthException", "(#100) session %d starts at batch_seq %d, want 1", *p.SessionID, *p.BatchSeq)
		return nil, false
	case st != nil && st.closed:
		s.violation(c, 100, 0, "OAuthException", "(#100) session %d already received its last batch", *p.SessionID)
		return nil, false
	case st != nil && *p.BatchSeq != st.lastSeq+1:
		s.violation(c, 100, 0, "OAuthException", "(#100) session %d: batch_seq %d after %d", *p.SessionID, *p.BatchSeq, st.lastSeq)
		return nil, false
	}
	return &sessionParam{id: *p.SessionID, seq: *p.BatchSeq, last: *p.LastBatchFlag}, true
}

// addMember adds a row, merging it into a member that shares a strong identifier.
func (s *Server) addMember(audienceID string, row map[string]string) {
	for _, m := range s.members[audienceID] {
		if shareStrong(m, row) {
			for k, v := range row {
				m[k] = v
			}
			return
		}
	}
	s.members[audienceID] = append(s.members[audienceID], copyRow(row))
}

// removeMember removes the members sharing a strong identifier with row (or equal to it on
// every column of row when it has none).
func (s *Server) removeMember(audienceID string, row map[string]string) {
	hasStrong := false
	for _, col := range strongColumns {
		if row[col] != "" {
			hasStrong = true
		}
	}
	s.members[audienceID] = slices.DeleteFunc(s.members[audienceID], func(m map[string]string) bool {
		if hasStrong {
			return shareStrong(m, row)
		}
		for k, v := range row {
			if m[k] != v {
				return false
			}
		}
		return true
	})
}

func shareStrong(a, b map[string]string) bool {
	for _, col := range strongColumns {
		if a[col] != "" && a[col] == b[col] {
			return true
		}
	}
	return false
}

var actionSources = []string{"website", "email", "app", "phone_call", "chat", "physical_store",
	"system_generated", "business_messaging", "other"}

var (
	eventKeys = []string{"event_name", "event_time", "event_id", "action_source", "event_source_url", "user_data",
		"custom_data", "opt_out", "data_processing_options", "data_processing_options_country",
		"data_processing_options_state", "app_data", "referrer_url", "messaging_channel", "original_event_data"}
	hashedUserData   = []string{"em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country"}
	unhashedUserData = []string{"client_ip_address", "client_user_agent", "fbc", "fbp", "subscription_id", "fb_login_id",
		"lead_id", "anon_id", "madid", "page_id", "page_scoped_user_id", "ctwa_clid", "ig_account_id", "ig_sid"}
)

func (s *Server) events(c *call, datasetID string) {
	if !s.allowParams(c, "data", "test_event_code", "partner_agent", "namespace_id", "upload_id", "upload_tag", "upload_source") {
		return
	}
	raw, ok := c.params["data"]
	if !ok {
		s.violation(c, 100, 0, "OAuthException", "(#100) The parameter data is required")
		return
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		s.violation(c, 100, 0, "OAuthException", "(#100) data must be a list of events")
		return
	}
	s.SeeBatch(len(list))
	switch {
	case len(list) == 0:
		s.violation(c, 100, 0, "OAuthException", "(#100) data is empty")
		return
	case len(list) > s.cfg.MaxEvents:
		s.violation(c, 100, 2804049, "OAuthException", "(#100) a request may hold at most %d events, got %d", s.cfg.MaxEvents, len(list))
		return
	}
	now := s.cfg.Now()
	events := make([]map[string]any, len(list))
	for i, e := range list {
		ev, problem := checkEvent(e, now)
		if problem != "" {
			s.violation(c, 100, 2804003, "OAuthException", "(#100) event at index %d: %s", i, problem)
			return
		}
		events[i] = ev
	}
	f := s.popScript(c)
	if f == nil && c.status != 0 {
		return
	}
	if f != nil {
		for i, ev := range events {
			id, _ := ev["event_id"].(string)
			reason, bad := f.Reject[id]
			if !bad {
				reason, bad = f.Retry[id]
			}
			if bad {
				s.graphError(c, GraphError{Status: http.StatusBadRequest, Code: 100, Subcode: 2804003, Type: "OAuthException",
					Message: fmt.Sprintf("Invalid parameter: event at index %d: %s", i, reason)})
				return
			}
		}
	}
	testCode := paramString(c.params, "test_event_code")
	for _, ev := range events {
		if !s.duplicate(datasetID, ev, now) {
			s.stored = append(s.stored, Event{DatasetID: datasetID, TestEventCode: testCode, Fields: ev, Received: now})
		}
	}
	s.answer(c, http.StatusOK, map[string]any{"events_received": len(events), "messages": []string{}, "fbtrace_id": s.traceID()})
}

// duplicate reports whether an event with the same name and id reached the dataset within
// the deduplication window.
func (s *Server) duplicate(datasetID string, ev map[string]any, now time.Time) bool {
	id, _ := ev["event_id"].(string)
	if id == "" {
		return false
	}
	for _, e := range s.stored {
		if e.DatasetID == datasetID && e.Fields["event_id"] == id && e.Fields["event_name"] == ev["event_name"] &&
			now.Sub(e.Received) < DedupWindow {
			return true
		}
	}
	return false
}

// checkEvent validates one server event and returns it decoded.
func checkEvent(raw json.RawMessage, now time.Time) (map[string]any, string) {
	var ev map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		return nil, "not an object"
	}
	for k := range ev {
		if !slices.Contains(eventKeys, k) {
			return nil, fmt.Sprintf("unknown key %q", k)
		}
	}
	if name, _ := ev["event_name"].(string); strings.TrimSpace(name) == "" {
		return nil, "event_name is required"
	}
	num, ok := ev["event_time"].(json.Number)
	if !ok {
		return nil, "event_time must be an integer Unix time in seconds"
	}
	secs, err := num.Int64()
	if err != nil {
		return nil, "event_time must be an integer Unix time in seconds"
	}
	at := time.Unix(secs, 0)
	if now.Sub(at) > EventMaxAge {
		return nil, "event_time is more than 7 days in the past"
	}
	if at.Sub(now) > FutureTolerance {
		return nil, "event_time is in the future"
	}
	ev["event_time"] = secs
	source, _ := ev["action_source"].(string)
	if !slices.Contains(actionSources, source) {
		return nil, fmt.Sprintf("action_source %q is not one of %s", source, strings.Join(actionSources, ", "))
	}
	if v, ok := ev["event_id"]; ok {
		if s, ok := v.(string); !ok || s == "" {
			return nil, "event_id must be a non-empty string"
		}
	}
	if v, ok := ev["event_source_url"]; ok {
		if s, ok := v.(string); !ok || s == "" {
			return nil, "event_source_url must be a non-empty string"
		}
	}
	user, ok := ev["user_data"].(map[string]any)
	if !ok {
		return nil, "user_data is required and must be an object"
	}
	identifying := 0
	for k, v := range user {
		values, ok := stringValues(v)
		if !ok || len(values) == 0 {
			return nil, fmt.Sprintf("user_data.%s must be a string or a list of strings", k)
		}
		switch {
		case slices.Contains(hashedUserData, k):
			for _, x := range values {
				if !hexHash.MatchString(x) {
					return nil, fmt.Sprintf("user_data.%s must be SHA-256 as 64 lowercase hex characters", k)
				}
			}
		case k == "external_id":
		case k == "client_ip_address":
			if net.ParseIP(values[0]) == nil {
				return nil, "user_data.client_ip_address is not an IP address"
			}
		case slices.Contains(unhashedUserData, k):
			if k == "madid" && !uuidPattern.MatchString(values[0]) {
				return nil, "user_data.madid must be an unhashed lowercase advertising id"
			}
		default:
			return nil, fmt.Sprintf("unknown user_data key %q", k)
		}
		if k != "client_user_agent" {
			identifying++
		}
	}
	if identifying == 0 {
		return nil, "user_data needs at least one customer information parameter besides client_user_agent"
	}
	if source == "website" {
		if _, ok := user["client_user_agent"]; !ok {
			return nil, "website events need user_data.client_user_agent"
		}
		if _, ok := ev["event_source_url"]; !ok {
			return nil, "website events need event_source_url"
		}
	}
	if v, ok := ev["custom_data"]; ok {
		custom, ok := v.(map[string]any)
		if !ok {
			return nil, "custom_data must be an object"
		}
		if x, ok := custom["value"]; ok {
			if _, ok := x.(json.Number); !ok {
				return nil, "custom_data.value must be a number"
			}
		}
		if x, ok := custom["currency"]; ok {
			if cur, ok := x.(string); !ok || len(cur) != 3 {
				return nil, "custom_data.currency must be a three-letter ISO 4217 code"
			}
		}
		if x, ok := custom["content_ids"]; ok {
			if ids, ok := stringValues(x); !ok || len(ids) == 0 {
				return nil, "custom_data.content_ids must be a list of strings"
			}
		}
	}
	if v, ok := ev["data_processing_options"]; ok {
		opts, ok := stringValues(v)
		if !ok {
			return nil, "data_processing_options must be a list of strings"
		}
		for _, o := range opts {
			if o != "LDU" {
				return nil, fmt.Sprintf("data_processing_options: unknown option %q", o)
			}
		}
	}
	for _, k := range []string{"data_processing_options_country", "data_processing_options_state"} {
		if v, ok := ev[k]; ok {
			if _, ok := v.(json.Number); !ok {
				return nil, k + " must be an integer"
			}
		}
	}
	return ev, ""
}

func stringValues(v any) ([]string, bool) {
	switch x := v.(type) {
	case string:
		return []string{x}, x != ""
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// popScript takes the next scripted failure of a data request. It answers Status and Graph
// failures itself (c.status is then set) and returns partial failures to the caller.
func (s *Server) popScript(c *call) *connectortest.Failure {
	next, ok := s.script.Next()
	if !ok {
		return nil
	}
	if next.graph != nil {
		s.graphError(c, *next.graph)
		return nil
	}
	f := next.failure
	if f.Status == 0 {
		return f
	}
	e := GraphError{Status: f.Status, RetryAfter: f.RetryAfter, Type: "OAuthException"}
	switch {
	case f.Status == http.StatusUnauthorized:
		e.Code, e.Subcode, e.Message = 190, 463, "Error validating access token: Session has expired."
	case f.Status == http.StatusForbidden:
		e.Code, e.Message = 200, "(#200) Permissions error"
	case f.Status == http.StatusTooManyRequests:
		e.Code, e.Message, e.IsTransient = 17, "(#17) User request limit reached", true
	case f.Status == http.StatusInternalServerError:
		e.Code, e.Message, e.IsTransient, e.Type = 1, "An unknown error occurred", true, "OAuthException"
	case f.Status >= 500:
		e.Code, e.Message, e.IsTransient = 2, "Service temporarily unavailable", true
	default:
		e.Code, e.Message = 100, "(#100) Invalid parameter"
	}
	s.graphError(c, e)
	return nil
}

func (s *Server) traceID() string {
	s.trace++
	return fmt.Sprintf("AfakeTrace%06d", s.trace)
}

// graphError answers an error in Meta's format without recording a violation.
func (s *Server) graphError(c *call, e GraphError) {
	if e.RetryAfter != "" {
		c.w.Header().Set("Retry-After", e.RetryAfter)
	}
	if e.Type == "" {
		e.Type = "OAuthException"
	}
	body := map[string]any{"message": e.Message, "type": e.Type, "code": e.Code, "fbtrace_id": s.traceID()}
	if e.Subcode != 0 {
		body["error_subcode"] = e.Subcode
	}
	if e.IsTransient {
		body["is_transient"] = true
	}
	s.answer(c, e.Status, map[string]any{"error": body})
}

// violation records a contract violation and answers it in Meta's format (HTTP 400, as
// Meta answers invalid requests and OAuth errors).
func (s *Server) violation(c *call, code, subcode int, typ, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.AddViolation(fmt.Sprintf("%s %s: code %d: %s", c.r.Method, c.r.URL.Path, code, msg))
	s.graphError(c, GraphError{Status: http.StatusBadRequest, Code: code, Subcode: subcode, Type: typ, Message: msg})
}

func (s *Server) answer(c *call, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"fake: encoding the answer failed","code":1}}`)
	}
	c.status = status
	c.w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
}

func copyRow(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
