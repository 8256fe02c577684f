// Package kernel assembles the example kernels' parts: it boots a hosted
// platform, opens the NIC a command line names (the in-memory wire, a TAP
// device, an AF_PACKET socket on a host interface, or the host's own
// sockets), builds the kit's TCP/IP stack on it, and hands the program a
// libc. It is the example kernels' shared main: each kernel is a short
// program written against libc, as the OSKit's were against their C
// library.
//
// # Execution environment
//
// A Kernel owns everything it opened; Close releases it all, so a process
// may boot and close many kernels (tests do), or run two at once over a
// wire (the embedded default).
package kernel

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/packet"
	"github.com/goskit/goskit/drivers/pcap"
	"github.com/goskit/goskit/drivers/tap"
	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/kernsupport/hosted"
	"github.com/goskit/goskit/libc"
	"github.com/goskit/goskit/netstack"
)

// NICFlags are the command-line flags that choose and configure a kernel's
// network interface.
type NICFlags struct {
	NIC   string         // wire, tap:NAME, packet:IFNAME, host
	Addrs []netip.Prefix // -addr, repeatable
	GW    []netip.Addr   // -gw, repeatable (one per family)
	Pcap  string         // -pcap FILE
	// Stack options, so a benchmark can match the kit's buffers to Linux's.
	WmemMax, RmemMax int
	CC               string
	// TxQueue is the stack's transmit queue (netstack.Config.TxQueueLen);
	// negative leaves the program's choice (Config.TxQueueLen).
	TxQueue int
	// BusyPoll is how long the tap and packet drivers poll for frames
	// before sleeping (their WithBusyPoll); zero turns it off.
	BusyPoll time.Duration
	// AckDelay is the stack's delayed acknowledgement
	// (netstack.Config.AckDelay); zero turns it off. The -ackdelay flag
	// defaults to DefaultAckDelay.
	AckDelay time.Duration
}

// DefaultAckDelay is the example kernels' delayed acknowledgement: long
// enough for a program's reply to carry the ACK of the request it answers
// (a few microseconds in the kit), short enough that a peer waiting on the
// ACK (Nagle's algorithm) loses little.
const DefaultAckDelay = 50 * time.Microsecond

// Register adds the NIC flags to fs.
func (f *NICFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.NIC, "nic", "wire", "network interface: wire, tap:NAME, packet:IFNAME, or host (the host's own sockets)")
	fs.Func("addr", "address of the kit's NIC as CIDR, IPv4 or IPv6 (repeatable)", func(s string) error {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return err
		}
		f.Addrs = append(f.Addrs, p)
		return nil
	})
	fs.Func("gw", "default gateway (repeatable, one per address family)", func(s string) error {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return err
		}
		f.GW = append(f.GW, a)
		return nil
	})
	fs.StringVar(&f.Pcap, "pcap", "", "record the NIC's traffic to this pcap file")
	fs.IntVar(&f.WmemMax, "wmem-max", 0, "largest TCP send buffer of the kit's stack in bytes (0: 4 MiB)")
	fs.IntVar(&f.RmemMax, "rmem-max", 0, "largest TCP receive buffer of the kit's stack in bytes (0: 6 MiB)")
	fs.StringVar(&f.CC, "cc", "", "congestion control of the kit's stack: cubic (default) or reno")
	fs.DurationVar(&f.AckDelay, "ackdelay", DefaultAckDelay, "hold a bare ACK of a small message up to this long so that the reply carries it, as Linux's delayed ACK does (0: off)")
	fs.DurationVar(&f.BusyPoll, "busypoll", 0, "tap and packet NICs: poll for frames this long before sleeping, trading CPU time for a shorter round trip (0: off)")
	fs.IntVar(&f.TxQueue, "txqueue", -1, "packets queued between the kit's stack and its NIC, drained in batches by one goroutine (0: none, lowest latency; -1: the program's choice)")
}

// StackConfig is the netstack configuration the flags ask for; txQueue is
// the program's transmit queue choice, used unless -txqueue overrides it.
func (f *NICFlags) StackConfig(txQueue int) netstack.Config {
	if f.TxQueue >= 0 {
		txQueue = f.TxQueue
	}
	return netstack.Config{SendBufferMax: f.WmemMax, ReceiveBufferMax: f.RmemMax, CongestionControl: f.CC, TxQueueLen: txQueue, AckDelay: f.AckDelay}
}

// Kind is the NIC kind named by the -nic flag.
func (f *NICFlags) Kind() (kind, name string) {
	kind, name, _ = strings.Cut(f.NIC, ":")
	return kind, name
}

// Validate checks the flags before anything is opened.
func (f *NICFlags) Validate() error {
	kind, name := f.Kind()
	if f.BusyPoll < 0 {
		return fmt.Errorf("-busypoll %v: negative", f.BusyPoll)
	}
	if f.AckDelay < 0 {
		return fmt.Errorf("-ackdelay %v: negative", f.AckDelay)
	}
	if f.BusyPoll != 0 && kind != "tap" && kind != "packet" {
		return fmt.Errorf("-busypoll applies to tap and packet NICs, not -nic %s", f.NIC)
	}
	switch kind {
	case "wire":
	case "host":
		if len(f.Addrs) > 0 || len(f.GW) > 0 || f.Pcap != "" {
			return errors.New("-nic host uses the host's addresses: -addr, -gw and -pcap do not apply")
		}
	case "tap", "packet":
		if name == "" {
			return fmt.Errorf("-nic %s needs an interface name: -nic %s:NAME", kind, kind)
		}
		if len(f.Addrs) == 0 {
			return fmt.Errorf("-nic %s needs at least one -addr", f.NIC)
		}
	default:
		return fmt.Errorf("unknown -nic %q (want wire, tap:NAME, packet:IFNAME or host)", f.NIC)
	}
	return nil
}

// CheckEmbedded rejects flags the embedded default cannot honour: its two
// kernels have fixed addresses (EmbeddedTransmitter, EmbeddedReceiver).
func (f *NICFlags) CheckEmbedded() error {
	if len(f.Addrs) > 0 || len(f.GW) > 0 {
		return fmt.Errorf("-nic wire gives its kernels %v and %v: -addr and -gw do not apply", EmbeddedTransmitter, EmbeddedReceiver)
	}
	return nil
}

// Kernel is a booted hosted kernel with its network.
type Kernel struct {
	Info  *boot.Info
	Plat  *hosted.Platform
	Stack *netstack.Stack // nil with -nic host
	Sys   *libc.System

	closeOnce sync.Once
	closers   []func() error
}

// Config is what Boot needs beyond the NIC flags.
type Config struct {
	// Console receives the kernel's console output; nil means the process's
	// standard output.
	Console io.Writer
	// Device, if set, is used as the NIC instead of opening one named by the
	// flags (the embedded default passes a wire end). Boot owns it: a failed
	// Boot closes it, a kernel's Close closes it.
	Device netdev.Device
	// TxQueueLen is the program's choice of transmit queue when the -txqueue
	// flag leaves it: a bulk-transfer kernel queues (the queue's goroutine
	// lets the sender run on while frames go out), a latency kernel does
	// not (a hand-off per packet costs microseconds).
	TxQueueLen int
}

func (k *Kernel) addCloser(f func() error) { k.closers = append(k.closers, f) }

// Boot boots a kernel: platform, NIC, stack, libc.
func Boot(info *boot.Info, f NICFlags, cfg Config) (k *Kernel, err error) {
	if cfg.Device != nil {
		// A failed Boot closes the device it was given (BootPair relies on
		// it); once the stack owns it, the stack's close closes it, and
		// closing twice is harmless.
		defer func() {
			if err != nil {
				cfg.Device.Close()
			}
		}()
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	k = &Kernel{Info: info}
	// k is passed in: the error returns below set the result k to nil.
	defer func(k *Kernel) {
		if err != nil {
			k.Close()
		}
	}(k)
	var popts []hosted.Option
	if cfg.Console != nil {
		popts = append(popts, hosted.WithConsole(nil, cfg.Console))
	}
	k.Plat, err = hosted.New(info, popts...)
	if err != nil {
		return nil, err
	}
	k.addCloser(k.Plat.Close)
	sysOpts := []libc.Option{libc.Boot(info)}
	if kind, _ := f.Kind(); kind == "host" {
		sysOpts = append(sysOpts, libc.HostSockets())
		k.Sys = libc.New(k.Plat, sysOpts...)
		return k, nil
	}
	dev := cfg.Device
	if dev == nil {
		if dev, err = openNIC(k.Plat, f); err != nil {
			return nil, err
		}
	}
	if f.Pcap != "" {
		file, err := os.Create(f.Pcap)
		if err != nil {
			dev.Close()
			return nil, fmt.Errorf("-pcap: %w", err)
		}
		// Added before the stack's closer, so it runs after it: the stack
		// closes the recording device, then the file is closed.
		k.addCloser(file.Close)
		rec, err := pcap.Wrap(dev, file, pcap.Options{})
		if err != nil {
			dev.Close()
			return nil, fmt.Errorf("-pcap: %w", err)
		}
		dev = rec
	}
	k.Stack, err = netstack.New(k.Plat, f.StackConfig(cfg.TxQueueLen))
	if err != nil {
		dev.Close()
		return nil, err
	}
	k.addCloser(k.Stack.Close)
	if _, err := k.Stack.AddNIC(dev, f.Addrs...); err != nil {
		return nil, err
	}
	for _, gw := range f.GW {
		if err := k.Stack.SetDefaultGateway(gw); err != nil {
			return nil, err
		}
	}
	k.Sys = libc.New(k.Plat, append(sysOpts, libc.Net(k.Stack))...)
	return k, nil
}

func openNIC(plat *hosted.Platform, f NICFlags) (netdev.Device, error) {
	kind, name := f.Kind()
	switch kind {
	case "tap":
		return tap.Open(name, tap.WithBusyPoll(f.BusyPoll))
	case "packet":
		return packet.Open(name, packet.WithBusyPoll(f.BusyPoll))
	case "wire":
		return nil, errors.New("-nic wire is the embedded default: it joins two kernels in one process; run without flags")
	}
	return nil, fmt.Errorf("unknown NIC %q", f.NIC)
}

// Close releases everything the kernel opened, in reverse order.
func (k *Kernel) Close() {
	k.closeOnce.Do(func() {
		for i := len(k.closers) - 1; i >= 0; i-- {
			k.closers[i]()
		}
	})
}

// NICFailTimeout bounds how long Run waits for the program to end after
// its NIC failed before giving up on it.
const NICFailTimeout = 2 * time.Second

// Run runs program on the kernel's libc and returns its exit status. If
// the NIC fails first (its interface disappeared), Run reports it on the
// console and returns 1 without waiting for TCP to time out: the program's
// blocked calls are ended by closing the kernel.
func (k *Kernel) Run(name string, program func(sys *libc.System) int) int {
	done := make(chan int, 1)
	go func() { done <- program(k.Sys) }()
	var failed <-chan struct{}
	if k.Stack != nil {
		failed = k.Stack.Done()
	}
	select {
	case code := <-done:
		return code
	case <-failed:
		fmt.Fprintf(k.Plat.Console(), "%s: network interface failed: %v\n", name, k.Stack.Err())
		k.Close()
		select {
		case <-done:
		case <-time.After(NICFailTimeout):
		}
		return 1
	}
}

// Embedded addresses of the two kernels over the wire.
var (
	EmbeddedReceiver     = netip.MustParsePrefix("198.18.0.2/24")
	EmbeddedTransmitter  = netip.MustParsePrefix("198.18.0.1/24")
	EmbeddedReceiver6    = netip.MustParsePrefix("2001:2::2/64")
	EmbeddedTransmitter6 = netip.MustParsePrefix("2001:2::1/64")
)

// BootPair boots two kernels joined by an in-memory wire: the embedded
// default. The first gets EmbeddedTransmitter's addresses, the second
// EmbeddedReceiver's; both get cfg (its Device is ignored).
func BootPair(info *boot.Info, w wire.Config, f NICFlags, cfg Config) (tx, rx *Kernel, err error) {
	ea, eb, err := wire.New(w)
	if err != nil {
		return nil, nil, err
	}
	ft, fr := f, f
	ft.NIC, fr.NIC = "wire", "wire"
	ft.Addrs = []netip.Prefix{EmbeddedTransmitter, EmbeddedTransmitter6}
	fr.Addrs = []netip.Prefix{EmbeddedReceiver, EmbeddedReceiver6}
	if f.Pcap != "" {
		fr.Pcap = "" // one recording of the wire is enough: the transmitter's
	}
	tcfg, rcfg := cfg, cfg
	tcfg.Device, rcfg.Device = ea, eb
	tx, err = Boot(info, ft, tcfg)
	if err != nil {
		eb.Close()
		return nil, nil, err
	}
	rx, err = Boot(info, fr, rcfg)
	if err != nil {
		tx.Close()
		return nil, nil, err
	}
	return tx, rx, nil
}
