package vmlist_test

import (
	"fmt"

	"github.com/goskit/goskit/kernsupport/x86/vmlist"
)

// A mapping replaced in its middle splits in two, as mmap MAP_FIXED over
// an existing mapping does.
func ExampleList() {
	var l vmlist.List
	l.Add(0x10000, 0x20000, 3) // PROT_READ|PROT_WRITE
	l.Remove(0x14000, 0x15000)
	l.Add(0x14000, 0x15000, 0) // PROT_NONE
	for i := range l.Len() {
		m := l.At(i)
		fmt.Printf("[%#x, %#x) prot %d\n", m.Start, m.End, m.Prot)
	}
	_, ok := l.Find(0x20000)
	fmt.Println("0x20000 mapped:", ok)
	// Output:
	// [0x10000, 0x14000) prot 3
	// [0x15000, 0x20000) prot 3
	// [0x14000, 0x15000) prot 0
	// 0x20000 mapped: false
}
