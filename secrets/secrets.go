// Package secrets keeps credentials out of the catalog in plain text. A credential is stored
// either sealed with the operator's key (AES-256-GCM, "enc:v1:<base64>") or as a reference the
// runner resolves at use ("env:NAME", "file:PATH"). There is no plain-text fallback: sealing
// without a key is an error that says how to provide one.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// EnvKey is the environment variable holding the operator's key, read by provider and runner.
const EnvKey = "DINMO_SECRET_KEY"

const sealedPrefix = "enc:v1:"

// ErrNoKey is returned when a sealed value must be produced or read and no key is configured.
var ErrNoKey = errors.New("no encryption key configured: set the provider's encryption_key (or the " +
	EnvKey + " environment variable) to a passphrase of at least 16 characters, the same for provider and runner; " +
	"or give the credential as a reference (env:NAME or file:PATH) instead")

// Sealer encrypts and decrypts credentials with one key.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives a 256-bit key from the operator's key material (a passphrase of at least
// 16 characters, or 32 random bytes in base64) with HKDF-SHA256. An empty key returns
// (nil, nil): the caller may still use references, and Seal/Open on a nil Sealer fail with
// ErrNoKey.
func NewSealer(key string) (*Sealer, error) {
	if key == "" {
		return nil, nil
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("secrets: the encryption key must be at least 16 characters long")
	}
	k, err := hkdf.Key(sha256.New, []byte(key), []byte("dinmo-catalog-v1"), "dinmo secrets", 32)
	if err != nil {
		return nil, fmt.Errorf("secrets: deriving key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts a plain-text credential.
func (s *Sealer) Seal(plain string) (string, error) {
	if s == nil {
		return "", ErrNoKey
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secrets: nonce: %w", err)
	}
	out := s.aead.Seal(nonce, nonce, []byte(plain), []byte(sealedPrefix))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// IsSealed reports whether v is a sealed value.
func IsSealed(v string) bool { return strings.HasPrefix(v, sealedPrefix) }

// ValidateReference checks that v is a well-formed reference (env:NAME or file:PATH).
func ValidateReference(v string) error {
	switch {
	case strings.HasPrefix(v, "env:") && len(v) > len("env:"):
		return nil
	case strings.HasPrefix(v, "file:") && len(v) > len("file:"):
		return nil
	}
	return fmt.Errorf("a credential reference must look like env:NAME or file:/path/to/file")
}

// Resolve returns the plain text of a stored credential: it opens sealed values and reads
// references. Errors never contain the secret.
func (s *Sealer) Resolve(stored string) (string, error) {
	switch {
	case IsSealed(stored):
		if s == nil {
			return "", ErrNoKey
		}
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(stored, sealedPrefix))
		if err != nil || len(raw) < s.aead.NonceSize() {
			return "", errors.New("secrets: sealed value is malformed")
		}
		n := s.aead.NonceSize()
		plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(sealedPrefix))
		if err != nil {
			return "", errors.New("secrets: cannot decrypt a stored credential: the encryption key differs from the one that sealed it")
		}
		return string(plain), nil
	case strings.HasPrefix(stored, "env:"):
		name := strings.TrimPrefix(stored, "env:")
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("secrets: environment variable %s (referenced as env:%s) is not set", name, name)
		}
		return v, nil
	case strings.HasPrefix(stored, "file:"):
		p := strings.TrimPrefix(stored, "file:")
		b, err := os.ReadFile(p) //nolint:gosec // the path is an operator-declared credential reference
		if err != nil {
			return "", fmt.Errorf("secrets: reading credential file %s: %w", p, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", errors.New("secrets: stored credential is neither sealed nor a reference (refusing plain text)")
}

// ResolveAll resolves every value of a credentials map.
func (s *Sealer) ResolveAll(stored map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(stored))
	for k, v := range stored {
		p, err := s.Resolve(v)
		if err != nil {
			return nil, fmt.Errorf("credential %q: %w", k, err)
		}
		out[k] = p
	}
	return out, nil
}
