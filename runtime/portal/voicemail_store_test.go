package portal

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"switchboard/runtime/store/storetest"
	"switchboard/runtime/voicemail"
)

// The voicemail pages work the same on boxes kept in serve's store: the
// message left as a file is imported, played, marked heard and deleted;
// a greeting is uploaded and played; the PIN changed is stored hashed.
func TestVoicemailPagesKeptInStore(t *testing.T) {
	ctx := context.Background()
	st, site := storetest.Shared(t), storetest.Site(t)
	objs, err := st.Objects(ctx, "voicemail", site)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.KV(ctx, "mailboxes", site)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *voicemail.Config) { c.Store = voicemail.Store{Objects: objs, Keys: kv} })
	objects := func() []string {
		t.Helper()
		names, err := objs.Names(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(names)
		return names
	}
	if got := objects(); !slices.Equal(got, []string{"john/msg-000001.wav", "mary/msg-000001.wav"}) {
		t.Fatalf("objects after the import: %v", got)
	}
	c := e.client()
	c.login("mary")
	if a := c.get("/portal/u/mary/voicemail/1.wav"); a.status != http.StatusOK || !strings.HasPrefix(a.body, "RIFF") {
		t.Fatalf("audio: %d", a.status)
	}
	tok := c.csrf("/portal/u/mary/voicemail")
	if a := c.post("/portal/u/mary/voicemail/1/heard", url.Values{"csrf": {tok}}); a.status != http.StatusSeeOther {
		t.Fatalf("mark heard: %d", a.status)
	}
	if msgs, _ := e.vm.Messages("mary"); len(msgs) != 1 || msgs[0].Folder != voicemail.FolderSaved {
		t.Errorf("after mark heard: %+v", msgs)
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", tok)
	fw, _ := mw.CreateFormFile("greeting", "greeting.wav")
	fw.Write(pcmWAV(t, tone(3*8000)))
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/portal/u/mary/greeting", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if a := c.do(req); a.status != http.StatusOK {
		t.Errorf("greeting upload: %d", a.status)
	}
	if a := c.get("/portal/u/mary/greeting.wav"); a.status != http.StatusOK || !strings.HasPrefix(a.body, "RIFF") {
		t.Errorf("greeting audio: %d", a.status)
	}

	if a := c.post("/portal/u/mary/pin", url.Values{"csrf": {c.csrf("/portal/u/mary/settings")}, "pin": {"4711"}, "pin_again": {"4711"}}); a.status != http.StatusOK {
		t.Errorf("PIN: %d", a.status)
	}
	pin, ok, err := kv.Get(ctx, "mary/pin.json")
	if err != nil || !ok || !bytes.Contains(pin, []byte("pbkdf2")) || bytes.Contains(pin, []byte("4711")) {
		t.Errorf("the PIN kept: %v, %v, %s", ok, err, pin)
	}

	if a := c.post("/portal/u/mary/voicemail/1/delete", url.Values{"csrf": {tok}}); a.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", a.status)
	}
	if msgs, _ := e.vm.Messages("mary"); len(msgs) != 0 {
		t.Errorf("after delete: %+v", msgs)
	}
	if got := objects(); !slices.Equal(got, []string{"john/msg-000001.wav", "mary/greeting.wav"}) {
		t.Errorf("objects after the delete and the greeting: %v", got)
	}
}
