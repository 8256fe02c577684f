package libc_test

import (
	"net/netip"
	"syscall"
	"testing"
)

// TestDualStack uses AF_INET6 sockets with IPv4 addresses: they go as
// v4-mapped, and addresses come back v4-mapped, as on Linux.
func TestDualStack(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		lfd := must(b.srv.Socket(syscall.AF_INET6, syscall.SOCK_STREAM, 0))
		defer b.srv.Close(lfd)
		ok(t, b.srv.Bind(lfd, netip.AddrPortFrom(netip.IPv6Unspecified(), 0)))
		ok(t, b.srv.Listen(lfd, 1))
		port := must(b.srv.Getsockname(lfd)).Port()
		c := must(b.cli.Socket(syscall.AF_INET6, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(c)
		ok(t, b.cli.Connect(c, netip.AddrPortFrom(b.srvIP, port)))
		s, peer, err := b.srv.Accept(lfd)
		ok(t, err)
		defer b.srv.Close(s)
		mapped := func(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }
		if peer.Addr() != mapped(b.cliIP) {
			t.Errorf("accepted peer %v, want v4-mapped %v", peer, b.cliIP)
		}
		if p := must(b.cli.Getpeername(c)); p != netip.AddrPortFrom(mapped(b.srvIP), port) {
			t.Errorf("getpeername %v", p)
		}
		if l := must(b.srv.Getsockname(s)); l.Addr() != mapped(b.srvIP) || l.Port() != port {
			t.Errorf("getsockname %v", l)
		}
	})
}

// TestNonblockingWrite fills a non-blocking socket whose peer does not
// read: writes return short counts, then EAGAIN.
func TestNonblockingWrite(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		c, _ := connected(t, b)
		must(b.cli.Fcntl(c, syscall.F_SETFL, syscall.O_NONBLOCK))
		buf := make([]byte, 1<<20)
		short := false
		for i := 0; ; i++ {
			n, err := b.cli.Write(c, buf)
			if err == syscall.EAGAIN {
				break
			}
			ok(t, err)
			if n < len(buf) {
				short = true
			}
			if i > 1000 {
				t.Fatal("never EAGAIN")
			}
		}
		if !short {
			t.Error("no short write before EAGAIN")
		}
	})
}

// TestEdges covers calls whose success has a Linux-specific shape.
func TestEdges(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(fd)
		if ap := must(b.cli.Getsockname(fd)); ap != netip.MustParseAddrPort("0.0.0.0:0") {
			t.Errorf("getsockname unbound: %v", ap)
		}
		fd6 := must(b.cli.Socket(syscall.AF_INET6, syscall.SOCK_DGRAM, 0))
		defer b.cli.Close(fd6)
		if ap := must(b.cli.Getsockname(fd6)); ap != netip.MustParseAddrPort("[::]:0") {
			t.Errorf("getsockname unbound v6: %v", ap)
		}
		// An empty read of a connected stream returns 0 at once.
		c, _ := connected(t, b)
		if n, err := b.cli.Read(c, nil); n != 0 || err != nil {
			t.Errorf("empty read: %d %v", n, err)
		}
		if v := must(b.cli.GetsockoptInt(c, syscall.SOL_SOCKET, syscall.SO_ERROR)); v != 0 {
			t.Errorf("SO_ERROR %d", v)
		}
		if v := must(b.cli.GetsockoptInt(c, syscall.SOL_SOCKET, syscall.SO_REUSEADDR)); v != 0 {
			t.Errorf("SO_REUSEADDR %d", v)
		}
		ok(t, b.cli.SetsockoptInt(c, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1))
		if v := must(b.cli.GetsockoptInt(c, syscall.SOL_SOCKET, syscall.SO_REUSEADDR)); v != 1 {
			t.Errorf("SO_REUSEADDR %d after set", v)
		}
	})
}
