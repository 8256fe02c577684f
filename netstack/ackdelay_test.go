package netstack_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/netstack"
)

// TestDelayedAck checks the glue's delayed acknowledgement through the
// stack: a one-byte request and its reply move two frames, not gVisor's
// four, and an ACK that no reply carries still goes out.
func TestDelayedAck(t *testing.T) {
	// A delay far longer than any reply takes, even on a loaded machine, so
	// that every request's ACK rides on its reply.
	a, b, ea, eb := pairEnds(t, wire.Config{}, netstack.Config{AckDelay: time.Second})
	l, err := b.Listen("tcp", "198.18.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	echoed := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			echoed <- err
			return
		}
		defer c.Close()
		var x [1]byte
		for {
			if _, err := c.Read(x[:]); err != nil {
				echoed <- nil
				return
			}
			if x[0] == 'q' { // a request with no reply
				continue
			}
			if _, err := c.Write(x[:]); err != nil {
				echoed <- err
				return
			}
		}
	}()
	c := dial(t, a, "198.18.0.2:7")
	c.SetDeadline(time.Now().Add(60 * time.Second))
	roundTrip := func() {
		x := [1]byte{'x'}
		if _, err := c.Write(x[:]); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(x[:]); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 { // past the handshake and the first window updates
		roundTrip()
	}
	frames := func() uint64 { return ea.Stats().Frames + eb.Stats().Frames }
	const n = 500
	before := frames()
	for range n {
		roundTrip()
	}
	// The last reply's ACK may still be held: at most one frame more.
	perRT := float64(frames()-before) / n
	if perRT > 2.01 {
		t.Errorf("%.2f frames per round trip with delayed ACKs, want 2", perRT)
	}

	// A request nobody answers is still acknowledged once its delay ends
	// (bounded wait: the delay is a second).
	time.Sleep(1100 * time.Millisecond) // the last reply's held ACK goes out
	fromB := eb.Stats().Frames
	if _, err := c.Write([]byte{'q'}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for eb.Stats().Frames == fromB && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := eb.Stats().Frames - fromB; got != 1 {
		t.Errorf("server sent %d frames after an unanswered request, want 1 (its delayed ACK)", got)
	}
}

// TestDelayedAckLossyWire runs request/response exchanges of small and
// medium messages over a wire that loses, duplicates, reorders and
// corrupts frames, with delayed ACKs on: every reply must come back whole.
func TestDelayedAckLossyWire(t *testing.T) {
	if testing.Short() {
		t.Skip("a lossy exchange waits on retransmissions")
	}
	faults := wire.Faults{Loss: 0.02, Duplicate: 0.02, Reorder: 0.02, Corrupt: 0.01}
	a, b := pairConfig(t, wire.Config{Seed: 11, Faults: faults}, netstack.Config{AckDelay: 50 * time.Microsecond})
	l, err := b.Listen("tcp", "198.18.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	c := dial(t, a, "198.18.0.2:7")
	c.SetDeadline(time.Now().Add(120 * time.Second))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		msg := make([]byte, 1+rng.IntN(1200))
		for j := range msg {
			msg[j] = byte(i + j)
		}
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("exchange %d: reply differs", i)
		}
	}
}
