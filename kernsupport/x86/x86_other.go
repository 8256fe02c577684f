//go:build !(linux && amd64)

package x86

// BareMetal reports whether the program was started by the kit's PVH
// entry; never on this platform.
func BareMetal() bool { return false }
