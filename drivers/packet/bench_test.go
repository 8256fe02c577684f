package packet_test

import (
	"testing"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/internal/testenv"
	"github.com/goskit/goskit/internal/testenv/devtest"
)

// benchSetup opens the kit on vethA of a fresh namespace; frames it sends
// reach Linux on vethB, which drops them (unknown EtherType).
func benchSetup(b *testing.B) *testenv.Netns {
	ns := testenv.NewNetns(b, "pktbench")
	ns.IP(b, "link", "add", "vethA", "type", "veth", "peer", "name", "vethB")
	ns.HostSide(b, "vethA")
	ns.HostSide(b, "vethB")
	ns.IP(b, "link", "set", "vethA", "up")
	ns.IP(b, "link", "set", "vethB", "up")
	return ns
}

func benchFrame(size int) []byte {
	f := make([]byte, size)
	copy(f, devtest.Broadcast)
	f[12], f[13] = 0x88, 0xb5 // local experimental EtherType
	return f
}

func BenchmarkTransmit(b *testing.B) {
	ns := benchSetup(b)
	d := open(b, ns, "vethA")
	f := &netdev.Frame{Segs: [][]byte{benchFrame(1514)}}
	b.SetBytes(1514)
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Transmit(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTransmitBatch(b *testing.B) {
	ns := benchSetup(b)
	d := open(b, ns, "vethA")
	frames := make([]netdev.Frame, 32)
	for i := range frames {
		frames[i].Segs = [][]byte{benchFrame(1514)}
	}
	b.SetBytes(32 * 1514)
	b.ReportAllocs()
	for b.Loop() {
		if n, err := d.TransmitBatch(frames); err != nil || n != len(frames) {
			b.Fatal(n, err)
		}
	}
}
