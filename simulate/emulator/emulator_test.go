package emulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/icholy/digest"

	"switchboard/simulate/emulator"
)

type reply struct {
	Retcode int               `json:"retcode"`
	Message string            `json:"message"`
	Raw     json.RawMessage   `json:"data"`
	Data    map[string]string `json:"-"`
}

func client(user, pass string) *http.Client {
	return &http.Client{Transport: &digest.Transport{Username: user, Password: pass, Transport: &http.Transport{}}}
}

func call(t *testing.T, c *http.Client, method, url string, body any) (int, reply) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out reply
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, data)
		}
		json.Unmarshal(out.Raw, &out.Data) // config answers only
	}
	return res.StatusCode, out
}

func set(kv map[string]string) map[string]any {
	return map[string]any{"target": "config", "action": "set", "data": kv}
}

func TestModes(t *testing.T) {
	t.Parallel()
	d, err := emulator.Start(emulator.WithCredentials("admin", "pw-1"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := client("admin", "pw-1")
	key := "Config.Account1.GENERAL.UserName"

	// Normal: stored and read back.
	if code, r := call(t, c, "POST", d.URL()+"/api/config/set", set(map[string]string{key: "gate"})); code != 200 || r.Retcode != 0 {
		t.Fatalf("set: %d %+v", code, r)
	}
	_, r := call(t, c, "GET", d.URL()+"/api/config/get", nil)
	if r.Data[key] != "gate" {
		t.Errorf("read back %q", r.Data[key])
	}
	_, r = call(t, c, "POST", d.URL()+"/api/config/get", map[string]any{"target": "config", "action": "get", "data": map[string]any{"item": []string{key}}})
	if d := cmp.Diff(map[string]string{key: "gate"}, r.Data); d != "" {
		t.Errorf("item get (-want +got):\n%s", d)
	}
	// A bare dict is refused, as on the device.
	if _, r := call(t, c, "POST", d.URL()+"/api/config/set", map[string]string{key: "x"}); r.Retcode == 0 {
		t.Error("bare dict accepted")
	}

	// DropWrites: acknowledged, not kept.
	d.SetMode(emulator.DropWrites)
	if _, r := call(t, c, "POST", d.URL()+"/api/config/set", set(map[string]string{key: "other"})); r.Retcode != 0 {
		t.Errorf("dropped set answered %+v", r)
	}
	if got := d.Keys()[key]; got != "gate" {
		t.Errorf("drop-writes stored %q", got)
	}

	// UnsupportedFirmware: other key names, sets refused.
	d.SetMode(emulator.UnsupportedFirmware)
	_, r = call(t, c, "GET", d.URL()+"/api/config/get", nil)
	if _, ok := r.Data[key]; ok {
		t.Error("unsupported firmware shows the current key names")
	}
	if _, r := call(t, c, "POST", d.URL()+"/api/config/set", set(map[string]string{key: "x"})); !strings.Contains(r.Message, "unsupport") {
		t.Errorf("unsupported set answered %+v", r)
	}

	// Unreachable: the connection closes unanswered.
	d.SetMode(emulator.Unreachable)
	if _, err := c.Get(d.URL() + "/api/system/info"); err == nil {
		t.Error("unreachable device answered")
	}
	d.SetMode(emulator.Normal)
	if code, _ := call(t, c, "GET", d.URL()+"/api/system/info", nil); code != 200 {
		t.Errorf("back to normal: %d", code)
	}
}

func TestDigestAuth(t *testing.T) {
	t.Parallel()
	d, err := emulator.Start(emulator.WithCredentials("admin", "right"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	res, err := http.Get(d.URL() + "/api/system/info")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Digest ") {
		t.Errorf("no credentials: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	if code, _ := call(t, client("admin", "wrong"), "GET", d.URL()+"/api/system/info", nil); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	if d.Stats().AuthFailures == 0 {
		t.Error("auth failure not counted")
	}
	// Many requests reuse one challenge with a rising nonce count.
	c := client("admin", "right")
	for range 5 {
		if code, _ := call(t, c, "GET", d.URL()+"/api/config/get", nil); code != 200 {
			t.Fatalf("right password: %d", code)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []emulator.Mode{emulator.Normal, emulator.DropWrites, emulator.Unreachable, emulator.UnsupportedFirmware} {
		got, err := emulator.ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := emulator.ParseMode("sleepy"); err == nil {
		t.Error("unknown mode accepted")
	}
}
