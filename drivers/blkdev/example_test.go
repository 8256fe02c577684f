package blkdev_test

import (
	"fmt"

	"github.com/goskit/goskit/drivers/blkdev"
	"github.com/goskit/goskit/drivers/blkdev/ramdisk"
)

// A sub-range view is a device of its own, as a partition is.
func ExampleSub() {
	disk, _ := ramdisk.New(1 << 20)
	part, _ := blkdev.Sub(disk, 4096, 8192)
	part.WriteAt([]byte("hello"), 0)
	_, err := part.WriteAt(make([]byte, 10), 8190)
	p := make([]byte, 5)
	disk.ReadAt(p, 4096)
	fmt.Println(part.Size(), string(p), err != nil)
	// Output: 8192 hello true
}
