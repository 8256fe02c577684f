package libc_test

import (
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/libc"
	"golang.org/x/sys/unix"
)

func TestPoll(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		c, s := connected(t, b)
		// Nothing to read: a timed poll times out.
		pfd := []libc.PollFd{{Fd: int32(c), Events: unix.POLLIN}, {Fd: -1, Events: unix.POLLIN}}
		start := time.Now()
		n, err := b.cli.Poll(pfd, 50*time.Millisecond)
		if n != 0 || err != nil || time.Since(start) < 40*time.Millisecond {
			t.Fatalf("poll: %d %v after %v", n, err, time.Since(start))
		}
		// Writable now, not readable.
		pfd = []libc.PollFd{{Fd: int32(c), Events: unix.POLLIN | unix.POLLOUT}}
		if n, err := b.cli.Poll(pfd, 0); n != 1 || err != nil || pfd[0].Revents != unix.POLLOUT {
			t.Fatalf("poll: %d %v revents %#x", n, err, pfd[0].Revents)
		}
		// A blocked poll wakes when data arrives.
		go func() {
			time.Sleep(30 * time.Millisecond)
			b.srv.Write(s, []byte("x"))
		}()
		pfd = []libc.PollFd{{Fd: int32(c), Events: unix.POLLIN}}
		n, err = b.cli.Poll(pfd, -1)
		if err != nil || n != 1 || pfd[0].Revents != unix.POLLIN {
			t.Fatalf("poll: %d %v revents %#x", n, err, pfd[0].Revents)
		}
		// A closed fd is POLLNVAL, and counts as ready, as Linux's.
		pfd = []libc.PollFd{{Fd: int32(c), Events: unix.POLLIN}, {Fd: 99, Events: unix.POLLIN}}
		n, err = b.cli.Poll(pfd, -1)
		if err != nil || n != 2 || pfd[0].Revents != unix.POLLIN || pfd[1].Revents != unix.POLLNVAL {
			t.Fatalf("poll: %d %v revents %#x %#x", n, err, pfd[0].Revents, pfd[1].Revents)
		}
		// The peer's close: readable (EOF).
		b.srv.Close(s)
		buf := make([]byte, 1)
		b.cli.Read(c, buf)
		pfd = []libc.PollFd{{Fd: int32(c), Events: unix.POLLIN}}
		if n, err := b.cli.Poll(pfd, 5*time.Second); n != 1 || err != nil || pfd[0].Revents&unix.POLLIN == 0 {
			t.Fatalf("poll after peer close: %d %v revents %#x", n, err, pfd[0].Revents)
		}
		if n, err := b.cli.Read(c, buf); n != 0 || err != nil {
			t.Fatalf("read at EOF: %d %v", n, err)
		}
		// A listener polls readable when a connection is pending; the
		// console is ready for writing at once.
		lfd, ap := listener(t, b, 0)
		cfd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(cfd)
		ok(t, b.cli.Connect(cfd, ap))
		// (The kit's listener sees the handshake's last ACK a moment after
		// the client's connect returns: wait for it alone first.)
		pfd = []libc.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
		if n, err := b.srv.Poll(pfd, 5*time.Second); n != 1 || err != nil {
			t.Fatalf("poll listener: %d %v", n, err)
		}
		pfd = []libc.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}, {Fd: 1, Events: unix.POLLOUT}}
		if n, err := b.srv.Poll(pfd, 0); n != 2 || err != nil || pfd[0].Revents != unix.POLLIN || pfd[1].Revents != unix.POLLOUT {
			t.Fatalf("poll listener: %d %v revents %#x %#x", n, err, pfd[0].Revents, pfd[1].Revents)
		}
	})
}

func TestFcntl(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0))
		defer b.cli.Close(fd)
		if fl := must(b.cli.Fcntl(fd, syscall.F_GETFL, 0)); fl != syscall.O_RDWR {
			t.Errorf("F_GETFL %#x", fl)
		}
		if v := must(b.cli.Fcntl(fd, syscall.F_GETFD, 0)); v != syscall.FD_CLOEXEC {
			t.Errorf("F_GETFD %#x", v)
		}
		must(b.cli.Fcntl(fd, syscall.F_SETFD, 0))
		if v := must(b.cli.Fcntl(fd, syscall.F_GETFD, 0)); v != 0 {
			t.Errorf("F_GETFD after clear %#x", v)
		}
		must(b.cli.Fcntl(fd, syscall.F_SETFL, syscall.O_NONBLOCK))
		if fl := must(b.cli.Fcntl(fd, syscall.F_GETFL, 0)); fl != syscall.O_RDWR|syscall.O_NONBLOCK {
			t.Errorf("F_GETFL %#x", fl)
		}
		// Non-blocking now: accept says EAGAIN instead of waiting.
		ok(t, b.cli.Bind(fd, netip.AddrPortFrom(b.cliIP, 0)))
		ok(t, b.cli.Listen(fd, 1))
		if _, _, err := b.cli.Accept(fd); err != syscall.EAGAIN {
			t.Errorf("accept: %v", err)
		}
		if v := must(b.cli.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)); v != syscall.SOCK_STREAM {
			t.Errorf("SO_TYPE %d", v)
		}
		if v := must(b.cli.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)); v != 1 {
			t.Errorf("SO_ACCEPTCONN %d", v)
		}
	})
}

// TestFdNumbers checks POSIX's lowest-free-fd rule over the console fds.
func TestFdNumbers(t *testing.T) {
	b := kitPair(t)
	s := b.cli
	a := must(s.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0))
	c := must(s.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0))
	if a != 3 || c != 4 {
		t.Fatalf("fds %d %d, want 3 4", a, c)
	}
	ok(t, s.Close(a))
	ok(t, s.Close(0))
	if fd := must(s.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)); fd != 0 {
		t.Fatalf("fd %d, want 0 (lowest free)", fd)
	}
	if fd := must(s.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)); fd != 3 {
		t.Fatalf("fd %d, want 3", fd)
	}
}

func TestConsoleEnvClock(t *testing.T) {
	plat := newPlatform("typed input")
	info := &boot.Info{CommandLine: boot.CommandLine{Program: "ttcp", Args: []string{"-r", "-n", "5"}},
		Environ: []string{"HOME=/", "TERM=vt100", "EMPTY="}}
	var status = -1
	s := libc.New(plat, libc.Boot(info), libc.OnExit(func(c int) { status = c }))

	if n, err := s.Printf("%d bytes in %s\n", 42, "total"); n != 18 || err != nil {
		t.Errorf("Printf: %d %v", n, err)
	}
	s.Write(2, []byte("err\n"))
	if got := plat.output(); got != "42 bytes in total\nerr\n" {
		t.Errorf("console got %q", got)
	}
	buf := make([]byte, 5)
	if n, err := s.Read(0, buf); n != 5 || err != nil || string(buf) != "typed" {
		t.Errorf("read stdin: %q %v", buf[:n], err)
	}
	if _, err := s.Read(0, make([]byte, 100)); err != nil {
		t.Error(err)
	}
	if n, err := s.Read(0, buf); n != 0 || err != nil {
		t.Errorf("stdin EOF: %d %v", n, err)
	}
	if got := strings.Join(s.Args(), " "); got != "ttcp -r -n 5" {
		t.Errorf("Args %q", got)
	}
	if v, ok := s.Getenv("TERM"); v != "vt100" || !ok {
		t.Errorf("Getenv TERM %q %v", v, ok)
	}
	if v, ok := s.Getenv("EMPTY"); v != "" || !ok {
		t.Errorf("Getenv EMPTY %q %v", v, ok)
	}
	if _, ok := s.Getenv("NOPE"); ok {
		t.Error("Getenv NOPE set")
	}
	if len(s.Environ()) != 3 {
		t.Errorf("Environ %q", s.Environ())
	}

	m1 := must(s.ClockGettime(unix.CLOCK_MONOTONIC))
	ok(t, s.Nanosleep(10*time.Millisecond))
	m2 := must(s.ClockGettime(unix.CLOCK_MONOTONIC))
	if m2-m1 < 10*time.Millisecond {
		t.Errorf("monotonic advanced %v over a 10ms sleep", m2-m1)
	}
	rt := must(s.ClockGettime(unix.CLOCK_REALTIME))
	if d := time.Duration(time.Now().UnixNano()) - rt; d < 0 || d > time.Second {
		t.Errorf("realtime off by %v", d)
	}
	if _, err := s.ClockGettime(999); err != syscall.EINVAL {
		t.Errorf("bad clock: %v", err)
	}
	if err := s.Nanosleep(-1); err != syscall.EINVAL {
		t.Errorf("negative sleep: %v", err)
	}

	s.Exit(3)
	if status != 3 {
		t.Errorf("exit status %d", status)
	}
	if _, err := s.Write(1, []byte("x")); err != syscall.EBADF {
		t.Errorf("write after exit: %v", err)
	}
}

func TestStrerror(t *testing.T) {
	for _, tc := range []struct {
		e    syscall.Errno
		want string
	}{
		{0, "Success"},
		{syscall.EAGAIN, "Resource temporarily unavailable"},
		{syscall.ECONNREFUSED, "Connection refused"},
		{syscall.EBADF, "Bad file descriptor"},
		{syscall.ENOTSOCK, "Socket operation on non-socket"},
		{syscall.EINPROGRESS, "Operation now in progress"},
		{4000, "Unknown error 4000"},
	} {
		if got := libc.Strerror(tc.e); got != tc.want {
			t.Errorf("Strerror(%d) = %q, want %q", int(tc.e), got, tc.want)
		}
	}
}
