package part_test

import (
	"fmt"

	"github.com/goskit/goskit/drivers/blkdev/part"
	"github.com/goskit/goskit/drivers/blkdev/ramdisk"
)

// Read a disk's partition table and open its first partition as a device.
func ExampleRead() {
	disk, _ := ramdisk.New(1 << 20)
	mbr := make([]byte, 512)
	mbr[446+4] = 0x83                // type: Linux
	mbr[446+8], mbr[446+12] = 64, 32 // start sector 64, 32 sectors
	mbr[510], mbr[511] = 0x55, 0xaa
	disk.WriteAt(mbr, 0)

	tab, err := part.Read(disk)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := tab.Partitions[0]
	dev, _ := tab.Open(disk, p)
	fmt.Println(tab.Kind, p.Number, p.Type, p.Start, dev.Size())
	// Output: dos 1 83 64 16384
}
