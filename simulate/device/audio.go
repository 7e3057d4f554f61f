package device

import (
	"context"
	"fmt"

	"switchboard/runtime/audio"
)

// maxAudio bounds the audio a call keeps: the last minute.
const maxAudio = 60 * audio.Rate

// keepAudio appends decoded µ-law audio received on the call.
func (m *media) keepAudio(payload []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audio = audio.PCMU.Decode(m.audio, payload)
	if over := len(m.audio) - maxAudio; over > 0 {
		m.audio = append(m.audio[:0], m.audio[over:]...)
	}
	select {
	case m.heard <- struct{}{}:
	default:
	}
}

// AudioArrived is signalled when audio arrives on the call.
func (c *Call) AudioArrived() <-chan struct{} { return c.media.heard }

// Audio returns the audio received on the call since the last ClearAudio,
// decoded: what a person holding the handset would hear.
func (c *Call) Audio() []int16 {
	c.media.mu.Lock()
	defer c.media.mu.Unlock()
	return append([]int16(nil), c.media.audio...)
}

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
	buf := make([]int16, audio.FrameSamples)
	for range frames {
		m.mu.Lock()
		start := m.toneAt
		m.toneAt += audio.FrameSamples
		m.mu.Unlock()
		payload := audio.PCMU.Encode(nil, audio.Tone(buf, freq, amp, start))
		if err := m.send(ptPCMU, false, payload, audio.FrameSamples); err != nil {
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
