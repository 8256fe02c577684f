package gvisor

import (
	"github.com/goskit/goskit/drivers/netdev"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// checksumsValid verifies the IP header and transport checksums of a frame
// the device did not vouch for, on a NIC where gVisor trusts the device and
// so checks nothing itself. It answers false only for a checksum proven
// wrong: a packet too malformed to check is left to gVisor's own parser,
// which rejects it. Transport checksums of fragments and of IPv6 packets
// with extension headers are not checked here (their payload is incomplete
// or its checksum hard to locate); they reach gVisor as trusted, which is
// what a Linux NIC with receive checksum offload gives its stack too.
func checksumsValid(pkt *stack.PacketBuffer, proto tcpip.NetworkProtocolNumber) bool {
	data := pkt.Data().AsRange().ToSlice()
	switch proto {
	case header.IPv4ProtocolNumber:
		if len(data) < header.IPv4MinimumSize {
			return true
		}
		ip := header.IPv4(data)
		hl := int(ip.HeaderLength())
		total := int(ip.TotalLength())
		if hl < header.IPv4MinimumSize || hl > len(data) || total < hl || total > len(data) {
			return true
		}
		if netdev.Checksum(data[:hl], 0) != 0xffff {
			return false
		}
		if ip.More() || ip.FragmentOffset() != 0 {
			return true
		}
		return transportValid(ip.TransportProtocol(), ip.SourceAddress(), ip.DestinationAddress(), data[hl:total], false)
	case header.IPv6ProtocolNumber:
		if len(data) < header.IPv6MinimumSize {
			return true
		}
		ip := header.IPv6(data)
		end := header.IPv6MinimumSize + int(ip.PayloadLength())
		if end > len(data) {
			return true
		}
		return transportValid(ip.TransportProtocol(), ip.SourceAddress(), ip.DestinationAddress(), data[header.IPv6MinimumSize:end], true)
	}
	return true
}

func transportValid(proto tcpip.TransportProtocolNumber, src, dst tcpip.Address, seg []byte, v6 bool) bool {
	switch proto {
	case header.TCPProtocolNumber:
		if len(seg) < header.TCPMinimumSize {
			return true
		}
	case header.UDPProtocolNumber:
		if len(seg) < header.UDPMinimumSize {
			return true
		}
		if !v6 && header.UDP(seg).Checksum() == 0 {
			return true // IPv4 UDP may carry no checksum (RFC 768)
		}
	case header.ICMPv4ProtocolNumber:
		return netdev.Checksum(seg, 0) == 0xffff
	case header.ICMPv6ProtocolNumber:
	default:
		return true
	}
	pseudo := header.PseudoHeaderChecksum(proto, src, dst, uint16(len(seg)))
	return netdev.Checksum(seg, pseudo) == 0xffff
}
