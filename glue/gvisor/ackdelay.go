package gvisor

import (
	"encoding/binary"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Delayed acknowledgements, done in the glue. gVisor (as published) sends a
// bare ACK as soon as it has processed received data, so in a
// request/response exchange a receiver sends a bare ACK and, microseconds
// later, its reply, which carries the same acknowledgement: four frames per
// round trip where Linux, which delays its ACK and lets the reply carry it,
// sends two. With Options.AckDelay the glue does what Linux's delayed ACK
// does, without changing gVisor: a bare ACK of a little new data is held for
// at most the delay; a later segment of the same connection whose
// acknowledgement covers it makes it redundant, and it is dropped; otherwise
// it is sent when the delay ends. An ACK that tells the peer anything else is
// never held: a duplicate ACK or window update (no new data acknowledged),
// an ACK with SACK blocks or any option but timestamps, and an ACK of more
// than ackDelaySmall bytes (a bulk transfer, which RFC 5681 wants
// acknowledged at least every second full-sized segment).

// ackDelaySmall is the most new data a held ACK may acknowledge: a small
// message, less than one segment of the smallest IPv4 MSS.
const ackDelaySmall = 535

// maxAckFrame is the longest frame the glue holds or parses: Ethernet,
// IPv6 (IPv4's header is shorter even with options) and TCP with options.
const maxAckFrame = header.EthernetMinimumSize + header.IPv6MinimumSize + header.TCPHeaderMaximumSize

// ackFlowsMax bounds the table of last acknowledgements sent; when it is
// full it is cleared, and a forgotten connection's next ACK is sent at once.
const ackFlowsMax = 1024

// tcpFlow is one direction of a TCP connection, as an outgoing frame names
// it.
type tcpFlow struct {
	src, dst     [16]byte
	sport, dport uint16
	v6           bool
}

// tcpSeg is what the glue reads of an outgoing TCP segment.
type tcpSeg struct {
	flow     tcpFlow
	ack      uint32
	flags    uint8
	payload  int  // bytes of TCP payload
	onlyTS   bool // options are only end, no-op and timestamps
	frameLen int  // the whole frame's length
}

// bareAck reports whether s acknowledges and carries nothing else: no
// payload, no other flag, no option but timestamps.
func (s tcpSeg) bareAck() bool {
	return s.flags == uint8(header.TCPFlagAck) && s.payload == 0 && s.onlyTS
}

// parseTCPFrame reads the TCP segment of an Ethernet frame whose first
// bytes are b (at least the headers, up to maxAckFrame) and whose whole
// length is frameLen. It reports false for anything else: not IPv4 or IPv6
// TCP, a fragment, IPv6 extension headers, or headers that do not fit b.
func parseTCPFrame(b []byte, frameLen int) (tcpSeg, bool) {
	s := tcpSeg{frameLen: frameLen}
	const eth = header.EthernetMinimumSize
	if len(b) < eth || frameLen < len(b) {
		return s, false
	}
	var t, ipPayload int // TCP header offset; IP payload length (-1: unknown)
	switch binary.BigEndian.Uint16(b[12:14]) {
	case uint16(header.IPv4ProtocolNumber):
		if len(b) < eth+header.IPv4MinimumSize || b[eth]>>4 != 4 {
			return s, false
		}
		ihl := int(b[eth]&0xf) * 4
		if ihl < header.IPv4MinimumSize || b[eth+9] != uint8(header.TCPProtocolNumber) {
			return s, false
		}
		if binary.BigEndian.Uint16(b[eth+6:eth+8])&0x3fff != 0 { // MF or an offset: a fragment
			return s, false
		}
		copy(s.flow.src[:4], b[eth+12:eth+16])
		copy(s.flow.dst[:4], b[eth+16:eth+20])
		t = eth + ihl
		ipPayload = int(binary.BigEndian.Uint16(b[eth+2:eth+4])) - ihl
	case uint16(header.IPv6ProtocolNumber):
		if len(b) < eth+header.IPv6MinimumSize || b[eth]>>4 != 6 || b[eth+6] != uint8(header.TCPProtocolNumber) {
			return s, false
		}
		s.flow.v6 = true
		copy(s.flow.src[:], b[eth+8:eth+24])
		copy(s.flow.dst[:], b[eth+24:eth+40])
		t = eth + header.IPv6MinimumSize
		ipPayload = int(binary.BigEndian.Uint16(b[eth+4 : eth+6]))
	default:
		return s, false
	}
	if len(b) < t+header.TCPMinimumSize {
		return s, false
	}
	doff := int(b[t+12]>>4) * 4
	if doff < header.TCPMinimumSize || len(b) < t+doff {
		return s, false
	}
	s.flow.sport = binary.BigEndian.Uint16(b[t : t+2])
	s.flow.dport = binary.BigEndian.Uint16(b[t+2 : t+4])
	s.ack = binary.BigEndian.Uint32(b[t+8 : t+12])
	s.flags = b[t+13]
	// The IP length field, when it is set, says where the payload ends
	// (a GSO frame's may be zero); otherwise the frame does.
	if ipPayload > 0 {
		s.payload = ipPayload - doff
	} else {
		s.payload = frameLen - t - doff
	}
	if s.payload < 0 {
		return s, false
	}
	s.onlyTS = true
	for o := t + header.TCPMinimumSize; o < t+doff; {
		switch b[o] {
		case 0: // end of options
			o = t + doff
		case 1: // no-op
			o++
		case 8: // timestamps
			if o+1 >= t+doff || b[o+1] != 10 {
				return s, false
			}
			o += 10
		default:
			s.onlyTS = false
			o = t + doff
		}
	}
	return s, true
}

// seqAfter reports whether sequence number a is after b (RFC 1982).
func seqAfter(a, b uint32) bool { return int32(a-b) > 0 }

// ackDelay is the glue's delayed-ACK state, under the endpoint's txMu.
type ackDelay struct {
	delay time.Duration
	timer *time.Timer // sends the held ACK when the delay ends
	armed bool        // the timer runs for the held ACK

	held    bool
	heldSeg tcpSeg
	heldLen int
	heldBuf [maxAckFrame]byte
	heldOff netdev.Offload

	// flushBuf holds a held ACK sent ahead of a call's frames: heldBuf may
	// take the call's own last frame before the device sends them.
	flushBuf  [maxAckFrame]byte
	flushSegs [1][]byte
	heldSegs  [1][]byte

	scratch [maxAckFrame]byte
	last    map[tcpFlow]uint32 // the last acknowledgement sent per flow
}

// parse reads the TCP segment of frame f, if it is one.
func (a *ackDelay) parse(f *netdev.Frame) (tcpSeg, bool) {
	n := 0
	total := 0
	for _, seg := range f.Segs {
		total += len(seg)
		if n < len(a.scratch) {
			n += copy(a.scratch[n:], seg)
		}
	}
	return parseTCPFrame(a.scratch[:n], total)
}

// sent records the acknowledgement of a segment that went out.
func (a *ackDelay) sent(s tcpSeg) {
	if s.flags&uint8(header.TCPFlagAck) == 0 {
		return
	}
	if last, ok := a.last[s.flow]; ok && !seqAfter(s.ack, last) {
		return
	}
	if len(a.last) >= ackFlowsMax {
		clear(a.last)
	}
	a.last[s.flow] = s.ack
}

// holdable reports whether bare ACK s may wait: it acknowledges new data,
// and little of it, since the last acknowledgement sent on its flow.
func (a *ackDelay) holdable(s tcpSeg) bool {
	if !s.bareAck() || s.frameLen > maxAckFrame {
		return false
	}
	last, ok := a.last[s.flow]
	if !ok {
		return false
	}
	adv := s.ack - last
	return int32(adv) > 0 && adv <= ackDelaySmall
}

// heldFrame is the held ACK as a frame to transmit, over heldBuf.
func (a *ackDelay) heldFrame() netdev.Frame {
	a.heldSegs[0] = a.heldBuf[:a.heldLen]
	return netdev.Frame{Segs: a.heldSegs[:], Offload: a.heldOff}
}

// flushFrame is a copy of the held ACK as a frame to transmit, over
// flushBuf, so that heldBuf is free for the next ACK to hold.
func (a *ackDelay) flushFrame() netdev.Frame {
	n := copy(a.flushBuf[:], a.heldBuf[:a.heldLen])
	a.flushSegs[0] = a.flushBuf[:n]
	return netdev.Frame{Segs: a.flushSegs[:], Offload: a.heldOff}
}

// hold copies frame f, whose segment is s, as the held ACK.
func (a *ackDelay) hold(f *netdev.Frame, s tcpSeg) {
	n := 0
	for _, seg := range f.Segs {
		n += copy(a.heldBuf[n:], seg)
	}
	a.held, a.heldSeg, a.heldLen, a.heldOff = true, s, n, f.Offload
	if !a.armed {
		// The delay counts from the first ACK held: a newer one that
		// replaces it inherits the deadline, so a stream of small messages
		// is still acknowledged at least once per delay.
		a.timer.Reset(a.delay)
		a.armed = true
	}
}

// release forgets the held ACK (sent or made redundant) and stops the
// timer.
func (a *ackDelay) release() {
	a.held = false
	if a.armed {
		a.timer.Stop()
		a.armed = false
	}
}

// filterAcks applies delayed acknowledgement to the frames of one
// WritePackets call, frames[1:] (frames[0] is a free slot). It returns the
// frames to transmit, whether they begin with the previously held ACK (sent
// first because it could not wait longer), and whether the call's last frame
// was taken as the new held ACK.
func (e *Endpoint) filterAcks(frames []netdev.Frame) (out []netdev.Frame, prepended, heldLast bool) {
	a := &e.ack
	list := frames[1:]
	flushHeld := false
	var candidate tcpSeg
	for i := range list {
		s, ok := a.parse(&list[i])
		if !ok {
			continue
		}
		if i == len(list)-1 && a.holdable(s) {
			candidate, heldLast = s, true
		}
		if a.held && s.flow == a.heldSeg.flow {
			if s.flags&uint8(header.TCPFlagAck) != 0 && !seqAfter(a.heldSeg.ack, s.ack) {
				// This segment acknowledges as much: the held ACK is
				// redundant. The timer stays armed if the segment is
				// itself to be held.
				a.held = false
				e.stats.TxAcksElided.Add(1)
			} else {
				flushHeld = true
			}
		}
		if !heldLast || i != len(list)-1 {
			a.sent(s)
		}
	}
	// One ACK is held at a time: a held ACK of another flow goes out now.
	if a.held && heldLast && candidate.flow != a.heldSeg.flow {
		flushHeld = true
	}
	out = list
	if a.held && flushHeld {
		frames[0] = a.flushFrame()
		a.sent(a.heldSeg)
		a.release()
		out, prepended = frames, true
	}
	if heldLast {
		a.hold(&list[len(list)-1], candidate)
		e.stats.TxAcksDelayed.Add(1)
		out = out[:len(out)-1]
	} else if !a.held {
		a.release()
	}
	return out, prepended, heldLast
}

// flushHeldAck sends the held ACK when its delay ends.
func (e *Endpoint) flushHeldAck() {
	e.txMu.Lock()
	defer e.txMu.Unlock()
	a := &e.ack
	a.armed = false
	if !a.held || e.closed.Load() {
		a.held = false
		return
	}
	f := a.heldFrame()
	a.held = false
	if err := e.dev.Transmit(&f); err != nil {
		e.stats.TxErrors.Add(1)
		return
	}
	a.sent(a.heldSeg)
	e.stats.TxFrames.Add(1)
}
