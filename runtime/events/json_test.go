package events

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
)

// filled is e with every string field set to s (by reflection, so a
// field added to Event later is filled too) and the others set.
func filled(s string, status int, at time.Time, o ir.Origin) Event {
	e := Event{Time: at, Status: status, Origin: o}
	v := reflect.ValueOf(&e).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String {
			f.SetString(s)
		}
	}
	return e
}

func checkAsMarshal(t *testing.T, e Event) {
	t.Helper()
	want, werr := json.Marshal(e)
	got, gerr := e.AppendJSON(nil)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("errors: json.Marshal %v, AppendJSON %v", werr, gerr)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("AppendJSON(%#v) (-json.Marshal +got):\n%s", e, diff)
	}
}

// AppendJSON writes what json.Marshal writes: every field, empty and set,
// strings that need escaping, times with and without a zone.
func TestAppendJSONAsMarshal(t *testing.T) {
	at := time.Date(2026, 12, 6, 4, 5, 6, 789_000_000, time.UTC)
	origin := ir.Origin{File: "site.pbx.hcl", Line: 12, Column: 3, Byte: 200, EndLine: 14, EndColumn: 1, EndByte: 260, Object: `user "mary"`}
	tests := []Event{
		{},
		{Time: at, Kind: CallStarted},
		filled("x", 0, at, ir.Origin{}),
		filled("mary@bench.example", 487, at.In(time.FixedZone("", 3600)), origin),
		filled("<&>\"\\\b\f\n\r\t\x00\x1f\x7f é \u2028\u2029 \xff\xfe", -1, at, ir.Origin{Object: "<x>"}),
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, // an error either way
	}
	for _, e := range tests {
		checkAsMarshal(t, e)
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("door", "mary", 200, int64(1_800_000_000_123), "site.pbx.hcl", 3)
	f.Add("<\u2028\xff>", "", 0, int64(0), "", 0)
	f.Fuzz(func(t *testing.T, a, b string, status int, nanos int64, file string, line int) {
		e := filled(a, status, time.Unix(0, nanos).UTC(), ir.Origin{File: file, Line: line, Object: b})
		e.Kind, e.Cause = Kind(b), b
		checkAsMarshal(t, e)
	})
}
