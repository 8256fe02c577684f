package hosted

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/goskit/goskit/kernsupport"
	"golang.org/x/sys/unix"
)

// ErrNotPollable is returned (wrapped) by NewFDLine for a descriptor the
// host cannot report readiness of (a regular file or a directory), which
// could never fire.
var ErrNotPollable = errors.New("descriptor cannot be polled for readiness")

// FDLine is an interrupt line backed by a host file descriptor: it "fires"
// when the descriptor becomes readable or writable. It waits on the Go
// runtime's poller (edge-triggered epoll), so a blocked driver costs no
// thread.
//
// The poll function a driver passes to WaitRead or WaitWrite does the
// driver's non-blocking I/O on FD and returns true once it has done what it
// waited for. It must return false only after the host reported nothing
// ready (EAGAIN): readiness is reported as edges, so a poll that stops early
// while the descriptor is still ready may wait for an edge that never comes.
// Checking before each wait, never after, is what makes a wakeup impossible
// to lose: an edge arriving between a poll and the wait ends the wait at
// once.
//
// One WaitRead and one WaitWrite may run at a time; further waits of the
// same kind queue behind them. Close may be called from any goroutine, but
// not from inside a poll function (Close waits for running polls to return).
type FDLine struct {
	name    string
	fd      int
	file    *os.File
	raw     syscall.RawConn
	pollErr error // set when the runtime could not poll fd; every wait returns it
	closed  atomic.Bool
	once    sync.Once
	onClose func(*FDLine) // set by Platform.FDLine to forget the line
}

var _ kernsupport.IRQ = (*FDLine)(nil)

// NewFDLine makes an interrupt line of fd, which it sets non-blocking and
// takes ownership of: Close closes fd. On error fd is left open and stays the
// caller's. name labels the line in errors. A line made here belongs to its
// caller; one made by Platform.FDLine is also closed by the platform's Close.
func NewFDLine(fd int, name string) (*FDLine, error) {
	if fd < 0 {
		return nil, fmt.Errorf("hosted: %s: invalid fd %d: %w", name, fd, unix.EBADF)
	}
	// Ask the host first whether it can report the descriptor's readiness:
	// once os.NewFile owns fd, the only way back out is closing it.
	if err := checkPollable(fd); err != nil {
		return nil, fmt.Errorf("hosted: %s: fd %d: %w", name, fd, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("hosted: %s: set non-blocking: %w", name, err)
	}
	// The descriptor is non-blocking before os.NewFile sees it, so the
	// runtime registers it with its poller instead of treating it as a
	// blocking file.
	f := os.NewFile(uintptr(fd), name)
	raw, err := f.SyscallConn()
	if err != nil { // only for a nil file, which fd >= 0 rules out
		return nil, fmt.Errorf("hosted: %s: %w", name, err)
	}
	l := &FDLine{name: name, fd: fd, file: f, raw: raw}
	// A descriptor the runtime failed to register (the host ran out of
	// poller resources since checkPollable) cannot take deadlines: the one
	// way os.File tells whether it is polled. Rather than close the
	// caller's fd, the line reports the failure on every wait.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		l.pollErr = fmt.Errorf("hosted: %s: not registered with the poller: %w", name, err)
	}
	return l, nil
}

// checkPollable reports whether the host's epoll accepts fd, as the Go
// runtime's poller will need it to: regular files and directories, which are
// always "ready", are refused with ErrNotPollable.
func checkPollable(fd int) error {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	defer unix.Close(ep)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLET, Fd: int32(fd)}
	switch err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err {
	case nil:
		return nil
	case unix.EPERM:
		return ErrNotPollable
	default:
		return fmt.Errorf("epoll_ctl: %w", err)
	}
}

// Name returns the line's label.
func (l *FDLine) Name() string { return l.name }

// FD returns the descriptor, for the non-blocking calls a driver makes inside
// its poll functions, where the descriptor is guaranteed open. Outside them,
// use Control: after Close the number may already name another file.
func (l *FDLine) FD() int { return l.fd }

// WaitRead implements kernsupport.IRQ: it calls poll until poll returns
// true, waiting for the descriptor to become readable between calls.
func (l *FDLine) WaitRead(poll func() bool) error {
	if l.pollErr != nil && !l.closed.Load() {
		return l.pollErr
	}
	return l.mapErr(l.raw.Read(func(uintptr) bool { return poll() }))
}

// WaitWrite implements kernsupport.IRQ: it calls poll until poll returns
// true, waiting for the descriptor to become writable between calls.
func (l *FDLine) WaitWrite(poll func() bool) error {
	if l.pollErr != nil && !l.closed.Load() {
		return l.pollErr
	}
	return l.mapErr(l.raw.Write(func(uintptr) bool { return poll() }))
}

// Control calls f with the descriptor, which stays open until f returns: the
// safe way to make a call on it (an ioctl, a setsockopt) outside a poll
// function. After Close it returns kernsupport.ErrIRQClosed without calling f.
func (l *FDLine) Control(f func(fd int)) error {
	return l.mapErr(l.raw.Control(func(fd uintptr) { f(int(fd)) }))
}

// mapErr turns the runtime's "use of closed file" (which os does not wrap as
// os.ErrClosed for raw calls) into kernsupport.ErrIRQClosed. The closed flag
// is set before the file is closed, so a wait that Close ends always sees it.
func (l *FDLine) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if l.closed.Load() {
		return kernsupport.ErrIRQClosed
	}
	return fmt.Errorf("hosted: %s: %w", l.name, err)
}

// Close implements kernsupport.IRQ. It makes pending and future waits return
// kernsupport.ErrIRQClosed, waits for running poll functions to return, and
// closes the descriptor. Closing a closed line does nothing and returns nil.
func (l *FDLine) Close() error {
	var err error
	l.once.Do(func() {
		l.closed.Store(true)
		if cerr := l.file.Close(); cerr != nil {
			err = fmt.Errorf("hosted: %s: close: %w", l.name, cerr)
		}
		if l.onClose != nil {
			l.onClose(l)
		}
	})
	return err
}
