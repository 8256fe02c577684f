// Package devtest provides helpers for testing netdev drivers against a real
// peer without a TCP/IP stack: hand-built Ethernet frames (ARP, ICMP echo,
// TCP) and a background receiver that answers ARP for the kit's address and
// lets a test wait, bounded in time, for the frame it expects.
//
// # Execution environment
//
// For tests only. A [Station] is safe for concurrent use; it owns the
// device's receiving side and serializes transmissions, so a test transmits
// through it.
package devtest

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
)

// Ethernet types.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
)

// Broadcast is the Ethernet broadcast address.
var Broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func eth(dst, src net.HardwareAddr, typ uint16, n int) []byte {
	b := make([]byte, 14, 14+n)
	copy(b[0:], dst)
	copy(b[6:], src)
	binary.BigEndian.PutUint16(b[12:], typ)
	return b
}

// ARP builds an ARP frame (op 1 request, 2 reply) from sha/spa to tha/tpa;
// requests go to the broadcast address.
func ARP(op uint16, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	dst := tha
	if op == 1 {
		dst, tha = Broadcast, make(net.HardwareAddr, 6)
	}
	b := eth(dst, sha, EtherTypeARP, 28)
	b = binary.BigEndian.AppendUint16(b, 1)      // Ethernet
	b = binary.BigEndian.AppendUint16(b, 0x0800) // IPv4
	b = append(b, 6, 4)
	b = binary.BigEndian.AppendUint16(b, op)
	b = append(b, sha...)
	b = append(b, spa.AsSlice()...)
	b = append(b, tha...)
	b = append(b, tpa.AsSlice()...)
	return b
}

// ARPInfo is a parsed ARP frame.
type ARPInfo struct {
	Op       uint16
	SHA, THA net.HardwareAddr
	SPA, TPA netip.Addr
}

// ParseARP parses an Ethernet/IPv4 ARP frame.
func ParseARP(f []byte) (ARPInfo, bool) {
	if len(f) < 42 || binary.BigEndian.Uint16(f[12:]) != EtherTypeARP || f[18] != 6 || f[19] != 4 {
		return ARPInfo{}, false
	}
	a := f[14:]
	spa, _ := netip.AddrFromSlice(a[14:18])
	tpa, _ := netip.AddrFromSlice(a[24:28])
	return ARPInfo{
		Op:  binary.BigEndian.Uint16(a[6:]),
		SHA: net.HardwareAddr(append([]byte(nil), a[8:14]...)),
		SPA: spa,
		THA: net.HardwareAddr(append([]byte(nil), a[18:24]...)),
		TPA: tpa,
	}, true
}

// IPv4 builds an Ethernet/IPv4 frame around payload with a correct header
// checksum.
func IPv4(dstMAC, srcMAC net.HardwareAddr, src, dst netip.Addr, proto uint8, payload []byte) []byte {
	b := eth(dstMAC, srcMAC, EtherTypeIPv4, 20+len(payload))
	ip := make([]byte, 20)
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	ip[8] = 64
	ip[9] = proto
	copy(ip[12:], src.AsSlice())
	copy(ip[16:], dst.AsSlice())
	binary.BigEndian.PutUint16(ip[10:], ^netdev.Checksum(ip, 0))
	return append(append(b, ip...), payload...)
}

// ICMPEcho builds an ICMP echo request (typ 8) or reply (typ 0) frame.
func ICMPEcho(typ uint8, dstMAC, srcMAC net.HardwareAddr, src, dst netip.Addr, id, seq uint16, data []byte) []byte {
	m := make([]byte, 8, 8+len(data))
	m[0] = typ
	binary.BigEndian.PutUint16(m[4:], id)
	binary.BigEndian.PutUint16(m[6:], seq)
	m = append(m, data...)
	binary.BigEndian.PutUint16(m[2:], ^netdev.Checksum(m, 0))
	return IPv4(dstMAC, srcMAC, src, dst, 1, m)
}

// IPv4Info is the part of an Ethernet/IPv4 frame tests look at.
type IPv4Info struct {
	Src, Dst netip.Addr
	Proto    uint8
	Payload  []byte // transport header and data (aliases the frame)
}

// ParseIPv4 parses an Ethernet/IPv4 frame.
func ParseIPv4(f []byte) (IPv4Info, bool) {
	if len(f) < 34 || binary.BigEndian.Uint16(f[12:]) != EtherTypeIPv4 || f[14]>>4 != 4 {
		return IPv4Info{}, false
	}
	ip := f[14:]
	hl := int(ip[0]&15) * 4
	tl := int(binary.BigEndian.Uint16(ip[2:]))
	if hl < 20 || tl < hl || tl > len(ip) {
		return IPv4Info{}, false
	}
	src, _ := netip.AddrFromSlice(ip[12:16])
	dst, _ := netip.AddrFromSlice(ip[16:20])
	return IPv4Info{Src: src, Dst: dst, Proto: ip[9], Payload: ip[hl:tl]}, true
}

// IsEchoReply reports whether f is an ICMP echo reply with id and seq.
func IsEchoReply(f []byte, id, seq uint16) bool {
	p, ok := ParseIPv4(f)
	if !ok || p.Proto != 1 || len(p.Payload) < 8 {
		return false
	}
	m := p.Payload
	return m[0] == 0 && binary.BigEndian.Uint16(m[4:]) == id && binary.BigEndian.Uint16(m[6:]) == seq
}

// Received is one frame a Station received, copied.
type Received struct {
	Frame   []byte
	Offload netdev.Offload
}

// Station drives a device for a test: a goroutine receives every frame
// (answering ARP requests for IP), and the test transmits and waits for
// frames through it.
type Station struct {
	Dev netdev.Device
	MAC net.HardwareAddr
	IP  netip.Addr

	txMu   sync.Mutex
	frames chan Received
	stop   chan struct{}
	done   chan struct{}
	err    error // the error that ended receiving; read after done
}

// Start starts a Station on dev with address ip. The station stops when
// the device is closed; Stop (registered with t.Cleanup) closes the device
// and waits for the receiving goroutine.
func Start(t testing.TB, dev netdev.Device, ip netip.Addr) *Station {
	s := &Station{
		Dev: dev, MAC: dev.Info().MAC, IP: ip,
		frames: make(chan Received, 1024),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go s.run()
	t.Cleanup(s.Stop)
	return s
}

func (s *Station) run() {
	defer close(s.done)
	buf := make([]byte, netdev.MaxGSOFrameLen)
	// Post the buffer in two pieces to exercise scatter-gather.
	bufs := [][]byte{buf[:100], buf[100:]}
	for {
		n, off, err := s.Dev.Receive(bufs)
		if errors.Is(err, netdev.ErrBufferTooSmall) || errors.Is(err, netdev.ErrBadOffload) {
			continue
		}
		if err != nil {
			s.err = err
			return
		}
		f := append([]byte(nil), buf[:n]...)
		if a, ok := ParseARP(f); ok && a.Op == 1 && a.TPA == s.IP {
			s.Transmit(ARP(2, s.MAC, s.IP, a.SHA, a.SPA), netdev.Offload{})
		}
		select {
		case s.frames <- Received{f, off}:
		case <-s.stop:
			return
		}
	}
}

// Transmit sends one frame.
func (s *Station) Transmit(frame []byte, off netdev.Offload) error {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	// Two segments, to exercise scatter-gather.
	h := min(len(frame), 14)
	return s.Dev.Transmit(&netdev.Frame{Segs: [][]byte{frame[:h], frame[h:]}, Offload: off})
}

// Expect waits up to timeout for a received frame match accepts, skipping
// others, and returns it.
func (s *Station) Expect(t testing.TB, timeout time.Duration, what string, match func(Received) bool) Received {
	t.Helper()
	r, err := s.Wait(timeout, match)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return r
}

// Wait is Expect returning an error instead of failing.
func (s *Station) Wait(timeout time.Duration, match func(Received) bool) (Received, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case r := <-s.frames:
			if match(r) {
				return r, nil
			}
		case <-s.done:
			return Received{}, errors.Join(errors.New("receiver ended"), s.err)
		case <-deadline.C:
			return Received{}, errors.New("timed out")
		}
	}
}

// Err waits for the receiving goroutine to end (the device closed or
// failed) up to timeout and returns the error that ended it.
func (s *Station) Err(timeout time.Duration) error {
	select {
	case <-s.done:
		return s.err
	case <-time.After(timeout):
		return errors.New("devtest: receiver still running")
	}
}

// Running reports whether the receiving goroutine is still receiving.
func (s *Station) Running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Stop closes the device and waits for the receiving goroutine.
func (s *Station) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.Dev.Close()
	<-s.done
}

// Resolve sends ARP requests for ip (one every 200 ms, up to timeout) and
// returns the MAC address in the reply.
func (s *Station) Resolve(t testing.TB, ip netip.Addr, timeout time.Duration) net.HardwareAddr {
	t.Helper()
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		if err := s.Transmit(ARP(1, s.MAC, s.IP, nil, ip), netdev.Offload{}); err != nil {
			t.Fatalf("transmit ARP request: %v", err)
		}
		r, err := s.Wait(200*time.Millisecond, func(r Received) bool {
			a, ok := ParseARP(r.Frame)
			return ok && a.Op == 2 && a.SPA == ip
		})
		if err == nil {
			a, _ := ParseARP(r.Frame)
			return a.SHA
		}
	}
	t.Fatalf("no ARP reply from %v within %v", ip, timeout)
	return nil
}

// Ping resolves peer, sends an ICMP echo request and waits for its reply.
func (s *Station) Ping(t testing.TB, peer netip.Addr, timeout time.Duration) {
	t.Helper()
	mac := s.Resolve(t, peer, timeout)
	const id, seq = 0x4b17, 1
	if err := s.Transmit(ICMPEcho(8, mac, s.MAC, s.IP, peer, id, seq, []byte("goskit ping")), netdev.Offload{}); err != nil {
		t.Fatalf("transmit echo request: %v", err)
	}
	s.Expect(t, timeout, "ICMP echo reply", func(r Received) bool { return IsEchoReply(r.Frame, id, seq) })
}
