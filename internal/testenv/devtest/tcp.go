package devtest

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/internal/testenv"
)

// TCP flags.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
)

// TCPHeader is the part of a TCP segment tests set and look at.
type TCPHeader struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            uint8
	Window           uint16
	Options          []byte // a multiple of 4 bytes
}

func pseudoSum(src, dst netip.Addr, proto uint8, n int) uint16 {
	var p [12]byte
	copy(p[0:], src.AsSlice())
	copy(p[4:], dst.AsSlice())
	p[9] = proto
	binary.BigEndian.PutUint16(p[10:], uint16(n))
	return netdev.Checksum(p[:], 0)
}

// TCPv4 builds an Ethernet/IPv4/TCP frame. With partial set, the TCP
// checksum field holds only the pseudo-header sum and the returned Offload
// asks the device to complete it (netdev.OffloadNeedsChecksum); otherwise
// the checksum is complete and the Offload is zero. gsoSize > 0 makes the
// frame a TCP segmentation-offload frame (partial implied).
func TCPv4(dstMAC, srcMAC net.HardwareAddr, src, dst netip.Addr, h TCPHeader, data []byte, partial bool, gsoSize int) ([]byte, netdev.Offload) {
	thl := 20 + len(h.Options)
	seg := make([]byte, thl, thl+len(data))
	binary.BigEndian.PutUint16(seg[0:], h.SrcPort)
	binary.BigEndian.PutUint16(seg[2:], h.DstPort)
	binary.BigEndian.PutUint32(seg[4:], h.Seq)
	binary.BigEndian.PutUint32(seg[8:], h.Ack)
	seg[12] = byte(thl/4) << 4
	seg[13] = h.Flags
	binary.BigEndian.PutUint16(seg[14:], h.Window)
	copy(seg[20:], h.Options)
	seg = append(seg, data...)
	ps := pseudoSum(src, dst, 6, len(seg))
	var off netdev.Offload
	if partial || gsoSize > 0 {
		binary.BigEndian.PutUint16(seg[16:], ps)
		off = netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 34, ChecksumOffset: 16}
		if gsoSize > 0 {
			off.GSOType, off.GSOSize, off.HeaderLen = netdev.GSOTCPv4, uint16(gsoSize), uint16(34+thl)
		}
	} else {
		binary.BigEndian.PutUint16(seg[16:], ^netdev.Checksum(seg, ps))
	}
	return IPv4(dstMAC, srcMAC, src, dst, 6, seg), off
}

// ParseTCP parses a TCP segment (an IPv4Info's Payload) and returns its
// header and data.
func ParseTCP(seg []byte) (TCPHeader, []byte, bool) {
	if len(seg) < 20 {
		return TCPHeader{}, nil, false
	}
	thl := int(seg[12]>>4) * 4
	if thl < 20 || thl > len(seg) {
		return TCPHeader{}, nil, false
	}
	return TCPHeader{
		SrcPort: binary.BigEndian.Uint16(seg[0:]),
		DstPort: binary.BigEndian.Uint16(seg[2:]),
		Seq:     binary.BigEndian.Uint32(seg[4:]),
		Ack:     binary.BigEndian.Uint32(seg[8:]),
		Flags:   seg[13],
		Window:  binary.BigEndian.Uint16(seg[14:]),
		Options: seg[20:thl],
	}, seg[thl:], true
}

// TCPv4ChecksumOK reports whether the TCP checksum of an Ethernet/IPv4/TCP
// frame verifies.
func TCPv4ChecksumOK(f []byte) bool {
	p, ok := ParseIPv4(f)
	if !ok || p.Proto != 6 {
		return false
	}
	return netdev.Checksum(p.Payload, pseudoSum(p.Src, p.Dst, 6, len(p.Payload))) == 0xffff
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// CheckTCPOffload checks segmentation and checksum offload in both
// directions against Linux's TCP, with no stack on the kit's side: Linux
// (in ns) listens on peer; the station performs the handshake by hand with
// an MSS of 1460, sends 4000 bytes as one TSO frame with a partial
// checksum, which Linux must deliver intact to the accepted connection; then
// Linux writes 64 KiB, and the station must receive at least one coalesced
// (GSO) frame larger than the MTU, whose checksum, completed as its Offload
// says, verifies and whose data is what Linux wrote.
func CheckTCPOffload(t *testing.T, s *Station, ns *testenv.Netns, peer netip.Addr) {
	t.Helper()
	const port = 5001
	var ln net.Listener
	if err := ns.Do(func() (err error) {
		ln, err = net.Listen("tcp4", net.JoinHostPort(peer.String(), strconv.Itoa(port)))
		return err
	}); err != nil {
		t.Fatalf("listen in %s: %v", ns.Name, err)
	}
	defer ln.Close()
	mac := s.Resolve(t, peer, 5*time.Second)

	const kitPort, iss = 40000, 1000
	send := func(h TCPHeader, data []byte, gso int) {
		t.Helper()
		h.SrcPort, h.DstPort, h.Window = kitPort, port, 65535
		f, off := TCPv4(mac, s.MAC, s.IP, peer, h, data, false, gso)
		if err := s.Transmit(f, off); err != nil {
			t.Fatalf("transmit TCP %#x: %v", h.Flags, err)
		}
	}
	fromPeer := func(r Received) (TCPHeader, []byte, bool) {
		p, ok := ParseIPv4(r.Frame)
		if !ok || p.Proto != 6 || p.Src != peer {
			return TCPHeader{}, nil, false
		}
		h, data, ok := ParseTCP(p.Payload)
		return h, data, ok && h.DstPort == kitPort
	}

	send(TCPHeader{Seq: iss, Flags: TCPSyn, Options: []byte{2, 4, 0x05, 0xb4}}, nil, 0)
	r := s.Expect(t, 5*time.Second, "SYN-ACK", func(r Received) bool {
		h, _, ok := fromPeer(r)
		return ok && h.Flags&(TCPSyn|TCPAck) == TCPSyn|TCPAck
	})
	synack, _, _ := fromPeer(r)
	if synack.Ack != iss+1 {
		t.Fatalf("SYN-ACK acknowledges %d, want %d", synack.Ack, iss+1)
	}
	irs := synack.Seq
	send(TCPHeader{Seq: iss + 1, Ack: irs + 1, Flags: TCPAck}, nil, 0)

	ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))

	// Kit to Linux: one 4000-byte TSO frame, segmented by the host.
	out := pattern(4000, 1)
	send(TCPHeader{Seq: iss + 1, Ack: irs + 1, Flags: TCPAck | TCPPsh}, out, 1000)
	got := make([]byte, len(out))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatalf("Linux reading the TSO frame's data: %v", err)
	}
	if !bytes.Equal(got, out) {
		t.Fatal("Linux received different data than the TSO frame carried")
	}

	// Linux to kit: the host hands the station large segments.
	in := pattern(64<<10, 2)
	werr := make(chan error, 1)
	go func() { _, err := conn.Write(in); werr <- err }()
	mtu := s.Dev.Info().MTU
	r = s.Expect(t, 5*time.Second, "a GSO frame from Linux", func(r Received) bool {
		_, data, ok := fromPeer(r)
		return ok && len(data) > 0 && (r.Offload.IsGSO() || len(r.Frame) > mtu+netdev.EthernetHeaderLen)
	})
	h, data, _ := fromPeer(r)
	t.Logf("received %d-byte frame, offload %+v", len(r.Frame), r.Offload)
	if r.Offload.GSOType&^netdev.GSOECN != netdev.GSOTCPv4 || r.Offload.GSOSize == 0 || int(r.Offload.GSOSize) > 1460 {
		t.Errorf("large frame's offload %+v, want TCPv4 GSO with segment size <= 1460", r.Offload)
	}
	frame := append([]byte(nil), r.Frame...)
	if r.Offload.Flags&netdev.OffloadNeedsChecksum != 0 {
		if _, err := netdev.CompleteChecksum(frame, r.Offload); err != nil {
			t.Fatalf("completing the received checksum: %v", err)
		}
	}
	if r.Offload.Flags&netdev.OffloadDataValid == 0 && !TCPv4ChecksumOK(frame) {
		t.Error("received GSO frame's TCP checksum does not verify")
	}
	at := int(h.Seq - (irs + 1))
	if at < 0 || at+len(data) > len(in) || !bytes.Equal(data, in[at:at+len(data)]) {
		t.Errorf("GSO frame data at stream offset %d differs from what Linux wrote", at)
	}
	conn.Close()
	<-werr // the write ends with the connection
}
