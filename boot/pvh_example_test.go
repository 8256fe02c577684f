package boot_test

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/goskit/goskit/boot"
)

// A bare-metal kernel parses the PVH start info its boot loader left in
// memory (here a byte image standing in for physical memory).
func ExampleParsePVH() {
	mem := make([]byte, 0x400)
	le := binary.LittleEndian
	le.PutUint32(mem[0x100:], boot.PVHMagic)
	le.PutUint32(mem[0x104:], 1)     // version
	le.PutUint64(mem[0x118:], 0x200) // command line
	le.PutUint64(mem[0x128:], 0x300) // memory map
	le.PutUint32(mem[0x130:], 1)     // one entry
	copy(mem[0x200:], "kernel A=1 -- hello\x00")
	le.PutUint64(mem[0x300:], 0x100000)  // start
	le.PutUint64(mem[0x308:], 0x7f00000) // size
	le.PutUint32(mem[0x310:], 1)         // usable
	p, err := boot.ParsePVH(bytes.NewReader(mem), 0x100)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Program, p.Environ, p.Args, p.Memory)
	// Output: kernel [A=1] [hello] [[0x100000-0x8000000) usable]
}
