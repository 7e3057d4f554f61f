package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
)

// Contact is one entry of an Akuvox device's contact list, as its contact
// API shows it.
type Contact struct {
	ID    string `json:"ID"`
	Name  string `json:"Name"`
	Phone string `json:"Phone"`
	Group string `json:"Group"`
}

// contactPage is how many contacts /api/contact/get returns a page, as
// the devices page their lists.
const contactPage = 10

// Contacts returns a copy of the contact list, in the order it was added.
func (d *Device) Contacts() []Contact {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.contacts)
}

// AddContact adds an entry the way someone at the monitor would: behind
// switchboard's back.
func (d *Device) AddContact(name, phone string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextContact++
	d.contacts = append(d.contacts, Contact{ID: strconv.Itoa(d.nextContact), Name: name, Phone: phone, Group: "Default"})
}

// contactGet answers GET /api/contact/get?page=N (1-based; page 1 when
// absent) with {"num": total, "item": [...]}.
func (d *Device) contactGet(w http.ResponseWriter, r *http.Request) {
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	d.mu.Lock()
	all := slices.Clone(d.contacts)
	d.mu.Unlock()
	from := min((page-1)*contactPage, len(all))
	to := min(from+contactPage, len(all))
	reply(w, envelope{Action: "get", Message: "OK", Data: map[string]any{"num": len(all), "item": all[from:to]}})
}

// contactSet answers POST /api/contact/set with
// {"target":"contact","action":"add"|"del","data":{"item":[...]}}: add
// appends the items (new IDs), del removes the items named by ID. In
// DropWrites mode it acknowledges and keeps nothing.
func (d *Device) contactSet(w http.ResponseWriter, r *http.Request, mode Mode) {
	var req request
	var data struct {
		Item []Contact `json:"item"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.Target != "contact" || json.Unmarshal(req.Data, &data) != nil {
		reply(w, envelope{Retcode: -100, Action: req.Action, Message: "unsupport action"})
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch req.Action {
	case "add":
		d.stats.Sets++
		if mode != Normal {
			break
		}
		for _, c := range data.Item {
			d.nextContact++
			c.ID = strconv.Itoa(d.nextContact)
			if c.Group == "" {
				c.Group = "Default"
			}
			d.contacts = append(d.contacts, c)
		}
	case "del":
		d.stats.Sets++
		if mode != Normal {
			break
		}
		for _, c := range data.Item {
			d.contacts = slices.DeleteFunc(d.contacts, func(x Contact) bool { return x.ID == c.ID })
		}
	default:
		reply(w, envelope{Retcode: -100, Action: req.Action, Message: "unsupport action"})
		return
	}
	reply(w, envelope{Action: req.Action, Message: "OK"})
}
