// Package hostio provides the host plumbing the hosted network drivers
// (drivers/tap, drivers/packet) share: allocation-free scatter-gather system
// calls (readv, writev, sendmmsg, recvmmsg) over reusable iovec arrays, a
// control socket that answers questions about a named host interface (index,
// MTU, flags, whether it still exists), and locally administered MAC
// addresses.
//
// # Execution environment
//
// Linux only, through golang.org/x/sys/unix. The system-call wrappers are
// safe for concurrent use; an [Iovecs] or [Link] value belongs to one
// goroutine at a time unless its documentation says otherwise. Callers make
// the calls on descriptors they keep alive for the duration (inside a
// hosted.FDLine poll function).
package hostio

import (
	"crypto/rand"
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Iovecs is a reusable array of struct iovec. The zero value is empty and
// ready to use. It holds pointers to the slices appended to it until Reset.
type Iovecs struct {
	v []unix.Iovec
}

// Reset empties the array and drops its references to Go memory.
func (s *Iovecs) Reset() {
	clear(s.v)
	s.v = s.v[:0]
}

// Append adds one iovec per non-empty slice of segs.
func (s *Iovecs) Append(segs ...[]byte) {
	for _, b := range segs {
		if len(b) == 0 {
			continue
		}
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		s.v = append(s.v, v)
	}
}

// Len returns the number of iovecs.
func (s *Iovecs) Len() int { return len(s.v) }

// At returns a pointer to the i-th iovec, for building message headers. It
// is valid until the next Append or Reset.
func (s *Iovecs) At(i int) *unix.Iovec { return &s.v[i] }

// Slice returns the iovecs.
func (s *Iovecs) Slice() []unix.Iovec { return s.v }

func iovPtr(iov []unix.Iovec) unsafe.Pointer {
	if len(iov) == 0 {
		return nil
	}
	return unsafe.Pointer(&iov[0])
}

// Readv is readv(2) on fd without allocation.
func Readv(fd int, iov []unix.Iovec) (int, error) {
	n, _, e := unix.Syscall(unix.SYS_READV, uintptr(fd), uintptr(iovPtr(iov)), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Writev is writev(2) on fd without allocation.
func Writev(fd int, iov []unix.Iovec) (int, error) {
	n, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(iovPtr(iov)), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Sendmmsg is sendmmsg(2): it sends msgs and returns how many were sent.
// An error means none was (after at least one, the kernel reports the count
// and the error comes from the next call).
// Every pointer in msgs (Iov, Name, Control) must point to Go memory that
// stays referenced from msgs, as the iovecs of an [Iovecs] do.
func Sendmmsg(fd int, msgs []unix.Mmsghdr, flags int) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), uintptr(flags), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Recvmmsg is recvmmsg(2) without a timeout: it fills msgs and returns how
// many it filled; each message's Len is the received length and Hdr.Flags
// its flags (MSG_TRUNC). The same memory rules as [Sendmmsg] apply.
func Recvmmsg(fd int, msgs []unix.Mmsghdr, flags int) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), uintptr(flags), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// SegsCap returns the total length of segs.
func SegsCap(segs [][]byte) int {
	n := 0
	for _, s := range segs {
		n += len(s)
	}
	return n
}

// RandomMAC returns a random locally administered unicast Ethernet address
// (the second-lowest bit of the first byte set, the lowest clear), which no
// vendor-assigned interface uses.
func RandomMAC() (net.HardwareAddr, error) {
	mac := make(net.HardwareAddr, 6)
	if _, err := rand.Read(mac); err != nil {
		return nil, fmt.Errorf("hostio: random MAC: %w", err)
	}
	mac[0] = mac[0]&^0x01 | 0x02
	return mac, nil
}

// CheckMAC reports an error unless mac is a 6-byte unicast address.
func CheckMAC(mac net.HardwareAddr) error {
	if len(mac) != 6 {
		return fmt.Errorf("hostio: MAC %v is not 6 bytes", mac)
	}
	if mac[0]&1 != 0 {
		return fmt.Errorf("hostio: MAC %v is a multicast address", mac)
	}
	return nil
}
