package ramdisk_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev"
	"github.com/goskit/goskit/drivers/blkdev/blkdevtest"
	"github.com/goskit/goskit/drivers/blkdev/ramdisk"
)

func TestDisk(t *testing.T) {
	d, err := ramdisk.New(256 << 10)
	if err != nil {
		t.Fatal(err)
	}
	blkdevtest.Run(t, d)
	d.Close()
	if _, err := d.ReadAt(make([]byte, 1), 0); !errors.Is(err, blkdev.ErrClosed) {
		t.Errorf("read after Close: %v", err)
	}
	if _, err := ramdisk.New(-1); err == nil {
		t.Error("New(-1) succeeded")
	}
}

func ExampleNew() {
	d, _ := ramdisk.New(1 << 20)
	d.WriteAt([]byte("boot"), 510)
	fmt.Println(d.Size(), d.BlockSize(), string(d.Bytes()[510:514]))
	// Output: 1048576 512 boot
}
