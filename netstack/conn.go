package netstack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Events is a set of readiness events, as poll(2)'s.
type Events uint16

// Readiness events.
const (
	EventIn  Events = 1 << iota // data to read, a connection to accept, or EOF
	EventOut                    // room to write
	EventErr                    // a pending error
	EventHup                    // the peer or the stack hung up
)

// Poller is implemented by the stack's connections and listeners, so a
// system layer (libc's poll, non-blocking sockets) can ask for readiness
// without reading or writing.
type Poller interface {
	// Ready returns which events in mask hold now.
	Ready(mask Events) Events
	// Notify arranges for a non-blocking send on ch whenever an event in mask
	// may have become ready, until cancel is called.
	Notify(mask Events, ch chan<- struct{}) (cancel func())
}

func toWaiter(m Events) waiter.EventMask {
	var w waiter.EventMask
	if m&EventIn != 0 {
		w |= waiter.ReadableEvents
	}
	if m&EventOut != 0 {
		w |= waiter.WritableEvents
	}
	if m&EventErr != 0 {
		w |= waiter.EventErr
	}
	if m&EventHup != 0 {
		w |= waiter.EventHUp
	}
	return w
}

func fromWaiter(w waiter.EventMask) Events {
	var m Events
	if w&waiter.ReadableEvents != 0 {
		m |= EventIn
	}
	if w&waiter.WritableEvents != 0 {
		m |= EventOut
	}
	if w&waiter.EventErr != 0 {
		m |= EventErr
	}
	if w&waiter.EventHUp != 0 {
		m |= EventHup
	}
	return m
}

// endpointPoller implements Poller over a gVisor endpoint and its queue.
type endpointPoller struct {
	ep tcpip.Endpoint
	wq *waiter.Queue
}

func (p endpointPoller) Ready(mask Events) Events {
	return fromWaiter(p.ep.Readiness(toWaiter(mask|EventErr|EventHup))) & (mask | EventErr | EventHup)
}

func (p endpointPoller) Notify(mask Events, ch chan<- struct{}) func() {
	e := waiter.NewFunctionEntry(toWaiter(mask|EventErr|EventHup), func(waiter.EventMask) {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	p.wq.EventRegister(&e)
	return func() { p.wq.EventUnregister(&e) }
}

// errnoOf maps gVisor's errors to the errno Linux gives for the same
// condition, so callers (libc above all) can compare with errors.Is.
func errnoOf(err tcpip.Error) syscall.Errno {
	switch err.(type) {
	case *tcpip.ErrWouldBlock:
		return syscall.EAGAIN
	case *tcpip.ErrConnectionRefused:
		return syscall.ECONNREFUSED
	case *tcpip.ErrConnectionReset:
		return syscall.ECONNRESET
	case *tcpip.ErrConnectionAborted, *tcpip.ErrAborted:
		return syscall.ECONNABORTED
	case *tcpip.ErrClosedForSend:
		return syscall.EPIPE
	case *tcpip.ErrTimeout:
		return syscall.ETIMEDOUT
	case *tcpip.ErrHostUnreachable, *tcpip.ErrHostDown:
		return syscall.EHOSTUNREACH
	case *tcpip.ErrNetworkUnreachable, *tcpip.ErrNoNet:
		return syscall.ENETUNREACH
	case *tcpip.ErrPortInUse, *tcpip.ErrDuplicateAddress:
		return syscall.EADDRINUSE
	case *tcpip.ErrBadLocalAddress:
		return syscall.EADDRNOTAVAIL
	case *tcpip.ErrNotConnected:
		return syscall.ENOTCONN
	case *tcpip.ErrAlreadyConnected:
		return syscall.EISCONN
	case *tcpip.ErrAlreadyConnecting, *tcpip.ErrConnectStarted:
		return syscall.EALREADY
	case *tcpip.ErrMessageTooLong:
		return syscall.EMSGSIZE
	case *tcpip.ErrInvalidEndpointState, *tcpip.ErrInvalidOptionValue, *tcpip.ErrBadAddress:
		return syscall.EINVAL
	case *tcpip.ErrNoBufferSpace:
		return syscall.ENOBUFS
	case *tcpip.ErrAddressFamilyNotSupported:
		return syscall.EAFNOSUPPORT
	case *tcpip.ErrNotSupported, *tcpip.ErrUnknownProtocolOption:
		return syscall.EOPNOTSUPP
	case *tcpip.ErrNotPermitted:
		return syscall.EPERM
	case *tcpip.ErrBroadcastDisabled:
		return syscall.EACCES
	}
	return syscall.EIO
}

func opError(op, netw string, src, dst net.Addr, err error) error {
	return &net.OpError{Op: op, Net: netw, Source: src, Addr: dst, Err: err}
}

func tcpipErr(err tcpip.Error) error { return os.NewSyscallError("netstack", errnoOf(err)) }

// deadline is one direction's deadline: a channel closed when it passes.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{}
}

func newDeadline() deadline { return deadline{cancel: make(chan struct{})} }

func (d *deadline) done() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		// The timer fired: its channel is closed; start a new one.
		d.cancel = make(chan struct{})
	}
	d.timer = nil
	select {
	case <-d.cancel:
		d.cancel = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		close(d.cancel)
		return
	}
	ch := d.cancel
	d.timer = time.AfterFunc(wait, func() { close(ch) })
}

// timeoutError is os.ErrDeadlineExceeded wrapped as net.Conn users expect.
var errTimeout = os.ErrDeadlineExceeded

// TCPConn is a TCP connection of the stack. Besides net.Conn it offers
// CloseRead, CloseWrite, SetNoDelay, SetReadBuffer, SetWriteBuffer, and
// Poller.
type TCPConn struct {
	endpointPoller
	readMu      sync.Mutex
	rd, wd      deadline
	local, peer *net.TCPAddr
	closeOnce   sync.Once
}

var (
	_ net.Conn = (*TCPConn)(nil)
	_ Poller   = (*TCPConn)(nil)
)

func newTCPConn(ep tcpip.Endpoint, wq *waiter.Queue) *TCPConn {
	c := &TCPConn{endpointPoller: endpointPoller{ep, wq}, rd: newDeadline(), wd: newDeadline()}
	if a, err := ep.GetLocalAddress(); err == nil {
		c.local = tcpAddr(a)
	}
	if a, err := ep.GetRemoteAddress(); err == nil {
		c.peer = tcpAddr(a)
	}
	return c
}

func tcpAddr(a tcpip.FullAddress) *net.TCPAddr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netipAddr(a.Addr), a.Port))
}

func udpAddr(a tcpip.FullAddress) *net.UDPAddr {
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(netipAddr(a.Addr), a.Port))
}

// waitFor calls try until it reports done, waiting between calls for an
// event in mask, the deadline dl, or stop (nil for none). try runs again
// after registering for events, so none is missed.
func waitFor(wq *waiter.Queue, mask waiter.EventMask, dl, stop <-chan struct{}, try func() bool) error {
	if try() {
		return nil
	}
	e, ch := waiter.NewChannelEntry(mask)
	wq.EventRegister(&e)
	defer wq.EventUnregister(&e)
	for !try() {
		select {
		case <-ch:
		case <-dl:
			return errTimeout
		case <-stop:
			return net.ErrClosed
		}
	}
	return nil
}

// Read implements net.Conn.
func (c *TCPConn) Read(b []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if len(b) == 0 {
		return 0, nil
	}
	dl := c.rd.done()
	select {
	case <-dl:
		return 0, opError("read", "tcp", c.local, c.peer, errTimeout)
	default:
	}
	var n int
	var terr tcpip.Error
	err := waitFor(c.wq, waiter.ReadableEvents, dl, nil, func() bool {
		w := tcpip.SliceWriter(b)
		var res tcpip.ReadResult
		res, terr = c.ep.Read(&w, tcpip.ReadOptions{})
		n = res.Count
		_, block := terr.(*tcpip.ErrWouldBlock)
		return !block
	})
	if err != nil {
		return 0, opError("read", "tcp", c.local, c.peer, err)
	}
	if n > 0 {
		// Lets gVisor grow the receive window as the application drains it.
		c.ep.ModerateRecvBuf(n)
	}
	switch terr.(type) {
	case nil:
		return n, nil
	case *tcpip.ErrClosedForReceive:
		return n, io.EOF
	}
	return n, opError("read", "tcp", c.local, c.peer, tcpipErr(terr))
}

// Write implements net.Conn. It writes all of b unless an error occurs.
func (c *TCPConn) Write(b []byte) (int, error) {
	dl := c.wd.done()
	var r bytes.Reader
	sent := 0
	for sent < len(b) {
		select {
		case <-dl:
			return sent, opError("write", "tcp", c.local, c.peer, errTimeout)
		default:
		}
		var terr tcpip.Error
		err := waitFor(c.wq, waiter.WritableEvents, dl, nil, func() bool {
			r.Reset(b[sent:])
			var n int64
			n, terr = c.ep.Write(&r, tcpip.WriteOptions{})
			sent += int(n)
			_, block := terr.(*tcpip.ErrWouldBlock)
			return !block || n > 0
		})
		if err != nil {
			return sent, opError("write", "tcp", c.local, c.peer, err)
		}
		if terr != nil {
			if _, block := terr.(*tcpip.ErrWouldBlock); !block {
				return sent, opError("write", "tcp", c.local, c.peer, tcpipErr(terr))
			}
		}
	}
	return sent, nil
}

// TryRead reads without blocking: it returns syscall.EAGAIN when nothing
// is ready. It is the non-blocking read a system layer needs.
func (c *TCPConn) TryRead(b []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	w := tcpip.SliceWriter(b)
	res, terr := c.ep.Read(&w, tcpip.ReadOptions{})
	if res.Count > 0 {
		c.ep.ModerateRecvBuf(res.Count)
	}
	switch terr.(type) {
	case nil:
		return res.Count, nil
	case *tcpip.ErrClosedForReceive:
		return res.Count, io.EOF
	}
	return res.Count, tcpipErr(terr)
}

// TryWrite writes what fits without blocking, returning syscall.EAGAIN if
// nothing did.
func (c *TCPConn) TryWrite(b []byte) (int, error) {
	var r bytes.Reader
	r.Reset(b)
	n, terr := c.ep.Write(&r, tcpip.WriteOptions{})
	if terr != nil {
		return int(n), tcpipErr(terr)
	}
	return int(n), nil
}

// Close implements net.Conn.
func (c *TCPConn) Close() error {
	c.closeOnce.Do(func() {
		c.ep.Close()
		// Wake blocked readers and writers: the endpoint notifies its queue
		// on close, and the deadlines make sure nothing waits for good.
		c.rd.set(time.Unix(1, 0))
		c.wd.set(time.Unix(1, 0))
	})
	return nil
}

// CloseRead shuts the reading side down.
func (c *TCPConn) CloseRead() error {
	if err := c.ep.Shutdown(tcpip.ShutdownRead); err != nil {
		return opError("close", "tcp", c.local, c.peer, tcpipErr(err))
	}
	return nil
}

// CloseWrite shuts the writing side down (sends FIN).
func (c *TCPConn) CloseWrite() error {
	if err := c.ep.Shutdown(tcpip.ShutdownWrite); err != nil {
		return opError("close", "tcp", c.local, c.peer, tcpipErr(err))
	}
	return nil
}

// LocalAddr implements net.Conn.
func (c *TCPConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr implements net.Conn.
func (c *TCPConn) RemoteAddr() net.Addr { return c.peer }

// SetDeadline implements net.Conn.
func (c *TCPConn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

// SetReadDeadline implements net.Conn.
func (c *TCPConn) SetReadDeadline(t time.Time) error { c.rd.set(t); return nil }

// SetWriteDeadline implements net.Conn.
func (c *TCPConn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

// SetNoDelay turns Nagle's algorithm off (true) or on.
func (c *TCPConn) SetNoDelay(noDelay bool) error {
	c.ep.SocketOptions().SetDelayOption(!noDelay)
	return nil
}

// NoDelay reports whether Nagle's algorithm is off.
func (c *TCPConn) NoDelay() bool { return !c.ep.SocketOptions().GetDelayOption() }

// SetReadBuffer sets the receive buffer size, as SO_RCVBUF.
func (c *TCPConn) SetReadBuffer(bytes int) error {
	c.ep.SocketOptions().SetReceiveBufferSize(int64(bytes), true)
	return nil
}

// SetWriteBuffer sets the send buffer size, as SO_SNDBUF.
func (c *TCPConn) SetWriteBuffer(bytes int) error {
	c.ep.SocketOptions().SetSendBufferSize(int64(bytes), true)
	return nil
}

// ReadBuffer returns the receive buffer size.
func (c *TCPConn) ReadBuffer() int { return int(c.ep.SocketOptions().GetReceiveBufferSize()) }

// WriteBuffer returns the send buffer size.
func (c *TCPConn) WriteBuffer() int { return int(c.ep.SocketOptions().GetSendBufferSize()) }

// Endpoint returns the gVisor endpoint (an implementation-specific escape
// hatch, like GVisorStack).
func (c *TCPConn) Endpoint() tcpip.Endpoint { return c.ep }

// SocketOptions are set on a socket before it connects or listens: some
// (buffer sizes, which decide the window scale; address reuse) only take
// full effect then.
type SocketOptions struct {
	ReuseAddr              bool
	SendBuffer, RecvBuffer int // bytes; 0 keeps the stack's default
	NoDelay                bool
	Backlog                int // listen backlog; 0 means 128
}

func (st *Stack) newTCPEndpoint(a netip.Addr, opts SocketOptions) (tcpip.Endpoint, *waiter.Queue, error) {
	wq := new(waiter.Queue)
	ep, terr := st.s.NewEndpoint(tcp.ProtocolNumber, protoOf(a), wq)
	if terr != nil {
		return nil, nil, tcpipErr(terr)
	}
	so := ep.SocketOptions()
	so.SetReuseAddress(opts.ReuseAddr)
	if opts.SendBuffer > 0 {
		so.SetSendBufferSize(int64(opts.SendBuffer), true)
	}
	if opts.RecvBuffer > 0 {
		so.SetReceiveBufferSize(int64(opts.RecvBuffer), true)
	}
	so.SetDelayOption(!opts.NoDelay)
	return ep, wq, nil
}

// familyAddr picks the address that decides a socket's family: the remote
// one if set, else the local one, else IPv4 for "tcp4" and IPv6 otherwise.
func familyAddr(netw string, addrs ...netip.Addr) netip.Addr {
	for _, a := range addrs {
		if a.IsValid() {
			return a.Unmap()
		}
	}
	if netw == "tcp4" || netw == "udp4" {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// DialTCP connects from laddr (zero for any) to raddr.
func (st *Stack) DialTCP(ctx context.Context, laddr, raddr netip.AddrPort, opts SocketOptions) (*TCPConn, error) {
	dst := net.TCPAddrFromAddrPort(raddr)
	if !raddr.Addr().IsValid() || raddr.Port() == 0 {
		return nil, opError("dial", "tcp", nil, dst, syscall.EINVAL)
	}
	raddr = netip.AddrPortFrom(raddr.Addr().Unmap(), raddr.Port())
	ep, wq, err := st.newTCPEndpoint(raddr.Addr(), opts)
	if err != nil {
		return nil, opError("dial", "tcp", nil, dst, err)
	}
	if laddr.Addr().IsValid() || laddr.Port() != 0 {
		if terr := ep.Bind(fullAddr(laddr)); terr != nil {
			ep.Close()
			return nil, opError("dial", "tcp", net.TCPAddrFromAddrPort(laddr), dst, tcpipErr(terr))
		}
	}
	e, ch := waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
	wq.EventRegister(&e)
	defer wq.EventUnregister(&e)
	terr := ep.Connect(fullAddr(raddr))
	if _, started := terr.(*tcpip.ErrConnectStarted); started {
		select {
		case <-ctx.Done():
			ep.Close()
			return nil, opError("dial", "tcp", nil, dst, ctx.Err())
		case <-st.failed:
			ep.Close()
			return nil, opError("dial", "tcp", nil, dst, st.failErr)
		case <-ch:
		}
		terr = ep.LastError()
	}
	if terr != nil {
		ep.Close()
		return nil, opError("dial", "tcp", nil, dst, tcpipErr(terr))
	}
	return newTCPConn(ep, wq), nil
}

// TCPListener is a listening TCP socket of the stack.
type TCPListener struct {
	endpointPoller
	addr      *net.TCPAddr
	closed    chan struct{}
	closeOnce sync.Once
	deadline  deadline
}

var (
	_ net.Listener = (*TCPListener)(nil)
	_ Poller       = (*TCPListener)(nil)
)

// ListenTCP listens on laddr (an unspecified address listens on all).
func (st *Stack) ListenTCP(laddr netip.AddrPort, opts SocketOptions) (*TCPListener, error) {
	a := laddr.Addr()
	if !a.IsValid() {
		a = netip.IPv6Unspecified()
	}
	ep, wq, err := st.newTCPEndpoint(a, opts)
	if err != nil {
		return nil, opError("listen", "tcp", nil, net.TCPAddrFromAddrPort(laddr), err)
	}
	if terr := ep.Bind(fullAddr(laddr)); terr != nil {
		ep.Close()
		return nil, opError("listen", "tcp", nil, net.TCPAddrFromAddrPort(laddr), tcpipErr(terr))
	}
	backlog := opts.Backlog
	if backlog <= 0 {
		backlog = 128
	}
	if terr := ep.Listen(acceptQueueCapacity(backlog)); terr != nil {
		ep.Close()
		return nil, opError("listen", "tcp", nil, net.TCPAddrFromAddrPort(laddr), tcpipErr(terr))
	}
	l := &TCPListener{endpointPoller: endpointPoller{ep, wq}, closed: make(chan struct{}), deadline: newDeadline()}
	if fa, terr := ep.GetLocalAddress(); terr == nil {
		l.addr = tcpAddr(fa)
	}
	return l, nil
}

// Accept implements net.Listener.
func (l *TCPListener) Accept() (net.Conn, error) { return l.AcceptTCP() }

// AcceptTCP accepts the next connection.
func (l *TCPListener) AcceptTCP() (*TCPConn, error) {
	var nep tcpip.Endpoint
	var nwq *waiter.Queue
	var terr tcpip.Error
	err := waitFor(l.wq, waiter.ReadableEvents, l.deadline.done(), l.closed, func() bool {
		nep, nwq, terr = l.ep.Accept(nil)
		_, block := terr.(*tcpip.ErrWouldBlock)
		return !block
	})
	select {
	case <-l.closed:
		return nil, opError("accept", "tcp", nil, l.addr, net.ErrClosed)
	default:
	}
	if err != nil {
		return nil, opError("accept", "tcp", nil, l.addr, err)
	}
	if terr != nil {
		return nil, opError("accept", "tcp", nil, l.addr, tcpipErr(terr))
	}
	return newTCPConn(nep, nwq), nil
}

// TryAccept accepts without blocking, returning syscall.EAGAIN when no
// connection is pending.
func (l *TCPListener) TryAccept() (*TCPConn, error) {
	nep, nwq, terr := l.ep.Accept(nil)
	if terr != nil {
		return nil, tcpipErr(terr)
	}
	return newTCPConn(nep, nwq), nil
}

// SetDeadline bounds Accept.
func (l *TCPListener) SetDeadline(t time.Time) error { l.deadline.set(t); return nil }

// Close implements net.Listener.
func (l *TCPListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.ep.Close()
	})
	return nil
}

// Addr implements net.Listener.
func (l *TCPListener) Addr() net.Addr { return l.addr }

// UDPConn is a UDP socket of the stack: a net.PacketConn, and a net.Conn
// when connected.
type UDPConn struct {
	endpointPoller
	rd, wd    deadline
	local     *net.UDPAddr
	peer      *net.UDPAddr
	readMu    sync.Mutex
	closeOnce sync.Once
}

var (
	_ net.PacketConn = (*UDPConn)(nil)
	_ net.Conn       = (*UDPConn)(nil)
	_ Poller         = (*UDPConn)(nil)
)

// ListenUDP binds a UDP socket to laddr; a valid raddr connects it.
func (st *Stack) ListenUDP(laddr, raddr netip.AddrPort) (*UDPConn, error) {
	a := familyAddr("udp", raddr.Addr(), laddr.Addr())
	wq := new(waiter.Queue)
	ep, terr := st.s.NewEndpoint(udp.ProtocolNumber, protoOf(a), wq)
	if terr != nil {
		return nil, opError("listen", "udp", nil, net.UDPAddrFromAddrPort(laddr), tcpipErr(terr))
	}
	if terr := ep.Bind(fullAddr(laddr)); terr != nil {
		ep.Close()
		return nil, opError("listen", "udp", nil, net.UDPAddrFromAddrPort(laddr), tcpipErr(terr))
	}
	c := &UDPConn{endpointPoller: endpointPoller{ep, wq}, rd: newDeadline(), wd: newDeadline()}
	if raddr.IsValid() {
		if terr := ep.Connect(fullAddr(raddr)); terr != nil {
			ep.Close()
			return nil, opError("dial", "udp", nil, net.UDPAddrFromAddrPort(raddr), tcpipErr(terr))
		}
		c.peer = net.UDPAddrFromAddrPort(raddr)
	}
	if fa, terr := ep.GetLocalAddress(); terr == nil {
		c.local = udpAddr(fa)
	}
	return c, nil
}

// ReadFrom implements net.PacketConn.
func (c *UDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	dl := c.rd.done()
	var res tcpip.ReadResult
	var terr tcpip.Error
	err := waitFor(c.wq, waiter.ReadableEvents, dl, nil, func() bool {
		w := tcpip.SliceWriter(b)
		res, terr = c.ep.Read(&w, tcpip.ReadOptions{NeedRemoteAddr: true})
		_, block := terr.(*tcpip.ErrWouldBlock)
		return !block
	})
	if err != nil {
		return 0, nil, opError("read", "udp", c.local, nil, err)
	}
	if terr != nil {
		if _, closed := terr.(*tcpip.ErrClosedForReceive); closed {
			return 0, nil, opError("read", "udp", c.local, nil, net.ErrClosed)
		}
		return 0, nil, opError("read", "udp", c.local, nil, tcpipErr(terr))
	}
	return res.Count, udpAddr(res.RemoteAddr), nil
}

// Read implements net.Conn.
func (c *UDPConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFrom(b)
	return n, err
}

// WriteTo implements net.PacketConn.
func (c *UDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	var to *tcpip.FullAddress
	if addr != nil {
		ua, ok := addr.(*net.UDPAddr)
		if !ok {
			return 0, opError("write", "udp", c.local, addr, syscall.EINVAL)
		}
		fa := fullAddr(ua.AddrPort())
		to = &fa
	}
	return c.write(b, to, addr)
}

func (c *UDPConn) write(b []byte, to *tcpip.FullAddress, addr net.Addr) (int, error) {
	dl := c.wd.done()
	var n int64
	var terr tcpip.Error
	err := waitFor(c.wq, waiter.WritableEvents, dl, nil, func() bool {
		var r bytes.Reader
		r.Reset(b)
		n, terr = c.ep.Write(&r, tcpip.WriteOptions{To: to})
		_, block := terr.(*tcpip.ErrWouldBlock)
		return !block
	})
	if err != nil {
		return 0, opError("write", "udp", c.local, addr, err)
	}
	if terr != nil {
		return int(n), opError("write", "udp", c.local, addr, tcpipErr(terr))
	}
	return int(n), nil
}

// Write implements net.Conn on a connected socket.
func (c *UDPConn) Write(b []byte) (int, error) {
	if c.peer == nil {
		return 0, opError("write", "udp", c.local, nil, syscall.EDESTADDRREQ)
	}
	return c.write(b, nil, c.peer)
}

// Close implements net.PacketConn.
func (c *UDPConn) Close() error {
	c.closeOnce.Do(func() {
		c.ep.Close()
		c.rd.set(time.Unix(1, 0))
		c.wd.set(time.Unix(1, 0))
	})
	return nil
}

// LocalAddr implements net.PacketConn.
func (c *UDPConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr implements net.Conn: the connected peer, or nil.
func (c *UDPConn) RemoteAddr() net.Addr {
	if c.peer == nil {
		return nil
	}
	return c.peer
}

// SetDeadline implements net.PacketConn.
func (c *UDPConn) SetDeadline(t time.Time) error { c.rd.set(t); c.wd.set(t); return nil }

// SetReadDeadline implements net.PacketConn.
func (c *UDPConn) SetReadDeadline(t time.Time) error { c.rd.set(t); return nil }

// SetWriteDeadline implements net.PacketConn.
func (c *UDPConn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

// SetReadBuffer sets SO_RCVBUF.
func (c *UDPConn) SetReadBuffer(bytes int) error {
	c.ep.SocketOptions().SetReceiveBufferSize(int64(bytes), true)
	return nil
}

// SetWriteBuffer sets SO_SNDBUF.
func (c *UDPConn) SetWriteBuffer(bytes int) error {
	c.ep.SocketOptions().SetSendBufferSize(int64(bytes), true)
	return nil
}

// parseAddrPort resolves "host:port" where host is a literal address (the
// kit has no resolver) or empty.
func parseAddrPort(netw, address string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := net.LookupPort(netw, port)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var a netip.Addr
	switch host {
	case "":
	case "localhost":
		a = netip.MustParseAddr("127.0.0.1")
	default:
		a, err = netip.ParseAddr(host)
		if err != nil {
			return netip.AddrPort{}, errors.New("netstack: not a literal IP address: " + host)
		}
	}
	if a.IsValid() {
		a = a.Unmap()
		switch {
		case (netw == "tcp4" || netw == "udp4") && !a.Is4(), (netw == "tcp6" || netw == "udp6") && !a.Is6():
			return netip.AddrPort{}, errors.New("netstack: address " + host + " not of network " + netw)
		}
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// Dial implements Network.
func (st *Stack) Dial(ctx context.Context, netw, address string) (net.Conn, error) {
	ap, err := parseAddrPort(netw, address)
	if err != nil {
		return nil, opError("dial", netw, nil, nil, err)
	}
	switch netw {
	case "tcp", "tcp4", "tcp6":
		return st.DialTCP(ctx, netip.AddrPort{}, ap, SocketOptions{})
	case "udp", "udp4", "udp6":
		return st.ListenUDP(netip.AddrPort{}, ap)
	}
	return nil, opError("dial", netw, nil, nil, net.UnknownNetworkError(netw))
}

// Listen implements Network.
func (st *Stack) Listen(netw, address string) (net.Listener, error) {
	ap, err := listenAddr(netw, address, "tcp")
	if err != nil {
		return nil, err
	}
	return st.ListenTCP(ap, SocketOptions{ReuseAddr: true})
}

// ListenPacket implements Network.
func (st *Stack) ListenPacket(netw, address string) (net.PacketConn, error) {
	ap, err := listenAddr(netw, address, "udp")
	if err != nil {
		return nil, err
	}
	return st.ListenUDP(ap, netip.AddrPort{})
}

// listenAddr checks that netw is proto, proto+"4" or proto+"6" and parses
// address; an empty host on proto+"4" listens on IPv4 only.
func listenAddr(netw, address, proto string) (netip.AddrPort, error) {
	switch netw {
	case proto, proto + "4", proto + "6":
	default:
		return netip.AddrPort{}, opError("listen", netw, nil, nil, net.UnknownNetworkError(netw))
	}
	ap, err := parseAddrPort(netw, address)
	if err != nil {
		return netip.AddrPort{}, opError("listen", netw, nil, nil, err)
	}
	if !ap.Addr().IsValid() && netw == proto+"4" {
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
	}
	return ap, nil
}
