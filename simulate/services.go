package simulate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/events"
	"switchboard/simulate/device"
)

// Steps for the calls the server answers itself: conference bridges and
// voicemail.
type (
	// ExpectConference has each account dial a conference number and
	// speak (a tone of its own), and checks that everyone hears every
	// other participant and not themselves: the mix is measured, not
	// just counted.
	ExpectConference struct {
		Number   string
		Accounts []string
	}
)

func (s ExpectConference) describe() string {
	return fmt.Sprintf("%s join %s and each hears the others", strings.Join(s.Accounts, ", "), s.Number)
}

// Voices of the participants: far enough apart (and from the join tones)
// that each is measured on its own.
var voices = []float64{697, 1209, 1633, 941, 1477}

// Conference ticks run: long enough for join tones to finish, then the
// measured stretch.
const (
	confTicks    = 100
	confMeasured = 40
	voiceLevel   = 6000
)

func (w *worker) expectConference(ctx context.Context, st *caseState, s ExpectConference) error {
	if len(s.Accounts) > len(voices) {
		return fmt.Errorf("at most %d participants can be told apart", len(voices))
	}
	calls := make([]*device.Call, len(s.Accounts))
	defer func() {
		for _, c := range calls {
			if c != nil && !c.Ended() {
				hctx, cancel := context.WithTimeout(context.Background(), w.o.Wait)
				c.Hangup(hctx)
				cancel()
			}
		}
	}()
	for i, a := range s.Accounts {
		d := w.device(a)
		if d == nil {
			return fmt.Errorf("no simulated device for %q", a)
		}
		dctx, cancel := context.WithTimeout(ctx, w.o.Wait)
		c, err := d.Dial(dctx, s.Number)
		cancel()
		if err != nil {
			return fmt.Errorf("%s could not join %s: %w", a, s.Number, err)
		}
		calls[i] = c
		if _, ok := w.waitEvent(st, func(e events.Event) bool {
			return e.Kind == events.ConferenceJoined && e.Call == c.ID()
		}); !ok {
			return fmt.Errorf("%s was answered but never joined the room; saw %s", a, w.seen(st))
		}
	}
	for _, c := range calls {
		c.ClearAudio()
	}
	// Everyone speaks a frame, then the bridge's clock ticks: the mixer
	// takes one frame from each and sends each participant a mix.
	for tick := range confTicks {
		var wg sync.WaitGroup
		errs := make([]error, len(calls))
		for i, c := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = c.SendTone(voices[i], voiceLevel, 1)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		// A frame that reaches the bridge after this tick waits in its
		// jitter buffer for the next, as on a real network.
		w.clock.Advance(20 * time.Millisecond)
		for _, c := range calls {
			wctx, cancel := context.WithTimeout(ctx, w.o.Wait)
			err := c.WaitAudio(wctx, (tick+1)*audio.FrameSamples)
			cancel()
			if err != nil {
				return fmt.Errorf("the bridge stopped sending audio: %w", err)
			}
		}
	}
	var problems []string
	for i, c := range calls {
		heard := c.Audio()
		heard = heard[max(0, len(heard)-confMeasured*audio.FrameSamples):]
		if own := audio.ToneLevel(heard, voices[i]); own > voiceLevel/10 {
			problems = append(problems, fmt.Sprintf("%s hears itself (level %.0f)", s.Accounts[i], own))
		}
		for j := range calls {
			if j == i {
				continue
			}
			if lvl := audio.ToneLevel(heard, voices[j]); lvl < voiceLevel/3 {
				problems = append(problems, fmt.Sprintf("%s does not hear %s (level %.0f of %d)", s.Accounts[i], s.Accounts[j], lvl, voiceLevel))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
