package wire

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
)

const allOffloads = netdev.FeatureTxChecksum | netdev.FeatureTSO4 | netdev.FeatureTSO6 |
	netdev.FeatureRxChecksum | netdev.FeatureRxGSO

func TestNew(t *testing.T) {
	corruptAToB := Faults{Corrupt: 0.5}
	tests := []struct {
		name           string
		cfg            Config
		wantErr        bool
		featA, featB   netdev.Features
		mtu, maxGSOLen int
	}{
		{name: "default", featA: allOffloads, featB: allOffloads, mtu: DefaultMTU, maxGSOLen: netdev.MaxGSOFrameLen},
		{name: "mtu 1500", cfg: Config{MTU: 1500}, featA: allOffloads, featB: allOffloads, mtu: 1500, maxGSOLen: netdev.MaxGSOFrameLen},
		{name: "no offloads", cfg: Config{NoOffloads: true}, mtu: DefaultMTU},
		{
			// Only b receives corrupted frames, so only b loses rx-csum.
			name: "corrupt a to b", cfg: Config{Faults: corruptAToB, FaultsBToA: &Faults{}},
			featA: allOffloads, featB: allOffloads &^ netdev.FeatureRxChecksum, mtu: DefaultMTU, maxGSOLen: netdev.MaxGSOFrameLen,
		},
		{
			name: "corrupt both", cfg: Config{Faults: corruptAToB},
			featA: allOffloads &^ netdev.FeatureRxChecksum, featB: allOffloads &^ netdev.FeatureRxChecksum, mtu: DefaultMTU, maxGSOLen: netdev.MaxGSOFrameLen,
		},
		{name: "mtu too big", cfg: Config{MTU: 65536}, wantErr: true},
		{name: "mtu too small", cfg: Config{MTU: 67}, wantErr: true},
		{name: "negative queue", cfg: Config{QueueLen: -1}, wantErr: true},
		{name: "same MACs", cfg: Config{MACA: defaultMACA, MACB: defaultMACA}, wantErr: true},
		{name: "multicast MAC", cfg: Config{MACA: []byte{1, 0, 0, 0, 0, 1}}, wantErr: true},
		{name: "short MAC", cfg: Config{MACB: []byte{2, 0, 0}}, wantErr: true},
		{name: "loss > 1", cfg: Config{Faults: Faults{Loss: 1.5}}, wantErr: true},
		{name: "NaN corrupt", cfg: Config{Faults: Faults{Corrupt: math.NaN()}}, wantErr: true},
		{name: "negative delay", cfg: Config{Faults: Faults{Delay: -1}}, wantErr: true},
		{name: "negative rate b to a", cfg: Config{FaultsBToA: &Faults{Rate: -1}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, err := New(tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("New = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer a.Close()
			ia, ib := a.Info(), b.Info()
			if ia.Name != "wire:a" || ib.Name != "wire:b" {
				t.Errorf("names %q, %q", ia.Name, ib.Name)
			}
			for _, info := range []netdev.Info{ia, ib} {
				if len(info.MAC) != 6 || info.MAC[0]&2 == 0 || info.MAC[0]&1 != 0 {
					t.Errorf("%s: MAC %v not locally administered unicast", info.Name, info.MAC)
				}
				if info.MTU != tt.mtu {
					t.Errorf("%s: MTU %d, want %d", info.Name, info.MTU, tt.mtu)
				}
				if info.MaxGSOSize != tt.maxGSOLen {
					t.Errorf("%s: MaxGSOSize %d, want %d", info.Name, info.MaxGSOSize, tt.maxGSOLen)
				}
			}
			if bytes.Equal(ia.MAC, ib.MAC) {
				t.Errorf("both ends have MAC %v", ia.MAC)
			}
			if ia.Features != tt.featA || ib.Features != tt.featB {
				t.Errorf("features a=%v b=%v, want a=%v b=%v", ia.Features, ib.Features, tt.featA, tt.featB)
			}
			ia.MAC[5] ^= 0xff // Info hands out a copy
			if bytes.Equal(a.Info().MAC, ia.MAC) {
				t.Error("Info's MAC aliases the device's")
			}
		})
	}
}

func TestMaxFrameIsMaxGSOFrame(t *testing.T) {
	a, _ := newWire(t, Config{})
	if got := a.Info().MaxFrameLen(); got != netdev.MaxGSOFrameLen {
		t.Fatalf("default MaxFrameLen %d, want %d", got, netdev.MaxGSOFrameLen)
	}
}

// TestDeliveryInOrder sends frames of many sizes both ways on a perfect wire,
// single and batched, and checks every byte arrives in order.
func TestDeliveryInOrder(t *testing.T) {
	sizes := []int{hdrLen, 60, 1514, 1515, 9014, 16384, 16385, netdev.MaxGSOFrameLen}
	modes := []struct {
		name              string
		batchTx, batchRx  bool
		receiveChunkSlots int
	}{
		{name: "single"},
		{name: "batch tx", batchTx: true},
		{name: "batch rx", batchRx: true, receiveChunkSlots: 7},
		{name: "batch both", batchTx: true, batchRx: true, receiveChunkSlots: 200},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			a, b := newWire(t, Config{})
			watchdog(t, a, 20*time.Second)
			for _, dir := range []struct {
				name     string
				from, to *End
			}{{"a to b", a, b}, {"b to a", b, a}} {
				const n = 150 // 150 < batchChunk*3, so several chunks are exercised
				want := make([][]byte, n)
				frames := make([]netdev.Frame, n)
				for i := range want {
					want[i], _ = tcpFrame(uint32(i), sizes[i%len(sizes)], false)
					// Split each frame into three segments to exercise
					// scatter-gather on transmit.
					f := want[i]
					frames[i] = netdev.Frame{Segs: [][]byte{f[:5], f[5:hdrLen], f[hdrLen:]}}
				}
				if m.batchTx {
					if sent, err := dir.from.TransmitBatch(frames); sent != n || err != nil {
						t.Fatalf("%s: TransmitBatch = %d, %v", dir.name, sent, err)
					}
				} else {
					for i := range frames {
						if err := dir.from.Transmit(&frames[i]); err != nil {
							t.Fatalf("%s: Transmit %d: %v", dir.name, i, err)
						}
					}
				}
				var got [][]byte
				if m.batchRx {
					slots := make([]netdev.RxSlot, m.receiveChunkSlots)
					for i := range slots {
						// Two buffers per slot to exercise scatter on receive.
						slots[i].Bufs = [][]byte{make([]byte, 100), make([]byte, netdev.MaxGSOFrameLen)}
					}
					for len(got) < n {
						k, err := dir.to.ReceiveBatch(slots)
						if err != nil || k == 0 {
							t.Fatalf("%s: ReceiveBatch = %d, %v", dir.name, k, err)
						}
						for _, s := range slots[:k] {
							f := append(append([]byte(nil), s.Bufs[0]...), s.Bufs[1]...)
							got = append(got, f[:s.N])
						}
					}
				} else {
					for _, r := range receiveN(t, dir.to, n) {
						got = append(got, r.data)
					}
				}
				if len(got) != n {
					t.Fatalf("%s: got %d frames, want %d", dir.name, len(got), n)
				}
				for i := range want {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("%s: frame %d differs (len %d, want %d)", dir.name, i, len(got[i]), len(want[i]))
					}
				}
				s := dir.from.Stats()
				if s.Frames != n || s.Delivered != n || s.Bytes != s.DeliveredBytes {
					t.Errorf("%s: stats %+v", dir.name, s)
				}
			}
		})
	}
}

// TestConcurrentTraffic runs a sender and a receiver goroutine per direction
// at once, as two kernels do, under the race detector.
func TestConcurrentTraffic(t *testing.T) {
	a, b := newWire(t, Config{QueueLen: 4096})
	watchdog(t, a, 30*time.Second)
	const n = 2000 // below QueueLen, so no frame can be dropped
	var wg sync.WaitGroup
	for _, dir := range []struct{ from, to *End }{{a, b}, {b, a}} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				f, _ := tcpFrame(uint32(i), 64+i%3000, false)
				if err := dir.from.Transmit(&netdev.Frame{Segs: [][]byte{f}}); err != nil {
					t.Errorf("Transmit: %v", err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			buf := make([]byte, netdev.MaxGSOFrameLen)
			for i := 0; i < n; i++ {
				m, _, err := dir.to.Receive([][]byte{buf})
				if err != nil {
					t.Errorf("Receive %d: %v", i, err)
					return
				}
				if id := frameID(buf[:m]); id != uint32(i) || !checksumsOK(buf[:m]) {
					t.Errorf("frame %d: got id %d, checksums ok %v", i, id, checksumsOK(buf[:m]))
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestOffloadPassthrough: on a wire that does not corrupt, partial checksums
// and GSO frames arrive exactly as sent (the veth model).
func TestOffloadPassthrough(t *testing.T) {
	tests := []struct {
		name string
		len  int
		off  func(netdev.Offload) netdev.Offload
	}{
		{"partial checksum", 1514, func(o netdev.Offload) netdev.Offload { return o }},
		{"tso4 64k", netdev.MaxGSOFrameLen, func(o netdev.Offload) netdev.Offload {
			o.GSOType, o.GSOSize, o.HeaderLen = netdev.GSOTCPv4, 1448, hdrLen
			return o
		}},
		{"tso6 with ecn", 30000, func(o netdev.Offload) netdev.Offload {
			o.GSOType, o.GSOSize, o.HeaderLen = netdev.GSOTCPv6|netdev.GSOECN, 1428, hdrLen
			return o
		}},
		{"data valid", 1514, func(o netdev.Offload) netdev.Offload {
			return netdev.Offload{Flags: netdev.OffloadDataValid}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, faults := range []Faults{{}, {Loss: 0, Duplicate: 0.0001, Delay: time.Microsecond}} {
				a, b := newWire(t, Config{Faults: faults, Seed: 1})
				watchdog(t, a, 10*time.Second)
				f, off := tcpFrame(7, tt.len, true)
				off = tt.off(off)
				if err := a.Transmit(&netdev.Frame{Segs: [][]byte{f}, Offload: off}); err != nil {
					t.Fatalf("Transmit: %v", err)
				}
				r := receiveN(t, b, 1)[0]
				if r.off != off || !bytes.Equal(r.data, f) {
					t.Fatalf("faults %+v: got offload %+v, %d bytes; want %+v, %d bytes unchanged", faults, r.off, len(r.data), off, len(f))
				}
			}
		})
	}
}

// TestCorruptCompletesChecksums: on a corrupting wire, partial checksums are
// completed before any bit flips, offload flags are cleared, and every
// corrupted frame fails verification while every intact one passes.
func TestCorruptCompletesChecksums(t *testing.T) {
	for _, gso := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "gso"}[gso]
		t.Run(name, func(t *testing.T) {
			a, b := newWire(t, Config{Seed: 42, Faults: Faults{Corrupt: 0.3}})
			watchdog(t, a, 20*time.Second)
			const n = 300
			size := 1514
			if gso {
				size = 20000
			}
			sent := make([][]byte, n)
			for i := range sent {
				f, off := tcpFrame(uint32(i), size, true)
				if gso {
					off.GSOType, off.GSOSize, off.HeaderLen = netdev.GSOTCPv4, 1448, hdrLen
				}
				sent[i] = append([]byte(nil), f...)
				if err := a.Transmit(&netdev.Frame{Segs: [][]byte{f}, Offload: off}); err != nil {
					t.Fatalf("Transmit: %v", err)
				}
				if !bytes.Equal(f, sent[i]) {
					t.Fatal("Transmit modified the caller's frame")
				}
			}
			got := receiveN(t, b, n)
			corrupted := 0
			for i, r := range got {
				if r.off.Flags != 0 {
					t.Fatalf("frame %d: flags %#x on a corrupting wire", i, r.off.Flags)
				}
				if gso && r.off.GSOType != netdev.GSOTCPv4 {
					t.Fatalf("frame %d: GSO type dropped", i)
				}
				// What an intact frame looks like: the sent one with its
				// checksum completed.
				want := append([]byte(nil), sent[i]...)
				if _, err := netdev.CompleteChecksum(want, netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: tcpOff, ChecksumOffset: csumOff}); err != nil {
					t.Fatal(err)
				}
				switch bitDiff(r.data, want) {
				case 0:
					if !checksumsOK(r.data) {
						t.Errorf("frame %d: intact but checksums fail: not completed before delivery", i)
					}
				case 1:
					corrupted++
					if checksumsOK(r.data) {
						t.Errorf("frame %d: corrupted but checksums verify: completed after the flip", i)
					}
				default:
					t.Fatalf("frame %d: more than one bit flipped", i)
				}
			}
			s := a.Stats()
			if int(s.Corrupted) != corrupted {
				t.Errorf("Stats.Corrupted = %d, frames seen corrupted %d", s.Corrupted, corrupted)
			}
			if s.Corrupted < n/10 || s.Corrupted > n/2 {
				t.Errorf("Corrupted %d of %d at p=0.3", s.Corrupted, n)
			}
		})
	}
}

func bitDiff(x, y []byte) int {
	d := 0
	for i := range x {
		for v := x[i] ^ y[i]; v != 0; v &= v - 1 {
			d++
		}
	}
	return d
}

// faultRun is what one run of a fault pattern produced.
type faultRun struct {
	stats     Stats
	ids       []uint32
	corrupted []bool
}

// runFaults sends n frames a to b with the given faults and seed, then
// receives everything that will arrive.
func runFaults(t *testing.T, faults Faults, seed uint64, n int) faultRun {
	t.Helper()
	a, b := newWire(t, Config{Seed: seed, Faults: faults, QueueLen: 2 * n})
	watchdog(t, a, 30*time.Second)
	for i := 0; i < n; i++ {
		f, off := tcpFrame(uint32(i), 100, true)
		if err := a.Transmit(&netdev.Frame{Segs: [][]byte{f}, Offload: off}); err != nil {
			t.Fatalf("Transmit: %v", err)
		}
	}
	want := expectedDeliveries(a.Stats())
	var run faultRun
	for _, r := range receiveN(t, b, want) {
		run.ids = append(run.ids, frameID(r.data))
		run.corrupted = append(run.corrupted, !checksumsOK(r.data))
	}
	run.stats = a.Stats()
	if int(run.stats.Delivered) != want {
		t.Fatalf("Delivered %d, expected %d", run.stats.Delivered, want)
	}
	return run
}

// TestFaults checks each fault with fixed seeds: the statistics it reports
// match what the receiver sees, fall in generous bounds around the configured
// probability, and the same seed gives the same pattern.
func TestFaults(t *testing.T) {
	const n = 2000
	between := func(t *testing.T, what string, v uint64, lo, hi float64) {
		t.Helper()
		if float64(v) < lo*n || float64(v) > hi*n {
			t.Errorf("%s = %d, want within [%v, %v] of %d frames", what, v, lo, hi, n)
		}
	}
	tests := []struct {
		name   string
		faults Faults
		random bool // the frame pattern depends on the seed
		check  func(t *testing.T, r faultRun)
	}{
		{"loss", Faults{Loss: 0.1}, true, func(t *testing.T, r faultRun) {
			between(t, "Lost", r.stats.Lost, 0.05, 0.15)
			if len(r.ids) != n-int(r.stats.Lost) {
				t.Errorf("received %d, sent %d, lost %d", len(r.ids), n, r.stats.Lost)
			}
			if descents(r.ids, false) != 0 {
				t.Error("loss reordered frames")
			}
		}},
		{"duplicate", Faults{Duplicate: 0.1}, true, func(t *testing.T, r faultRun) {
			between(t, "Duplicated", r.stats.Duplicated, 0.05, 0.15)
			if got := descents(r.ids, true) - descents(r.ids, false); got != int(r.stats.Duplicated) {
				t.Errorf("%d frames seen twice in a row, Duplicated %d", got, r.stats.Duplicated)
			}
		}},
		{"reorder", Faults{Reorder: 0.2}, true, func(t *testing.T, r faultRun) {
			// A frame is held with p=0.2 unless one is already held:
			// about p/(1+p) = 17% are overtaken.
			between(t, "Reordered", r.stats.Reordered, 0.10, 0.25)
			if got := descents(r.ids, false); got != int(r.stats.Reordered) {
				t.Errorf("%d frames overtaken, Reordered %d", got, r.stats.Reordered)
			}
			if len(r.ids) != n {
				t.Errorf("received %d of %d", len(r.ids), n)
			}
		}},
		{"corrupt", Faults{Corrupt: 0.1}, true, func(t *testing.T, r faultRun) {
			between(t, "Corrupted", r.stats.Corrupted, 0.05, 0.15)
			bad := 0
			for _, c := range r.corrupted {
				if c {
					bad++
				}
			}
			if bad != int(r.stats.Corrupted) {
				t.Errorf("%d frames fail checksums, Corrupted %d", bad, r.stats.Corrupted)
			}
		}},
		{"all at once", Faults{Loss: 0.05, Duplicate: 0.05, Reorder: 0.05, Corrupt: 0.05}, true, func(t *testing.T, r faultRun) {
			for _, v := range []uint64{r.stats.Lost, r.stats.Duplicated, r.stats.Reordered, r.stats.Corrupted} {
				if v == 0 {
					t.Errorf("a fault never happened: %+v", r.stats)
				}
			}
		}},
		{"delay and jitter", Faults{Delay: 100 * time.Microsecond, Jitter: 300 * time.Microsecond}, false, func(t *testing.T, r faultRun) {
			if len(r.ids) != n || descents(r.ids, true) != 0 {
				t.Errorf("jitter lost or reordered frames: %d received, %d out of order", len(r.ids), descents(r.ids, true))
			}
		}},
		{"rate", Faults{Rate: 10e9}, false, func(t *testing.T, r faultRun) {
			if len(r.ids) != n || descents(r.ids, true) != 0 {
				t.Errorf("rate limit lost or reordered frames")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := runFaults(t, tt.faults, 1, n)
			tt.check(t, first)
			again := runFaults(t, tt.faults, 1, n)
			if first.stats != again.stats || !equalIDs(first.ids, again.ids) {
				t.Errorf("seed 1 twice gave different patterns:\n%+v\n%+v", first.stats, again.stats)
			}
			if !tt.random {
				return
			}
			other := runFaults(t, tt.faults, 2, n)
			tt.check(t, other)
			if first.stats == other.stats && equalIDs(first.ids, other.ids) {
				t.Errorf("seeds 1 and 2 gave the same pattern")
			}
		})
	}
}

// descents counts positions where a frame id is below (or, with orEqual,
// not above) the one before it.
func descents(ids []uint32, orEqual bool) int {
	d := 0
	for i := 1; i < len(ids); i++ {
		if ids[i] < ids[i-1] || orEqual && ids[i] == ids[i-1] {
			d++
		}
	}
	return d
}

func equalIDs(x, y []uint32) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// TestFaultsPerDirection: FaultsBToA applies to b's frames only, and the two
// directions draw from different streams.
func TestFaultsPerDirection(t *testing.T) {
	a, b := newWire(t, Config{Seed: 3, Faults: Faults{Loss: 0.5}, FaultsBToA: &Faults{Loss: 0.5}})
	c, d := newWire(t, Config{Seed: 3, Faults: Faults{}, FaultsBToA: &Faults{Loss: 1}})
	for i := 0; i < 200; i++ {
		f, _ := tcpFrame(uint32(i), 100, false)
		for _, e := range []*End{a, b, c, d} {
			if err := e.Transmit(&netdev.Frame{Segs: [][]byte{f}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if a.Stats() == b.Stats() {
		t.Errorf("both directions lost the same frames: %+v", a.Stats())
	}
	if c.Stats().Lost != 0 || d.Stats().Lost != 200 {
		t.Errorf("a to b lost %d (want 0), b to a lost %d (want 200)", c.Stats().Lost, d.Stats().Lost)
	}
}

// TestTimingLowerBounds: delay, reorder timeout and rate limit hold frames
// back at least as long as configured. Only lower bounds are asserted: the
// wire guarantees them, however slow the machine.
func TestTimingLowerBounds(t *testing.T) {
	tests := []struct {
		name    string
		faults  Faults
		frames  int
		minTime time.Duration
	}{
		{"delay", Faults{Delay: 5 * time.Millisecond}, 3, 5 * time.Millisecond},
		{"delay plus jitter", Faults{Delay: 2 * time.Millisecond, Jitter: time.Millisecond}, 3, 2 * time.Millisecond},
		// Reorder=1 holds the lone frame until the timeout lets it go.
		{"reorder timeout", Faults{Reorder: 1, ReorderTimeout: 3 * time.Millisecond}, 1, 3 * time.Millisecond},
		// 10 frames of 1000 bytes at 8 Mbit/s take 10 ms to serialise.
		{"rate", Faults{Rate: 8e6}, 10, 10 * time.Millisecond},
		// A 3000-byte burst lets 3 frames through at once; the other 7 pay.
		{"rate with burst", Faults{Rate: 8e6, Burst: 3000}, 10, 7 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newWire(t, Config{Faults: tt.faults, Seed: 9})
			watchdog(t, a, 20*time.Second)
			start := time.Now()
			for i := 0; i < tt.frames; i++ {
				f, _ := tcpFrame(uint32(i), 1000, false)
				if err := a.Transmit(&netdev.Frame{Segs: [][]byte{f}}); err != nil {
					t.Fatal(err)
				}
			}
			got := receiveN(t, b, tt.frames)
			if elapsed := time.Since(start); elapsed < tt.minTime {
				t.Errorf("%d frames arrived after %v, want at least %v", tt.frames, elapsed, tt.minTime)
			}
			for i, r := range got {
				if frameID(r.data) != uint32(i) {
					t.Errorf("frame %d has id %d", i, frameID(r.data))
				}
			}
		})
	}
}

// TestRateSchedule checks the token bucket's arithmetic on a synthetic clock.
func TestRateSchedule(t *testing.T) {
	w := &wire{}
	const ms = int64(time.Millisecond)
	// 8 Mbit/s: a 1000-byte frame serialises in 1 ms; burst of 2 frames.
	p := newPipe(w, Faults{Rate: 8e6, Burst: 2000}, 1500, 16, false, 0, 0)
	steps := []struct {
		now, want int64
	}{
		{0, 0},             // bucket full: leaves at once
		{0, 0},             // second burst frame
		{0, 1 * ms},        // bucket empty: serialisation time
		{0, 2 * ms},        // queued behind it
		{10 * ms, 10 * ms}, // idle 8 ms refills the bucket
		{10 * ms, 10 * ms},
		{10 * ms, 11 * ms},
	}
	for i, s := range steps {
		if got := p.schedule(s.now, 1000); got != s.want {
			t.Errorf("step %d: frame sent at %v due at %v, want %v", i, time.Duration(s.now), time.Duration(got), time.Duration(s.want))
		}
	}
}

// TestQueueLimit: frames beyond the queue limit are dropped, counted, and
// the queued ones still arrive, with and without a rate limit.
func TestQueueLimit(t *testing.T) {
	for _, faults := range []Faults{{}, {Rate: 8e6}} {
		a, b := newWire(t, Config{QueueLen: 5, Faults: faults})
		watchdog(t, a, 20*time.Second)
		for i := 0; i < 20; i++ {
			f, _ := tcpFrame(uint32(i), 1000, false)
			if err := a.Transmit(&netdev.Frame{Segs: [][]byte{f}}); err != nil {
				t.Fatal(err)
			}
		}
		// Nothing is received until all are sent, so exactly 5 fit.
		if s := a.Stats(); s.QueueDrops != 15 {
			t.Errorf("faults %+v: QueueDrops %d, want 15", faults, s.QueueDrops)
		}
		for i, r := range receiveN(t, b, 5) {
			if frameID(r.data) != uint32(i) {
				t.Errorf("frame %d has id %d", i, frameID(r.data))
			}
		}
	}
}

// TestBadFrames: frames the wire cannot carry are errors, never panics,
// and nothing is sent.
func TestBadFrames(t *testing.T) {
	plain, _ := tcpFrame(1, 1514, false)
	overMTU, _ := tcpFrame(1, 1515, false)
	big, _ := tcpFrame(1, netdev.MaxGSOFrameLen, false)
	csum := netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: tcpOff, ChecksumOffset: csumOff}
	tso4 := netdev.Offload{GSOType: netdev.GSOTCPv4, GSOSize: 1448}
	tests := []struct {
		name  string
		cfg   Config
		frame []byte
		off   netdev.Offload
		want  error
	}{
		{"empty", Config{}, nil, netdev.Offload{}, ErrFrameTooShort},
		{"13 bytes", Config{}, plain[:13], netdev.Offload{}, ErrFrameTooShort},
		{"over mtu", Config{MTU: 1500}, overMTU, netdev.Offload{}, netdev.ErrFrameTooBig},
		{"over max gso", Config{}, append(big, 0), tso4, netdev.ErrFrameTooBig},
		{"udp gso", Config{}, plain, netdev.Offload{GSOType: netdev.GSOUDP, GSOSize: 1000}, netdev.ErrBadOffload},
		{"unknown gso", Config{}, plain, netdev.Offload{GSOType: 9, GSOSize: 1000}, netdev.ErrBadOffload},
		{"gso size 0", Config{}, plain, netdev.Offload{GSOType: netdev.GSOTCPv4}, netdev.ErrBadOffload},
		{"unknown flags", Config{}, plain, netdev.Offload{Flags: 0x80}, netdev.ErrBadOffload},
		{"checksum outside frame", Config{}, plain[:60], netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 50, ChecksumOffset: 16}, netdev.ErrBadOffload},
		{"checksum in ethernet header", Config{}, plain, netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 2}, netdev.ErrBadOffload},
		{"checksum offload not advertised", Config{NoOffloads: true}, plain, csum, netdev.ErrBadOffload},
		{"tso not advertised", Config{NoOffloads: true}, plain, tso4, netdev.ErrBadOffload},
		{"bad checksum on corrupting wire", Config{Faults: Faults{Corrupt: 1}}, plain[:40], netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 30, ChecksumOffset: 16}, netdev.ErrBadOffload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newWire(t, tt.cfg)
			f := netdev.Frame{Segs: [][]byte{tt.frame}, Offload: tt.off}
			if err := a.Transmit(&f); !errors.Is(err, tt.want) {
				t.Errorf("Transmit = %v, want %v", err, tt.want)
			}
			good, _ := tcpFrame(2, 100, false)
			frames := []netdev.Frame{{Segs: [][]byte{good}}, f, {Segs: [][]byte{good}}}
			if sent, err := a.TransmitBatch(frames); sent != 1 || !errors.Is(err, tt.want) {
				t.Errorf("TransmitBatch = %d, %v; want 1, %v", sent, err, tt.want)
			}
			if s := a.Stats(); s.Frames != 1 {
				t.Errorf("Frames = %d after one good frame", s.Frames)
			}
		})
	}
}

// TestReceiveBufferTooSmall: a frame that does not fit is dropped with
// ErrBufferTooSmall and the next one is received; in a batch, a frame that
// does not fit a later slot waits for the next call.
func TestReceiveBufferTooSmall(t *testing.T) {
	a, b := newWire(t, Config{})
	watchdog(t, a, 10*time.Second)
	send := func(id uint32, n int) {
		f, _ := tcpFrame(id, n, false)
		if err := a.Transmit(&netdev.Frame{Segs: [][]byte{f}}); err != nil {
			t.Fatal(err)
		}
	}
	send(0, 1000)
	send(1, 100)
	small := make([]byte, 500)
	if _, _, err := b.Receive([][]byte{small}); !errors.Is(err, netdev.ErrBufferTooSmall) {
		t.Fatalf("Receive into 500 bytes of a 1000-byte frame = %v", err)
	}
	// Exactly enough across two buffers.
	if n, _, err := b.Receive([][]byte{small[:60], make([]byte, 40)}); err != nil || n != 100 {
		t.Fatalf("Receive = %d, %v", n, err)
	}

	send(2, 200)
	send(3, 2000)
	send(4, 300)
	slots := []netdev.RxSlot{{Bufs: [][]byte{make([]byte, 1000)}}, {Bufs: [][]byte{small}}, {Bufs: [][]byte{make([]byte, 1000)}}}
	if k, err := b.ReceiveBatch(slots); k != 1 || err != nil || frameID(slots[0].Bufs[0]) != 2 {
		t.Fatalf("ReceiveBatch = %d, %v; want the 200-byte frame only", k, err)
	}
	if k, err := b.ReceiveBatch(slots[1:]); k != 0 || !errors.Is(err, netdev.ErrBufferTooSmall) {
		t.Fatalf("ReceiveBatch with a small first slot = %d, %v", k, err)
	}
	if k, err := b.ReceiveBatch(slots); k != 1 || err != nil || slots[0].N != 300 {
		t.Fatalf("ReceiveBatch = %d, %v, N %d; want the 300-byte frame", k, err, slots[0].N)
	}
	if s := a.Stats(); s.RxTooSmall != 2 || s.Delivered != 3 {
		t.Errorf("stats %+v", s)
	}
	if k, err := b.ReceiveBatch(nil); k != 0 || err != nil {
		t.Errorf("ReceiveBatch(nil) = %d, %v", k, err)
	}
}

// TestClose: closing either end cuts the cable; blocked calls on both ends
// return; the closing end gets ErrClosed, the other ErrLinkGone.
func TestClose(t *testing.T) {
	for _, faults := range []Faults{{}, {Delay: time.Hour}} {
		for _, closeA := range []bool{true, false} {
			name := map[bool]string{true: "close a", false: "close b"}[closeA]
			if faults.Delay > 0 {
				name += " with frames in flight"
			}
			t.Run(name, func(t *testing.T) {
				a, b, err := New(Config{Faults: faults})
				if err != nil {
					t.Fatal(err)
				}
				f, _ := tcpFrame(0, 100, false)
				if faults.Delay > 0 {
					// Receivers then wait on a timer, not only on a push.
					a.Transmit(&netdev.Frame{Segs: [][]byte{f}})
					b.Transmit(&netdev.Frame{Segs: [][]byte{f}})
				}
				errs := make(chan error, 2)
				for _, e := range []*End{a, b} {
					go func() {
						_, _, err := e.Receive([][]byte{make([]byte, 2000)})
						errs <- err
					}()
				}
				// Give the receivers a moment to block; the test holds
				// whether or not they have.
				time.Sleep(10 * time.Millisecond)
				closer, peer := a, b
				if !closeA {
					closer, peer = b, a
				}
				var wg sync.WaitGroup
				for i := 0; i < 3; i++ { // concurrent, repeated Close
					wg.Add(1)
					go func() { defer wg.Done(); closer.Close() }()
				}
				wg.Wait()
				if err := closer.Close(); err != nil {
					t.Errorf("second Close = %v", err)
				}
				timeout := time.After(10 * time.Second)
				for i := 0; i < 2; i++ {
					select {
					case err := <-errs:
						if !isAny(err, netdev.ErrClosed, netdev.ErrLinkGone) {
							t.Errorf("blocked Receive returned %v", err)
						}
					case <-timeout:
						t.Fatal("Receive still blocked 10 s after Close")
					}
				}
				checks := []struct {
					name string
					err  error
					want error
				}{
					{"closer Transmit", closer.Transmit(&netdev.Frame{Segs: [][]byte{f}}), netdev.ErrClosed},
					{"peer Transmit", peer.Transmit(&netdev.Frame{Segs: [][]byte{f}}), netdev.ErrLinkGone},
					{"closer Receive", second(closer.ReceiveBatch(make([]netdev.RxSlot, 1))), netdev.ErrClosed},
					{"peer Receive", second(peer.ReceiveBatch(make([]netdev.RxSlot, 1))), netdev.ErrLinkGone},
					{"peer TransmitBatch", second(peer.TransmitBatch([]netdev.Frame{{Segs: [][]byte{f}}})), netdev.ErrLinkGone},
				}
				for _, c := range checks {
					if !errors.Is(c.err, c.want) {
						t.Errorf("%s after Close = %v, want %v", c.name, c.err, c.want)
					}
				}
				if err := peer.Close(); err != nil {
					t.Errorf("peer Close = %v", err)
				}
				if got := peer.Info().Name; got == "" {
					t.Error("Info unusable after Close")
				}
			})
		}
	}
}

func second(_ int, err error) error { return err }

// TestCloseWhileTransmitting: Close during a stream of transmits from both
// ends stops them with an error; no panic, no race, no hang.
func TestCloseWhileTransmitting(t *testing.T) {
	a, b := newWire(t, Config{QueueLen: 64, Faults: Faults{Duplicate: 0.1, Reorder: 0.1}})
	var wg sync.WaitGroup
	for _, e := range []*End{a, b} {
		wg.Add(2)
		go func() { // transmitter
			defer wg.Done()
			f, _ := tcpFrame(0, 1500, false)
			frames := []netdev.Frame{{Segs: [][]byte{f}}, {Segs: [][]byte{f}}}
			for i := 0; i < 1_000_000; i++ {
				var err error
				if i%2 == 0 {
					err = e.Transmit(&frames[0])
				} else {
					_, err = e.TransmitBatch(frames)
				}
				if err != nil {
					if !isAny(err, netdev.ErrClosed, netdev.ErrLinkGone) {
						t.Errorf("Transmit = %v", err)
					}
					return
				}
			}
			t.Error("transmitted a million frames without seeing Close")
		}()
		go func() { // receiver
			defer wg.Done()
			slots := []netdev.RxSlot{{Bufs: [][]byte{make([]byte, 2000)}}, {Bufs: [][]byte{make([]byte, 2000)}}}
			for i := 0; i < 1_000_000; i++ {
				if _, err := e.ReceiveBatch(slots); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	a.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("goroutines still running 20 s after Close")
	}
}

// TestNoGoroutineLeak: wires with every fault, after traffic and Close,
// leave no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		a, b, err := New(Config{Seed: uint64(i), Faults: Faults{
			Loss: 0.1, Duplicate: 0.1, Reorder: 0.3, Corrupt: 0.1,
			Delay: time.Millisecond, Jitter: time.Millisecond, Rate: 1e9,
		}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { // a receiver left blocked on a timer when Close comes
			defer close(done)
			buf := make([]byte, 2000)
			for j := 0; j < 1000; j++ {
				if _, _, err := b.Receive([][]byte{buf}); err != nil {
					return
				}
			}
		}()
		for j := 0; j < 50; j++ {
			f, off := tcpFrame(uint32(j), 1000, true)
			a.Transmit(&netdev.Frame{Segs: [][]byte{f}, Offload: off})
		}
		a.Close()
		<-done
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines before, %d after closing every wire", before, n)
	}
}

// TestNoAllocs: the fault-free fast path allocates nothing per frame.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops buffers at random under the race detector")
	}
	a, b := newWire(t, Config{})
	f, off := tcpFrame(0, 1514, true)
	frame := netdev.Frame{Segs: [][]byte{f}, Offload: off}
	frames := []netdev.Frame{frame, frame, frame}
	bufs := [][]byte{make([]byte, 2000)}
	slots := []netdev.RxSlot{{Bufs: bufs}, {Bufs: [][]byte{make([]byte, 2000)}}, {Bufs: [][]byte{make([]byte, 2000)}}}
	// Warm the pool first; sync.Pool may still drop buffers at a GC, which
	// is why the bound is under one allocation per frame, not zero.
	for i := 0; i < 10; i++ {
		a.Transmit(&frame)
		b.Receive(bufs)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		a.Transmit(&frame)
		b.Receive(bufs)
		a.TransmitBatch(frames)
		b.ReceiveBatch(slots)
	})
	t.Logf("%v allocations per 4 frames", allocs)
	if allocs >= 1 {
		t.Errorf("%v allocations per 4 frames on the fast path", allocs)
	}
}

// TestPlainDelivery: a wire without offloads, or one that corrupts, hands
// the receiver frames with no offload flags, whatever hints the sender set;
// and the wire keeps its own copy, so the sender may reuse its buffer at
// once.
func TestPlainDelivery(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		off  netdev.Offload
		want netdev.Offload
	}{
		{"no offloads, ecn hint", Config{NoOffloads: true}, netdev.Offload{GSOType: netdev.GSOECN, GSOSize: 5, HeaderLen: 54}, netdev.Offload{}},
		{"no offloads, data valid", Config{NoOffloads: true}, netdev.Offload{Flags: netdev.OffloadDataValid}, netdev.Offload{}},
		{"corrupting, data valid", Config{Faults: Faults{Corrupt: 0.01}}, netdev.Offload{Flags: netdev.OffloadDataValid}, netdev.Offload{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newWire(t, tt.cfg)
			watchdog(t, a, 10*time.Second)
			f, _ := tcpFrame(5, 500, false)
			orig := append([]byte(nil), f...)
			if err := a.Transmit(&netdev.Frame{Segs: [][]byte{f}, Offload: tt.off}); err != nil {
				t.Fatal(err)
			}
			for i := range f {
				f[i] = 0xee // the caller reuses its buffer
			}
			r := receiveN(t, b, 1)[0]
			if r.off != tt.want {
				t.Errorf("offload %+v, want %+v", r.off, tt.want)
			}
			if a.Stats().Corrupted == 0 && !bytes.Equal(r.data, orig) {
				t.Error("frame changed after the sender reused its buffer")
			}
		})
	}
}

// TestHugeDurations: durations of centuries are accepted and mean "not
// before Close"; nothing overflows into an early delivery.
func TestHugeDurations(t *testing.T) {
	forever := time.Duration(math.MaxInt64)
	tests := []struct {
		faults Faults
		wantN  int // frames of 3 that arrive before Close
	}{
		{Faults{Delay: forever}, 0},
		{Faults{Jitter: forever}, 0},
		{Faults{Rate: 1}, 0},
		// Frame 0 is held and overtaken by frame 1; frame 2 is held forever.
		{Faults{Reorder: 1, ReorderTimeout: forever}, 2},
		// An unbounded bucket lets everything through at once.
		{Faults{Rate: 1, Burst: math.MaxInt}, 3},
	}
	for _, tt := range tests {
		a, b, err := New(Config{Faults: tt.faults, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			f, _ := tcpFrame(uint32(i), 1000, false)
			if err := a.Transmit(&netdev.Frame{Segs: [][]byte{f}}); err != nil {
				t.Fatal(err)
			}
		}
		timer := time.AfterFunc(50*time.Millisecond, func() { a.Close() })
		got := 0
		for i := 0; i < 4; i++ {
			slots := []netdev.RxSlot{{Bufs: [][]byte{make([]byte, 2000)}}, {Bufs: [][]byte{make([]byte, 2000)}}, {Bufs: [][]byte{make([]byte, 2000)}}}
			n, err := b.ReceiveBatch(slots)
			got += n
			if err != nil {
				if !errors.Is(err, netdev.ErrLinkGone) {
					t.Errorf("faults %+v: ReceiveBatch: %v", tt.faults, err)
				}
				break
			}
			if got >= tt.wantN && tt.wantN == 3 {
				break
			}
		}
		timer.Stop()
		a.Close()
		if got != tt.wantN {
			t.Errorf("faults %+v: %d frames arrived, want %d", tt.faults, got, tt.wantN)
		}
	}
}

// TestCloseDeliversArrivedFrames: frames that reached the peer before the
// cable was cut are still received there (a FIN sent just before shutdown
// arrives), then the cut is reported; frames still on the cable are lost,
// and the closing end's own queue is freed.
func TestCloseDeliversArrivedFrames(t *testing.T) {
	tests := []struct {
		name    string
		faults  Faults
		arrived int // of 4 frames sent a to b before a closes
	}{
		{"perfect wire", Faults{}, 4},
		{"all still travelling", Faults{Delay: time.Hour}, 0},
		// A 2000-byte bucket lets two 1000-byte frames arrive at once; at
		// 8 bit/s the other two need 1000 s each.
		{"half arrived", Faults{Rate: 8, Burst: 2000}, 2},
		// Frame 0 is held, overtaken by 1; 2 is held, overtaken by 3.
		{"reordered", Faults{Reorder: 1, ReorderTimeout: time.Hour}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newWire(t, Config{Faults: tt.faults, Seed: 1})
			watchdog(t, b, 20*time.Second)
			for i := 0; i < 4; i++ {
				f, _ := tcpFrame(uint32(i), 1000, false)
				if err := a.Transmit(&netdev.Frame{Segs: [][]byte{f}}); err != nil {
					t.Fatal(err)
				}
				if err := b.Transmit(&netdev.Frame{Segs: [][]byte{f}}); err != nil {
					t.Fatal(err)
				}
			}
			a.Close()
			if _, _, err := a.Receive([][]byte{make([]byte, 2000)}); !errors.Is(err, netdev.ErrClosed) {
				t.Errorf("closed end's Receive with frames waiting = %v, want ErrClosed", err)
			}
			if err := b.Transmit(&netdev.Frame{Segs: [][]byte{make([]byte, 60)}}); !errors.Is(err, netdev.ErrLinkGone) {
				t.Errorf("peer Transmit after cut = %v", err)
			}
			got := 0
			for i := 0; i < 10; i++ {
				_, _, err := b.Receive([][]byte{make([]byte, 2000)})
				if err != nil {
					if !errors.Is(err, netdev.ErrLinkGone) {
						t.Errorf("Receive after cut = %v, want ErrLinkGone", err)
					}
					break
				}
				got++
			}
			if got != tt.arrived {
				t.Errorf("peer received %d frames after the cut, want %d", got, tt.arrived)
			}
			b.Close()
			if _, _, err := b.Receive([][]byte{make([]byte, 2000)}); !errors.Is(err, netdev.ErrClosed) {
				t.Errorf("Receive after own Close = %v, want ErrClosed", err)
			}
		})
	}
}

// TestConcurrentTransmitters: several goroutines may transmit on one end at
// once (beyond the netdev contract); every frame arrives exactly once.
func TestConcurrentTransmitters(t *testing.T) {
	a, b := newWire(t, Config{QueueLen: 4096})
	watchdog(t, a, 30*time.Second)
	const senders, each = 4, 500
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				f, _ := tcpFrame(uint32(s*each+i), 100, false)
				frames := []netdev.Frame{{Segs: [][]byte{f}}}
				var err error
				if i%2 == 0 {
					err = a.Transmit(&frames[0])
				} else {
					_, err = a.TransmitBatch(frames)
				}
				if err != nil {
					t.Errorf("Transmit: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := make(map[uint32]bool)
	for _, r := range receiveN(t, b, senders*each) {
		id := frameID(r.data)
		if seen[id] {
			t.Fatalf("frame %d twice", id)
		}
		seen[id] = true
	}
}

// waitForPosted waits (bounded) until a receiver is blocked in take with
// its slots lent to pipe p.
func waitForPosted(t *testing.T, p *pipe) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		posted := p.posted != nil
		p.mu.Unlock()
		if posted {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("receiver never waited with posted slots")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRendezvous: on a fault-free direction a transmitter copies frames
// straight into the slots a waiting receiver posted; frames beyond those
// slots queue as before, order and offloads are kept, a frame too large for
// the posted slot takes the queued path and its error, and Close ends a
// waiting receiver.
func TestRendezvous(t *testing.T) {
	const slots, frames = 4, 10
	a, b := newWire(t, Config{})
	if !b.rx.direct {
		t.Fatal("a fault-free direction does not rendezvous")
	}
	sent := make([][]byte, frames)
	batch := make([]netdev.Frame, frames)
	for i := range batch {
		f, off := tcpFrame(uint32(i), 100+i*300, true)
		sent[i] = f
		// Two segments, to exercise the scatter across segment and
		// buffer boundaries.
		batch[i] = netdev.Frame{Segs: [][]byte{f[:50], f[50:]}, Offload: off}
	}
	type result struct {
		got [][]byte
		off []netdev.Offload
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for len(r.got) < frames {
			s := make([]netdev.RxSlot, slots)
			for i := range s {
				s[i].Bufs = [][]byte{make([]byte, 64), make([]byte, 4000)}
			}
			n, err := b.ReceiveBatch(s)
			if err != nil {
				r.err = err
				break
			}
			for i := 0; i < n; i++ {
				r.got = append(r.got, append(append([]byte{}, s[i].Bufs[0]...), s[i].Bufs[1]...)[:s[i].N])
				r.off = append(r.off, s[i].Offload)
			}
		}
		done <- r
	}()
	waitForPosted(t, b.rx)
	if n, err := a.TransmitBatch(batch); n != frames || err != nil {
		t.Fatalf("TransmitBatch = %d, %v", n, err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	for i := range sent {
		if !bytes.Equal(r.got[i], sent[i]) {
			t.Fatalf("frame %d differs (got %d bytes, sent %d)", i, len(r.got[i]), len(sent[i]))
		}
		if r.off[i] != batch[i].Offload {
			t.Errorf("frame %d offload %+v, want %+v", i, r.off[i], batch[i].Offload)
		}
	}
	st := a.Stats()
	if st.Frames != frames || st.Delivered != frames || st.DeliveredBytes != st.Bytes || st.Direct < 1 || st.Direct > frames {
		t.Errorf("stats %+v: want %d frames sent and delivered, at least the first directly", st, frames)
	}

	// Too large for the posted slot: queued, then refused as before.
	small := make(chan error, 1)
	go func() {
		_, err := b.ReceiveBatch([]netdev.RxSlot{{Bufs: [][]byte{make([]byte, 200)}}})
		small <- err
	}()
	waitForPosted(t, b.rx)
	big, _ := tcpFrame(99, 1000, false)
	if err := a.Transmit(&netdev.Frame{Segs: [][]byte{big}}); err != nil {
		t.Fatal(err)
	}
	if err := <-small; !errors.Is(err, netdev.ErrBufferTooSmall) {
		t.Errorf("ReceiveBatch of a frame larger than the slot: %v, want ErrBufferTooSmall", err)
	}

	// Close ends a receiver waiting with posted slots.
	closed := make(chan error, 1)
	go func() {
		_, err := b.ReceiveBatch([]netdev.RxSlot{{Bufs: [][]byte{make([]byte, 2000)}}})
		closed <- err
	}()
	waitForPosted(t, b.rx)
	b.Close()
	select {
	case err := <-closed:
		if !errors.Is(err, netdev.ErrClosed) {
			t.Errorf("ReceiveBatch after Close: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReceiveBatch still waiting 10 s after Close")
	}
}
