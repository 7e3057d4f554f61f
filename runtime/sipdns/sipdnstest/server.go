// Package sipdnstest is a DNS server on loopback for tests: it answers
// SRV, A and AAAA queries from records the test sets, over UDP and TCP
// (RFC 1035 §4.2), counts the questions, and can fall silent or send
// every UDP answer truncated, or hold its answers until the test lets
// them go. Resolver points a Go resolver at it.
package sipdnstest

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Server is a DNS server for one test.
type Server struct {
	udp     net.PacketConn
	tcp     net.Listener
	stopped chan struct{} // closed when the test ends

	mu       sync.Mutex
	srv      map[string][]rr[dnsmessage.SRVResource]
	a        map[string][]rr[netip.Addr]
	negTTL   uint32
	silent   bool
	truncate bool
	asked    map[question]int
	waiters  []chan struct{}
	held     chan struct{} // answers wait for it to close; nil: none do
}

type rr[T any] struct {
	ttl uint32
	v   T
}

type question struct {
	name  string
	qtype dnsmessage.Type
}

// Start starts a server on 127.0.0.1, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	u, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		u.Close()
		t.Fatal(err)
	}
	s := &Server{udp: u, tcp: l, stopped: make(chan struct{}), srv: map[string][]rr[dnsmessage.SRVResource]{}, a: map[string][]rr[netip.Addr]{},
		negTTL: 60, asked: map[question]int{}}
	done := make(chan struct{}, 2)
	go func() { defer func() { done <- struct{}{} }(); s.serveUDP() }()
	go func() { defer func() { done <- struct{}{} }(); s.serveTCP() }()
	t.Cleanup(func() {
		close(s.stopped)
		u.Close()
		l.Close()
		<-done
		<-done
	})
	return s
}

// Resolver is a Go resolver asking s, over UDP and (after a truncated
// answer) TCP.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		if strings.HasPrefix(network, "tcp") {
			return d.DialContext(ctx, "tcp", s.tcp.Addr().String())
		}
		return d.DialContext(ctx, "udp", s.udp.LocalAddr().String())
	}}
}

// SRV sets name's SRV records (replacing any), with ttl seconds.
func (s *Server) SRV(name string, ttl uint32, recs ...net.SRV) {
	var out []rr[dnsmessage.SRVResource]
	for _, r := range recs {
		out = append(out, rr[dnsmessage.SRVResource]{ttl, dnsmessage.SRVResource{Priority: r.Priority, Weight: r.Weight, Port: r.Port, Target: mustName(r.Target)}})
	}
	s.mu.Lock()
	s.srv[canon(name)] = out
	s.mu.Unlock()
}

// Addrs sets name's A and AAAA records (replacing any), with ttl seconds.
func (s *Server) Addrs(name string, ttl uint32, addrs ...netip.Addr) {
	var out []rr[netip.Addr]
	for _, a := range addrs {
		out = append(out, rr[netip.Addr]{ttl, a})
	}
	s.mu.Lock()
	s.a[canon(name)] = out
	s.mu.Unlock()
}

// NegativeTTL sets the SOA minimum sent with answers that find nothing.
func (s *Server) NegativeTTL(ttl uint32) {
	s.mu.Lock()
	s.negTTL = ttl
	s.mu.Unlock()
}

// Silent makes the server read questions and answer none (or answer
// again).
func (s *Server) Silent(v bool) {
	s.mu.Lock()
	s.silent = v
	s.mu.Unlock()
}

// Hold makes the server keep the answers to the questions it reads from
// now on, counted as ever, until release is called (once or more): a
// test holds a lookup in flight without waiting on a clock.
func (s *Server) Hold() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.held = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.held == ch {
				s.held = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// send sends an answer now, or once the hold it was read under ends.
func (s *Server) send(held chan struct{}, write func()) {
	if held == nil {
		write()
		return
	}
	go func() {
		select {
		case <-held:
			write()
		case <-s.stopped:
		}
	}()
}

// Truncate makes every UDP answer empty with TC set, so the resolver asks
// again over TCP.
func (s *Server) Truncate(v bool) {
	s.mu.Lock()
	s.truncate = v
	s.mu.Unlock()
}

// Asked is how many times name was asked for qtype ("SRV", "A", "AAAA"),
// over any transport.
func (s *Server) Asked(name, qtype string) int {
	var t dnsmessage.Type
	switch qtype {
	case "SRV":
		t = dnsmessage.TypeSRV
	case "A":
		t = dnsmessage.TypeA
	case "AAAA":
		t = dnsmessage.TypeAAAA
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked[question{canon(name), t}]
}

// Question returns a channel closed at the next question the server
// reads.
func (s *Server) Question() <-chan struct{} {
	ch := make(chan struct{})
	s.mu.Lock()
	s.waiters = append(s.waiters, ch)
	s.mu.Unlock()
	return ch
}

func canon(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, ".")) + "."
}

func mustName(n string) dnsmessage.Name {
	name, err := dnsmessage.NewName(canon(n))
	if err != nil {
		panic(err)
	}
	return name
}

func (s *Server) serveUDP() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		if out, held := s.answer(buf[:n], true); out != nil {
			s.send(held, func() { _, _ = s.udp.WriteTo(out, from) })
		}
	}
}

func (s *Server) serveTCP() {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			for {
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				out, held := s.answer(msg, false)
				if out == nil {
					continue
				}
				framed := binary.BigEndian.AppendUint16(nil, uint16(len(out)))
				// One Write per answer: net.Conn writes whole, so held
				// answers sent later do not interleave.
				s.send(held, func() { _, _ = c.Write(append(framed, out...)) })
			}
		}()
	}
}

// answer builds the response to msg (nil sends none) and tells the hold
// it is under, if any.
func (s *Server) answer(msg []byte, overUDP bool) (out []byte, held chan struct{}) {
	out = s.build(msg, overUDP)
	s.mu.Lock()
	defer s.mu.Unlock()
	return out, s.held
}

// build builds the response to msg; nil sends none.
func (s *Server) build(msg []byte, overUDP bool) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.ToLower(q.Name.String())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked[question{name, q.Type}]++
	for _, w := range s.waiters {
		close(w)
	}
	s.waiters = nil
	if s.silent {
		return nil
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	_ = b.StartQuestions()
	_ = b.Question(q)
	_ = b.StartAnswers()
	if overUDP && s.truncate {
		rh.Truncated = true
		b = dnsmessage.NewBuilder(nil, rh)
		_ = b.StartQuestions()
		_ = b.Question(q)
		out, _ := b.Finish()
		return out
	}
	srv, hasSRV := s.srv[name]
	addrs, hasA := s.a[name]
	n := 0
	switch q.Type {
	case dnsmessage.TypeSRV:
		for _, r := range srv {
			_ = b.SRVResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: r.ttl}, r.v)
			n++
		}
	case dnsmessage.TypeA, dnsmessage.TypeAAAA:
		for _, r := range addrs {
			hdr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: r.ttl}
			switch {
			case q.Type == dnsmessage.TypeA && r.v.Is4():
				_ = b.AResource(hdr, dnsmessage.AResource{A: r.v.As4()})
				n++
			case q.Type == dnsmessage.TypeAAAA && r.v.Is6() && !r.v.Is4In6():
				_ = b.AAAAResource(hdr, dnsmessage.AAAAResource{AAAA: r.v.As16()})
				n++
			}
		}
	}
	if n == 0 {
		// Nothing: NXDOMAIN for a name the server does not know, no data
		// for one it does; either way with the SOA telling how long to
		// remember it (RFC 2308).
		if !hasSRV && !hasA {
			rh.RCode = dnsmessage.RCodeNameError
			b = dnsmessage.NewBuilder(nil, rh)
			_ = b.StartQuestions()
			_ = b.Question(q)
		}
		_ = b.StartAuthorities()
		zone := mustName("test.")
		_ = b.SOAResource(dnsmessage.ResourceHeader{Name: zone, Class: dnsmessage.ClassINET, TTL: 3600},
			dnsmessage.SOAResource{NS: mustName("ns.test."), MBox: mustName("hostmaster.test."), Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, MinTTL: s.negTTL})
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}
