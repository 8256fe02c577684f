package hostio

import (
	"bytes"
	"errors"
	"testing"

	"github.com/goskit/goskit/drivers/netdev"
	"golang.org/x/sys/unix"
)

func TestRandomMAC(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		mac, err := RandomMAC()
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckMAC(mac); err != nil || mac[0]&2 == 0 {
			t.Fatalf("RandomMAC = %v: not locally administered unicast (%v)", mac, err)
		}
		seen[mac.String()] = true
	}
	if len(seen) < 99 {
		t.Errorf("100 random MACs, only %d distinct", len(seen))
	}
}

// TestScatterGather runs the system-call wrappers over a socket pair: no
// privileges needed.
func TestScatterGather(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])

	var iov Iovecs
	iov.Append([]byte("hel"), nil, []byte("lo"))
	if n, err := Writev(fds[0], iov.Slice()); n != 5 || err != nil {
		t.Fatalf("Writev = %d, %v", n, err)
	}
	iov.Reset()
	a, b := make([]byte, 2), make([]byte, 10)
	iov.Append(a, b)
	if n, err := Readv(fds[1], iov.Slice()); n != 5 || err != nil || string(a)+string(b[:3]) != "hello" {
		t.Fatalf("Readv = %d, %v, %q %q", n, err, a, b)
	}
	iov.Reset()

	// Three messages in one sendmmsg, two segments each, received in one
	// recvmmsg.
	var msgs [3]unix.Mmsghdr
	for i := range msgs {
		start := iov.Len()
		iov.Append([]byte{'m', byte('0' + i)}, bytes.Repeat([]byte{byte('a' + i)}, 100*(i+1)))
		msgs[i].Hdr.SetIovlen(iov.Len() - start)
	}
	at := 0
	for i := range msgs {
		msgs[i].Hdr.Iov = iov.At(at)
		at += int(msgs[i].Hdr.Iovlen)
	}
	if n, err := Sendmmsg(fds[0], msgs[:], 0); n != 3 || err != nil {
		t.Fatalf("Sendmmsg = %d, %v", n, err)
	}
	iov.Reset()
	bufs := make([][]byte, 3)
	var rmsgs [3]unix.Mmsghdr
	for i := range rmsgs {
		bufs[i] = make([]byte, 150) // message 2 (302 bytes) and 3 are truncated
		iov.Append(bufs[i])
		rmsgs[i].Hdr.Iov = iov.At(i)
		rmsgs[i].Hdr.SetIovlen(1)
	}
	n, err := Recvmmsg(fds[1], rmsgs[:], unix.MSG_DONTWAIT)
	if n != 3 || err != nil {
		t.Fatalf("Recvmmsg = %d, %v", n, err)
	}
	for i, m := range rmsgs {
		trunc := m.Hdr.Flags&unix.MSG_TRUNC != 0
		if string(bufs[i][:2]) != "m"+string(rune('0'+i)) || trunc != (i > 0) {
			t.Errorf("message %d: %q, len %d, truncated %v", i, bufs[i][:2], m.Len, trunc)
		}
	}
	if _, err := Recvmmsg(fds[1], rmsgs[:], unix.MSG_DONTWAIT); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("Recvmmsg on an empty socket: %v, want EAGAIN", err)
	}
	if n, err := Sendmmsg(fds[0], nil, 0); n != 0 || err != nil {
		t.Errorf("Sendmmsg of nothing = %d, %v", n, err)
	}
}

func TestLink(t *testing.T) {
	l, err := OpenLink("lo")
	if err != nil {
		t.Fatal(err)
	}
	if mtu, err := l.MTU(); err != nil || mtu < 1500 {
		t.Errorf("MTU of lo = %d, %v", mtu, err)
	}
	if st, err := l.State(); err != nil || st == LinkGone {
		t.Errorf("State of lo = %v, %v", st, err)
	}
	if l.Gone() {
		t.Error("lo gone")
	}
	l.index = 1 << 30 // no such interface
	if st, err := l.State(); err != nil || st != LinkGone || !l.Gone() {
		t.Errorf("State of a missing index = %v, %v; want gone", st, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.State(); err == nil {
		t.Error("State after Close succeeded")
	}
	if _, err := OpenLink("nosuchif0"); !errors.Is(err, unix.ENODEV) {
		t.Errorf("OpenLink of a missing interface: %v, want ENODEV", err)
	}
}

func TestCheckTransmit(t *testing.T) {
	info := &netdev.Info{Name: "test", MTU: 1500, MaxGSOSize: netdev.MaxGSOFrameLen,
		Features: netdev.FeatureTxChecksum | netdev.FeatureTSO4}
	csum := netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 34, ChecksumOffset: 16}
	gso := func(typ uint8) netdev.Offload { o := csum; o.GSOType, o.GSOSize = typ, 1448; return o }
	tests := []struct {
		name string
		n    int
		off  netdev.Offload
		want error // nil, a netdev error, or errAny
	}{
		{"plain", 60, netdev.Offload{}, nil},
		{"largest plain", 1514, netdev.Offload{}, nil},
		{"too big", 1515, netdev.Offload{}, netdev.ErrFrameTooBig},
		{"runt", 13, netdev.Offload{}, errAny},
		{"partial checksum", 100, csum, nil},
		{"tso4", 60000, gso(netdev.GSOTCPv4), nil},
		{"tso4 ecn", 60000, gso(netdev.GSOTCPv4 | netdev.GSOECN), nil},
		{"tso4 too big", netdev.MaxGSOFrameLen + 1, gso(netdev.GSOTCPv4), netdev.ErrFrameTooBig},
		{"tso6 not advertised", 6000, gso(netdev.GSOTCPv6), netdev.ErrBadOffload},
		{"udp gso", 6000, gso(netdev.GSOUDP), netdev.ErrBadOffload},
		{"unknown gso", 6000, gso(9), netdev.ErrBadOffload},
		{"data valid", 100, netdev.Offload{Flags: netdev.OffloadDataValid}, netdev.ErrBadOffload},
		{"checksum past end", 40, csum, netdev.ErrBadOffload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &netdev.Frame{Segs: [][]byte{make([]byte, tc.n)}, Offload: tc.off}
			err := CheckTransmit(info, f)
			switch {
			case tc.want == nil && err != nil, tc.want != nil && err == nil:
				t.Errorf("CheckTransmit = %v, want %v", err, tc.want)
			case tc.want != nil && tc.want != errAny && !errors.Is(err, tc.want):
				t.Errorf("CheckTransmit = %v, want %v", err, tc.want)
			}
		})
	}
	noCsum := *info
	noCsum.Features = 0
	if err := CheckTransmit(&noCsum, &netdev.Frame{Segs: [][]byte{make([]byte, 100)}, Offload: csum}); !errors.Is(err, netdev.ErrBadOffload) {
		t.Errorf("partial checksum without tx-csum: %v", err)
	}
}

var errAny = errors.New("any error")

// FuzzDecodeReceived feeds hostile virtio-net headers: decoding never
// panics, and a header it accepts is safe to act on.
func FuzzDecodeReceived(f *testing.F) {
	f.Add([]byte{1, 1, 54, 0, 0xa8, 5, 34, 0, 16, 0}, 7354)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, 100)
	f.Add([]byte{0x80, 0x33, 0, 0, 0, 0, 0, 0, 0, 0}, 14)
	f.Fuzz(func(t *testing.T, hdr []byte, n int) {
		if n < 0 || n > netdev.MaxGSOFrameLen {
			return
		}
		off, err := DecodeReceived(hdr, n)
		if err != nil {
			return
		}
		frame := make([]byte, n)
		if _, err := netdev.CompleteChecksum(frame, off); err != nil {
			t.Fatalf("accepted header %+v fails on its %d-byte frame: %v", off, n, err)
		}
	})
}
