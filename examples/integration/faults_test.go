package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/examples/kernel"
	"github.com/goskit/goskit/netstack"
)

// wireEnd returns the wire end under a kernel's stack.
func wireEnd(t testing.TB, st *netstack.Stack) *wire.End {
	t.Helper()
	nics := st.NICs()
	if len(nics) != 1 {
		t.Fatalf("stack has NICs %v, want one", nics)
	}
	end, ok := st.Device(nics[0]).(*wire.End)
	if !ok {
		t.Fatalf("the stack's device is a %T, want *wire.End", st.Device(nics[0]))
	}
	return end
}

// TestFaults runs verified 16 MiB ttcp transfers over a wire that loses,
// reorders, duplicates and corrupts frames in both directions, for three
// fixed seeds: every byte arrives intact, every fault happened, and TCP's
// own checksum caught the corruption (a corrupting wire does not advertise
// receive checksum offload, so the stack verifies everything).
func TestFaults(t *testing.T) {
	faults := wire.Faults{Loss: 0.01, Reorder: 0.02, Duplicate: 0.01, Corrupt: 0.02}
	seeds := []uint64{1, 7, 42}
	const nbuf = 2048 // 16 MiB
	if testing.Short() {
		// The race detector slows the stacks down: one seed (the others
		// run without -short).
		seeds = seeds[:1]
	}
	info := hostedInfo(t)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			var out console
			queue := ttcpConfig.queue
			if seed == 7 {
				queue = 1000 // the transmit queue's goroutine under faults too
			}
			tx, rx, err := kernel.BootPair(info, wire.Config{Seed: seed, Faults: faults}, ttcpConfig.flags, kernel.Config{Console: &out, TxQueueLen: queue})
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()
			defer rx.Close()
			start := time.Now()
			tcode, rcode := kitTransfer(t, tx, rx, kernel.EmbeddedReceiver.Addr(), ttcpOpts(nbuf, 5001), 120*time.Second)
			t.Logf("seed %d: %d bytes in %v", seed, nbuf*8192, time.Since(start).Round(time.Millisecond))
			if tcode != 0 || rcode != 0 {
				t.Fatalf("ttcp exit statuses %d (transmitter), %d (receiver); console:\n%s", tcode, rcode, out.String())
			}
			want := fmt.Sprintf("ttcp-r: %d bytes in ", nbuf*8192)
			if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "+++ (pattern verified)") {
				t.Errorf("console lacks %q with pattern verified:\n%s", want, out.String())
			}

			// Both directions' faults, added up.
			a, b := wireEnd(t, tx.Stack).Stats(), wireEnd(t, rx.Stack).Stats()
			t.Logf("wire a->b: %+v", a)
			t.Logf("wire b->a: %+v", b)
			for _, c := range []struct {
				name string
				n    uint64
			}{
				{"lost", a.Lost + b.Lost},
				{"reordered", a.Reordered + b.Reordered},
				{"duplicated", a.Duplicated + b.Duplicated},
				{"corrupted", a.Corrupted + b.Corrupted},
			} {
				if c.n == 0 {
					t.Errorf("no frame was %s: the fault did not happen", c.name)
				}
			}

			var tcpErrs, ipErrs uint64
			for _, k := range []*kernel.Kernel{tx, rx} {
				s := k.Stack.GVisor().Stats()
				tcpErrs += s.TCP.ChecksumErrors.Value()
				ipErrs += s.IP.MalformedPacketsReceived.Value()
			}
			t.Logf("checksum errors caught: TCP %d, IP header (malformed) %d; frames corrupted %d", tcpErrs, ipErrs, a.Corrupted+b.Corrupted)
			if tcpErrs == 0 {
				t.Errorf("gVisor's TCP counted no checksum errors though the wire corrupted %d frames", a.Corrupted+b.Corrupted)
			}
		})
	}
}
