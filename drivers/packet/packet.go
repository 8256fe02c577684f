// Package packet provides a [netdev.Device] on a Linux AF_PACKET socket bound
// to a named host interface (typically one end of a veth pair in a network
// namespace): the kit sends and receives whole Ethernet frames on that
// interface beside, and invisibly to, the host's own stack.
//
// The socket is SOCK_RAW for all protocols (ETH_P_ALL) with PACKET_VNET_HDR,
// so frames carry a virtio-net header both ways: Linux accepts partial
// checksums and large TCP segments (GSO) from the kit and delivers large,
// coalesced or partially checksummed frames to it. The device advertises
// tx-csum, tso4, tso6, rx-csum and rx-gso; receivers post
// netdev.Info.MaxRxFrameLen (64 KiB) of buffer. TransmitBatch is one
// sendmmsg and ReceiveBatch one recvmmsg (per up to 64 frames).
//
// # Addresses
//
// The kit has its own MAC address, distinct from the host interface's: a
// random locally administered address unless [WithMAC] sets one. So that
// frames addressed to it arrive on a real NIC, the socket puts the interface
// into promiscuous mode (PACKET_MR_PROMISC, a membership the kernel drops
// when the socket closes; [WithoutPromisc] turns it off for interfaces,
// like veth, that filter nothing). The host's own stack sees the kit's
// unicast frames as "other host" traffic and ignores them; the host side of
// the interface should have no address of its own and IPv6 disabled, so every
// answer on the link comes from the kit. PACKET_IGNORE_OUTGOING keeps the
// kit from hearing its own transmissions (and the host's, on that interface).
// The MTU is the interface's, or lower with [WithMTU].
//
// # Execution environment
//
// Linux 4.20 or later (PACKET_IGNORE_OUTGOING); needs CAP_NET_RAW.
// Open resolves the interface in the network namespace of the calling OS
// thread; the socket stays in that namespace whichever thread later uses it.
// A Device follows netdev's contract: one transmitting and one receiving
// goroutine at a time, concurrently with each other and with Close. Waits use
// the hosted platform's interrupt line (kernsupport/hosted.FDLine, the Go
// runtime poller), so a blocked Receive holds no OS thread (after its
// busy-poll window, if [WithBusyPoll] set one, spent spinning). Transmit waits
// only while the socket's send buffer is full; a frame the host drops for
// lack of queue space (ENOBUFS) is lost on the link, not an error.
//
// # Link state
//
// When the interface is deleted, Receive and Transmit return an error
// wrapping netdev.ErrLinkGone: the kernel reports ENETDOWN to the waiting
// reader (and ENXIO to senders), and the driver confirms by looking the
// interface's index up. An interface that is merely down delivers nothing
// and loses what is sent; while it is down the receiver looks the index up
// every 200 ms, so a deletion is still reported within a fraction of a
// second.
package packet

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/goskit/goskit/drivers/internal/hostio"
	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/kernsupport/hosted"
	"golang.org/x/sys/unix"
)

// Option configures Open.
type Option func(*config)

type config struct {
	mac          net.HardwareAddr
	mtu          int
	noPromisc    bool
	qdiscBypass  bool
	rcvBuf       int
	sndBuf       int
	downInterval time.Duration
	busyPoll     time.Duration
}

// WithMAC sets the kit's Ethernet address (6 bytes, unicast).
func WithMAC(mac net.HardwareAddr) Option { return func(c *config) { c.mac = mac } }

// WithMTU sets the MTU the device reports; it must not exceed the
// interface's.
func WithMTU(mtu int) Option { return func(c *config) { c.mtu = mtu } }

// WithoutPromisc leaves the interface's promiscuous mode alone. Use it where
// the interface filters nothing (veth) or the kit uses the interface's own
// MAC address.
func WithoutPromisc() Option { return func(c *config) { c.noPromisc = true } }

// WithQdiscBypass sends frames straight to the driver, skipping the
// interface's queueing discipline (PACKET_QDISC_BYPASS): faster, but frames
// are dropped rather than queued when the device is busy, and packet
// captures on the interface do not see them.
func WithQdiscBypass() Option { return func(c *config) { c.qdiscBypass = true } }

// WithSocketBuffers sets the socket's receive and send buffer sizes (default
// 4 MiB each; forced past the system limits when the process may).
func WithSocketBuffers(rcv, snd int) Option {
	return func(c *config) { c.rcvBuf, c.sndBuf = rcv, snd }
}

// WithBusyPoll makes Receive keep polling the socket for up to window
// before it sleeps on the runtime poller, yielding to the kit's other
// goroutines between polls (see hostio.BusyPoll): a shorter round trip for
// the CPU time spent spinning. Zero, the default, turns it off.
func WithBusyPoll(window time.Duration) Option { return func(c *config) { c.busyPoll = window } }

// maxBatch bounds the messages of one sendmmsg or recvmmsg.
const maxBatch = 64

// Device is a host interface driven by the kit through AF_PACKET.
type Device struct {
	info         netdev.Info
	line         *hosted.FDLine
	link         *hostio.Link
	life         *hostio.Life
	downInterval time.Duration

	tx struct {
		msgs [maxBatch]unix.Mmsghdr
		hdrs [maxBatch][hostio.VnetHdrLen]byte
		iov  hostio.Iovecs
		cur  []unix.Mmsghdr
		done int
		err  error
		poll func() bool
		one  [1]netdev.Frame
	}
	rx struct {
		msgs [maxBatch]unix.Mmsghdr
		hdrs [maxBatch][hostio.VnetHdrLen]byte
		iov  hostio.Iovecs
		cur  []unix.Mmsghdr
		n    int
		err  error
		poll func() bool
		one  [1]netdev.RxSlot
		busy hostio.BusyPoll
	}
}

var (
	_ netdev.Device           = (*Device)(nil)
	_ netdev.BatchTransmitter = (*Device)(nil)
	_ netdev.BatchReceiver    = (*Device)(nil)
)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Open binds a packet socket to the interface called ifname in the calling
// thread's network namespace.
func Open(ifname string, opts ...Option) (*Device, error) {
	cfg := config{rcvBuf: 4 << 20, sndBuf: 4 << 20, downInterval: 200 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.mac == nil {
		mac, err := hostio.RandomMAC()
		if err != nil {
			return nil, fmt.Errorf("packet: %w", err)
		}
		cfg.mac = mac
	} else if err := hostio.CheckMAC(cfg.mac); err != nil {
		return nil, fmt.Errorf("packet: %w", err)
	}
	link, err := hostio.OpenLink(ifname)
	if err != nil {
		return nil, fmt.Errorf("packet: %w", err)
	}
	fail := func(what string, err error) (*Device, error) {
		link.Close()
		return nil, fmt.Errorf("packet: %s: %s: %w", ifname, what, err)
	}
	ifmtu, err := link.MTU()
	if err != nil {
		return fail("MTU", err)
	}
	mtu := ifmtu
	if cfg.mtu != 0 {
		if cfg.mtu < 68 || cfg.mtu > ifmtu {
			return fail("MTU", fmt.Errorf("MTU %d outside 68..%d", cfg.mtu, ifmtu))
		}
		mtu = cfg.mtu
	}
	// Protocol 0: no frames are queued before bind names the interface.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return fail("socket", err)
	}
	failfd := func(what string, err error) (*Device, error) {
		unix.Close(fd)
		return fail(what, err)
	}
	setopt := func(level, opt, val int) error { return unix.SetsockoptInt(fd, level, opt, val) }
	if err := setopt(unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return failfd("PACKET_VNET_HDR", err)
	}
	if err := setopt(unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return failfd("PACKET_IGNORE_OUTGOING", err)
	}
	if cfg.qdiscBypass {
		if err := setopt(unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
			return failfd("PACKET_QDISC_BYPASS", err)
		}
	}
	for _, b := range []struct{ force, plain, size int }{
		{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, cfg.rcvBuf},
		{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, cfg.sndBuf},
	} {
		if b.size <= 0 {
			continue
		}
		if setopt(unix.SOL_SOCKET, b.force, b.size) != nil {
			if err := setopt(unix.SOL_SOCKET, b.plain, b.size); err != nil {
				return failfd("socket buffer", err)
			}
		}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: link.Index()}
	if err := unix.Bind(fd, sa); err != nil {
		return failfd("bind", err)
	}
	if !cfg.noPromisc {
		mreq := &unix.PacketMreq{Ifindex: int32(link.Index()), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq); err != nil {
			return failfd("PACKET_MR_PROMISC", err)
		}
	}
	name := "packet:" + ifname
	line, err := hosted.NewFDLine(fd, name)
	if err != nil {
		return failfd("interrupt line", err)
	}
	d := &Device{
		info: netdev.Info{
			Name: name,
			MAC:  cfg.mac,
			MTU:  mtu,
			Features: netdev.FeatureTxChecksum | netdev.FeatureTSO4 | netdev.FeatureTSO6 |
				netdev.FeatureRxChecksum | netdev.FeatureRxGSO,
			MaxGSOSize: netdev.MaxGSOFrameLen,
		},
		line:         line,
		link:         link,
		life:         hostio.NewLife(name, link),
		downInterval: cfg.downInterval,
	}
	d.tx.poll = d.txPoll
	d.rx.poll = d.rxPoll
	d.rx.busy = hostio.NewBusyPoll(cfg.busyPoll)
	return d, nil
}

// Info implements netdev.Device.
func (d *Device) Info() netdev.Info {
	i := d.info
	i.MAC = append(net.HardwareAddr(nil), d.info.MAC...)
	return i
}

// Transmit implements netdev.Device.
func (d *Device) Transmit(f *netdev.Frame) error {
	d.tx.one[0] = *f
	_, err := d.TransmitBatch(d.tx.one[:])
	d.tx.one[0] = netdev.Frame{}
	return err
}

// TransmitBatch implements netdev.BatchTransmitter with sendmmsg.
func (d *Device) TransmitBatch(frames []netdev.Frame) (int, error) {
	if err := d.life.Check(); err != nil {
		return 0, err
	}
	sent := 0
	for sent < len(frames) {
		chunk := frames[sent:min(len(frames), sent+maxBatch)]
		var cerr error
		for i := range chunk {
			if cerr = hostio.CheckTransmit(&d.info, &chunk[i]); cerr != nil {
				chunk = chunk[:i]
				break
			}
		}
		if len(chunk) > 0 {
			if err := d.sendChunk(chunk); err != nil {
				return sent + d.tx.done, err
			}
			sent += len(chunk)
		}
		if cerr != nil {
			return sent, cerr
		}
	}
	return sent, nil
}

func (d *Device) sendChunk(chunk []netdev.Frame) error {
	for i := range chunk {
		chunk[i].Offload.Encode(d.tx.hdrs[i][:])
		d.tx.msgs[i] = unix.Mmsghdr{}
		d.tx.msgs[i].Hdr.SetIovlen(appendMsg(&d.tx.iov, d.tx.hdrs[i][:], chunk[i].Segs))
	}
	pointMsgs(d.tx.msgs[:len(chunk)], &d.tx.iov)
	d.tx.cur, d.tx.done, d.tx.err = d.tx.msgs[:len(chunk)], 0, nil
	err := d.line.WaitWrite(d.tx.poll)
	clear(d.tx.cur)
	d.tx.iov.Reset()
	d.tx.cur = nil
	if err != nil {
		return d.life.WaitErr("transmit", err)
	}
	if err := d.tx.err; err != nil {
		d.tx.err = nil
		return d.life.HostErr("transmit", err)
	}
	return nil
}

// txPoll sends d.tx.cur[d.tx.done:]; it reports true when all are sent or
// an error stops them.
func (d *Device) txPoll() bool {
	for d.tx.done < len(d.tx.cur) {
		n, err := hostio.Sendmmsg(d.line.FD(), d.tx.cur[d.tx.done:], 0)
		if n > 0 {
			d.tx.done += n
			continue
		}
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case unix.ENOBUFS:
			d.tx.done++ // no queue space: that frame is lost on the link
			continue
		case unix.ENETDOWN:
			if !d.link.Gone() {
				d.tx.done = len(d.tx.cur) // link down: all lost on the link
				continue
			}
		}
		d.tx.err = err
		return true
	}
	return true
}

// Receive implements netdev.Device.
func (d *Device) Receive(bufs [][]byte) (int, netdev.Offload, error) {
	return hostio.ReceiveOne(&d.rx.one, bufs, d.receive)
}

// ReceiveBatch implements netdev.BatchReceiver with recvmmsg. A frame that
// does not fit its slot or carries a malformed virtio-net header is dropped
// (the frames after it move up a slot); it is reported as an error only when
// no frame of the batch was good.
func (d *Device) ReceiveBatch(slots []netdev.RxSlot) (int, error) {
	if len(slots) == 0 {
		return 0, d.life.Check()
	}
	return d.receive(slots)
}

func (d *Device) receive(slots []netdev.RxSlot) (int, error) {
	slots = slots[:min(len(slots), maxBatch)]
	for {
		if err := d.life.Check(); err != nil {
			return 0, err
		}
		for i := range slots {
			d.rx.msgs[i] = unix.Mmsghdr{}
			d.rx.msgs[i].Hdr.SetIovlen(appendMsg(&d.rx.iov, d.rx.hdrs[i][:], slots[i].Bufs))
		}
		pointMsgs(d.rx.msgs[:len(slots)], &d.rx.iov)
		d.rx.cur, d.rx.n, d.rx.err = d.rx.msgs[:len(slots)], 0, nil
		d.rx.busy.Start()
		err := d.line.WaitRead(d.rx.poll)
		n, rerr := d.rx.n, d.rx.err
		d.rx.iov.Reset()
		d.rx.err = nil
		if err != nil {
			clear(d.rx.cur)
			d.rx.cur = nil
			return 0, d.life.WaitErr("receive", err)
		}
		if rerr != nil {
			clear(d.rx.cur)
			d.rx.cur = nil
			if errors.Is(rerr, unix.ENETDOWN) {
				if err := d.waitUp(); err != nil {
					return 0, err
				}
				continue
			}
			return 0, d.life.HostErr("receive", rerr)
		}
		k, ferr := d.collect(slots, n)
		clear(d.rx.cur)
		d.rx.cur = nil
		if k > 0 {
			return k, nil
		}
		return 0, ferr
	}
}

// appendMsg appends one message's iovecs (its virtio-net header, then segs)
// and returns how many it appended.
func appendMsg(iov *hostio.Iovecs, hdr []byte, segs [][]byte) int {
	before := iov.Len()
	iov.Append(hdr)
	iov.Append(segs...)
	return iov.Len() - before
}

// pointMsgs points each message at its iovecs, once the iovec array is
// complete (appending may move it), given each message's Iovlen.
func pointMsgs(msgs []unix.Mmsghdr, iov *hostio.Iovecs) {
	at := 0
	for i := range msgs {
		msgs[i].Hdr.Iov = iov.At(at)
		at += int(msgs[i].Hdr.Iovlen)
	}
}

// collect checks the n received messages, moving good frames up over bad
// ones, and returns the count of good frames and the first bad frame's error.
func (d *Device) collect(slots []netdev.RxSlot, n int) (int, error) {
	k := 0
	var ferr error
	for i := 0; i < n; i++ {
		m := &d.rx.msgs[i]
		flen := int(m.Len) - hostio.VnetHdrLen
		var err error
		var off netdev.Offload
		if m.Hdr.Flags&unix.MSG_TRUNC != 0 {
			err = fmt.Errorf("%s: %w: frame larger than the %d bytes posted", d.info.Name, netdev.ErrBufferTooSmall, hostio.SegsCap(slots[i].Bufs))
		} else if off, err = hostio.DecodeReceived(d.rx.hdrs[i][:], flen); err != nil {
			err = fmt.Errorf("%s: received frame dropped: %w", d.info.Name, err)
		}
		if err == nil && k != i {
			if hostio.SegsCap(slots[k].Bufs) < flen {
				err = fmt.Errorf("%s: %w: slot %d smaller than slot %d", d.info.Name, netdev.ErrBufferTooSmall, k, i)
			} else {
				netdev.CopySegs(slots[k].Bufs, slots[i].Bufs, flen)
			}
		}
		if err != nil {
			if ferr == nil {
				ferr = err
			}
			continue
		}
		slots[k].N, slots[k].Offload = flen, off
		k++
	}
	return k, ferr
}

func (d *Device) rxPoll() bool {
	for {
		n, err := hostio.Recvmmsg(d.line.FD(), d.rx.cur, 0)
		switch err {
		case nil:
			d.rx.n = n
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if d.life.Alive() && d.rx.busy.Again() {
				continue
			}
			return false
		}
		d.rx.err = err
		return true
	}
}

// waitUp is called when the kernel reported the link down (or going away):
// it returns nil once the interface is up again, or an error wrapping
// ErrLinkGone once its index no longer exists, or ErrClosed.
func (d *Device) waitUp() error {
	var t *time.Timer
	for {
		st, err := d.link.State()
		if err := d.life.Check(); err != nil {
			return err
		}
		switch {
		case err != nil:
			return fmt.Errorf("%s: receive: link down: %w", d.info.Name, err)
		case st == hostio.LinkGone:
			return d.life.Gone("receive", unix.ENETDOWN)
		case st == hostio.LinkUp:
			return nil
		}
		if t == nil {
			t = time.NewTimer(d.downInterval)
			defer t.Stop()
		} else {
			t.Reset(d.downInterval)
		}
		select {
		case <-d.life.Done():
		case <-t.C:
		}
	}
}

// Close implements netdev.Device. It unblocks Transmit and Receive and
// closes the socket, which ends its promiscuous membership.
func (d *Device) Close() error {
	if !d.life.Close() {
		return nil
	}
	err := d.line.Close()
	if lerr := d.link.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("%s: close: %w", d.info.Name, err)
	}
	return nil
}
