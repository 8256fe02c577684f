package wire

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
)

// Offsets in the TCP/IPv4 test frames.
const (
	ipOff    = netdev.EthernetHeaderLen
	tcpOff   = ipOff + 20
	hdrLen   = tcpOff + 20
	seqOff   = tcpOff + 4
	csumOff  = 16 // TCP checksum within the TCP header
	maxIPLen = 65535
)

// tcpFrame builds an Ethernet+IPv4+TCP frame of total length n whose
// sequence number is id and whose payload is a pattern derived from id.
// With partial, the TCP checksum is left partial (the pseudo-header sum, as
// a stack using checksum offload leaves it) and the Offload says so;
// otherwise it is complete.
func tcpFrame(id uint32, n int, partial bool) ([]byte, netdev.Offload) {
	if n < hdrLen || n-ipOff > maxIPLen {
		panic("tcpFrame: bad length")
	}
	f := make([]byte, n)
	copy(f[0:6], defaultMACB)
	copy(f[6:12], defaultMACA)
	binary.BigEndian.PutUint16(f[12:], 0x0800)

	ip := f[ipOff:tcpOff]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(n-ipOff))
	binary.BigEndian.PutUint16(ip[4:], uint16(id))
	ip[8] = 64
	ip[9] = 6
	copy(ip[12:16], []byte{198, 18, 0, 1})
	copy(ip[16:20], []byte{198, 18, 0, 2})
	binary.BigEndian.PutUint16(ip[10:], ^netdev.Checksum(ip, 0))

	tcp := f[tcpOff:]
	binary.BigEndian.PutUint16(tcp[0:], 5001)
	binary.BigEndian.PutUint16(tcp[2:], 40000)
	binary.BigEndian.PutUint32(tcp[4:], id)
	tcp[12] = 5 << 4
	tcp[13] = 0x10 // ACK
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	for i := hdrLen; i < n; i++ {
		f[i] = byte(uint32(i)*7 + id)
	}
	pseudo := pseudoSum(f)
	if partial {
		binary.BigEndian.PutUint16(tcp[csumOff:], pseudo)
		return f, netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: tcpOff, ChecksumOffset: csumOff}
	}
	binary.BigEndian.PutUint16(tcp[csumOff:], ^netdev.Checksum(tcp, pseudo))
	return f, netdev.Offload{}
}

// pseudoSum is the TCP/IPv4 pseudo-header sum of frame f, from its IP
// header's addresses and its actual length.
func pseudoSum(f []byte) uint16 {
	var ph [12]byte
	copy(ph[0:8], f[ipOff+12:ipOff+20])
	ph[9] = 6
	binary.BigEndian.PutUint16(ph[10:], uint16(len(f)-tcpOff))
	return netdev.Checksum(ph[:], 0)
}

// checksumsOK reports whether both the IPv4 header and the TCP checksum of
// frame f verify, as a receiver without checksum offload checks them.
func checksumsOK(f []byte) bool {
	return netdev.Checksum(f[ipOff:tcpOff], 0) == 0xffff &&
		netdev.Checksum(f[tcpOff:], pseudoSum(f)) == 0xffff
}

// frameID returns the id tcpFrame put into f.
func frameID(f []byte) uint32 { return binary.BigEndian.Uint32(f[seqOff:]) }

// newWire makes a wire for a test and closes it at cleanup.
func newWire(t testing.TB, cfg Config) (*End, *End) {
	t.Helper()
	a, b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// watchdog cuts the wire if a test is still running after d, so a Receive
// that would hang returns an error and the test fails instead.
func watchdog(t testing.TB, e *End, d time.Duration) {
	t.Helper()
	timer := time.AfterFunc(d, func() { e.Close() })
	t.Cleanup(func() { timer.Stop() })
}

// received is one frame as a receiver saw it.
type received struct {
	data []byte
	off  netdev.Offload
}

// receiveN receives exactly n frames on e, failing the test if the wire is
// cut first (the watchdog bounds the wait).
func receiveN(t testing.TB, e *End, n int) []received {
	t.Helper()
	out := make([]received, 0, n)
	buf := make([]byte, netdev.MaxGSOFrameLen)
	for len(out) < n {
		m, off, err := e.Receive([][]byte{buf})
		if err != nil {
			t.Fatalf("Receive after %d of %d frames: %v", len(out), n, err)
		}
		out = append(out, received{append([]byte(nil), buf[:m]...), off})
	}
	return out
}

// expectedDeliveries is how many frames the peer of e will receive, once
// everything in flight has arrived.
func expectedDeliveries(s Stats) int {
	return int(s.Frames + s.Duplicated - s.Lost - s.QueueDrops)
}

// isAny reports whether err matches one of targets.
func isAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
