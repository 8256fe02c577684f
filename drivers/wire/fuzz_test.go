package wire

import (
	"bytes"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
)

// FuzzTransmit feeds arbitrary bytes, offload headers and segmentations to
// Transmit on a perfect and a corrupting wire: it must never panic, must
// reject only with the documented errors, and what it accepts must arrive
// with its length (and, on a perfect wire, its bytes and offload) intact.
func FuzzTransmit(f *testing.F) {
	tcp, _ := tcpFrame(1, 200, false)
	partial := make([]byte, netdev.VnetHdrLen)
	netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: tcpOff, ChecksumOffset: csumOff}.Encode(partial)
	gso := make([]byte, netdev.VnetHdrLen)
	netdev.Offload{Flags: netdev.OffloadNeedsChecksum, GSOType: netdev.GSOTCPv6, GSOSize: 100, ChecksumStart: tcpOff, ChecksumOffset: csumOff}.Encode(gso)
	f.Add(tcp, partial, uint16(7), false)
	f.Add(tcp, gso, uint16(100), true)
	f.Add([]byte{}, []byte{}, uint16(0), true)
	f.Add(tcp[:20], []byte{1, 0, 0, 0, 0, 0, 18, 0, 0, 0}, uint16(3), true)
	f.Add(tcp, []byte{1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, uint16(3), false)

	bufs := [][]byte{make([]byte, 100), make([]byte, netdev.MaxGSOFrameLen)}
	f.Fuzz(func(t *testing.T, data, hdr []byte, split uint16, corrupt bool) {
		var vnet [netdev.VnetHdrLen]byte
		copy(vnet[:], hdr)
		off, err := netdev.DecodeOffload(vnet[:])
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{MTU: 1500, QueueLen: 4, Seed: 1}
		if corrupt {
			cfg.Faults.Corrupt = 1
		}
		a, b, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		// Bound the Receive below: a hang becomes a reported failure.
		timer := time.AfterFunc(5*time.Second, func() { a.Close() })
		defer timer.Stop()

		cut := min(int(split), len(data))
		frame := netdev.Frame{Segs: [][]byte{data[:cut], nil, data[cut:]}, Offload: off}
		orig := append([]byte(nil), data...)
		err = a.Transmit(&frame)
		if !bytes.Equal(data, orig) {
			t.Fatal("Transmit modified the caller's bytes")
		}
		if err != nil {
			if !isAny(err, ErrFrameTooShort, netdev.ErrFrameTooBig, netdev.ErrBadOffload) {
				t.Fatalf("Transmit: undocumented error %v", err)
			}
			if s := a.Stats(); s.Frames != 0 {
				t.Fatalf("rejected frame counted as sent: %+v", s)
			}
			return
		}
		n, got, err := b.Receive(bufs)
		if err != nil {
			t.Fatalf("Receive of an accepted frame: %v", err)
		}
		if n != len(data) {
			t.Fatalf("received %d bytes, sent %d", n, len(data))
		}
		if corrupt {
			if got.Flags != 0 {
				t.Fatalf("flags %#x from a corrupting wire", got.Flags)
			}
			return
		}
		rx := append(append([]byte(nil), bufs[0]...), bufs[1]...)[:n]
		if got != off || !bytes.Equal(rx, data) {
			t.Fatalf("perfect wire changed the frame: offload %+v -> %+v", off, got)
		}
	})
}
