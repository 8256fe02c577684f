// Package ttcp is the ttcp example kernel's program: the classic TCP
// bandwidth test (ttcp, 1984; the OSKit paper's Table 1), written against
// goskit's libc the way the original was written against BSD sockets.
//
//	ttcp -t [flags] HOST    transmit to HOST
//	ttcp -r [flags]         receive
//
// With no flags at all it boots two kernels in one process joined by the
// in-memory wire, runs a verified transfer between them, and prints both
// classic summary lines.
//
// # Execution environment
//
// Main runs on one libc, blocking in its socket calls; Run owns the
// process's command line and exit status.
package ttcp

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/goskit/goskit/examples/kernel"
	"github.com/goskit/goskit/libc"
)

// TxQueueLen is ttcp's transmit queue (kernel.Config.TxQueueLen): 1000
// packets, drained by one goroutine that hands the NIC whole batches. The
// sender runs on while frames go out, and the AF_PACKET driver sends each
// batch with one sendmmsg: kit->Linux on a veth went from about 1.08 to
// 1.55 GB/s on one CPU, with a third less CPU per byte; receiving and the
// wire are unchanged within noise. (An early form stalled short transfers
// on a 200 ms retransmission timeout; since the listen-backlog and
// receive-buffer fixes, 15 runs each of 16 MiB over the wire and over the
// veth show none.) -txqueue 0 turns it off.
const TxQueueLen = 1000

// Options are ttcp's own flags.
type Options struct {
	Transmit, Receive bool
	BufLen            int    // -l
	NumBufs           int    // -n
	Port              int    // -p
	SockBuf           int    // -b
	NoDelay           bool   // -D
	Pattern           bool   // -s
	Format            string // -f
	Interval          float64
	JSON              bool
	Host              string
}

// Result is what one side measured; -json prints it.
type Result struct {
	Role       string  `json:"role"` // "t" or "r"
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	BitsPerSec float64 `json:"bits_per_second"`
	Calls      int64   `json:"calls"`
	BufLen     int     `json:"buflen"`
	Verified   bool    `json:"verified"`
	UserSec    float64 `json:"cpu_user_seconds"`
	SysSec     float64 `json:"cpu_sys_seconds"`
	NIC        string  `json:"nic"`
}

func (o *Options) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.Transmit, "t", false, "transmit")
	fs.BoolVar(&o.Receive, "r", false, "receive")
	fs.IntVar(&o.BufLen, "l", 8192, "length of each write/read buffer in bytes")
	fs.IntVar(&o.NumBufs, "n", 2048, "number of buffers the transmitter writes")
	fs.IntVar(&o.Port, "p", 5001, "TCP port")
	fs.IntVar(&o.SockBuf, "b", 0, "socket buffer size (SO_SNDBUF/SO_RCVBUF); 0 leaves the stack's default")
	fs.BoolVar(&o.NoDelay, "D", false, "set TCP_NODELAY")
	fs.BoolVar(&o.Pattern, "s", false, "transmitter sends a pattern, receiver verifies every byte")
	fs.StringVar(&o.Format, "f", "K", "rate unit: k, m, g (bits) or K, M, G (bytes)")
	fs.Float64Var(&o.Interval, "i", 0, "print a report every SECONDS during the transfer")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object instead of the classic lines")
}

func (o *Options) validate() error {
	if o.Transmit == o.Receive {
		return errors.New("exactly one of -t and -r")
	}
	if o.Transmit && o.Host == "" {
		return errors.New("-t needs the receiver's address as its last word")
	}
	if o.Receive && o.Host != "" {
		return fmt.Errorf("-r takes no host, got %q", o.Host)
	}
	if o.BufLen <= 0 || o.BufLen > 64<<20 {
		return fmt.Errorf("-l %d: want 1..%d", o.BufLen, 64<<20)
	}
	if o.NumBufs <= 0 {
		return fmt.Errorf("-n %d: want at least 1", o.NumBufs)
	}
	if o.Port <= 0 || o.Port > 65535 {
		return fmt.Errorf("-p %d: want 1..65535", o.Port)
	}
	if o.SockBuf < 0 || o.Interval < 0 {
		return errors.New("-b and -i cannot be negative")
	}
	if _, _, err := unit(o.Format); err != nil {
		return err
	}
	return nil
}

// unit returns the divisor and name for -f.
func unit(f string) (float64, string, error) {
	switch f {
	case "k":
		return 1000 / 8.0, "Kbit", nil
	case "m":
		return 1e6 / 8, "Mbit", nil
	case "g":
		return 1e9 / 8, "Gbit", nil
	case "K":
		return 1024, "KB", nil
	case "M":
		return 1 << 20, "MB", nil
	case "G":
		return 1 << 30, "GB", nil
	}
	return 0, "", fmt.Errorf("-f %q: want k, m, g, K, M or G", f)
}

// Parse parses ttcp's program arguments (the words after the boot
// options) into its options and NIC flags. embedded reports that the kernel
// runs the embedded default: no arguments at all, or -nic wire.
func Parse(args []string) (o Options, nic kernel.NICFlags, embedded bool, err error) {
	fs := flag.NewFlagSet("ttcp", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	o.register(fs)
	nic.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ttcp -t [flags] HOST | ttcp -r [flags]\n       ttcp [-nic wire] [flags]   (two kernels over the in-memory wire)\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, nic, false, err
	}
	if len(args) == 0 {
		o.Pattern, o.Format = true, "m"
		return o, nic, true, nil
	}
	if fs.NArg() > 1 {
		return o, nic, false, fmt.Errorf("too many words: %q", fs.Args())
	}
	o.Host = fs.Arg(0)
	if err := nic.Validate(); err != nil {
		return o, nic, false, err
	}
	if nic.NIC == "wire" {
		// Both roles run in this process: the flags describe the transfer.
		if o.Transmit || o.Receive || o.Host != "" {
			return o, nic, false, errors.New("-nic wire runs both kernels: give neither -t, -r nor a host")
		}
		if err := nic.CheckEmbedded(); err != nil {
			return o, nic, false, err
		}
		o.Transmit = true
		o.Host = kernel.EmbeddedReceiver.Addr().String()
		if err := o.validate(); err != nil {
			return o, nic, false, err
		}
		return o, nic, true, nil
	}
	return o, nic, false, o.validate()
}

// Run is ttcp's main: see kernel.Main.
func Run(args []string, stdout io.Writer) int {
	var o Options
	var nic kernel.NICFlags
	return kernel.Main(args, stdout, kernel.Program{
		Name:       "ttcp",
		TxQueueLen: TxQueueLen,
		Parse: func(args []string) (kernel.NICFlags, bool, error) {
			var embedded bool
			var err error
			o, nic, embedded, err = Parse(args)
			return nic, embedded, err
		},
		Role: func() string {
			if o.Transmit {
				return "ttcp-t"
			}
			return "ttcp-r"
		},
		Main:       func(sys *libc.System) int { return Main(sys, o, nic.NIC) },
		ServerRole: "ttcp-r",
		Server: func(sys *libc.System, listening chan<- struct{}) int {
			ro := o
			ro.Transmit, ro.Receive, ro.Host = false, true, ""
			return main(sys, ro, "wire", listening)
		},
		ClientRole: "ttcp-t",
		Client: func(sys *libc.System) int {
			to := o
			to.Transmit, to.Receive, to.Host = true, false, kernel.EmbeddedReceiver.Addr().String()
			return Main(sys, to, "wire")
		},
	})
}

// Main is the ttcp program proper, on a booted kernel's libc.
func Main(sys *libc.System, o Options, nicName string) int {
	return main(sys, o, nicName, nil)
}

func main(sys *libc.System, o Options, nicName string, listening chan<- struct{}) int {
	name := "ttcp-r"
	if o.Transmit {
		name = "ttcp-t"
	}
	fail := func(what string, err error) int {
		sys.Printf("%s: %s: %v\n", name, what, err)
		return 1
	}
	var peer netip.AddrPort
	family := syscall.AF_INET
	if o.Transmit {
		a, err := netip.ParseAddr(o.Host)
		if err != nil {
			return fail("host", fmt.Errorf("%q is not an IP address", o.Host))
		}
		peer = netip.AddrPortFrom(a.Unmap(), uint16(o.Port))
		if a.Unmap().Is6() {
			family = syscall.AF_INET6
		}
	} else {
		family = syscall.AF_INET6 // dual-stack: accepts IPv4 too
	}
	if !o.JSON {
		dir := "tcp"
		if o.Transmit {
			dir = "tcp  -> " + o.Host
		}
		sys.Printf("%s: buflen=%d, nbuf=%d, port=%d  %s\n", name, o.BufLen, o.NumBufs, o.Port, dir)
	}
	fd, err := sys.Socket(family, syscall.SOCK_STREAM, 0)
	if err != nil {
		return fail("socket", err)
	}
	defer sys.Close(fd)
	if o.SockBuf > 0 {
		opt := syscall.SO_RCVBUF
		if o.Transmit {
			opt = syscall.SO_SNDBUF
		}
		if err := sys.SetsockoptInt(fd, syscall.SOL_SOCKET, opt, o.SockBuf); err != nil {
			return fail("setsockopt SO_*BUF", err)
		}
	}
	if o.NoDelay {
		if err := sys.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
			return fail("setsockopt TCP_NODELAY", err)
		}
	}
	conn := fd
	if o.Transmit {
		if err := sys.Connect(fd, peer); err != nil {
			return fail("connect", err)
		}
	} else {
		nfd, from, err := kernel.AcceptOne(sys, fd, o.Port, listening)
		if err != nil {
			return fail("receiver", err)
		}
		defer sys.Close(nfd)
		conn = nfd
		if !o.JSON {
			sys.Printf("%s: accept from %v\n", name, from.Addr())
		}
	}
	start := cpuNow()
	var res Result
	var xferErr error
	if o.Transmit {
		res, xferErr = transmit(sys, conn, o)
	} else {
		res, xferErr = receive(sys, conn, o)
	}
	if xferErr != nil {
		return fail("transfer", xferErr)
	}
	used := cpuNow().sub(start)
	res.UserSec, res.SysSec, res.NIC = used.user, used.sys, nicName
	report(sys, name, o, res)
	return 0
}

// patternByte is the pattern's byte at stream offset off: the printable
// ASCII cycle classic ttcp sources with -s.
func patternByte(off int64) byte { return byte(' ' + off%95) }

func fillPattern(buf []byte, off int64) {
	for i := range buf {
		buf[i] = patternByte(off + int64(i))
	}
}

func transmit(sys *libc.System, fd int, o Options) (Result, error) {
	buf := make([]byte, o.BufLen)
	if !o.Pattern {
		for i := range buf {
			buf[i] = 'x'
		}
	}
	res := Result{Role: "t", BufLen: o.BufLen, Verified: o.Pattern}
	start := monotonic(sys)
	ticker := newInterval(sys, "ttcp-t", o, start)
	var off int64
	for i := 0; i < o.NumBufs; i++ {
		if o.Pattern {
			// The buffer length need not divide the pattern's cycle, so
			// each buffer is filled for its own offset.
			fillPattern(buf, off)
		}
		n, err := sys.Write(fd, buf)
		res.Calls++
		off += int64(n)
		if err != nil {
			return res, fmt.Errorf("write after %d bytes: %w", off, err)
		}
		ticker.tick(off)
	}
	if err := sys.Shutdown(fd, syscall.SHUT_WR); err != nil {
		return res, fmt.Errorf("shutdown: %w", err)
	}
	// Wait for the receiver to close, so the time covers delivery, not just
	// queuing into the send buffer.
	var drain [1]byte
	for {
		n, err := sys.Read(fd, drain[:])
		if n == 0 || err != nil {
			break
		}
	}
	res.Bytes = off
	res.Seconds = (monotonic(sys) - start).Seconds()
	return res, nil
}

func receive(sys *libc.System, fd int, o Options) (Result, error) {
	buf := make([]byte, o.BufLen)
	res := Result{Role: "r", BufLen: o.BufLen, Verified: o.Pattern}
	var off int64
	var start time.Duration
	var ticker *interval
	for {
		n, err := sys.Read(fd, buf)
		res.Calls++
		if n > 0 {
			if off == 0 {
				// The receiver's figure runs from the first byte to EOF.
				start = monotonic(sys)
				ticker = newInterval(sys, "ttcp-r", o, start)
			}
			if o.Pattern {
				for i, b := range buf[:n] {
					if want := patternByte(off + int64(i)); b != want {
						return res, fmt.Errorf("PATTERN MISMATCH at byte %d: got %#02x, want %#02x", off+int64(i), b, want)
					}
				}
			}
			off += int64(n)
			ticker.tick(off)
		}
		if err != nil {
			return res, fmt.Errorf("read after %d bytes: %w", off, err)
		}
		if n == 0 {
			break
		}
	}
	res.Bytes = off
	if off > 0 {
		res.Seconds = (monotonic(sys) - start).Seconds()
	}
	return res, nil
}

func monotonic(sys *libc.System) time.Duration {
	d, err := sys.ClockGettime(libc.CLOCK_MONOTONIC)
	if err != nil {
		panic(err) // the platform clock cannot fail; a failure is a kit bug
	}
	return d
}

func report(sys *libc.System, name string, o Options, r Result) {
	if r.Seconds > 0 {
		r.BitsPerSec = float64(r.Bytes) * 8 / r.Seconds
	}
	if o.JSON {
		b, _ := json.Marshal(r)
		sys.Printf("%s\n", b)
		return
	}
	div, u, _ := unit(o.Format)
	rate := 0.0
	if r.Seconds > 0 {
		rate = float64(r.Bytes) / r.Seconds / div
	}
	verified := ""
	if o.Pattern && o.Receive {
		verified = " (pattern verified)"
	}
	sys.Printf("%s: %d bytes in %.2f real seconds = %.2f %s/sec +++%s\n", name, r.Bytes, r.Seconds, rate, u, verified)
	perCall := 0.0
	if r.Calls > 0 {
		perCall = r.Seconds * 1000 / float64(r.Calls)
	}
	sys.Printf("%s: %d I/O calls, msec/call = %.3f, calls/sec = %.2f\n", name, r.Calls, perCall, float64(r.Calls)/max(r.Seconds, 1e-9))
	sys.Printf("%s: %.2fuser %.2fsys\n", name, r.UserSec, r.SysSec)
}

// interval prints -i reports.
type interval struct {
	sys         *libc.System
	name        string
	every       time.Duration
	start, last time.Duration
	lastBytes   int64
	div         float64
	unit        string
}

func newInterval(sys *libc.System, name string, o Options, start time.Duration) *interval {
	if o.Interval <= 0 || o.JSON {
		return nil
	}
	div, u, _ := unit(o.Format)
	return &interval{sys: sys, name: name, every: time.Duration(o.Interval * float64(time.Second)), start: start, last: start, div: div, unit: u}
}

func (t *interval) tick(bytes int64) {
	if t == nil {
		return
	}
	now := monotonic(t.sys)
	if now-t.last < t.every {
		return
	}
	secs := (now - t.last).Seconds()
	t.sys.Printf("%s: %6.2f-%6.2f sec %12d bytes %10.2f %s/sec\n", t.name, (t.last - t.start).Seconds(), (now - t.start).Seconds(),
		bytes-t.lastBytes, float64(bytes-t.lastBytes)/secs/t.div, t.unit)
	t.last, t.lastBytes = now, bytes
}

// cpu is the process's CPU time: the hosted kernel is the process.
type cpu struct{ user, sys float64 }

func cpuNow() cpu {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return cpu{}
	}
	return cpu{user: tv(ru.Utime), sys: tv(ru.Stime)}
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func (c cpu) sub(d cpu) cpu { return cpu{c.user - d.user, c.sys - d.sys} }
