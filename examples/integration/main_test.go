// Package integration tests the example kernels as a user meets them: over
// a faulty wire, under a flood of malformed frames, against native Linux
// TCP in another network namespace (on the packet and TAP drivers), and when
// their interface disappears mid-transfer. It has only tests.
//
// Tests that need namespaces run as root (and skip otherwise, or fail under
// CI=true). The Linux side of those tests runs the same ttcp and rtcp
// programs on host sockets (-nic host): the test binary re-executes itself
// under "ip netns exec" with GOSKIT_INTEGRATION_PROGRAM naming the program,
// and TestMain runs it instead of the tests.
package integration

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/examples/kernel"
	"github.com/goskit/goskit/examples/programs/rtcp"
	"github.com/goskit/goskit/examples/programs/ttcp"
	"github.com/goskit/goskit/libc"
	"github.com/goskit/goskit/netstack"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// programEnv names the program a re-executed test binary runs.
const programEnv = "GOSKIT_INTEGRATION_PROGRAM"

func TestMain(m *testing.M) {
	switch p := os.Getenv(programEnv); p {
	case "":
		os.Exit(m.Run())
	case "ttcp":
		os.Exit(ttcp.Run(append([]string{"ttcp"}, os.Args[1:]...), os.Stdout))
	case "rtcp":
		os.Exit(rtcp.Run(append([]string{"rtcp"}, os.Args[1:]...), os.Stdout))
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: want ttcp or rtcp\n", programEnv, p)
		os.Exit(2)
	}
}

// console is a kernel console tests read while kernels write to it.
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
	info, err := boot.Hosted([]string{"integration.test"})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// ttcpConfig is the kernel configuration ttcp.Run gives its kernels: the
// program's transmit queue choice unless -txqueue says otherwise.
var ttcpConfig = struct {
	flags kernel.NICFlags
	queue int
}{kernel.NICFlags{TxQueue: -1}, ttcp.TxQueueLen}

// waitListening waits until a TCP endpoint of the kit's stack listens on
// port.
func waitListening(t testing.TB, st *netstack.Stack, port uint16) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !listening(st.GVisor(), port) {
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on port %d of the kit's stack after 30 s", port)
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

// verifiedBufs is how many 8 KiB buffers a verified transfer sends: 16 MiB,
// or 4 MiB under -short (the race detector's run; the full size runs
// without it).
func verifiedBufs() int {
	if testing.Short() {
		return 512
	}
	return 2048
}

// verifiedLine is what a receiver's summary of a verified transfer of nbuf
// buffers starts with.
func verifiedLine(nbuf int) string { return fmt.Sprintf("ttcp-r: %d bytes in ", nbuf*8192) }

// ttcpOpts are verified-transfer options: nbuf buffers of 8 KiB on port.
func ttcpOpts(nbuf, port int) ttcp.Options {
	return ttcp.Options{BufLen: 8192, NumBufs: nbuf, Port: port, Pattern: true, Format: "m"}
}

// kitTransfer runs a ttcp transfer between two kit kernels, receiver first,
// and returns both exit statuses. A transfer still running after timeout
// fails the test (both kernels are closed to end it).
func kitTransfer(t testing.TB, tx, rx *kernel.Kernel, to netip.Addr, o ttcp.Options, timeout time.Duration) (tcode, rcode int) {
	t.Helper()
	ro, tOpts := o, o
	ro.Transmit, ro.Receive, ro.Host = false, true, ""
	tOpts.Transmit, tOpts.Receive, tOpts.Host = true, false, to.String()
	rdone := make(chan int, 1)
	go func() { rdone <- rx.Run("ttcp-r", func(sys *libc.System) int { return ttcp.Main(sys, ro, "wire") }) }()
	waitListening(t, rx.Stack, uint16(o.Port))
	tdone := make(chan int, 1)
	go func() { tdone <- tx.Run("ttcp-t", func(sys *libc.System) int { return ttcp.Main(sys, tOpts, "wire") }) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for got := 0; got < 2; got++ {
		select {
		case tcode = <-tdone:
		case rcode = <-rdone:
		case <-timer.C:
			tx.Close()
			rx.Close()
			t.Fatalf("ttcp transfer to %v did not end within %v", to, timeout)
		}
	}
	return tcode, rcode
}
