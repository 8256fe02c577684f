package kernel_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/examples/kernel"
	"github.com/goskit/goskit/examples/programs/ttcp"
	"github.com/goskit/goskit/libc"
	"github.com/goskit/goskit/netstack"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// console is a kernel console tests can read while kernels write to it.
type console struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func hostedInfo(t testing.TB) *boot.Info {
	t.Helper()
	info, err := boot.Hosted([]string{"kernel.test"})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// waitListening waits until a TCP endpoint of st listens on port.
func waitListening(t testing.TB, st *netstack.Stack, port uint16) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !listening(st.GVisor(), port) {
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on port %d after 30 s", port)
		}
		time.Sleep(time.Millisecond)
	}
}

func listening(s *stack.Stack, port uint16) bool {
	for _, te := range s.RegisteredEndpoints() {
		ep, ok := te.(tcpip.Endpoint)
		if !ok || tcp.EndpointState(ep.State()) != tcp.StateListen {
			continue
		}
		if info, ok := ep.Info().(*stack.TransportEndpointInfo); ok && info.ID.LocalPort == port {
			return true
		}
	}
	return false
}

// transfer runs a ttcp transfer from tx to rx (receiver first) and returns
// both exit statuses. It fails the test if the transfer takes over timeout,
// after closing both kernels to end it.
func transfer(t testing.TB, tx, rx *kernel.Kernel, o ttcp.Options, timeout time.Duration) (tcode, rcode int) {
	t.Helper()
	ro, to := o, o
	ro.Transmit, ro.Receive, ro.Host = false, true, ""
	to.Transmit, to.Receive, to.Host = true, false, kernel.EmbeddedReceiver.Addr().String()
	rdone := make(chan int, 1)
	go func() { rdone <- rx.Run("ttcp-r", func(sys *libc.System) int { return ttcp.Main(sys, ro, "wire") }) }()
	waitListening(t, rx.Stack, uint16(o.Port))
	tdone := make(chan int, 1)
	go func() { tdone <- tx.Run("ttcp-t", func(sys *libc.System) int { return ttcp.Main(sys, to, "wire") }) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for got := 0; got < 2; got++ {
		select {
		case tcode = <-tdone:
		case rcode = <-rdone:
		case <-timer.C:
			tx.Close()
			rx.Close()
			t.Fatalf("ttcp transfer did not end within %v", timeout)
		}
	}
	return tcode, rcode
}

func TestValidate(t *testing.T) {
	p := []netip.Prefix{netip.MustParsePrefix("198.18.0.2/24")}
	gw := []netip.Addr{netip.MustParseAddr("198.18.0.1")}
	tests := []struct {
		name string
		f    kernel.NICFlags
		want string // "" for valid
	}{
		{"wire", kernel.NICFlags{NIC: "wire"}, ""},
		{"wire with pcap", kernel.NICFlags{NIC: "wire", Pcap: "x.pcap"}, ""},
		{"host", kernel.NICFlags{NIC: "host"}, ""},
		{"tap", kernel.NICFlags{NIC: "tap:tap0", Addrs: p}, ""},
		{"packet with gateway", kernel.NICFlags{NIC: "packet:veth0", Addrs: p, GW: gw}, ""},
		{"empty", kernel.NICFlags{}, `unknown -nic ""`},
		{"bogus", kernel.NICFlags{NIC: "bogus"}, `unknown -nic "bogus"`},
		{"bogus with name", kernel.NICFlags{NIC: "eth:eth0"}, `unknown -nic "eth:eth0"`},
		{"tap without name", kernel.NICFlags{NIC: "tap:", Addrs: p}, "-nic tap needs an interface name"},
		{"packet without name", kernel.NICFlags{NIC: "packet", Addrs: p}, "-nic packet needs an interface name"},
		{"tap without addr", kernel.NICFlags{NIC: "tap:tap0"}, "-nic tap:tap0 needs at least one -addr"},
		{"host with addr", kernel.NICFlags{NIC: "host", Addrs: p}, "-nic host uses the host's addresses"},
		{"host with gw", kernel.NICFlags{NIC: "host", GW: gw}, "-nic host uses the host's addresses"},
		{"host with pcap", kernel.NICFlags{NIC: "host", Pcap: "x"}, "-nic host uses the host's addresses"},
		{"packet busy-polling", kernel.NICFlags{NIC: "packet:veth0", Addrs: p, BusyPoll: 50 * time.Microsecond}, ""},
		{"tap busy-polling", kernel.NICFlags{NIC: "tap:tap0", Addrs: p, BusyPoll: time.Millisecond}, ""},
		{"negative busy-poll", kernel.NICFlags{NIC: "packet:veth0", Addrs: p, BusyPoll: -1}, "-busypoll -1ns: negative"},
		{"wire busy-polling", kernel.NICFlags{NIC: "wire", BusyPoll: time.Millisecond}, "-busypoll applies to tap and packet NICs"},
		{"negative ack delay", kernel.NICFlags{NIC: "wire", AckDelay: -time.Microsecond}, "-ackdelay -1µs: negative"},
		{"host busy-polling", kernel.NICFlags{NIC: "host", BusyPoll: time.Millisecond}, "-busypoll applies to tap and packet NICs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate(%+v) = %v, want nil", tc.f, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.f, err, tc.want)
			}
			if tc.want == "" {
				return
			}
			// Boot validates before it opens anything.
			k, err := kernel.Boot(hostedInfo(t), tc.f, kernel.Config{})
			if err == nil {
				k.Close()
				t.Errorf("Boot(%+v) succeeded, want %q", tc.f, tc.want)
			}
		})
	}
}

// TestBootErrors: a Boot that fails after the platform is up returns a
// clear error (it used to panic closing a nil kernel) and leaves nothing
// open.
func TestBootErrors(t *testing.T) {
	p := []netip.Prefix{netip.MustParsePrefix("198.18.0.2/24")}
	missingDir := t.TempDir() + "/missing/x.pcap"
	tests := []struct {
		name   string
		f      kernel.NICFlags
		device bool // pass a wire end as Config.Device
		want   string
	}{
		{"wire without device", kernel.NICFlags{NIC: "wire"}, false, "embedded default"},
		{"packet on a missing interface", kernel.NICFlags{NIC: "packet:gk-missing0", Addrs: p}, false, "gk-missing0"},
		{"tap name too long", kernel.NICFlags{NIC: "tap:a-name-longer-than-ifnamsiz", Addrs: p}, false, "a-name-longer-than-ifnamsiz"},
		{"pcap in a missing directory", kernel.NICFlags{NIC: "wire", Addrs: p, Pcap: missingDir}, true, "-pcap"},
		// BootPair relies on Boot closing the device it was given when it
		// fails: it closes only the other end.
		{"invalid flags with a device", kernel.NICFlags{NIC: "bogus"}, true, `unknown -nic "bogus"`},
		{"address the stack refuses", kernel.NICFlags{NIC: "wire", Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.2/24"), netip.MustParsePrefix("198.18.0.2/24")}}, true, "198.18.0.2"},
	}
	info := hostedInfo(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fd0, _ := fdCounts(t)
			var cfg kernel.Config
			var peer *wire.End
			if tc.device {
				a, b, err := wire.New(wire.Config{})
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				cfg.Device, peer = a, b
			}
			k, err := kernel.Boot(info, tc.f, cfg)
			if err == nil {
				k.Close()
				t.Fatalf("Boot(%+v) succeeded", tc.f)
			}
			if k != nil {
				t.Errorf("Boot returned a kernel with its error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Boot(%+v) = %v, want an error containing %q", tc.f, err, tc.want)
			}
			if peer != nil {
				// The device handed to Boot was closed: its peer sees the
				// cable cut. (Transmit never waits, so this cannot hang.)
				err := peer.Transmit(&netdev.Frame{Segs: [][]byte{make([]byte, 60)}})
				if !errors.Is(err, netdev.ErrLinkGone) {
					t.Errorf("after the failed Boot, the device's peer transmits with error %v, want ErrLinkGone: the device given to Boot was not closed", err)
				}
			}
			if fd, _ := fdCounts(t); fd > fd0 {
				t.Errorf("%d descriptors open after the failed Boot, %d before", fd, fd0)
			}
		})
	}
}

func TestBootPairInvalidWire(t *testing.T) {
	_, _, err := kernel.BootPair(hostedInfo(t), wire.Config{MTU: 10}, kernel.NICFlags{}, kernel.Config{})
	if !errors.Is(err, wire.ErrInvalidConfig) {
		t.Errorf("BootPair with MTU 10: %v, want wire.ErrInvalidConfig", err)
	}
}

// TestNICFailureEndsKernel: a kernel receiving a long transfer whose NIC
// fails (the wire's other end is cut) ends within 10 s with status 1 and a
// clear message, not waiting for TCP to time out.
func TestNICFailureEndsKernel(t *testing.T) {
	var out console
	tx, rx, err := kernel.BootPair(hostedInfo(t), wire.Config{}, kernel.NICFlags{}, kernel.Config{Console: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	defer rx.Close()
	o := ttcp.Options{BufLen: 8192, NumBufs: 1 << 30, Port: 5001, Format: "m"}
	ro, to := o, o
	ro.Receive = true
	to.Transmit, to.Host = true, kernel.EmbeddedReceiver.Addr().String()
	rdone := make(chan int, 1)
	go func() { rdone <- rx.Run("ttcp-r", func(sys *libc.System) int { return ttcp.Main(sys, ro, "wire") }) }()
	waitListening(t, rx.Stack, 5001)
	tdone := make(chan int, 1)
	go func() { tdone <- tx.Run("ttcp-t", func(sys *libc.System) int { return ttcp.Main(sys, to, "wire") }) }()

	// Let data flow, then cut the cable at the transmitter's end.
	deadline := time.Now().Add(30 * time.Second)
	for rx.Stack.GVisor().Stats().TCP.ValidSegmentsReceived.Value() < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("no data flowing after 30 s; console:\n%s", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	nics := tx.Stack.NICs()
	if len(nics) != 1 {
		t.Fatalf("transmitter has NICs %v, want one", nics)
	}
	tx.Stack.Device(nics[0]).Close()
	cut := time.Now()
	select {
	case code := <-rdone:
		if code != 1 {
			t.Errorf("receiver exit status %d, want 1", code)
		}
		t.Logf("receiver ended %v after the cut", time.Since(cut).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatalf("receiver still running 10 s after its NIC failed; console:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "ttcp-r: network interface failed: ") || !strings.Contains(out.String(), netdev.ErrLinkGone.Error()) {
		t.Errorf("console lacks the receiver's NIC failure naming %q:\n%s", netdev.ErrLinkGone, out.String())
	}
	if err := rx.Stack.Err(); !errors.Is(err, netdev.ErrLinkGone) {
		t.Errorf("receiver's Stack.Err() = %v, want netdev.ErrLinkGone", err)
	}
	// The transmitter's own NIC was closed, not failed: closing the kernel
	// ends its blocked program.
	tx.Close()
	select {
	case code := <-tdone:
		if code == 0 {
			t.Errorf("transmitter exit status 0 after its NIC was closed mid-transfer")
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("transmitter still running 30 s after its kernel closed")
	}
}

// fdCounts counts the process's open descriptors and, among them, memfds.
func fdCounts(t testing.TB) (fds, memfds int) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory's own descriptor, closed by now
		}
		fds++
		if strings.HasPrefix(link, "/memfd:") {
			memfds++
		}
	}
	return fds, memfds
}

// memfdMaps counts the process's mappings of memfds.
func memfdMaps(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "/memfd:")
}

// settle waits, bounded, for the goroutine and descriptor counts to come
// back to at most the baseline, and returns the last counts seen.
func settle(t testing.TB, g0, fd0, mem0 int) (g, fd, mem int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g = runtime.NumGoroutine()
		fd, mem = fdCounts(t)
		if (g <= g0 && fd <= fd0 && mem <= mem0) || time.Now().After(deadline) {
			return g, fd, mem
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLifecycle boots and closes a kernel pair 100 times, each with a small
// verified transfer: goroutines, descriptors and memfds come back to their
// starting counts.
func TestLifecycle(t *testing.T) {
	const rounds = 100
	info := hostedInfo(t)
	o := ttcp.Options{BufLen: 4096, NumBufs: 16, Port: 5001, Pattern: true, Format: "m", JSON: true}
	var mem0, maps0 int
	round := func(i int) {
		var out console
		// Every other round with a transmit queue, whose goroutine must end
		// with the kernel too.
		queue := 0
		if i&1 == 1 {
			queue = 1000
		}
		tx, rx, err := kernel.BootPair(info, wire.Config{}, kernel.NICFlags{TxQueue: -1}, kernel.Config{Console: &out, TxQueueLen: queue})
		if err != nil {
			t.Fatalf("round %d: BootPair: %v", i, err)
		}
		defer tx.Close()
		defer rx.Close()
		if i == 0 {
			// The counts can see what a kernel holds: each kernel's
			// physical memory is a mapped memfd.
			_, mem := fdCounts(t)
			if maps := memfdMaps(t); mem < mem0+2 || maps < maps0+2 {
				t.Errorf("with two kernels up: %d memfds and %d memfd mappings, want at least %d and %d", mem, maps, mem0+2, maps0+2)
			}
		}
		tcode, rcode := transfer(t, tx, rx, o, 60*time.Second)
		if tcode != 0 || rcode != 0 || !strings.Contains(out.String(), `"bytes":65536`) {
			t.Fatalf("round %d: ttcp exit statuses %d and %d; console:\n%s", i, tcode, rcode, out.String())
		}
	}
	// One round first, so that whatever the runtime or gVisor set up once
	// per process is not counted as a leak.
	round(-1)
	round(-2)
	g0 := runtime.NumGoroutine()
	var fd0 int
	fd0, mem0 = fdCounts(t)
	maps0 = memfdMaps(t)
	for i := 0; i < rounds; i++ {
		round(i)
	}
	g, fd, mem := settle(t, g0, fd0, mem0)
	maps := memfdMaps(t)
	t.Logf("after %d rounds: %d goroutines (start %d), %d fds (start %d), %d memfds (start %d), %d memfd mappings (start %d)", rounds, g, g0, fd, fd0, mem, mem0, maps, maps0)
	if maps > maps0 {
		t.Errorf("%d memfd mappings after %d rounds, %d before", maps, rounds, maps0)
	}
	if g > g0 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("%d goroutines after %d rounds, %d before:\n%s", g, rounds, g0, buf)
	}
	if fd > fd0 || mem > mem0 {
		t.Errorf("%d fds (%d memfds) after %d rounds, %d (%d) before", fd, mem, rounds, fd0, mem0)
	}
}

// TestTwoPairs runs two kernel pairs at once in one process, on the same
// addresses and ports: kernels share no state.
func TestTwoPairs(t *testing.T) {
	info := hostedInfo(t)
	o := ttcp.Options{BufLen: 8192, NumBufs: 256, Port: 5001, Pattern: true, Format: "m"}
	var wg sync.WaitGroup
	outs := make([]console, 2)
	codes := make([][2]int, 2)
	for i := range outs {
		tx, rx, err := kernel.BootPair(info, wire.Config{}, kernel.NICFlags{}, kernel.Config{Console: &outs[i]})
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Close()
		defer rx.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i][0], codes[i][1] = transfer(t, tx, rx, o, 60*time.Second)
		}()
	}
	wg.Wait()
	for i := range outs {
		out := outs[i].String()
		if codes[i] != [2]int{0, 0} {
			t.Errorf("pair %d: exit statuses %v; console:\n%s", i, codes[i], out)
		}
		if want := fmt.Sprintf("ttcp-r: %d bytes", 256*8192); !strings.Contains(out, want) || !strings.Contains(out, "pattern verified") {
			t.Errorf("pair %d: console lacks %q and pattern verified:\n%s", i, want, out)
		}
	}
}

// TestListenBacklogOne: ttcp and rtcp listen with a backlog of 1, as the
// classic programs do. Linux answers the first SYN of such a listener
// normally; a SYN cookie instead would cost the connection its window
// scaling and SACK (a cookie cannot carry them), capping the receive window
// at 64 KiB. gVisor's listen takes the accept queue's capacity, which is one
// more than the backlog Linux was given (gVisor's own listen(2) adds the
// one); the kit must do the same.
func TestListenBacklogOne(t *testing.T) {
	var out console
	tx, rx, err := kernel.BootPair(hostedInfo(t), wire.Config{}, kernel.NICFlags{}, kernel.Config{Console: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	defer rx.Close()
	o := ttcp.Options{BufLen: 8192, NumBufs: 64, Port: 5001, Pattern: true, Format: "m"}
	if tcode, rcode := transfer(t, tx, rx, o, 60*time.Second); tcode != 0 || rcode != 0 {
		t.Fatalf("exit statuses %d, %d; console:\n%s", tcode, rcode, out.String())
	}
	if n := rx.Stack.GVisor().Stats().TCP.ListenOverflowSynCookieSent.Value(); n != 0 {
		t.Errorf("the receiver (listen backlog 1, no other connection) answered %d SYN(s) with a SYN cookie: the connection lost window scaling and SACK", n)
	}
}
