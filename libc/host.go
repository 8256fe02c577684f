package libc

import (
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// hostSock is a host kernel socket. Every call is the system call itself,
// with the host fd in the blocking mode the program chose, so blocking
// calls block in the kernel (the OS thread, as a C program's) and errno is
// Linux's own.
//
// Closing while another goroutine is inside a call: the fd is reference
// counted; close marks it closing, shuts the socket down to wake blocked
// calls (Linux's close does not wake them), and the last call out closes
// the host fd, so no call ever uses a host fd number after its reuse.
type hostSock struct {
	mu      sync.Mutex
	fd      int
	refs    int
	closing bool
}

func newHostSock(domain, typ, proto int) (sock, error) {
	// The host fd is always close-on-exec: the program's FD_CLOEXEC is
	// kept by libc, and nothing of libc's should leak into a child the
	// host process might start.
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, err
	}
	return &hostSock{fd: fd}, nil
}

func (h *hostSock) acquire() (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return -1, syscall.EBADF
	}
	h.refs++
	return h.fd, nil
}

func (h *hostSock) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refs--
	if h.closing && h.refs == 0 {
		unix.Close(h.fd)
	}
}

// done finishes a call: any outcome after Close began is EBADF, as the
// call was woken by close's shutdown (a read then sees end of stream, not
// an error) or raced with it; the fd is gone either way.
func (h *hostSock) done(err error) error {
	h.mu.Lock()
	closing := h.closing
	h.mu.Unlock()
	if closing {
		return syscall.EBADF
	}
	return err
}

func errnoOf(err error) error {
	if e, ok := err.(syscall.Errno); ok {
		return e
	}
	if err != nil {
		return syscall.EIO
	}
	return nil
}

func toSockaddr(ap netip.AddrPort) unix.Sockaddr {
	a := ap.Addr()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
}

func fromSockaddr(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// call runs op on the host fd, retrying EINTR.
func (h *hostSock) call(op func(fd int) error) error {
	fd, err := h.acquire()
	if err != nil {
		return err
	}
	defer h.release()
	for {
		err = op(fd)
		if err != unix.EINTR {
			return errnoOf(h.done(err))
		}
	}
}

func (h *hostSock) bind(ap netip.AddrPort) error {
	return h.call(func(fd int) error { return unix.Bind(fd, toSockaddr(ap)) })
}

func (h *hostSock) listen(backlog int) error {
	return h.call(func(fd int) error { return unix.Listen(fd, backlog) })
}

func (h *hostSock) accept(_ *file, flags int) (sock, netip.AddrPort, error) {
	var nfd int
	var sa unix.Sockaddr
	err := h.call(func(fd int) error {
		var err error
		nfd, sa, err = unix.Accept4(fd, flags|unix.SOCK_CLOEXEC)
		return err
	})
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	return &hostSock{fd: nfd}, fromSockaddr(sa), nil
}

func (h *hostSock) connect(_ *file, ap netip.AddrPort) error {
	return h.call(func(fd int) error { return unix.Connect(fd, toSockaddr(ap)) })
}

func (h *hostSock) recv(_ *file, p []byte, flags int, from bool) (int, netip.AddrPort, error) {
	var n int
	var sa unix.Sockaddr
	err := h.call(func(fd int) error {
		var err error
		if !from && flags == 0 {
			n, err = unix.Read(fd, p)
		} else {
			n, sa, err = unix.Recvfrom(fd, p, flags)
		}
		return err
	})
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	return n, fromSockaddr(sa), nil
}

func (h *hostSock) send(f *file, p []byte, flags int, to *netip.AddrPort) (int, error) {
	var sa unix.Sockaddr
	if to != nil {
		sa = toSockaddr(*to)
	}
	sent := 0
	for {
		var n int
		err := h.call(func(fd int) error {
			var err error
			if sa == nil && flags == 0 {
				n, err = unix.Write(fd, p[sent:])
			} else {
				n, err = unix.SendmsgN(fd, p[sent:], nil, sa, flags|unix.MSG_NOSIGNAL)
			}
			return err
		})
		if n > 0 {
			sent += n
		}
		if err != nil {
			if sent > 0 {
				// As write(2): the part that went out, the error on the
				// next call.
				return sent, nil
			}
			return 0, err
		}
		// A blocking socket's write is complete unless a signal cut it
		// short; finish it then, as the program asked for all of p.
		if sent >= len(p) || sa != nil || f.nonblock() || flags&unix.MSG_DONTWAIT != 0 {
			return sent, nil
		}
	}
}

func (h *hostSock) shutdown(how int) error {
	return h.call(func(fd int) error { return unix.Shutdown(fd, how) })
}

func (h *hostSock) setsockopt(level, opt, v int) error {
	return h.call(func(fd int) error { return unix.SetsockoptInt(fd, level, opt, v) })
}

func (h *hostSock) getsockopt(level, opt int) (int, error) {
	var v int
	err := h.call(func(fd int) error {
		var err error
		v, err = unix.GetsockoptInt(fd, level, opt)
		return err
	})
	return v, err
}

func (h *hostSock) sockname() (netip.AddrPort, error) {
	var sa unix.Sockaddr
	err := h.call(func(fd int) error {
		var err error
		sa, err = unix.Getsockname(fd)
		return err
	})
	return fromSockaddr(sa), err
}

func (h *hostSock) peername() (netip.AddrPort, error) {
	var sa unix.Sockaddr
	err := h.call(func(fd int) error {
		var err error
		sa, err = unix.Getpeername(fd)
		return err
	})
	return fromSockaddr(sa), err
}

func (h *hostSock) setNonblock(nb bool) error {
	return h.call(func(fd int) error { return unix.SetNonblock(fd, nb) })
}

func (h *hostSock) close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return syscall.EBADF
	}
	h.closing = true
	if h.refs > 0 {
		// Wake the calls inside the kernel; the last one closes the fd.
		unix.Shutdown(h.fd, unix.SHUT_RDWR)
		return nil
	}
	return errnoOf(unix.Close(h.fd))
}
