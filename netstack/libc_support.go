package netstack

import (
	"bytes"
	"math"
	"net/netip"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Socket is a TCP or UDP endpoint with socket(2)'s life cycle, for a system
// layer (libc) that needs it: created unbound, given options, bound, then
// listening or connecting, each step its own call with its own errno, as
// Linux's. Dial and Listen cannot express that (bind's EADDRINUSE before
// listen, connect's EINPROGRESS, SO_ERROR).
//
// Every method returns at once: where Linux would block, it returns
// syscall.EAGAIN (Connect: syscall.EINPROGRESS) and the caller waits with
// the Poller methods. Errors are bare syscall.Errno values.
type Socket struct {
	endpointPoller
	stream, ipv6 bool
}

var _ Poller = (*Socket)(nil)

// NewSocket makes an unbound socket: IPv6 (dual-stack: IPv4 addresses work
// on it, as on Linux) if ipv6, else IPv4; TCP if stream, else UDP.
func (st *Stack) NewSocket(ipv6, stream bool) (*Socket, error) {
	netProto := header.IPv4ProtocolNumber
	if ipv6 {
		netProto = header.IPv6ProtocolNumber
	}
	transProto := udp.ProtocolNumber
	if stream {
		transProto = tcp.ProtocolNumber
	}
	wq := new(waiter.Queue)
	ep, terr := st.s.NewEndpoint(transProto, netProto, wq)
	if terr != nil {
		return nil, errnoOf(terr)
	}
	return &Socket{endpointPoller{ep, wq}, stream, ipv6}, nil
}

// sockErr is errnoOf with the errors only socket calls meet, mapped as
// gVisor's sentry (its Linux personality) maps them.
func sockErr(terr tcpip.Error) error {
	switch terr.(type) {
	case nil:
		return nil
	case *tcpip.ErrDestinationRequired:
		return syscall.EDESTADDRREQ
	case *tcpip.ErrAlreadyBound:
		return syscall.EINVAL
	case *tcpip.ErrNoPortAvailable:
		return syscall.EAGAIN
	case *tcpip.ErrClosedForReceive:
		return syscall.EPIPE
	case *tcpip.ErrUnknownProtocol:
		return syscall.EINVAL
	}
	return errnoOf(terr)
}

// Bind binds the socket to ap; an unspecified address binds to all, port 0
// picks one.
func (s *Socket) Bind(ap netip.AddrPort) error { return sockErr(s.ep.Bind(fullAddr(ap))) }

// Listen makes a bound (or, as Linux, an unbound: port chosen) TCP socket
// listen.
func (s *Socket) Listen(backlog int) error {
	return sockErr(s.ep.Listen(acceptQueueCapacity(backlog)))
}

// acceptQueueCapacity turns listen(2)'s backlog into the capacity gVisor's
// Listen takes. Linux accepts backlog+1 connections (and 0 or a negative
// backlog means 0, so one); gVisor's own listen(2) adds the one too. Passing
// the bare backlog made a backlog-1 listener (classic ttcp's) answer its
// first SYN with a SYN cookie, which cannot carry window scaling or SACK.
func acceptQueueCapacity(backlog int) int {
	const somaxconn = 4096 // Linux's net.core.somaxconn default
	return min(max(backlog, 0), somaxconn) + 1
}

// Accept takes a pending connection, or returns syscall.EAGAIN.
func (s *Socket) Accept() (*Socket, netip.AddrPort, error) {
	var fa tcpip.FullAddress
	nep, nwq, terr := s.ep.Accept(&fa)
	if terr != nil {
		return nil, netip.AddrPort{}, sockErr(terr)
	}
	return &Socket{endpointPoller{nep, nwq}, true, s.ipv6}, netip.AddrPortFrom(netipAddr(fa.Addr), fa.Port), nil
}

// Connect starts connecting a TCP socket to ap, returning
// syscall.EINPROGRESS: the outcome is seen as EventOut and Error. A UDP
// socket is connected at once.
func (s *Socket) Connect(ap netip.AddrPort) error {
	terr := s.ep.Connect(fullAddr(ap))
	if _, started := terr.(*tcpip.ErrConnectStarted); started {
		return syscall.EINPROGRESS
	}
	return sockErr(terr)
}

// Read reads stream data or one datagram; (0, nil) is end of stream with a
// non-empty b, as read(2). peek leaves the data queued (MSG_PEEK).
func (s *Socket) Read(b []byte, peek bool) (int, netip.AddrPort, error) {
	w := tcpip.SliceWriter(b)
	res, terr := s.ep.Read(&w, tcpip.ReadOptions{Peek: peek, NeedRemoteAddr: !s.stream})
	if res.Count > 0 && s.stream && !peek {
		// Lets gVisor grow the receive window as the application drains it.
		s.ep.ModerateRecvBuf(res.Count)
	}
	var from netip.AddrPort
	if !s.stream && terr == nil {
		from = netip.AddrPortFrom(netipAddr(res.RemoteAddr.Addr), res.RemoteAddr.Port)
	}
	switch terr.(type) {
	case nil:
		return res.Count, from, nil
	case *tcpip.ErrClosedForReceive:
		// End of stream, or a datagram socket shut down for reading:
		// read(2) returns 0 for both.
		return res.Count, from, nil
	}
	return res.Count, from, sockErr(terr)
}

// Write writes what fits (a whole datagram, for UDP) to the connected peer,
// or to *to if not nil.
func (s *Socket) Write(b []byte, to *netip.AddrPort) (int, error) {
	r := bytes.NewReader(b)
	var opts tcpip.WriteOptions
	if to != nil {
		fa := fullAddr(*to)
		opts.To = &fa
	}
	n, terr := s.ep.Write(r, opts)
	if terr != nil && n > 0 {
		// A partial stream write is a success, as write(2)'s.
		return int(n), nil
	}
	return int(n), sockErr(terr)
}

// Shutdown shuts down reading (rd), writing (wr) or both.
func (s *Socket) Shutdown(rd, wr bool) error {
	var f tcpip.ShutdownFlags
	if rd {
		f |= tcpip.ShutdownRead
	}
	if wr {
		f |= tcpip.ShutdownWrite
	}
	return sockErr(s.ep.Shutdown(f))
}

// Error returns and clears the socket's pending error (SO_ERROR).
func (s *Socket) Error() error { return sockErr(s.ep.LastError()) }

// LocalAddr returns the bound address (getsockname).
func (s *Socket) LocalAddr() (netip.AddrPort, error) {
	fa, terr := s.ep.GetLocalAddress()
	if terr != nil {
		return netip.AddrPort{}, errnoOf(terr)
	}
	a := netipAddr(fa.Addr)
	if !a.IsValid() {
		a = netip.IPv4Unspecified()
		if s.ipv6 {
			a = netip.IPv6Unspecified()
		}
	}
	return netip.AddrPortFrom(a, fa.Port), nil
}

// RemoteAddr returns the peer's address (getpeername), or syscall.ENOTCONN.
func (s *Socket) RemoteAddr() (netip.AddrPort, error) {
	fa, terr := s.ep.GetRemoteAddress()
	if terr != nil {
		return netip.AddrPort{}, errnoOf(terr)
	}
	return netip.AddrPortFrom(netipAddr(fa.Addr), fa.Port), nil
}

// SetReuseAddr sets SO_REUSEADDR.
func (s *Socket) SetReuseAddr(v bool) { s.ep.SocketOptions().SetReuseAddress(v) }

// ReuseAddr reports SO_REUSEADDR.
func (s *Socket) ReuseAddr() bool { return s.ep.SocketOptions().GetReuseAddress() }

// SetNoDelay sets TCP_NODELAY.
func (s *Socket) SetNoDelay(v bool) { s.ep.SocketOptions().SetDelayOption(!v) }

// NoDelay reports TCP_NODELAY.
func (s *Socket) NoDelay() bool { return !s.ep.SocketOptions().GetDelayOption() }

// clampBuf is Linux's (and gVisor's sentry's) SO_SNDBUF/SO_RCVBUF rule: the
// request, capped at the maximum, doubled for bookkeeping overhead, at
// least the minimum; so getsockopt returns twice what was set.
func clampBuf(v, lo, hi int64) int64 {
	v = min(v, hi)
	if v >= math.MaxInt32/2 {
		return math.MaxInt32
	}
	return max(2*v, lo)
}

// SetSendBuffer sets SO_SNDBUF with Linux's doubling and limits.
func (s *Socket) SetSendBuffer(v int) {
	so := s.ep.SocketOptions()
	lo, hi := so.SendBufferLimits()
	so.SetSendBufferSize(clampBuf(int64(v), lo, hi), true)
}

// SendBuffer reports SO_SNDBUF.
func (s *Socket) SendBuffer() int { return int(s.ep.SocketOptions().GetSendBufferSize()) }

// SetRecvBuffer sets SO_RCVBUF with Linux's doubling and limits.
func (s *Socket) SetRecvBuffer(v int) {
	so := s.ep.SocketOptions()
	lo, hi := so.ReceiveBufferLimits()
	so.SetReceiveBufferSize(clampBuf(int64(v), lo, hi), true)
}

// RecvBuffer reports SO_RCVBUF.
func (s *Socket) RecvBuffer() int { return int(s.ep.SocketOptions().GetReceiveBufferSize()) }

// Listening reports whether the socket listens (SO_ACCEPTCONN).
func (s *Socket) Listening() bool {
	return s.stream && tcp.EndpointState(s.ep.State()) == tcp.StateListen
}

// Close releases the socket; waiters are notified.
func (s *Socket) Close() { s.ep.Close() }

// Stream reports whether the socket is TCP.
func (s *Socket) Stream() bool { return s.stream }
