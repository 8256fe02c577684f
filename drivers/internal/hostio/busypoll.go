package hostio

import (
	"runtime"
	"time"
)

// BusyPoll lets a driver's receive poll function keep asking the host for
// frames for a while before it sleeps on the runtime poller, as Linux's
// SO_BUSY_POLL does for sockets: a frame that arrives within the window is
// taken at once, without the cost of a sleep and a wakeup (an epoll wait, a
// thread wakeup, on a virtual machine often a halted virtual CPU's wakeup),
// at the price of the CPU burned while it waits. Between tries it yields the
// processor, so the kit's other goroutines (its stack, the program) keep
// running on a kernel limited to one CPU.
//
// The zero value never spins. A BusyPoll belongs to the one goroutine that
// receives.
type BusyPoll struct {
	window time.Duration
	start  time.Time
}

// NewBusyPoll returns a BusyPoll that spins for up to window per wait; zero
// or negative turns busy polling off.
func NewBusyPoll(window time.Duration) BusyPoll { return BusyPoll{window: max(window, 0)} }

// Start begins a wait: the window counts from the first Again after it.
func (b *BusyPoll) Start() { b.start = time.Time{} }

// Again is called when the host had nothing ready. It reports whether to
// try again (after yielding the processor) instead of sleeping.
func (b *BusyPoll) Again() bool {
	if b.window <= 0 {
		return false
	}
	now := time.Now()
	if b.start.IsZero() {
		b.start = now
	} else if now.Sub(b.start) >= b.window {
		return false
	}
	runtime.Gosched()
	return true
}
