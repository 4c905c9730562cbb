package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealResolveRoundTrip(t *testing.T) {
	s, err := NewSealer("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("p@ss'word")
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(sealed) || strings.Contains(sealed, "p@ss") {
		t.Fatalf("sealed value %q is not opaque", sealed)
	}
	again, _ := s.Seal("p@ss'word")
	if again == sealed {
		t.Fatal("two seals of the same value must differ (random nonce)")
	}
	got, err := s.Resolve(sealed)
	if err != nil || got != "p@ss'word" {
		t.Fatalf("Resolve = %q, %v", got, err)
	}
}

func TestWrongKeyAndTamper(t *testing.T) {
	a, _ := NewSealer("key-number-one-123")
	b, _ := NewSealer("key-number-two-456")
	sealed, _ := a.Seal("secret-value")
	if _, err := b.Resolve(sealed); err == nil || strings.Contains(err.Error(), "secret-value") {
		t.Fatalf("resolving with another key: err = %v", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := a.Resolve(tampered); err == nil {
		t.Fatal("a tampered value must not decrypt")
	}
}

func TestNoKey(t *testing.T) {
	s, err := NewSealer("")
	if err != nil || s != nil {
		t.Fatalf("empty key: %v, %v", s, err)
	}
	if _, err := s.Seal("x"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Seal without key: %v", err)
	}
	if _, err := s.Resolve("enc:v1:AAAA"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Resolve sealed without key: %v", err)
	}
	if _, err := NewSealer("short"); err == nil {
		t.Fatal("a short key must be refused")
	}
}

func TestReferences(t *testing.T) {
	t.Setenv("DINMO_TEST_SECRET", "from-env")
	dir := t.TempDir()
	p := filepath.Join(dir, "pw")
	if err := os.WriteFile(p, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var s *Sealer // references need no key
	for in, want := range map[string]string{"env:DINMO_TEST_SECRET": "from-env", "file:" + p: "from-file"} {
		got, err := s.Resolve(in)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := s.Resolve("env:DINMO_TEST_UNSET_VAR"); err == nil || !strings.Contains(err.Error(), "DINMO_TEST_UNSET_VAR") {
		t.Errorf("unset env var: %v", err)
	}
	if _, err := s.Resolve("plain-text-password"); err == nil || strings.Contains(err.Error(), "plain-text-password") {
		t.Errorf("plain text must be refused without echoing it: %v", err)
	}
	for _, bad := range []string{"", "env:", "file:", "vault:x", "password"} {
		if ValidateReference(bad) == nil {
			t.Errorf("ValidateReference(%q) accepted", bad)
		}
	}
	all, err := s.ResolveAll(map[string]string{"a": "env:DINMO_TEST_SECRET"})
	if err != nil || all["a"] != "from-env" {
		t.Fatalf("ResolveAll = %v, %v", all, err)
	}
}
