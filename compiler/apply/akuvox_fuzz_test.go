package apply

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// deviceAnswers is what a fuzzed device answers: the status and body of
// /api/system/info, of /api/config/get, and of /api/config/set.
type deviceAnswers struct {
	infoStatus, getStatus, setStatus int
	info, get, set                   string
}

// FuzzPushAkuvox pushes a door station's file to a device whose every
// answer is fuzzed — the read-back of its configuration above all, which
// comes from the network. Whatever it answers, the push ends with one of
// the five verdicts, says "set and verified" or "already set" only when the
// configuration read back had every setting, and never puts a setting's
// value in its detail (it names keys only) unless the device itself wrote
// that text.
func FuzzPushAkuvox(f *testing.F) {
	const secret = "k8Jq2-sip-secret"
	file := []byte("Config.Account1.GENERAL.UserName = device.front-gate\nConfig.Account1.GENERAL.Pwd = " + secret + "\nConfig.Account1.SIP.Server = 192.0.2.5\n")
	full := `{"retcode":0,"message":"OK","data":{"Config.Account1.GENERAL.UserName":"device.front-gate","Config.Account1.GENERAL.Pwd":"********","Config.Account1.SIP.Server":"192.0.2.5"}}`
	info := `{"retcode":0,"message":"OK","data":{"Status":{"Model":"R29C","FirmwareVersion":"29.30.1.1"}}}`
	ok := `{"retcode":0,"message":"OK","data":{}}`
	f.Add(200, info, 200, full, 200, ok)
	f.Add(200, info, 200, `{"retcode":0,"data":{"Config.Account1.GENERAL.UserName":"x","Config.Account1.SIP.Server":5060,"Other":null,"List":[1,"a"]}}`, 200, ok)
	f.Add(200, info, 200, `{"retcode":0,"data":{"Config.Account1.GENERAL.UserName":"device.front-gate"}}`, 200, `{"retcode":-1,"message":"unsupported key"}`)
	f.Add(200, `{"retcode":0,"data":"not an object"}`, 200, `{"retcode":0,"data":[]}`, 200, ok)
	f.Add(200, `No handlers`, 404, ``, 403, ``)
	f.Add(401, ``, 200, `{"retcode":0,"data":{"a":{"b":1}}}`, 500, `{`)
	f.Add(200, info, 200, `{"retcode":0,"data":{"Config.Account1.GENERAL.UserName":"device.front-gate","Config.Account1.GENERAL.Pwd":"`+secret+`"}}`, 200, `{"retcode":1,"message":"`+secret+`"}`)

	var cur atomic.Pointer[deviceAnswers]
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := cur.Load()
		status, body := 404, ""
		switch r.URL.Path {
		case "/api/system/info":
			status, body = a.infoStatus, a.info
		case "/api/config/get":
			gets.Add(1)
			status, body = a.getStatus, a.get
		case "/api/config/set":
			status, body = a.setStatus, a.set
		}
		if status < 100 || status > 599 {
			status = 200
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	f.Cleanup(srv.Close)
	target := Target{URL: srv.URL, User: "admin", Password: "device-admin-pw"}

	f.Fuzz(func(t *testing.T, infoStatus int, info string, getStatus int, get string, setStatus int, set string) {
		if infoStatus == 401 || getStatus == 401 || setStatus == 401 {
			return // the digest client would answer a challenge that is not there
		}
		cur.Store(&deviceAnswers{infoStatus, getStatus, setStatus, info, get, set})
		gets.Store(0)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p := pushAkuvox(ctx, target, file, 5*time.Second)
		if !slices.Contains([]Verdict{AlreadySet, SetVerified, DidNotStick, Unsupported, Unreachable}, p.Verdict) {
			t.Fatalf("verdict %q", p.Verdict)
		}
		if p.Verdict.Succeeded() && (!strings.Contains(get, "Config.Account1.GENERAL.UserName") || gets.Load() == 0) {
			t.Fatalf("%q without a configuration read back that has the settings: %+v", p.Verdict, p)
		}
		device := info + get + set
		for _, v := range []string{secret, "device.front-gate", "192.0.2.5", target.Password} {
			if strings.Contains(p.Detail, v) && !strings.Contains(device, v) {
				t.Fatalf("detail %q holds the value %q", p.Detail, v)
			}
		}
	})
}
