package libc_test

import (
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/goskit/goskit/libc"
	"golang.org/x/sys/unix"
)

// TestCloseWakesBlocked closes fds while other goroutines are blocked on
// them in Read, Accept, RecvFrom and Write; each call must return EBADF.
func TestCloseWakesBlocked(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		for _, tc := range []struct {
			name  string
			setup func(t *testing.T) (fd int, call func() error)
		}{
			{"read", func(t *testing.T) (int, func() error) {
				c, _ := connected(t, b)
				return c, func() error { _, err := b.cli.Read(c, make([]byte, 10)); return err }
			}},
			{"accept", func(t *testing.T) (int, func() error) {
				lfd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
				ok(t, b.cli.Bind(lfd, netip.AddrPortFrom(b.cliIP, 0)))
				ok(t, b.cli.Listen(lfd, 1))
				return lfd, func() error { _, _, err := b.cli.Accept(lfd); return err }
			}},
			{"recvfrom", func(t *testing.T) (int, func() error) {
				u := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0))
				ok(t, b.cli.Bind(u, netip.AddrPortFrom(b.cliIP, 0)))
				return u, func() error { _, _, err := b.cli.RecvFrom(u, make([]byte, 10), 0); return err }
			}},
			{"write", func(t *testing.T) (int, func() error) {
				// The peer never reads: the write fills both buffers and
				// blocks.
				c, _ := connected(t, b)
				ok(t, b.cli.SetsockoptInt(c, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096))
				return c, func() error { _, err := b.cli.Write(c, make([]byte, 64<<20)); return err }
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fd, call := tc.setup(t)
				res := make(chan error, 1)
				go func() { res <- call() }()
				// The call must block, not return.
				select {
				case err := <-res:
					t.Fatalf("returned before close: %v", err)
				case <-time.After(100 * time.Millisecond):
				}
				ok(t, b.cli.Close(fd))
				select {
				case err := <-res:
					// A write that got part out reports the part, as
					// write(2); one that got nothing out says EBADF.
					if err != syscall.EBADF && !(tc.name == "write" && err == nil) {
						t.Fatalf("got %v, want EBADF", err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("close did not wake the blocked call")
				}
			})
		}
	})
}

// TestBlockedCallBlocksOnlyItsFd checks a blocked Read leaves other fds
// of the same System working.
func TestBlockedCallBlocksOnlyItsFd(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		c1, _ := connected(t, b)
		c2, s2 := connected(t, b)
		res := make(chan error, 1)
		go func() { _, err := b.cli.Read(c1, make([]byte, 1)); res <- err }()
		time.Sleep(20 * time.Millisecond)
		if _, err := b.cli.Write(c2, []byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if n, err := b.srv.Read(s2, buf); err != nil || string(buf[:n]) != "ping" {
			t.Fatalf("read %q %v", buf[:n], err)
		}
		if _, err := b.cli.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0); err != nil {
			t.Fatal(err)
		}
		b.cli.Close(c1)
		<-res
	})
}

// TestHostNoFdLeak opens and closes host sockets of every kind and checks
// the process holds no more fds than before.
func TestHostNoFdLeak(t *testing.T) {
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	b := hostPair(t)
	before := count()
	for range 20 {
		lfd, ap := listener(t, b, 0)
		c := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		ok(t, b.cli.Connect(c, ap))
		s, _, err := b.srv.Accept(lfd)
		ok(t, err)
		u := must(b.cli.Socket(syscall.AF_INET6, syscall.SOCK_DGRAM, 0))
		// One closed while blocked: the host fd is closed by the woken call.
		res := make(chan error, 1)
		go func() { _, err := b.srv.Read(s, make([]byte, 1)); res <- err }()
		time.Sleep(time.Millisecond)
		ok(t, b.srv.Close(s))
		<-res
		ok(t, b.cli.Close(c))
		ok(t, b.cli.Close(u))
		ok(t, b.srv.Close(lfd))
	}
	if after := count(); after > before {
		t.Fatalf("%d fds before, %d after", before, after)
	}
}

// TestLinuxAddressFamily is the experiment behind checkAddr: Linux answers
// a sockaddr_in6 on an AF_INET socket with EAFNOSUPPORT, for bind, connect
// and sendto alike.
func TestLinuxAddressFamily(t *testing.T) {
	for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM} {
		fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		sa := &unix.SockaddrInet6{Port: 9, Addr: netip.IPv6Loopback().As16()}
		if err := unix.Bind(fd, sa); err != unix.EAFNOSUPPORT {
			t.Errorf("bind: %v", err)
		}
		if err := unix.Connect(fd, sa); err != unix.EAFNOSUPPORT {
			t.Errorf("connect: %v", err)
		}
		if typ == unix.SOCK_DGRAM {
			if err := unix.Sendto(fd, []byte("x"), 0, sa); err != unix.EAFNOSUPPORT {
				t.Errorf("sendto: %v", err)
			}
		}
		unix.Close(fd)
	}
}

// TestKitNICGone checks that calls blocked on a kit socket return ENETDOWN
// (and Poll POLLERR) soon after the NIC fails for good, not after TCP's
// timeouts: the wire is cut under both, as when a host interface vanishes.
func TestKitNICGone(t *testing.T) {
	b := kitPair(t)
	c1, _ := connected(t, b)
	c2, _ := connected(t, b)
	res := make(chan error, 1)
	go func() { _, err := b.cli.Read(c1, make([]byte, 1)); res <- err }()
	pres := make(chan int16, 1)
	go func() {
		pfd := []libc.PollFd{{Fd: int32(c2), Events: unix.POLLIN}}
		b.cli.Poll(pfd, -1)
		pres <- pfd[0].Revents
	}()
	time.Sleep(50 * time.Millisecond)
	b.srvWire.Close()
	select {
	case err := <-res:
		if err != syscall.ENETDOWN {
			t.Errorf("read: %v, want ENETDOWN", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("read still blocked 10s after the NIC failed")
	}
	select {
	case rev := <-pres:
		if rev&(unix.POLLERR|unix.POLLHUP|unix.POLLIN) == 0 {
			t.Errorf("poll revents %#x", rev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("poll still blocked 10s after the NIC failed")
	}
}

// TestCloseWakesConnect closes a socket whose blocking connect waits for
// an address nobody answers (on the wire, ARP never resolves).
func TestCloseWakesConnect(t *testing.T) {
	b := kitPair(t)
	fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
	res := make(chan error, 1)
	go func() { res <- b.cli.Connect(fd, netip.MustParseAddrPort("198.18.0.99:9")) }()
	time.Sleep(50 * time.Millisecond)
	ok(t, b.cli.Close(fd))
	select {
	case err := <-res:
		if err != syscall.EBADF {
			t.Fatalf("connect: %v, want EBADF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("close did not wake connect")
	}
}
