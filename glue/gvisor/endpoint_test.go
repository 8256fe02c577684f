package gvisor_test

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/glue/gvisor"
	"github.com/goskit/goskit/netstack"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// recorder wraps a device and records what the glue hands it.
type recorder struct {
	netdev.Device
	mu       sync.Mutex
	offloads []netdev.Offload
	batches  int // TransmitBatch calls with more than one frame
}

func (r *recorder) note(f *netdev.Frame) {
	r.offloads = append(r.offloads, f.Offload)
}

func (r *recorder) Transmit(f *netdev.Frame) error {
	r.mu.Lock()
	r.note(f)
	r.mu.Unlock()
	return r.Device.Transmit(f)
}

func (r *recorder) TransmitBatch(frames []netdev.Frame) (int, error) {
	r.mu.Lock()
	for i := range frames {
		r.note(&frames[i])
	}
	if len(frames) > 1 {
		r.batches++
	}
	r.mu.Unlock()
	return r.Device.(netdev.BatchTransmitter).TransmitBatch(frames)
}

func (r *recorder) ReceiveBatch(slots []netdev.RxSlot) (int, error) {
	return r.Device.(netdev.BatchReceiver).ReceiveBatch(slots)
}

// TestOffloadsAndBatching sends TCP bulk data through the glue and checks
// that gVisor's host GSO reaches the device as virtio-net offload headers,
// in batches.
func TestOffloadsAndBatching(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      wire.Config
		wantGSO  bool
		wantCsum bool
	}{
		{"offloading wire", wire.Config{MTU: 1500}, true, true},
		{"64KiB-MTU wire", wire.Config{}, false, true},
		{"plain NIC", wire.Config{MTU: 1500, NoOffloads: true}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ea, eb, err := wire.New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{Device: ea}
			// A transmit queue makes gVisor hand the glue packet lists.
			a, _ := netstack.New(nil, netstack.Config{TxQueueLen: 256})
			b, _ := netstack.New(nil, netstack.Config{TxQueueLen: 256})
			defer a.Close()
			defer b.Close()
			if _, err := a.AddNIC(rec, netip.MustParsePrefix("198.18.0.1/24")); err != nil {
				t.Fatal(err)
			}
			if _, err := b.AddNIC(eb, netip.MustParsePrefix("198.18.0.2/24")); err != nil {
				t.Fatal(err)
			}
			sendBulk(t, a, b, 8<<20)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			var gso, csum int
			for _, o := range rec.offloads {
				if o.IsGSO() {
					gso++
					if o.GSOSize == 0 || o.GSOSize > 1500 {
						t.Errorf("GSO frame with segment size %d", o.GSOSize)
					}
				}
				if o.Flags&netdev.OffloadNeedsChecksum != 0 {
					csum++
				}
			}
			if (gso > 0) != tc.wantGSO {
				t.Errorf("%d GSO frames of %d, want GSO %v", gso, len(rec.offloads), tc.wantGSO)
			}
			if (csum > 0) != tc.wantCsum {
				t.Errorf("%d partial-checksum frames of %d, want partial checksums %v", csum, len(rec.offloads), tc.wantCsum)
			}
			if rec.batches == 0 {
				t.Errorf("no TransmitBatch call carried more than one frame")
			}
		})
	}
}

func sendBulk(t *testing.T, a, b *netstack.Stack, n int) {
	t.Helper()
	l, err := b.Listen("tcp", "198.18.0.2:9")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- -1
			return
		}
		m, _ := io.Copy(io.Discard, c)
		c.Close()
		got <- m
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := a.Dial(ctx, "tcp", "198.18.0.2:9")
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case m := <-got:
		if m != int64(n) {
			t.Fatalf("received %d bytes, want %d", m, n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("transfer did not finish in 30 s")
	}
}

// nullDispatcher counts what the glue delivers.
type nullDispatcher struct {
	mu     sync.Mutex
	protos []tcpip.NetworkProtocolNumber
}

func (d *nullDispatcher) DeliverNetworkPacket(p tcpip.NetworkProtocolNumber, _ *stack.PacketBuffer) {
	d.mu.Lock()
	d.protos = append(d.protos, p)
	d.mu.Unlock()
}

func (d *nullDispatcher) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

func (d *nullDispatcher) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.protos)
}

// TestReceiveFiltering feeds frames to an endpoint from the far end of a
// wire: good frames are delivered, malformed ones and ones whose checksum
// the glue proves wrong are dropped and counted.
func TestReceiveFiltering(t *testing.T) {
	ea, eb, err := wire.New(wire.Config{MTU: 1500})
	if err != nil {
		t.Fatal(err)
	}
	defer eb.Close()
	ep, err := gvisor.New(ea, gvisor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := &nullDispatcher{}
	ep.Attach(d)
	defer func() { ep.Close(); ep.Wait() }()

	good := ipv4UDP(t, []byte("hello"), false)
	bad := ipv4UDP(t, []byte("hello"), true)
	frames := []struct {
		name  string
		frame []byte
		off   netdev.Offload
		ok    bool
	}{
		{"valid UDP", good, netdev.Offload{}, true},
		{"bad UDP checksum", bad, netdev.Offload{}, false},
		{"bad checksum but device vouches", bad, netdev.Offload{Flags: netdev.OffloadDataValid}, true},
		{"runt", good[:10], netdev.Offload{}, false},
	}
	stats := ep.Stats()
	for _, f := range frames {
		before := d.count()
		bad0, mal0 := stats.RxBadChecksum.Load(), stats.RxMalformed.Load()
		if err := eb.Transmit(&netdev.Frame{Segs: [][]byte{f.frame}, Offload: f.off}); err != nil {
			// The wire itself may refuse a runt; that is a drop too.
			if f.ok {
				t.Fatalf("%s: transmit: %v", f.name, err)
			}
			continue
		}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if d.count() > before || stats.RxBadChecksum.Load() > bad0 || stats.RxMalformed.Load() > mal0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if delivered := d.count() > before; delivered != f.ok {
			t.Errorf("%s: delivered %v, want %v", f.name, delivered, f.ok)
		}
	}
	if stats.RxBadChecksum.Load() == 0 {
		t.Error("no frame counted as a bad checksum")
	}
}

// ipv4UDP builds an Ethernet frame with a UDP datagram to the endpoint.
func ipv4UDP(t *testing.T, payload []byte, corrupt bool) []byte {
	t.Helper()
	const ipLen = header.IPv4MinimumSize
	frame := make([]byte, header.EthernetMinimumSize+ipLen+header.UDPMinimumSize+len(payload))
	eth := header.Ethernet(frame)
	eth.Encode(&header.EthernetFields{SrcAddr: "\x02\x00\x00\x00\x00\x01", DstAddr: "\x02\x00\x00\x00\x00\x02", Type: ipv4.ProtocolNumber})
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	src, dst := tcpip.AddrFrom4([4]byte{198, 18, 0, 1}), tcpip.AddrFrom4([4]byte{198, 18, 0, 2})
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(len(ip)), TTL: 64, Protocol: uint8(header.UDPProtocolNumber), SrcAddr: src, DstAddr: dst})
	ip.SetChecksum(^ip.CalculateChecksum())
	udp := header.UDP(ip[ipLen:])
	udp.Encode(&header.UDPFields{SrcPort: 1000, DstPort: 2000, Length: uint16(len(udp))})
	copy(udp[header.UDPMinimumSize:], payload)
	sum := header.PseudoHeaderChecksum(header.UDPProtocolNumber, src, dst, uint16(len(udp)))
	udp.SetChecksum(^netdev.Checksum(udp, sum))
	if corrupt {
		udp[header.UDPMinimumSize] ^= 0x40
	}
	return frame
}

// TestLinkGone checks that a device failing for good is reported once and
// ends the receive goroutine.
func TestLinkGone(t *testing.T) {
	ea, eb, err := wire.New(wire.Config{})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	ep, err := gvisor.New(ea, gvisor.Options{OnError: func(err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	ep.Attach(&nullDispatcher{})
	eb.Close() // cuts the cable
	select {
	case err := <-errs:
		if !errors.Is(err, netdev.ErrLinkGone) {
			t.Errorf("OnError(%v), want ErrLinkGone", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error reported 10 s after the link went away")
	}
	done := make(chan struct{})
	go func() { ep.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("receive goroutine still running")
	}
	ep.Close()
	if len(errs) != 0 {
		t.Errorf("error reported more than once: %v", <-errs)
	}
}

func TestNewRejectsBadDevices(t *testing.T) {
	ea, eb, _ := wire.New(wire.Config{})
	defer ea.Close()
	defer eb.Close()
	for _, tc := range []struct {
		name string
		info netdev.Info
	}{
		{"short MAC", netdev.Info{MAC: []byte{1, 2, 3}, MTU: 1500}},
		{"tiny MTU", netdev.Info{MAC: make([]byte, 6), MTU: 10}},
		{"huge MTU", netdev.Info{MAC: make([]byte, 6), MTU: 1 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := gvisor.New(infoDev{ea, tc.info}, gvisor.Options{}); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

type infoDev struct {
	netdev.Device
	info netdev.Info
}

func (d infoDev) Info() netdev.Info { return d.info }
