package devtest

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/goskit/goskit/drivers/netdev"
)

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 0xa}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 0xb}
	ipA  = netip.MustParseAddr("198.18.0.1")
	ipB  = netip.MustParseAddr("198.18.0.2")
)

func TestARP(t *testing.T) {
	for _, op := range []uint16{1, 2} {
		a, ok := ParseARP(ARP(op, macA, ipA, macB, ipB))
		if !ok || a.Op != op || a.SPA != ipA || a.TPA != ipB || !bytes.Equal(a.SHA, macA) {
			t.Errorf("op %d: parsed %+v, %v", op, a, ok)
		}
	}
	if _, ok := ParseARP(ARP(1, macA, ipA, nil, ipB)[:30]); ok {
		t.Error("short ARP frame parsed")
	}
}

func TestICMPEcho(t *testing.T) {
	f := ICMPEcho(0, macA, macB, ipB, ipA, 7, 9, []byte("data"))
	if !IsEchoReply(f, 7, 9) || IsEchoReply(f, 7, 10) {
		t.Error("IsEchoReply wrong")
	}
	p, ok := ParseIPv4(f)
	if !ok || netdev.Checksum(f[14:34], 0) != 0xffff || netdev.Checksum(p.Payload, 0) != 0xffff {
		t.Error("bad IPv4 or ICMP checksum")
	}
}

func TestTCPv4(t *testing.T) {
	h := TCPHeader{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, Flags: TCPAck, Window: 5, Options: []byte{1, 1, 1, 1}}
	tests := []struct {
		name    string
		partial bool
		gso     int
	}{{"complete", false, 0}, {"partial", true, 0}, {"gso", false, 100}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, off := TCPv4(macA, macB, ipB, ipA, h, bytes.Repeat([]byte{7}, 301), tc.partial, tc.gso)
			if err := off.Validate(len(f)); err != nil {
				t.Fatal(err)
			}
			if off.IsGSO() != (tc.gso > 0) {
				t.Errorf("offload %+v", off)
			}
			off, err := netdev.CompleteChecksum(f, off)
			if err != nil || !TCPv4ChecksumOK(f) {
				t.Errorf("checksum does not verify (%v)", err)
			}
			p, _ := ParseIPv4(f)
			got, data, ok := ParseTCP(p.Payload)
			if !ok || got.Seq != 3 || got.Ack != 4 || got.Flags != TCPAck || len(data) != 301 || !bytes.Equal(got.Options, h.Options) {
				t.Errorf("parsed %+v, %d bytes", got, len(data))
			}
		})
	}
}
