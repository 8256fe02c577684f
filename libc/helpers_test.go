package libc_test

import (
	"bytes"
	"io"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/kernsupport"
	"github.com/goskit/goskit/libc"
	"github.com/goskit/goskit/netstack"
)

// testPlatform is a platform with a console of buffers and the host clock.
type testPlatform struct {
	mu    sync.Mutex
	in    io.Reader
	out   bytes.Buffer
	start time.Time
}

func newPlatform(input string) *testPlatform {
	return &testPlatform{in: bytes.NewBufferString(input), start: time.Now()}
}

func (p *testPlatform) Console() kernsupport.Console { return (*testConsole)(p) }
func (p *testPlatform) Clock() kernsupport.Clock     { return (*testClock)(p) }
func (p *testPlatform) Logf(string, ...any)          {}
func (p *testPlatform) Close() error                 { return nil }

// Memory is nil: these tests make no allocations (malloc_test.go uses the
// hosted platform and its arena).
func (p *testPlatform) Memory() kernsupport.Memory { return nil }

func (p *testPlatform) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type testConsole testPlatform

func (c *testConsole) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.in.Read(b)
}

func (c *testConsole) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(b)
}

type testClock testPlatform

func (c *testClock) Now() time.Duration    { return time.Since(c.start) }
func (c *testClock) Wall() time.Time       { return time.Now() }
func (c *testClock) Sleep(d time.Duration) { time.Sleep(d) }
func (c *testClock) AfterFunc(d time.Duration, f func()) kernsupport.Timer {
	return time.AfterFunc(d, f)
}

// backend is a pair of Systems, a server and a client, that reach each
// other: the server at srvIP.
type backend struct {
	name     string
	srv, cli *libc.System
	srvIP    netip.Addr
	cliIP    netip.Addr
	foreign  netip.Addr // an address that is no interface's
	srvWire  *wire.End  // the kit's: the server's end of the wire
}

var (
	addrA = netip.MustParsePrefix("198.18.0.1/24")
	addrB = netip.MustParsePrefix("198.18.0.2/24")
)

// kitPair is two kit stacks over the in-memory wire, a System on each.
func kitPair(t testing.TB) backend {
	t.Helper()
	ea, eb, err := wire.New(wire.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := netstack.New(nil, netstack.Config{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := netstack.New(nil, netstack.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	if _, err := a.AddNIC(ea, addrA); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddNIC(eb, addrB); err != nil {
		t.Fatal(err)
	}
	return backend{
		name:    "kit",
		srv:     libc.New(newPlatform(""), libc.Net(b)),
		cli:     libc.New(newPlatform(""), libc.Net(a)),
		srvIP:   addrB.Addr(),
		cliIP:   addrA.Addr(),
		foreign: netip.MustParseAddr("192.0.2.7"),
		srvWire: eb,
	}
}

// hostPair is two Systems on the host's sockets over loopback.
func hostPair(t testing.TB) backend {
	lo := netip.MustParseAddr("127.0.0.1")
	return backend{
		name:    "host",
		srv:     libc.New(newPlatform(""), libc.HostSockets()),
		cli:     libc.New(newPlatform(""), libc.HostSockets()),
		srvIP:   lo,
		cliIP:   lo,
		foreign: netip.MustParseAddr("192.0.2.7"),
	}
}

func backends(t *testing.T, f func(t *testing.T, b backend)) {
	for _, mk := range []func(testing.TB) backend{kitPair, hostPair} {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// must returns v, panicking on a setup failure (a multi-value call cannot
// share an argument list with t).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// listener makes a listening TCP socket on the server and returns it and
// its address.
func listener(t testing.TB, b backend, typFlags int) (int, netip.AddrPort) {
	t.Helper()
	fd := must(b.srv.Socket(syscall.AF_INET, syscall.SOCK_STREAM|typFlags, 0))
	t.Cleanup(func() { b.srv.Close(fd) })
	ok(t, b.srv.Bind(fd, netip.AddrPortFrom(b.srvIP, 0)))
	ok(t, b.srv.Listen(fd, 16))
	ap := must(b.srv.Getsockname(fd))
	return fd, ap
}

// connected returns a connected pair: client fd, server fd.
func connected(t testing.TB, b backend) (int, int) {
	t.Helper()
	lfd, ap := listener(t, b, 0)
	c := must(b.cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
	t.Cleanup(func() { b.cli.Close(c) })
	ok(t, b.cli.Connect(c, ap))
	s, _, err := b.srv.Accept(lfd)
	ok(t, err)
	t.Cleanup(func() { b.srv.Close(s) })
	return c, s
}

// closedPort returns an address on the server where nothing listens.
func closedPort(t testing.TB, b backend) netip.AddrPort {
	t.Helper()
	fd := must(b.srv.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
	ok(t, b.srv.Bind(fd, netip.AddrPortFrom(b.srvIP, 0)))
	ap := must(b.srv.Getsockname(fd))
	ok(t, b.srv.Close(fd))
	return ap
}
