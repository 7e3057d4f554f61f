package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/simulate/emulator"
)

// provServer serves files by name, as the provisioning server does.
func provServer(t *testing.T, files map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, data)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestYealinkFetchesAndReportsAccounts(t *testing.T) {
	t.Parallel()
	prov := provServer(t, map[string]string{
		"805ec0000001.boot":  "#!version:1.0.0.1\ninclude:config \"y000000000096.cfg\"\ninclude:config \"805ec0000001.cfg\"\n",
		"y000000000096.cfg":  "#!version:1.0.0.1\nlocal_time.ntp_server1 = pool.ntp.org\naccount.1.label = common\n",
		"805ec0000001.cfg":   "#!version:1.0.0.1\naccount.1.label = Mary Byrne\naccount.1.display_name = Mary Byrne\n",
		"unrelated-file.cfg": "",
	})
	d, err := emulator.Start(emulator.WithVendor(emulator.Yealink), emulator.WithCredentials("admin", "pw"),
		emulator.WithMAC("805EC0000001"), emulator.WithProvisioning(prov.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.CheckSync(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := client("admin", "pw").Get(d.URL() + "/servlet?phonecfg=get&accounts=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	// Later files override earlier ones; only account settings are shown.
	if d := cmp.Diff("account.1.display_name = Mary Byrne\naccount.1.label = Mary Byrne\n", string(body)); d != "" {
		t.Errorf("read-back (-want +got):\n%s", d)
	}
	if d.Keys()["local_time.ntp_server1"] != "pool.ntp.org" {
		t.Error("the common file was not applied")
	}

	// A phone whose provisioning is locked fetches and keeps nothing.
	d.SetKey("account.1.label", "Old")
	d.SetMode(emulator.DropWrites)
	if err := d.CheckSync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := d.Keys()["account.1.label"]; got != "Old" {
		t.Errorf("drop-writes kept %q", got)
	}
}

func TestGrandstreamLoginAndValues(t *testing.T) {
	t.Parallel()
	prov := provServer(t, map[string]string{
		"cfgc074ad000001.xml": `<?xml version="1.0"?><gs_provision version="1"><config version="1"><P3>Aoife Kelly</P3><P34>secret</P34></config></gs_provision>`,
	})
	d, err := emulator.Start(emulator.WithVendor(emulator.Grandstream), emulator.WithCredentials("admin", "pw"),
		emulator.WithMAC("c074ad000001"), emulator.WithProvisioning(prov.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.CheckSync(context.Background()); err != nil {
		t.Fatal(err)
	}
	post := func(path string, form url.Values) (string, json.RawMessage) {
		res, err := http.PostForm(d.URL()+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var env struct {
			Response string          `json:"response"`
			Body     json.RawMessage `json:"body"`
		}
		if err := json.NewDecoder(res.Body).Decode(&env); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return env.Response, env.Body
	}
	if r, _ := post("/cgi-bin/dologin", url.Values{"username": {"admin"}, "password": {"wrong"}}); r != "error" {
		t.Errorf("wrong password: %s", r)
	}
	if r, _ := post("/cgi-bin/api.values.get", url.Values{"request": {"P3"}, "sid": {"made-up"}}); r != "error" {
		t.Errorf("made-up sid: %s", r)
	}
	_, body := post("/cgi-bin/dologin", url.Values{"username": {"admin"}, "password": {"pw"}})
	var sess struct{ SID string }
	json.Unmarshal(body, &sess)
	r, body := post("/cgi-bin/api.values.get", url.Values{"request": {"P3:P34"}, "sid": {sess.SID}})
	var values map[string]string
	json.Unmarshal(body, &values)
	// The password reads back empty, as on the phone.
	if d := cmp.Diff(map[string]string{"P3": "Aoife Kelly", "P34": ""}, values); d != "" || r != "success" {
		t.Errorf("%s (-want +got):\n%s", r, d)
	}
}

func TestContacts(t *testing.T) {
	t.Parallel()
	d, err := emulator.Start(emulator.WithCredentials("admin", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := client("admin", "pw")
	var items []map[string]string
	for i := range 12 {
		items = append(items, map[string]string{"Name": "P" + string(rune('a'+i)), "Phone": "1" + string(rune('0'+i%10))})
	}
	add := map[string]any{"target": "contact", "action": "add", "data": map[string]any{"item": items}}
	if code, r := call(t, c, "POST", d.URL()+"/api/contact/set", add); code != 200 || r.Retcode != 0 {
		t.Fatalf("add: %d %+v", code, r)
	}
	page := func(n string) (int, []emulator.Contact) {
		_, r := call(t, c, "GET", d.URL()+"/api/contact/get?page="+n, nil)
		var list struct {
			Num  int                `json:"num"`
			Item []emulator.Contact `json:"item"`
		}
		json.Unmarshal(r.Raw, &list)
		return list.Num, list.Item
	}
	if num, p1 := page("1"); num != 12 || len(p1) != 10 {
		t.Errorf("page 1: num %d, %d items", num, len(p1))
	}
	_, p2 := page("2")
	if len(p2) != 2 {
		t.Fatalf("page 2: %d items", len(p2))
	}
	del := map[string]any{"target": "contact", "action": "del", "data": map[string]any{"item": []map[string]string{{"ID": p2[0].ID}}}}
	call(t, c, "POST", d.URL()+"/api/contact/set", del)
	if got := len(d.Contacts()); got != 11 {
		t.Errorf("%d contacts after a delete", got)
	}
}
