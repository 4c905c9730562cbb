// Package hubspotfake is a fake of the HubSpot CRM v3 APIs the hubspot platform uses
// (httptest-based). It enforces HubSpot's contract — Bearer authentication, paths per object
// type, methods, Content-Type, the shape of batch bodies (inputs, at most 100 of them, id and
// idProperty for upserts and updates, properties as a map of strings), declared properties,
// value formats, unique property values — answers violations and refusals in HubSpot's own
// error format, keeps the records of each object type in memory, and can be scripted to
// answer 429 (with policyName), 5xx, expired tokens, 423 Locked and partial failures (207).
//
// Behaviour mirrors what HubSpot documents or is observed to do:
//   - batch/create refuses the whole batch with 409 CONFLICT ("Contact already exists.
//     Existing ID: N") when an input repeats a unique value;
//   - one invalid value, an unknown property or a read-only property refuses the whole batch
//     with 400 VALIDATION_ERROR ("Property values were not valid: [...]", codes
//     PROPERTY_DOESNT_EXIST, READ_ONLY_VALUE, INVALID_EMAIL, INVALID_OPTION...);
//   - an idProperty that is not unique is refused with 400 ("Unable to perform
//     update/upsert by non-unique ... property");
//   - batch/update answers 207 with an OBJECT_NOT_FOUND error naming unknown ids in
//     context.ids, and applies the others.
package hubspotfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"dinmo/connectors/destination/connectortest"
)

// Defaults of Config.
const (
	DefaultToken     = "pat-na1-00000000-fake-token-0000"
	DefaultPortalID  = 1234567
	DefaultMaxInputs = 100
)

// Config configures a Server.
type Config struct {
	// Token is the private app token requests must carry (default DefaultToken).
	Token string
	// PortalID is the account id the token belongs to (default DefaultPortalID).
	PortalID int64
	// MaxInputs is the most inputs one batch request may carry (default 100, HubSpot's limit).
	MaxInputs int
	// KeyProperty is the property whose values Keys reports and partial failures are scripted
	// by (default "email"). It is declared as a unique text property on every object type
	// that does not declare it.
	KeyProperty string
	// CustomObjects declares the custom object types (default: one, 2-3508482 /
	// p1234567_cars, with a unique "vin").
	CustomObjects []CustomObject
	// ExtraProperties adds properties to object types, by path name (contacts, companies,
	// deals) or custom objectTypeId.
	ExtraProperties map[string][]Property
}

// Object is one record of the fake's state.
type Object struct {
	ID         string
	Properties map[string]string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Input is one input of an accepted batch request.
type Input struct {
	ID                 string            `json:"id,omitempty"`
	IDProperty         string            `json:"idProperty,omitempty"`
	Properties         map[string]string `json:"properties"`
	ObjectWriteTraceID string            `json:"objectWriteTraceId,omitempty"`
}

// Request is one batch request that passed the contract checks.
type Request struct {
	Method     string
	Path       string
	ObjectType string // the object type's path name (contacts, p1234567_cars)
	Endpoint   string // create, update or upsert
	Header     http.Header
	Inputs     []Input
	Status     int // the status answered
}

// scripted is one queued answer.
type scripted struct {
	failure connectortest.Failure
	raw     *rawAnswer
}

type rawAnswer struct {
	status int
	header map[string]string
	body   string
}

// Server is the fake. It is safe for concurrent use.
type Server struct {
	// HTTPFake provides URL (the base address to use as OpenParams.BaseURL), Close, Hits
	// (requests to the batch endpoints), MaxBatchSeen (inputs), Violations and
	// SensitiveValues (the token and every Authorization value received).
	connectortest.HTTPFake

	cfg Config

	mu        sync.Mutex
	types     []*objectType
	nextID    int64
	script    connectortest.Script[scripted]
	probes    int
	requests  []Request
	correlate int
}

var _ connectortest.Fake = (*Server)(nil)

// New starts a fake; t.Cleanup closes it.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = DefaultToken
	}
	if cfg.PortalID == 0 {
		cfg.PortalID = DefaultPortalID
	}
	if cfg.MaxInputs <= 0 {
		cfg.MaxInputs = DefaultMaxInputs
	}
	if cfg.KeyProperty == "" {
		cfg.KeyProperty = "email"
	}
	if cfg.CustomObjects == nil {
		cfg.CustomObjects = []CustomObject{defaultCustomObject()}
	}
	s := &Server{cfg: cfg, types: standardTypes(), nextID: 1000}
	for _, co := range cfg.CustomObjects {
		s.types = append(s.types, newObjectType(co.FullyQualifiedName, co.ObjectTypeID, co.Label, nil, append(co.Properties, readOnly...)))
	}
	for _, t := range s.types {
		for _, p := range cfg.ExtraProperties[t.name] {
			t.declare(p)
		}
		if t.name != t.id {
			for _, p := range cfg.ExtraProperties[t.id] {
				t.declare(p)
			}
		}
		if _, ok := t.props[cfg.KeyProperty]; !ok {
			t.declare(Property{Name: cfg.KeyProperty, Unique: true})
		}
	}
	s.Start(t, &s.mu, http.HandlerFunc(s.serve), cfg.Token)
	return s
}

// Token is the access token the fake accepts.
func (s *Server) Token() string { return s.cfg.Token }

// FailNext makes the next n batch requests that pass the contract checks fail as f says:
// f.Status is answered in HubSpot's format (401 EXPIRED_AUTHENTICATION, 403 MISSING_SCOPES,
// 429 with policyName TEN_SECONDLY_ROLLING, 5xx), with f.RetryAfter as Retry-After; Reject
// and Retry (keys are values of Config.KeyProperty) answer a 207 naming those inputs
// (VALIDATION_ERROR, and LOCKED for Retry) and apply the others. Scripts queue up in call
// order.
func (s *Server) FailNext(n int, f connectortest.Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script.Add(n, scripted{failure: f})
}

// FailNextRaw makes the next n batch requests that pass the contract checks answer status
// with the given headers and body (a DAILY 429, a 423 Locked, a 477...).
func (s *Server) FailNextRaw(n, status int, header map[string]string, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script.Add(n, scripted{raw: &rawAnswer{status: status, header: header, body: body}})
}

// DailyLimitBody is HubSpot's answer when the daily limit is spent.
const DailyLimitBody = `{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","correlationId":"00000000-0000-0000-0000-00000000da17","policyName":"DAILY","requestId":"r-1"}`

// Probes is the number of read-only requests received (account details, property
// definitions, listings); Hits counts the requests to the batch endpoints (the data path),
// whatever their fate.
func (s *Server) Probes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probes
}

// Keys returns the sorted values of Config.KeyProperty held by records of every type.
func (s *Server) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for _, t := range s.types {
		for _, o := range t.objects {
			if v := o.Properties[s.cfg.KeyProperty]; v != "" {
				keys = append(keys, v)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// Requests returns the batch requests that passed the contract checks, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		r.Inputs = append([]Input(nil), r.Inputs...)
		out[i] = r
	}
	return out
}

// Objects returns copies of the records of an object type (path name or objectTypeId).
func (s *Server) Objects(objectType string) []Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.typeOf(objectType)
	if t == nil {
		return nil
	}
	out := make([]Object, len(t.objects))
	for i, o := range t.objects {
		out[i] = copyObject(o)
	}
	return out
}

// Find returns a copy of the record of objectType whose property equals value.
func (s *Server) Find(objectType, property, value string) (Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.typeOf(objectType)
	if t == nil {
		return Object{}, false
	}
	o := t.find(property, value)
	if o == nil {
		return Object{}, false
	}
	return copyObject(o), true
}

// Seed creates a record directly (for update and conflict tests) and returns it.
func (s *Server) Seed(objectType string, props map[string]string) Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.typeOf(objectType)
	if t == nil {
		panic("hubspotfake: Seed: unknown object type " + objectType)
	}
	return copyObject(s.create(t, props))
}

func copyObject(o *Object) Object {
	c := *o
	c.Properties = make(map[string]string, len(o.Properties))
	for k, v := range o.Properties {
		c.Properties[k] = v
	}
	return c
}

func (s *Server) typeOf(name string) *objectType {
	for _, t := range s.types {
		if t.name == name || t.id == name {
			return t
		}
		for _, a := range t.aliases {
			if a == name {
				return t
			}
		}
	}
	return nil
}

func (s *Server) create(t *objectType, props map[string]string) *Object {
	s.nextID++
	now := time.Now().UTC()
	o := &Object{ID: strconv.FormatInt(s.nextID, 10), Properties: map[string]string{}, CreatedAt: now, UpdatedAt: now}
	for k, v := range props {
		o.Properties[k] = v
	}
	o.Properties["hs_object_id"] = o.ID
	t.objects = append(t.objects, o)
	return o
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, readErr := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	isBatch := r.Method == http.MethodPost || strings.Contains(r.URL.Path, "/batch/")
	if isBatch {
		s.CountHits(1)
	} else {
		s.probes++
	}
	if v := r.Header.Get("Authorization"); v != "" {
		s.AddSensitive(v)
		if tok, ok := strings.CutPrefix(v, "Bearer "); ok {
			s.AddSensitive(tok)
		}
	}
	if r.URL.Query().Has("hapikey") {
		s.violation("the deprecated hapikey query parameter was sent")
	}
	if readErr != nil {
		s.refuse(w, "reading the body: "+readErr.Error())
		return
	}
	auth := r.Header.Get("Authorization")
	token, bearer := strings.CutPrefix(auth, "Bearer ")
	switch {
	case !bearer || token == "":
		s.violation("request without an Authorization: Bearer header")
		s.write(w, http.StatusUnauthorized, nil, s.errorBody("INVALID_AUTHENTICATION",
			"Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview", nil))
		return
	case token != s.cfg.Token:
		s.write(w, http.StatusUnauthorized, nil, s.errorBody("INVALID_AUTHENTICATION",
			"The access token provided is invalid or has been revoked.", nil))
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/account-info/v3/details":
		if !s.method(w, r, http.MethodGet) {
			return
		}
		s.accountDetails(w)
	case len(parts) == 5 && parts[0] == "crm" && parts[1] == "v3" && parts[2] == "properties":
		if !s.method(w, r, http.MethodGet) {
			return
		}
		s.property(w, parts[3], parts[4])
	case len(parts) == 4 && parts[0] == "crm" && parts[1] == "v3" && parts[2] == "objects":
		if !s.method(w, r, http.MethodGet) {
			return
		}
		s.list(w, r, parts[3])
	case len(parts) == 6 && parts[0] == "crm" && parts[1] == "v3" && parts[2] == "objects" && parts[4] == "batch" &&
		(parts[5] == "create" || parts[5] == "update" || parts[5] == "upsert"):
		if !s.method(w, r, http.MethodPost) {
			return
		}
		s.batch(w, r, parts[3], parts[5], body)
	default:
		s.violation(fmt.Sprintf("%s %s: no such endpoint", r.Method, r.URL.Path))
		s.write(w, http.StatusNotFound, nil, s.errorBody("OBJECT_NOT_FOUND", "resource not found", nil))
	}
}

func (s *Server) method(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want {
		return true
	}
	s.violation(fmt.Sprintf("%s %s: method not allowed, want %s", r.Method, r.URL.Path, want))
	s.write(w, http.StatusMethodNotAllowed, nil, s.errorBody("VALIDATION_ERROR", "HTTP method "+r.Method+" is not supported by this resource", nil))
	return false
}

func (s *Server) accountDetails(w http.ResponseWriter) {
	b, _ := json.Marshal(map[string]any{
		"portalId": s.cfg.PortalID, "accountType": "STANDARD", "timeZone": "Europe/Paris", "companyCurrency": "EUR",
		"additionalCurrencies": []string{}, "utcOffset": "+01:00", "utcOffsetMilliseconds": 3600000,
		"uiDomain": "app-eu1.hubspot.com", "dataHostingLocation": "eu1",
	})
	s.write(w, http.StatusOK, nil, b)
}

func (s *Server) unknownType(w http.ResponseWriter, name string) {
	s.write(w, http.StatusBadRequest, nil, s.errorBody("VALIDATION_ERROR", "Unable to infer object type from: "+name, nil))
}

func (s *Server) property(w http.ResponseWriter, typeName, propName string) {
	t := s.typeOf(typeName)
	if t == nil {
		s.unknownType(w, typeName)
		return
	}
	p, ok := t.props[propName]
	if !ok {
		s.write(w, http.StatusNotFound, nil, s.errorBody("OBJECT_NOT_FOUND",
			fmt.Sprintf("Unable to find property %s for object type %s", propName, t.id), nil))
		return
	}
	fieldType := map[string]string{TypeNumber: "number", TypeEnumeration: "select", TypeDatetime: "date", TypeDate: "date", TypeBool: "booleancheckbox"}[p.Type]
	if fieldType == "" {
		fieldType = "text"
	}
	typ := p.Type
	if typ == TypeEmail {
		typ = TypeString
	}
	b, _ := json.Marshal(map[string]any{
		"name": p.Name, "label": p.Name, "type": typ, "fieldType": fieldType, "groupName": "dinmo",
		"hasUniqueValue": p.Unique, "hidden": false, "formField": true, "calculated": false, "externalOptions": false,
		"modificationMetadata": map[string]any{"archivable": true, "readOnlyDefinition": p.ReadOnly, "readOnlyValue": p.ReadOnly},
	})
	s.write(w, http.StatusOK, nil, b)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, typeName string) {
	t := s.typeOf(typeName)
	if t == nil {
		s.unknownType(w, typeName)
		return
	}
	limit := 10
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			s.write(w, http.StatusBadRequest, nil, s.errorBody("VALIDATION_ERROR", "limit must be between 1 and 100", nil))
			return
		}
		limit = n
	}
	results := []map[string]any{}
	for i, o := range t.objects {
		if i == limit {
			break
		}
		results = append(results, s.result(o, "", nil))
	}
	b, _ := json.Marshal(map[string]any{"results": results})
	s.write(w, http.StatusOK, nil, b)
}

// inputKeys are the keys an input of each endpoint may hold.
var inputKeys = map[string]map[string]bool{
	"create": {"properties": true, "associations": true, "objectWriteTraceId": true},
	"update": {"id": true, "idProperty": true, "properties": true, "objectWriteTraceId": true},
	"upsert": {"id": true, "idProperty": true, "properties": true, "objectWriteTraceId": true},
}

// decodeInputs checks a batch body strictly and returns its inputs, or what is wrong.
func decodeInputs(endpoint string, body []byte) ([]Input, string) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, "Invalid input JSON: " + err.Error()
	}
	for k := range top {
		if k != "inputs" {
			return nil, fmt.Sprintf("Invalid input JSON: unrecognized field %q", k)
		}
	}
	raw, ok := top["inputs"]
	if !ok {
		return nil, "Invalid input JSON: missing required field \"inputs\""
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, "Invalid input JSON: inputs must be an array of objects"
	}
	if len(items) == 0 {
		return nil, "inputs must not be empty"
	}
	out := make([]Input, len(items))
	for i, item := range items {
		for k := range item {
			if !inputKeys[endpoint][k] {
				return nil, fmt.Sprintf("Invalid input JSON: inputs[%d]: unrecognized field %q for batch/%s", i, k, endpoint)
			}
		}
		var in Input
		str := func(key string, dst *string, required bool) string {
			v, ok := item[key]
			if !ok {
				if required {
					return fmt.Sprintf("inputs[%d]: missing required field %q", i, key)
				}
				return ""
			}
			if err := json.Unmarshal(v, dst); err != nil {
				return fmt.Sprintf("inputs[%d].%s must be a string", i, key)
			}
			if required && *dst == "" {
				return fmt.Sprintf("inputs[%d].%s must not be empty", i, key)
			}
			return ""
		}
		needID := endpoint != "create"
		for _, problem := range []string{
			str("id", &in.ID, needID),
			// idProperty is optional in HubSpot's schema (an id is then the record id), but this
			// contract matches on unique properties only.
			str("idProperty", &in.IDProperty, needID),
			str("objectWriteTraceId", &in.ObjectWriteTraceID, false),
		} {
			if problem != "" {
				return nil, problem
			}
		}
		props, ok := item["properties"]
		if !ok {
			return nil, fmt.Sprintf("inputs[%d]: missing required field \"properties\"", i)
		}
		var values map[string]any
		if err := json.Unmarshal(props, &values); err != nil || values == nil {
			return nil, fmt.Sprintf("inputs[%d].properties must be an object", i)
		}
		in.Properties = make(map[string]string, len(values))
		for k, v := range values {
			sv, ok := v.(string)
			if !ok {
				return nil, fmt.Sprintf("inputs[%d].properties.%s must be a string, got %s", i, k, jsonType(v))
			}
			in.Properties[k] = sv
		}
		out[i] = in
	}
	return out, ""
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// batch serves POST /crm/v3/objects/{objectType}/batch/{create|update|upsert}.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, typeName, endpoint string, body []byte) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.violation(fmt.Sprintf("%s: Content-Type %q, want application/json", r.URL.Path, r.Header.Get("Content-Type")))
		s.write(w, http.StatusUnsupportedMediaType, nil, s.errorBody("VALIDATION_ERROR",
			"Content type '"+r.Header.Get("Content-Type")+"' not supported", nil))
		return
	}
	inputs, problem := decodeInputs(endpoint, body)
	if problem != "" {
		s.refuse(w, problem)
		return
	}
	s.SeeBatch(len(inputs))
	if len(inputs) > s.cfg.MaxInputs {
		s.refuse(w, fmt.Sprintf("Batch input size %d exceeds the limit of %d inputs", len(inputs), s.cfg.MaxInputs))
		return
	}
	t := s.typeOf(typeName)
	if t == nil {
		s.unknownType(w, typeName)
		return
	}
	if endpoint != "create" {
		seen := map[string]bool{}
		for _, in := range inputs {
			id := in.ID
			if t.props[in.IDProperty].Type == TypeEmail {
				id = strings.ToLower(id)
			}
			if seen[id] {
				s.refuse(w, "Duplicate IDs found in batch input: ["+in.ID+"]. IDs must be unique")
				return
			}
			seen[id] = true
		}
	}
	req := Request{Method: r.Method, Path: r.URL.Path, ObjectType: t.name, Endpoint: endpoint, Header: r.Header.Clone(), Inputs: inputs}
	status := s.answer(w, t, endpoint, inputs)
	req.Status = status
	s.requests = append(s.requests, req)
}

// answer applies a contract-valid batch (or a scripted failure) and returns the status sent.
func (s *Server) answer(w http.ResponseWriter, t *objectType, endpoint string, inputs []Input) int {
	var failure connectortest.Failure
	if sc, ok := s.script.Next(); ok {
		if sc.raw != nil {
			s.write(w, sc.raw.status, sc.raw.header, []byte(sc.raw.body))
			return sc.raw.status
		}
		failure = sc.failure
		if failure.Status != 0 {
			s.scriptedStatus(w, failure)
			return failure.Status
		}
	}
	// The matching property must exist and be unique.
	if endpoint != "create" {
		for _, in := range inputs {
			if _, ok := t.props[in.IDProperty]; !ok {
				return s.invalidProperties(w, []propertyError{{code: "PROPERTY_DOESNT_EXIST", name: in.IDProperty,
					msg: fmt.Sprintf("Property \"%s\" does not exist", in.IDProperty)}})
			}
			if !t.unique(in.IDProperty) {
				s.write(w, http.StatusBadRequest, nil, s.errorBody("VALIDATION_ERROR",
					fmt.Sprintf("Unable to perform update/upsert by non-unique %s property %s in portal ID %d", t.id, in.IDProperty, s.cfg.PortalID), nil))
				return http.StatusBadRequest
			}
		}
	}
	// Every property must exist and be writable; then every value must be valid.
	var schemaErrs, valueErrs []propertyError
	for _, in := range inputs {
		for _, name := range sortedKeys(in.Properties) {
			p, ok := t.props[name]
			switch {
			case !ok:
				schemaErrs = append(schemaErrs, propertyError{code: "PROPERTY_DOESNT_EXIST", name: name, msg: fmt.Sprintf("Property \"%s\" does not exist", name)})
			case p.ReadOnly:
				schemaErrs = append(schemaErrs, propertyError{code: "READ_ONLY_VALUE", name: name, msg: fmt.Sprintf("%s is a read only property; its value cannot be set.", name)})
			default:
				if code, msg := validate(p, in.Properties[name]); code != "" {
					valueErrs = append(valueErrs, propertyError{code: code, name: name, msg: msg})
				}
			}
		}
		if endpoint != "create" && in.Properties[in.IDProperty] != "" && in.Properties[in.IDProperty] != in.ID {
			// HubSpot does not document which wins; a client sending both must keep them equal.
			s.violation(fmt.Sprintf("%s input: properties.%s differs from the id it is matched on", endpoint, in.IDProperty))
		}
	}
	if len(schemaErrs) > 0 {
		return s.invalidProperties(w, dedupe(schemaErrs))
	}
	if len(valueErrs) > 0 {
		return s.invalidProperties(w, valueErrs)
	}
	failed := map[int]batchError{}
	for i, in := range inputs {
		key := s.keyOf(endpoint, in)
		if reason, ok := failure.Reject[key]; ok {
			failed[i] = batchError{Status: "error", Category: "VALIDATION_ERROR", Message: reason, Context: map[string][]string{"ids": {s.refOf(t, endpoint, in)}}}
		} else if reason, ok := failure.Retry[key]; ok {
			failed[i] = batchError{Status: "error", Category: "LOCKED", Message: reason, Context: map[string][]string{"ids": {s.refOf(t, endpoint, in)}}}
		}
	}
	switch endpoint {
	case "create":
		return s.batchCreate(w, t, inputs, failed)
	case "update":
		return s.batchUpdate(w, t, inputs, failed)
	default:
		return s.batchUpsert(w, t, inputs, failed)
	}
}

// keyOf is the Config.KeyProperty value an input carries (scripted failures name inputs by it).
func (s *Server) keyOf(endpoint string, in Input) string {
	if endpoint != "create" && in.IDProperty == s.cfg.KeyProperty {
		return in.ID
	}
	return in.Properties[s.cfg.KeyProperty]
}

// refOf is how an error names an input in context.ids: its id, or for a create the value of
// its first unique property (the key property first).
func (s *Server) refOf(t *objectType, endpoint string, in Input) string {
	if endpoint != "create" {
		return in.ID
	}
	if v := in.Properties[s.cfg.KeyProperty]; v != "" {
		return v
	}
	for _, name := range sortedKeys(in.Properties) {
		if t.unique(name) && in.Properties[name] != "" {
			return in.Properties[name]
		}
	}
	return in.ObjectWriteTraceID
}

func (s *Server) batchCreate(w http.ResponseWriter, t *objectType, inputs []Input, failed map[int]batchError) int {
	// A unique value already held by a record, or repeated in the batch, refuses the whole
	// batch, as HubSpot does ("Contact already exists. Existing ID: N").
	pending := map[string]bool{}
	for i, in := range inputs {
		if _, skip := failed[i]; skip {
			continue
		}
		for _, name := range sortedKeys(in.Properties) {
			v := in.Properties[name]
			if !t.unique(name) || v == "" {
				continue
			}
			if o := t.find(name, v); o != nil {
				s.write(w, http.StatusConflict, nil, s.errorBody("CONFLICT", fmt.Sprintf("%s already exists. Existing ID: %s", t.label, o.ID), nil))
				return http.StatusConflict
			}
			k := name + "\x00" + strings.ToLower(v)
			if pending[k] {
				s.write(w, http.StatusConflict, nil, s.errorBody("CONFLICT", fmt.Sprintf("%s already exists: the batch repeats a value of %s", t.label, name), nil))
				return http.StatusConflict
			}
			pending[k] = true
		}
	}
	var results []map[string]any
	for i, in := range inputs {
		if _, skip := failed[i]; skip {
			continue
		}
		o := s.create(t, nonEmpty(in.Properties))
		results = append(results, s.result(o, in.ObjectWriteTraceID, nil))
	}
	return s.batchAnswer(w, http.StatusCreated, results, failed)
}

func (s *Server) batchUpdate(w http.ResponseWriter, t *objectType, inputs []Input, failed map[int]batchError) int {
	var missing []string
	var results []map[string]any
	for i, in := range inputs {
		if _, skip := failed[i]; skip {
			continue
		}
		o := t.find(in.IDProperty, in.ID)
		if o == nil {
			missing = append(missing, in.ID)
			continue
		}
		s.update(o, in.Properties)
		results = append(results, s.result(o, in.ObjectWriteTraceID, nil))
	}
	if len(missing) > 0 {
		failed[-1] = batchError{Status: "error", Category: "OBJECT_NOT_FOUND",
			Message: fmt.Sprintf("Could not get some %s objects, they may be deleted or not exist. Check that ids are valid.", strings.ToUpper(t.label)),
			Context: map[string][]string{"ids": missing}}
	}
	return s.batchAnswer(w, http.StatusOK, results, failed)
}

func (s *Server) batchUpsert(w http.ResponseWriter, t *objectType, inputs []Input, failed map[int]batchError) int {
	var results []map[string]any
	for i, in := range inputs {
		if _, skip := failed[i]; skip {
			continue
		}
		o := t.find(in.IDProperty, in.ID)
		isNew := o == nil
		if isNew {
			props := nonEmpty(in.Properties)
			props[in.IDProperty] = in.ID
			o = s.create(t, props)
		} else {
			s.update(o, in.Properties)
		}
		results = append(results, s.result(o, in.ObjectWriteTraceID, &isNew))
	}
	return s.batchAnswer(w, http.StatusOK, results, failed)
}

func (s *Server) update(o *Object, props map[string]string) {
	for k, v := range props {
		if v == "" {
			delete(o.Properties, k)
		} else {
			o.Properties[k] = v
		}
	}
	o.UpdatedAt = time.Now().UTC()
}

func nonEmpty(props map[string]string) map[string]string {
	out := make(map[string]string, len(props))
	for k, v := range props {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

func (s *Server) result(o *Object, trace string, isNew *bool) map[string]any {
	props := make(map[string]string, len(o.Properties)+2)
	for k, v := range o.Properties {
		props[k] = v
	}
	props["createdate"] = o.CreatedAt.Format(time.RFC3339Nano)
	props["lastmodifieddate"] = o.UpdatedAt.Format(time.RFC3339Nano)
	r := map[string]any{
		"id": o.ID, "properties": props, "archived": false,
		"createdAt": o.CreatedAt.Format(time.RFC3339Nano), "updatedAt": o.UpdatedAt.Format(time.RFC3339Nano),
	}
	if trace != "" {
		r["objectWriteTraceId"] = trace
	}
	if isNew != nil {
		r["new"] = *isNew
	}
	return r
}

// batchError is one StandardError of a batch answer.
type batchError struct {
	Status   string              `json:"status"`
	Category string              `json:"category"`
	Message  string              `json:"message"`
	Context  map[string][]string `json:"context"`
	Errors   []any               `json:"errors"`
	Links    map[string]string   `json:"links"`
}

// batchAnswer writes a batch response: ok when nothing failed, else 207 with the errors.
func (s *Server) batchAnswer(w http.ResponseWriter, ok int, results []map[string]any, failed map[int]batchError) int {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if results == nil {
		results = []map[string]any{}
	}
	resp := map[string]any{"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
	status := ok
	if len(failed) > 0 {
		status = http.StatusMultiStatus
		idx := make([]int, 0, len(failed))
		for i := range failed {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		errs := make([]batchError, 0, len(failed))
		for _, i := range idx {
			e := failed[i]
			e.Errors, e.Links = []any{}, map[string]string{}
			errs = append(errs, e)
		}
		resp["errors"], resp["numErrors"] = errs, len(errs)
	}
	b, _ := json.Marshal(resp)
	s.write(w, status, nil, b)
	return status
}

type propertyError struct{ code, name, msg string }

func dedupe(errs []propertyError) []propertyError {
	seen := map[string]bool{}
	var out []propertyError
	for _, e := range errs {
		if !seen[e.code+e.name] {
			seen[e.code+e.name] = true
			out = append(out, e)
		}
	}
	return out
}

// invalidProperties refuses a whole batch the way HubSpot reports property problems.
func (s *Server) invalidProperties(w http.ResponseWriter, errs []propertyError) int {
	type validation struct {
		IsValid               bool   `json:"isValid"`
		Message               string `json:"message"`
		Error                 string `json:"error"`
		Name                  string `json:"name"`
		LocalizedErrorMessage string `json:"localizedErrorMessage"`
		PortalID              int64  `json:"portalId"`
	}
	list := make([]validation, len(errs))
	details := make([]map[string]any, len(errs))
	for i, e := range errs {
		list[i] = validation{Message: e.msg, Error: e.code, Name: e.name, LocalizedErrorMessage: e.msg, PortalID: s.cfg.PortalID}
		details[i] = map[string]any{"message": e.msg, "code": e.code, "context": map[string][]string{"propertyName": {e.name}}}
	}
	enc, _ := json.Marshal(list)
	s.write(w, http.StatusBadRequest, nil, s.errorBody("VALIDATION_ERROR", "Property values were not valid: "+string(enc), details))
	return http.StatusBadRequest
}

// scriptedStatus answers a scripted failure status in HubSpot's format.
func (s *Server) scriptedStatus(w http.ResponseWriter, f connectortest.Failure) {
	header := map[string]string{}
	if f.RetryAfter != "" {
		header["Retry-After"] = f.RetryAfter
	}
	var body []byte
	switch {
	case f.Status == http.StatusUnauthorized:
		body = s.errorBody("EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired 7 second(s) ago.", nil)
	case f.Status == http.StatusForbidden:
		body = s.errorBody("MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call.", nil)
	case f.Status == http.StatusTooManyRequests:
		header["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000"
		header["X-HubSpot-RateLimit-Max"] = "100"
		header["X-HubSpot-RateLimit-Remaining"] = "0"
		s.correlate++
		body, _ = json.Marshal(map[string]string{
			"status": "error", "message": "You have reached your ten_secondly_rolling limit.", "errorType": "RATE_LIMIT",
			"correlationId": s.correlationID(), "policyName": "TEN_SECONDLY_ROLLING", "groupName": "publicapi:private-app:1",
		})
	case f.Status >= 500:
		body = s.errorBody("INTERNAL_ERROR", "An internal error occurred; please retry.", nil)
	default:
		body = s.errorBody("VALIDATION_ERROR", "scripted failure", nil)
	}
	s.write(w, f.Status, header, body)
}

// refuse answers a request that breaks the contract with a 400 VALIDATION_ERROR, as HubSpot
// does, and records the violation.
func (s *Server) refuse(w http.ResponseWriter, msg string) {
	s.violation("HTTP 400: " + msg)
	s.write(w, http.StatusBadRequest, nil, s.errorBody("VALIDATION_ERROR", msg, nil))
}

// violation records a contract violation. Refusals caused by the data or the user's
// configuration (unknown properties, invalid values, conflicts, a wrong token) are HubSpot
// behaviour, not violations.
func (s *Server) violation(msg string) {
	s.AddViolation(msg)
}

func (s *Server) correlationID() string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", s.correlate)
}

// errorBody renders HubSpot's error format.
func (s *Server) errorBody(category, msg string, details []map[string]any) []byte {
	s.correlate++
	e := map[string]any{"status": "error", "message": msg, "correlationId": s.correlationID(), "category": category}
	if details != nil {
		e["errors"] = details
	}
	b, _ := json.Marshal(e)
	return b
}

func (s *Server) write(w http.ResponseWriter, status int, header map[string]string, body []byte) {
	for k, v := range header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.Copy(w, bytes.NewReader(body))
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
