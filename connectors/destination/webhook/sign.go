package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers the webhook sends with every batch. Receivers read them; the names are part of the
// documented contract.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderRunID          = "X-Dinmo-Run-Id"
	HeaderActivationID   = "X-Dinmo-Activation-Id"
	// HeaderTimestamp and HeaderSignature are sent when a signing_secret is configured.
	HeaderTimestamp = "X-Dinmo-Timestamp"
	HeaderSignature = "X-Dinmo-Signature"
)

// signatureVersion prefixes signatures so the scheme can evolve without ambiguity.
const signatureVersion = "v1="

// Errors returned by Verify. Receivers answer 401 to all of them.
var (
	ErrMissingSignature = errors.New("webhook: missing or malformed " + HeaderTimestamp + " or " + HeaderSignature + " header")
	ErrStaleTimestamp   = errors.New("webhook: " + HeaderTimestamp + " is too far from the current time (replayed or clock skew)")
	ErrBadSignature     = errors.New("webhook: signature does not match the body")
)

// Sign returns the X-Dinmo-Signature header value for a body: "v1=" followed by the hex
// HMAC-SHA256, keyed with secret, of timestamp + "." + body. Signing the timestamp with the
// body lets receivers reject replays of an old request.
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return signatureVersion + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a received request's signature headers against its raw body, in constant
// time. maxSkew bounds how far X-Dinmo-Timestamp may be from now (0 disables the check;
// five minutes is a sensible value). The signature header may list several comma-separated
// signatures (secret rotation); one match suffices.
func Verify(secret string, header http.Header, body []byte, maxSkew time.Duration) error {
	ts := header.Get(HeaderTimestamp)
	sig := header.Get(HeaderSignature)
	if ts == "" || sig == "" {
		return ErrMissingSignature
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp is not Unix seconds", ErrMissingSignature)
	}
	if maxSkew > 0 {
		skew := time.Since(time.Unix(unix, 0))
		if skew < 0 {
			skew = -skew
		}
		if skew > maxSkew {
			return ErrStaleTimestamp
		}
	}
	want := []byte(Sign(secret, ts, body))
	for _, part := range strings.Split(sig, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(part)), want) {
			return nil
		}
	}
	return ErrBadSignature
}
