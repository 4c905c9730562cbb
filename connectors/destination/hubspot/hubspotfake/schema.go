package hubspotfake

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Property types the fake validates values against.
const (
	TypeString      = "string"
	TypeNumber      = "number"
	TypeEnumeration = "enumeration" // ";"-separated values must be among Options
	TypeDatetime    = "datetime"    // ISO 8601 timestamp or date, or epoch milliseconds
	TypeDate        = "date"        // ISO date (YYYY-MM-DD) or epoch milliseconds at midnight UTC
	TypeBool        = "bool"        // "true" or "false"
	TypeEmail       = "email"       // the contact e-mail: text that must look like an address
)

// Property declares one property of an object type.
type Property struct {
	Name string
	// Type is one of the Type constants (default TypeString).
	Type string
	// Unique properties ("Require unique values") can be used as idProperty.
	Unique bool
	// ReadOnly properties cannot be written (hs_object_id, createdate...).
	ReadOnly bool
	// Options lists the values of an enumeration.
	Options []string
}

// CustomObject declares a custom object type.
type CustomObject struct {
	// ObjectTypeID is "2-" followed by digits; FullyQualifiedName is "p<portal>_<name>".
	ObjectTypeID       string
	FullyQualifiedName string
	// Label is the singular label used in messages ("Car").
	Label      string
	Properties []Property
}

// Default custom object of a fake whose Config declares none.
const (
	DefaultCustomObjectTypeID = "2-3508482"
	DefaultCustomObjectName   = "p1234567_cars"
)

var readOnly = []Property{
	{Name: "hs_object_id", ReadOnly: true},
	{Name: "createdate", Type: TypeDatetime, ReadOnly: true},
	{Name: "lastmodifieddate", Type: TypeDatetime, ReadOnly: true},
	{Name: "hs_lastmodifieddate", Type: TypeDatetime, ReadOnly: true},
}

var lifecycleStages = []string{"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"}

func textProps(names ...string) []Property {
	out := make([]Property, len(names))
	for i, n := range names {
		out[i] = Property{Name: n}
	}
	return out
}

// standardTypes returns the declarations of contacts, companies and deals: a subset of
// HubSpot's default properties, enough to exercise every validation.
func standardTypes() []*objectType {
	contacts := append([]Property{
		{Name: "email", Type: TypeEmail}, // unique by HubSpot's own rule, without hasUniqueValue
		{Name: "lifecyclestage", Type: TypeEnumeration, Options: lifecycleStages},
		{Name: "hs_lead_status", Type: TypeEnumeration, Options: []string{"NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"}},
	}, textProps("firstname", "lastname", "phone", "mobilephone", "company", "jobtitle", "website", "address", "city", "state", "zip", "country", "hubspot_owner_id", "date_of_birth")...)
	companies := append([]Property{
		{Name: "numberofemployees", Type: TypeNumber},
		{Name: "annualrevenue", Type: TypeNumber},
		{Name: "lifecyclestage", Type: TypeEnumeration, Options: lifecycleStages},
	}, textProps("name", "domain", "industry", "phone", "website", "address", "city", "state", "zip", "country", "description", "hubspot_owner_id")...)
	deals := append([]Property{
		{Name: "amount", Type: TypeNumber},
		{Name: "closedate", Type: TypeDatetime},
		{Name: "dealtype", Type: TypeEnumeration, Options: []string{"newbusiness", "existingbusiness"}},
	}, textProps("dealname", "pipeline", "dealstage", "description", "hubspot_owner_id")...)
	return []*objectType{
		newObjectType("contacts", "0-1", "Contact", []string{"contact"}, append(contacts, readOnly...)),
		newObjectType("companies", "0-2", "Company", []string{"company"}, append(companies, readOnly...)),
		newObjectType("deals", "0-3", "Deal", []string{"deal"}, append(deals, readOnly...)),
	}
}

func defaultCustomObject() CustomObject {
	return CustomObject{
		ObjectTypeID:       DefaultCustomObjectTypeID,
		FullyQualifiedName: DefaultCustomObjectName,
		Label:              "Car",
		Properties: []Property{
			{Name: "vin", Unique: true},
			{Name: "model"},
			{Name: "year", Type: TypeNumber},
			{Name: "registered_on", Type: TypeDate},
			{Name: "electric", Type: TypeBool},
		},
	}
}

// objectType is the declaration and the records of one object type.
type objectType struct {
	name    string   // path name: contacts, or the custom object's fully qualified name
	id      string   // objectTypeId: 0-1, 2-3508482
	aliases []string // other accepted path names
	label   string
	props   map[string]Property
	objects []*Object
}

func newObjectType(name, id, label string, aliases []string, props []Property) *objectType {
	t := &objectType{name: name, id: id, aliases: aliases, label: label, props: map[string]Property{}}
	for _, p := range props {
		t.declare(p)
	}
	return t
}

func (t *objectType) declare(p Property) {
	if p.Type == "" {
		p.Type = TypeString
	}
	t.props[p.Name] = p
}

// unique reports whether a property can identify records (the contact e-mail included).
func (t *objectType) unique(name string) bool {
	p, ok := t.props[name]
	return ok && (p.Unique || (t.id == "0-1" && name == "email"))
}

// find returns the record whose property prop equals value (e-mails compare lowercased).
func (t *objectType) find(prop, value string) *Object {
	if value == "" {
		return nil
	}
	for _, o := range t.objects {
		v := o.Properties[prop]
		if v == value || (t.props[prop].Type == TypeEmail && strings.EqualFold(v, value)) {
			return o
		}
	}
	return nil
}

var (
	isoDate     = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	digits      = regexp.MustCompile(`^\d+$`)
	emailLike   = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s.]+$`)
	numberValue = regexp.MustCompile(`^-?\d+(\.\d+)?([eE][-+]?\d+)?$`)
)

// validate checks a value against its property's type and returns HubSpot's error code and
// message, or "" when the value is valid. An empty value is always valid: it clears the
// property.
func validate(p Property, v string) (code, msg string) {
	if v == "" {
		return "", ""
	}
	switch p.Type {
	case TypeNumber:
		if !numberValue.MatchString(v) {
			return "INVALID_NUMBER", strconv.Quote(v) + " is not a valid number for property " + p.Name
		}
	case TypeEnumeration:
		for _, part := range strings.Split(v, ";") {
			ok := false
			for _, o := range p.Options {
				ok = ok || o == part
			}
			if !ok {
				return "INVALID_OPTION", strconv.Quote(part) + " was not one of the allowed options: " + strings.Join(p.Options, ", ")
			}
		}
	case TypeDatetime:
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil && !isoDate.MatchString(v) && !digits.MatchString(v) {
			return "INVALID_DATE", strconv.Quote(v) + " is not a valid ISO 8601 date-time or epoch milliseconds for property " + p.Name
		}
	case TypeDate:
		switch {
		case isoDate.MatchString(v):
			if _, err := time.Parse(time.DateOnly, v); err != nil {
				return "INVALID_DATE", strconv.Quote(v) + " is not a valid date for property " + p.Name
			}
		case digits.MatchString(v):
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms%(24*3600*1000) != 0 {
				return "INVALID_DATE", strconv.Quote(v) + " is not at midnight UTC; date properties take a date without a time"
			}
		default:
			return "INVALID_DATE", strconv.Quote(v) + " is not a valid date (YYYY-MM-DD) for property " + p.Name
		}
	case TypeBool:
		if v != "true" && v != "false" {
			return "INVALID_BOOLEAN", strconv.Quote(v) + " is not a valid boolean (true or false) for property " + p.Name
		}
	case TypeEmail:
		if !emailLike.MatchString(v) {
			return "INVALID_EMAIL", "Email address " + v + " is invalid"
		}
	}
	return "", ""
}
