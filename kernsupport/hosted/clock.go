package hosted

import (
	"sync"
	"time"

	"github.com/goskit/goskit/kernsupport"
)

// clock is the hosted Clock: the Go runtime's monotonic clock, counted from
// the platform's start, and its timers. It remembers its pending timers so
// that the platform's Close can stop them: a kernel that is closed must not
// have callbacks still arriving.
type clock struct {
	start time.Time

	mu      sync.Mutex
	pending map[*timer]struct{} // timers whose call has neither run nor been stopped
	closed  bool
}

var _ kernsupport.Clock = (*clock)(nil)

func newClock() *clock {
	return &clock{start: time.Now(), pending: make(map[*timer]struct{})}
}

// Now is the time since the platform started. time.Since uses the monotonic
// reading, so wall-clock steps do not move it.
func (c *clock) Now() time.Duration { return time.Since(c.start) }

func (c *clock) Wall() time.Time { return time.Now() }

func (c *clock) Sleep(d time.Duration) { time.Sleep(d) }

// AfterFunc calls f in its own goroutine after d, unless the timer is stopped
// or the platform closed first. After Close it returns a timer that never
// fires.
func (c *clock) AfterFunc(d time.Duration, f func()) kernsupport.Timer {
	t := &timer{clock: c}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return t
	}
	c.pending[t] = struct{}{}
	// The pending set, not the time.Timer, decides whether f runs: the
	// callback and Stop both claim the timer under c.mu, and only the one
	// that finds it pending wins. That makes Stop's answer exact even when
	// it races with the timer firing.
	t.t = time.AfterFunc(d, func() {
		if t.claim() {
			f()
		}
	})
	return t
}

// close stops every pending timer; their calls will not run.
func (c *clock) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for t := range c.pending {
		t.t.Stop()
		delete(c.pending, t)
	}
}

type timer struct {
	clock *clock
	t     *time.Timer // nil for a timer made after Close
}

// claim removes t from the pending set and reports whether it was there.
func (t *timer) claim() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pending[t]
	delete(c.pending, t)
	return ok
}

// Stop implements kernsupport.Timer.
func (t *timer) Stop() bool {
	if t.t == nil {
		return false
	}
	if !t.claim() {
		return false
	}
	t.t.Stop()
	return true
}
