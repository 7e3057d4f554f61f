package voicemail

import (
	"context"
	"testing"
	"time"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/audio"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/line"
)

// benchFrames is secs seconds of 20 ms frames of a tone.
func benchFrames(secs int) []line.Frame {
	frames := make([]line.Frame, secs*50)
	for i := range frames {
		frames[i] = line.Frame{Seq: uint16(i), Timestamp: uint32(i * audio.FrameSamples),
			Samples: audio.Tone(make([]int16, audio.FrameSamples), 440, 8000, i*audio.FrameSamples)}
	}
	return frames
}

func benchService(b *testing.B) *Service {
	b.Helper()
	p := irtest.HarbourView()
	s, err := Open(Config{Program: func() *ir.Program { return p }, Dir: b.TempDir(), Clock: clocktest.New(epoch), Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// recordOne records frames as one message of box, syncing (WAV header
// and fsync) every second of audio, and commits it.
func recordOne(b *testing.B, s *Service, bx *box, frames []line.Frame) {
	r, err := s.startMessage(bx, audio.PCMU, Message{Time: epoch})
	if err != nil {
		b.Fatal(err)
	}
	for _, fr := range frames {
		if _, err := r.add(fr); err != nil {
			b.Fatal(err)
		}
	}
	m, err := r.finishMessage(1)
	if err != nil || m == nil {
		b.Fatal(err)
	}
	// Keep the box from filling the disk: the next message reuses the
	// number, as after a delete.
	if _, err := bx.remove(m.ID); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRecordMessage records 30 s messages one after another: the
// cost of the disk path (temp file, a sync and fsync every second,
// metadata, rename) per message. MB/s counts the audio bytes.
func BenchmarkRecordMessage(b *testing.B) {
	const secs = 30
	frames := benchFrames(secs)
	s := benchService(b)
	bx, _ := s.box("bench")
	b.SetBytes(secs * audio.Rate)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		recordOne(b, s, bx, frames)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "messages/s")
}

// BenchmarkRecordParallel records 30 s messages from concurrent callers,
// each into a box of its own.
func BenchmarkRecordParallel(b *testing.B) {
	const secs = 30
	frames := benchFrames(secs)
	s := benchService(b)
	b.SetBytes(secs * audio.Rate)
	b.ReportAllocs()
	var n int64
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		s.mu.Lock()
		n++
		name := "bench" + string(rune('a'+n%26)) + string(rune('a'+n/26%26))
		s.mu.Unlock()
		bx, err := s.box(name)
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			recordOne(b, s, bx, frames)
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "messages/s")
}

// BenchmarkRecordDeposit runs the whole deposit flow over an in-process
// line: greeting, beep, a 10 s message, metadata, change notification.
func BenchmarkRecordDeposit(b *testing.B) {
	const secs = 10
	frames := benchFrames(secs)
	s := benchService(b)
	started := make(chan struct{}, 1)
	s.onRecord = func() { started <- struct{}{} }
	bx, _ := s.box("mary")
	b.SetBytes(secs * audio.Rate)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		l := &fakeLine{codec: audio.PCMU, clk: s.clk, frames: make(chan line.Frame, len(frames)),
			digits: make(chan rune, 4), done: make(chan struct{})}
		done := make(chan error, 1)
		go func() { done <- s.Deposit(context.Background(), l, "mary", gate) }()
		<-started
		for _, fr := range frames {
			l.frames <- fr
		}
		l.digits <- '#'
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		for _, m := range bx.list() {
			bx.remove(m.ID)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "messages/s")
}
