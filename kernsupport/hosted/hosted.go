// Package hosted provides the hosted platform of goskit, the OSKit's "unix
// mode": a kernel runs as (part of) a Linux process. Its console is the
// process's stdio or any reader and writer, its clock the Go runtime's
// monotonic clock and timers, its log standard error, its interrupt lines
// host file descriptors becoming ready (FDLine), and halting it exits the
// process.
//
// # Execution environment
//
// A Platform and everything it hands out are safe for concurrent use. Console
// reads, Clock.Sleep and IRQ waits block the calling goroutine only; console
// writes and Logf are unbuffered and complete before returning. Timer
// callbacks run in their own goroutines.
//
// The platform holds no global state: two kernels in one process get two
// Platforms, each with its own console, log prefix, timers and lines, and
// closing one leaves the other running. Close releases every descriptor and
// timer the platform holds; it starts no goroutines of its own.
//
// From the host the platform needs Linux (interrupt lines check descriptors
// with epoll) and nothing else: no privileges, no threads beyond the Go
// runtime's. Interrupt lines use the runtime's poller, so a driver waiting
// for its device costs a parked goroutine, not a thread. A console read from
// the process's stdin cannot be interrupted (the platform does not own
// stdin), so Close does not end it; WithConsole readers can be closed by
// their owner.
package hosted

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/kernsupport"
)

// ErrClosed is returned (wrapped) for lines requested from a closed
// platform.
var ErrClosed = errors.New("hosted: platform closed")

// Platform is the hosted kernsupport.Platform.
type Platform struct {
	info    *boot.Info
	name    string
	console *console
	clock   *clock
	exit    func(status int)

	logMu sync.Mutex
	log   io.Writer

	mu     sync.Mutex
	closed bool
	lines  map[*FDLine]struct{} // lines made by FDLine and not yet closed

	// arena is the kernel's physical memory: a memfd sized by info.Memory,
	// its pages managed by package lmm; Close releases it with the lines.
	arena *Arena
}

var (
	_ kernsupport.Platform = (*Platform)(nil)
	_ kernsupport.Halter   = (*Platform)(nil)
	_ kernsupport.FDIRQer  = (*Platform)(nil)
)

// Option configures New.
type Option func(*config)

type config struct {
	name       string
	in         io.Reader
	out        io.Writer
	log        io.Writer
	exit       func(int)
	consoleSet bool
	logSet     bool
}

// WithConsole makes the console read in and write out instead of the
// process's stdin and stdout: for tests, and for a second kernel in one
// process (PrefixLines tells two kernels' output apart). A nil in reads as
// end of file; a nil out discards.
func WithConsole(in io.Reader, out io.Writer) Option {
	return func(c *config) { c.in, c.out, c.consoleSet = in, out, true }
}

// WithLog sends Logf's lines to w instead of the process's stderr; nil
// discards them.
func WithLog(w io.Writer) Option {
	return func(c *config) { c.log, c.logSet = w, true }
}

// WithName sets the name that prefixes the kernel's log lines. The default
// is the base name of the boot information's program name, or "kernel".
func WithName(name string) Option {
	return func(c *config) { c.name = name }
}

// WithExit makes Halt call exit instead of os.Exit: a kernel embedded in a
// process with others must not end them all when it halts.
func WithExit(exit func(status int)) Option {
	return func(c *config) { c.exit = exit }
}

// New makes the hosted platform of a kernel booted with info (from
// boot.Hosted). The platform keeps info for Info; it does not modify it.
func New(info *boot.Info, opts ...Option) (*Platform, error) {
	if info == nil {
		return nil, errors.New("hosted: New: nil boot info")
	}
	cfg := config{exit: os.Exit}
	for _, o := range opts {
		o(&cfg)
	}
	// os.Stdin and friends are read now, not at package initialisation, so
	// that a caller (or a test harness) that replaced them is honoured.
	if !cfg.consoleSet {
		cfg.in, cfg.out = os.Stdin, os.Stdout
	}
	if !cfg.logSet {
		cfg.log = os.Stderr
	}
	if cfg.log == nil {
		cfg.log = io.Discard
	}
	if cfg.name == "" {
		cfg.name = "kernel"
		if info.Program != "" {
			cfg.name = filepath.Base(info.Program)
		}
	}
	arena, err := NewArena(info.Memory)
	if err != nil {
		return nil, err
	}
	return &Platform{
		arena:   arena,
		info:    info,
		name:    cfg.name,
		console: &console{in: cfg.in, out: cfg.out},
		clock:   newClock(),
		exit:    cfg.exit,
		log:     cfg.log,
		lines:   make(map[*FDLine]struct{}),
	}, nil
}

// Memory implements kernsupport.Platform: the memfd-backed arena.
func (p *Platform) Memory() kernsupport.Memory { return p.arena }

// Arena returns the platform's physical memory with its hosted-specific
// calls (Addr, Manager).
func (p *Platform) Arena() *Arena { return p.arena }

// Info returns the boot information the platform was made with.
func (p *Platform) Info() *boot.Info { return p.info }

// Name returns the kernel's name, the prefix of its log lines.
func (p *Platform) Name() string { return p.name }

// Console implements kernsupport.Platform. The console keeps working after
// Close: it holds nothing to release, and a kernel may report its shutdown.
func (p *Platform) Console() kernsupport.Console { return p.console }

// Clock implements kernsupport.Platform: Now counts from New.
func (p *Platform) Clock() kernsupport.Clock { return p.clock }

// Logf implements kernsupport.Platform: it writes one line, "name: message",
// in one Write, adding the newline if the message lacks one. It works after
// Close too.
func (p *Platform) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	var b strings.Builder
	b.Grow(len(p.name) + 2 + len(msg) + 1)
	b.WriteString(p.name)
	b.WriteString(": ")
	b.WriteString(msg)
	if !strings.HasSuffix(msg, "\n") {
		b.WriteByte('\n')
	}
	p.logMu.Lock()
	defer p.logMu.Unlock()
	io.WriteString(p.log, b.String()) // a log has nowhere to report its own failure
}

// Halt implements kernsupport.Halter: it ends the process with status
// (os.Exit, or WithExit's function). It does not close the platform first;
// the host reclaims everything of an exiting process.
func (p *Platform) Halt(status int) { p.exit(status) }

// FDLine makes an interrupt line of host descriptor fd (see NewFDLine: the
// line owns fd; on error fd stays the caller's) and registers it with the
// platform, whose Close closes it if its driver has not. A closed platform
// makes no lines.
func (p *Platform) FDLine(fd int, name string) (*FDLine, error) {
	// p.mu is held while the line is made so that Close cannot run between
	// its making and its registering: a line made then would have to be
	// closed, taking the caller's fd with it on an error path.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("hosted: %s: %w", name, ErrClosed)
	}
	l, err := NewFDLine(fd, name)
	if err != nil {
		return nil, err
	}
	l.onClose = p.forget
	p.lines[l] = struct{}{}
	return l, nil
}

// FDIRQ implements kernsupport.FDIRQer with FDLine.
func (p *Platform) FDIRQ(fd int, name string) (kernsupport.IRQ, error) {
	l, err := p.FDLine(fd, name)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return l, nil
}

// forget drops a line its driver closed, so that the platform does not hold
// it (or close it again) until its own Close.
func (p *Platform) forget(l *FDLine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.lines, l)
}

// Close implements kernsupport.Platform: it stops pending timers (their
// calls will not run) and closes every interrupt line made by FDLine that is
// still open, ending pending waits with kernsupport.ErrIRQClosed. It does not
// wait for timer callbacks already running. Closing a closed platform does
// nothing.
func (p *Platform) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	lines := p.lines
	p.lines = make(map[*FDLine]struct{})
	p.mu.Unlock()

	p.clock.close()
	// Lines are closed without p.mu held: closing one waits for its running
	// poll functions, and calls forget.
	var errs []error
	for l := range lines {
		errs = append(errs, l.Close())
	}
	errs = append(errs, p.arena.Close())
	return errors.Join(errs...)
}
