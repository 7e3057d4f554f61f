package portal

import (
	"container/list"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"
)

// cookieName is the session cookie's; its path is /portal/.
const cookieName = "switchboard_portal"

// session is one login.
type session struct {
	key   [sha256.Size]byte // of the cookie's id: the table keeps no id itself
	user  string            // block name; "" for the installer
	id    string            // the person's identity (ir.User.ID, or "installer")
	email string
	csrf  string

	created, seen time.Time
	elem          *list.Element
}

// sessions are the portal's logins: random ids, idle and absolute expiry,
// a bounded count (the least recently used goes first).
type sessions struct {
	now func() time.Time
	// idle and max are SessionIdle and SessionMax (tests shorten idle).
	idle, max time.Duration
	mu        sync.Mutex
	m         map[[sha256.Size]byte]*session
	lru       *list.List // front: most recently used
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, idle: SessionIdle, max: SessionMax, m: map[[sha256.Size]byte]*session{}, lru: list.New()}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// start makes a session for a person and sets its cookie on w.
func (ss *sessions) start(w http.ResponseWriter, r *http.Request, user, id, email string) *session {
	tok := randomToken()
	now := ss.now()
	s := &session{key: sha256.Sum256([]byte(tok)), user: user, id: id, email: email, csrf: randomToken(), created: now, seen: now}
	ss.mu.Lock()
	s.elem = ss.lru.PushFront(s)
	ss.m[s.key] = s
	for len(ss.m) > MaxSessions {
		old := ss.lru.Back().Value.(*session)
		ss.removeLocked(old)
	}
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: tok, Path: "/portal/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	return s
}

// get returns the live session of r's cookie, or nil; using it keeps it
// alive.
func (ss *sessions) get(r *http.Request) *session { return ss.lookup(r, true) }

// peek returns the live session of r's cookie, or nil, without keeping it
// alive: an event stream is no sign that someone is at the page, so its
// requests (and its reconnects) must not stop the idle expiry.
func (ss *sessions) peek(r *http.Request) *session { return ss.lookup(r, false) }

func (ss *sessions) lookup(r *http.Request, touch bool) *session {
	c, err := r.Cookie(cookieName)
	if err != nil || len(c.Value) != 43 {
		return nil
	}
	key := sha256.Sum256([]byte(c.Value))
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[key]
	if s == nil {
		return nil
	}
	if !now.Before(ss.endLocked(s)) {
		ss.removeLocked(s)
		return nil
	}
	if touch {
		s.seen = now
		ss.lru.MoveToFront(s.elem)
	}
	return s
}

// endLocked is when s expires unless it is used before.
func (ss *sessions) endLocked(s *session) time.Time {
	idle, abs := s.seen.Add(ss.idle), s.created.Add(ss.max)
	if abs.Before(idle) {
		return abs
	}
	return idle
}

// ends returns when s expires unless it is used before, and false when
// it has ended (expired, logged out, or pushed out by newer ones).
func (ss *sessions) ends(s *session) (time.Time, bool) {
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m[s.key] != s {
		return time.Time{}, false
	}
	end := ss.endLocked(s)
	if !now.Before(end) {
		ss.removeLocked(s)
		return time.Time{}, false
	}
	return end, true
}

func (ss *sessions) drop(s *session) {
	ss.mu.Lock()
	ss.removeLocked(s)
	ss.mu.Unlock()
}

// dropPerson ends every session of the person with identity id but keep
// (a password change ends the others).
func (ss *sessions) dropPerson(id string, keep *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, s := range ss.m {
		if s.id == id && s != keep {
			ss.removeLocked(s)
		}
	}
}

func (ss *sessions) removeLocked(s *session) {
	if _, ok := ss.m[s.key]; ok {
		delete(ss.m, s.key)
		ss.lru.Remove(s.elem)
	}
}

func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// clearCookie tells the browser to forget the session cookie.
func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/portal/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

func asMaxBytes(err error, target **http.MaxBytesError) bool { return errors.As(err, target) }
