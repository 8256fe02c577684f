//go:build linux && amd64

package x86

import "testing"

// TestUserRange checks which ranges system calls may touch. It uses the
// kernel's global mapping list: it must not run in parallel.
func TestUserRange(t *testing.T) {
	mappings.Reset()
	defer mappings.Reset()
	mappings.Add(userBottom+0x10000, userBottom+0x20000, 3)
	mappings.Add(userBottom+0x20000, userBottom+0x30000, 1)
	mappings.Add(userBottom+0x40000, userBottom+0x50000, 0) // reserved
	for _, tc := range []struct {
		addr, n uint64
		ok      bool
	}{
		{0, 8, false},               // page 0
		{PageSize - 4, 8, false},    // starts in page 0
		{PageSize, 8, true},         // identity map
		{userBottom - 8, 16, false}, // runs off the identity map into nothing
		{userBottom + 0x10000, 0x20000, true},
		{userBottom + 0x1fff8, 16, true},  // across two adjacent mappings
		{userBottom + 0x2fff8, 16, false}, // into the hole
		{userBottom + 0x40000, 8, false},  // PROT_NONE
		{^uint64(0) - 4, 16, false},       // wraps
		{userBottom + 0x50000, 0, true},   // empty
	} {
		if got := userRange(tc.addr, tc.n); got != tc.ok {
			t.Errorf("userRange(%#x, %d) = %v, want %v", tc.addr, tc.n, got, tc.ok)
		}
	}
}
