package integration

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"

	"github.com/goskit/goskit/drivers/netdev"
)

// victim names the kernel that bad frames are aimed at: its MAC and
// addresses, so that frames pass the link and network layers' address
// checks and reach the parsers behind them.
type victim struct {
	mac        net.HardwareAddr
	ip4, ip6   netip.Addr
	fake4      netip.Addr // a source address on the victim's subnet that no one has
	fake6      netip.Addr
	fakeMAC    net.HardwareAddr
	maxLen     int // largest frame to make, Ethernet header included
	listenPort uint16
}

// garbage makes malformed frames from a seeded source. Every frame kind
// reaches deeper than the one before; none carries a sender address of a
// real peer, so no neighbour cache is poisoned and the stacks still talk to
// each other afterwards.
type garbage struct {
	rng *rand.Rand
	v   victim
}

func newGarbage(seed uint64, v victim) *garbage {
	return &garbage{rng: rand.New(rand.NewPCG(seed, 0x6761726261676521)), v: v}
}

const (
	etherIPv4 = 0x0800
	etherARP  = 0x0806
	etherIPv6 = 0x86dd
	etherVLAN = 0x8100
)

// frameKinds name what next() makes, for failure messages and counts.
var frameKinds = []string{
	"random bytes", "random after Ethernet", "truncated TCP/IPv4", "truncated TCP/IPv6",
	"IPv4 bad IHL", "IPv4 bad total length", "IPv4 bad header checksum", "IPv4 options garbage",
	"TCP bad data offset", "TCP random flags and options", "IPv6 bad payload length",
	"IPv6 extension headers garbage", "IPv4 fragments", "IPv6 fragments", "ARP garbage",
	"ICMPv4 garbage", "ICMPv6 garbage", "UDP bad length", "huge claimed lengths",
	"martian addresses", "VLAN garbage",
}

func (g *garbage) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

func (g *garbage) intn(n int) int { return g.rng.IntN(n) }

// smallLen returns a length in lo..hi skewed toward short frames.
func (g *garbage) smallLen(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	if g.intn(4) == 0 {
		return lo + g.intn(hi-lo+1)
	}
	return lo + g.intn(min(hi-lo+1, 200))
}

func (g *garbage) eth(typ uint16, payload []byte) []byte {
	f := make([]byte, 14, 14+len(payload))
	dst := g.v.mac
	switch g.intn(8) {
	case 0:
		dst = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	case 1:
		dst = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
	}
	copy(f[0:6], dst)
	copy(f[6:12], g.v.fakeMAC)
	binary.BigEndian.PutUint16(f[12:14], typ)
	f = append(f, payload...)
	return g.clip(f)
}

func (g *garbage) clip(f []byte) []byte {
	if len(f) > g.v.maxLen {
		return f[:g.v.maxLen]
	}
	return f
}

// sum is the 16-bit one's-complement sum of b added to initial.
func sum(b []byte, initial uint32) uint32 {
	s := initial
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func pseudo(src, dst netip.Addr, proto uint8, n int) uint32 {
	s := sum(src.AsSlice(), 0)
	s = sum(dst.AsSlice(), s)
	return s + uint32(proto) + uint32(n)
}

// ipv4 builds an IPv4 header with a correct checksum around payload.
func ipv4(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[4:], 0x1234)
	h[8] = 64
	h[9] = proto
	copy(h[12:16], src.AsSlice())
	copy(h[16:20], dst.AsSlice())
	fixIPv4(h)
	return append(h, payload...)
}

func fixIPv4(p []byte) {
	hl := int(p[0]&0xf) * 4
	if hl < 20 || hl > len(p) {
		hl = 20
	}
	binary.BigEndian.PutUint16(p[10:], 0)
	binary.BigEndian.PutUint16(p[10:], fold(sum(p[:hl], 0)))
}

func ipv6(src, dst netip.Addr, next uint8, payload []byte) []byte {
	h := make([]byte, 40, 40+len(payload))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6] = next
	h[7] = 64
	copy(h[8:24], src.AsSlice())
	copy(h[24:40], dst.AsSlice())
	return append(h, payload...)
}

// tcp builds a TCP segment with a correct checksum; offWords is the data
// offset in 32-bit words, options fill the header beyond 20 bytes.
func (g *garbage) tcp(src, dst netip.Addr, port uint16, flags uint8, offWords int, data []byte) []byte {
	hl := max(offWords*4, 20)
	s := make([]byte, hl, hl+len(data))
	binary.BigEndian.PutUint16(s[0:], uint16(1024+g.intn(60000)))
	binary.BigEndian.PutUint16(s[2:], port)
	binary.BigEndian.PutUint32(s[4:], g.rng.Uint32())
	binary.BigEndian.PutUint32(s[8:], g.rng.Uint32())
	s[12] = byte(offWords&0xf) << 4
	s[13] = flags
	binary.BigEndian.PutUint16(s[14:], uint16(g.rng.Uint32()))
	copy(s[20:], g.bytes(hl-20))
	s = append(s, data...)
	binary.BigEndian.PutUint16(s[16:], fold(sum(s, pseudo(src, dst, 6, len(s)))))
	return s
}

func (g *garbage) port() uint16 {
	if g.intn(2) == 0 {
		return g.v.listenPort
	}
	return uint16(g.rng.Uint32())
}

func (g *garbage) tcp4(data int) []byte {
	seg := g.tcp(g.v.fake4, g.v.ip4, g.port(), byte(g.rng.Uint32()), 5+g.intn(11), g.bytes(data))
	return g.eth(etherIPv4, ipv4(g.v.fake4, g.v.ip4, 6, seg))
}

func (g *garbage) tcp6(data int) []byte {
	seg := g.tcp(g.v.fake6, g.v.ip6, g.port(), byte(g.rng.Uint32()), 5+g.intn(11), g.bytes(data))
	return g.eth(etherIPv6, ipv6(g.v.fake6, g.v.ip6, 6, seg))
}

// next returns a malformed (or merely unexpected) frame and its kind.
func (g *garbage) next() (frame []byte, kind string) {
	k := g.intn(len(frameKinds))
	kind = frameKinds[k]
	room := g.v.maxLen
	switch k {
	case 0: // random bytes of random length
		return g.bytes(g.smallLen(14, room)), kind
	case 1: // a plausible Ethernet type, then noise
		types := []uint16{etherIPv4, etherIPv6, etherARP, etherVLAN, uint16(g.rng.Uint32())}
		return g.eth(types[g.intn(len(types))], g.bytes(g.smallLen(0, room-14))), kind
	case 2:
		f := g.tcp4(g.intn(100))
		return f[:g.intn(len(f))], kind
	case 3:
		f := g.tcp6(g.intn(100))
		return f[:g.intn(len(f))], kind
	case 4: // IHL other than 5 (0-4 are invalid; 6-15 claim options)
		f := g.tcp4(g.intn(64))
		ihl := byte(g.intn(16))
		if ihl == 5 {
			ihl = 0
		}
		f[14] = 0x40 | ihl
		if g.intn(2) == 0 {
			fixIPv4(f[14:])
		}
		return f, kind
	case 5: // total length shorter than the header, or longer than the frame
		f := g.tcp4(g.intn(64))
		var tl uint16
		switch g.intn(3) {
		case 0:
			tl = uint16(g.intn(20))
		case 1:
			tl = uint16(len(f) - 14 + 1 + g.intn(100))
		default:
			tl = uint16(g.rng.Uint32())
		}
		binary.BigEndian.PutUint16(f[16:], tl)
		fixIPv4(f[14:])
		return f, kind
	case 6:
		f := g.tcp4(g.intn(64))
		f[24] ^= byte(1 + g.intn(255))
		return f, kind
	case 7: // header with options of random content (checksum right)
		opts := g.bytes(4 * (1 + g.intn(10)))
		seg := g.tcp(g.v.fake4, g.v.ip4, g.port(), 0x02, 5, nil)
		ip := ipv4(g.v.fake4, g.v.ip4, 6, nil)
		ip[0] = 0x40 | byte(5+len(opts)/4)
		ip = append(ip[:20], opts...)
		ip = append(ip, seg...)
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
		fixIPv4(ip)
		return g.eth(etherIPv4, ip), kind
	case 8: // data offset below 5 or beyond the segment
		data := g.bytes(g.intn(40))
		off := g.intn(5)
		if g.intn(2) == 0 {
			off = 5 + (20+len(data))/4 + 1 + g.intn(4)
			off = min(off, 15)
		}
		var seg []byte
		if g.intn(2) == 0 {
			seg = g.tcp(g.v.fake4, g.v.ip4, g.port(), byte(g.rng.Uint32()), 5, data)
			seg[12] = byte(off) << 4
			binary.BigEndian.PutUint16(seg[16:], 0)
			binary.BigEndian.PutUint16(seg[16:], fold(sum(seg, pseudo(g.v.fake4, g.v.ip4, 6, len(seg)))))
			return g.eth(etherIPv4, ipv4(g.v.fake4, g.v.ip4, 6, seg)), kind
		}
		seg = g.tcp(g.v.fake6, g.v.ip6, g.port(), byte(g.rng.Uint32()), 5, data)
		seg[12] = byte(off) << 4
		binary.BigEndian.PutUint16(seg[16:], 0)
		binary.BigEndian.PutUint16(seg[16:], fold(sum(seg, pseudo(g.v.fake6, g.v.ip6, 6, len(seg)))))
		return g.eth(etherIPv6, ipv6(g.v.fake6, g.v.ip6, 6, seg)), kind
	case 9: // any flags (SYN+FIN+RST+URG...), option bytes of any content
		if g.intn(2) == 0 {
			return g.tcp4(g.smallLen(0, min(room-14-20-60, 1400))), kind
		}
		return g.tcp6(g.smallLen(0, min(room-14-40-60, 1400))), kind
	case 10:
		f := g.tcp6(g.intn(64))
		var pl uint16
		switch g.intn(3) {
		case 0:
			pl = uint16(g.intn(20))
		case 1:
			pl = 0xffff
		default:
			pl = uint16(g.rng.Uint32())
		}
		binary.BigEndian.PutUint16(f[18:], pl)
		return f, kind
	case 11: // a chain of extension headers of random content
		nexts := []uint8{0, 43, 44, 60, 51, 50, 135, 59}
		var payload []byte
		first := nexts[g.intn(len(nexts))]
		for i := 0; i < 1+g.intn(4); i++ {
			n := nexts[g.intn(len(nexts))]
			if g.intn(4) == 0 {
				n = 6
			}
			hdr := g.bytes(8 * (1 + g.intn(3)))
			hdr[0] = n
			if g.intn(3) != 0 {
				hdr[1] = byte(len(hdr)/8 - 1)
			}
			payload = append(payload, hdr...)
		}
		payload = append(payload, g.bytes(g.intn(64))...)
		return g.eth(etherIPv6, ipv6(g.v.fake6, g.v.ip6, first, payload)), kind
	case 12: // fragments with overlapping, random offsets, few IDs
		protos := []uint8{1, 6, 17, uint8(g.rng.Uint32())}
		ip := ipv4(g.v.fake4, g.v.ip4, protos[g.intn(len(protos))], g.bytes(8*g.intn(60)))
		binary.BigEndian.PutUint16(ip[4:], uint16(g.intn(4)))
		fo := uint16(g.intn(1 << 13))
		if g.intn(2) == 0 {
			fo = uint16(g.intn(16))
		}
		flags := uint16(g.intn(8)) << 13
		binary.BigEndian.PutUint16(ip[6:], flags|fo)
		fixIPv4(ip)
		return g.eth(etherIPv4, ip), kind
	case 13:
		fh := make([]byte, 8)
		fh[0] = []uint8{6, 17, 58, 44}[g.intn(4)]
		fo := uint16(g.intn(1<<13)) << 3
		if g.intn(2) == 0 {
			fo = uint16(g.intn(16)) << 3
		}
		binary.BigEndian.PutUint16(fh[2:], fo|uint16(g.intn(2)))
		binary.BigEndian.PutUint32(fh[4:], uint32(g.intn(4)))
		return g.eth(etherIPv6, ipv6(g.v.fake6, g.v.ip6, 44, append(fh, g.bytes(8*g.intn(60))...))), kind
	case 14: // ARP with any sizes, types and opcodes, about a fake sender
		a := g.bytes(8 + g.intn(40))
		if g.intn(2) == 0 {
			binary.BigEndian.PutUint16(a[0:], 1)
			binary.BigEndian.PutUint16(a[2:], etherIPv4)
			a[4], a[5] = 6, 4
			if len(a) >= 28 {
				copy(a[8:14], g.v.fakeMAC)
				copy(a[14:18], g.v.fake4.AsSlice())
				copy(a[24:28], g.v.ip4.AsSlice())
			}
		}
		return g.eth(etherARP, a), kind
	case 15: // any type and code, checksum right; errors quote noise
		m := g.bytes(8 + g.intn(100))
		m[0] = []byte{0, 3, 4, 5, 8, 11, 12, 13, byte(g.rng.Uint32())}[g.intn(9)]
		binary.BigEndian.PutUint16(m[2:], 0)
		if g.intn(4) != 0 {
			binary.BigEndian.PutUint16(m[2:], fold(sum(m, 0)))
		}
		return g.eth(etherIPv4, ipv4(g.v.fake4, g.v.ip4, 1, m)), kind
	case 16: // ICMPv6 of any type (NDP's too) with noise; checksum right
		m := g.bytes(8 + g.intn(100))
		m[0] = []byte{1, 2, 3, 4, 128, 129, 130, 133, 134, 135, 136, 137, 143, byte(g.rng.Uint32())}[g.intn(14)]
		m[1] = byte(g.intn(3))
		binary.BigEndian.PutUint16(m[2:], 0)
		binary.BigEndian.PutUint16(m[2:], fold(sum(m, pseudo(g.v.fake6, g.v.ip6, 58, len(m)))))
		ip := ipv6(g.v.fake6, g.v.ip6, 58, m)
		ip[7] = 255 // NDP wants a hop limit of 255
		return g.eth(etherIPv6, ip), kind
	case 17: // UDP length field wrong, checksum random or zero
		u := g.bytes(8 + g.intn(64))
		binary.BigEndian.PutUint16(u[2:], g.port())
		binary.BigEndian.PutUint16(u[4:], uint16(g.rng.Uint32()))
		if g.intn(2) == 0 {
			return g.eth(etherIPv4, ipv4(g.v.fake4, g.v.ip4, 17, u)), kind
		}
		return g.eth(etherIPv6, ipv6(g.v.fake6, g.v.ip6, 17, u)), kind
	case 18: // lengths claiming up to 64 KiB, and frames that big
		switch g.intn(3) {
		case 0:
			f := g.tcp4(g.intn(32))
			binary.BigEndian.PutUint16(f[16:], 0xffff)
			fixIPv4(f[14:])
			return f, kind
		case 1:
			f := g.tcp6(g.intn(32))
			binary.BigEndian.PutUint16(f[18:], 0xffff)
			return f, kind
		default:
			n := room - 14 - 20 - 20
			if g.intn(2) == 0 {
				return g.tcp4(n), kind
			}
			return g.eth(etherIPv4, ipv4(g.v.fake4, g.v.ip4, 17, g.bytes(room-14-20))), kind
		}
	case 19: // sources and destinations no packet may have
		srcs := []netip.Addr{g.v.ip4, netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("224.0.0.1")}
		dsts := []netip.Addr{g.v.ip4, netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("224.0.0.1"), netip.MustParseAddr("198.18.255.255")}
		src, dst := srcs[g.intn(len(srcs))], dsts[g.intn(len(dsts))]
		if g.intn(2) == 0 {
			seg := g.tcp(src, dst, g.port(), 0x02, 5, nil)
			return g.eth(etherIPv4, ipv4(src, dst, 6, seg)), kind
		}
		src6 := []netip.Addr{g.v.ip6, netip.MustParseAddr("::1"), netip.MustParseAddr("ff02::1"), netip.IPv6Unspecified()}[g.intn(4)]
		seg := g.tcp(src6, g.v.ip6, g.port(), 0x02, 5, nil)
		return g.eth(etherIPv6, ipv6(src6, g.v.ip6, 6, seg)), kind
	default: // VLAN tags (nested) in front of anything
		inner, _ := g.next()
		if len(inner) < 14 {
			inner = append(inner, make([]byte, 14-len(inner))...)
		}
		tag := make([]byte, 4)
		binary.BigEndian.PutUint16(tag[0:], uint16(g.rng.Uint32()))
		copy(tag[2:], inner[12:14])
		return g.eth(etherVLAN, append(tag, inner[14:]...)), kind
	}
}

// offload returns a nonsense (or merely surprising) virtio-net header for a
// frame of n bytes: unknown flags and GSO types, zero segment sizes,
// checksum positions outside the frame or in the wrong place.
func (g *garbage) offload(n int) netdev.Offload {
	var o netdev.Offload
	switch g.intn(8) {
	case 0: // anything at all
		o = netdev.Offload{
			Flags: byte(g.rng.Uint32()), GSOType: byte(g.rng.Uint32()),
			HeaderLen: uint16(g.rng.Uint32()), GSOSize: uint16(g.rng.Uint32()),
			ChecksumStart: uint16(g.rng.Uint32()), ChecksumOffset: uint16(g.rng.Uint32()),
		}
	case 1: // checksum start or offset out of range
		o.Flags = netdev.OffloadNeedsChecksum
		o.ChecksumStart = uint16(n - 1 + g.intn(3))
		o.ChecksumOffset = uint16(g.intn(70000))
	case 2: // checksum inside the frame but anywhere (it will be "completed" wrong)
		o.Flags = netdev.OffloadNeedsChecksum
		if n > 16 {
			o.ChecksumStart = uint16(14 + g.intn(n-15))
			o.ChecksumOffset = uint16(g.intn(n - int(o.ChecksumStart) - 1))
		}
	case 3: // a GSO type the frame is not, or an unknown one
		o.GSOType = []uint8{netdev.GSOTCPv4, netdev.GSOTCPv6, netdev.GSOUDP, netdev.GSOTCPv4 | netdev.GSOECN, 2, 5, 0x7f, 0xff}[g.intn(8)]
		o.GSOSize = uint16(g.intn(3))
		o.HeaderLen = uint16(g.rng.Uint32())
	case 4: // GSO with a segment size larger than the frame
		o.GSOType = netdev.GSOTCPv4
		o.GSOSize = 0xffff
		o.Flags = netdev.OffloadNeedsChecksum
		o.ChecksumStart = 34
		o.ChecksumOffset = 16
	case 5: // the device claims to have verified a bad checksum
		o.Flags = netdev.OffloadDataValid
	case 6: // both flags at once
		o.Flags = netdev.OffloadDataValid | netdev.OffloadNeedsChecksum
		o.ChecksumStart = 14
	}
	return o
}
