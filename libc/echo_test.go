package libc_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"syscall"
	"testing"

	"github.com/goskit/goskit/libc"
)

// TestTCPEcho sends 1 MiB through an echo server, every step a libc call,
// with buffer and Nagle options set before connect and listen.
func TestTCPEcho(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		lfd := must(b.srv.Socket(syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_TCP))
		defer b.srv.Close(lfd)
		ok(t, b.srv.SetsockoptInt(lfd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1))
		ok(t, b.srv.SetsockoptInt(lfd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10))
		ok(t, b.srv.Bind(lfd, netip.AddrPortFrom(b.srvIP, 0)))
		ok(t, b.srv.Listen(lfd, 5))
		ap := must(b.srv.Getsockname(lfd))
		done := make(chan error, 1)
		go func() { done <- echo(b.srv, lfd) }()

		c := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(c)
		ok(t, b.cli.SetsockoptInt(c, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1))
		ok(t, b.cli.SetsockoptInt(c, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 32<<10))
		if v := must(b.cli.GetsockoptInt(c, syscall.IPPROTO_TCP, syscall.TCP_NODELAY)); v != 1 {
			t.Errorf("TCP_NODELAY reads %d", v)
		}
		if v := must(b.cli.GetsockoptInt(c, syscall.SOL_SOCKET, syscall.SO_SNDBUF)); v != 64<<10 {
			t.Errorf("SO_SNDBUF reads %d, want twice 32 KiB as Linux", v)
		}
		ok(t, b.cli.Connect(c, ap))
		if p := must(b.cli.Getpeername(c)); p != ap {
			t.Errorf("peer %v, want %v", p, ap)
		}
		msg := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
		wdone := make(chan error, 1)
		go func() {
			n, err := b.cli.Write(c, msg)
			if err == nil && n != len(msg) {
				err = fmt.Errorf("short write %d", n)
			}
			if err == nil {
				err = b.cli.Shutdown(c, syscall.SHUT_WR)
			}
			wdone <- err
		}()
		var got []byte
		buf := make([]byte, 10000)
		for {
			n, err := b.cli.Read(c, buf)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			got = append(got, buf[:n]...)
		}
		ok(t, <-wdone)
		ok(t, <-done)
		if !bytes.Equal(got, msg) {
			t.Fatalf("echo: got %d bytes, want %d", len(got), len(msg))
		}
	})
}

// echo accepts one connection and echoes it until EOF.
func echo(s *libc.System, lfd int) error {
	fd, _, err := s.Accept(lfd)
	if err != nil {
		return err
	}
	defer s.Close(fd)
	buf := make([]byte, 4096)
	for {
		n, err := s.Read(fd, buf)
		if err != nil {
			return err
		}
		if n == 0 {
			return s.Shutdown(fd, syscall.SHUT_WR)
		}
		if _, err := s.Write(fd, buf[:n]); err != nil {
			return err
		}
	}
}

func TestUDPEcho(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		sfd := must(b.srv.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0))
		defer b.srv.Close(sfd)
		ok(t, b.srv.Bind(sfd, netip.AddrPortFrom(b.srvIP, 0)))
		sap := must(b.srv.Getsockname(sfd))
		done := make(chan error, 1)
		go func() {
			buf := make([]byte, 2000)
			for range 3 {
				n, from, err := b.srv.RecvFrom(sfd, buf, 0)
				if err != nil {
					done <- err
					return
				}
				if _, err := b.srv.SendTo(sfd, buf[:n], 0, from); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		c := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0))
		defer b.cli.Close(c)
		buf := make([]byte, 2000)
		for i, msg := range []string{"one", "two", "three"} {
			var err error
			if i == 2 {
				// The last through a connected socket: Write, Read.
				ok(t, b.cli.Connect(c, sap))
				_, err = b.cli.Write(c, []byte(msg))
			} else {
				_, err = b.cli.SendTo(c, []byte(msg), 0, sap)
			}
			ok(t, err)
			n, from, err := b.cli.RecvFrom(c, buf, 0)
			ok(t, err)
			if string(buf[:n]) != msg || from != sap {
				t.Fatalf("got %q from %v, want %q from %v", buf[:n], from, msg, sap)
			}
		}
		ok(t, <-done)
		mine := must(b.cli.Getsockname(c))
		if mine.Addr() != b.cliIP || mine.Port() == 0 {
			t.Errorf("getsockname %v", mine)
		}
	})
}
