package libc_test

import (
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/goskit/goskit/libc"
	"golang.org/x/sys/unix"
)

// errnoCases is one table of calls and the errno Linux gives them, run on
// both backends: on host sockets it checks the table against Linux itself,
// on the kit that the kit behaves as Linux.
var errnoCases = []struct {
	name string
	want syscall.Errno
	call func(t *testing.T, b backend) error
}{
	{"close bad fd", syscall.EBADF, func(t *testing.T, b backend) error { return b.cli.Close(99) }},
	{"close negative fd", syscall.EBADF, func(t *testing.T, b backend) error { return b.cli.Close(-1) }},
	{"close twice", syscall.EBADF, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		ok(t, b.cli.Close(fd))
		return b.cli.Close(fd)
	}},
	{"read bad fd", syscall.EBADF, func(t *testing.T, b backend) error {
		_, err := b.cli.Read(42, make([]byte, 1))
		return err
	}},
	{"write bad fd", syscall.EBADF, func(t *testing.T, b backend) error {
		_, err := b.cli.Write(42, []byte("x"))
		return err
	}},
	{"bind on console", syscall.ENOTSOCK, func(t *testing.T, b backend) error {
		return b.cli.Bind(1, netip.AddrPortFrom(b.cliIP, 0))
	}},
	{"listen on console", syscall.ENOTSOCK, func(t *testing.T, b backend) error { return b.cli.Listen(0, 1) }},
	{"getsockopt on console", syscall.ENOTSOCK, func(t *testing.T, b backend) error {
		_, err := b.cli.GetsockoptInt(2, syscall.SOL_SOCKET, syscall.SO_TYPE)
		return err
	}},
	{"fcntl bad fd", syscall.EBADF, func(t *testing.T, b backend) error {
		_, err := b.cli.Fcntl(77, syscall.F_GETFL, 0)
		return err
	}},
	{"fcntl bad cmd", syscall.EINVAL, func(t *testing.T, b backend) error {
		_, err := b.cli.Fcntl(1, 9999, 0)
		return err
	}},
	{"socket AF_UNIX", syscall.EAFNOSUPPORT, func(t *testing.T, b backend) error {
		_, err := b.cli.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		return err
	}},
	{"socket family out of range", syscall.EAFNOSUPPORT, func(t *testing.T, b backend) error {
		_, err := b.cli.Socket(1000, syscall.SOCK_STREAM, 0)
		return err
	}},
	{"socket unknown type flag", syscall.EINVAL, func(t *testing.T, b backend) error {
		_, err := b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM|0x10000, 0)
		return err
	}},
	{"socket stream with UDP", syscall.EPROTONOSUPPORT, func(t *testing.T, b backend) error {
		_, err := b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_UDP)
		return err
	}},
	{"socket dgram with TCP", syscall.EPROTONOSUPPORT, func(t *testing.T, b backend) error {
		_, err := b.cli.Socket(syscall.AF_INET6, syscall.SOCK_DGRAM, syscall.IPPROTO_TCP)
		return err
	}},
	{"bind v6 on AF_INET", syscall.EAFNOSUPPORT, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(fd)
		return b.cli.Bind(fd, netip.MustParseAddrPort("[::1]:0"))
	}},
	{"connect v6 on AF_INET", syscall.EAFNOSUPPORT, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(fd)
		return b.cli.Connect(fd, netip.MustParseAddrPort("[::1]:9"))
	}},
	{"sendto v6 on AF_INET", syscall.EAFNOSUPPORT, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0))
		defer b.cli.Close(fd)
		_, err := b.cli.SendTo(fd, []byte("x"), 0, netip.MustParseAddrPort("[::1]:9"))
		return err
	}},
	{"bind twice", syscall.EINVAL, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(fd)
		ok(t, b.cli.Bind(fd, netip.AddrPortFrom(b.cliIP, 0)))
		return b.cli.Bind(fd, netip.AddrPortFrom(b.cliIP, 0))
	}},
	{"bind foreign address", syscall.EADDRNOTAVAIL, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(fd)
		return b.cli.Bind(fd, netip.AddrPortFrom(b.foreign, 0))
	}},
	{"bind port in use", syscall.EADDRINUSE, func(t *testing.T, b backend) error {
		_, ap := listener(t, b, 0)
		fd := must(b.srv.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.srv.Close(fd)
		return b.srv.Bind(fd, ap)
	}},
	{"bind listening port with SO_REUSEADDR", syscall.EADDRINUSE, func(t *testing.T, b backend) error {
		// SO_REUSEADDR does not let a second socket share a listening
		// port on Linux.
		_, ap := listener(t, b, 0)
		fd := must(b.srv.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.srv.Close(fd)
		ok(t, b.srv.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1))
		return b.srv.Bind(fd, ap)
	}},
	{"listen on UDP", syscall.EOPNOTSUPP, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0))
		defer b.cli.Close(fd)
		return b.cli.Listen(fd, 1)
	}},
	{"accept on unlistening socket", syscall.EINVAL, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(fd)
		_, _, err := b.cli.Accept(fd)
		return err
	}},
	{"accept non-blocking none pending", syscall.EAGAIN, func(t *testing.T, b backend) error {
		fd, _ := listener(t, b, syscall.SOCK_NONBLOCK)
		_, _, err := b.srv.Accept(fd)
		return err
	}},
	{"accept4 bad flags", syscall.EINVAL, func(t *testing.T, b backend) error {
		fd, _ := listener(t, b, syscall.SOCK_NONBLOCK)
		_, _, err := b.srv.Accept4(fd, 0x4)
		return err
	}},
	{"read non-blocking no data", syscall.EAGAIN, func(t *testing.T, b backend) error {
		c, _ := connected(t, b)
		must(b.cli.Fcntl(c, syscall.F_SETFL, syscall.O_NONBLOCK))
		_, err := b.cli.Read(c, make([]byte, 10))
		return err
	}},
	{"recvfrom MSG_DONTWAIT no data", syscall.EAGAIN, func(t *testing.T, b backend) error {
		c, _ := connected(t, b)
		_, _, err := b.cli.RecvFrom(c, make([]byte, 10), syscall.MSG_DONTWAIT)
		return err
	}},
	{"udp recvfrom non-blocking", syscall.EAGAIN, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK, 0))
		defer b.cli.Close(fd)
		ok(t, b.cli.Bind(fd, netip.AddrPortFrom(b.cliIP, 0)))
		_, _, err := b.cli.RecvFrom(fd, make([]byte, 10), 0)
		return err
	}},
	{"read unconnected", syscall.ENOTCONN, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(fd)
		_, err := b.cli.Read(fd, make([]byte, 1))
		return err
	}},
	{"read listening", syscall.ENOTCONN, func(t *testing.T, b backend) error {
		fd, _ := listener(t, b, 0)
		_, err := b.srv.Read(fd, make([]byte, 1))
		return err
	}},
	{"write unconnected", syscall.EPIPE, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(fd)
		_, err := b.cli.Write(fd, []byte("x"))
		return err
	}},
	{"udp write unconnected", syscall.EDESTADDRREQ, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0))
		defer b.cli.Close(fd)
		_, err := b.cli.Write(fd, []byte("x"))
		return err
	}},
	{"write after shutdown", syscall.EPIPE, func(t *testing.T, b backend) error {
		c, _ := connected(t, b)
		ok(t, b.cli.Shutdown(c, syscall.SHUT_WR))
		_, err := b.cli.Write(c, []byte("x"))
		return err
	}},
	{"getpeername unconnected", syscall.ENOTCONN, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(fd)
		_, err := b.cli.Getpeername(fd)
		return err
	}},
	{"shutdown unconnected", syscall.ENOTCONN, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(fd)
		return b.cli.Shutdown(fd, syscall.SHUT_RDWR)
	}},
	{"shutdown bad how", syscall.EINVAL, func(t *testing.T, b backend) error {
		c, _ := connected(t, b)
		return b.cli.Shutdown(c, 7)
	}},
	{"connect connected", syscall.EISCONN, func(t *testing.T, b backend) error {
		c, _ := connected(t, b)
		ap := must(b.cli.Getpeername(c))
		return b.cli.Connect(c, ap)
	}},
	{"connect listening", syscall.EISCONN, func(t *testing.T, b backend) error {
		fd, ap := listener(t, b, 0)
		return b.srv.Connect(fd, ap)
	}},
	{"listen connected", syscall.EINVAL, func(t *testing.T, b backend) error {
		c, _ := connected(t, b)
		return b.cli.Listen(c, 1)
	}},
	{"connect refused", syscall.ECONNREFUSED, func(t *testing.T, b backend) error {
		ap := closedPort(t, b)
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(fd)
		return b.cli.Connect(fd, ap)
	}},
	{"connect non-blocking", syscall.EINPROGRESS, func(t *testing.T, b backend) error {
		_, ap := listener(t, b, 0)
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0))
		defer b.cli.Close(fd)
		return b.cli.Connect(fd, ap)
	}},
	{"setsockopt unknown", syscall.ENOPROTOOPT, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
		defer b.cli.Close(fd)
		return b.cli.SetsockoptInt(fd, syscall.SOL_SOCKET, 9999, 1)
	}},
	{"TCP_NODELAY on UDP", syscall.ENOPROTOOPT, func(t *testing.T, b backend) error {
		fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0))
		defer b.cli.Close(fd)
		return b.cli.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	}},
}

func TestErrno(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		for _, tc := range errnoCases {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call(t, b)
				if err != tc.want {
					t.Errorf("got %v (%#v), want %v", err, err, tc.want)
				}
			})
		}
	})
}

// TestNonblockingConnect checks EINPROGRESS then POLLOUT with SO_ERROR
// telling the outcome: 0 to a listener, ECONNREFUSED to a closed port.
func TestNonblockingConnect(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		_, open := listener(t, b, 0)
		for _, tc := range []struct {
			name string
			to   netip.AddrPort
			want int
		}{
			{"open", open, 0},
			{"closed", closedPort(t, b), int(syscall.ECONNREFUSED)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fd := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0))
				defer b.cli.Close(fd)
				if err := b.cli.Connect(fd, tc.to); err != syscall.EINPROGRESS {
					t.Fatalf("connect: %v, want EINPROGRESS", err)
				}
				pfd := []libc.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
				n, err := b.cli.Poll(pfd, 5*time.Second)
				if n != 1 || err != nil || pfd[0].Revents&(unix.POLLOUT|unix.POLLERR|unix.POLLHUP) == 0 {
					t.Fatalf("poll: %d %v revents %#x", n, err, pfd[0].Revents)
				}
				v, err := b.cli.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
				if err != nil || v != tc.want {
					t.Fatalf("SO_ERROR %d %v, want %d", v, err, tc.want)
				}
			})
		}
	})
}
