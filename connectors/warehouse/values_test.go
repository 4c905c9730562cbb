package warehouse_test

import (
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"

	"dinmo/connectors/warehouse"
)

type stringer struct{}

func (stringer) String() string { return "stringer" }

func TestNormalizeValue(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	huge, _ := new(big.Int).SetString("170141183460469231731687303715884105727", 10)
	str := "x"
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"string", "a", "a"},
		{"bool", true, true},
		{"int8", int8(-3), int64(-3)},
		{"int32", int32(7), int64(7)},
		{"uint8", uint8(255), int64(255)},
		{"uint64 small", uint64(42), int64(42)},
		{"uint64 large", uint64(math.MaxUint64), "18446744073709551615"},
		{"float32", float32(0.1), 0.1},
		{"float64", 1.5, 1.5},
		{"NaN", math.NaN(), "NaN"},
		{"+Inf", math.Inf(1), "Infinity"},
		{"-Inf", float32(math.Inf(-1)), "-Infinity"},
		{"bytes utf8", []byte("héllo"), "héllo"},
		{"bytes binary", []byte{0xff, 0x00}, "/wA="},
		{"time", ts, ts},
		{"big small", big.NewInt(-12), int64(-12)},
		{"big huge", huge, "170141183460469231731687303715884105727"},
		{"list", []any{int32(1), "a", nil}, []any{int64(1), "a", nil}},
		{"typed list", []int16{1, 2}, []any{int64(1), int64(2)}},
		{"struct", map[string]any{"a": uint16(1), "b": []any{float32(0.5)}}, map[string]any{"a": int64(1), "b": []any{0.5}}},
		{"map any", map[any]any{int32(1): "x", "k": true}, map[string]any{"1": "x", "k": true}},
		{"json number", json.Number("12"), int64(12)},
		{"json raw", json.RawMessage(`{"a":[1,"b"]}`), map[string]any{"a": []any{1.0, "b"}}},
		{"stringer", stringer{}, "stringer"},
		{"pointer", &str, "x"},
		{"nil pointer", (*string)(nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := warehouse.NormalizeValue(tt.in)
			if f, ok := tt.want.(float64); ok && math.IsNaN(f) {
				t.Fatal("bad test")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NormalizeValue(%#v) = %#v (%T), want %#v (%T)", tt.in, got, got, tt.want, tt.want)
			}
			if _, err := json.Marshal(got); err != nil {
				t.Errorf("result is not JSON-encodable: %v", err)
			}
		})
	}
}

func TestNormalizeTypedValue(t *testing.T) {
	date := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	tod := time.Date(1, 1, 1, 13, 4, 5, 500000000, time.UTC)
	uuidBytes := []byte{0xfe, 0x2b, 0xcf, 0xa8, 0x2c, 0x82, 0x44, 0xda, 0xb5, 0x2c, 0xd7, 0x76, 0x59, 0x7f, 0x27, 0x46}
	tests := []struct {
		typ  string
		in   any
		want any
	}{
		{"DATE", date, "2024-01-02"},
		{"date", date, "2024-01-02"},
		{"TIME", tod, "13:04:05.5"},
		{"TIMETZ", time.Date(1, 1, 1, 13, 4, 5, 0, time.FixedZone("", 3600)), "13:04:05+01:00"},
		{"UUID", uuidBytes, "fe2bcfa8-2c82-44da-b52c-d776597f2746"},
		{"UUID", "fe2bcfa8-2c82-44da-b52c-d776597f2746", "fe2bcfa8-2c82-44da-b52c-d776597f2746"},
		{"JSONB", []byte(`{"a": 1}`), map[string]any{"a": 1.0}},
		{"JSON", `[true]`, []any{true}},
		{"JSON", `not json`, "not json"},
		{"TIMESTAMPTZ", date, date},
		{"INT4", int32(5), int64(5)},
		{"DATE", nil, nil},
		{"NUMERIC", "12.50", json.Number("12.50")},
		{"NUMERIC", "-0.005", json.Number("-0.005")},
		{"NUMERIC", "1e-7", json.Number("1e-7")},
		{"NUMERIC", "NaN", "NaN"},
		{"NUMERIC", "Infinity", "Infinity"},
		{"NUMERIC", "-Infinity", "-Infinity"},
		{"NUMERIC", "", ""},
	}
	for _, tt := range tests {
		got := warehouse.NormalizeTypedValue(tt.typ, tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("NormalizeTypedValue(%s, %#v) = %#v, want %#v", tt.typ, tt.in, got, tt.want)
		}
	}
}

func TestFormatDecimal(t *testing.T) {
	tests := []struct {
		v     int64
		scale int
		want  string
	}{
		{1250, 2, "12.50"},
		{-5, 3, "-0.005"},
		{0, 2, "0.00"},
		{7, 0, "7"},
		{-123456, 2, "-1234.56"},
		{5, -2, "500"},
	}
	for _, tt := range tests {
		if got := warehouse.FormatDecimal(big.NewInt(tt.v), tt.scale); got != tt.want {
			t.Errorf("FormatDecimal(%d, %d) = %q, want %q", tt.v, tt.scale, got, tt.want)
		}
	}
}

func TestFormatInterval(t *testing.T) {
	const s = int64(time.Second / time.Microsecond)
	tests := []struct {
		months, days, micros int64
		want                 string
	}{
		{0, 0, 0, "PT0S"},
		{14, 3, 3600 * s, "P1Y2M3DT1H"},
		{0, 1, 0, "P1D"},
		{0, 0, 90*s + s/2, "PT1M30.5S"},
		{-1, 0, -(3661*s + s/2), "P-1MT-1H-1M-1.5S"},
		{0, 0, 1, "PT0.000001S"},
	}
	for _, tt := range tests {
		if got := warehouse.FormatInterval(tt.months, tt.days, tt.micros); got != tt.want {
			t.Errorf("FormatInterval(%d, %d, %d) = %q, want %q", tt.months, tt.days, tt.micros, got, tt.want)
		}
	}
}
