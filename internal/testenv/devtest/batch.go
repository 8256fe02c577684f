package devtest

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
)

// watchdog closes dev after d, so a test's blocking receive cannot hang;
// the returned stop cancels it.
func watchdog(dev netdev.Device, d time.Duration) (stop func() bool) {
	return time.AfterFunc(d, func() { dev.Close() }).Stop
}

func echoSeq(f []byte, id uint16) (uint16, bool) {
	for seq := uint16(1); seq <= 1000; seq++ {
		if IsEchoReply(f, id, seq) {
			return seq, true
		}
	}
	return 0, false
}

// CheckBatch checks a device's batching and buffer handling against a
// Linux peer answering pings at peer: it must implement
// netdev.BatchTransmitter and netdev.BatchReceiver. It resolves peer by
// hand, sends 32 echo requests in one TransmitBatch and receives the 32
// replies with ReceiveBatch (the first call must return several); then it
// checks that a frame too big for the first slot of a batch is dropped while
// the frames after it are delivered, and that Receive into a buffer too
// small returns ErrBufferTooSmall and the next Receive gets the next frame.
// The device is closed if the check hangs for 10 s.
func CheckBatch(t *testing.T, dev netdev.Device, ip, peer netip.Addr) {
	t.Helper()
	bt, ok1 := dev.(netdev.BatchTransmitter)
	br, ok2 := dev.(netdev.BatchReceiver)
	if !ok1 || !ok2 {
		t.Fatalf("%T lacks batching", dev)
	}
	defer watchdog(dev, 10*time.Second)()
	me := dev.Info().MAC
	big := func() []netdev.RxSlot {
		s := make([]netdev.RxSlot, 16)
		for i := range s {
			buf := make([]byte, netdev.MaxGSOFrameLen)
			s[i].Bufs = [][]byte{buf[:50], buf[50:]}
		}
		return s
	}
	frameOf := func(s netdev.RxSlot) []byte {
		f := make([]byte, s.N)
		(&netdev.Frame{Segs: s.Bufs}).CopyTo(f)
		return f
	}

	// Resolve the peer, repeating the request every 200 ms: a link just
	// brought up may lose the first frames.
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := dev.Transmit(&netdev.Frame{Segs: [][]byte{ARP(1, me, ip, nil, peer)}}); err != nil {
				t.Errorf("transmit ARP request: %v", err)
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	var peerMAC net.HardwareAddr
	for peerMAC == nil {
		slots := big()
		n, err := br.ReceiveBatch(slots)
		if err != nil {
			t.Fatalf("ReceiveBatch waiting for the ARP reply: %v", err)
		}
		for _, s := range slots[:n] {
			if a, ok := ParseARP(frameOf(s)); ok && a.Op == 2 && a.SPA == peer {
				peerMAC = a.SHA
			}
		}
	}
	close(stop)
	<-stopped
	// Replies to the repeated requests are consumed with the echo replies.
	time.Sleep(100 * time.Millisecond)

	// 32 echo requests in one batch; 32 replies in few batches.
	const id = 0xba7c
	echo := func(seq uint16, size int) netdev.Frame {
		return netdev.Frame{Segs: [][]byte{ICMPEcho(8, peerMAC, me, ip, peer, id, seq, make([]byte, size))}}
	}
	var frames []netdev.Frame
	for seq := uint16(1); seq <= 32; seq++ {
		frames = append(frames, echo(seq, 56))
	}
	if n, err := bt.TransmitBatch(frames); n != len(frames) || err != nil {
		t.Fatalf("TransmitBatch = %d, %v; want %d, nil", n, err, len(frames))
	}
	time.Sleep(100 * time.Millisecond) // let every reply queue up
	seen := map[uint16]bool{}
	for calls := 0; len(seen) < 32; calls++ {
		slots := big()
		n, err := br.ReceiveBatch(slots)
		if err != nil {
			t.Fatalf("ReceiveBatch after %d replies: %v", len(seen), err)
		}
		if calls == 0 && n < 2 {
			t.Errorf("first ReceiveBatch with 32 replies queued returned %d", n)
		}
		for _, s := range slots[:n] {
			if seq, ok := echoSeq(frameOf(s), id); ok {
				seen[seq] = true
			}
		}
	}

	// A reply too big for slot 0 is dropped; the three after it arrive.
	frames = []netdev.Frame{echo(101, 500), echo(102, 56), echo(103, 56), echo(104, 56)}
	if n, err := bt.TransmitBatch(frames); n != len(frames) || err != nil {
		t.Fatalf("TransmitBatch = %d, %v", n, err)
	}
	time.Sleep(100 * time.Millisecond)
	slots := big()[:4]
	slots[0].Bufs = [][]byte{make([]byte, 100)}
	n, err := br.ReceiveBatch(slots)
	if err != nil || n != 3 {
		t.Fatalf("ReceiveBatch with a small first slot = %d, %v; want 3, nil", n, err)
	}
	for i, s := range slots[:n] {
		if seq, ok := echoSeq(frameOf(s), id); !ok || seq != uint16(102+i) {
			t.Errorf("slot %d holds %d bytes, echo reply %d (%v); want reply %d", i, s.N, seq, ok, 102+i)
		}
	}

	// The same with Receive: an error for the big frame, then the next.
	frames = []netdev.Frame{echo(201, 500), echo(202, 56)}
	if n, err := bt.TransmitBatch(frames); n != len(frames) || err != nil {
		t.Fatalf("TransmitBatch = %d, %v", n, err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, _, err := dev.Receive([][]byte{make([]byte, 60), make([]byte, 40)}); !errors.Is(err, netdev.ErrBufferTooSmall) {
		t.Fatalf("Receive of a 542-byte frame into 100 bytes: %v, want ErrBufferTooSmall", err)
	}
	buf := make([]byte, 200)
	n, _, err = dev.Receive([][]byte{buf})
	if err != nil || !IsEchoReply(buf[:n], id, 202) {
		t.Fatalf("Receive after a dropped frame = %d bytes, %v; want echo reply 202", n, err)
	}
}

// CheckTransmitErrors checks that a device with MTU 1500, TSO4 and TSO6
// (and no UDP segmentation) refuses, without sending, frames it cannot
// carry, with the netdev error for each; and that TransmitBatch stops at
// such a frame after sending the ones before it.
func CheckTransmitErrors(t *testing.T, dev netdev.Device, ip, peer netip.Addr) {
	t.Helper()
	ipv4 := func(n int) []byte {
		f := make([]byte, n)
		f[12], f[13] = 0x08, 0x00
		return f
	}
	tests := []struct {
		name string
		f    netdev.Frame
		want error
	}{
		{"too big", netdev.Frame{Segs: [][]byte{ipv4(1515)}}, netdev.ErrFrameTooBig},
		{"GSO too big", netdev.Frame{Segs: [][]byte{ipv4(70000)}, Offload: netdev.Offload{GSOType: netdev.GSOTCPv4, GSOSize: 1000}}, netdev.ErrFrameTooBig},
		{"UDP GSO not advertised", netdev.Frame{Segs: [][]byte{ipv4(3000)}, Offload: netdev.Offload{GSOType: netdev.GSOUDP, GSOSize: 1000}}, netdev.ErrBadOffload},
		{"checksum outside frame", netdev.Frame{Segs: [][]byte{ipv4(100)}, Offload: netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 34, ChecksumOffset: 80}}, netdev.ErrBadOffload},
		{"data-valid on transmit", netdev.Frame{Segs: [][]byte{ipv4(100)}, Offload: netdev.Offload{Flags: netdev.OffloadDataValid}}, netdev.ErrBadOffload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := dev.Transmit(&tc.f); !errors.Is(err, tc.want) {
				t.Errorf("Transmit: %v, want %v", err, tc.want)
			}
		})
	}
	if bt, ok := dev.(netdev.BatchTransmitter); ok {
		t.Run("batch stops at bad frame", func(t *testing.T) {
			good := ARP(1, dev.Info().MAC, ip, nil, peer)
			frames := []netdev.Frame{{Segs: [][]byte{good}}, {Segs: [][]byte{good}}, tests[0].f, {Segs: [][]byte{good}}}
			n, err := bt.TransmitBatch(frames)
			if n != 2 || !errors.Is(err, netdev.ErrFrameTooBig) {
				t.Errorf("TransmitBatch = %d, %v; want 2, ErrFrameTooBig", n, err)
			}
		})
	}
}
