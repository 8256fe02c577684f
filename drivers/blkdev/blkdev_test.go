package blkdev_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev"
	"github.com/goskit/goskit/drivers/blkdev/blkdevtest"
	"github.com/goskit/goskit/drivers/blkdev/ramdisk"
)

// plain hides a ramdisk's optional interfaces.
type plain struct{ blkdev.Device }

func TestViews(t *testing.T) {
	disk, _ := ramdisk.New(1 << 20)
	t.Run("Sub", func(t *testing.T) {
		v, err := blkdev.Sub(disk, 100_000, 300_000)
		if err != nil {
			t.Fatal(err)
		}
		blkdevtest.Run(t, v)
		// The bytes landed at the right place in the parent.
		p := make([]byte, 10)
		v.WriteAt([]byte("0123456789"), 0)
		disk.ReadAt(p, 100_000)
		if string(p) != "0123456789" {
			t.Errorf("parent holds %q", p)
		}
	})
	t.Run("SubOfSub", func(t *testing.T) {
		v, _ := blkdev.Sub(disk, 1000, 500_000)
		w, err := blkdev.Sub(v, 1000, 100_000)
		if err != nil {
			t.Fatal(err)
		}
		w.WriteAt([]byte("xy"), 5)
		p := make([]byte, 2)
		disk.ReadAt(p, 2005)
		if string(p) != "xy" {
			t.Errorf("parent holds %q", p)
		}
		if _, err := blkdev.Sub(v, 400_001, 100_000); !errors.Is(err, blkdev.ErrRange) {
			t.Errorf("Sub past the parent view: %v", err)
		}
	})
	t.Run("SubBad", func(t *testing.T) {
		for _, r := range [][2]int64{{-1, 10}, {0, -1}, {0, 1<<20 + 1}, {1 << 20, 1}, {1<<62 + 1, 1 << 62}} {
			if _, err := blkdev.Sub(disk, r[0], r[1]); !errors.Is(err, blkdev.ErrRange) {
				t.Errorf("Sub(%d, %d) = %v, want ErrRange", r[0], r[1], err)
			}
		}
	})
	t.Run("Plain", func(t *testing.T) {
		v, _ := blkdev.Sub(plain{disk}, 0, 100_000)
		if _, ok := v.(blkdev.Discarder); ok {
			t.Error("view of a device without Discard offers Discard")
		}
		if _, ok := v.(blkdev.Vectored); ok {
			t.Error("view of a device without vectored I/O offers it")
		}
		blkdevtest.Run(t, v)
	})
	t.Run("Forwards", func(t *testing.T) {
		v, _ := blkdev.Sub(disk, 0, 100_000)
		if _, ok := v.(blkdev.Discarder); !ok {
			t.Error("view hides Discard")
		}
		if _, ok := v.(blkdev.Vectored); !ok {
			t.Error("view hides vectored I/O")
		}
	})
	t.Run("ReadOnly", func(t *testing.T) {
		disk.WriteAt([]byte("keep"), 0)
		ro := blkdev.ReadOnly(disk)
		if _, err := ro.WriteAt([]byte("lost"), 0); !errors.Is(err, syscall.EROFS) {
			t.Errorf("WriteAt on read-only: %v", err)
		}
		if _, err := ro.(blkdev.Vectored).WritevAt([][]byte{[]byte("x")}, 0); !errors.Is(err, syscall.EROFS) {
			t.Errorf("WritevAt on read-only: %v", err)
		}
		if err := ro.(blkdev.Discarder).Discard(0, 512); !errors.Is(err, syscall.EROFS) {
			t.Errorf("Discard on read-only: %v", err)
		}
		sub, _ := blkdev.Sub(ro, 0, 512)
		if _, err := sub.WriteAt([]byte("lost"), 0); !errors.Is(err, syscall.EROFS) {
			t.Errorf("WriteAt on a sub view of a read-only view: %v", err)
		}
		p := make([]byte, 4)
		ro.ReadAt(p, 0)
		if string(p) != "keep" {
			t.Errorf("read %q", p)
		}
		if err := ro.Close(); err != nil {
			t.Error(err)
		}
		if _, err := disk.ReadAt(p, 0); err != nil {
			t.Errorf("closing a view closed the device: %v", err)
		}
	})
	t.Run("Helpers", func(t *testing.T) {
		if n, err := blkdev.WritevAt(plain{disk}, [][]byte{[]byte("ab"), []byte("cd")}, 10); n != 4 || err != nil {
			t.Fatalf("WritevAt = %d, %v", n, err)
		}
		out := [][]byte{make([]byte, 1), make([]byte, 3)}
		if n, err := blkdev.ReadvAt(plain{disk}, out, 10); n != 4 || err != nil || string(out[0])+string(out[1]) != "abcd" {
			t.Fatalf("ReadvAt = %d, %v, %q", n, err, out)
		}
		if _, err := blkdev.WritevAt(plain{disk}, [][]byte{make([]byte, 10)}, 1<<20-5); !errors.Is(err, blkdev.ErrRange) {
			t.Fatalf("WritevAt past the end: %v", err)
		}
	})
}
