package netdev_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/goskit/goskit/drivers/netdev"
)

func TestOffloadRoundTrip(t *testing.T) {
	for _, o := range []netdev.Offload{
		{},
		{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 34, ChecksumOffset: 16},
		{Flags: netdev.OffloadNeedsChecksum, GSOType: netdev.GSOTCPv6, HeaderLen: 86, GSOSize: 1440, ChecksumStart: 54, ChecksumOffset: 16},
		{Flags: netdev.OffloadDataValid},
		{GSOType: netdev.GSOTCPv4 | netdev.GSOECN, GSOSize: 0xffff, HeaderLen: 0xffff},
	} {
		var b [netdev.VnetHdrLen]byte
		o.Encode(b[:])
		got, err := netdev.DecodeOffload(b[:])
		if err != nil || got != o {
			t.Errorf("DecodeOffload(Encode(%+v)) = %+v, %v", o, got, err)
		}
	}
	// The wire format is virtio_net_hdr, little-endian.
	var b [netdev.VnetHdrLen]byte
	netdev.Offload{Flags: 1, GSOType: 4, HeaderLen: 0x0102, GSOSize: 0x0304, ChecksumStart: 0x0506, ChecksumOffset: 0x0708}.Encode(b[:])
	want := [netdev.VnetHdrLen]byte{1, 4, 2, 1, 4, 3, 6, 5, 8, 7}
	if b != want {
		t.Errorf("Encode wrote % x, want % x", b, want)
	}
	if _, err := netdev.DecodeOffload(b[:9]); err == nil {
		t.Error("DecodeOffload of 9 bytes succeeded")
	}
}

func TestOffloadValidate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		o        netdev.Offload
		frameLen int
		ok       bool
	}{
		{"plain", netdev.Offload{}, 60, true},
		{"partial TCPv4 checksum", netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 34, ChecksumOffset: 16}, 54, true},
		{"checksum field past the end", netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 34, ChecksumOffset: 16}, 51, false},
		{"checksum start in the Ethernet header", netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 4, ChecksumOffset: 0}, 60, false},
		{"huge checksum offset", netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 0xffff, ChecksumOffset: 0xffff}, 60, false},
		{"unknown flag", netdev.Offload{Flags: 0x80}, 60, false},
		{"GSO without segment size", netdev.Offload{GSOType: netdev.GSOTCPv4}, 9000, false},
		{"unknown GSO type", netdev.Offload{GSOType: 2, GSOSize: 1000}, 9000, false},
		{"GSO TCPv6 with ECN", netdev.Offload{GSOType: netdev.GSOTCPv6 | netdev.GSOECN, GSOSize: 1440}, 9000, true},
		{"data valid", netdev.Offload{Flags: netdev.OffloadDataValid}, 60, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate(tc.frameLen)
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, netdev.ErrBadOffload) {
				t.Errorf("error %v does not match ErrBadOffload", err)
			}
		})
	}
}

// referenceChecksum is RFC 1071 done the slow, obvious way.
func referenceChecksum(b []byte, initial uint16) uint16 {
	sum := uint32(initial)
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

func TestChecksumMatchesReference(t *testing.T) {
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(i*7 + i>>3)
	}
	for n := 0; n <= len(b); n++ {
		for _, init := range []uint16{0, 1, 0xffff, 0x1234} {
			if got, want := netdev.Checksum(b[:n], init), referenceChecksum(b[:n], init); got != want {
				t.Fatalf("Checksum(%d bytes, %#x) = %#x, want %#x", n, init, got, want)
			}
		}
	}
}

// TestCompleteChecksum builds a UDP/IPv4 frame with a partial checksum (the
// pseudo-header sum in the field) and checks that completing it gives a
// datagram whose full sum verifies.
func TestCompleteChecksum(t *testing.T) {
	frame := make([]byte, 14+20+8+5)
	copy(frame[42:], "hello")
	udp := frame[34:]
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	src, dst := []byte{198, 18, 0, 1}, []byte{198, 18, 0, 2}
	pseudo := append(append(append([]byte{}, src...), dst...), 0, 17, 0, byte(len(udp)))
	binary.BigEndian.PutUint16(udp[6:], netdev.Checksum(pseudo, 0))
	off := netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 34, ChecksumOffset: 6}
	got, err := netdev.CompleteChecksum(frame, off)
	if err != nil {
		t.Fatal(err)
	}
	if got.Flags&netdev.OffloadNeedsChecksum != 0 {
		t.Error("flag still set")
	}
	if sum := netdev.Checksum(udp, netdev.Checksum(pseudo, 0)); sum != 0xffff {
		t.Errorf("completed datagram sums to %#x, want 0xffff", sum)
	}
	if _, err := netdev.CompleteChecksum(frame[:40], off); err == nil {
		t.Error("CompleteChecksum of a truncated frame succeeded")
	}
}

func TestFeatures(t *testing.T) {
	f := netdev.FeatureTxChecksum | netdev.FeatureTSO4
	if !f.Has(netdev.FeatureTSO4) || f.Has(netdev.FeatureTSO4|netdev.FeatureTSO6) {
		t.Error("Has is wrong")
	}
	if s := f.String(); s != "tx-csum,tso4" {
		t.Errorf("String = %q", s)
	}
	if s := netdev.Features(0).String(); s != "none" {
		t.Errorf("String = %q", s)
	}
	info := netdev.Info{MTU: 1500, Features: netdev.FeatureRxGSO}
	if info.MaxFrameLen() != 1514 || info.MaxRxFrameLen() != netdev.MaxGSOFrameLen {
		t.Errorf("frame lengths %d, %d", info.MaxFrameLen(), info.MaxRxFrameLen())
	}
}

func TestFrame(t *testing.T) {
	f := netdev.Frame{Segs: [][]byte{[]byte("ab"), nil, []byte("cde")}}
	dst := make([]byte, 8)
	if f.Len() != 5 || f.CopyTo(dst) != 5 || string(dst[:5]) != "abcde" {
		t.Errorf("Len %d, copied %q", f.Len(), dst)
	}
}

// FuzzOffload decodes arbitrary virtio-net headers and validates them
// against arbitrary frame lengths: never a panic, and a header that
// validates never asks for a checksum outside the frame.
func FuzzOffload(f *testing.F) {
	f.Add([]byte{1, 1, 54, 0, 0xa0, 5, 34, 0, 16, 0}, 1514)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 60)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, 60)
	f.Fuzz(func(t *testing.T, hdr []byte, frameLen int) {
		o, err := netdev.DecodeOffload(hdr)
		if err != nil {
			return
		}
		frameLen = frameLen & 0x1ffff
		frame := make([]byte, frameLen)
		if o.Validate(frameLen) != nil {
			return
		}
		if o.Flags&netdev.OffloadNeedsChecksum != 0 {
			if int(o.ChecksumStart)+int(o.ChecksumOffset)+2 > frameLen {
				t.Fatalf("validated %+v for a %d-byte frame", o, frameLen)
			}
			if _, err := netdev.CompleteChecksum(frame, o); err != nil {
				t.Fatalf("CompleteChecksum of a validated header: %v", err)
			}
		}
	})
}

func ExampleOffload_Encode() {
	// A TCP/IPv4 segment of 64 KiB for the device to cut into 1448-byte
	// segments, with its checksum left to the device.
	o := netdev.Offload{
		Flags:          netdev.OffloadNeedsChecksum,
		GSOType:        netdev.GSOTCPv4,
		HeaderLen:      14 + 20 + 32,
		GSOSize:        1448,
		ChecksumStart:  14 + 20,
		ChecksumOffset: 16,
	}
	var hdr [netdev.VnetHdrLen]byte
	o.Encode(hdr[:])
	fmt.Printf("% x\n", hdr)
	back, _ := netdev.DecodeOffload(hdr[:])
	fmt.Println(back == o, back.IsGSO())
	// Output:
	// 01 01 42 00 a8 05 22 00 10 00
	// true true
}
