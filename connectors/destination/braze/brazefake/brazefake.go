// Package brazefake is a fake Braze REST API (httptest) for tests of the braze platform. It
// enforces the documented contract of the endpoints dinmo uses and keeps the state the
// accepted requests describe:
//
//	POST /users/track                  attributes[], events[], purchases[] (75 objects at most)
//	POST /v2/subscription/status/set   subscription_groups[] (50 ids per group at most)
//
// Enforced: method, path, "Authorization: Bearer <key>", Content-Type application/json, the
// top-level keys, the object count, exactly one identifier per object, the required fields
// and formats of events (name, ISO 8601 time) and purchases (product_id, three-letter
// currency, numeric price, quantity 1 to 100), property and attribute names, E.164 phones,
// the subscription state and id limits. A request breaking the contract is answered the way
// Braze answers (a fatal 400 {"message": ...}, or a minor error naming the object by
// "input_array" and "index") and recorded in Violations; a wrong key is answered 401 without
// being a violation. A request that carries no object at all (the braze platform's credential
// probe) is answered 400 as Braze does, counted by Probes and not by Hits.
//
// Failures are scripted with FailNext in Braze's formats: 429 carries X-RateLimit-Reset
// (epoch seconds, from Failure.RetryAfter) and no Retry-After; partial failures answer
// {"message":"success","errors":[{"type","input_array","index"}]} (a 400 fatal answer when
// every object is refused), retryable objects with a type saying to try again.
package brazefake

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"dinmo/connectors/destination/connectortest"
)

// DefaultAPIKey is the REST API key the fake accepts unless Config.APIKey says otherwise.
const DefaultAPIKey = "braze-fake-rest-api-key-0123" //nolint:gosec // G101: the fake's published test key, not a real credential

// Paths served.
const (
	PathUsersTrack            = "/users/track"
	PathSubscriptionStatusSet = "/v2/subscription/status/set"
)

// MessageNoValidData is Braze's fatal message when no object of a /users/track request is
// valid (or there is none).
const MessageNoValidData = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields."

// KeySource says what Keys reports, so the conformance suite can see the effect of each
// service.
type KeySource int

// Key sources.
const (
	// KeysUsers reports the identifiers of the user profiles holding at least one attribute
	// (user_attributes); seeded users without attributes are not reported.
	KeysUsers KeySource = iota
	// KeysEventUsers reports the identifiers that received an event or a purchase.
	KeysEventUsers
	// KeysAttributeTrue reports the users whose Config.KeyAttribute is true (user_lists).
	KeysAttributeTrue
	// KeysSubscribed reports the ids subscribed to Config.KeyGroup, or to any group when it
	// is empty (subscription_status).
	KeysSubscribed
)

// Config configures a Server.
type Config struct {
	// APIKey is the accepted REST API key (default DefaultAPIKey).
	APIKey string
	// MaxTrackObjects is the most objects one /users/track request may carry (default 75).
	MaxTrackObjects int
	// MaxSubscriptionIDs is the most ids one subscription group entry may carry (default 50).
	MaxSubscriptionIDs int
	// Keys, KeyAttribute and KeyGroup choose what Keys reports.
	Keys         KeySource
	KeyAttribute string
	KeyGroup     string
}

// Event is one custom event recorded.
type Event struct {
	IDKind, ID string // identifier kind (external_id, braze_id, email, phone, user_alias) and value
	Name       string
	Time       string
	Properties map[string]any
}

// Purchase is one purchase recorded.
type Purchase struct {
	IDKind, ID string
	ProductID  string
	Currency   string
	Price      json.Number
	Quantity   int64 // 0 when not given
	Time       string
	Properties map[string]any
}

// Request is one request that passed the contract checks (applied, or answered with a
// scripted failure).
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
}

// Server is the fake Braze API. It is safe for concurrent use.
type Server struct {
	// HTTPFake provides URL, Close, Hits (probes excepted), MaxBatchSeen (objects or
	// subscription ids), Violations and SensitiveValues (the configured key and every
	// Authorization value received).
	connectortest.HTTPFake

	cfg Config

	mu        sync.Mutex
	script    connectortest.Script[connectortest.Failure]
	probes    int
	requests  []Request
	users     map[string]map[string]any // "kind:value" → attributes
	events    []Event
	purchases []Purchase
	subs      map[string]map[string]string // group → "kind:value" → state
}

var _ connectortest.Fake = (*Server)(nil)

// New starts a fake; t.Cleanup closes it.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.APIKey == "" {
		cfg.APIKey = DefaultAPIKey
	}
	if cfg.MaxTrackObjects <= 0 {
		cfg.MaxTrackObjects = 75
	}
	if cfg.MaxSubscriptionIDs <= 0 {
		cfg.MaxSubscriptionIDs = 50
	}
	s := &Server{
		cfg:   cfg,
		users: map[string]map[string]any{},
		subs:  map[string]map[string]string{},
	}
	s.Start(t, &s.mu, http.HandlerFunc(s.serve), cfg.APIKey)
	return s
}

// FailNext makes the next n requests that pass the contract checks fail as f says. Reject
// and Retry name identifier values (external_id, braze_id, e-mail or phone).
func (s *Server) FailNext(n int, f connectortest.Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script.Add(n, f)
}

// SeedUsers creates user profiles with these external ids and no attribute, for services
// that only update existing users.
func (s *Server) SeedUsers(externalIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range externalIDs {
		if _, ok := s.users["external_id:"+id]; !ok {
			s.users["external_id:"+id] = map[string]any{}
		}
	}
}

// Probes is the number of requests that carried no object (credential checks).
func (s *Server) Probes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probes
}

// Keys returns the sorted identifier values Config.Keys selects.
func (s *Server) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := map[string]bool{}
	switch s.cfg.Keys {
	case KeysUsers:
		for k, attrs := range s.users {
			if len(attrs) > 0 {
				set[valueOf(k)] = true
			}
		}
	case KeysEventUsers:
		for _, e := range s.events {
			set[e.ID] = true
		}
		for _, p := range s.purchases {
			set[p.ID] = true
		}
	case KeysAttributeTrue:
		for k, attrs := range s.users {
			if attrs[s.cfg.KeyAttribute] == true {
				set[valueOf(k)] = true
			}
		}
	case KeysSubscribed:
		for g, states := range s.subs {
			if s.cfg.KeyGroup != "" && g != s.cfg.KeyGroup {
				continue
			}
			for k, st := range states {
				if st == "subscribed" {
					set[valueOf(k)] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// User returns a copy of the attributes of the user with this external id.
func (s *Server) User(externalID string) (map[string]any, bool) {
	return s.UserBy("external_id", externalID)
}

// UserBy returns a copy of the attributes of the user identified by kind (external_id,
// braze_id, email, phone) and value.
func (s *Server) UserBy(kind, value string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	attrs, ok := s.users[kind+":"+value]
	if !ok {
		return nil, false
	}
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		out[k] = v
	}
	return out, true
}

// Events returns the custom events recorded, in order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Purchases returns the purchases recorded, in order.
func (s *Server) Purchases() []Purchase {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Purchase(nil), s.purchases...)
}

// Subscription returns the state ("subscribed" or "unsubscribed") of the id of kind
// (external_id, email, phone) in group.
func (s *Server) Subscription(group, kind, id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.subs[group][kind+":"+id]
	return st, ok
}

// Requests returns the requests that passed the contract checks, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func valueOf(key string) string {
	_, v, _ := strings.Cut(key, ":")
	return v
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, readErr := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.CountHits(1)
	auth := r.Header.Get("Authorization")
	s.AddSensitive(auth)
	if token, ok := strings.CutPrefix(auth, "Bearer "); ok && len(token) >= 4 {
		s.AddSensitive(token)
	}
	setRateHeaders(w, time.Now().Add(3*time.Second))
	switch {
	case readErr != nil:
		s.fatal(w, http.StatusBadRequest, "reading the body: %v", readErr)
		return
	case r.Method != http.MethodPost:
		s.fatal(w, http.StatusMethodNotAllowed, "method %s, want POST", r.Method)
		return
	case r.URL.Path != PathUsersTrack && r.URL.Path != PathSubscriptionStatusSet:
		s.fatal(w, http.StatusNotFound, "unknown path %q", r.URL.Path)
		return
	case r.URL.RawQuery != "":
		s.fatal(w, http.StatusBadRequest, "unexpected query string (the key goes in the Authorization header)")
		return
	case !strings.HasPrefix(auth, "Bearer "):
		s.fatal(w, http.StatusUnauthorized, "missing Authorization: Bearer header")
		return
	case strings.TrimPrefix(auth, "Bearer ") != s.cfg.APIKey:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Invalid API key"})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.fatal(w, http.StatusUnsupportedMediaType, "Content-Type %q, want application/json", r.Header.Get("Content-Type"))
		return
	}
	if r.Header.Get("User-Agent") == "" {
		s.fatal(w, http.StatusBadRequest, "missing User-Agent")
		return
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		s.fatal(w, http.StatusBadRequest, "the body is not a JSON object")
		return
	}
	if r.URL.Path == PathUsersTrack {
		s.track(w, r, body, top)
		return
	}
	s.subscription(w, r, body, top)
}

// takeScript returns the next scripted failure, if any, and records the request.
func (s *Server) takeScript(r *http.Request, body []byte) (connectortest.Failure, bool) {
	s.requests = append(s.requests, Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: append([]byte(nil), body...)})
	return s.script.Next()
}

// failStatus answers a scripted status failure in Braze's format.
func failStatus(w http.ResponseWriter, f connectortest.Failure) {
	msg := http.StatusText(f.Status)
	switch f.Status {
	case http.StatusTooManyRequests:
		msg = "API rate limit exceeded"
		if secs, err := strconv.Atoi(f.RetryAfter); err == nil {
			setRateHeaders(w, time.Now().Add(time.Duration(secs)*time.Second))
			w.Header().Set("X-RateLimit-Remaining", "0")
		} else {
			w.Header().Del("X-RateLimit-Reset")
		}
	case http.StatusUnauthorized:
		msg = "Invalid API key"
	default:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
	}
	writeJSON(w, f.Status, map[string]any{"message": msg})
}

// objError is a minor error in Braze's format.
type objError struct {
	Type       string `json:"type"`
	InputArray string `json:"input_array"`
	Index      int    `json:"index"`
}

func retryType(reason string) string {
	return reason + " (temporary error, please try again)"
}

var trackArrays = []string{"attributes", "events", "purchases"}

func (s *Server) track(w http.ResponseWriter, r *http.Request, body []byte, top map[string]json.RawMessage) {
	for k := range top {
		if k != "attributes" && k != "events" && k != "purchases" {
			s.fatal(w, http.StatusBadRequest, "unexpected key %q (the API key goes in the Authorization header)", k)
			return
		}
	}
	objects := map[string][]map[string]json.RawMessage{}
	total := 0
	for _, a := range trackArrays {
		raw, ok := top[a]
		if !ok {
			continue
		}
		var list []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			s.fatal(w, http.StatusBadRequest, "%q must be an array of objects", a)
			return
		}
		for i, o := range list {
			if o == nil {
				s.fatal(w, http.StatusBadRequest, "%s[%d] is not an object", a, i)
				return
			}
		}
		objects[a] = list
		total += len(list)
	}
	if total == 0 {
		s.CountHits(-1)
		s.probes++
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": MessageNoValidData})
		return
	}
	s.SeeBatch(total)
	if total > s.cfg.MaxTrackObjects {
		s.fatal(w, http.StatusBadRequest, "Max Input Length Exceeded: %d objects, at most %d", total, s.cfg.MaxTrackObjects)
		return
	}
	var errs []objError
	valid := map[string][]bool{}
	for _, a := range trackArrays {
		for i, o := range objects[a] {
			problem, violation := checkObject(a, o)
			if violation {
				s.AddViolation(fmt.Sprintf("%s %s[%d]: %s", PathUsersTrack, a, i, problem))
			}
			if problem != "" {
				errs = append(errs, objError{Type: problem, InputArray: a, Index: i})
			}
			valid[a] = append(valid[a], problem == "")
		}
	}
	f, scripted := s.takeScript(r, body)
	if scripted && f.Status != 0 {
		failStatus(w, f)
		return
	}
	for _, a := range trackArrays {
		for i, o := range objects[a] {
			if !valid[a][i] {
				continue
			}
			_, id := identity(o)
			if reason, ok := f.Reject[id]; ok {
				errs = append(errs, objError{Type: reason, InputArray: a, Index: i})
				valid[a][i] = false
			} else if reason, ok := f.Retry[id]; ok {
				errs = append(errs, objError{Type: retryType(reason), InputArray: a, Index: i})
				valid[a][i] = false
			}
		}
	}
	processed := map[string]int{}
	for _, a := range trackArrays {
		for i, o := range objects[a] {
			if valid[a][i] {
				s.applyObject(a, o)
				processed[a]++
			}
		}
	}
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].InputArray != errs[j].InputArray {
			return errs[i].InputArray < errs[j].InputArray
		}
		return errs[i].Index < errs[j].Index
	})
	if len(errs) == total {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": MessageNoValidData, "errors": errs})
		return
	}
	ans := map[string]any{"message": "success"}
	for a, n := range processed {
		ans[a+"_processed"] = n
	}
	if len(errs) > 0 {
		ans["errors"] = errs
	}
	writeJSON(w, http.StatusCreated, ans)
}

var (
	e164      = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	emailLike = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	currency  = regexp.MustCompile(`^[A-Z]{3}$`)
	dateOnly  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

var (
	identifierKeys = []string{"external_id", "braze_id", "user_alias"}
	// identityOrder is the order in which identity looks for the identifier of an object.
	identityOrder = []string{"external_id", "braze_id", "user_alias", "email", "phone"}
)

// identity returns the identifier kind and value of an object: external_id, braze_id or
// user_alias, else email, else phone.
func identity(o map[string]json.RawMessage) (kind, id string) {
	for _, k := range identityOrder {
		raw, ok := o[k]
		if !ok {
			continue
		}
		if k == "user_alias" {
			return k, string(raw)
		}
		var s string
		_ = json.Unmarshal(raw, &s)
		return k, s
	}
	return "", ""
}

var eventKeys = map[string]bool{"external_id": true, "braze_id": true, "user_alias": true, "email": true, "phone": true,
	"app_id": true, "name": true, "time": true, "properties": true, "_update_existing_only": true}

var purchaseKeys = map[string]bool{"external_id": true, "braze_id": true, "user_alias": true, "email": true, "phone": true,
	"app_id": true, "product_id": true, "currency": true, "price": true, "quantity": true, "time": true, "properties": true,
	"_update_existing_only": true}

// checkObject validates one /users/track object. It returns the minor error Braze would give
// ("" when valid) and whether the problem is a contract violation (something a correct client
// never sends) rather than bad data Braze refuses.
func checkObject(array string, o map[string]json.RawMessage) (string, bool) {
	n := 0
	for _, k := range identifierKeys {
		if _, ok := o[k]; ok {
			n++
		}
	}
	_, hasEmail := o["email"]
	_, hasPhone := o["phone"]
	switch {
	case n > 1:
		return "only one of 'external_id', 'braze_id' or 'user_alias' may be given", true
	case n == 0 && !hasEmail && !hasPhone:
		return "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required", true
	}
	for _, k := range []string{"external_id", "braze_id"} {
		if raw, ok := o[k]; ok {
			if s, ok := str(raw); !ok || strings.TrimSpace(s) == "" {
				return fmt.Sprintf("'%s' must be a non-empty string", k), true
			}
		}
	}
	if raw, ok := o["_update_existing_only"]; ok {
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return "'_update_existing_only' must be a boolean", true
		}
	}
	switch array {
	case "attributes":
		return checkAttributes(o)
	case "events":
		for k := range o {
			if !eventKeys[k] {
				return fmt.Sprintf("unexpected key %q in an event object", k), true
			}
		}
		if s, ok := str(o["name"]); !ok || strings.TrimSpace(s) == "" {
			return "'name' is required", true
		}
	case "purchases":
		for k := range o {
			if !purchaseKeys[k] {
				return fmt.Sprintf("unexpected key %q in a purchase object", k), true
			}
		}
		if s, ok := str(o["product_id"]); !ok || strings.TrimSpace(s) == "" || len([]rune(s)) > 255 {
			return "'product_id' is required (up to 255 characters)", true
		}
		if s, ok := str(o["currency"]); !ok || !currency.MatchString(s) {
			return "'currency' must be an ISO 4217 alphabetic code", true
		}
		var price json.Number
		if raw, ok := o["price"]; !ok || json.Unmarshal(raw, &price) != nil || !isNumber(raw) {
			return "'price' is required and must be a number", true
		}
		if raw, ok := o["quantity"]; ok {
			q, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || q < 1 || q > 100 {
				return "'quantity' must be an integer from 1 to 100", true
			}
		}
	}
	if s, ok := str(o["time"]); !ok || !isISOTime(s) {
		return "'time' is required and must be an ISO 8601 time", true
	}
	if raw, ok := o["properties"]; ok {
		var props map[string]json.RawMessage
		if json.Unmarshal(raw, &props) != nil || props == nil {
			return "'properties' must be an object", true
		}
		for k := range props {
			if k == "" || strings.HasPrefix(k, "$") || len([]rune(k)) > 255 {
				return fmt.Sprintf("invalid property name %q", k), true
			}
		}
	}
	if raw, ok := o["phone"]; ok {
		if s, ok := str(raw); !ok || !e164.MatchString(s) {
			return "'phone' must be in E.164", true
		}
	}
	return "", false
}

func checkAttributes(o map[string]json.RawMessage) (string, bool) {
	for k := range o {
		switch {
		case k == "" || strings.HasPrefix(k, "$"):
			return fmt.Sprintf("invalid attribute name %q", k), true
		case k == "api_key":
			return "the API key must not be sent in the body", true
		case len([]rune(k)) > 255:
			return "attribute names are at most 255 characters", true
		}
	}
	if raw, ok := o["email"]; ok && string(raw) != "null" {
		if s, ok := str(raw); !ok || !emailLike.MatchString(s) {
			return "The value provided for the 'email' field is not a valid email.", false
		}
	}
	if raw, ok := o["phone"]; ok && string(raw) != "null" {
		if s, ok := str(raw); !ok || !e164.MatchString(s) {
			return "'phone' must be in E.164", true
		}
	}
	if raw, ok := o["dob"]; ok && string(raw) != "null" {
		if s, ok := str(raw); !ok || !dateOnly.MatchString(s) {
			return "'dob' must be a YYYY-MM-DD date", false
		}
	}
	for _, k := range []string{"email_subscribe", "push_subscribe"} {
		if raw, ok := o[k]; ok && string(raw) != "null" {
			if s, _ := str(raw); s != "opted_in" && s != "subscribed" && s != "unsubscribed" {
				return fmt.Sprintf("'%s' must be opted_in, subscribed or unsubscribed", k), false
			}
		}
	}
	return "", false
}

// controlKeys are attribute object keys that are not stored as attributes.
var controlKeys = map[string]bool{"external_id": true, "braze_id": true, "user_alias": true,
	"_update_existing_only": true, "push_token_import": true}

// applyObject applies one valid object to the state. Unknown users are created unless
// _update_existing_only is true (the default for user_alias), in which case the object is
// dropped silently, as Braze does.
func (s *Server) applyObject(array string, o map[string]json.RawMessage) {
	kind, id := identity(o)
	key := kind + ":" + id
	updateOnly := kind == "user_alias"
	if raw, ok := o["_update_existing_only"]; ok {
		_ = json.Unmarshal(raw, &updateOnly)
	}
	attrs, exists := s.users[key]
	if !exists {
		if updateOnly {
			return
		}
		attrs = map[string]any{}
		s.users[key] = attrs
	}
	switch array {
	case "attributes":
		for k, raw := range o {
			if controlKeys[k] {
				continue
			}
			var v any
			_ = json.Unmarshal(raw, &v)
			if v == nil {
				delete(attrs, k)
				continue
			}
			attrs[k] = v
		}
	case "events":
		e := Event{IDKind: kind, ID: id}
		e.Name, _ = str(o["name"])
		e.Time, _ = str(o["time"])
		_ = json.Unmarshal(o["properties"], &e.Properties)
		s.events = append(s.events, e)
	case "purchases":
		p := Purchase{IDKind: kind, ID: id}
		p.ProductID, _ = str(o["product_id"])
		p.Currency, _ = str(o["currency"])
		p.Price = json.Number(strings.TrimSpace(string(o["price"])))
		p.Time, _ = str(o["time"])
		if raw, ok := o["quantity"]; ok {
			p.Quantity, _ = strconv.ParseInt(string(raw), 10, 64)
		}
		_ = json.Unmarshal(o["properties"], &p.Properties)
		s.purchases = append(s.purchases, p)
	}
}

var groupKeys = map[string]bool{"subscription_group_id": true, "subscription_state": true, "external_ids": true,
	"emails": true, "phones": true, "use_double_opt_in_logic": true}

var idArrays = []string{"external_ids", "emails", "phones"}

func (s *Server) subscription(w http.ResponseWriter, r *http.Request, body []byte, top map[string]json.RawMessage) {
	for k := range top {
		if k != "subscription_groups" {
			s.fatal(w, http.StatusBadRequest, "unexpected key %q", k)
			return
		}
	}
	var groups []map[string]json.RawMessage
	if err := json.Unmarshal(top["subscription_groups"], &groups); err != nil {
		s.fatal(w, http.StatusBadRequest, "'subscription_groups' must be an array of objects")
		return
	}
	if len(groups) == 0 {
		s.CountHits(-1)
		s.probes++
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "'subscription_groups' must contain at least one subscription group"})
		return
	}
	type entry struct {
		group, state, array string
		ids                 []string
	}
	var entries []entry
	total := 0
	for gi, g := range groups {
		if g == nil {
			s.fatal(w, http.StatusBadRequest, "subscription_groups[%d] is not an object", gi)
			return
		}
		for k := range g {
			if !groupKeys[k] {
				s.fatal(w, http.StatusBadRequest, "subscription_groups[%d]: unexpected key %q", gi, k)
				return
			}
		}
		group, ok := str(g["subscription_group_id"])
		if !ok || strings.TrimSpace(group) == "" {
			s.fatal(w, http.StatusBadRequest, "subscription_groups[%d]: 'subscription_group_id' is required", gi)
			return
		}
		state, _ := str(g["subscription_state"])
		if state != "subscribed" && state != "unsubscribed" {
			s.fatal(w, http.StatusBadRequest, "subscription_groups[%d]: 'subscription_state' must be subscribed or unsubscribed", gi)
			return
		}
		if raw, ok := g["use_double_opt_in_logic"]; ok {
			var b bool
			if json.Unmarshal(raw, &b) != nil {
				s.fatal(w, http.StatusBadRequest, "subscription_groups[%d]: 'use_double_opt_in_logic' must be a boolean", gi)
				return
			}
		}
		_, hasEmails := g["emails"]
		_, hasPhones := g["phones"]
		if hasEmails && hasPhones {
			s.fatal(w, http.StatusBadRequest, "subscription_groups[%d]: 'emails' and 'phones' cannot both be given", gi)
			return
		}
		found := false
		for _, a := range idArrays {
			raw, ok := g[a]
			if !ok {
				continue
			}
			found = true
			var ids []string
			if err := json.Unmarshal(raw, &ids); err != nil || len(ids) == 0 {
				s.fatal(w, http.StatusBadRequest, "subscription_groups[%d]: '%s' must be a non-empty array of strings", gi, a)
				return
			}
			total += len(ids)
			s.SeeBatch(total)
			if len(ids) > s.cfg.MaxSubscriptionIDs {
				s.fatal(w, http.StatusBadRequest, "The max number of ids per request was exceeded: %d %s, at most %d", len(ids), a, s.cfg.MaxSubscriptionIDs)
				return
			}
			for i, id := range ids {
				switch {
				case strings.TrimSpace(id) == "":
					s.fatal(w, http.StatusBadRequest, "subscription_groups[%d].%s[%d] is empty", gi, a, i)
					return
				case a == "phones" && !e164.MatchString(id):
					s.fatal(w, http.StatusBadRequest, "subscription_groups[%d].phones[%d] is not in E.164 format", gi, i)
					return
				case a == "emails" && !emailLike.MatchString(id):
					s.fatal(w, http.StatusBadRequest, "subscription_groups[%d].emails[%d] is not a valid email", gi, i)
					return
				}
			}
			entries = append(entries, entry{group: group, state: state, array: a, ids: ids})
		}
		if !found {
			s.fatal(w, http.StatusBadRequest, "subscription_groups[%d]: one of 'external_ids', 'emails' or 'phones' is required", gi)
			return
		}
	}
	f, scripted := s.takeScript(r, body)
	if scripted && f.Status != 0 {
		failStatus(w, f)
		return
	}
	var errs []objError
	for _, e := range entries {
		kind := strings.TrimSuffix(e.array, "s")
		for i, id := range e.ids {
			if reason, ok := f.Reject[id]; ok {
				errs = append(errs, objError{Type: reason, InputArray: e.array, Index: i})
				continue
			}
			if reason, ok := f.Retry[id]; ok {
				errs = append(errs, objError{Type: retryType(reason), InputArray: e.array, Index: i})
				continue
			}
			if s.subs[e.group] == nil {
				s.subs[e.group] = map[string]string{}
			}
			s.subs[e.group][kind+":"+id] = e.state
		}
	}
	if len(errs) == total {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "No valid ids were provided", "errors": errs})
		return
	}
	ans := map[string]any{"message": "success"}
	if len(errs) > 0 {
		ans["errors"] = errs
	}
	writeJSON(w, http.StatusCreated, ans)
}

// fatal records a contract violation and answers it with Braze's fatal error format.
func (s *Server) fatal(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.AddViolation(fmt.Sprintf("HTTP %d: %s", status, msg))
	writeJSON(w, status, map[string]any{"message": msg})
}

func setRateHeaders(w http.ResponseWriter, reset time.Time) {
	w.Header().Set("X-RateLimit-Limit", "3000")
	w.Header().Set("X-RateLimit-Remaining", "2999")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func str(raw json.RawMessage) (string, bool) {
	var s string
	if raw == nil || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func isNumber(raw json.RawMessage) bool {
	t := strings.TrimSpace(string(raw))
	return t != "" && (t[0] == '-' || (t[0] >= '0' && t[0] <= '9'))
}

func isISOTime(s string) bool {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05:000Z0700"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}
