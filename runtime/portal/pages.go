package portal

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/events"
	"switchboard/runtime/voicemail"
)

func (p *Portal) installerPage(w http.ResponseWriter, r *http.Request, v *visit) {
	p.render(w, r, v, http.StatusOK, pageInstaller, map[string]any{
		"Rights": ir.RightsOf(v.Person.Role), "Users": len(v.Program.Users), "Devices": len(v.Program.Devices),
	})
}

// overview is a person's home: their details as the site files have them
// and what waits for them.
func (p *Portal) overview(w http.ResponseWriter, r *http.Request, v *visit) {
	u := v.User
	data := map[string]any{"User": u, "Role": v.Person.Role}
	if res := v.Program.Residence(u.Residence); res != nil {
		data["Residence"] = res
	}
	if u.NotifyEmail != "" {
		data["NotifyEmail"] = u.NotifyEmail
	}
	var numbers []string
	for _, d := range v.Program.DDIs {
		if d.Target == ir.UserRef(u.Name) {
			numbers = append(numbers, d.Number)
		}
	}
	data["Numbers"] = numbers
	if p.cfg.Voicemail != nil && u.Mailbox != "" {
		if sum, err := p.cfg.Voicemail.Summary(u.Mailbox); err == nil {
			data["Summary"] = sum
		}
	}
	online := 0
	for _, a := range u.Endpoints {
		if p.bindings(a) > 0 {
			online++
		}
	}
	data["Online"], data["Endpoints"] = online, len(u.Endpoints)
	p.render(w, r, v, http.StatusOK, pageOverview, data)
}

func (p *Portal) bindings(account string) int {
	if p.cfg.Bindings == nil {
		return 0
	}
	return len(p.cfg.Bindings(account))
}

// box is v's mailbox, or "" (answered with 404) when there is none.
func (p *Portal) box(w http.ResponseWriter, r *http.Request, v *visit) string {
	if p.cfg.Voicemail == nil || v.User.Mailbox == "" || v.Program.Mailbox(v.User.Mailbox) == nil {
		p.fail(w, r, v, http.StatusNotFound, "You have no voicemail box on this site.")
		return ""
	}
	return v.User.Mailbox
}

type messageView struct {
	voicemail.Message
	New            bool
	From, Src, Act string
}

func (p *Portal) voicemailPage(w http.ResponseWriter, r *http.Request, v *visit) {
	box := p.box(w, r, v)
	if box == "" {
		return
	}
	p.renderVoicemail(w, r, v, box, http.StatusOK, nil)
}

func (p *Portal) renderVoicemail(w http.ResponseWriter, r *http.Request, v *visit, box string, status int, data map[string]any) {
	msgs, err := p.cfg.Voicemail.Messages(box)
	if err != nil {
		p.fail(w, r, v, http.StatusInternalServerError, "Your voicemail could not be read.")
		p.log.Error("portal: reading a mailbox", "box", box, "error", err)
		return
	}
	base := "/portal/u/" + v.User.Name + "/voicemail/"
	var views []messageView
	for _, m := range msgs {
		from := m.From.Display
		if from == "" {
			from = m.From.Number
		}
		if from == "" {
			from = "Unknown caller"
		}
		id := strconv.Itoa(m.ID)
		views = append(views, messageView{Message: m, New: m.Folder == voicemail.FolderNew, From: from, Src: base + id + ".wav", Act: base + id})
	}
	if data == nil {
		data = map[string]any{}
	}
	data["Messages"] = views
	_, hasGreeting, _ := p.cfg.Voicemail.GreetingPCM(box)
	data["HasGreeting"] = hasGreeting
	data["GreetingSrc"] = "/portal/u/" + v.User.Name + "/greeting.wav"
	data["Action"] = "/portal/u/" + v.User.Name
	// The recorder stops where SetGreeting's limit is (whole seconds).
	maxGreeting := p.cfg.Voicemail.MaxGreeting()
	data["MaxGreetingSeconds"] = int(maxGreeting / time.Second)
	data["MaxGreetingText"] = durationText(maxGreeting)
	p.render(w, r, v, status, pageVoicemail, data)
}

// messageAudio serves a message as audio/wav: inline for the page's audio
// element, as an attachment with ?download=1.
func (p *Portal) messageAudio(w http.ResponseWriter, r *http.Request, v *visit) {
	box := p.box(w, r, v)
	if box == "" {
		return
	}
	num, ok := strings.CutSuffix(r.PathValue("file"), ".wav")
	id, err := strconv.Atoi(num)
	if !ok || err != nil || id < 1 {
		p.fail(w, r, v, http.StatusNotFound, "No such message.")
		return
	}
	wav, err := p.cfg.Voicemail.PCM(box, id)
	if errors.Is(err, voicemail.ErrNoMessage) {
		p.fail(w, r, v, http.StatusNotFound, "No such message: it may have been deleted.")
		return
	}
	if err != nil {
		p.log.Error("portal: reading a message", "box", box, "message", id, "error", err)
		p.fail(w, r, v, http.StatusInternalServerError, "The message could not be read.")
		return
	}
	p.serveWAV(w, r, wav, fmt.Sprintf("voicemail-%d.wav", id))
}

func (p *Portal) serveWAV(w http.ResponseWriter, r *http.Request, wav []byte, name string) {
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Cache-Control", "private, no-store")
	if r.URL.Query().Get("download") == "1" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	}
	// ServeContent answers the Range requests media elements make.
	http.ServeContent(w, r, name, time.Time{}, strings.NewReader(string(wav)))
}

func (p *Portal) greetingAudio(w http.ResponseWriter, r *http.Request, v *visit) {
	box := p.box(w, r, v)
	if box == "" {
		return
	}
	wav, ok, err := p.cfg.Voicemail.GreetingPCM(box)
	if err != nil || !ok {
		p.fail(w, r, v, http.StatusNotFound, "You have not recorded a greeting.")
		return
	}
	p.serveWAV(w, r, wav, "greeting.wav")
}

func messageID(r *http.Request) (int, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	return id, err == nil && id > 0
}

// deleteMessage deletes a message; the voicemail tells the phones'
// message-waiting lights at once (Service.Delete).
func (p *Portal) deleteMessage(w http.ResponseWriter, r *http.Request, v *visit) {
	p.messageAction(w, r, v, func(box string, id int) error { return p.cfg.Voicemail.Delete(box, id, "portal "+v.User.Name) })
}

func (p *Portal) markHeard(w http.ResponseWriter, r *http.Request, v *visit) {
	p.messageAction(w, r, v, p.cfg.Voicemail.MarkHeard)
}

func (p *Portal) messageAction(w http.ResponseWriter, r *http.Request, v *visit, f func(box string, id int) error) {
	box := p.box(w, r, v)
	if box == "" {
		return
	}
	id, ok := messageID(r)
	if !ok {
		p.fail(w, r, v, http.StatusNotFound, "No such message.")
		return
	}
	if err := f(box, id); errors.Is(err, voicemail.ErrNoMessage) {
		p.fail(w, r, v, http.StatusNotFound, "No such message: it may have been deleted already.")
		return
	} else if err != nil {
		p.log.Error("portal: changing a message", "box", box, "message", id, "error", err)
		p.fail(w, r, v, http.StatusInternalServerError, "The message could not be changed.")
		return
	}
	http.Redirect(w, r, "/portal/u/"+v.User.Name+"/voicemail", http.StatusSeeOther)
}

func (p *Portal) uploadGreeting(w http.ResponseWriter, r *http.Request, v *visit) {
	box := p.box(w, r, v)
	if box == "" {
		return
	}
	f, _, err := r.FormFile("greeting")
	if err != nil {
		p.renderVoicemail(w, r, v, box, http.StatusBadRequest, map[string]any{"GreetingError": "Choose a WAV file to upload."})
		return
	}
	defer f.Close()
	wav, err := io.ReadAll(io.LimitReader(f, voicemail.MaxGreetingFile+1))
	if err == nil {
		err = p.cfg.Voicemail.SetGreeting(box, wav, "portal "+v.User.Name)
	}
	if err != nil {
		p.renderVoicemail(w, r, v, box, http.StatusUnprocessableEntity, map[string]any{"GreetingError": "Not saved: " + err.Error()})
		return
	}
	p.renderVoicemail(w, r, v, box, http.StatusOK, map[string]any{"GreetingDone": "Your new greeting is saved: callers hear it from now on."})
}

func (p *Portal) settingsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	p.render(w, r, v, http.StatusOK, pageSettings, p.settingsData(v, nil))
}

func (p *Portal) settingsData(v *visit, data map[string]any) map[string]any {
	if data == nil {
		data = map[string]any{}
	}
	data["Action"] = "/portal/u/" + v.User.Name
	data["HasBox"] = p.cfg.Voicemail != nil && v.User.Mailbox != ""
	data["MinPIN"], data["MaxPIN"], data["MinPassword"] = voicemail.MinPIN, voicemail.MaxPIN, MinPassword
	return data
}

// changePIN sets the voicemail PIN with the voicemail service's rule.
func (p *Portal) changePIN(w http.ResponseWriter, r *http.Request, v *visit) {
	box := p.box(w, r, v)
	if box == "" {
		return
	}
	pin, again := r.PostFormValue("pin"), r.PostFormValue("pin_again")
	msg := ""
	switch {
	case !voicemail.ValidPIN(pin):
		msg = fmt.Sprintf("A PIN has %d to %d digits.", voicemail.MinPIN, voicemail.MaxPIN)
	case pin != again:
		msg = "The two PINs differ."
	}
	if msg != "" {
		p.render(w, r, v, http.StatusUnprocessableEntity, pageSettings, p.settingsData(v, map[string]any{"PINError": msg}))
		return
	}
	if err := p.cfg.Voicemail.SetPIN(box, pin, "portal "+v.User.Name); err != nil {
		p.log.Error("portal: storing a PIN", "box", box, "error", err)
		p.fail(w, r, v, http.StatusInternalServerError, "The PIN could not be stored.")
		return
	}
	p.render(w, r, v, http.StatusOK, pageSettings, p.settingsData(v, map[string]any{"PINDone": "Your voicemail PIN is changed."}))
}

// changePassword sets the person's own portal password after checking
// the current one (the same one hash's work as a login), kept only as an
// argon2id hash; their other sessions end.
func (p *Portal) changePassword(w http.ResponseWriter, r *http.Request, v *visit) {
	cur, next, again := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("new_again")
	msg := ""
	switch {
	case len(next) < MinPassword || len(next) > maxPassword:
		msg = fmt.Sprintf("A password has %d to %d characters.", MinPassword, maxPassword)
	case next != again:
		msg = "The two new passwords differ."
	}
	host, email := clientHost(r), strings.ToLower(v.Person.Email)
	now := p.clk.Now()
	if msg == "" {
		if _, blocked := p.guard.Blocked(host, email, now); blocked {
			p.fail(w, r, v, http.StatusTooManyRequests, "Too many wrong passwords. Try again in a few minutes.")
			return
		}
		if _, ok := p.checkPassword(email, cur); !ok {
			p.guard.Fail(host, email, now)
			msg = "Your current password is not that."
		}
	}
	if msg != "" {
		p.render(w, r, v, http.StatusUnprocessableEntity, pageSettings, p.settingsData(v, map[string]any{"PasswordError": msg}))
		return
	}
	if err := p.store.set(v.Person.ID, newHashRecord(next)); err != nil {
		p.log.Error("portal: storing a password hash", "error", err)
		p.fail(w, r, v, http.StatusInternalServerError, "The password could not be stored.")
		return
	}
	p.sessions.dropPerson(v.Person.ID, v.Session)
	p.render(w, r, v, http.StatusOK, pageSettings, p.settingsData(v, map[string]any{"PasswordDone": "Your portal password is changed. Other sessions were logged out."}))
}

// doorsRinging are the door stations that ring user u: those with an
// entry (button or code) calling u or u's residence.
func doorsRinging(p *ir.Program, u *ir.User) map[string]bool {
	out := map[string]bool{}
	for _, e := range p.Entries {
		if e.Target == ir.UserRef(u.Name) || (u.Residence != "" && e.Target == ir.ResidenceRef(u.Residence)) {
			out[e.Device] = true
		}
	}
	return out
}

type doorView struct {
	Time                 time.Time
	Door, Relay, Who, At string
}

func (p *Portal) doorsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	doors := doorsRinging(v.Program, v.User)
	var rows []doorView
	for _, e := range p.history.Events(func(e events.Event) bool { return e.Kind == events.DoorOpened && doors[e.Device] }) {
		rows = append(rows, doorView{Time: e.Time, Door: deviceLabel(v.Program, e.Device), Relay: e.Relay, Who: accountLabel(v.Program, e.Account)})
	}
	var names []string
	for d := range doors {
		names = append(names, deviceLabel(v.Program, d))
	}
	slices.Sort(names)
	p.render(w, r, v, http.StatusOK, pageDoors, map[string]any{"Rows": rows, "Doors": names})
}

func deviceLabel(p *ir.Program, name string) string {
	if d := p.Device(name); d != nil && d.Location != "" {
		return d.Location
	}
	return name
}

// accountLabel names an account for a person: its owner's name, its
// device's location, or the account.
func accountLabel(p *ir.Program, account string) string {
	a := p.Account(account)
	if a == nil {
		if account == "" {
			return "—"
		}
		return account
	}
	switch a.Owner.Kind {
	case ir.RefUser:
		if u := p.User(a.Owner.Name); u != nil {
			return u.DisplayName + " (" + string(a.Kind) + ")"
		}
	case ir.RefResidence:
		if res := p.Residence(a.Owner.Name); res != nil {
			return "Monitor of " + res.Label
		}
	}
	if a.Device != "" {
		return deviceLabel(p, a.Device)
	}
	if a.DisplayName != "" {
		return a.DisplayName
	}
	return account
}

type deviceView struct {
	Account, Kind, Model, Where string
	Online                      bool
	Since                       time.Time
	Contacts                    int
	Transport, Source, Agent    string
	Shared                      bool
}

func (p *Portal) devicesPage(w http.ResponseWriter, r *http.Request, v *visit) {
	u := v.User
	accounts := slices.Clone(u.Endpoints)
	shared := map[string]bool{}
	if res := v.Program.Residence(u.Residence); res != nil {
		for _, m := range res.Monitors {
			if d := v.Program.Device(m); d != nil && d.Account != "" && !slices.Contains(accounts, d.Account) {
				accounts = append(accounts, d.Account)
				shared[d.Account] = true
			}
		}
	}
	var rows []deviceView
	for _, name := range accounts {
		a := v.Program.Account(name)
		if a == nil {
			continue
		}
		row := deviceView{Account: name, Kind: string(a.Kind), Shared: shared[name], Where: accountLabel(v.Program, name)}
		if d := v.Program.Device(a.Device); d != nil {
			row.Model = d.Model
		}
		if p.cfg.Bindings != nil {
			bs := p.cfg.Bindings(name)
			row.Online, row.Contacts = len(bs) > 0, len(bs)
			for i, b := range bs {
				if i == 0 || (!b.Since.IsZero() && b.Since.Before(row.Since)) {
					row.Since = b.Since
				}
			}
			if len(bs) > 0 {
				row.Transport, row.Source, row.Agent = bs[0].Transport, bs[0].Source, bs[0].UserAgent
			}
		}
		rows = append(rows, row)
	}
	p.render(w, r, v, http.StatusOK, pageDevices, map[string]any{"Rows": rows})
}

type callView struct {
	Time              time.Time
	Direction, Other  string
	Outcome, Answered string
	To                string
}

// callsPage lists the calls that involved the person: placed from one of
// their accounts, or ringing them or their residence.
func (p *Portal) callsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	u := v.User
	mine := map[string]bool{}
	for _, a := range u.Endpoints {
		mine[a] = true
	}
	targets := map[string]bool{ir.UserRef(u.Name).String(): true}
	if u.Residence != "" {
		targets[ir.ResidenceRef(u.Residence).String()] = true
	}
	all := p.history.Events(func(e events.Event) bool { return true })
	ended := map[string]events.Event{}
	answered := map[string]string{}
	for _, e := range all {
		switch e.Kind {
		case events.CallEnded:
			ended[e.Call] = e
		case events.LegAnswered:
			answered[e.Call] = e.Leg
		}
	}
	var rows []callView
	for _, e := range all {
		if e.Kind != events.CallStarted {
			continue
		}
		var row callView
		switch {
		case mine[e.From] || mine[e.Account]:
			row = callView{Direction: "out", Other: e.To, To: e.To}
		case targets[e.Target]:
			row = callView{Direction: "in", Other: accountLabel(v.Program, cmpOr(e.From, e.Account))}
		default:
			continue
		}
		row.Time = e.Time
		if leg, ok := answered[e.Call]; ok {
			row.Answered = accountLabel(v.Program, leg)
		}
		if end, ok := ended[e.Call]; ok {
			row.Outcome = end.Cause
		} else {
			row.Outcome = "in progress"
		}
		rows = append(rows, row)
	}
	p.render(w, r, v, http.StatusOK, pageCalls, map[string]any{"Rows": rows})
}

// durationText says d for a person: "a minute", "90 seconds".
func durationText(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "a minute"
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return fmt.Sprintf("%d seconds", d/time.Second)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
