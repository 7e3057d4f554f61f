package runtime

import (
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
	"switchboard/runtime/media"
	"switchboard/runtime/registrar"
)

// Site bundles the parts of a running site that outlive a reload: the
// registrations and the authenticator's state stay, the program changes.
type Site struct {
	Server    *Server
	Registrar *registrar.Registrar
	Auth      *auth.Authenticator
	program   atomic.Pointer[ir.Program] // what events' origins are read from
}

// Options configure NewSite.
type Options struct {
	Events  *events.Bus
	Clock   clock.Clock
	Logger  *slog.Logger
	MediaIP netip.Addr // where the media relay binds; no relay when invalid
	// MediaPortMin and MediaPortMax bound the relay's UDP ports.
	MediaPortMin, MediaPortMax int
	// MediaListen opens the relay's sockets; nil means real UDP. The
	// simulator passes its in-memory network's.
	MediaListen media.ListenFunc
	// Services are the calls the server answers itself (voicemail,
	// conference bridges); they need MediaIP for their media.
	Services Services
	// DigestAlgorithms are offered in this order; SHA-256 then MD5 when
	// empty (RFC 8760). Some clients (SIPp 3.6, old firmware) read only
	// the first challenge and need MD5 first.
	DigestAlgorithms []auth.Algorithm
}

// NewSite assembles a server with the standard registrar, digest
// authentication and media relay.
func NewSite(p *ir.Program, secrets Secrets, o Options) (*Site, error) {
	clk := o.Clock
	if clk == nil {
		clk = clock.Real
	}
	site := &Site{}
	site.program.Store(p)
	authOpts := []auth.Option{auth.WithEvents(o.Events, site.program.Load)}
	if len(o.DigestAlgorithms) > 0 {
		authOpts = append(authOpts, auth.WithAlgorithms(o.DigestAlgorithms...))
	}
	a := auth.New(p.Site.Domain, secrets, clk, authOpts...)
	regOpts := []registrar.Option{registrar.WithEvents(o.Events)}
	if o.Logger != nil {
		regOpts = append(regOpts, registrar.WithLogger(o.Logger))
	}
	reg := registrar.New(p, a, clk, regOpts...)
	cfg := Config{Program: p, Secrets: secrets, Events: o.Events, Clock: clk, Logger: o.Logger}
	if o.MediaIP.IsValid() {
		cfg.Media = mediaFactory(o, clk)
		cfg.Services = o.Services
		cfg.LocalMedia = func() *media.Endpoint {
			return media.NewEndpoint(media.Config{IP: o.MediaIP, PortMin: o.MediaPortMin, PortMax: o.MediaPortMax, Clock: clk, Listen: o.MediaListen})
		}
	}
	srv, err := New(cfg, a, registrarAdapter{reg})
	if err != nil {
		reg.Close()
		return nil, err
	}
	site.Server, site.Registrar, site.Auth = srv, reg, a
	return site, nil
}

// Reload makes p the running program; registrations of accounts that still
// exist are kept.
func (s *Site) Reload(p *ir.Program) {
	s.program.Store(p)
	s.Registrar.SetProgram(p)
	s.Server.Swap(p, s.Auth, registrarAdapter{s.Registrar})
}

// Close stops the server and the registrar.
func (s *Site) Close() error {
	err := s.Server.Close()
	s.Registrar.Close()
	return err
}

func mediaFactory(o Options, clk clock.Clock) MediaFactory {
	return func(onDigit func(fromCallee bool, digit rune)) (MediaSession, error) {
		r, err := media.NewRelay(media.Config{
			IP: o.MediaIP, PortMin: o.MediaPortMin, PortMax: o.MediaPortMax, Clock: clk, Listen: o.MediaListen,
			OnDigit: func(side media.Side, d rune, _ time.Time) { onDigit(side == media.Callee, d) },
		})
		if err != nil {
			return nil, err
		}
		return relaySession{r}, nil
	}
}

// relaySession adapts the media relay to the server's MediaSession.
type relaySession struct{ *media.Relay }

func (r relaySession) NewLeg() (MediaLeg, []byte, error) {
	l, sdp, err := r.Relay.NewLeg()
	if err != nil {
		return nil, nil, err
	}
	return l, sdp, nil
}

// registrarAdapter gives the call router the contacts of an account.
type registrarAdapter struct{ r *registrar.Registrar }

func (a registrarAdapter) OnRegister(req *sip.Request, tx sip.ServerTransaction) {
	a.r.OnRegister(req, tx)
}

func (a registrarAdapter) Contacts(account string) []Contact {
	var out []Contact
	for _, b := range a.r.Lookup(account) {
		u, err := b.URI()
		if err != nil {
			continue
		}
		out = append(out, Contact{URI: u, Dest: b.Source, Transport: b.Transport, Path: b.Path})
	}
	return out
}
