package kernel

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/libc"
)

// Program describes an example kernel's program to Main: how to parse its
// arguments and how to run its roles. The functions share the parsed
// options through the closure that builds the Program.
type Program struct {
	// Name prefixes error messages ("ttcp").
	Name string
	// TxQueueLen is the program's transmit queue choice (Config.TxQueueLen).
	TxQueueLen int
	// Parse parses the program arguments (the words after the boot
	// options) and returns the NIC flags; embedded asks for the embedded
	// default, two kernels over the wire.
	Parse func(args []string) (nic NICFlags, embedded bool, err error)
	// Role names the one role a kernel on a real NIC plays ("ttcp-t"), and
	// Main runs it.
	Role func() string
	Main func(sys *libc.System) int
	// In the embedded default, Server runs on the receiving kernel and
	// closes listening once it accepts connections; then Client runs on the
	// other. ServerRole and ClientRole name them.
	ServerRole, ClientRole string
	Server                 func(sys *libc.System, listening chan<- struct{}) int
	Client                 func(sys *libc.System) int
}

// ServerStartTimeout bounds how long the embedded default waits for its
// server to listen.
const ServerStartTimeout = 10 * time.Second

// Main is an example kernel's main: it builds boot information from args
// (boot options before "--"), parses the program's arguments, sets the
// kernel's CPU count, boots the kernel (or the embedded pair) and runs the
// program, returning its exit status: 2 for a bad command line, 1 for a
// failed boot or a failed NIC. Console output goes to stdout, errors to
// stderr.
func Main(args []string, stdout io.Writer, p Program) int {
	fail := func(status int, format string, a ...any) int {
		fmt.Fprintf(os.Stderr, p.Name+": "+format+"\n", a...)
		return status
	}
	info, err := boot.Hosted(args)
	if err != nil {
		return fail(2, "%v", err)
	}
	nic, embedded, err := p.Parse(info.Args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		return fail(2, "%v", err)
	}
	restore, err := UseCPUs(info)
	if err != nil {
		return fail(2, "%v", err)
	}
	defer restore()
	cfg := Config{Console: stdout, TxQueueLen: p.TxQueueLen}
	if embedded {
		return runPair(info, nic, cfg, p, fail)
	}
	k, err := Boot(info, nic, cfg)
	if err != nil {
		return fail(1, "boot: %v", err)
	}
	defer k.Close()
	return k.Run(p.Role(), p.Main)
}

func runPair(info *boot.Info, nic NICFlags, cfg Config, p Program, fail func(int, string, ...any) int) int {
	cfg.Console = &syncWriter{w: cfg.Console}
	client, server, err := BootPair(info, wire.Config{}, nic, cfg)
	if err != nil {
		return fail(1, "boot: %v", err)
	}
	defer client.Close()
	defer server.Close()
	listening := make(chan struct{})
	var wg sync.WaitGroup
	var serverStatus int
	wg.Add(1)
	go func() {
		defer wg.Done()
		serverStatus = server.Run(p.ServerRole, func(sys *libc.System) int { return p.Server(sys, listening) })
	}()
	select {
	case <-listening:
	case <-time.After(ServerStartTimeout):
		server.Close()
		return fail(1, "%s did not start listening in %v", p.ServerRole, ServerStartTimeout)
	}
	clientStatus := client.Run(p.ClientRole, p.Client)
	wg.Wait()
	return max(clientStatus, serverStatus)
}

// syncWriter lets two kernels share one console writer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
