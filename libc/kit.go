package libc

import (
	"net/netip"
	"syscall"

	"github.com/goskit/goskit/netstack"
)

// kitSock is a socket of the kit's netstack. The netstack.Socket never
// blocks; blocking calls here wait on its readiness notifications, the
// file's closed channel and the stack's failure, never polling in a loop.
type kitSock struct {
	st *netstack.Stack
	s  *netstack.Socket
}

func newKitSock(st *netstack.Stack, domain, typ, proto int) (sock, error) {
	var stream bool
	switch typ {
	case syscall.SOCK_STREAM:
		if proto != 0 && proto != syscall.IPPROTO_TCP {
			return nil, syscall.EPROTONOSUPPORT
		}
		stream = true
	case syscall.SOCK_DGRAM:
		if proto != 0 && proto != syscall.IPPROTO_UDP {
			return nil, syscall.EPROTONOSUPPORT
		}
	case syscall.SOCK_RAW:
		// The kit offers no raw sockets; Linux says EPERM to a program
		// without CAP_NET_RAW, the nearest meaning.
		return nil, syscall.EPERM
	default:
		return nil, syscall.ESOCKTNOSUPPORT
	}
	s, err := st.NewSocket(domain == syscall.AF_INET6, stream)
	if err != nil {
		return nil, err
	}
	return &kitSock{st: st, s: s}, nil
}

// block runs try until it returns something other than EAGAIN, waiting for
// an event in mask between tries. Notification is registered before the
// second try, so no event between a try and the wait is lost.
func (k *kitSock) block(f *file, nonblock bool, mask netstack.Events, try func() error) error {
	err := try()
	if err != syscall.EAGAIN || nonblock || f.nonblock() {
		return k.closedErr(f, err)
	}
	ch := make(chan struct{}, 1)
	cancel := k.s.Notify(mask, ch)
	defer cancel()
	for {
		if err = try(); err != syscall.EAGAIN {
			return k.closedErr(f, err)
		}
		select {
		case <-ch:
		case <-f.closed:
			return syscall.EBADF
		case <-k.st.Done():
			// The NIC is gone for good: say so now rather than after
			// TCP's timeouts.
			return syscall.ENETDOWN
		}
	}
}

// closedErr turns the outcome of a call that raced with Close into EBADF,
// as the fd is gone (a closed endpoint reads as end of stream).
func (k *kitSock) closedErr(f *file, err error) error {
	if f.isClosed() {
		return syscall.EBADF
	}
	return err
}

func (k *kitSock) bind(ap netip.AddrPort) error { return k.s.Bind(ap) }

func (k *kitSock) listen(backlog int) error { return k.s.Listen(backlog) }

func (k *kitSock) accept(f *file, flags int) (sock, netip.AddrPort, error) {
	var ns *netstack.Socket
	var peer netip.AddrPort
	err := k.block(f, false, netstack.EventIn, func() error {
		var err error
		ns, peer, err = k.s.Accept()
		return err
	})
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	return &kitSock{st: k.st, s: ns}, peer, nil
}

func (k *kitSock) connect(f *file, ap netip.AddrPort) error {
	if k.s.Listening() {
		// Linux's connect sees a listening socket as not unconnected.
		return syscall.EISCONN
	}
	err := k.s.Connect(ap)
	if err != syscall.EINPROGRESS || f.nonblock() {
		return err
	}
	// Blocking: wait for the handshake's outcome, then report it as
	// connect(2) does, from the pending error.
	err = k.block(f, false, netstack.EventOut, func() error {
		if k.s.Ready(netstack.EventOut) == 0 {
			return syscall.EAGAIN
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := k.s.Error(); err != nil {
		return err
	}
	// Connect again to collect the success, as Linux's blocking connect
	// does: gVisor, like Linux, answers the first connect after a
	// completed non-blocking one with success, later ones with EISCONN.
	if err := k.s.Connect(ap); err != nil && err != syscall.EISCONN {
		return err
	}
	return nil
}

func (k *kitSock) recv(f *file, p []byte, flags int, _ bool) (int, netip.AddrPort, error) {
	if len(p) == 0 && k.s.Stream() {
		// Linux returns at once from an empty read of a stream (after
		// its state checks); gVisor would wait for data.
		_, _, err := k.s.Read(p, true)
		if err == syscall.EAGAIN {
			err = nil
		}
		return 0, netip.AddrPort{}, k.closedErr(f, err)
	}
	var n int
	var from netip.AddrPort
	err := k.block(f, flags&syscall.MSG_DONTWAIT != 0, netstack.EventIn, func() error {
		var err error
		n, from, err = k.s.Read(p, flags&syscall.MSG_PEEK != 0)
		return err
	})
	return n, from, err
}

func (k *kitSock) send(f *file, p []byte, flags int, to *netip.AddrPort) (int, error) {
	nonblock := flags&syscall.MSG_DONTWAIT != 0 || f.nonblock()
	sent := 0
	for {
		var n int
		err := k.block(f, nonblock, netstack.EventOut, func() error {
			var err error
			n, err = k.s.Write(p[sent:], to)
			return err
		})
		sent += n
		if err != nil {
			if sent > 0 {
				// Part went out: write(2) reports the part, and the
				// error, if it persists, on the next call.
				return sent, nil
			}
			return 0, err
		}
		// A blocking stream write writes everything, as Linux's; a
		// datagram goes whole or not at all.
		if nonblock || sent >= len(p) || to != nil {
			return sent, nil
		}
	}
}

func (k *kitSock) shutdown(how int) error {
	return k.s.Shutdown(how != syscall.SHUT_WR, how != syscall.SHUT_RD)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (k *kitSock) setsockopt(level, opt, v int) error {
	switch level {
	case syscall.SOL_SOCKET:
		switch opt {
		case syscall.SO_REUSEADDR:
			k.s.SetReuseAddr(v != 0)
			return nil
		case syscall.SO_SNDBUF:
			k.s.SetSendBuffer(v)
			return nil
		case syscall.SO_RCVBUF:
			k.s.SetRecvBuffer(v)
			return nil
		}
	case syscall.IPPROTO_TCP:
		if k.isStream() && opt == syscall.TCP_NODELAY {
			k.s.SetNoDelay(v != 0)
			return nil
		}
	}
	return syscall.ENOPROTOOPT
}

func (k *kitSock) isStream() bool {
	// SO_TYPE is answered by the file; the socket knows it too, through
	// what it listens and connects as. Kept here for TCP-level options.
	return k.s.Stream()
}

func (k *kitSock) getsockopt(level, opt int) (int, error) {
	switch level {
	case syscall.SOL_SOCKET:
		switch opt {
		case syscall.SO_REUSEADDR:
			return boolInt(k.s.ReuseAddr()), nil
		case syscall.SO_SNDBUF:
			return k.s.SendBuffer(), nil
		case syscall.SO_RCVBUF:
			return k.s.RecvBuffer(), nil
		case syscall.SO_ERROR:
			if err := k.s.Error(); err != nil {
				if e, ok := err.(syscall.Errno); ok {
					return int(e), nil
				}
				return int(syscall.EIO), nil
			}
			return 0, nil
		case syscall.SO_ACCEPTCONN:
			return boolInt(k.s.Listening()), nil
		}
	case syscall.IPPROTO_TCP:
		if k.isStream() && opt == syscall.TCP_NODELAY {
			return boolInt(k.s.NoDelay()), nil
		}
	}
	return 0, syscall.ENOPROTOOPT
}

func (k *kitSock) sockname() (netip.AddrPort, error) { return k.s.LocalAddr() }

func (k *kitSock) peername() (netip.AddrPort, error) { return k.s.RemoteAddr() }

func (k *kitSock) setNonblock(bool) error { return nil }

func (k *kitSock) close() error {
	k.s.Close()
	return nil
}
