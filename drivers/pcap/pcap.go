// Package pcap provides packet capture in the classic libpcap file format
// (LINKTYPE_ETHERNET), which tshark, tcpdump and Wireshark read: a [Writer],
// a [Reader], and [Wrap], a netdev.Device wrapper that records every frame a
// device transmits and receives.
//
// Frames are recorded as they cross the device interface, offloads and all:
// a segmentation-offload frame is recorded as one large frame (up to 64 KiB,
// within the default snapshot length of 262144 bytes), and a frame with a
// partial checksum is recorded with the partial checksum unless
// [Options.CompleteChecksums] asks for the checksum to be finished in the
// recorded copy. Classic pcap has no direction field: transmitted and
// received frames are interleaved in the order the calls completed.
//
// # Execution environment
//
// Pure Go, no host access. A [Writer] is safe for concurrent use; a [Reader]
// is not. The wrapper follows netdev's contract and adds a lock around
// recording, so its transmitting and receiving goroutines serialize only on
// writing the capture.
package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// File format constants.
const (
	magicMicros = 0xa1b2c3d4
	magicNanos  = 0xa1b23c4d
	// LinkTypeEthernet is LINKTYPE_ETHERNET.
	LinkTypeEthernet = 1
	// DefaultSnaplen is the snapshot length a Writer uses unless told
	// otherwise: libpcap's maximum, more than any frame in the kit.
	DefaultSnaplen = 262144
	// MaxSnaplen bounds the record length a Reader accepts, whatever a file
	// header claims, so a hostile file cannot make it allocate more.
	MaxSnaplen = 262144

	fileHeaderLen   = 24
	recordHeaderLen = 16
)

// ErrFormat means a capture file is malformed.
var ErrFormat = errors.New("pcap: malformed capture file")

// Options configure a Writer (and Wrap).
type Options struct {
	// Snaplen is the most bytes of a frame recorded (DefaultSnaplen if 0).
	Snaplen int
	// Nanoseconds records nanosecond timestamps (magic 0xa1b23c4d) instead
	// of microsecond ones.
	Nanoseconds bool
	// Now is the clock for timestamps (time.Now if nil).
	Now func() time.Time
	// CompleteChecksums makes Wrap record frames marked with a partial
	// checksum with the checksum completed, so readers that verify
	// checksums see good ones. The device's own frame is not touched.
	CompleteChecksums bool
}

// Writer writes a capture file: the file header at creation, then one
// record per WriteFrame.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	snaplen int
	nanos   bool
	now     func() time.Time
	buf     []byte
	err     error
}

// NewWriter writes the file header to w and returns a Writer.
func NewWriter(w io.Writer, opts Options) (*Writer, error) {
	pw := &Writer{w: w, snaplen: opts.Snaplen, nanos: opts.Nanoseconds, now: opts.Now}
	if pw.snaplen <= 0 {
		pw.snaplen = DefaultSnaplen
	}
	if pw.now == nil {
		pw.now = time.Now
	}
	var h [fileHeaderLen]byte
	magic := uint32(magicMicros)
	if pw.nanos {
		magic = magicNanos
	}
	binary.LittleEndian.PutUint32(h[0:], magic)
	binary.LittleEndian.PutUint16(h[4:], 2) // version 2.4
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], uint32(pw.snaplen))
	binary.LittleEndian.PutUint32(h[20:], LinkTypeEthernet)
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("pcap: write file header: %w", err)
	}
	return pw, nil
}

// WriteFrame records one frame given as segments, timestamped now. At most
// Snaplen bytes are recorded; the record keeps the frame's full length.
func (w *Writer) WriteFrame(segs ...[]byte) error {
	return w.writeFrame(segs, nil)
}

// writeFrame records segs; fix, if not nil, is applied to the recorded copy.
func (w *Writer) writeFrame(segs [][]byte, fix func(frame []byte)) error {
	t := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	n := 0
	for _, s := range segs {
		n += len(s)
	}
	incl := min(n, w.snaplen)
	w.buf = append(w.buf[:0], make([]byte, recordHeaderLen)...)
	sec, frac := t.Unix(), t.Nanosecond()
	if !w.nanos {
		frac /= 1000
	}
	binary.LittleEndian.PutUint32(w.buf[0:], uint32(sec))
	binary.LittleEndian.PutUint32(w.buf[4:], uint32(frac))
	binary.LittleEndian.PutUint32(w.buf[8:], uint32(incl))
	binary.LittleEndian.PutUint32(w.buf[12:], uint32(n))
	if fix != nil {
		// The fix needs the whole frame; record all of it, then cut.
		for _, s := range segs {
			w.buf = append(w.buf, s...)
		}
		fix(w.buf[recordHeaderLen:])
		w.buf = w.buf[:recordHeaderLen+incl]
	} else {
		left := incl
		for _, s := range segs {
			c := min(len(s), left)
			w.buf = append(w.buf, s[:c]...)
			left -= c
		}
	}
	if _, err := w.w.Write(w.buf); err != nil {
		w.err = fmt.Errorf("pcap: write record: %w", err)
		return w.err
	}
	return nil
}

// Err returns the first error writing the capture, if any; a Writer stops
// recording after one.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Packet is one record of a capture file.
type Packet struct {
	// Time is the record's timestamp.
	Time time.Time
	// Data is the recorded bytes; it is valid until the next call to Next.
	Data []byte
	// OrigLen is the frame's length on the wire (len(Data) if it was not
	// cut at the snapshot length).
	OrigLen int
}

// Reader reads a classic pcap capture file of either byte order and either
// timestamp precision.
type Reader struct {
	r        io.Reader
	order    binary.ByteOrder
	nanos    bool
	snaplen  int
	linkType uint32
	hdr      [recordHeaderLen]byte
	buf      []byte
}

// NewReader reads and checks the file header.
func NewReader(r io.Reader) (*Reader, error) {
	var h [fileHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("%w: file header: %w", ErrFormat, err)
	}
	pr := &Reader{r: r}
	switch {
	case binary.LittleEndian.Uint32(h[:]) == magicMicros:
		pr.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[:]) == magicMicros:
		pr.order = binary.BigEndian
	case binary.LittleEndian.Uint32(h[:]) == magicNanos:
		pr.order, pr.nanos = binary.LittleEndian, true
	case binary.BigEndian.Uint32(h[:]) == magicNanos:
		pr.order, pr.nanos = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("%w: bad magic %#x", ErrFormat, h[:4])
	}
	if major := pr.order.Uint16(h[4:]); major != 2 {
		return nil, fmt.Errorf("%w: version %d", ErrFormat, major)
	}
	pr.snaplen = int(pr.order.Uint32(h[16:]))
	pr.linkType = pr.order.Uint32(h[20:]) & 0x0fffffff // low 28 bits: link type
	return pr, nil
}

// LinkType returns the file's link-layer type (LinkTypeEthernet for files
// this package writes).
func (r *Reader) LinkType() uint32 { return r.linkType }

// Snaplen returns the snapshot length the file header states.
func (r *Reader) Snaplen() int { return r.snaplen }

// Nanoseconds reports whether the file's timestamps are in nanoseconds.
func (r *Reader) Nanoseconds() bool { return r.nanos }

// Next reads the next record. It returns io.EOF at a clean end of file and
// an error wrapping ErrFormat for a truncated or malformed record. Records
// longer than MaxSnaplen are rejected rather than allocated.
func (r *Reader) Next() (Packet, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		if err == io.EOF {
			return Packet{}, io.EOF
		}
		return Packet{}, fmt.Errorf("%w: record header: %w", ErrFormat, err)
	}
	sec := r.order.Uint32(r.hdr[0:])
	frac := r.order.Uint32(r.hdr[4:])
	incl := r.order.Uint32(r.hdr[8:])
	orig := r.order.Uint32(r.hdr[12:])
	if incl > MaxSnaplen {
		return Packet{}, fmt.Errorf("%w: %d-byte record exceeds %d", ErrFormat, incl, MaxSnaplen)
	}
	if orig < incl {
		return Packet{}, fmt.Errorf("%w: record of %d bytes claims an original length of %d", ErrFormat, incl, orig)
	}
	if r.nanos && frac >= 1e9 || !r.nanos && frac >= 1e6 {
		return Packet{}, fmt.Errorf("%w: timestamp fraction %d out of range", ErrFormat, frac)
	}
	if cap(r.buf) < int(incl) {
		r.buf = make([]byte, incl)
	}
	r.buf = r.buf[:incl]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		return Packet{}, fmt.Errorf("%w: record data: %w", ErrFormat, err)
	}
	ns := int64(frac)
	if !r.nanos {
		ns *= 1000
	}
	return Packet{Time: time.Unix(int64(sec), ns), Data: r.buf, OrigLen: int(orig)}, nil
}
