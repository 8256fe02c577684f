// Package netstack provides goskit's TCP/IP component: IPv4 and IPv6 with
// ARP, NDP and ICMP echo, TCP and UDP, behind a small interface that returns
// the standard library's net.Conn, net.Listener and net.PacketConn. It is
// implemented by gVisor's tcpip stack, used as published, reached through
// the glue in glue/gvisor: a kernel adds netdev.Device NICs with their
// addresses and routes, then dials and listens.
//
// What the small interface does not cover is reachable through the optional
// [GVisorStack] interface, which returns gVisor's *stack.Stack; kernels that
// use it are tied to gVisor, the ones that don't are not.
//
// # Execution environment
//
// A Stack is safe for concurrent use. Its connections follow net.Conn's
// rules: one reader and one writer may block at once, deadlines interrupt
// them, Close unblocks both. The stack runs gVisor's own goroutines (timers,
// TCP processors) and one receive goroutine per NIC; Close stops them all,
// closes every NIC's device, and waits, so a closed stack leaves nothing
// running. No state is global: any number of stacks can live in one process.
package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/glue/gvisor"
	"github.com/goskit/goskit/kernsupport"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/qdisc/fifo"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// Network is the part of a stack a program needs to make connections. It is
// satisfied by *Stack, and by [Host], the host kernel's own sockets, so the
// same program runs on either.
type Network interface {
	// Dial connects to address on the named network ("tcp", "tcp4",
	// "tcp6", "udp", "udp4", "udp6"), as net.Dial does.
	Dial(ctx context.Context, network, address string) (net.Conn, error)
	// Listen announces on a TCP address, as net.Listen does.
	Listen(network, address string) (net.Listener, error)
	// ListenPacket announces on a UDP address, as net.ListenPacket does.
	ListenPacket(network, address string) (net.PacketConn, error)
}

// GVisorStack is the optional interface that reaches the imported engine
// itself, for what the small interface does not cover.
type GVisorStack interface {
	GVisor() *stack.Stack
}

// Config sets the stack's protocol options. The zero value is a good
// default: SACK on, CUBIC congestion control, receive buffers at their
// maximum (see ReceiveBufferAutoTuning).
type Config struct {
	// SendBufferMax and ReceiveBufferMax are the largest TCP buffers, in
	// bytes, a connection may grow to (Linux's tcp_wmem[2] and tcp_rmem[2]).
	// Zero means 4 MiB and 6 MiB, Linux's defaults.
	SendBufferMax, ReceiveBufferMax int
	// SendBufferDefault and ReceiveBufferDefault are a new connection's
	// buffers (tcp_wmem[1], tcp_rmem[1]). Zero means 16 KiB for sending;
	// for receiving, ReceiveBufferMax, or 128 KiB with auto-tuning.
	SendBufferDefault, ReceiveBufferDefault int
	// DisableSACK turns selective acknowledgements off.
	DisableSACK bool
	// CongestionControl names the algorithm: "cubic" (default) or "reno".
	CongestionControl string
	// ReceiveBufferAutoTuning grows each connection's receive buffer from
	// ReceiveBufferDefault toward ReceiveBufferMax as the application keeps
	// up, as Linux does. It is off by default because gVisor's (as
	// published) can stall a connection: it grows the buffer while the
	// window is zero without advertising the new window, and the sender
	// then waits for its 200 ms persist probe (seen in every embedded
	// ttcp run: 16 MiB in 0.3 s with it, 0.08 s without). Without it a
	// connection's buffer is ReceiveBufferMax from the start: the same
	// ceiling Linux's auto-tuning has, reached at once.
	ReceiveBufferAutoTuning bool
	// TxQueueLen, when positive, puts a FIFO queue of that many packets
	// between the stack and each NIC, drained by one goroutine per NIC that
	// hands the device whole batches (one TransmitBatch per drain). Zero
	// writes each packet to the device from the goroutine that sends it:
	// no hand-off, the lowest latency.
	TxQueueLen int
	// AckDelay, when positive, lets each NIC's glue hold a bare ACK of a
	// small message for up to this long so that the connection's next
	// segment carries it (delayed acknowledgement, as Linux does; gVisor
	// as published acknowledges at once). Zero sends every ACK at once.
	AckDelay time.Duration
}

// Defaults of Config, matching Linux's.
const (
	DefaultSendBufferMax        = 4 << 20
	DefaultReceiveBufferMax     = 6 << 20
	DefaultSendBufferDefault    = 16 << 10
	DefaultReceiveBufferDefault = 128 << 10
)

func (c Config) withDefaults() Config {
	if c.SendBufferMax == 0 {
		c.SendBufferMax = DefaultSendBufferMax
	}
	if c.ReceiveBufferMax == 0 {
		c.ReceiveBufferMax = DefaultReceiveBufferMax
	}
	if c.SendBufferDefault == 0 {
		c.SendBufferDefault = min(DefaultSendBufferDefault, c.SendBufferMax)
	}
	if c.ReceiveBufferDefault == 0 {
		c.ReceiveBufferDefault = c.ReceiveBufferMax
		if c.ReceiveBufferAutoTuning {
			c.ReceiveBufferDefault = min(DefaultReceiveBufferDefault, c.ReceiveBufferMax)
		}
	}
	if c.CongestionControl == "" {
		c.CongestionControl = "cubic"
	}
	return c
}

// Stack is a TCP/IP stack with its NICs.
type Stack struct {
	s    *stack.Stack
	plat kernsupport.Platform
	cfg  Config

	mu      sync.Mutex
	nics    map[NICID]*nicState
	nextNIC NICID
	closed  bool

	failOnce sync.Once
	failed   chan struct{}
	failErr  error
}

// NICID names a NIC of a stack.
type NICID int32

type nicState struct {
	ep       *gvisor.Endpoint
	prefixes []netip.Prefix
}

var (
	_ Network     = (*Stack)(nil)
	_ GVisorStack = (*Stack)(nil)
)

// ErrClosed is returned by calls on a closed stack.
var ErrClosed = errors.New("netstack: stack closed")

// New makes a stack with no NICs. plat provides logging; it may be nil.
func New(plat kernsupport.Platform, cfg Config) (*Stack, error) {
	cfg = cfg.withDefaults()
	if cfg.SendBufferDefault > cfg.SendBufferMax || cfg.ReceiveBufferDefault > cfg.ReceiveBufferMax {
		return nil, fmt.Errorf("netstack: default buffer larger than its maximum")
	}
	if cfg.AckDelay < 0 {
		return nil, fmt.Errorf("netstack: negative AckDelay %v", cfg.AckDelay)
	}
	switch cfg.CongestionControl {
	case "cubic", "reno":
	default:
		return nil, fmt.Errorf("netstack: unknown congestion control %q (want cubic or reno)", cfg.CongestionControl)
	}
	s := stack.New(stack.Options{
		NetworkProtocols: []stack.NetworkProtocolFactory{
			ipv4.NewProtocol,
			ipv6.NewProtocolWithOptions(ipv6.Options{
				AutoGenLinkLocal: true,
				// Duplicate address detection would hold every address
				// tentative for a second; the kit's addresses are assigned
				// by whoever configures the kernel, as on a host with
				// DAD disabled.
				DADConfigs: stack.DADConfigurations{DupAddrDetectTransmits: 0},
			}),
			arp.NewProtocol,
		},
		TransportProtocols: []stack.TransportProtocolFactory{
			tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6,
		},
		HandleLocal: true,
	})
	st := &Stack{s: s, plat: plat, cfg: cfg, nics: map[NICID]*nicState{}, nextNIC: 1, failed: make(chan struct{})}
	if err := st.configure(); err != nil {
		s.Close()
		s.Wait()
		return nil, err
	}
	return st, nil
}

func (st *Stack) configure() error {
	cfg := st.cfg
	opts := []tcpip.SettableTransportProtocolOption{
		&tcpip.TCPSendBufferSizeRangeOption{Min: 4096, Default: cfg.SendBufferDefault, Max: cfg.SendBufferMax},
		&tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: cfg.ReceiveBufferDefault, Max: cfg.ReceiveBufferMax},
	}
	sack := tcpip.TCPSACKEnabled(!cfg.DisableSACK)
	opts = append(opts, &sack)
	cc := tcpip.CongestionControlOption(cfg.CongestionControl)
	opts = append(opts, &cc)
	moderate := tcpip.TCPModerateReceiveBufferOption(cfg.ReceiveBufferAutoTuning)
	opts = append(opts, &moderate)
	for _, o := range opts {
		if err := st.s.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			return fmt.Errorf("netstack: setting %T: %s", o, err)
		}
	}
	// Socket-level buffer limits (SO_SNDBUF/SO_RCVBUF) bounded as Linux's
	// wmem_max/rmem_max; let them reach the TCP maxima.
	sndOpt := tcpip.SendBufferSizeOption{Min: 4096, Default: cfg.SendBufferDefault, Max: cfg.SendBufferMax}
	if err := st.s.SetOption(sndOpt); err != nil {
		return fmt.Errorf("netstack: send buffer limits: %s", err)
	}
	rcvOpt := tcpip.ReceiveBufferSizeOption{Min: 4096, Default: cfg.ReceiveBufferDefault, Max: cfg.ReceiveBufferMax}
	if err := st.s.SetOption(rcvOpt); err != nil {
		return fmt.Errorf("netstack: receive buffer limits: %s", err)
	}
	return nil
}

// GVisor implements GVisorStack.
func (st *Stack) GVisor() *stack.Stack { return st.s }

// Config returns the stack's configuration with defaults filled in.
func (st *Stack) Config() Config { return st.cfg }

// AddNIC attaches dev to the stack with the given addresses, and adds an
// on-link route for each prefix. The stack owns dev from now on: Close
// closes it, and a failure of dev (its host interface disappearing) fails
// the stack (see Done).
func (st *Stack) AddNIC(dev netdev.Device, addrs ...netip.Prefix) (NICID, error) {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		dev.Close()
		return 0, ErrClosed
	}
	id := st.nextNIC
	st.nextNIC++
	st.mu.Unlock()

	ep, err := gvisor.New(dev, gvisor.Options{OnError: st.fail, AckDelay: st.cfg.AckDelay})
	if err != nil {
		dev.Close()
		return 0, fmt.Errorf("netstack: %w", err)
	}
	nicOpts := stack.NICOptions{Name: dev.Info().Name}
	if st.cfg.TxQueueLen > 0 {
		nicOpts.QDisc = fifo.New(ep, 1, st.cfg.TxQueueLen)
	}
	if terr := st.s.CreateNICWithOptions(tcpip.NICID(id), ep, nicOpts); terr != nil {
		ep.Close()
		return 0, fmt.Errorf("netstack: create NIC %q: %s", dev.Info().Name, terr)
	}
	st.mu.Lock()
	st.nics[id] = &nicState{ep: ep}
	st.mu.Unlock()
	for _, p := range addrs {
		if err := st.AddAddress(id, p); err != nil {
			return id, err
		}
	}
	return id, nil
}

// AddAddress assigns p.Addr() to the NIC and adds an on-link route to p's
// network.
func (st *Stack) AddAddress(id NICID, p netip.Prefix) error {
	if !p.IsValid() || !p.Addr().IsValid() {
		return fmt.Errorf("netstack: invalid address %v", p)
	}
	a := p.Addr().Unmap()
	p = netip.PrefixFrom(a, p.Bits())
	proto := protoOf(a)
	pa := tcpip.ProtocolAddress{
		Protocol:          proto,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpipAddr(a), PrefixLen: p.Bits()},
	}
	if terr := st.s.AddProtocolAddress(tcpip.NICID(id), pa, stack.AddressProperties{}); terr != nil {
		return fmt.Errorf("netstack: add address %v to NIC %d: %s", p, id, terr)
	}
	st.mu.Lock()
	if n := st.nics[id]; n != nil {
		n.prefixes = append(n.prefixes, p)
	}
	st.mu.Unlock()
	return st.AddRoute(p.Masked(), netip.Addr{}, id)
}

// AddRoute routes dst through gw (the zero Addr for an on-link route) on
// NIC id.
func (st *Stack) AddRoute(dst netip.Prefix, gw netip.Addr, id NICID) error {
	if !dst.IsValid() {
		return fmt.Errorf("netstack: invalid route destination %v", dst)
	}
	dst = dst.Masked()
	subnet, err := tcpip.NewSubnet(tcpipAddr(dst.Addr()), tcpip.MaskFromBytes(net.CIDRMask(dst.Bits(), dst.Addr().BitLen())))
	if err != nil {
		return fmt.Errorf("netstack: route %v: %w", dst, err)
	}
	r := tcpip.Route{Destination: subnet, NIC: tcpip.NICID(id)}
	if gw.IsValid() {
		gw = gw.Unmap()
		if gw.Is4() != dst.Addr().Is4() {
			return fmt.Errorf("netstack: gateway %v of another family than %v", gw, dst)
		}
		r.Gateway = tcpipAddr(gw)
	}
	st.s.AddRoute(r)
	return nil
}

// SetDefaultGateway routes everything of gw's family not otherwise routed
// through gw, on the NIC whose network contains gw.
func (st *Stack) SetDefaultGateway(gw netip.Addr) error {
	gw = gw.Unmap()
	st.mu.Lock()
	var nic NICID
	for id, n := range st.nics {
		for _, p := range n.prefixes {
			if p.Masked().Contains(gw) {
				nic = id
			}
		}
	}
	st.mu.Unlock()
	if nic == 0 {
		return fmt.Errorf("netstack: gateway %v is on no NIC's network", gw)
	}
	any := netip.IPv4Unspecified()
	if gw.Is6() {
		any = netip.IPv6Unspecified()
	}
	return st.AddRoute(netip.PrefixFrom(any, 0), gw, nic)
}

// NICs lists the stack's NICs.
func (st *Stack) NICs() []NICID {
	st.mu.Lock()
	defer st.mu.Unlock()
	ids := make([]NICID, 0, len(st.nics))
	for id := range st.nics {
		ids = append(ids, id)
	}
	return ids
}

// Device returns the device of NIC id, or nil.
func (st *Stack) Device(id NICID) netdev.Device {
	st.mu.Lock()
	defer st.mu.Unlock()
	if n := st.nics[id]; n != nil {
		return n.ep.Device()
	}
	return nil
}

// fail records the first device failure and signals Done.
func (st *Stack) fail(err error) {
	st.failOnce.Do(func() {
		// Not logged here: after an orderly close of a peer the failure is
		// expected, and a kernel that cares reports Err itself.
		st.failErr = err
		close(st.failed)
	})
}

// Done is closed when a NIC's device fails for good (its link disappeared).
// A kernel selects on it beside its work so that it can exit with Err
// instead of waiting for TCP to time out.
func (st *Stack) Done() <-chan struct{} { return st.failed }

// Err returns the failure that closed Done, or nil.
func (st *Stack) Err() error {
	select {
	case <-st.failed:
		return st.failErr
	default:
		return nil
	}
}

// Close closes every endpoint and NIC and waits for the stack's goroutines
// to end. Connections return errors afterwards.
func (st *Stack) Close() error {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil
	}
	st.closed = true
	nics := st.nics
	st.nics = map[NICID]*nicState{}
	st.mu.Unlock()
	// Close the endpoints before removing NICs, so connections see their
	// stack go away rather than a route vanish.
	st.s.Close()
	for id := range nics {
		st.s.RemoveNIC(tcpip.NICID(id))
	}
	for _, n := range nics {
		n.ep.Close()
		n.ep.Wait()
	}
	st.s.Wait()
	st.s.Destroy()
	return nil
}

func protoOf(a netip.Addr) tcpip.NetworkProtocolNumber {
	if a.Is4() {
		return header.IPv4ProtocolNumber
	}
	return header.IPv6ProtocolNumber
}

func tcpipAddr(a netip.Addr) tcpip.Address {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return tcpip.AddrFrom4(b)
	}
	b := a.As16()
	return tcpip.AddrFrom16(b)
}

func netipAddr(a tcpip.Address) netip.Addr {
	ip, _ := netip.AddrFromSlice(a.AsSlice())
	return ip
}

func fullAddr(ap netip.AddrPort) tcpip.FullAddress {
	fa := tcpip.FullAddress{Port: ap.Port()}
	if ap.Addr().IsValid() && !ap.Addr().IsUnspecified() {
		fa.Addr = tcpipAddr(ap.Addr())
	}
	return fa
}
