package main

import "unsafe"

// unmappedAddr is an address in the middle of user address space that no
// mapping covers, hosted or on the kit's kernel.
func unmappedAddr() unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(nil), 0x7e5500000000)
}
