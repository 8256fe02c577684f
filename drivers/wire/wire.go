// Package wire provides an in-memory Ethernet cable: two [netdev.Device] ends
// joined in one process, with seeded, configurable faults. It is the NIC of the
// kit's embedded default (two kernels in one process, no privileges) and of
// tests that want reproducible networking.
//
// # The cable
//
// [New] returns the two ends, "wire:a" and "wire:b". A frame transmitted on one
// end is copied into a buffer owned by the wire and queued for the other end's
// Receive, which copies it into the buffers the caller posts. Each direction
// has its own bounded queue ([Config.QueueLen] frames); a frame that finds its
// queue full is dropped and counted, as a full veth backlog or NIC ring drops
// it. Transmit never waits for the receiver: a wire that blocked senders could
// deadlock two stacks that answer (ACK) from their receive goroutines.
//
// On a direction with no faults, no timing and no checksum work, a frame sent
// while the receiver waits with nothing queued skips the wire's buffer: the
// transmitter copies it straight into the buffers the receiver posted (a
// rendezvous, counted in [Stats].Direct), one copy instead of two, the order
// of frames unchanged.
//
// # Offloads
//
// On a wire that does not corrupt, frames keep their [netdev.Offload] across
// the cable unchanged, as Linux's veth keeps skb state: the data never touches a
// physical medium, so a partial checksum stays partial and the receiver may
// treat it as valid, and a large TCP segment arrives whole. Each end therefore
// advertises FeatureTxChecksum, FeatureTSO4, FeatureTSO6, FeatureRxChecksum and
// FeatureRxGSO with MaxGSOSize = [netdev.MaxGSOFrameLen]. The default MTU is
// [DefaultMTU], 65535: the largest IP packet, so the largest plain frame
// (MTU + 14 bytes) is also [netdev.MaxGSOFrameLen].
//
// A direction that corrupts frames ([Faults.Corrupt] > 0) completes every
// partial checksum on transmit ([netdev.CompleteChecksum]) before it may flip a
// bit, clears the offload flags, and its receiving end does not advertise
// FeatureRxChecksum, so the receiving stack verifies checksums itself. TSO and
// receive GSO stay on: a large segment's checksum is completed over the whole
// segment, which is exactly what a receiver that accepts the segment whole
// verifies, so corruption is still caught. (A receiver that cut such a frame
// into segments and recomputed their checksums would launder the corruption;
// the netdev contract has receivers take GSO frames whole.) Keeping them
// keeps a faulty wire's traffic shaped like a fast one's.
//
// [Config.NoOffloads] makes the wire a plain NIC instead: no features, frames
// of at most MTU+14 bytes, and a zero Offload on every received frame.
//
// # Faults
//
// [Faults] are applied per direction, in transmit order, from a PCG random
// source seeded by [Config.Seed] (each direction its own stream), so one
// transmitting goroutine sending the same frames sees the same fault pattern
// every run. Which frames are lost, duplicated, held back or corrupted never
// depends on time; only a held-back frame that nothing overtakes within
// [Faults.ReorderTimeout] is delivered in order instead. Delay, jitter, rate
// limiting and the reorder timeout decide when a frame may be received; the
// receiver waits on a timer for that moment, so the wire needs no goroutine of
// its own.
//
// # Execution environment
//
// An End follows the [netdev] contract: safe for one transmitting and one
// receiving goroutine at once, concurrently with each other, with the peer end
// and with Close; beyond the contract, Transmit and TransmitBatch may be
// called from any number of goroutines at once. Transmit never waits for
// the receiver (it holds its direction's lock for well under a microsecond,
// or for the copy of one frame into a waiting receiver's buffers); Receive blocks
// until a frame is due or the cable is cut. Closing either end cuts the cable
// for both: the closed end's calls return [netdev.ErrClosed]; the peer first
// receives the frames that had reached it before the cut, then its calls
// return an error wrapping [netdev.ErrLinkGone], so a kernel whose NIC
// disappears notices without losing a last FIN. The wire starts no
// goroutines and needs nothing from the platform but Go's clock; its memory
// is the frame buffers, recycled through a per-wire sync.Pool.
package wire

import (
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
)

// Defaults for zero Config fields.
const (
	// DefaultMTU is the largest IP packet: a plain frame of DefaultMTU+14
	// bytes is the largest frame in the kit, netdev.MaxGSOFrameLen.
	DefaultMTU = 65535
	// DefaultQueueLen is how many frames each direction holds before it drops.
	DefaultQueueLen = 1024
	// DefaultReorderTimeout is how long a frame held back for reordering
	// waits for a later frame to overtake it before it is delivered anyway.
	DefaultReorderTimeout = time.Millisecond
)

// MinMTU is the smallest MTU a wire accepts (IPv4's minimum).
const MinMTU = 68

var (
	// ErrFrameTooShort means a transmitted frame is shorter than an Ethernet
	// header (netdev.MinFrameLen).
	ErrFrameTooShort = errors.New("wire: frame shorter than an Ethernet header")
	// ErrInvalidConfig means New was given a Config it cannot honour.
	ErrInvalidConfig = errors.New("wire: invalid config")
)

// Default MACs: locally administered (bit 1 of the first octet), unicast, and
// spelling "wi" so they are easy to spot in a capture.
var (
	defaultMACA = net.HardwareAddr{0x02, 'w', 'i', 0, 0, 0x0a}
	defaultMACB = net.HardwareAddr{0x02, 'w', 'i', 0, 0, 0x0b}
)

// Faults configures what one direction of the wire does to frames. The zero
// value is a perfect wire.
type Faults struct {
	// Loss is the probability that a frame is dropped.
	Loss float64
	// Duplicate is the probability that a frame is delivered twice.
	Duplicate float64
	// Reorder is the probability that a frame is held back and delivered
	// after the next frame sent in the same direction (or after
	// ReorderTimeout if none follows). A frame arriving while one is held is
	// never held itself.
	Reorder float64
	// ReorderTimeout bounds how long a held-back frame waits; zero means
	// DefaultReorderTimeout.
	ReorderTimeout time.Duration
	// Corrupt is the probability that one random bit of a frame, after its
	// Ethernet header, is flipped. See the package doc for checksums.
	Corrupt float64
	// Delay is a fixed latency added to every frame.
	Delay time.Duration
	// Jitter adds a uniformly random extra latency in [0, Jitter). Frames
	// are never reordered by jitter (a frame is not delivered before one sent
	// earlier); use Reorder for that.
	Jitter time.Duration
	// Rate limits the direction to this many bits per second (zero:
	// unlimited). Each frame takes its serialisation time (its bytes, header
	// included, times 8 over Rate) after the previous one; frames wait in the
	// direction's queue, which holds QueueLen frames not yet received, and
	// are dropped when it is full.
	Rate int64
	// Burst is the token bucket's depth in bytes: after an idle period, up to
	// Burst bytes pass without serialisation delay. Zero means every frame
	// pays its serialisation time.
	Burst int
}

func (f Faults) validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", f.Loss}, {"Duplicate", f.Duplicate}, {"Reorder", f.Reorder}, {"Corrupt", f.Corrupt}} {
		if !(p.v >= 0 && p.v <= 1) { // also rejects NaN
			return fmt.Errorf("%w: %s probability %v outside [0,1]", ErrInvalidConfig, p.name, p.v)
		}
	}
	if f.Delay < 0 || f.Jitter < 0 || f.ReorderTimeout < 0 {
		return fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	}
	if f.Rate < 0 || f.Burst < 0 {
		return fmt.Errorf("%w: negative rate or burst", ErrInvalidConfig)
	}
	return nil
}

// timed reports whether frames of this direction have a delivery time, so
// the receiver must consult the clock.
func (f Faults) timed() bool {
	return f.Delay > 0 || f.Jitter > 0 || f.Rate > 0 || f.Reorder > 0
}

// random reports whether the direction draws from its random source at all.
func (f Faults) random() bool {
	return f.Loss > 0 || f.Duplicate > 0 || f.Reorder > 0 || f.Corrupt > 0 || f.Jitter > 0
}

// Config configures a wire. The zero value is a perfect 64 KiB-MTU wire with
// full offloads.
type Config struct {
	// MTU is the largest IP packet in a plain frame, MinMTU..65535; zero
	// means DefaultMTU.
	MTU int
	// QueueLen is how many frames each direction holds; zero means
	// DefaultQueueLen. It bounds the wire's memory: a full direction pins
	// QueueLen buffers, 64 KiB each for the largest frames.
	QueueLen int
	// MACA and MACB are the ends' Ethernet addresses; nil means the
	// defaults 02:77:69:00:00:0a and 02:77:69:00:00:0b.
	MACA, MACB net.HardwareAddr
	// NoOffloads makes the wire a plain NIC: no checksum or segmentation
	// offload either way, so frames must be complete and at most MTU+14.
	NoOffloads bool
	// Seed seeds the fault pattern of both directions.
	Seed uint64
	// Faults apply to both directions.
	Faults Faults
	// FaultsBToA, if not nil, replaces Faults for frames from b to a.
	FaultsBToA *Faults
}

// Stats counts what happened to the frames one end transmitted.
type Stats struct {
	Frames uint64 // accepted by Transmit
	Bytes  uint64 // bytes of the accepted frames

	Delivered      uint64 // handed to the peer's Receive (duplicates included)
	DeliveredBytes uint64

	Lost       uint64 // dropped by the Loss fault
	QueueDrops uint64 // dropped because the direction's queue was full
	RxTooSmall uint64 // dropped because the peer posted too little buffer space
	Duplicated uint64 // extra copies made by the Duplicate fault
	Corrupted  uint64 // frames with a bit flipped
	Reordered  uint64 // frames overtaken by a later frame
	// Direct counts the delivered frames the transmitter copied straight
	// into a waiting receiver's buffers (a fault-free direction only).
	Direct uint64
}

// End is one end of a wire: a netdev.Device with batching.
type End struct {
	name   string
	info   netdev.Info
	w      *wire
	tx, rx *pipe
	closed atomic.Bool

	// errLinkGone is built once so a receive loop spinning on a cut cable
	// does not allocate.
	errLinkGone error
	// rxOne is Receive's one slot: a waiting receiver lends its slots to
	// the pipe, so a slot on Receive's stack would be allocated each call.
	// Receive has one caller at a time (netdev's contract).
	rxOne [1]netdev.RxSlot
}

var (
	_ netdev.Device           = (*End)(nil)
	_ netdev.BatchTransmitter = (*End)(nil)
	_ netdev.BatchReceiver    = (*End)(nil)
)

// wire is what the two ends share.
type wire struct {
	start   time.Time // origin of the monotonic nanosecond clock in pipes
	cutOnce sync.Once
	cutCh   chan struct{} // closed when either end closes
	cut     atomic.Bool
	pools   bufPools
	ab, ba  *pipe
}

// now returns monotonic nanoseconds since the wire was made.
func (w *wire) now() int64 { return int64(time.Since(w.start)) }

// New makes a wire and returns its two ends.
func New(cfg Config) (a, b *End, err error) {
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	if mtu < MinMTU || mtu > DefaultMTU {
		return nil, nil, fmt.Errorf("%w: MTU %d outside %d..%d", ErrInvalidConfig, mtu, MinMTU, DefaultMTU)
	}
	qlen := cfg.QueueLen
	if qlen == 0 {
		qlen = DefaultQueueLen
	}
	if qlen < 1 || qlen > 1<<20 {
		return nil, nil, fmt.Errorf("%w: QueueLen %d outside 1..%d", ErrInvalidConfig, qlen, 1<<20)
	}
	macA, macB := cfg.MACA, cfg.MACB
	if macA == nil {
		macA = defaultMACA
	}
	if macB == nil {
		macB = defaultMACB
	}
	for _, m := range []net.HardwareAddr{macA, macB} {
		if len(m) != 6 || m[0]&1 != 0 {
			return nil, nil, fmt.Errorf("%w: MAC %v is not a 6-byte unicast address", ErrInvalidConfig, m)
		}
	}
	if string(macA) == string(macB) {
		return nil, nil, fmt.Errorf("%w: both ends have MAC %v", ErrInvalidConfig, macA)
	}
	fab, fba := cfg.Faults, cfg.Faults
	if cfg.FaultsBToA != nil {
		fba = *cfg.FaultsBToA
	}
	if err := fab.validate(); err != nil {
		return nil, nil, err
	}
	if err := fba.validate(); err != nil {
		return nil, nil, err
	}

	w := &wire{start: time.Now(), cutCh: make(chan struct{})}
	// Distinct PCG streams per direction: the same seed must not make both
	// directions lose the same frames.
	w.ab = newPipe(w, fab, mtu, qlen, cfg.NoOffloads, cfg.Seed, 0x77697265_61746f62) // "wireatob"
	w.ba = newPipe(w, fba, mtu, qlen, cfg.NoOffloads, cfg.Seed, 0x77697265_62746f61) // "wirebtoa"

	a = newEnd(w, "wire:a", macA, mtu, w.ab, w.ba)
	b = newEnd(w, "wire:b", macB, mtu, w.ba, w.ab)
	return a, b, nil
}

func newEnd(w *wire, name string, mac net.HardwareAddr, mtu int, tx, rx *pipe) *End {
	// Transmit features are what the outgoing pipe accepts; receive features
	// what the incoming pipe delivers.
	features := tx.txFeatures | rx.rxFeatures
	maxGSO := 0
	if features.Has(netdev.FeatureTSO4) || features.Has(netdev.FeatureTSO6) {
		maxGSO = tx.maxGSO
	}
	return &End{
		name: name,
		info: netdev.Info{
			Name:       name,
			MAC:        append(net.HardwareAddr(nil), mac...),
			MTU:        mtu,
			Features:   features,
			MaxGSOSize: maxGSO,
		},
		w:           w,
		tx:          tx,
		rx:          rx,
		errLinkGone: fmt.Errorf("%s: %w: the peer end closed the wire", name, netdev.ErrLinkGone),
	}
}

// Info describes the end. Its MAC is a copy the caller may keep.
func (e *End) Info() netdev.Info {
	info := e.info
	info.MAC = append(net.HardwareAddr(nil), e.info.MAC...)
	return info
}

// Stats returns the counters of the direction this end transmits on.
func (e *End) Stats() Stats {
	e.tx.mu.Lock()
	defer e.tx.mu.Unlock()
	return e.tx.stats
}

// Close cuts the wire. This end's calls return netdev.ErrClosed from now
// on, and frames waiting for it are freed. The peer's Transmit returns an
// error wrapping netdev.ErrLinkGone at once; its Receive first returns the
// frames that had already arrived (were due) when the cable was cut, then
// that error, so a frame sent just before a kernel shuts down (a TCP FIN)
// still reaches the other side. Blocked calls on both ends return. Close is
// idempotent and always returns nil.
func (e *End) Close() error {
	e.closed.Store(true)
	// Before the cut is announced, so this end's woken receiver finds its
	// pipe closed and empty rather than spinning on the closed channel.
	e.rx.discard()
	e.w.cutOnce.Do(func() {
		e.w.cut.Store(true)
		e.tx.cutKeepingArrived(e.w.now())
		close(e.w.cutCh)
	})
	return nil
}

// closedErr returns the error for a call on a cut wire.
func (e *End) closedErr() error {
	if e.closed.Load() {
		return netdev.ErrClosed
	}
	return e.errLinkGone
}

// Transmit copies f into the wire toward the peer. It returns an error, and
// sends nothing, for a frame the wire cannot carry; a frame lost to a fault
// or a full queue is not an error.
func (e *End) Transmit(f *netdev.Frame) error {
	if e.w.cut.Load() {
		return e.closedErr()
	}
	if e.tx.tryDirect(f) {
		return nil
	}
	fb, err := e.tx.prepare(f)
	if err != nil {
		return fmt.Errorf("%s: transmit: %w", e.name, err)
	}
	one := [1]*frameBuf{fb}
	if !e.tx.push(one[:]) {
		return e.closedErr()
	}
	return nil
}

// batchChunk is how many frames a batch moves per lock acquisition; the
// buffers are tracked in an array on the stack, so batching does not
// allocate.
const batchChunk = 64

// TransmitBatch transmits frames in order, taking the direction's lock once
// per 64 frames. It stops at the first frame the wire cannot carry and
// returns how many were sent before it.
func (e *End) TransmitBatch(frames []netdev.Frame) (int, error) {
	if e.w.cut.Load() {
		return 0, e.closedErr()
	}
	var bufs [batchChunk]*frameBuf
	sent := 0
	for sent < len(frames) {
		// Straight into a waiting receiver's slots while it has room and
		// nothing is queued (never behind frames prepared but not yet
		// pushed, which would reorder them).
		for sent < len(frames) && e.tx.tryDirect(&frames[sent]) {
			sent++
		}
		if sent == len(frames) {
			break
		}
		k := 0
		var prepErr error
		for k < len(bufs) && sent+k < len(frames) {
			fb, err := e.tx.prepare(&frames[sent+k])
			if err != nil {
				prepErr = err
				break
			}
			bufs[k] = fb
			k++
		}
		if k > 0 && !e.tx.push(bufs[:k]) {
			return sent, e.closedErr()
		}
		sent += k
		if prepErr != nil {
			return sent, fmt.Errorf("%s: transmit frame %d: %w", e.name, sent, prepErr)
		}
	}
	return sent, nil
}

// Receive blocks until a frame is due and copies it into bufs, in order. A
// frame longer than the total length of bufs is dropped with an error
// wrapping netdev.ErrBufferTooSmall.
func (e *End) Receive(bufs [][]byte) (int, netdev.Offload, error) {
	e.rxOne[0] = netdev.RxSlot{Bufs: bufs}
	defer func() { e.rxOne[0] = netdev.RxSlot{} }() // keep no reference to bufs
	if _, err := e.ReceiveBatch(e.rxOne[:]); err != nil {
		return 0, netdev.Offload{}, err
	}
	return e.rxOne[0].N, e.rxOne[0].Offload, nil
}

// ReceiveBatch blocks until a frame is due, then fills as many slots as
// frames are due, in order, and returns how many it filled. If the first
// frame does not fit the first slot it is dropped with an error wrapping
// netdev.ErrBufferTooSmall; a later frame that does not fit its slot ends the
// batch and waits for the next call.
func (e *End) ReceiveBatch(slots []netdev.RxSlot) (int, error) {
	if len(slots) == 0 {
		return 0, nil
	}
	var got [batchChunk]*frameBuf
	filled := 0
	for filled < len(slots) {
		k, filledDirect, err := e.rx.take(e, slots[filled:], got[:], filled == 0)
		if filledDirect {
			return filled + k, nil // the transmitter copied into the slots
		}
		// Copy outside the lock so the transmitter is not held up by it.
		for i := 0; i < k; i++ {
			s := &slots[filled+i]
			s.N = netdev.CopySegs(s.Bufs, [][]byte{got[i].data}, len(got[i].data))
			s.Offload = got[i].off
			e.w.pools.put(got[i])
			got[i] = nil
		}
		filled += k
		if err != nil {
			return filled, err
		}
		if k < len(got) {
			break // nothing more due, or the next frame needs a fresh call
		}
	}
	return filled, nil
}

// capacity is the number of bytes bufs can hold.
func capacity(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// maxDuration (73 years) bounds every configured duration and due time, so
// that the wire clock plus a few of them cannot overflow int64.
const maxDuration = math.MaxInt64 / 4
