package wire

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
)

// frameBuf is one frame owned by the wire, from Transmit's copy until the
// receiver has copied it out.
type frameBuf struct {
	data []byte // the frame; cap is the buffer's size class
	off  netdev.Offload
	due  int64 // wire clock (ns) at which it may be received; 0 on untimed pipes
}

// Size classes keep a queue of small frames from pinning 64 KiB each.
var bufClasses = [...]int{2048, 16384, netdev.MaxGSOFrameLen}

// bufPools recycles frame buffers so the fast path does not allocate. It is
// per wire, not global: closing a wire lets its memory go.
type bufPools struct {
	pools [len(bufClasses)]sync.Pool
}

func (p *bufPools) get(n int) *frameBuf {
	for i, size := range bufClasses {
		if n <= size {
			if fb, ok := p.pools[i].Get().(*frameBuf); ok {
				fb.data = fb.data[:n]
				return fb
			}
			return &frameBuf{data: make([]byte, n, size)}
		}
	}
	// Larger than any class: prepare rejects such frames, so this is only
	// reached by a bug; keep it correct anyway.
	return &frameBuf{data: make([]byte, n)}
}

func (p *bufPools) put(fb *frameBuf) {
	for i, size := range bufClasses {
		if cap(fb.data) == size {
			fb.off = netdev.Offload{}
			fb.due = 0
			p.pools[i].Put(fb)
			return
		}
	}
}

// pipe is one direction of the wire: the transmitting end pushes, the
// receiving end takes. Everything below mu is guarded by it.
type pipe struct {
	w *wire

	// Fixed at New.
	faults     Faults
	timed      bool // frames have delivery times; the receiver reads the clock
	complete   bool // complete checksums and clear offload flags on transmit
	txFeatures netdev.Features
	rxFeatures netdev.Features
	maxFrame   int
	maxGSO     int
	burstNs    int64
	notify     chan struct{} // wakes a waiting receiver; capacity 1
	timer      *time.Timer   // the receiver's wait for a due time; nil if !timed
	// direct is set on a direction with no fault, timing or checksum
	// work: there a transmitter may copy a frame straight into the slots a
	// waiting receiver posted (a rendezvous), saving the copy into a wire
	// buffer and out of it.
	direct bool

	mu        sync.Mutex
	closed    bool
	ring      []*frameBuf // FIFO of frames in flight, len = queue limit
	head, n   int
	held      *frameBuf // frame held back by the Reorder fault
	heldUntil int64
	lastDue   int64 // due times are kept non-decreasing so the ring stays FIFO
	tat       int64 // token bucket: theoretical arrival time (GCRA)
	waiters   int
	rng       *rand.Rand // nil on a direction without random faults
	stats     Stats
	// posted are the slots of the receiver waiting in take, when direct
	// and nothing is queued; postedN of them are filled.
	posted  []netdev.RxSlot
	postedN int
}

func newPipe(w *wire, f Faults, mtu, qlen int, noOffloads bool, seed, stream uint64) *pipe {
	if f.ReorderTimeout == 0 {
		f.ReorderTimeout = DefaultReorderTimeout
	}
	// Durations of decades mean "forever"; clamping them keeps every sum of
	// clock values below overflow.
	f.Delay = min(f.Delay, maxDuration)
	f.Jitter = min(f.Jitter, maxDuration)
	f.ReorderTimeout = min(f.ReorderTimeout, maxDuration)
	p := &pipe{
		w:        w,
		faults:   f,
		timed:    f.timed(),
		maxFrame: mtu + netdev.EthernetHeaderLen,
		notify:   make(chan struct{}, 1),
		ring:     make([]*frameBuf, qlen),
	}
	if !noOffloads {
		p.txFeatures = netdev.FeatureTxChecksum | netdev.FeatureTSO4 | netdev.FeatureTSO6
		p.rxFeatures = netdev.FeatureRxGSO
		p.maxGSO = netdev.MaxGSOFrameLen
		if f.Corrupt == 0 {
			p.rxFeatures |= netdev.FeatureRxChecksum
		}
	}
	// Without receive checksum offload the receiver must see plain,
	// complete frames: a partial checksum would look corrupt to it.
	p.complete = !p.rxFeatures.Has(netdev.FeatureRxChecksum)
	if f.random() {
		p.rng = rand.New(rand.NewPCG(seed, stream))
	}
	if f.Rate > 0 {
		p.burstNs = bitsToNs(int64(f.Burst), f.Rate)
	}
	if p.timed {
		p.timer = time.NewTimer(time.Hour)
		p.timer.Stop()
	}
	p.direct = !p.timed && p.rng == nil && !p.complete && p.rxFeatures != 0
	return p
}

// bitsToNs returns how long n bytes take at rate bits per second.
func bitsToNs(n, rate int64) int64 {
	// n*8e9 overflows int64 only beyond ~1 GB, far above any frame or
	// sensible burst; clamp rather than wrap.
	if n > maxDuration/8_000_000_000 {
		return maxDuration
	}
	return n * 8e9 / rate
}

// prepare validates f and copies it into a wire buffer, completing its
// checksum if the receiver will not accept a partial one. It takes no lock.
func (p *pipe) prepare(f *netdev.Frame) (*frameBuf, error) {
	n, err := p.check(f)
	if err != nil {
		return nil, err
	}
	off := f.Offload
	fb := p.w.pools.get(n)
	f.CopyTo(fb.data)
	if p.complete {
		var err error
		if off, err = netdev.CompleteChecksum(fb.data, off); err != nil {
			p.w.pools.put(fb)
			return nil, err
		}
		// DataValid would be a lie about a frame the wire may corrupt, and
		// a receiver without FeatureRxChecksum expects unmarked frames.
		off.Flags = 0
	}
	if p.rxFeatures == 0 {
		// A receiver without offloads gets a plain zero Offload, not stray
		// GSO hints of a frame that is not GSO.
		off = netdev.Offload{}
	}
	fb.off = off
	return fb, nil
}

// check validates f for this direction and returns its length.
func (p *pipe) check(f *netdev.Frame) (int, error) {
	n := f.Len()
	off := f.Offload
	if n < netdev.MinFrameLen {
		return 0, fmt.Errorf("%w: %d bytes", ErrFrameTooShort, n)
	}
	if err := off.Validate(n); err != nil {
		return 0, err
	}
	if off.Flags&netdev.OffloadNeedsChecksum != 0 && !p.txFeatures.Has(netdev.FeatureTxChecksum) {
		return 0, fmt.Errorf("%w: checksum offload not advertised", netdev.ErrBadOffload)
	}
	if off.IsGSO() {
		var need netdev.Features
		switch off.GSOType &^ netdev.GSOECN {
		case netdev.GSOTCPv4:
			need = netdev.FeatureTSO4
		case netdev.GSOTCPv6:
			need = netdev.FeatureTSO6
		default:
			return 0, fmt.Errorf("%w: GSO type %#x not advertised", netdev.ErrBadOffload, off.GSOType)
		}
		if !p.txFeatures.Has(need) {
			return 0, fmt.Errorf("%w: segmentation offload not advertised", netdev.ErrBadOffload)
		}
		if n > p.maxGSO {
			return 0, fmt.Errorf("%w: %d-byte GSO frame, limit %d", netdev.ErrFrameTooBig, n, p.maxGSO)
		}
	} else if n > p.maxFrame {
		return 0, fmt.Errorf("%w: %d-byte frame, limit %d", netdev.ErrFrameTooBig, n, p.maxFrame)
	}
	return n, nil
}

// tryDirect delivers f straight into the next slot a waiting receiver
// posted, if this direction allows it, nothing is queued ahead of f, and
// the slot holds it. It reports whether it did; otherwise (including for a
// frame check would refuse) the caller takes the queued path, which also
// reports errors.
func (p *pipe) tryDirect(f *netdev.Frame) bool {
	if !p.direct {
		return false
	}
	p.mu.Lock()
	if p.closed || p.n > 0 || p.postedN >= len(p.posted) {
		// No receiver waiting with room: the usual case when the sender
		// outruns it, decided before f is looked at so that prepare's
		// check is the only one.
		p.mu.Unlock()
		return false
	}
	n, err := p.check(f)
	if err != nil || n > capacity(p.posted[p.postedN].Bufs) {
		p.mu.Unlock()
		return false
	}
	// The copy happens under the lock: the receiver it fills is waiting
	// for it, and takes the slots back under the same lock.
	s := &p.posted[p.postedN]
	s.N = netdev.CopySegs(s.Bufs, f.Segs, n)
	s.Offload = f.Offload
	p.postedN++
	p.stats.Frames++
	p.stats.Bytes += uint64(n)
	p.stats.Delivered++
	p.stats.DeliveredBytes += uint64(n)
	p.stats.Direct++
	first := p.postedN == 1
	p.mu.Unlock()
	if first {
		select {
		case p.notify <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return true
}

// push queues prepared frames, applying the direction's faults, and wakes
// the receiver. It reports false, and frees the frames, if the wire is cut.
func (p *pipe) push(fbs []*frameBuf) bool {
	var now int64
	if p.timed {
		now = p.w.now()
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		for _, fb := range fbs {
			p.w.pools.put(fb)
		}
		return false
	}
	for i, fb := range fbs {
		fbs[i] = nil
		p.stats.Frames++
		p.stats.Bytes += uint64(len(fb.data))
		if p.rng == nil && !p.timed {
			p.enqueue(fb)
		} else {
			p.applyFaults(fb, now)
		}
	}
	// Wake a waiting receiver even if the frame was held back or lost: it
	// may need to re-arm its timer for a held frame's timeout.
	wake := p.waiters > 0
	p.mu.Unlock()
	if wake {
		select {
		case p.notify <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return true
}

// enqueue appends fb to the ring, or drops it if the queue is full.
// Called with mu held.
func (p *pipe) enqueue(fb *frameBuf) {
	if p.n == len(p.ring) {
		p.stats.QueueDrops++
		p.w.pools.put(fb)
		return
	}
	if p.timed {
		fb.due = max(fb.due, p.lastDue)
		p.lastDue = fb.due
	}
	i := p.head + p.n
	if i >= len(p.ring) {
		i -= len(p.ring)
	}
	p.ring[i] = fb
	p.n++
}

// applyFaults decides fb's fate: loss, corruption, duplication, delivery
// time and reordering, in that order, drawing from the seeded source.
// Called with mu held.
func (p *pipe) applyFaults(fb *frameBuf, now int64) {
	f := &p.faults
	if f.Loss > 0 && p.rng.Float64() < f.Loss {
		p.stats.Lost++
		p.w.pools.put(fb)
		return
	}
	// A frame arriving at a full queue is dropped before it can be
	// scheduled, so it does not consume the rate limiter's time.
	if p.n == len(p.ring) {
		p.stats.QueueDrops++
		p.w.pools.put(fb)
		return
	}
	if f.Corrupt > 0 && p.rng.Float64() < f.Corrupt && len(fb.data) > netdev.EthernetHeaderLen {
		// The checksum was completed in prepare, so this flip is something
		// the receiver's own verification must catch.
		i := netdev.EthernetHeaderLen + p.rng.IntN(len(fb.data)-netdev.EthernetHeaderLen)
		fb.data[i] ^= 1 << p.rng.IntN(8)
		p.stats.Corrupted++
	}
	var dup *frameBuf
	if f.Duplicate > 0 && p.rng.Float64() < f.Duplicate {
		dup = p.w.pools.get(len(fb.data))
		copy(dup.data, fb.data)
		dup.off = fb.off
		p.stats.Duplicated++
	}
	if p.timed {
		fb.due = p.schedule(now, len(fb.data))
	}
	if f.Reorder > 0 && p.held == nil && p.rng.Float64() < f.Reorder {
		p.held = fb
		p.heldUntil = fb.due + int64(f.ReorderTimeout)
	} else {
		p.enqueue(fb)
		if dup != nil {
			dup.due = fb.due
			p.enqueue(dup)
			dup = nil
		}
		if p.held != nil {
			p.enqueue(p.held)
			p.held = nil
			p.stats.Reordered++
		}
	}
	if dup != nil { // the original was held; its copy goes ahead
		dup.due = fb.due
		p.enqueue(dup)
	}
}

// schedule returns when a frame of n bytes sent at now may be received:
// after the rate limiter lets it through (GCRA, the token bucket expressed
// as times), then Delay and Jitter. Called with mu held.
func (p *pipe) schedule(now int64, n int) int64 {
	f := &p.faults
	due := now
	if f.Rate > 0 {
		// The frame finishes serialising one frame-time after the link is
		// free; a full bucket lets it leave up to burstNs earlier.
		p.tat = max(p.tat, now) + bitsToNs(int64(n), f.Rate)
		due = max(now, p.tat-p.burstNs)
	}
	due += int64(f.Delay)
	if f.Jitter > 0 {
		due += p.rng.Int64N(int64(f.Jitter))
	}
	return min(due, maxDuration)
}

// take removes due frames that fit slots into got, at most min(len(slots),
// len(got)). If block, it waits until at least one frame is due or the wire
// is cut; otherwise it returns 0 when nothing is due. A first frame that
// fits no buffer is dropped with an error only when block is set (it is
// the first slot of the call); otherwise it is left for the next call.
//
// A blocking take on a direct pipe posts the slots while it waits, and a
// transmitter may fill them itself; then take returns how many it filled
// with filledDirect set, and got is unused.
func (p *pipe) take(e *End, slots []netdev.RxSlot, got []*frameBuf, block bool) (k int, filledDirect bool, err error) {
	limit := min(len(slots), len(got))
	p.mu.Lock()
	for {
		// A cut pipe still delivers what had arrived before the cut (see
		// cutKeepingArrived); only once that is gone does the receiver
		// hear of the cut.
		if p.closed && p.n == 0 {
			p.mu.Unlock()
			if block {
				return 0, false, e.closedErr()
			}
			return 0, false, nil
		}
		var now int64
		if p.timed && !p.closed {
			now = p.w.now()
			if p.held != nil && now >= p.heldUntil {
				// Nothing overtook it in time: let it go.
				p.enqueue(p.held)
				p.held = nil
			}
		}
		k := 0
		for k < limit && p.n > 0 {
			fb := p.ring[p.head]
			if p.timed && !p.closed && fb.due > now {
				break
			}
			if len(fb.data) > capacity(slots[k].Bufs) {
				if k > 0 || !block {
					break // the next call's first slot deals with it
				}
				p.pop()
				p.stats.RxTooSmall++
				p.mu.Unlock()
				n := len(fb.data)
				p.w.pools.put(fb)
				return 0, false, fmt.Errorf("%s: %w: %d-byte frame, %d bytes posted", e.name, netdev.ErrBufferTooSmall, n, capacity(slots[0].Bufs))
			}
			p.pop()
			p.stats.Delivered++
			p.stats.DeliveredBytes += uint64(len(fb.data))
			got[k] = fb
			k++
		}
		if k > 0 || !block {
			// Chain the wake-up to another waiting receiver if frames remain.
			wake := p.waiters > 0 && p.n > 0
			p.mu.Unlock()
			if wake {
				select {
				case p.notify <- struct{}{}:
				default:
				}
			}
			return k, false, nil
		}

		// Nothing due: wait for a push, the next due time, or the cut.
		wakeAt := int64(-1)
		if p.timed {
			if p.n > 0 {
				wakeAt = p.ring[p.head].due
			}
			if p.held != nil && (wakeAt < 0 || p.heldUntil < wakeAt) {
				wakeAt = p.heldUntil
			}
		}
		if p.direct && p.waiters == 0 {
			p.posted, p.postedN = slots[:limit], 0
		}
		p.waiters++
		p.mu.Unlock()
		if wakeAt >= 0 {
			p.timer.Reset(time.Duration(wakeAt - now))
			select {
			case <-p.notify:
			case <-p.timer.C:
			case <-p.w.cutCh:
			}
			p.timer.Stop()
		} else {
			select {
			case <-p.notify:
			case <-p.w.cutCh:
			}
		}
		p.mu.Lock()
		p.waiters--
		if p.posted != nil && p.waiters == 0 {
			// Take the slots back before anything else: no transmitter
			// may write into them once this call returns.
			filled := p.postedN
			p.posted, p.postedN = nil, 0
			if filled > 0 {
				p.mu.Unlock()
				return filled, true, nil
			}
		}
	}
}

// pop removes the ring's head. Called with mu held and p.n > 0.
func (p *pipe) pop() {
	p.ring[p.head] = nil
	p.head++
	if p.head == len(p.ring) {
		p.head = 0
	}
	p.n--
}

// cutKeepingArrived marks the pipe cut: no more pushes. Frames that had
// arrived by now (were due) stay for the receiver, as frames already in a
// NIC's receive ring survive a pulled cable; frames still on the cable (not
// yet due, or held back) are lost.
func (p *pipe) cutKeepingArrived(now int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.held != nil {
		p.w.pools.put(p.held)
		p.held = nil
	}
	if !p.timed {
		return
	}
	// Due times are non-decreasing, so the frames still travelling are a
	// suffix of the ring.
	for p.n > 0 {
		i := p.head + p.n - 1
		if i >= len(p.ring) {
			i -= len(p.ring)
		}
		if p.ring[i].due <= now {
			break
		}
		p.w.pools.put(p.ring[i])
		p.ring[i] = nil
		p.n--
	}
}

// discard marks the pipe cut and frees everything in it: its receiving end
// has closed.
func (p *pipe) discard() {
	p.mu.Lock()
	p.closed = true
	for p.n > 0 {
		fb := p.ring[p.head]
		p.pop()
		p.w.pools.put(fb)
	}
	if p.held != nil {
		p.w.pools.put(p.held)
		p.held = nil
	}
	wake := p.waiters > 0
	p.mu.Unlock()
	if wake {
		select {
		case p.notify <- struct{}{}:
		default:
		}
	}
}
