package gvisor_test

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/netstack"
)

// fuzzRig is one stack behind a wire whose far end the fuzzer transmits
// from; made once per fuzzing process, since a stack is costly to build.
var fuzzRig struct {
	once sync.Once
	far  *wire.End
	st   *netstack.Stack
}

// FuzzInboundFrame hands arbitrary frames, with arbitrary offload headers,
// to the glue and through it to gVisor: nothing may panic, and the stack
// must still answer afterwards.
func FuzzInboundFrame(f *testing.F) {
	f.Add([]byte("\x02wi\x00\x00\x0a\x02wi\x00\x00\x0b\x08\x00E\x00\x00\x1c"), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(make([]byte, 60), []byte{1, 1, 54, 0, 0xa0, 5, 34, 0, 16, 0})
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\x02wi\x00\x00\x0b\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01"), []byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, frame, hdr []byte) {
		fuzzRig.once.Do(func() {
			a, b, err := wire.New(wire.Config{MTU: 1500})
			if err != nil {
				panic(err)
			}
			st, err := netstack.New(nil, netstack.Config{})
			if err != nil {
				panic(err)
			}
			if _, err := st.AddNIC(a, netip.MustParsePrefix("198.18.0.2/24"), netip.MustParsePrefix("2001:2::2/64")); err != nil {
				panic(err)
			}
			fuzzRig.far, fuzzRig.st = b, st
		})
		off, err := netdev.DecodeOffload(hdr)
		if err != nil {
			off = netdev.Offload{}
		}
		// The wire refuses what a device would never deliver (runts, bad
		// offloads); everything else reaches the glue.
		fuzzRig.far.Transmit(&netdev.Frame{Segs: [][]byte{frame}, Offload: off})
		select {
		case <-fuzzRig.st.Done():
			t.Fatalf("stack failed: %v", fuzzRig.st.Err())
		case <-time.After(time.Microsecond):
		}
	})
}
