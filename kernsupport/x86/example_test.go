package x86_test

import (
	"fmt"

	"github.com/goskit/goskit/kernsupport/x86"
)

// A program built for bare metal runs hosted too: it asks where it is.
func ExampleBareMetal() {
	if x86.BareMetal() {
		fmt.Println("on the bare machine")
	} else {
		fmt.Println("hosted")
	}
	// Output: hosted
}

// InterruptGate encodes an IDT entry.
func ExampleInterruptGate() {
	lo, hi := x86.InterruptGate(0x401000, x86.KernelCS, 1, 0)
	fmt.Printf("%#016x %#016x\n", lo, hi)
	// Output: 0x00408e0100081000 0x0000000000000000
}
