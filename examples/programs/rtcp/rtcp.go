// Package rtcp is the rtcp example kernel's program: the OSKit paper's
// one-byte TCP round-trip test (its Table 2), written against goskit's
// libc.
//
//	rtcp [flags] HOST   client: send one byte, wait for its echo, -n times
//	rtcp -r [flags]     server: echo every byte of one connection until EOF
//
// With no flags at all it boots a client and a server kernel in one process
// joined by the in-memory wire.
//
// # Execution environment
//
// Main runs on one libc and blocks in its socket calls.
package rtcp

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/goskit/goskit/examples/kernel"
	"github.com/goskit/goskit/libc"
)

// TxQueueLen is rtcp's transmit queue: none, since a one-byte round trip
// pays for every goroutine hand-off (kernel.Config.TxQueueLen).
const TxQueueLen = 0

// Options are rtcp's own flags.
type Options struct {
	Server bool
	Count  int
	Warmup int
	Port   int
	JSON   bool
	Host   string
}

// Stats is the client's result; -json prints it with these keys.
type Stats struct {
	Count    int     `json:"count"`
	MeanUS   float64 `json:"mean_us"`
	MedianUS float64 `json:"median_us"`
	P99US    float64 `json:"p99_us"`
	MinUS    float64 `json:"min_us"`
	MaxUS    float64 `json:"max_us"`
}

func (o *Options) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.Server, "r", false, "server: echo bytes until EOF")
	fs.IntVar(&o.Count, "n", 10000, "round trips to measure")
	fs.IntVar(&o.Warmup, "w", 200, "round trips before measuring")
	fs.IntVar(&o.Port, "p", 5002, "TCP port")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object")
}

func (o *Options) validate() error {
	switch {
	case !o.Server && o.Host == "":
		return errors.New("the client needs the server's address as its last word")
	case o.Server && o.Host != "":
		return fmt.Errorf("-r takes no host, got %q", o.Host)
	case o.Count <= 0 || o.Count > 100_000_000:
		return fmt.Errorf("-n %d: want 1..100000000", o.Count)
	case o.Warmup < 0:
		return fmt.Errorf("-w %d: cannot be negative", o.Warmup)
	case o.Port <= 0 || o.Port > 65535:
		return fmt.Errorf("-p %d: want 1..65535", o.Port)
	}
	return nil
}

// Parse parses rtcp's program arguments into its options and NIC flags.
// embedded reports the embedded default: no arguments, or -nic wire.
func Parse(args []string) (o Options, nic kernel.NICFlags, embedded bool, err error) {
	fs := flag.NewFlagSet("rtcp", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	o.register(fs)
	nic.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rtcp [flags] HOST | rtcp -r [flags]\n       rtcp [-nic wire] [flags]   (client and server kernels over the in-memory wire)\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, nic, false, err
	}
	if fs.NArg() > 1 {
		return o, nic, false, fmt.Errorf("too many words: %q", fs.Args())
	}
	o.Host = fs.Arg(0)
	if len(args) == 0 || nic.NIC == "wire" {
		if o.Server || o.Host != "" {
			return o, nic, false, errors.New("-nic wire runs client and server: give neither -r nor a host")
		}
		if err := nic.CheckEmbedded(); err != nil {
			return o, nic, false, err
		}
		o.Host = kernel.EmbeddedReceiver.Addr().String()
		return o, nic, true, o.validate()
	}
	if err := nic.Validate(); err != nil {
		return o, nic, false, err
	}
	return o, nic, false, o.validate()
}

// Run is rtcp's main: see kernel.Main.
func Run(args []string, stdout io.Writer) int {
	var o Options
	return kernel.Main(args, stdout, kernel.Program{
		Name:       "rtcp",
		TxQueueLen: TxQueueLen,
		Parse: func(args []string) (kernel.NICFlags, bool, error) {
			var nic kernel.NICFlags
			var embedded bool
			var err error
			o, nic, embedded, err = Parse(args)
			return nic, embedded, err
		},
		Role: func() string {
			if o.Server {
				return "rtcp-r"
			}
			return "rtcp"
		},
		Main:       func(sys *libc.System) int { return Main(sys, o) },
		ServerRole: "rtcp-r",
		Server: func(sys *libc.System, listening chan<- struct{}) int {
			so := o
			so.Server, so.Host = true, ""
			return main(sys, so, listening)
		},
		ClientRole: "rtcp",
		Client:     func(sys *libc.System) int { return Main(sys, o) },
	})
}

// Main is the rtcp program proper.
func Main(sys *libc.System, o Options) int { return main(sys, o, nil) }

func main(sys *libc.System, o Options, listening chan<- struct{}) int {
	name := "rtcp"
	if o.Server {
		name = "rtcp-r"
	}
	fail := func(what string, err error) int {
		sys.Printf("%s: %s: %v\n", name, what, err)
		return 1
	}
	family := syscall.AF_INET6
	var peer netip.AddrPort
	if !o.Server {
		a, err := netip.ParseAddr(o.Host)
		if err != nil {
			return fail("host", fmt.Errorf("%q is not an IP address", o.Host))
		}
		a = a.Unmap()
		peer = netip.AddrPortFrom(a, uint16(o.Port))
		if a.Is4() {
			family = syscall.AF_INET
		}
	}
	fd, err := sys.Socket(family, syscall.SOCK_STREAM, 0)
	if err != nil {
		return fail("socket", err)
	}
	defer sys.Close(fd)
	conn := fd
	if o.Server {
		nfd, _, err := kernel.AcceptOne(sys, fd, o.Port, listening)
		if err != nil {
			return fail("server", err)
		}
		defer sys.Close(nfd)
		conn = nfd
	} else if err := sys.Connect(fd, peer); err != nil {
		return fail("connect", err)
	}
	// One-byte messages must not wait for Nagle's algorithm.
	if err := sys.SetsockoptInt(conn, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		return fail("setsockopt TCP_NODELAY", err)
	}
	if o.Server {
		if err := echo(sys, conn); err != nil {
			return fail("echo", err)
		}
		return 0
	}
	samples, err := pingPong(sys, conn, o)
	if err != nil {
		return fail("round trip", err)
	}
	sys.Shutdown(conn, syscall.SHUT_WR)
	st := Summarize(samples)
	if o.JSON {
		b, _ := json.Marshal(st)
		sys.Printf("%s\n", b)
	} else {
		sys.Printf("rtcp: %d round trips of 1 byte to %s: mean %.1f us, median %.1f us, p99 %.1f us, min %.1f us, max %.1f us\n",
			st.Count, o.Host, st.MeanUS, st.MedianUS, st.P99US, st.MinUS, st.MaxUS)
	}
	return 0
}

func echo(sys *libc.System, fd int) error {
	var b [1]byte
	for {
		n, err := sys.Read(fd, b[:])
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if _, err := sys.Write(fd, b[:n]); err != nil {
			return err
		}
	}
}

func pingPong(sys *libc.System, fd int, o Options) ([]time.Duration, error) {
	samples := make([]time.Duration, 0, o.Count)
	var b [1]byte
	clock := func() time.Duration {
		d, _ := sys.ClockGettime(libc.CLOCK_MONOTONIC)
		return d
	}
	for i := 0; i < o.Warmup+o.Count; i++ {
		b[0] = byte(i)
		start := clock()
		if _, err := sys.Write(fd, b[:]); err != nil {
			return nil, err
		}
		n, err := sys.Read(fd, b[:])
		if err != nil {
			return nil, err
		}
		if n != 1 {
			return nil, fmt.Errorf("server closed after %d round trips", i)
		}
		if b[0] != byte(i) {
			return nil, fmt.Errorf("round trip %d echoed %#x, want %#x", i, b[0], byte(i))
		}
		if i >= o.Warmup {
			samples = append(samples, clock()-start)
		}
	}
	return samples, nil
}

// Summarize computes the statistics of round-trip samples.
func Summarize(samples []time.Duration) Stats {
	if len(samples) == 0 {
		return Stats{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	p := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.5) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	median := s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stats{
		Count:    len(s),
		MeanUS:   us(sum) / float64(len(s)),
		MedianUS: us(median),
		P99US:    us(p(0.99)),
		MinUS:    us(s[0]),
		MaxUS:    us(s[len(s)-1]),
	}
}
