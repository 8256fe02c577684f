package wire

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/goskit/goskit/drivers/netdev"
)

// BenchmarkThroughput streams frames from a to b: the benchmark goroutine
// transmits, another receives, as a sending and a receiving kernel do. The
// sender keeps at most a window of frames outstanding (as TCP would), so the
// queue never overflows and every frame counts. Reports frames/s and Gbit/s
// of frame bytes.
func BenchmarkThroughput(b *testing.B) {
	for _, size := range []int{1514, netdev.MaxGSOFrameLen} {
		for _, batch := range []int{1, 64} {
			name := strconv.Itoa(size) + "B/"
			if batch == 1 {
				name += "single"
			} else {
				name += "batch" + strconv.Itoa(batch)
			}
			b.Run(name, func(b *testing.B) { benchmarkThroughput(b, size, batch) })
		}
	}
}

func benchmarkThroughput(b *testing.B, size, batch int) {
	const window = 512 // frames in flight; below DefaultQueueLen
	tx, rx, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	f, off := tcpFrame(0, size, true)
	if size > 1514 {
		off.GSOType, off.GSOSize, off.HeaderLen = netdev.GSOTCPv4, 1448, hdrLen
	}
	frames := make([]netdev.Frame, batch)
	for i := range frames {
		frames[i] = netdev.Frame{Segs: [][]byte{f}, Offload: off}
	}
	slots := make([]netdev.RxSlot, batch)
	for i := range slots {
		slots[i].Bufs = [][]byte{make([]byte, size)}
	}

	var received atomic.Int64
	done := make(chan error, 1)
	total := int64(b.N)
	go func() {
		for received.Load() < total {
			var k int
			var err error
			if batch == 1 {
				_, _, err = rx.Receive(slots[0].Bufs)
				k = 1
			} else {
				k, err = rx.ReceiveBatch(slots)
			}
			if err != nil {
				done <- err
				return
			}
			received.Add(int64(k))
		}
		done <- nil
	}()

	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		for int64(sent)-received.Load() > window-int64(batch) {
			runtime.Gosched()
		}
		k := min(batch, b.N-sent)
		if batch == 1 {
			if err := tx.Transmit(&frames[0]); err != nil {
				b.Fatal(err)
			}
		} else if _, err := tx.TransmitBatch(frames[:k]); err != nil {
			b.Fatal(err)
		}
		sent += k
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if s := tx.Stats(); s.QueueDrops != 0 {
		b.Fatalf("%d frames dropped", s.QueueDrops)
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/secs, "frames/s")
	b.ReportMetric(float64(b.N)*float64(size)*8/secs/1e9, "Gbit/s")
}

// BenchmarkRoundTrip bounces one small frame between the ends, as rtcp's
// one-byte echo does: the cost of a transmit plus waking a blocked receiver.
func BenchmarkRoundTrip(b *testing.B) {
	a, z, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	f, _ := tcpFrame(0, 60, false)
	frame := netdev.Frame{Segs: [][]byte{f}}
	done := make(chan error, 1)
	go func() {
		buf := [][]byte{make([]byte, 100)}
		for i := 0; i < b.N; i++ {
			if _, _, err := z.Receive(buf); err != nil {
				done <- err
				return
			}
			if err := z.Transmit(&frame); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	buf := [][]byte{make([]byte, 100)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := a.Transmit(&frame); err != nil {
			b.Fatal(err)
		}
		if _, _, err := a.Receive(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCost transmits and receives in one goroutine: the wire's own CPU
// cost per frame (two copies, a lock each way), without scheduling.
func BenchmarkCost(b *testing.B) {
	for _, size := range []int{1514, netdev.MaxGSOFrameLen} {
		for _, batch := range []int{1, 64} {
			name := strconv.Itoa(size) + "B/"
			if batch == 1 {
				name += "single"
			} else {
				name += "batch" + strconv.Itoa(batch)
			}
			b.Run(name, func(b *testing.B) {
				tx, rx, err := New(Config{})
				if err != nil {
					b.Fatal(err)
				}
				defer tx.Close()
				f, off := tcpFrame(0, size, true)
				frames := make([]netdev.Frame, batch)
				slots := make([]netdev.RxSlot, batch)
				for i := range frames {
					frames[i] = netdev.Frame{Segs: [][]byte{f}, Offload: off}
					slots[i].Bufs = [][]byte{make([]byte, size)}
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for sent := 0; sent < b.N; {
					k := min(batch, b.N-sent)
					if batch == 1 {
						tx.Transmit(&frames[0])
						rx.Receive(slots[0].Bufs)
					} else {
						tx.TransmitBatch(frames[:k])
						for got := 0; got < k; {
							n, err := rx.ReceiveBatch(slots[:k-got])
							if err != nil {
								b.Fatal(err)
							}
							got += n
						}
					}
					sent += k
				}
				b.StopTimer()
				secs := b.Elapsed().Seconds()
				b.ReportMetric(float64(b.N)/secs, "frames/s")
				b.ReportMetric(float64(b.N)*float64(size)*8/secs/1e9, "Gbit/s")
			})
		}
	}
}
