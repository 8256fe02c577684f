// Package blkdevtest provides a conformance test for blkdev.Device
// implementations: reads and writes at every alignment, the range rule,
// the optional interfaces, and concurrent access.
//
// # Execution environment
//
// Tests only.
package blkdevtest

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"sync"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev"
)

// Run tests dev, a writable device of at least 64 KiB whose contents it
// overwrites.
func Run(t *testing.T, dev blkdev.Device) {
	t.Helper()
	size := dev.Size()
	if size < 64<<10 {
		t.Fatalf("device too small for the test: %d", size)
	}
	if bs := dev.BlockSize(); bs <= 0 || bs&(bs-1) != 0 {
		t.Fatalf("BlockSize %d is not a power of two", bs)
	}
	model := make([]byte, size)
	if _, err := dev.WriteAt(model, 0); err != nil {
		t.Fatalf("zeroing: %v", err)
	}
	rng := rand.New(rand.NewSource(1))
	t.Run("ReadWrite", func(t *testing.T) {
		for i := 0; i < 200; i++ {
			off := rng.Int63n(size)
			n := rng.Intn(int(min(size-off, 9000)) + 1)
			p := make([]byte, n)
			rng.Read(p)
			if w, err := dev.WriteAt(p, off); err != nil || w != n {
				t.Fatalf("WriteAt(%d bytes, %d) = %d, %v", n, off, w, err)
			}
			copy(model[off:], p)
			off = rng.Int63n(size)
			n = rng.Intn(int(min(size-off, 9000)) + 1)
			q := make([]byte, n)
			if r, err := dev.ReadAt(q, off); err != nil || r != n {
				t.Fatalf("ReadAt(%d bytes, %d) = %d, %v", n, off, r, err)
			}
			if !bytes.Equal(q, model[off:off+int64(n)]) {
				t.Fatalf("ReadAt(%d bytes, %d): wrong bytes", n, off)
			}
		}
	})
	t.Run("Range", func(t *testing.T) {
		p := make([]byte, 100)
		for _, off := range []int64{-1, size - 50, size, size + 1} {
			if _, err := dev.WriteAt(p, off); !errors.Is(err, blkdev.ErrRange) {
				t.Errorf("WriteAt(100 bytes, %d) on %d bytes: %v, want ErrRange", off, size, err)
			}
		}
		// Nothing was written at the end.
		q := make([]byte, 50)
		if _, err := dev.ReadAt(q, size-50); err != nil || !bytes.Equal(q, model[size-50:]) {
			t.Errorf("a refused write changed the device's end: %v", err)
		}
		if n, err := dev.ReadAt(p, size-50); n != 50 || err != io.EOF {
			t.Errorf("ReadAt across the end = %d, %v; want 50, EOF", n, err)
		}
		if n, err := dev.ReadAt(p, size); n != 0 || err != io.EOF {
			t.Errorf("ReadAt at the end = %d, %v; want 0, EOF", n, err)
		}
		if _, err := dev.ReadAt(p, -1); !errors.Is(err, blkdev.ErrRange) {
			t.Errorf("ReadAt(-1) = %v, want ErrRange", err)
		}
		if _, err := dev.ReadAt(p, size+1); !errors.Is(err, blkdev.ErrRange) {
			t.Errorf("ReadAt(size+1) = %v, want ErrRange", err)
		}
	})
	if v, ok := dev.(blkdev.Vectored); ok {
		t.Run("Vectored", func(t *testing.T) {
			bufs := [][]byte{make([]byte, 3), make([]byte, 700), nil, make([]byte, 1000)}
			for _, b := range bufs {
				rng.Read(b)
			}
			off := int64(4097)
			if n, err := v.WritevAt(bufs, off); err != nil || n != 1703 {
				t.Fatalf("WritevAt = %d, %v", n, err)
			}
			copy(model[off:], bytes.Join(bufs, nil))
			out := [][]byte{make([]byte, 1000), make([]byte, 1000)}
			if n, err := v.ReadvAt(out, off-100); err != nil || n != 2000 {
				t.Fatalf("ReadvAt = %d, %v", n, err)
			}
			if !bytes.Equal(bytes.Join(out, nil), model[off-100:off+1900]) {
				t.Fatal("ReadvAt: wrong bytes")
			}
			if _, err := v.WritevAt(bufs, size-1000); !errors.Is(err, blkdev.ErrRange) {
				t.Errorf("WritevAt across the end: %v, want ErrRange", err)
			}
			n, err := v.ReadvAt(out, size-1500)
			if n != 1500 || err != io.EOF || !bytes.Equal(bytes.Join(out, nil)[:1500], model[size-1500:]) {
				t.Errorf("ReadvAt across the end = %d, %v", n, err)
			}
		})
	}
	if d, ok := dev.(blkdev.Discarder); ok {
		t.Run("Discard", func(t *testing.T) {
			off, l := int64(8192), int64(16384)
			if err := d.Discard(off, l); err != nil {
				t.Fatalf("Discard: %v", err)
			}
			clear(model[off : off+l])
			q := make([]byte, l+200)
			if _, err := dev.ReadAt(q, off-100); err != nil || !bytes.Equal(q, model[off-100:off+l+100]) {
				t.Fatalf("after Discard: %v or wrong bytes", err)
			}
			if err := d.Discard(size-10, 20); !errors.Is(err, blkdev.ErrRange) {
				t.Errorf("Discard across the end: %v, want ErrRange", err)
			}
		})
	}
	t.Run("Concurrent", func(t *testing.T) {
		// Disjoint writers and readers at once; the race detector checks
		// the locking, the model checks the bytes.
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				r := rand.New(rand.NewSource(int64(g)))
				base := int64(g) * (size / 4)
				for i := 0; i < 50; i++ {
					off := base + r.Int63n(size/4-5000)
					p := make([]byte, r.Intn(5000)+1)
					r.Read(p)
					if _, err := dev.WriteAt(p, off); err != nil {
						t.Error(err)
						return
					}
					q := make([]byte, len(p))
					if _, err := dev.ReadAt(q, off); err != nil || !bytes.Equal(p, q) {
						t.Errorf("concurrent read-back at %d: %v", off, err)
						return
					}
				}
			}(g)
		}
		wg.Wait()
	})
	if err := dev.Flush(); err != nil {
		t.Errorf("Flush: %v", err)
	}
}
