package pii

import (
	"strings"
	"unicode"
)

// NormalizeCountry returns the lowercase ISO 3166-1 alpha-2 code of a country. Non-letters
// are ignored first ("U.S." → "us"), then a code is accepted as is and a few common aliases
// are translated ("UK" and "United Kingdom" → "gb", "USA" and "United States" → "us").
// Anything else, full country names included, is invalid: platforms match on codes, and a
// wrong guess would send someone else's country.
func NormalizeCountry(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", empty(RuleCountry)
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) {
			b.WriteRune(r)
		}
	}
	c := b.String()
	if alias, ok := countryAliases[c]; ok {
		return alias, nil
	}
	if len(c) == 2 && isoAlpha2[c] {
		return c, nil
	}
	return "", invalid(RuleCountry, "want an ISO 3166-1 alpha-2 country code such as fr, gb or us")
}

func normalizeCountry(v string, _ Options) (string, error) { return NormalizeCountry(v) }

// countryAliases are the spellings accepted besides the codes (letters only, lowercase).
var countryAliases = map[string]string{
	"uk":                    "gb",
	"unitedkingdom":         "gb",
	"greatbritain":          "gb",
	"usa":                   "us",
	"unitedstates":          "us",
	"unitedstatesofamerica": "us",
}

// isoAlpha2 holds the 249 officially assigned ISO 3166-1 alpha-2 codes.
var isoAlpha2 = func() map[string]bool {
	const codes = "ad ae af ag ai al am ao aq ar as at au aw ax az " +
		"ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw by bz " +
		"ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz " +
		"de dj dk dm do dz ec ee eg eh er es et fi fj fk fm fo fr " +
		"ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy " +
		"hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp " +
		"ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly " +
		"ma mc md me mf mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz " +
		"na nc ne nf ng ni nl no np nr nu nz om " +
		"pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw " +
		"sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz " +
		"tc td tf tg th tj tk tl tm tn to tr tt tv tw tz " +
		"ua ug um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw"
	m := make(map[string]bool, 249)
	for _, c := range strings.Fields(codes) {
		m[c] = true
	}
	return m
}()
