// Package gvisor is the glue between gVisor's TCP/IP stack
// (gvisor.dev/gvisor/pkg/tcpip, used as published) and goskit's Ethernet
// devices: [Endpoint] is a gVisor link endpoint (stack.LinkEndpoint) over any
// netdev.Device. It is to the kit what the OSKit's freebsd/net glue was to
// FreeBSD's network code: the imported stack sees its own kind of NIC, the
// driver sees the kit's device contract, and neither is changed.
//
// The glue passes the device's capabilities through rather than hiding them:
// a device that completes partial checksums and segments large TCP frames
// gets gVisor's host-GSO frames as virtio-net offload headers; a device that
// batches gets gVisor's packet lists in one TransmitBatch; received frames
// are read straight into gVisor packet views posted to the device, so nothing
// is copied in the glue.
//
// The glue can also delay acknowledgements (Options.AckDelay), which gVisor
// as published never does: a bare ACK of a small message waits briefly for
// the reply that will carry it, so a request/response exchange moves two
// frames per round trip instead of four (see ackdelay.go for what is never
// held).
//
// # Execution environment
//
// An Endpoint runs one receive goroutine while attached to a stack; it
// delivers packets to gVisor inline, on that goroutine. WritePackets may be
// called by any number of gVisor goroutines; the glue serialises them onto
// the device, which accepts one transmitter at a time; with AckDelay, a
// held ACK whose delay ends is sent from a timer goroutine under the same
// serialisation. Close closes the device and ends the receive goroutine;
// Wait waits for it.
package gvisor

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Endpoint is a gVisor link endpoint over a netdev.Device.
type Endpoint struct {
	dev     netdev.Device
	info    netdev.Info
	batchTx netdev.BatchTransmitter // nil if the device has none
	batchRx netdev.BatchReceiver    // nil if the device has none
	hostGSO bool
	onError func(error)

	txMu     sync.Mutex
	txFrames []netdev.Frame // scratch for WritePackets, under txMu
	ack      ackDelay       // delayed acknowledgement, under txMu

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	linkAddr   tcpip.LinkAddress
	mtu        uint32
	onClose    func()
	started    bool

	closed atomic.Bool
	wg     sync.WaitGroup

	stats Stats
}

var (
	_ stack.LinkEndpoint = (*Endpoint)(nil)
	_ stack.GSOEndpoint  = (*Endpoint)(nil)
)

// Stats counts what the glue dropped on receive. Fields are read with
// atomic loads; see Endpoint.Stats.
type Stats struct {
	RxFrames      atomic.Uint64 // frames delivered to gVisor
	RxBadChecksum atomic.Uint64 // dropped: checksum verified by the glue failed
	RxMalformed   atomic.Uint64 // dropped: too short, bad offload header
	RxTooBig      atomic.Uint64 // dropped by the device: did not fit posted buffers
	TxFrames      atomic.Uint64
	TxErrors      atomic.Uint64
	TxAcksDelayed atomic.Uint64 // bare ACKs held back (Options.AckDelay)
	TxAcksElided  atomic.Uint64 // held ACKs dropped: a later segment acknowledged as much
}

// Options configures an Endpoint.
type Options struct {
	// OnError is called once, from the receive goroutine, when the device
	// fails for good (for example its host interface disappeared). The
	// endpoint stops receiving afterwards. Closing the endpoint is not an
	// error and is not reported.
	OnError func(error)
	// AckDelay, when positive, turns on delayed acknowledgement in the
	// glue (see ackdelay.go): a bare ACK of a small message waits up to
	// this long for the connection's next segment to carry it, as Linux's
	// delayed ACK does, so a request/response exchange moves two frames
	// per round trip instead of gVisor's four.
	AckDelay time.Duration
}

// New wraps dev as a gVisor link endpoint. The endpoint owns dev: Close
// closes it.
func New(dev netdev.Device, opts Options) (*Endpoint, error) {
	info := dev.Info()
	if len(info.MAC) != 6 {
		return nil, fmt.Errorf("gvisor glue: device %q has a %d-byte MAC, want 6", info.Name, len(info.MAC))
	}
	if info.MTU < 68 || info.MTU > 65535 {
		return nil, fmt.Errorf("gvisor glue: device %q has MTU %d, want 68..65535", info.Name, info.MTU)
	}
	e := &Endpoint{
		dev:      dev,
		info:     info,
		onError:  opts.OnError,
		linkAddr: tcpip.LinkAddress(info.MAC),
		mtu:      uint32(info.MTU),
	}
	if opts.AckDelay > 0 {
		e.ack.delay = opts.AckDelay
		e.ack.last = make(map[tcpFlow]uint32)
		e.ack.timer = time.AfterFunc(time.Hour, e.flushHeldAck)
		e.ack.timer.Stop()
	}
	e.batchTx, _ = dev.(netdev.BatchTransmitter)
	e.batchRx, _ = dev.(netdev.BatchReceiver)
	// gVisor's host GSO marks every TCP segment of a connection with a
	// partial checksum and may make any of them large, for IPv4 and IPv6
	// alike: offer it only to a device that takes all of that. It pays even
	// where segments cannot grow past the MTU (a 64 KiB-MTU wire): the
	// checksum work moves to the device, which on an in-memory link is no
	// work at all.
	f := info.Features
	e.hostGSO = f.Has(netdev.FeatureTxChecksum|netdev.FeatureTSO4|netdev.FeatureTSO6) && info.MaxGSOSize >= info.MaxFrameLen()
	return e, nil
}

// Device returns the wrapped device.
func (e *Endpoint) Device() netdev.Device { return e.dev }

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() *Stats { return &e.stats }

// MTU implements stack.LinkEndpoint.
func (e *Endpoint) MTU() uint32 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.mtu
}

// SetMTU implements stack.LinkEndpoint. The MTU can only be lowered below
// what the device carries.
func (e *Endpoint) SetMTU(mtu uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if mtu <= uint32(e.info.MTU) {
		e.mtu = mtu
	}
}

// MaxHeaderLength implements stack.LinkEndpoint.
func (e *Endpoint) MaxHeaderLength() uint16 { return header.EthernetMinimumSize }

// LinkAddress implements stack.LinkEndpoint.
func (e *Endpoint) LinkAddress() tcpip.LinkAddress {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.linkAddr
}

// SetLinkAddress implements stack.LinkEndpoint.
func (e *Endpoint) SetLinkAddress(addr tcpip.LinkAddress) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.linkAddr = addr
}

// Capabilities implements stack.LinkEndpoint.
//
// Receive checksum trust is per NIC in gVisor, but per frame in the kit: a
// device with FeatureRxChecksum marks the frames it vouches for, and the
// glue verifies the unmarked ones itself before delivery. A device without
// the feature is not trusted at all, so gVisor verifies everything, frames
// reassembled from fragments included. Transmit checksum offload is never
// claimed: gVisor would then omit checksums from every packet, not only the
// ones it marks as partial; checksum work moves to the device through host
// GSO's partial checksums instead.
func (e *Endpoint) Capabilities() stack.LinkEndpointCapabilities {
	c := stack.CapabilityResolutionRequired
	if e.info.Features.Has(netdev.FeatureRxChecksum) {
		c |= stack.CapabilityRXChecksumOffload
	}
	return c
}

// GSOMaxSize implements stack.GSOEndpoint: the largest IP packet gVisor
// may hand the device in one frame.
func (e *Endpoint) GSOMaxSize() uint32 {
	if !e.hostGSO {
		return 0
	}
	return uint32(min(e.info.MaxGSOSize-header.EthernetMinimumSize, 1<<16-1))
}

// SupportedGSO implements stack.GSOEndpoint.
func (e *Endpoint) SupportedGSO() stack.SupportedGSO {
	if e.hostGSO {
		return stack.HostGSOSupported
	}
	return stack.GSONotSupported
}

// ARPHardwareType implements stack.LinkEndpoint.
func (*Endpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }

// AddHeader implements stack.LinkEndpoint: it pushes the Ethernet header.
func (e *Endpoint) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	fields := header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	}
	if fields.SrcAddr == "" {
		fields.SrcAddr = e.LinkAddress()
	}
	eth.Encode(&fields)
}

// ParseHeader implements stack.LinkEndpoint.
func (*Endpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}

// Attach implements stack.LinkEndpoint. Attaching a dispatcher starts the
// receive goroutine; detaching (nil) leaves it running but dropping frames
// until Close, so a NIC can be re-attached.
func (e *Endpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	e.dispatcher = d
	start := d != nil && !e.started && !e.closed.Load()
	if start {
		e.started = true
		e.wg.Add(1)
	}
	e.mu.Unlock()
	if start {
		go e.receiveLoop()
	}
}

// IsAttached implements stack.LinkEndpoint.
func (e *Endpoint) IsAttached() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.dispatcher != nil
}

// Wait implements stack.LinkEndpoint: it waits for the receive goroutine to
// end, which it does after Close.
func (e *Endpoint) Wait() { e.wg.Wait() }

// Close implements stack.LinkEndpoint: it runs the close action, closes the
// device and so ends the receive goroutine.
func (e *Endpoint) Close() {
	if e.closed.Swap(true) {
		return
	}
	if e.ack.timer != nil {
		// Not under txMu, which a blocked transmit may hold until the
		// device closes: the timer's send checks closed itself.
		e.ack.timer.Stop()
	}
	e.mu.Lock()
	onClose := e.onClose
	e.mu.Unlock()
	if onClose != nil {
		onClose()
	}
	e.dev.Close()
}

// SetOnCloseAction implements stack.LinkEndpoint.
func (e *Endpoint) SetOnCloseAction(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onClose = f
}

// WritePackets implements stack.LinkWriter. It hands the whole list to the
// device in one TransmitBatch when the device batches.
func (e *Endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	list := pkts.AsSlice()
	if len(list) == 0 {
		return 0, nil
	}
	e.txMu.Lock()
	defer e.txMu.Unlock()
	if e.closed.Load() {
		return 0, &tcpip.ErrClosedForSend{}
	}
	frames := e.txFrames[:0]
	delaying := e.ack.delay > 0
	if delaying {
		frames = append(frames, netdev.Frame{}) // room for a held ACK sent first
	}
	for _, pkt := range list {
		frames = append(frames, netdev.Frame{Segs: pkt.AsSlices(), Offload: e.offloadFor(pkt)})
	}
	e.txFrames = frames
	send, prepended, heldLast := frames, false, false
	if delaying {
		send, prepended, heldLast = e.filterAcks(frames)
	}
	var sent int
	var err error
	if len(send) > 0 {
		sent, err = e.transmit(send)
	}
	// Drop the references to gVisor's buffers kept in the scratch slice.
	for i := range frames {
		frames[i] = netdev.Frame{}
	}
	e.stats.TxFrames.Add(uint64(sent))
	// Count in the list's terms: an earlier held ACK sent first is not one
	// of its packets; the one held now is handled.
	if prepended && sent > 0 {
		sent--
	}
	if heldLast && err == nil {
		sent++
	}
	if err != nil {
		e.stats.TxErrors.Add(1)
		if errors.Is(err, netdev.ErrClosed) || errors.Is(err, netdev.ErrLinkGone) {
			if sent == 0 {
				return 0, &tcpip.ErrClosedForSend{}
			}
			return sent, nil
		}
		// A frame the device refused is lost like a frame lost on the wire;
		// TCP retransmits. Count the whole list as handled so gVisor does
		// not spin on it.
		return len(list), nil
	}
	return sent, nil
}

func (e *Endpoint) transmit(frames []netdev.Frame) (int, error) {
	if e.batchTx != nil && len(frames) > 1 {
		return e.batchTx.TransmitBatch(frames)
	}
	for i := range frames {
		if err := e.dev.Transmit(&frames[i]); err != nil {
			return i, err
		}
	}
	return len(frames), nil
}

// offloadFor turns gVisor's GSO options into a virtio-net header, as the
// Linux kernel expects them on TAP and AF_PACKET.
func (e *Endpoint) offloadFor(pkt *stack.PacketBuffer) netdev.Offload {
	gso := pkt.GSOOptions
	if !e.hostGSO || gso.Type == stack.GSONone {
		return netdev.Offload{}
	}
	var off netdev.Offload
	off.HeaderLen = uint16(pkt.HeaderSize())
	if gso.NeedsCsum {
		off.Flags = netdev.OffloadNeedsChecksum
		off.ChecksumStart = header.EthernetMinimumSize + gso.L3HdrLen
		off.ChecksumOffset = gso.CsumOffset
	}
	if pkt.Data().Size() > int(gso.MSS) {
		switch gso.Type {
		case stack.GSOTCPv4:
			off.GSOType = netdev.GSOTCPv4
		case stack.GSOTCPv6:
			off.GSOType = netdev.GSOTCPv6
		}
		off.GSOSize = gso.MSS
	}
	return off
}

// Errors that end reception for good.
func fatalRxError(err error) bool {
	return !errors.Is(err, netdev.ErrBufferTooSmall) && !errors.Is(err, netdev.ErrBadOffload)
}

func (e *Endpoint) receiveLoop() {
	defer e.wg.Done()
	rx := newRxBuffers(e.info.MaxRxFrameLen(), e.batchRx != nil)
	defer rx.release()
	for {
		n, err := e.receive(rx)
		for i := 0; i < n; i++ {
			e.deliver(rx, i)
		}
		if err == nil {
			continue
		}
		if errors.Is(err, netdev.ErrBufferTooSmall) {
			e.stats.RxTooBig.Add(1)
			continue
		}
		if !fatalRxError(err) {
			e.stats.RxMalformed.Add(1)
			continue
		}
		if !e.closed.Load() && !errors.Is(err, netdev.ErrClosed) && e.onError != nil {
			e.onError(fmt.Errorf("gvisor glue: %s: %w", e.info.Name, err))
		}
		return
	}
}

func (e *Endpoint) receive(rx *rxBuffers) (int, error) {
	if e.batchRx != nil {
		slots := rx.post()
		return e.batchRx.ReceiveBatch(slots)
	}
	slots := rx.post()[:1]
	n, off, err := e.dev.Receive(slots[0].Bufs)
	if err != nil {
		return 0, err
	}
	slots[0].N, slots[0].Offload = n, off
	return 1, nil
}

func (e *Endpoint) deliver(rx *rxBuffers, i int) {
	slot := &rx.slots[i]
	payload := rx.take(i, slot.N)
	if slot.N < header.EthernetMinimumSize || slot.Offload.Validate(slot.N) != nil {
		payload.Release()
		e.stats.RxMalformed.Add(1)
		return
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: payload})
	defer pkt.DecRef()
	hdr, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	if !ok {
		e.stats.RxMalformed.Add(1)
		return
	}
	eth := header.Ethernet(hdr)
	proto := eth.Type()
	if e.info.Features.Has(netdev.FeatureRxChecksum) && slot.Offload.Flags == 0 && !checksumsValid(pkt, proto) {
		e.stats.RxBadChecksum.Add(1)
		return
	}
	e.mu.RLock()
	d := e.dispatcher
	e.mu.RUnlock()
	if d == nil {
		return
	}
	e.stats.RxFrames.Add(1)
	d.DeliverNetworkPacket(proto, pkt)
}

// rxBuffers holds the gVisor views posted to the device: one set per batch
// slot. A view the device filled moves into the delivered packet and is
// replaced at the next post; views it did not touch are reused.
type rxBuffers struct {
	sizes []int
	views [][]*buffer.View // [slot][piece]
	slots []netdev.RxSlot
	// stale is how many leading slots may have given views away since
	// the last post: only those need refilling (a batch fills slots in
	// order), which keeps a one-frame receive from walking every slot.
	stale int
}

// rxBatch is how many frames one ReceiveBatch may return.
const rxBatch = 32

// pieceSizes splits a receive buffer of total bytes into views: a small
// first piece so headers of an MTU-sized frame sit in one chunk, then
// growing pieces from gVisor's chunk pools (which end at 64 KiB).
func pieceSizes(total int) []int {
	if total <= 2048 {
		return []int{total}
	}
	sizes := []int{2048}
	left := total - 2048
	next := 2048
	for left > 0 {
		s := min(next, left, buffer.MaxChunkSize)
		sizes = append(sizes, s)
		left -= s
		next *= 2
	}
	return sizes
}

func newRxBuffers(frameLen int, batch bool) *rxBuffers {
	n := 1
	if batch {
		n = rxBatch
	}
	r := &rxBuffers{sizes: pieceSizes(frameLen), views: make([][]*buffer.View, n), slots: make([]netdev.RxSlot, n), stale: n}
	for i := range r.views {
		r.views[i] = make([]*buffer.View, len(r.sizes))
		r.slots[i].Bufs = make([][]byte, len(r.sizes))
	}
	return r
}

// post makes sure every slot has its views and returns the slots.
func (r *rxBuffers) post() []netdev.RxSlot {
	for i := range r.stale {
		for j, v := range r.views[i] {
			if v == nil {
				v = buffer.NewViewSize(r.sizes[j])
				r.views[i][j] = v
				r.slots[i].Bufs[j] = v.AsSlice()
			}
		}
		r.slots[i].N = 0
		r.slots[i].Offload = netdev.Offload{}
	}
	r.stale = 0
	return r.slots
}

// take moves the views holding the first n bytes of slot i into a buffer.
func (r *rxBuffers) take(i, n int) buffer.Buffer {
	r.stale = max(r.stale, i+1)
	var b buffer.Buffer
	for j, v := range r.views[i] {
		if n <= 0 {
			break
		}
		if v.Size() > n {
			v.CapLength(n)
		}
		n -= v.Size()
		b.Append(v)
		r.views[i][j] = nil
	}
	return b
}

func (r *rxBuffers) release() {
	for _, vs := range r.views {
		for _, v := range vs {
			if v != nil {
				v.Release()
			}
		}
	}
}
