package libc

import (
	"net/netip"
	"syscall"
)

// sock is one backend's socket. Methods that may block take the file, for
// its O_NONBLOCK flag and its closed channel; nonblock forces non-blocking
// for one call (MSG_DONTWAIT).
type sock interface {
	bind(ap netip.AddrPort) error
	listen(backlog int) error
	accept(f *file, flags int) (sock, netip.AddrPort, error)
	connect(f *file, ap netip.AddrPort) error
	recv(f *file, p []byte, flags int, from bool) (int, netip.AddrPort, error)
	send(f *file, p []byte, flags int, to *netip.AddrPort) (int, error)
	shutdown(how int) error
	setsockopt(level, opt, v int) error
	getsockopt(level, opt int) (int, error)
	sockname() (netip.AddrPort, error)
	peername() (netip.AddrPort, error)
	setNonblock(nb bool) error
	close() error
}

// Socket creates a socket: domain AF_INET or AF_INET6, type SOCK_STREAM or
// SOCK_DGRAM or'ed with SOCK_NONBLOCK and SOCK_CLOEXEC, protocol 0 or the
// type's own (IPPROTO_TCP, IPPROTO_UDP). Errors are Linux's: EINVAL for
// unknown type flags or an out-of-range type, EAFNOSUPPORT for other
// domains, ESOCKTNOSUPPORT for other types, EPROTONOSUPPORT for a protocol
// not of the type.
func (s *System) Socket(domain, typ, proto int) (int, error) {
	flags := typ & (syscall.SOCK_NONBLOCK | syscall.SOCK_CLOEXEC)
	typ &^= flags
	// The checks in the order of Linux's sys_socket and __sock_create.
	if typ&^0xf != 0 {
		return -1, syscall.EINVAL
	}
	if domain < 0 || domain >= syscall.AF_MAX {
		return -1, syscall.EAFNOSUPPORT
	}
	if typ < 0 || typ >= 11 /* SOCK_MAX */ {
		return -1, syscall.EINVAL
	}
	if domain != syscall.AF_INET && domain != syscall.AF_INET6 {
		return -1, syscall.EAFNOSUPPORT
	}
	var sk sock
	var err error
	switch {
	case s.host:
		sk, err = newHostSock(domain, typ|flags, proto)
	case s.stack != nil:
		sk, err = newKitSock(s.stack, domain, typ, proto)
	default:
		err = syscall.EAFNOSUPPORT
	}
	if err != nil {
		return -1, err
	}
	f := &file{sock: sk, domain: domain, typ: typ, closed: make(chan struct{}),
		nonblk: flags&syscall.SOCK_NONBLOCK != 0, cloexec: flags&syscall.SOCK_CLOEXEC != 0}
	return s.install(f), nil
}

// checkAddr applies Linux's address-family rule: an AF_INET socket takes
// only IPv4 addresses (EAFNOSUPPORT otherwise, which is what Linux answers
// to a sockaddr_in6 there); an AF_INET6 socket takes both, IPv4 as
// v4-mapped.
func checkAddr(f *file, ap netip.AddrPort) (netip.AddrPort, error) {
	a := ap.Addr()
	if !a.IsValid() {
		return ap, syscall.EINVAL
	}
	if f.domain == syscall.AF_INET {
		if !a.Is4() {
			return ap, syscall.EAFNOSUPPORT
		}
		return ap, nil
	}
	return netip.AddrPortFrom(netip.AddrFrom16(a.As16()), ap.Port()), nil
}

// outAddr presents an address as the socket's family does: v4-mapped on
// AF_INET6, as Linux's getsockname and accept return.
func outAddr(f *file, ap netip.AddrPort) netip.AddrPort {
	if !ap.IsValid() {
		return ap
	}
	a := ap.Addr()
	if f.domain == syscall.AF_INET6 {
		a = netip.AddrFrom16(a.As16())
	} else {
		a = a.Unmap()
	}
	return netip.AddrPortFrom(a, ap.Port())
}

// Bind binds fd to ap (an unspecified address binds to all; port 0 picks
// one).
func (s *System) Bind(fd int, ap netip.AddrPort) error {
	f, err := s.getSock(fd)
	if err != nil {
		return err
	}
	ap, err = checkAddr(f, ap)
	if err != nil {
		return err
	}
	return f.sock.bind(ap)
}

// Listen makes a stream socket listen (EOPNOTSUPP on a datagram socket).
func (s *System) Listen(fd, backlog int) error {
	f, err := s.getSock(fd)
	if err != nil {
		return err
	}
	return f.sock.listen(backlog)
}

// Accept takes a connection from listening fd, blocking unless fd is
// non-blocking (EAGAIN), and returns its fd and the peer's address. The new
// fd is blocking, as accept(2)'s.
func (s *System) Accept(fd int) (int, netip.AddrPort, error) { return s.Accept4(fd, 0) }

// Accept4 is Accept with SOCK_NONBLOCK and SOCK_CLOEXEC flags for the new
// fd; other flags are EINVAL.
func (s *System) Accept4(fd, flags int) (int, netip.AddrPort, error) {
	if flags&^(syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC) != 0 {
		return -1, netip.AddrPort{}, syscall.EINVAL
	}
	f, err := s.getSock(fd)
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	nsk, peer, err := f.sock.accept(f, flags)
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	nf := &file{sock: nsk, domain: f.domain, typ: f.typ, closed: make(chan struct{}),
		nonblk: flags&syscall.SOCK_NONBLOCK != 0, cloexec: flags&syscall.SOCK_CLOEXEC != 0}
	return s.install(nf), outAddr(f, peer), nil
}

// Connect connects fd to ap. A blocking stream socket waits for the
// outcome; a non-blocking one returns EINPROGRESS, and the outcome shows as
// POLLOUT with SO_ERROR holding the error (0 for success).
func (s *System) Connect(fd int, ap netip.AddrPort) error {
	f, err := s.getSock(fd)
	if err != nil {
		return err
	}
	ap, err = checkAddr(f, ap)
	if err != nil {
		return err
	}
	return f.sock.connect(f, ap)
}

// SendTo sends p on fd to `to`, or to the connected peer if to is the zero
// AddrPort. flags: MSG_DONTWAIT, MSG_NOSIGNAL (there are no signals; it is
// accepted and has no effect), others as the backend takes them.
func (s *System) SendTo(fd int, p []byte, flags int, to netip.AddrPort) (int, error) {
	f, err := s.getSock(fd)
	if err != nil {
		return 0, err
	}
	var top *netip.AddrPort
	if to.IsValid() {
		to, err = checkAddr(f, to)
		if err != nil {
			return 0, err
		}
		top = &to
	}
	return f.sock.send(f, p, flags, top)
}

// RecvFrom receives into p from fd and returns the sender's address (the
// zero AddrPort on a stream socket, as Linux fills no address there).
// flags: MSG_DONTWAIT, MSG_PEEK.
func (s *System) RecvFrom(fd int, p []byte, flags int) (int, netip.AddrPort, error) {
	f, err := s.getSock(fd)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	n, from, err := f.sock.recv(f, p, flags, true)
	return n, outAddr(f, from), err
}

// Shutdown shuts down reading (SHUT_RD), writing (SHUT_WR) or both
// (SHUT_RDWR) of fd; ENOTCONN on an unconnected socket.
func (s *System) Shutdown(fd, how int) error {
	f, err := s.getSock(fd)
	if err != nil {
		return err
	}
	if how < syscall.SHUT_RD || how > syscall.SHUT_RDWR {
		return syscall.EINVAL
	}
	return f.sock.shutdown(how)
}

// SetsockoptInt sets an int option: SOL_SOCKET SO_SNDBUF, SO_RCVBUF (Linux
// doubles the value, and getsockopt shows the doubled one), SO_REUSEADDR;
// IPPROTO_TCP TCP_NODELAY. Options set before connect or listen apply to
// it. Unknown options are ENOPROTOOPT.
func (s *System) SetsockoptInt(fd, level, opt, v int) error {
	f, err := s.getSock(fd)
	if err != nil {
		return err
	}
	return f.sock.setsockopt(level, opt, v)
}

// GetsockoptInt reads an int option: those of SetsockoptInt, and SO_ERROR
// (the pending error as an errno number, cleared by reading), SO_TYPE,
// SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN.
func (s *System) GetsockoptInt(fd, level, opt int) (int, error) {
	f, err := s.getSock(fd)
	if err != nil {
		return 0, err
	}
	if level == syscall.SOL_SOCKET {
		// These are properties of the fd, known without the backend.
		switch opt {
		case syscall.SO_TYPE:
			return f.typ, nil
		case syscall.SO_DOMAIN:
			return f.domain, nil
		case syscall.SO_PROTOCOL:
			if f.typ == syscall.SOCK_STREAM {
				return syscall.IPPROTO_TCP, nil
			}
			return syscall.IPPROTO_UDP, nil
		}
	}
	return f.sock.getsockopt(level, opt)
}

// Getsockname returns fd's local address (the unspecified address and port
// 0 before bind).
func (s *System) Getsockname(fd int) (netip.AddrPort, error) {
	f, err := s.getSock(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ap, err := f.sock.sockname()
	return outAddr(f, ap), err
}

// Getpeername returns fd's peer, or ENOTCONN.
func (s *System) Getpeername(fd int) (netip.AddrPort, error) {
	f, err := s.getSock(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ap, err := f.sock.peername()
	return outAddr(f, ap), err
}
