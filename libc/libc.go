// Package libc provides goskit's minimal POSIX-style system layer, the Go
// form of the OSKit's minimal C library and its POSIX glue: one file
// descriptor table over the console, sockets and files (a namespace of
// goskit file systems given by FS; see files.go), errors as syscall.Errno
// values, unbuffered Printf to the console, argv and environment from boot
// information, clocks, sleep and exit.
//
// A System runs its sockets on one of two backends:
//
//   - the kit's TCP/IP, Net(stack) with a *netstack.Stack;
//   - the host kernel's own sockets, HostSockets() (the OSKit's "emulated"
//     network mode): real Linux sockets reached with golang.org/x/sys/unix,
//     every call passed through, so a program measured on it measures
//     Linux, errno and all.
//
// The calls keep Linux's argument meanings, constants (those of package
// syscall) and errno, because libc is to become the backend of a Linux
// system-call personality on bare metal. Both backends are tested against
// one table of calls and expected errno values.
//
// # Execution environment
//
// A System is safe for concurrent use: the fd table is locked, and a call
// blocks only its own goroutine (on host sockets, its OS thread, as a C
// program's would), never calls on other fds. Closing an fd while another
// goroutine is blocked on it (Read, Write, Accept, Connect, RecvFrom) wakes
// that call with EBADF: on the kit by a channel the blocked call selects
// on; on host sockets by shutdown(2) of the socket, the only thing that
// wakes a thread blocked in the kernel (so the peer sees the shutdown before
// the close), and the host fd is closed only when the last call using it
// returns, so a recycled host fd number is never touched. Console reads
// cannot be interrupted: a Read on fd 0 returns when the console gives
// input.
//
// A System holds no global state: any number can live in one process,
// each with its own fd table. fds 0, 1 and 2 are the platform console
// (reads read it, writes write it, unbuffered); new fds are the lowest free
// number, as POSIX's, so sockets start at 3.
package libc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/kernsupport"
	"github.com/goskit/goskit/netstack"
	"golang.org/x/sys/unix"
)

// System is one program's system layer: its fd table, sockets backend,
// arguments and environment.
type System struct {
	plat   kernsupport.Platform
	stack  *netstack.Stack // kit backend, or nil
	host   bool            // host sockets backend
	args   []string
	env    []string
	onExit func(int)

	mu  sync.Mutex
	fds []*file // index is the fd; nil is free

	heap heap // Malloc's allocations, see malloc.go

	files filesys // the namespace and file state, see files.go
}

// Option configures a System.
type Option func(*System)

// Net runs sockets on n. A *netstack.Stack is the kit's TCP/IP;
// netstack.Host selects host sockets, as HostSockets. Any other Network
// cannot give socket(2)'s semantics (bind before listen, EINPROGRESS), and
// Socket returns EAFNOSUPPORT on it.
func Net(n netstack.Network) Option {
	return func(s *System) {
		switch n := n.(type) {
		case *netstack.Stack:
			s.stack, s.host = n, false
		case netstack.Host, *netstack.Host:
			s.stack, s.host = nil, true
		}
	}
}

// HostSockets runs sockets on the host kernel's own: every socket call is
// the Linux system call.
func HostSockets() Option { return func(s *System) { s.stack, s.host = nil, true } }

// Args sets argv: args[0] is the program name.
func Args(args []string) Option {
	return func(s *System) { s.args = append([]string(nil), args...) }
}

// Env sets the environment, NAME=value strings.
func Env(env []string) Option {
	return func(s *System) { s.env = boot.MergeEnviron(nil, env) }
}

// Boot takes argv (program name, then arguments) and the environment from
// boot information.
func Boot(info *boot.Info) Option {
	return func(s *System) {
		s.args = append([]string{info.Program}, info.Args...)
		s.env = boot.MergeEnviron(nil, info.Environ)
	}
}

// OnExit makes Exit call f with the status instead of halting: for tests,
// and for kernels that run several programs.
func OnExit(f func(status int)) Option { return func(s *System) { s.onExit = f } }

// New makes a System on plat. Of Net and HostSockets the last given wins;
// without either, Socket returns EAFNOSUPPORT. plat may be nil (tests):
// the console then reads end of file and discards writes, clocks are the
// host's, and Exit calls os.Exit.
func New(plat kernsupport.Platform, opts ...Option) *System {
	s := &System{plat: plat}
	for _, o := range opts {
		o(s)
	}
	for range 3 {
		s.fds = append(s.fds, &file{console: true, closed: make(chan struct{}), refs: 1})
	}
	return s
}

// file is what an fd refers to, an open file description: the console,
// a socket, or a file or directory (files.go). Dup puts one file at
// several fds.
type file struct {
	console bool
	sock    sock      // nil for the console and files
	of      *openFile // a file or directory, or nil
	refs    int       // fds referring to it, under System.mu
	domain  int       // AF_INET or AF_INET6
	typ     int       // SOCK_STREAM or SOCK_DGRAM

	mu      sync.Mutex
	nonblk  bool
	cloexec bool

	closed    chan struct{} // closed by Close, wakes blocked kit calls
	closeOnce sync.Once
}

func (f *file) nonblock() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nonblk
}

func (f *file) isClosed() bool {
	select {
	case <-f.closed:
		return true
	default:
		return false
	}
}

// install puts f at the lowest free fd.
func (s *System) install(f *file) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.refs++
	for i, g := range s.fds {
		if g == nil {
			s.fds[i] = f
			return i
		}
	}
	s.fds = append(s.fds, f)
	return len(s.fds) - 1
}

// unref drops one fd's reference to f, under s.mu, and reports whether it
// was the last (the caller then closes f, outside s.mu).
func (s *System) unref(f *file) bool {
	f.refs--
	return f.refs == 0
}

func (s *System) get(fd int) (*file, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fd < 0 || fd >= len(s.fds) || s.fds[fd] == nil {
		return nil, syscall.EBADF
	}
	return s.fds[fd], nil
}

func (s *System) getSock(fd int) (*file, error) {
	f, err := s.get(fd)
	if err != nil {
		return nil, err
	}
	if f.sock == nil {
		return nil, syscall.ENOTSOCK
	}
	return f, nil
}

// Close closes fd. A call blocked on fd in another goroutine returns
// EBADF.
func (s *System) Close(fd int) error {
	s.mu.Lock()
	if fd < 0 || fd >= len(s.fds) || s.fds[fd] == nil {
		s.mu.Unlock()
		return syscall.EBADF
	}
	f := s.fds[fd]
	s.fds[fd] = nil
	last := s.unref(f)
	s.mu.Unlock()
	if !last {
		return nil // another fd still refers to it (Dup)
	}
	return f.close()
}

func (f *file) close() error {
	var err error
	f.closeOnce.Do(func() {
		if f.closed != nil { // files have none: nothing blocks on them
			close(f.closed)
		}
		if f.sock != nil {
			err = f.sock.close()
		}
	})
	return err
}

// Read reads from fd: the console, or a socket (read(2) on a socket is
// recv with no flags; 0 with a nil error is end of stream).
func (s *System) Read(fd int, p []byte) (int, error) {
	f, err := s.get(fd)
	if err != nil {
		return 0, err
	}
	if f.console {
		if s.plat == nil {
			return 0, nil
		}
		n, err := s.plat.Console().Read(p)
		if n > 0 || err == nil {
			return n, nil
		}
		if errors.Is(err, io.EOF) {
			return 0, nil
		}
		return 0, syscall.EIO
	}
	if f.of != nil {
		return f.of.read(p)
	}
	n, _, err := f.sock.recv(f, p, 0, false)
	return n, err
}

// Write writes p to fd. On a blocking socket it writes all of p, or fails;
// on a non-blocking one it writes what fits, EAGAIN when nothing does. A
// write to a socket whose writing side is shut down fails with EPIPE (no
// SIGPIPE: there are no signals).
func (s *System) Write(fd int, p []byte) (int, error) {
	f, err := s.get(fd)
	if err != nil {
		return 0, err
	}
	if f.console {
		if s.plat == nil {
			return len(p), nil
		}
		n, err := s.plat.Console().Write(p)
		if err != nil && n == 0 {
			return 0, syscall.EIO
		}
		return n, nil
	}
	if f.of != nil {
		return s.writeFile(f.of, p)
	}
	return f.sock.send(f, p, 0, nil)
}

// Printf formats as fmt.Printf and writes the result to fd 1 at once, with
// no buffering (the OSKit's console printf). It returns the bytes written.
func (s *System) Printf(format string, args ...any) (int, error) {
	return s.Write(1, []byte(fmt.Sprintf(format, args...)))
}

// Fcntl implements F_GETFL/F_SETFL (O_NONBLOCK, and O_APPEND on files;
// the access mode reads as O_RDWR for sockets and the console and as
// opened for files; other flags are ignored, as Linux ignores what it
// cannot change), F_GETFD/F_SETFD (FD_CLOEXEC) and F_DUPFD,
// F_DUPFD_CLOEXEC (Dup to the lowest free fd >= arg). The console keeps
// O_NONBLOCK as a flag only: its reads always block.
func (s *System) Fcntl(fd, cmd, arg int) (int, error) {
	if cmd == syscall.F_DUPFD || cmd == syscall.F_DUPFD_CLOEXEC {
		return s.dupMin(fd, arg, cmd == syscall.F_DUPFD_CLOEXEC)
	}
	f, err := s.get(fd)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch cmd {
	case syscall.F_GETFL:
		fl := syscall.O_RDWR
		if f.of != nil {
			fl = f.of.getfl()
		}
		if f.nonblk {
			fl |= syscall.O_NONBLOCK
		}
		return fl, nil
	case syscall.F_SETFL:
		nb := arg&syscall.O_NONBLOCK != 0
		if f.sock != nil && nb != f.nonblk {
			if err := f.sock.setNonblock(nb); err != nil {
				return 0, err
			}
		}
		f.nonblk = nb
		if f.of != nil {
			f.of.setfl(arg)
		}
		return 0, nil
	case syscall.F_GETFD:
		if f.cloexec {
			return syscall.FD_CLOEXEC, nil
		}
		return 0, nil
	case syscall.F_SETFD:
		f.cloexec = arg&syscall.FD_CLOEXEC != 0
		return 0, nil
	}
	return 0, syscall.EINVAL
}

// Args returns argv: the program name, then its arguments.
func (s *System) Args() []string { return append([]string(nil), s.args...) }

// Environ returns the environment as NAME=value strings.
func (s *System) Environ() []string { return append([]string(nil), s.env...) }

// Getenv returns the value of the environment variable key and whether it
// is set.
func (s *System) Getenv(key string) (string, bool) {
	for _, kv := range s.env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Clock ids of ClockGettime, with Linux's values (package syscall has
// none), so programs on libc need not reach for the host's headers.
const (
	CLOCK_REALTIME         = unix.CLOCK_REALTIME
	CLOCK_MONOTONIC        = unix.CLOCK_MONOTONIC
	CLOCK_MONOTONIC_RAW    = unix.CLOCK_MONOTONIC_RAW
	CLOCK_REALTIME_COARSE  = unix.CLOCK_REALTIME_COARSE
	CLOCK_MONOTONIC_COARSE = unix.CLOCK_MONOTONIC_COARSE
	CLOCK_BOOTTIME         = unix.CLOCK_BOOTTIME
)

// ClockGettime returns the time of clock clockid: CLOCK_MONOTONIC (also
// CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE and CLOCK_BOOTTIME) is the
// platform clock, time since the platform started; CLOCK_REALTIME (and
// CLOCK_REALTIME_COARSE) is wall time since the Unix epoch. Other clocks
// are EINVAL, as Linux's unknown ids.
func (s *System) ClockGettime(clockid int) (time.Duration, error) {
	switch clockid {
	case unix.CLOCK_MONOTONIC, unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_BOOTTIME:
		if s.plat == nil {
			return time.Duration(time.Now().UnixNano()), nil
		}
		return s.plat.Clock().Now(), nil
	case unix.CLOCK_REALTIME, unix.CLOCK_REALTIME_COARSE:
		if s.plat == nil {
			return time.Duration(time.Now().UnixNano()), nil
		}
		return time.Duration(s.plat.Clock().Wall().UnixNano()), nil
	}
	return 0, syscall.EINVAL
}

// Nanosleep sleeps for d on the platform clock; a negative d is EINVAL.
func (s *System) Nanosleep(d time.Duration) error {
	if d < 0 {
		return syscall.EINVAL
	}
	if s.plat == nil {
		time.Sleep(d)
		return nil
	}
	s.plat.Clock().Sleep(d)
	return nil
}

// Exit closes every fd (so peers see their connections end, as when a
// process exits) and ends the program with status: through the OnExit
// function if one was given (Exit then returns when it does), else the
// platform's Halter, else, on a platform that cannot halt, os.Exit (a
// hosted kernel is a process).
func (s *System) Exit(status int) {
	s.mu.Lock()
	fds := s.fds
	s.fds = make([]*file, len(fds))
	for i, f := range fds {
		if f != nil && !s.unref(f) {
			fds[i] = nil // another fd still refers to it
		}
	}
	s.mu.Unlock()
	for _, f := range fds {
		if f != nil {
			f.close()
		}
	}
	if s.onExit != nil {
		s.onExit(status)
		return
	}
	if h, ok := s.plat.(kernsupport.Halter); ok {
		h.Halt(status)
		return
	}
	os.Exit(status)
}

// Strerror returns Linux's (glibc's) message for errno.
func Strerror(errno syscall.Errno) string {
	if errno == 0 {
		return "Success"
	}
	m := errno.Error()
	if strings.HasPrefix(m, "errno ") {
		return fmt.Sprintf("Unknown error %d", int(errno))
	}
	// Go's table is glibc's with the first letter lowered.
	return strings.ToUpper(m[:1]) + m[1:]
}

// Strerror is the package's Strerror, as a method for programs that hold
// only a System.
func (s *System) Strerror(errno syscall.Errno) string { return Strerror(errno) }
