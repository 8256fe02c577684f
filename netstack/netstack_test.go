package netstack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/netstack"
	"golang.org/x/net/nettest"
)

var (
	addrA  = netip.MustParsePrefix("198.18.0.1/24")
	addrB  = netip.MustParsePrefix("198.18.0.2/24")
	addrA6 = netip.MustParsePrefix("2001:2::1/64")
	addrB6 = netip.MustParsePrefix("2001:2::2/64")
)

// pair makes two stacks joined by a wire, each with an IPv4 and an IPv6
// address, closed at the end of the test.
func pair(t testing.TB, cfg wire.Config) (a, b *netstack.Stack) {
	t.Helper()
	return pairConfig(t, cfg, netstack.Config{})
}

func pairConfig(t testing.TB, cfg wire.Config, scfg netstack.Config) (a, b *netstack.Stack) {
	t.Helper()
	a, b, _, _ = pairEnds(t, cfg, scfg)
	return a, b
}

// pairEnds is pairConfig that also returns the wire's ends, whose counters
// tell how many frames each side sent.
func pairEnds(t testing.TB, cfg wire.Config, scfg netstack.Config) (a, b *netstack.Stack, ea, eb *wire.End) {
	t.Helper()
	ea, eb, err := wire.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err = netstack.New(nil, scfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err = netstack.New(nil, scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	if _, err := a.AddNIC(ea, addrA, addrA6); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddNIC(eb, addrB, addrB6); err != nil {
		t.Fatal(err)
	}
	return a, b, ea, eb
}

// dial connects a to addr, failing the test (or benchmark) if it cannot
// within 10 s; the connection is closed when the test ends.
func dial(t testing.TB, a *netstack.Stack, addr string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := a.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConnContract(t *testing.T) {
	for _, tc := range []struct {
		name     string
		listen   string
		dial     netip.Prefix
		ackDelay time.Duration
	}{
		{"ipv4", "198.18.0.2:0", addrB, 0},
		{"ipv6", "[2001:2::2]:0", addrB6, 0},
		{"ipv4 delayed ACK", "198.18.0.2:0", addrB, 50 * time.Microsecond},
		{"ipv6 delayed ACK", "[2001:2::2]:0", addrB6, 50 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pairConfig(t, wire.Config{}, netstack.Config{AckDelay: tc.ackDelay})
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				l, err := b.Listen("tcp", tc.listen)
				if err != nil {
					return nil, nil, nil, err
				}
				defer l.Close()
				type res struct {
					c   net.Conn
					err error
				}
				ch := make(chan res, 1)
				go func() {
					c, err := l.Accept()
					ch <- res{c, err}
				}()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c1, err = a.Dial(ctx, "tcp", l.Addr().String())
				if err != nil {
					return nil, nil, nil, err
				}
				r := <-ch
				if r.err != nil {
					c1.Close()
					return nil, nil, nil, r.err
				}
				return c1, r.c, func() { c1.Close(); r.c.Close() }, nil
			})
		})
	}
}

func TestHTTPOverWire(t *testing.T) {
	a, b := pair(t, wire.Config{})
	l, err := b.Listen("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("goskit ", 100000)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s\n%s", r.Method, r.URL.Path, body)
	})}
	go srv.Serve(l)
	defer srv.Close()
	client := &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, netw, addr string) (net.Conn, error) {
			return a.Dial(ctx, netw, addr)
		}},
	}
	defer client.CloseIdleConnections()
	for i := range 3 {
		resp, err := client.Get(fmt.Sprintf("http://198.18.0.2/page%d", i))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("GET /page%d\n%s", i, body)
		if string(got) != want {
			t.Fatalf("request %d: body of %d bytes, want %d", i, len(got), len(want))
		}
	}
}

func TestUDPEcho(t *testing.T) {
	for _, tc := range []struct{ name, server, client string }{
		{"ipv4", "198.18.0.2:7", "198.18.0.1:0"},
		{"ipv6", "[2001:2::2]:7", "[2001:2::1]:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pair(t, wire.Config{})
			srv, err := b.ListenPacket("udp", tc.server)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			go func() {
				buf := make([]byte, 65536)
				for {
					n, from, err := srv.ReadFrom(buf)
					if err != nil {
						return
					}
					srv.WriteTo(buf[:n], from)
				}
			}()
			cl, err := a.ListenPacket("udp", tc.client)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			to, _ := net.ResolveUDPAddr("udp", tc.server)
			buf := make([]byte, 65536)
			for i, size := range []int{1, 100, 1400, 8000, 60000} {
				msg := bytes.Repeat([]byte{byte(i + 1)}, size)
				// UDP may lose the first datagram while ARP/NDP resolves;
				// retry a bounded number of times.
				var n int
				for try := 0; ; try++ {
					if _, err := cl.WriteTo(msg, to); err != nil {
						t.Fatal(err)
					}
					cl.SetReadDeadline(time.Now().Add(time.Second))
					n, _, err = cl.ReadFrom(buf)
					if err == nil || try == 5 {
						break
					}
				}
				if err != nil {
					t.Fatalf("size %d: %v", size, err)
				}
				if !bytes.Equal(buf[:n], msg) {
					t.Fatalf("size %d: echo of %d bytes differs", size, n)
				}
			}
		})
	}
}

func TestBulkTransferWithFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("bulk transfer with faults is not short")
	}
	for _, tc := range []struct {
		seed     uint64
		ackDelay time.Duration
	}{{1, 0}, {7, 0}, {3, 50 * time.Microsecond}} {
		t.Run(fmt.Sprintf("seed%d ackdelay %v", tc.seed, tc.ackDelay), func(t *testing.T) {
			faults := wire.Faults{Loss: 0.01, Duplicate: 0.01, Reorder: 0.01, Corrupt: 0.01}
			a, b := pairConfig(t, wire.Config{Seed: tc.seed, Faults: faults}, netstack.Config{AckDelay: tc.ackDelay})
			transfer(t, a, b, 4<<20)
		})
	}
}

// transfer sends n pattern bytes from a to b and checks every byte.
func transfer(t *testing.T, a, b *netstack.Stack, n int) {
	t.Helper()
	l, err := b.Listen("tcp", "198.18.0.2:5001")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 65536)
		off := 0
		for {
			m, err := c.Read(buf)
			for i := 0; i < m; i++ {
				if buf[i] != byte((off+i)%251) {
					done <- fmt.Errorf("byte %d is %d, want %d", off+i, buf[i], byte((off+i)%251))
					return
				}
			}
			off += m
			if err == io.EOF {
				if off != n {
					err = fmt.Errorf("got %d bytes, want %d", off, n)
				} else {
					err = nil
				}
				done <- err
				return
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := a.Dial(ctx, "tcp", "198.18.0.2:5001")
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i % 251)
	}
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("receiver did not finish in 60 s")
	}
}

func TestCloseReleasesEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 20 {
		ea, eb, err := wire.New(wire.Config{})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := netstack.New(nil, netstack.Config{})
		b, _ := netstack.New(nil, netstack.Config{})
		a.AddNIC(ea, addrA)
		b.AddNIC(eb, addrB)
		transfer(t, a, b, 1<<20)
		a.Close()
		b.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after closing, %d before\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []netstack.Config{
		{CongestionControl: "vegas"},
		{SendBufferMax: 4096, SendBufferDefault: 8192},
	} {
		if _, err := netstack.New(nil, cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
