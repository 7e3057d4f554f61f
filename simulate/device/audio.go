package device

import (
	"context"
	"fmt"
	"math"
	"sync"

	"switchboard/runtime/audio"
)

// toneKey names a sine a device sends.
type toneKey struct{ freq, amp float64 }

// tones holds, per sine with a whole number of hertz, one period of it
// µ-law encoded plus a frame's worth more, so that any frame of the sine
// is a slice of it: thousands of simulated talkers need not compute sines.
var tones sync.Map // toneKey → []byte

// toneFrame returns the µ-law frame of the sine starting at sample start.
func toneFrame(freq, amp float64, start int) []byte {
	if freq <= 0 || freq != math.Trunc(freq) || freq >= audio.Rate/2 {
		return audio.PCMU.Encode(nil, audio.Tone(make([]int16, audio.FrameSamples), freq, amp, start))
	}
	period := audio.Rate / gcd(int(freq), audio.Rate)
	v, ok := tones.Load(toneKey{freq, amp})
	if !ok {
		pcm := audio.Tone(make([]int16, period+audio.FrameSamples), freq, amp, 0)
		v, _ = tones.LoadOrStore(toneKey{freq, amp}, audio.PCMU.Encode(nil, pcm))
	}
	at := start % period
	return v.([]byte)[at : at+audio.FrameSamples]
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// maxAudio bounds the audio a call keeps: the last minute.
const maxAudio = 60 * audio.Rate

// keepAudio appends decoded G.711 audio received on the call.
func (m *media) keepAudio(codec audio.Codec, payload []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audio = codec.Decode(m.audio, payload)
	if over := len(m.audio) - maxAudio; over > 0 {
		m.audio = append(m.audio[:0], m.audio[over:]...)
	}
	select {
	case m.heard <- struct{}{}:
	default:
	}
}

// audioHeard is a copy of the audio received so far.
func (m *media) audioHeard() []int16 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int16(nil), m.audio...)
}

// AudioArrived is signalled when audio arrives on the call.
func (c *Call) AudioArrived() <-chan struct{} { return c.media.heard }

// Audio returns the audio received on the call since the last ClearAudio,
// decoded: what a person holding the handset would hear.
func (c *Call) Audio() []int16 { return c.media.audioHeard() }

// ClearAudio forgets the audio received so far.
func (c *Call) ClearAudio() {
	c.media.mu.Lock()
	c.media.audio = c.media.audio[:0]
	c.media.mu.Unlock()
}

// SendTone sends frames 20 ms packets of a freq Hz sine at amplitude amp
// (µ-law): a voice that tests can recognise in what others hear.
func (c *Call) SendTone(freq, amp float64, frames int) error {
	m := c.media
	for range frames {
		m.mu.Lock()
		start := m.toneAt
		m.toneAt += audio.FrameSamples
		m.mu.Unlock()
		if err := m.send(ptPCMU, false, toneFrame(freq, amp, start), audio.FrameSamples); err != nil {
			return err
		}
	}
	return nil
}

// maxPack is the most 20 ms frames SendTonePacked puts in one packet:
// 80 ms, the longest packet the server's own media endpoint takes (and a
// ptime phones offer).
const maxPack = 4

// SendTonePacked sends frames 20 ms frames of the sine as SendTone does,
// per frames to a packet (at most maxPack; the last packet may carry
// fewer): the same audio, with the same timestamps, in fewer packets.
// Each packet's timestamp is its first sample's.
func (c *Call) SendTonePacked(freq, amp float64, frames, per int) error {
	if per < 1 || per > maxPack {
		return fmt.Errorf("%d frames to a packet: want 1 to %d", per, maxPack)
	}
	m := c.media
	payload := make([]byte, 0, per*audio.FrameSamples)
	for sent := 0; sent < frames; sent += per {
		n := min(per, frames-sent)
		m.mu.Lock()
		start := m.toneAt
		m.toneAt += n * audio.FrameSamples
		// One frame on from the last packet, as send steps; then past
		// this packet's other frames, where the next one starts.
		m.ts += audio.FrameSamples
		ts := m.ts
		m.ts += uint32((n - 1) * audio.FrameSamples)
		m.mu.Unlock()
		payload = payload[:0]
		for i := range n {
			payload = append(payload, toneFrame(freq, amp, start+i*audio.FrameSamples)...)
		}
		if err := m.sendAt(ptPCMU, false, payload, ts); err != nil {
			return err
		}
	}
	return nil
}

// WaitAudio waits until the call has received at least n samples.
func (c *Call) WaitAudio(ctx context.Context, n int) error {
	for {
		c.media.mu.Lock()
		got := len(c.media.audio)
		c.media.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d samples of audio received: %w", got, n, ctx.Err())
		case <-c.media.heard:
		}
	}
}
