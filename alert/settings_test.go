package alert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSettingsJSON(t *testing.T) {
	const stored = `{"slack":{"webhook_url":"env:SLACK_WEBHOOK"},` +
		`"email":{"host":"smtp.example.com","port":587,"username":"alerts","password":"enc:v1:abc","from":"dinmo <alerts@example.com>","to":["data@example.com"],"tls":"starttls"},` +
		`"repeat":"6h"}`
	var s Settings
	if err := json.Unmarshal([]byte(stored), &s); err != nil {
		t.Fatal(err)
	}
	want := Settings{
		Slack: &SlackSettings{WebhookURL: "env:SLACK_WEBHOOK"},
		Email: &EmailSettings{Host: "smtp.example.com", Port: 587, Username: "alerts", Password: "enc:v1:abc",
			From: "dinmo <alerts@example.com>", To: []string{"data@example.com"}, TLS: TLSStartTLS},
		Repeat: "6h",
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("decoded %+v", s)
	}
	b, err := json.Marshal(s)
	var back Settings
	if err != nil || json.Unmarshal(b, &back) != nil || !reflect.DeepEqual(back, s) {
		t.Errorf("round trip %s, %v", b, err)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if d, err := s.RepeatInterval(); err != nil || d != 6*time.Hour {
		t.Errorf("RepeatInterval %v %v", d, err)
	}
	if !s.Enabled() || (Settings{}).Enabled() {
		t.Error("Enabled")
	}
	if b, _ := json.Marshal(Settings{}); string(b) != "{}" {
		t.Errorf("empty settings encode as %s", b)
	}
}

func TestSettingsValidate(t *testing.T) {
	s := Settings{
		Slack:  &SlackSettings{},
		Email:  &EmailSettings{Host: "smtp.example.com:25", To: []string{"ok@example.com", "nope"}, From: "a@example.com", Password: "env:PW", TLS: "ssl"},
		Repeat: "5s",
	}
	want := `alerts.repeat: "5s" is not a duration of at least 1m: use a value such as "24h" or "6h", or "never"` + "\n" +
		"alerts.slack.webhook_url: missing: set the incoming webhook URL (https://hooks.slack.com/services/...)\n" +
		`alerts.email.host: "smtp.example.com:25" is not a host name: give the name or address only, and the port in port` + "\n" +
		`alerts.email.tls: "ssl" is not a TLS mode: use "starttls" (default), "implicit" or "none"` + "\n" +
		"alerts.email.username: missing: a password is set, so set the username too\n" +
		`alerts.email.to[1]: "nope" is not an email address: mail: missing '@' or angle-addr`
	if err := s.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate:\n%v\nwant\n%s", err, want)
	}
	if d, err := (Settings{Repeat: "never"}).RepeatInterval(); err != nil || d >= 0 {
		t.Errorf("never: %v %v", d, err)
	}
}

func TestSettingsBuild(t *testing.T) {
	slack := newSlackFake(t, answer(200, "ok"))
	smtpSrv := newSMTPFake(t, nil)
	trusted := x509.NewCertPool()
	trusted.AddCert(smtpSrv.tlsCfg.Certificates[0].Leaf)
	vault := map[string]string{"env:SLACK_WEBHOOK": slack.url(), "enc:v1:pw": smtpPassword}
	resolve := func(stored string) (string, error) {
		if v, ok := vault[stored]; ok {
			return v, nil
		}
		return "", errors.New("secret reference not found")
	}
	s := Settings{
		Slack: &SlackSettings{WebhookURL: "env:SLACK_WEBHOOK"},
		Email: &EmailSettings{Host: "127.0.0.1", Port: smtpSrv.port(), Username: smtpUser, Password: "enc:v1:pw", //nolint:gosec // G101: a fake sealed value
			From: "alerts@example.com", To: []string{"data@example.com"}},
	}
	sender, err := s.Build(BuildOptions{Resolve: resolve, TLSConfig: &tls.Config{RootCAs: trusted, MinVersion: tls.VersionTLS12},
		HTTP: testHTTPOptions(), SMTPTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := sender.Send(context.Background(), failedEvent()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if slack.requests() != 1 || len(smtpSrv.only(t).data) == 0 {
		t.Error("not sent to both channels")
	}

	// A missing secret names the field and does not echo the stored value.
	s.Email.Password = "enc:v1:missing"
	_, err = s.Build(BuildOptions{Resolve: resolve})
	if err == nil || err.Error() != "alerts.email.password: secret reference not found" {
		t.Errorf("Build error %v", err)
	}
	if _, err := s.Build(BuildOptions{}); err == nil || !strings.Contains(err.Error(), "alerts.slack.webhook_url: no secret resolver configured") {
		t.Errorf("Build without a resolver: %v", err)
	}
	// A resolved webhook URL that is not https is refused without being echoed.
	vault["env:SLACK_WEBHOOK"] = "http://hooks.example.com/services/" + slackToken
	_, err = Settings{Slack: s.Slack}.Build(BuildOptions{Resolve: resolve})
	if err == nil || strings.Contains(err.Error(), slackToken) || !strings.Contains(err.Error(), "must use https") {
		t.Errorf("Build with an http webhook: %v", err)
	}
	if snd, err := (Settings{}).Build(BuildOptions{}); snd != nil || err != nil {
		t.Errorf("no channels: %v, %v", snd, err)
	}
}
