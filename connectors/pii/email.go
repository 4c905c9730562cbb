package pii

import (
	"strings"
	"unicode"
)

// NormalizeEmail trims and lowercases an e-mail address and checks its shape: exactly one
// "@", a non-empty local part, a domain of dot-separated non-empty labels with at least one
// dot, and no white space or control characters. opts applies the optional Gmail and +tag
// canonicalisations. It does not check that the mailbox exists.
func NormalizeEmail(raw string, opts EmailOptions) (string, error) {
	s := strings.ToLower(strings.TrimSpace(raw))
	if s == "" {
		return "", empty(RuleEmail)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", invalid(RuleEmail, "an e-mail address must not contain white space or control characters")
		}
	}
	if n := strings.Count(s, "@"); n != 1 {
		return "", invalid(RuleEmail, "an e-mail address needs exactly one \"@\", found %d", n)
	}
	local, domain, _ := strings.Cut(s, "@")
	if local == "" {
		return "", invalid(RuleEmail, "the part before \"@\" is empty")
	}
	if domain == "" {
		return "", invalid(RuleEmail, "the domain after \"@\" is empty")
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "", invalid(RuleEmail, "the domain has no dot (want a domain such as example.com)")
	}
	for _, l := range labels {
		if l == "" {
			return "", invalid(RuleEmail, "the domain has an empty label (a leading, trailing or doubled dot)")
		}
	}
	if opts.GmailCanonical && (domain == "gmail.com" || domain == "googlemail.com") {
		local, _, _ = strings.Cut(local, "+")
		local = strings.ReplaceAll(local, ".", "")
	}
	if opts.DropPlusTag {
		local, _, _ = strings.Cut(local, "+")
	}
	if local == "" {
		return "", invalid(RuleEmail, "the part before \"@\" is empty once dots and the +tag are removed")
	}
	return local + "@" + domain, nil
}

func normalizeEmailRule(v string, opts Options) (string, error) {
	return NormalizeEmail(v, opts.Email)
}
