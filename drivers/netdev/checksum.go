package netdev

import (
	"encoding/binary"
	"fmt"
)

// Checksum returns the 16-bit one's-complement sum (RFC 1071) of b added to
// initial, folded but not inverted. Chained calls sum a message in pieces
// when every piece but the last has even length.
func Checksum(b []byte, initial uint16) uint16 {
	sum := uint64(initial)
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		sum += v >> 32
		sum += v & 0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum > 0xffff {
		sum = (sum >> 16) + (sum & 0xffff)
	}
	return uint16(sum)
}

// CompleteChecksum finishes the partial checksum of a contiguous frame
// marked OffloadNeedsChecksum, as a device offering FeatureTxChecksum does,
// and clears the flag in the returned Offload. The pseudo-header sum already
// stored at the checksum field is folded in. Frames without the flag are
// returned unchanged. A GSO frame keeps its GSO type: its checksum then
// covers the whole large segment, which is what a receiver that accepts it
// whole verifies.
func CompleteChecksum(frame []byte, off Offload) (Offload, error) {
	if off.Flags&OffloadNeedsChecksum == 0 {
		return off, nil
	}
	if err := off.Validate(len(frame)); err != nil {
		return off, err
	}
	start := int(off.ChecksumStart)
	at := start + int(off.ChecksumOffset)
	if at+2 > len(frame) {
		return off, fmt.Errorf("%w: checksum field outside frame", ErrBadOffload)
	}
	sum := ^Checksum(frame[start:], 0)
	if sum == 0 {
		// One's complement has two zeros; UDP reserves 0 for "no checksum"
		// (RFC 768), and 0xffff verifies the same for TCP.
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(frame[at:], sum)
	off.Flags &^= OffloadNeedsChecksum
	return off, nil
}
