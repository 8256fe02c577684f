// Package tap provides a [netdev.Device] on a Linux TAP interface: the kit's
// NIC is the user-space end of /dev/net/tun, and the host kernel sees an
// ordinary Ethernet interface it can address, bridge or route.
//
// The device is opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, a 10-byte
// virtio-net header (the size of netdev's Offload encoding) and
// TUNSETOFFLOAD with TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6, so the host kernel
// accepts frames with partial checksums and large TCP segments from the kit
// and hands the kit its own large, partially checksummed TCP segments: the
// device advertises tx-csum, tso4, tso6, rx-csum and rx-gso. Receivers post
// netdev.Info.MaxRxFrameLen (64 KiB) of buffer.
//
// The kit's MAC address is its own (a random locally administered address
// unless [WithMAC] sets one), distinct from the address Linux gives its side
// of the TAP interface. The MTU is the interface's unless [WithMTU] sets it.
//
// # Execution environment
//
// Linux only; needs CAP_NET_ADMIN to create or attach to a TAP interface.
// Open creates the interface (or attaches to an existing one of that name)
// in the network namespace of the calling OS thread; it does not bring the
// interface up or give it addresses. A Device follows netdev's contract: one
// transmitting and one receiving goroutine at a time, concurrently with each
// other and with Close. Waits use the hosted platform's interrupt line
// (kernsupport/hosted.FDLine, the Go runtime poller), so a blocked Receive
// holds no OS thread (after its busy-poll window, if [WithBusyPoll] set one,
// spent spinning). TransmitBatch is a writev per frame (TAP has no
// batched write) in one wait; ReceiveBatch reads every frame ready after the
// first without waiting again.
//
// When the interface is deleted (ip link del), Receive and Transmit return
// an error wrapping netdev.ErrLinkGone at once: the kernel fails the TAP
// descriptor with EBADFD and wakes the waiting reader; any other error while
// the interface's index no longer exists is reported the same way. A
// transmit while the interface is down is a frame lost on the link, not an
// error.
package tap

import (
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
	mac      net.HardwareAddr
	mtu      int
	busyPoll time.Duration
}

// WithMAC sets the kit's Ethernet address (6 bytes, unicast).
func WithMAC(mac net.HardwareAddr) Option {
	return func(c *config) { c.mac = mac }
}

// WithMTU sets the MTU the device reports instead of the interface's.
func WithMTU(mtu int) Option {
	return func(c *config) { c.mtu = mtu }
}

// WithBusyPoll makes Receive keep polling the TAP for up to window before
// it sleeps on the runtime poller, yielding to the kit's other goroutines
// between polls (see hostio.BusyPoll): a shorter round trip for the CPU
// time spent spinning. Zero, the default, turns it off.
func WithBusyPoll(window time.Duration) Option {
	return func(c *config) { c.busyPoll = window }
}

// Device is a TAP interface driven by the kit.
type Device struct {
	info netdev.Info
	line *hosted.FDLine
	link *hostio.Link
	life *hostio.Life

	tx struct {
		hdr    [hostio.VnetHdrLen]byte
		iov    hostio.Iovecs
		frames []netdev.Frame
		done   int
		err    error
		poll   func() bool
		one    [1]netdev.Frame
	}
	rx struct {
		hdr   [hostio.VnetHdrLen]byte
		over  [1]byte // catches the first byte of a frame too big for its slot
		iov   hostio.Iovecs
		slots []netdev.RxSlot
		k     int
		err   error
		poll  func() bool
		one   [1]netdev.RxSlot
		busy  hostio.BusyPoll
	}
}

var (
	_ netdev.Device           = (*Device)(nil)
	_ netdev.BatchTransmitter = (*Device)(nil)
	_ netdev.BatchReceiver    = (*Device)(nil)
)

const tapFlags = unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR

// Open creates or attaches to the TAP interface called name ("" lets the
// kernel choose, tapN) in the calling thread's network namespace.
func Open(name string, opts ...Option) (*Device, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.mac == nil {
		mac, err := hostio.RandomMAC()
		if err != nil {
			return nil, fmt.Errorf("tap: %w", err)
		}
		cfg.mac = mac
	} else if err := hostio.CheckMAC(cfg.mac); err != nil {
		return nil, fmt.Errorf("tap: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return nil, fmt.Errorf("tap: %q: %w", name, err)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("tap: open /dev/net/tun: %w", err)
	}
	fail := func(what string, err error) (*Device, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("tap: %s: %s: %w", name, what, err)
	}
	ifr.SetUint16(tapFlags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fail("TUNSETIFF", err)
	}
	name = ifr.Name()
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, hostio.VnetHdrLen); err != nil {
		return fail("TUNSETVNETHDRSZ", err)
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, unix.TUN_F_CSUM|unix.TUN_F_TSO4|unix.TUN_F_TSO6); err != nil {
		return fail("TUNSETOFFLOAD", err)
	}
	link, err := hostio.OpenLink(name)
	if err != nil {
		return fail("control", err)
	}
	mtu := cfg.mtu
	if mtu == 0 {
		if mtu, err = link.MTU(); err != nil {
			link.Close()
			return fail("MTU", err)
		}
	}
	if mtu < 68 || mtu > 65535 {
		link.Close()
		return fail("MTU", fmt.Errorf("MTU %d out of range", mtu))
	}
	line, err := hosted.NewFDLine(fd, "tap:"+name)
	if err != nil {
		link.Close()
		return fail("interrupt line", err)
	}
	d := &Device{
		info: netdev.Info{
			Name: "tap:" + name,
			MAC:  cfg.mac,
			MTU:  mtu,
			Features: netdev.FeatureTxChecksum | netdev.FeatureTSO4 | netdev.FeatureTSO6 |
				netdev.FeatureRxChecksum | netdev.FeatureRxGSO,
			MaxGSOSize: netdev.MaxGSOFrameLen,
		},
		line: line,
		link: link,
		life: hostio.NewLife("tap:"+name, link),
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

// Transmit implements netdev.Device: one writev of the virtio-net header and
// the frame's segments.
func (d *Device) Transmit(f *netdev.Frame) error {
	d.tx.one[0] = *f
	_, err := d.TransmitBatch(d.tx.one[:])
	d.tx.one[0] = netdev.Frame{}
	return err
}

// TransmitBatch implements netdev.BatchTransmitter. TAP has no batched
// write: it is one writev per frame, in one wait for the descriptor.
func (d *Device) TransmitBatch(frames []netdev.Frame) (int, error) {
	if err := d.life.Check(); err != nil {
		return 0, err
	}
	valid := len(frames)
	var cerr error
	for i := range frames {
		if cerr = hostio.CheckTransmit(&d.info, &frames[i]); cerr != nil {
			valid = i
			break
		}
	}
	if valid > 0 {
		d.tx.frames, d.tx.done, d.tx.err = frames[:valid], 0, nil
		err := d.line.WaitWrite(d.tx.poll)
		done, terr := d.tx.done, d.tx.err
		d.tx.frames, d.tx.err = nil, nil
		if err != nil {
			return done, d.life.WaitErr("transmit", err)
		}
		if terr != nil {
			return done, d.life.HostErr("transmit", terr)
		}
	}
	return valid, cerr
}

// txPoll writes d.tx.frames[d.tx.done:]; it reports true when all are
// written or an error stops them.
func (d *Device) txPoll() bool {
	for d.tx.done < len(d.tx.frames) {
		f := &d.tx.frames[d.tx.done]
		f.Offload.Encode(d.tx.hdr[:])
		d.tx.iov.Append(d.tx.hdr[:])
		d.tx.iov.Append(f.Segs...)
		_, err := hostio.Writev(d.line.FD(), d.tx.iov.Slice())
		d.tx.iov.Reset()
		switch err {
		case nil:
			d.tx.done++
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case unix.EIO:
			if !d.link.Gone() {
				// The interface is down: the frame is lost on the link.
				d.tx.done++
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

// ReceiveBatch implements netdev.BatchReceiver: it waits for one frame,
// then reads frames while more are ready. A frame that does not fit its slot
// or carries a malformed virtio-net header is dropped (the slot takes the
// next frame); it is reported as an error only when no frame of the batch
// was good.
func (d *Device) ReceiveBatch(slots []netdev.RxSlot) (int, error) {
	if len(slots) == 0 {
		return 0, d.life.Check()
	}
	return d.receive(slots)
}

func (d *Device) receive(slots []netdev.RxSlot) (int, error) {
	if err := d.life.Check(); err != nil {
		return 0, err
	}
	d.rx.slots, d.rx.k, d.rx.err = slots, 0, nil
	d.rx.busy.Start()
	err := d.line.WaitRead(d.rx.poll)
	k, rerr := d.rx.k, d.rx.err
	d.rx.slots, d.rx.err = nil, nil
	if k > 0 {
		return k, nil
	}
	if err != nil {
		return 0, d.life.WaitErr("receive", err)
	}
	return 0, rerr
}

// rxPoll reads frames into d.rx.slots[d.rx.k:] until they are full or no
// frame is ready. It reports true when the wait is over: a frame arrived or
// an error ended it.
func (d *Device) rxPoll() bool {
	for d.rx.k < len(d.rx.slots) {
		s := &d.rx.slots[d.rx.k]
		d.rx.iov.Append(d.rx.hdr[:])
		d.rx.iov.Append(s.Bufs...)
		// TAP truncates a frame silently to the space posted: one byte
		// more than the slot holds tells a frame that did not fit.
		d.rx.iov.Append(d.rx.over[:])
		n, err := hostio.Readv(d.line.FD(), d.rx.iov.Slice())
		d.rx.iov.Reset()
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if d.rx.k == 0 && d.rx.err == nil && d.life.Alive() && d.rx.busy.Again() {
				continue
			}
			return d.rx.k > 0 || d.rx.err != nil
		case err != nil:
			if d.rx.k == 0 {
				d.rx.err = d.life.HostErr("receive", err)
			}
			return true
		}
		n -= hostio.VnetHdrLen
		var ferr error
		if c := hostio.SegsCap(s.Bufs); n > c {
			ferr = fmt.Errorf("%s: %w: frame larger than the %d bytes posted", d.info.Name, netdev.ErrBufferTooSmall, c)
		} else if s.Offload, ferr = hostio.DecodeReceived(d.rx.hdr[:], n); ferr != nil {
			ferr = fmt.Errorf("%s: received frame dropped: %w", d.info.Name, ferr)
		}
		if ferr != nil {
			// Dropped. Receive reports it; a batch reports it only if no
			// good frame follows, and the slot takes the next frame.
			s.Offload = netdev.Offload{}
			if d.rx.err == nil {
				d.rx.err = ferr
			}
			if len(d.rx.slots) == 1 {
				return true
			}
			continue
		}
		s.N = n
		d.rx.k++
	}
	return true
}

// Close implements netdev.Device. It unblocks Transmit and Receive and
// releases the descriptor; a TAP interface that Open created goes away with
// it (unless made persistent by someone else).
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
