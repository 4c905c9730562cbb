package provider

import (
	"testing"
	"time"
)

func TestParseEvery(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"15m", 15 * time.Minute, false},
		{"1h", time.Hour, false},
		{"1h30m", 90 * time.Minute, false},
		{"1d", 24 * time.Hour, false},
		{"2d12h", 60 * time.Hour, false},
		{"90s", 90 * time.Second, false},
		{"", 0, true},
		{"1w", 0, true},
		{"d", 0, true},
		{"1d-1h", 0, true},
		{"-5m", 0, true},
		{"15", 0, true},
		{"99999999999d", 0, true},
	}
	for _, tt := range tests {
		got, err := parseEvery(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseEvery(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("parseEvery(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestFormatEvery(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{15 * time.Minute, "15m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "90m"},
		{48 * time.Hour, "2d"},
		{36 * time.Hour, "36h"},
		{90 * time.Second, "1m30s"},
	}
	for _, tt := range tests {
		got := formatEvery(tt.in)
		if got != tt.want {
			t.Errorf("formatEvery(%v) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := parseEvery(got)
		if err != nil || back != tt.in {
			t.Errorf("parseEvery(formatEvery(%v)) = %v, %v; want the same duration", tt.in, back, err)
		}
	}
}
