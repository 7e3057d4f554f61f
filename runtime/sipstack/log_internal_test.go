package sipstack

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSipgoHandler logs what sipgo's layers log — a caller stacked at
// each layer, an attribute named "msg" — and reads the JSON line back:
// one "msg" (the record's), the innermost caller, the SIP message kept as
// sip_msg.
func TestSipgoHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newSipgoHandler(slog.NewJSONHandler(&buf, nil)))
	log.With("caller", "TransportLayer").With("caller", "Transport<UDP>").
		Info("Unhandled sip response", "caller", "transactionLayer", "msg", "response status=200")
	raw := buf.String()
	// A key given twice decodes without error, the last winning: count
	// them in the line itself.
	for _, key := range []string{`"msg":`, `"caller":`} {
		if n := strings.Count(raw, key); n != 1 {
			t.Errorf("%s appears %d times in %s", key, n, raw)
		}
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	delete(got, "time")
	want := map[string]any{"level": "INFO", "msg": "Unhandled sip response", "caller": "transactionLayer", "sip_msg": "response status=200"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}
