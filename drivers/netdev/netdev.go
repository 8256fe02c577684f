// Package netdev defines the Ethernet device interface of goskit: the contract
// between network drivers (TAP, AF_PACKET, the in-memory wire, later virtio-net)
// and the protocol stacks that use them (the gVisor glue in glue/gvisor).
//
// # Frames
//
// A frame crosses the kit as a [Frame]: a list of byte slices holding one
// Ethernet frame (destination MAC first, no FCS), scatter-gather, so a stack can
// hand its packet buffers to a driver without copying them into one slice.
// Beside the bytes travels an [Offload] value: the virtio-net header
// (struct virtio_net_hdr), the format that TAP's IFF_VNET_HDR, AF_PACKET's
// PACKET_VNET_HDR and virtio-net devices share. It says whether the frame still
// needs its transport checksum completed (partial checksum, Linux's
// CHECKSUM_PARTIAL), whether its checksum is known good, and whether it is a
// large TCP segment to be cut into MSS-sized segments (segmentation offload).
// A device states in [Info.Features] which of these it accepts on transmit and
// produces on receive; a stack never sends a device what it did not advertise.
//
// # Buffers
//
// Transmit borrows the frame's bytes for the duration of the call only: when it
// returns, the caller may reuse them. Receive fills buffers the caller posts
// (as a virtio driver posts descriptors to its device): the device copies, or
// reads, one frame into them. Posting rather than lending lets a stack receive
// straight into its own packet buffers with no copy in the glue; a device that
// owns its memory (the wire) copies once, which it would have to do anyway to
// honour a lent buffer's lifetime.
//
// # Batching and other options
//
// The [Device] interface is small. Everything a fast driver adds is an optional
// interface discovered by type assertion, the Go form of COM's query:
// [BatchTransmitter], [BatchReceiver]. Wrappers (such as a pcap
// recorder) must forward every optional interface of what they wrap: hiding
// batching or offloads from the stack costs an order of magnitude.
//
// # Execution environment
//
// A Device is safe for one transmitting goroutine and one receiving goroutine
// at once, concurrently with each other and with Close. Transmit may block
// briefly while the device has no room; Receive blocks until a frame arrives or
// the device is closed. Close unblocks both; after Close they return
// [ErrClosed]. A device whose underlying link disappears returns an error
// wrapping [ErrLinkGone] from Receive and Transmit.
package netdev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// Errors a device reports. Compare with errors.Is: drivers wrap them with
// detail.
var (
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("netdev: device closed")
	// ErrLinkGone means the host interface or device behind the driver
	// disappeared; the device is unusable and should be closed.
	ErrLinkGone = errors.New("netdev: link gone")
	// ErrFrameTooBig means a frame exceeds what the device can carry: its MTU,
	// or for a segmentation-offload frame, MaxGSOSize.
	ErrFrameTooBig = errors.New("netdev: frame too big")
	// ErrBadOffload means a frame's Offload asks for something the device did
	// not advertise or that does not fit the frame.
	ErrBadOffload = errors.New("netdev: offload not supported for frame")
	// ErrBufferTooSmall means the buffers posted to Receive cannot hold the
	// frame; the frame is dropped.
	ErrBufferTooSmall = errors.New("netdev: receive buffers too small")
)

// Sizes of Ethernet framing.
const (
	// EthernetHeaderLen is the length of an Ethernet II header without VLAN tag.
	EthernetHeaderLen = 14
	// MinFrameLen is the shortest frame a device accepts (a bare header).
	MinFrameLen = EthernetHeaderLen
)

// Features is a set of device capabilities.
type Features uint32

const (
	// FeatureTxChecksum: the device completes partial transport checksums of
	// transmitted frames marked [OffloadNeedsChecksum].
	FeatureTxChecksum Features = 1 << iota
	// FeatureTSO4 and FeatureTSO6: the device segments large TCP/IPv4 and
	// TCP/IPv6 frames ([GSOTCPv4], [GSOTCPv6]) up to Info.MaxGSOSize bytes.
	// Both need FeatureTxChecksum.
	FeatureTSO4
	FeatureTSO6
	// FeatureRxChecksum: received frames may carry [OffloadDataValid] (the
	// device verified the checksum) or [OffloadNeedsChecksum] (the frame was
	// never on a physical wire and its checksum was never computed; its data
	// is intact). Without this feature every received frame is unmarked and
	// the stack verifies checksums itself.
	FeatureRxChecksum
	// FeatureRxGSO: received frames may be coalesced TCP segments larger than
	// the MTU, described by a GSO type in their Offload (Linux's GRO/LRO).
	FeatureRxGSO
)

// Has reports whether every feature in want is in f.
func (f Features) Has(want Features) bool { return f&want == want }

func (f Features) String() string {
	names := []string{"tx-csum", "tso4", "tso6", "rx-csum", "rx-gso"}
	s := ""
	for i, n := range names {
		if f&(1<<i) != 0 {
			if s != "" {
				s += ","
			}
			s += n
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// Info describes a device. It does not change while the device is open.
type Info struct {
	// Name is the driver's name for the device, such as "tap:tap0".
	Name string
	// MAC is the device's Ethernet address (6 bytes).
	MAC net.HardwareAddr
	// MTU is the largest IP packet, in bytes, the link carries in one frame
	// (excluding the Ethernet header).
	MTU int
	// Features lists the offloads the device supports.
	Features Features
	// MaxGSOSize is the largest segmentation-offload frame (Ethernet header
	// included) the device accepts; zero without FeatureTSO4/6.
	MaxGSOSize int
}

// MaxFrameLen returns the largest plain frame the device carries: the MTU
// plus the Ethernet header.
func (i Info) MaxFrameLen() int { return i.MTU + EthernetHeaderLen }

// MaxRxFrameLen returns the buffer space a receiver must post to be sure to
// hold any frame the device delivers.
func (i Info) MaxRxFrameLen() int {
	if i.Features.Has(FeatureRxGSO) {
		return MaxGSOFrameLen
	}
	return i.MaxFrameLen()
}

// MaxGSOFrameLen bounds any frame in the kit: a 64 KiB IP packet plus its
// Ethernet header. Receivers that accept coalesced frames post this much.
const MaxGSOFrameLen = 65535 + EthernetHeaderLen

// Offload flags (virtio_net_hdr.flags).
const (
	// OffloadNeedsChecksum: the transport checksum is partial: the 16-bit
	// one's-complement sum from ChecksumStart to the end of the frame must be
	// stored at ChecksumStart+ChecksumOffset (which holds the pseudo-header sum).
	OffloadNeedsChecksum uint8 = 1
	// OffloadDataValid: the device verified the frame's checksums.
	OffloadDataValid uint8 = 2
)

// GSO types (virtio_net_hdr.gso_type).
const (
	GSONone  uint8 = 0
	GSOTCPv4 uint8 = 1
	GSOUDP   uint8 = 3
	GSOTCPv6 uint8 = 4
	// GSOECN may be or'ed into a TCP type: the segment carries ECN CWR.
	GSOECN uint8 = 0x80
)

// VnetHdrLen is the encoded size of an Offload (struct virtio_net_hdr,
// without the num_buffers field).
const VnetHdrLen = 10

// Offload describes the checksum and segmentation state of a frame: the
// fields of struct virtio_net_hdr, in host byte order. The zero value is a
// complete, plain frame.
type Offload struct {
	Flags          uint8
	GSOType        uint8
	HeaderLen      uint16 // Ethernet+IP+TCP header bytes (a hint for GSO)
	GSOSize        uint16 // MSS: payload bytes per segment
	ChecksumStart  uint16 // offset from the frame's start where checksumming starts
	ChecksumOffset uint16 // offset from ChecksumStart where the checksum is stored
}

// IsGSO reports whether the frame is a segmentation-offload frame.
func (o Offload) IsGSO() bool { return o.GSOType&^GSOECN != GSONone }

// Encode writes o as a virtio_net_hdr (little-endian, as virtio 1.0 and
// Linux's vnet headers on x86 use) into b, which must hold VnetHdrLen bytes.
func (o Offload) Encode(b []byte) {
	_ = b[VnetHdrLen-1]
	b[0] = o.Flags
	b[1] = o.GSOType
	binary.LittleEndian.PutUint16(b[2:], o.HeaderLen)
	binary.LittleEndian.PutUint16(b[4:], o.GSOSize)
	binary.LittleEndian.PutUint16(b[6:], o.ChecksumStart)
	binary.LittleEndian.PutUint16(b[8:], o.ChecksumOffset)
}

// DecodeOffload reads a virtio_net_hdr from b. It reports an error if b is
// short; field values are checked against a frame by [Offload.Validate].
func DecodeOffload(b []byte) (Offload, error) {
	if len(b) < VnetHdrLen {
		return Offload{}, fmt.Errorf("netdev: vnet header of %d bytes, want %d", len(b), VnetHdrLen)
	}
	return Offload{
		Flags:          b[0],
		GSOType:        b[1],
		HeaderLen:      binary.LittleEndian.Uint16(b[2:]),
		GSOSize:        binary.LittleEndian.Uint16(b[4:]),
		ChecksumStart:  binary.LittleEndian.Uint16(b[6:]),
		ChecksumOffset: binary.LittleEndian.Uint16(b[8:]),
	}, nil
}

// Validate checks that o is consistent with a frame of frameLen bytes: a
// partial checksum's location lies inside the frame, and a GSO frame names a
// known type and a non-zero segment size. Drivers call it on what they
// receive from a host, and stacks on what they are handed, so a hostile or
// corrupt header is an error, never an out-of-range access.
func (o Offload) Validate(frameLen int) error {
	if o.Flags&^(OffloadNeedsChecksum|OffloadDataValid) != 0 {
		return fmt.Errorf("%w: unknown flags %#x", ErrBadOffload, o.Flags)
	}
	if o.Flags&OffloadNeedsChecksum != 0 {
		if int(o.ChecksumStart) < EthernetHeaderLen || int(o.ChecksumStart)+int(o.ChecksumOffset)+2 > frameLen {
			return fmt.Errorf("%w: checksum at %d+%d outside %d-byte frame", ErrBadOffload, o.ChecksumStart, o.ChecksumOffset, frameLen)
		}
	}
	switch o.GSOType &^ GSOECN {
	case GSONone:
	case GSOTCPv4, GSOTCPv6, GSOUDP:
		if o.GSOSize == 0 {
			return fmt.Errorf("%w: GSO frame with zero segment size", ErrBadOffload)
		}
	default:
		return fmt.Errorf("%w: unknown GSO type %#x", ErrBadOffload, o.GSOType)
	}
	return nil
}

// Frame is one Ethernet frame in scatter-gather form, with its offload
// state. The frame's bytes are the concatenation of Segs.
type Frame struct {
	Segs    [][]byte
	Offload Offload
}

// Len returns the frame's length in bytes.
func (f *Frame) Len() int {
	n := 0
	for _, s := range f.Segs {
		n += len(s)
	}
	return n
}

// CopyTo copies the frame's bytes into dst and returns how many were copied.
func (f *Frame) CopyTo(dst []byte) int {
	n := 0
	for _, s := range f.Segs {
		n += copy(dst[n:], s)
	}
	return n
}

// Device is an Ethernet device.
type Device interface {
	// Info describes the device.
	Info() Info
	// Transmit sends one frame. The frame's bytes are only read during the
	// call. A frame the device cannot carry (too big, an offload it did not
	// advertise) is an error and is not sent; a frame lost on the link is not
	// (Ethernet gives no delivery guarantee).
	Transmit(f *Frame) error
	// Receive blocks until a frame arrives and reads it into bufs, filling
	// them in order. It returns the frame's length and offload state. A frame
	// that does not fit is dropped with ErrBufferTooSmall; the next call
	// receives the next frame.
	Receive(bufs [][]byte) (n int, off Offload, err error)
	// Close releases the device. It unblocks Transmit and Receive.
	Close() error
}

// BatchTransmitter is implemented by devices that send many frames in one
// operation (one system call, one ring kick).
type BatchTransmitter interface {
	// TransmitBatch sends frames in order and returns how many were sent. An
	// error stops the batch at the frame it names; frames before it were sent.
	TransmitBatch(frames []Frame) (int, error)
}

// RxSlot is one posted receive buffer set and, after a receive, what landed
// in it.
type RxSlot struct {
	Bufs    [][]byte // posted by the caller
	N       int      // set by the device: frame length
	Offload Offload  // set by the device
}

// BatchReceiver is implemented by devices that receive many frames in one
// operation.
type BatchReceiver interface {
	// ReceiveBatch blocks until at least one frame arrives, then fills as many
	// slots as frames are ready without blocking again, and returns how many
	// it filled.
	ReceiveBatch(slots []RxSlot) (int, error)
}
