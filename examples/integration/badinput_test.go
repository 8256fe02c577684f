package integration

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/examples/kernel"
)

// injector is a kernel's NIC: a wire end with two ways in for a test's bad
// frames. InjectTx transmits a frame through the wire to the peer kernel,
// serialised with the stack's own transmissions (a device takes one
// transmitter at a time). InjectRx hands a frame, with any Offload, to this
// kernel's stack as the next received frame: that is how frames the wire
// itself would refuse (nonsense offload headers, runts, giants) reach the
// glue. Optional interfaces are forwarded, as the netdev contract asks of
// wrappers.
type injector struct {
	end  *wire.End
	txMu sync.Mutex
	rxq  chan rxFrame // at most one frame waits for the receiver

	rxTaken atomic.Uint64 // injected frames handed to the stack
}

type rxFrame struct {
	data []byte
	off  netdev.Offload
}

var (
	_ netdev.Device           = (*injector)(nil)
	_ netdev.BatchTransmitter = (*injector)(nil)
	_ netdev.BatchReceiver    = (*injector)(nil)
)

func newInjector(end *wire.End) *injector {
	return &injector{end: end, rxq: make(chan rxFrame, 1)}
}

func (d *injector) Info() netdev.Info { return d.end.Info() }
func (d *injector) Close() error      { return d.end.Close() }

func (d *injector) Transmit(f *netdev.Frame) error {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	return d.end.Transmit(f)
}

func (d *injector) TransmitBatch(frames []netdev.Frame) (int, error) {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	return d.end.TransmitBatch(frames)
}

// InjectTx sends a frame to the peer through the wire; the wire's own
// validation may refuse it.
func (d *injector) InjectTx(frame []byte, off netdev.Offload) error {
	return d.Transmit(&netdev.Frame{Segs: [][]byte{frame}, Offload: off})
}

// injected returns the waiting injected frame, if any.
func (d *injector) injected() (rxFrame, bool) {
	select {
	case f := <-d.rxq:
		d.rxTaken.Add(1)
		return f, true
	default:
		return rxFrame{}, false
	}
}

// fill copies an injected frame into posted buffers as a device would.
func fill(bufs [][]byte, f rxFrame) (int, error) {
	room := 0
	for _, b := range bufs {
		room += len(b)
	}
	if len(f.data) > room {
		return 0, fmt.Errorf("injector: %w: %d-byte frame, %d posted", netdev.ErrBufferTooSmall, len(f.data), room)
	}
	n := 0
	for _, b := range bufs {
		n += copy(b, f.data[n:])
	}
	return n, nil
}

func (d *injector) Receive(bufs [][]byte) (int, netdev.Offload, error) {
	if f, ok := d.injected(); ok {
		n, err := fill(bufs, f)
		return n, f.off, err
	}
	return d.end.Receive(bufs)
}

func (d *injector) ReceiveBatch(slots []netdev.RxSlot) (int, error) {
	if len(slots) > 0 {
		if f, ok := d.injected(); ok {
			n, err := fill(slots[0].Bufs, f)
			if err != nil {
				return 0, err
			}
			slots[0].N, slots[0].Offload = n, f.off
			return 1, nil
		}
	}
	return d.end.ReceiveBatch(slots)
}

// injectRx queues a frame for this kernel's stack and wakes its receive
// goroutine, which may be waiting on the wire, with a frame of an unknown
// type sent by the peer's injector. It fails the test if the stack takes
// no frame for 30 s.
func injectRx(t testing.TB, to, peer *injector, f rxFrame) {
	t.Helper()
	select {
	case to.rxq <- f:
	case <-time.After(30 * time.Second):
		t.Fatalf("the stack took no injected frame for 30 s: its receive goroutine is stuck")
	}
	wake := make([]byte, 60)
	copy(wake[0:6], to.end.Info().MAC)
	copy(wake[6:12], peer.end.Info().MAC)
	wake[12], wake[13] = 0x88, 0xb5 // IEEE local experimental: nobody's protocol
	if err := peer.InjectTx(wake, netdev.Offload{}); err != nil {
		t.Fatalf("wake-up frame: %v", err)
	}
}

// TestBadFramesThroughWire feeds thousands of random and malformed frames
// to both kernels of a wire pair: through the wire (as the peer would send
// them) and straight into one kernel's receive path with nonsense offload
// headers. Then verified transfers on the same stacks complete both ways,
// while more garbage arrives.
func TestBadFramesThroughWire(t *testing.T) {
	n := 4000
	if testing.Short() {
		n = 1000
	}
	ea, eb, err := wire.New(wire.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ia, ib := newInjector(ea), newInjector(eb)
	info := hostedInfo(t)
	var out console
	boot := func(dev *injector, addrs ...netip.Prefix) *kernel.Kernel {
		f := ttcpConfig.flags
		f.NIC, f.Addrs = "wire", addrs
		k, err := kernel.Boot(info, f, kernel.Config{Console: &out, Device: dev, TxQueueLen: ttcpConfig.queue})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(k.Close)
		return k
	}
	ka := boot(ia, kernel.EmbeddedTransmitter, kernel.EmbeddedTransmitter6)
	kb := boot(ib, kernel.EmbeddedReceiver, kernel.EmbeddedReceiver6)

	victimOf := func(d *injector, p4, p6 netip.Prefix) victim {
		return victim{
			mac: d.end.Info().MAC, ip4: p4.Addr(), ip6: p6.Addr(),
			fake4: netip.MustParseAddr("198.18.0.99"), fake6: netip.MustParseAddr("2001:2::99"),
			fakeMAC: net.HardwareAddr{0x02, 0xba, 0xd0, 0, 0, 0x99}, maxLen: netdev.MaxGSOFrameLen, listenPort: 5001,
		}
	}
	// Garbage for a arrives through the wire from b's end; garbage for b is
	// injected into b's receive path, offloads and all.
	ga := newGarbage(1, victimOf(ia, kernel.EmbeddedTransmitter, kernel.EmbeddedTransmitter6))
	gb := newGarbage(2, victimOf(ib, kernel.EmbeddedReceiver, kernel.EmbeddedReceiver6))
	kinds := map[string]int{}
	refused := 0
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < n; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("injecting %d frames took over 60 s (at %d)", n, i)
		}
		f, kind := ga.next()
		kinds[kind]++
		off := netdev.Offload{}
		if i%4 == 0 {
			off = ga.offload(len(f))
		}
		if err := ib.InjectTx(f, off); err != nil {
			// The wire refuses what no device could send: runts, giants,
			// offloads that do not fit the frame.
			if !errors.Is(err, netdev.ErrBadOffload) && !errors.Is(err, netdev.ErrFrameTooBig) && !errors.Is(err, wire.ErrFrameTooShort) {
				t.Fatalf("InjectTx of a %q frame: %v", kind, err)
			}
			refused++
		}

		f, kind = gb.next()
		kinds[kind]++
		switch i % 16 {
		case 0: // a runt shorter than an Ethernet header
			f = f[:min(len(f), i%14)]
		case 1: // a giant, larger than any posted buffer
			f = append(f, make([]byte, netdev.MaxGSOFrameLen+1-len(f)+i%100)...)
		}
		off = netdev.Offload{}
		if i%2 == 0 {
			off = gb.offload(len(f))
		}
		injectRx(t, ib, ia, rxFrame{data: f, off: off})
	}
	// The last injected frame is taken before transfers start.
	for wait := time.Now().Add(30 * time.Second); ib.rxTaken.Load() < uint64(n); {
		if time.Now().After(wait) {
			t.Fatalf("b's stack took %d of %d injected frames", ib.rxTaken.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("%d frames each way; the wire refused %d; kinds: %v", n, refused, kinds)
	for name, k := range map[string]*kernel.Kernel{"a": ka, "b": kb} {
		s := k.Stack.GVisor().Stats()
		t.Logf("%s: IP malformed %d, IP invalid destination %d, malformed L4 %d, TCP invalid segments %d, TCP checksum errors %d, ARP malformed %d, ICMP invalid %d, dropped %d",
			name, s.IP.MalformedPacketsReceived.Value(), s.IP.InvalidDestinationAddressesReceived.Value(), s.NICs.MalformedL4RcvdPackets.Value(),
			s.TCP.InvalidSegmentsReceived.Value(), s.TCP.ChecksumErrors.Value(), s.ARP.MalformedPacketsReceived.Value(),
			s.ICMP.V4.PacketsReceived.Invalid.Value()+s.ICMP.V6.PacketsReceived.Invalid.Value(), s.DroppedPackets.Value())
		if s.IP.MalformedPacketsReceived.Value() == 0 {
			t.Errorf("%s: gVisor counted no malformed IP packets: the garbage did not reach the stack", name)
		}
		if err := k.Stack.Err(); err != nil {
			t.Fatalf("%s: the stack failed: %v", name, err)
		}
	}

	// Verified transfers both ways, with garbage still arriving at a
	// through the wire.
	stop := make(chan struct{})
	injected := make(chan int)
	go func() {
		count := 0
		defer func() { injected <- count }()
		for count < 20000 {
			select {
			case <-stop:
				return
			default:
			}
			f, _ := ga.next()
			if ib.InjectTx(f, netdev.Offload{}) == nil {
				count++
			}
			if count%64 == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	for _, tc := range []struct {
		name   string
		tx, rx *kernel.Kernel
		to     netip.Addr
		port   int
	}{
		{"a to b over IPv4", ka, kb, kernel.EmbeddedReceiver.Addr(), 5001},
		{"b to a over IPv6", kb, ka, kernel.EmbeddedTransmitter6.Addr(), 5002},
	} {
		before := len(out.String())
		tcode, rcode := kitTransfer(t, tc.tx, tc.rx, tc.to, ttcpOpts(verifiedBufs(), tc.port), 60*time.Second)
		got := out.String()[before:]
		if tcode != 0 || rcode != 0 || !strings.Contains(got, verifiedLine(verifiedBufs())) || !strings.Contains(got, "(pattern verified)") {
			t.Errorf("%s after the garbage: exit statuses %d, %d; console:\n%s", tc.name, tcode, rcode, got)
		}
	}
	close(stop)
	t.Logf("%d more frames arrived during the transfers", <-injected)
}
