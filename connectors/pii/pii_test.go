package pii

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// Pin the clock of the date rules so "in the future" does not move under the tests.
	now = func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }
	m.Run()
}

// Golden vectors: vendor examples (Snap CAPI, X Ads, in destinations-ads.md §13) recomputed
// locally with sha256sum, not copied.
func TestHashGoldenVectors(t *testing.T) {
	meta := Options{PhoneFormat: PhoneFormatDigits}
	cases := []struct {
		name, kind, raw string
		opts            Options
		normalised      string
		hash            string
	}{
		{"snap email", RuleEmail, "Person@Example.com", Options{}, "person@example.com",
			"542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345"},
		{"email with spaces", RuleEmail, "  Person@Example.COM \t", Options{}, "person@example.com",
			"542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345"},
		{"snap phone digits", RulePhone, "+44 844 412 4653", meta, "448444124653",
			"dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383"},
		{"phone E.164", RulePhone, "+44 844 412 4653", Options{}, "+448444124653",
			"11f9231a47ccfd680a60606f73702bc2c0fb065a7f55c482269e51d9f9e868ae"},
		{"phone national with region", RulePhone, "06 12 34 56 78", Options{DefaultRegion: "FR", PhoneFormat: PhoneFormatDigits},
			"33612345678", "8a3e7886c9335e82e02299fa3e87b46e2de3b0c63d56003e30a5029394a47661"},
		{"x ads external id", RuleExternalID, " adsapi ", Options{}, "adsapi",
			"49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470d"},
		{"first name", RuleFirstName, " John ", Options{}, "john",
			"96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a"},
		{"unicode first name", RuleFirstName, "João", Options{}, "joão",
			"d147147c3dcbe0ac2756b42297dd7f013f8b2fa6178e209c3f74dc7d752243ef"},
		{"unicode name, decomposed accent", RuleFirstName, "Joa\u0303o", Options{}, "joão",
			"d147147c3dcbe0ac2756b42297dd7f013f8b2fa6178e209c3f74dc7d752243ef"},
		{"gender", RuleGender, "Male", Options{}, "m",
			"62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a"},
		{"country alias", RuleCountry, "U.S.A.", Options{}, "us",
			"79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Normalize(tc.kind, tc.raw, tc.opts)
			if err != nil || n != tc.normalised {
				t.Fatalf("Normalize(%q, %q) = %q, %v; want %q", tc.kind, tc.raw, n, err, tc.normalised)
			}
			if got := SHA256Hex(n); got != tc.hash {
				t.Errorf("SHA256Hex(%q) = %s, want %s", n, got, tc.hash)
			}
			h, err := HashNormalized(tc.kind, tc.raw, tc.opts)
			if err != nil || h != tc.hash {
				t.Errorf("HashNormalized = %s, %v; want %s", h, err, tc.hash)
			}
		})
	}
}

func TestAlreadyHashedPassesThrough(t *testing.T) {
	const h = "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345"
	for _, kind := range []string{RuleEmail, RulePhone, RuleFirstName, RuleCountry, RuleMADID} {
		for _, raw := range []string{h, strings.ToUpper(h), "  " + h + "\n"} {
			got, err := HashNormalized(kind, raw, Options{})
			if err != nil || got != h {
				t.Errorf("HashNormalized(%s, %q) = %q, %v; want the hash unchanged", kind, raw, got, err)
			}
		}
	}
	// 63 or 65 hex characters, or a non-hex character, are not hashes: they are normalised
	// (and here fail the e-mail rule).
	for _, raw := range []string{h[:63], h + "0", "g" + h[1:]} {
		if IsSHA256Hex(raw) {
			t.Errorf("IsSHA256Hex(%q) = true", raw)
		}
		if _, err := HashNormalized(RuleEmail, raw, Options{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("HashNormalized(email, %q): err = %v, want ErrInvalid", raw, err)
		}
	}
}

func TestEmail(t *testing.T) {
	cases := []struct {
		raw  string
		opts EmailOptions
		want string
	}{
		{"John.Doe+Ads@Gmail.com", EmailOptions{}, "john.doe+ads@gmail.com"},
		{"John.Doe+Ads@Gmail.com", EmailOptions{GmailCanonical: true}, "johndoe@gmail.com"},
		{"j.o.h.n@googlemail.com", EmailOptions{GmailCanonical: true}, "john@googlemail.com"},
		{"John.Doe+Ads@example.com", EmailOptions{GmailCanonical: true}, "john.doe+ads@example.com"},
		{"John.Doe+Ads@example.com", EmailOptions{DropPlusTag: true}, "john.doe@example.com"},
		{"John.Doe+Ads@gmail.com", EmailOptions{DropPlusTag: true}, "john.doe@gmail.com"},
		{"ÉLODIE@exemple.fr", EmailOptions{}, "élodie@exemple.fr"},
		{"a@b.co", EmailOptions{}, "a@b.co"},
	}
	for _, tc := range cases {
		got, err := NormalizeEmail(tc.raw, tc.opts)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeEmail(%q, %+v) = %q, %v; want %q", tc.raw, tc.opts, got, err, tc.want)
		}
	}
	bad := []struct {
		raw  string
		opts EmailOptions
	}{
		{"no-at-sign.example.com", EmailOptions{}},
		{"two@@example.com", EmailOptions{}},
		{"a@b@example.com", EmailOptions{}},
		{"@example.com", EmailOptions{}},
		{"user@", EmailOptions{}},
		{"user@localhost", EmailOptions{}},
		{"user@.example.com", EmailOptions{}},
		{"user@example..com", EmailOptions{}},
		{"user@example.com.", EmailOptions{}},
		{"us er@example.com", EmailOptions{}},
		{"user@exa\x00mple.com", EmailOptions{}},
		{"+tag@example.com", EmailOptions{DropPlusTag: true}},
		{"...@gmail.com", EmailOptions{GmailCanonical: true}},
	}
	for _, tc := range bad {
		_, err := NormalizeEmail(tc.raw, tc.opts)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("NormalizeEmail(%q): err = %v, want ErrInvalid", tc.raw, err)
			continue
		}
		if strings.Contains(err.Error(), tc.raw) {
			t.Errorf("the error %q contains the value", err)
		}
	}
	if _, err := NormalizeEmail("   ", EmailOptions{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("blank e-mail: err = %v, want ErrEmpty", err)
	}
}

func TestPhone(t *testing.T) {
	cases := []struct {
		raw, region, want string
	}{
		{"+33 6 12 34 56 78", "", "+33612345678"},
		{"+33 (0)6 12 34 56 78", "", "+33612345678"},
		{"0033 6 12 34 56 78", "", "+33612345678"},
		{"33612345678", "", "+33612345678"},
		{"06.12.34.56.78", "FR", "+33612345678"},
		{"06 12 34 56 78", "fr", "+33612345678"},
		{"+44 844 412 4653", "FR", "+448444124653"},
		{"(650) 253-0000", "US", "+16502530000"},
		{"1-650-253-0000", "US", "+16502530000"},
		{"+1 650 253 0000", "", "+16502530000"},
		{"020 7946 0018", "GB", "+442079460018"},
	}
	for _, tc := range cases {
		got, err := NormalizePhone(tc.raw, tc.region)
		if err != nil || got != tc.want {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v; want %q", tc.raw, tc.region, got, err, tc.want)
		}
	}
	bad := []struct{ raw, region string }{
		{"06 12 34 56 78", ""},       // no country code, no region
		{"+33 6 12", ""},             // too short
		{"+33 6 12 34 56 78 99", ""}, // too long
		{"not a phone", "FR"},
		{"abc", ""},
		{"+999 123456789", ""}, // unassigned country code
		{"0612345678", "XX"},   // unknown region
	}
	for _, tc := range bad {
		got, err := NormalizePhone(tc.raw, tc.region)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v; want ErrInvalid", tc.raw, tc.region, got, err)
		}
	}
	if _, err := NormalizePhone(" ", "FR"); !errors.Is(err, ErrEmpty) {
		t.Errorf("blank phone: err = %v, want ErrEmpty", err)
	}
	if got := PhoneDigits("+33612345678"); got != "33612345678" {
		t.Errorf("PhoneDigits = %q", got)
	}
}

func TestRules(t *testing.T) {
	cases := []struct {
		rule, raw, want string
	}{
		{RuleFirstName, "Mary-Ann", "maryann"},
		{RuleFirstName, "  O'Neil 2nd ", "oneilnd"},
		{RuleLastName, "Müller", "müller"},
		{RuleLastName, "Nguyễn", "nguyễn"},
		{RuleLastName, "山田", "山田"},
		{RuleLastName, "Иванов", "иванов"},
		{RuleLastName, "Van der Berg", "vanderberg"},
		{RuleFirstInitial, "  Élodie", "é"},
		{RuleFirstInitial, "E\u0301lodie", "é"},
		{RuleCity, "Saint-Étienne", "saintétienne"},
		{RuleCity, "New York City", "newyorkcity"},
		{RuleCity, "Paris 15e", "parise"},
		{RuleState, "CA", "ca"},
		{RuleState, "California", "ca"},
		{RuleState, "new york", "ny"},
		{RuleState, "District of Columbia", "dc"},
		{RuleState, "Île-de-France", "îledefrance"},
		{RuleZip, "94103-1234", "94103"},
		{RuleZip, "941031234", "94103"},
		{RuleZip, " 94103 ", "94103"},
		{RuleZip, "SW1A 1AA", "sw1a1aa"},
		{RuleZip, "75015", "75015"},
		{RuleZip, "00-950", "00-950"},
		{RuleCountry, "FR", "fr"},
		{RuleCountry, " gb ", "gb"},
		{RuleCountry, "UK", "gb"},
		{RuleCountry, "United Kingdom", "gb"},
		{RuleCountry, "United States", "us"},
		{RuleGender, "F", "f"},
		{RuleGender, "female", "f"},
		{RuleGender, "Femme", "f"},
		{RuleGender, "M", "m"},
		{RuleDateOfBirth, "1990-03-07", "19900307"},
		{RuleDateOfBirth, "1990/03/07", "19900307"},
		{RuleDateOfBirth, "19900307", "19900307"},
		{RuleDateOfBirth, "1990-03-07T00:00:00Z", "19900307"},
		{RuleDateOfBirth, "1990-03-07 10:11:12", "19900307"},
		{RuleBirthYear, "1990", "1990"},
		{RuleBirthYear, "1990-03-07", "1990"},
		{RuleBirthMonth, "3", "03"},
		{RuleBirthMonth, "12", "12"},
		{RuleBirthMonth, "1990-03-07", "03"},
		{RuleBirthDay, "7", "07"},
		{RuleBirthDay, "31", "31"},
		{RuleBirthDay, "1990-03-07", "07"},
		{RuleExternalID, "  CRM-00042 ", "CRM-00042"},
		{RuleMADID, "6D92078A-8246-4BA4-AE5B-76104861E7DC", "6d92078a-8246-4ba4-ae5b-76104861e7dc"},
	}
	for _, tc := range cases {
		got, err := Normalize(tc.rule, tc.raw, Options{})
		if err != nil || got != tc.want {
			t.Errorf("Normalize(%s, %q) = %q, %v; want %q", tc.rule, tc.raw, got, err, tc.want)
		}
	}
}

func TestRulesRejectInvalid(t *testing.T) {
	cases := []struct{ rule, raw string }{
		{RuleFirstName, "1234"},
		{RuleFirstName, "--"},
		{RuleCity, "75015"},
		{RuleState, "12"},
		{RuleZip, "941#03"},
		{RuleZip, "--"},
		{RuleCountry, "France"},
		{RuleCountry, "xx"},
		{RuleCountry, "fra"},
		{RuleGender, "x"},
		{RuleGender, "unknown"},
		{RuleDateOfBirth, "07/03/1990"},
		{RuleDateOfBirth, "1990-02-30"},
		{RuleDateOfBirth, "1990-13-01"},
		{RuleDateOfBirth, "2030-01-01"},
		{RuleDateOfBirth, "1700-01-01"},
		{RuleDateOfBirth, "1990-03-07X"},
		{RuleBirthYear, "90"},
		{RuleBirthYear, "2099"},
		{RuleBirthMonth, "0"},
		{RuleBirthMonth, "13"},
		{RuleBirthMonth, "March"},
		{RuleBirthDay, "32"},
		{RuleBirthDay, "00"},
		{RuleMADID, "not-a-uuid"},
		{RuleMADID, "6d92078a82464ba4ae5b76104861e7dc"},
		{RuleMADID, "00000000-0000-0000-0000-000000000000"},
		{RuleMADID, "6d92078a-8246-4ba4-ae5b-76104861e7dg"},
	}
	for _, tc := range cases {
		got, err := Normalize(tc.rule, tc.raw, Options{})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%s, %q) = %q, %v; want ErrInvalid", tc.rule, tc.raw, got, err)
			continue
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Rule != tc.rule {
			t.Errorf("Normalize(%s, %q): err = %#v, want an *Error naming the rule", tc.rule, tc.raw, err)
		}
		if strings.Contains(err.Error(), tc.raw) {
			t.Errorf("Normalize(%s): the error %q contains the value", tc.rule, err)
		}
	}
	for _, r := range Rules() {
		if _, err := r.Normalize(" \t", Options{}); !errors.Is(err, ErrEmpty) {
			t.Errorf("rule %s on a blank value: err = %v, want ErrEmpty", r.Name, err)
		}
	}
	if _, err := Normalize("favourite_colour", "blue", Options{}); err == nil {
		t.Errorf("an unknown rule was accepted")
	}
}

func TestRegistryCoversDeclaredNames(t *testing.T) {
	want := []string{"email", "phone", "first_name", "last_name", "first_initial", "city", "state", "zip",
		"country", "gender", "date_of_birth", "birth_year", "birth_month", "birth_day", "external_id", "madid"}
	got := Rules()
	if len(got) != len(want) {
		t.Fatalf("%d rules, want %d", len(got), len(want))
	}
	for i, name := range want {
		if got[i].Name != name || got[i].Description == "" {
			t.Errorf("rule %d = %q (description %q), want %q with a description", i, got[i].Name, got[i].Description, name)
		}
		if _, ok := LookupRule(name); !ok {
			t.Errorf("LookupRule(%q) failed", name)
		}
	}
	if len(isoAlpha2) != 249 {
		t.Errorf("%d ISO 3166-1 alpha-2 codes, want 249", len(isoAlpha2))
	}
}

func TestValueString(t *testing.T) {
	cases := []struct {
		v    any
		want string
		ok   bool
	}{
		{"x", "x", true},
		{int64(33612345678), "33612345678", true},
		{float64(33612345678), "33612345678", true},
		{1.5, "1.5", true},
		{true, "true", true},
		{time.Date(1990, 3, 7, 0, 0, 0, 0, time.UTC), "1990-03-07T00:00:00Z", true},
		{nil, "", false},
		{map[string]any{}, "", false},
	}
	for _, tc := range cases {
		got, ok := ValueString(tc.v)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ValueString(%#v) = %q, %v; want %q, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
	// A DATE column read as time.Time feeds the date rules.
	s, _ := ValueString(time.Date(1990, 3, 7, 0, 0, 0, 0, time.UTC))
	if got, err := Normalize(RuleDateOfBirth, s, Options{}); err != nil || got != "19900307" {
		t.Errorf("date of birth from a time = %q, %v", got, err)
	}
}
