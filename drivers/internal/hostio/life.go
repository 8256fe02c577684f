package hostio

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/kernsupport"
	"golang.org/x/sys/unix"
)

// Life tracks the two terminal states of a hosted device, closed and
// link-gone, and turns host errors into the netdev errors. Its methods are
// safe for concurrent use.
type Life struct {
	name   string
	link   *Link
	closed atomic.Bool
	gone   atomic.Pointer[error]
	done   chan struct{}
	once   sync.Once
}

// NewLife returns the life of the device called name (used in errors) on
// the host interface link.
func NewLife(name string, link *Link) *Life {
	return &Life{name: name, link: link, done: make(chan struct{})}
}

// Check returns ErrClosed after Close and ErrLinkGone once the link is known
// gone, both wrapped; otherwise nil.
func (l *Life) Check() error {
	if l.closed.Load() {
		return fmt.Errorf("%s: %w", l.name, netdev.ErrClosed)
	}
	if p := l.gone.Load(); p != nil {
		return *p
	}
	return nil
}

// Alive reports whether the device is neither closed nor known gone: a
// busy-polling receiver stops spinning when it is not.
func (l *Life) Alive() bool { return !l.closed.Load() && l.gone.Load() == nil }

// Close marks the device closed and reports whether this call did so.
func (l *Life) Close() bool {
	first := false
	l.once.Do(func() {
		first = true
		l.closed.Store(true)
		close(l.done)
	})
	return first
}

// Done is closed by Close.
func (l *Life) Done() <-chan struct{} { return l.done }

// Gone records that the link disappeared (cause says how it showed) and
// returns the sticky error every later call returns.
func (l *Life) Gone(op string, cause error) error {
	err := fmt.Errorf("%s: %s: %w: %w", l.name, op, netdev.ErrLinkGone, cause)
	l.gone.CompareAndSwap(nil, &err)
	return *l.gone.Load()
}

// WaitErr maps an error from an interrupt-line wait: a closed line means a
// closed device.
func (l *Life) WaitErr(op string, err error) error {
	if errors.Is(err, kernsupport.ErrIRQClosed) || l.closed.Load() {
		return fmt.Errorf("%s: %s: %w", l.name, op, netdev.ErrClosed)
	}
	// A wait can fail before any system call sees the device go: when a TAP
	// is deleted the runtime's poller may report the fd "not pollable"
	// first. Classify it as a host error, so a vanished interface is
	// ErrLinkGone whichever call notices.
	return l.HostErr(op, err)
}

// HostErr classifies an error from a system call on the device: errors that
// mean "no such device" and any error while the interface's index no longer
// exists make the link gone; the rest are wrapped as they are.
func (l *Life) HostErr(op string, err error) error {
	if l.closed.Load() {
		return fmt.Errorf("%s: %s: %w", l.name, op, netdev.ErrClosed)
	}
	switch {
	case errors.Is(err, unix.EBADFD), errors.Is(err, unix.ENXIO), errors.Is(err, unix.ENODEV):
		return l.Gone(op, err)
	case l.link.Gone():
		return l.Gone(op, err)
	}
	return fmt.Errorf("%s: %s: %w", l.name, op, err)
}
