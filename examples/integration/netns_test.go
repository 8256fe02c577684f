package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/packet"
	"github.com/goskit/goskit/drivers/tap"
	"github.com/goskit/goskit/examples/kernel"
	"github.com/goskit/goskit/examples/programs/rtcp"
	"github.com/goskit/goskit/examples/programs/ttcp"
	"github.com/goskit/goskit/internal/testenv"
	"github.com/goskit/goskit/libc"
	"golang.org/x/sys/unix"
)

// peerSetup is the kit's kernel in namespace K, on the packet driver (the
// veth end vk) or on a TAP device bridged with vk, facing native Linux in
// namespace P on the veth end vp. The kernel sides of what the kit drives
// have no address and IPv6 off, so every answer on the link is the kit's.
type peerSetup struct {
	kind       string // "packet" or "tap"
	K, P       *testenv.Netns
	kit        *kernel.Kernel
	out        *console
	nic        string // the kernel's -nic value
	ifname     string // the interface in K the kit's NIC is on
	mac        net.HardwareAddr
	kit4, kit6 netip.Addr
	lnx4, lnx6 netip.Addr
	subnet     int
}

// newPeerSetup builds the namespaces, links and kernel. subnet picks
// 198.18.subnet.0/24 and 2001:2:subnet::/64.
func newPeerSetup(t *testing.T, kind string, subnet int) *peerSetup {
	t.Helper()
	testenv.NeedRoot(t)
	s := &peerSetup{
		kind:   kind,
		K:      testenv.NewNetns(t, "kit"),
		P:      testenv.NewNetns(t, "lnx"),
		out:    &console{},
		kit4:   netip.MustParseAddr(fmt.Sprintf("198.18.%d.2", subnet)),
		lnx4:   netip.MustParseAddr(fmt.Sprintf("198.18.%d.1", subnet)),
		kit6:   netip.MustParseAddr(fmt.Sprintf("2001:2:%x::2", subnet)),
		lnx6:   netip.MustParseAddr(fmt.Sprintf("2001:2:%x::1", subnet)),
		subnet: subnet,
	}
	testenv.Veth(t, s.K, "vk", s.P, "vp")
	s.K.HostSide(t, "vk")
	s.P.IP(t, "addr", "add", s.lnx4.String()+"/24", "dev", "vp")
	s.P.IP(t, "addr", "add", s.lnx6.String()+"/64", "dev", "vp", "nodad")

	var dev netdev.Device
	booted := false
	t.Cleanup(func() {
		if dev != nil && !booted {
			dev.Close() // a failed setup (Close is idempotent); a booted kernel closes its own
		}
	})
	switch kind {
	case "packet":
		s.ifname = "vk"
		if err := s.K.Do(func() (err error) { dev, err = packet.Open("vk"); return err }); err != nil {
			t.Fatalf("packet.Open(vk) in %s: %v", s.K.Name, err)
		}
	case "tap":
		s.ifname = "gktap"
		// Created inside K, then bridged there with the veth end.
		if err := s.K.Do(func() (err error) { dev, err = tap.Open(s.ifname); return err }); err != nil {
			t.Fatalf("tap.Open(%s) in %s: %v", s.ifname, s.K.Name, err)
		}
		s.K.IP(t, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
		for _, ifname := range []string{"br0", s.ifname} {
			s.K.HostSide(t, ifname)
		}
		for _, ifname := range []string{"vk", s.ifname} {
			s.K.IP(t, "link", "set", ifname, "master", "br0")
		}
		for _, ifname := range []string{"br0", s.ifname} {
			s.K.IP(t, "link", "set", ifname, "up")
		}
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	s.mac = dev.Info().MAC
	s.nic = kind + ":" + s.ifname
	f := ttcpConfig.flags
	f.NIC = s.nic
	f.Addrs = []netip.Prefix{netip.PrefixFrom(s.kit4, 24), netip.PrefixFrom(s.kit6, 64)}
	k, err := kernel.Boot(hostedInfo(t), f, kernel.Config{Console: s.out, Device: dev, TxQueueLen: ttcpConfig.queue})
	if err != nil {
		t.Fatalf("kernel.Boot on %s: %v", s.nic, err)
	}
	booted = true
	s.kit = k
	t.Cleanup(k.Close)
	return s
}

// linux starts the test binary as program (ttcp or rtcp) on host sockets
// in P. The process is killed if it is still running after timeout.
func (s *peerSetup) linux(t *testing.T, timeout time.Duration, program string, args ...string) *linuxProc {
	t.Helper()
	return startIn(t, s.P, timeout, program, append([]string{"-nic", "host"}, args...)...)
}

// startIn starts the test binary as program (ttcp or rtcp) with args in
// namespace ns (ip netns exec). The process is killed if it is still
// running after timeout, or when the test ends.
func startIn(t *testing.T, ns *testenv.Netns, timeout time.Duration, program string, args ...string) *linuxProc {
	t.Helper()
	testenv.NeedTool(t, "ip")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, exe}, args...)...)
	cmd.Env = append(os.Environ(), programEnv+"="+program)
	p := &linuxProc{cmd: cmd, cancel: cancel, done: make(chan struct{}), what: program + " " + strings.Join(args, " ")}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s in %s: %v", p.what, ns.Name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.cancel(); <-p.done })
	return p
}

// linuxProc is a program running in a namespace: Linux's side of a test
// (on host sockets), or a kit kernel run from its command line.
type linuxProc struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan struct{}
	out    console // complete after done
	err    error
	what   string
}

// wait waits for the program to end and returns its output; it fails the
// test if the program failed or was killed.
func (p *linuxProc) wait(t *testing.T) string {
	t.Helper()
	<-p.done
	if p.err != nil {
		t.Fatalf("Linux %s: %v; output:\n%s", p.what, p.err, p.out.String())
	}
	return p.out.String()
}

// waitLinuxListening waits until a TCP socket in P listens on port.
func (s *peerSetup) waitLinuxListening(t *testing.T, port int, p *linuxProc) {
	t.Helper()
	testenv.NeedTool(t, "ss")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := s.P.Exec("ss", "-Hltn", fmt.Sprintf("sport = :%d", port))
		if err == nil && strings.Contains(string(out), "LISTEN") {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("Linux %s ended before listening: %v; output:\n%s", p.what, p.err, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on port %d in %s after 30 s (ss: %v %s)", port, s.P.Name, err, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runKit runs a program on the kit's kernel and returns its exit status; a
// program still running after timeout fails the test (the kernel is closed
// to end it).
func (s *peerSetup) runKit(t *testing.T, timeout time.Duration, name string, program func(*libc.System) int) int {
	t.Helper()
	done := s.startKit(name, program)
	select {
	case code := <-done:
		return code
	case <-time.After(timeout):
		s.kit.Close()
		t.Fatalf("kit's %s still running after %v; console:\n%s", name, timeout, s.out.String())
		return -1
	}
}

func (s *peerSetup) startKit(name string, program func(*libc.System) int) <-chan int {
	done := make(chan int, 1)
	go func() { done <- s.kit.Run(name, program) }()
	return done
}

// kitToLinux: the kit transmits a verified ttcp to Linux at to.
func (s *peerSetup) kitToLinux(t *testing.T, to netip.Addr, port int) {
	t.Helper()
	lin := s.linux(t, 60*time.Second, "ttcp", "-r", "-s", "-p", fmt.Sprint(port))
	s.waitLinuxListening(t, port, lin)
	o := ttcpOpts(verifiedBufs(), port)
	o.Transmit, o.Host = true, to.String()
	before := len(s.out.String())
	if code := s.runKit(t, 60*time.Second, "ttcp-t", func(sys *libc.System) int { return ttcp.Main(sys, o, s.nic) }); code != 0 {
		t.Fatalf("kit's ttcp -t to %v: exit status %d; console:\n%s", to, code, s.out.String()[before:])
	}
	got := lin.wait(t)
	if !strings.Contains(got, verifiedLine(o.NumBufs)) || !strings.Contains(got, "(pattern verified)") {
		t.Errorf("Linux receiver did not verify %d bytes:\n%s", o.NumBufs*8192, got)
	}
}

// linuxToKit: Linux transmits a verified ttcp to the kit at to.
func (s *peerSetup) linuxToKit(t *testing.T, to netip.Addr, port int) {
	t.Helper()
	o := ttcpOpts(verifiedBufs(), port)
	o.Receive = true
	before := len(s.out.String())
	done := s.startKit("ttcp-r", func(sys *libc.System) int { return ttcp.Main(sys, o, s.nic) })
	waitListening(t, s.kit.Stack, uint16(port))
	lin := s.linux(t, 60*time.Second, "ttcp", "-t", "-s", "-n", fmt.Sprint(o.NumBufs), "-p", fmt.Sprint(port), to.String())
	got := lin.wait(t)
	if !strings.Contains(got, fmt.Sprintf("ttcp-t: %d bytes in", o.NumBufs*8192)) {
		t.Errorf("Linux transmitter's summary missing:\n%s", got)
	}
	select {
	case code := <-done:
		console := s.out.String()[before:]
		if code != 0 || !strings.Contains(console, verifiedLine(o.NumBufs)) || !strings.Contains(console, "(pattern verified)") {
			t.Errorf("kit's ttcp -r: exit status %d; console:\n%s", code, console)
		}
	case <-time.After(30 * time.Second):
		s.kit.Close()
		t.Fatalf("kit's receiver still running 30 s after Linux's transmitter ended; console:\n%s", s.out.String()[before:])
	}
}

// rtcpKitClient: the kit measures round trips to a Linux server.
func (s *peerSetup) rtcpKitClient(t *testing.T, to netip.Addr, port int) {
	t.Helper()
	lin := s.linux(t, 60*time.Second, "rtcp", "-r", "-p", fmt.Sprint(port))
	s.waitLinuxListening(t, port, lin)
	o := rtcp.Options{Count: 500, Warmup: 50, Port: port, JSON: true, Host: to.String()}
	before := len(s.out.String())
	if code := s.runKit(t, 60*time.Second, "rtcp", func(sys *libc.System) int { return rtcp.Main(sys, o) }); code != 0 {
		t.Fatalf("kit's rtcp to %v: exit status %d; console:\n%s", to, code, s.out.String()[before:])
	}
	checkRTCPJSON(t, s.out.String()[before:], 500)
	lin.wait(t)
}

// rtcpLinuxClient: Linux measures round trips to the kit's server.
func (s *peerSetup) rtcpLinuxClient(t *testing.T, to netip.Addr, port int) {
	t.Helper()
	o := rtcp.Options{Server: true, Port: port}
	before := len(s.out.String())
	done := s.startKit("rtcp-r", func(sys *libc.System) int { return rtcp.Main(sys, o) })
	waitListening(t, s.kit.Stack, uint16(port))
	lin := s.linux(t, 60*time.Second, "rtcp", "-n", "500", "-w", "50", "-json", "-p", fmt.Sprint(port), to.String())
	checkRTCPJSON(t, lin.wait(t), 500)
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("kit's rtcp -r: exit status %d; console:\n%s", code, s.out.String()[before:])
		}
	case <-time.After(30 * time.Second):
		s.kit.Close()
		t.Fatalf("kit's rtcp server still running 30 s after the client ended")
	}
}

func checkRTCPJSON(t *testing.T, out string, count int) {
	t.Helper()
	var st rtcp.Stats
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &st); err != nil {
		t.Fatalf("rtcp -json output is not one JSON object: %v:\n%s", err, out)
	}
	if st.Count != count || st.MinUS <= 0 || st.MinUS > st.MedianUS || st.MedianUS > st.MaxUS {
		t.Errorf("rtcp statistics %+v: want %d round trips, 0 < min <= median <= max", st, count)
	}
}

// ping pings the kit from P.
func (s *peerSetup) ping(t *testing.T, v6 bool) {
	t.Helper()
	testenv.NeedTool(t, "ping")
	args := []string{"-c", "3", "-i", "0.2", "-W", "5", s.kit4.String()}
	if v6 {
		args = []string{"-6", "-c", "3", "-i", "0.2", "-W", "5", s.kit6.String()}
	}
	out, err := s.P.Exec("ping", args...)
	if err != nil {
		t.Fatalf("ping %v: %v", args, err)
	}
	if !strings.Contains(string(out), "3 packets transmitted, 3 received") {
		t.Errorf("ping %v: not every echo answered:\n%s", args, out)
	}
}

// rawGarbage sends n random and malformed frames at the kit from an
// AF_PACKET socket on vp in P.
func (s *peerSetup) rawGarbage(t *testing.T, n int) {
	t.Helper()
	g := newGarbage(uint64(s.subnet), victim{
		mac: s.mac, ip4: s.kit4, ip6: s.kit6,
		fake4:   netip.MustParseAddr(fmt.Sprintf("198.18.%d.99", s.subnet)),
		fake6:   netip.MustParseAddr(fmt.Sprintf("2001:2:%x::99", s.subnet)),
		fakeMAC: net.HardwareAddr{0x02, 0xba, 0xd0, 0, 0, 0x99},
		maxLen:  1514, listenPort: 5001,
	})
	var sent, refused int
	err := s.P.Do(func() error {
		ifi, err := net.InterfaceByName("vp")
		if err != nil {
			return err
		}
		proto := int(htons(unix.ETH_P_ALL))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return fmt.Errorf("AF_PACKET socket: %w", err)
		}
		defer unix.Close(fd)
		sa := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Protocol: htons(unix.ETH_P_ALL)}
		if err := unix.Bind(fd, sa); err != nil {
			return fmt.Errorf("bind to vp: %w", err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for i := 0; i < n; i++ {
			if time.Now().After(deadline) {
				return fmt.Errorf("sending %d frames took over 60 s (at %d)", n, i)
			}
			f, _ := g.next()
			switch err := unix.Sendto(fd, f, 0, sa); {
			case err == nil:
				sent++
			case errors.Is(err, unix.ENOBUFS):
				time.Sleep(time.Millisecond)
			case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EMSGSIZE):
				refused++ // shorter than an Ethernet header, or longer than the MTU
			default:
				return fmt.Errorf("sendto frame %d (%d bytes): %w", i, len(f), err)
			}
			if i%100 == 99 {
				time.Sleep(time.Millisecond) // let the kit's receiver keep up
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st := s.kit.Stack.GVisor().Stats()
	t.Logf("sent %d frames from P (Linux refused %d); kit: IP malformed %d, TCP invalid segments %d, ARP malformed %d",
		sent, refused, st.IP.MalformedPacketsReceived.Value(), st.TCP.InvalidSegmentsReceived.Value(), st.ARP.MalformedPacketsReceived.Value())
	if sent < n/2 {
		t.Errorf("only %d of %d frames were sent", sent, n)
	}
	if st.IP.MalformedPacketsReceived.Value() == 0 {
		t.Errorf("the kit counted no malformed IP packets: the garbage did not reach it")
	}
	if err := s.kit.Stack.Err(); err != nil {
		t.Fatalf("the kit's NIC failed under garbage: %v", err)
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// TestLinuxPeer runs the kit against native Linux in another namespace,
// on the packet driver and on TAP: first thousands of malformed frames from
// a raw socket in Linux's namespace, then Linux's ping and ping -6 of the
// kit, verified ttcp transfers both ways over IPv4 and IPv6, and rtcp both
// ways. The steps share one kernel, so each runs on a stack that has had
// everything before it.
func TestLinuxPeer(t *testing.T) {
	for i, kind := range []string{"packet", "tap"} {
		t.Run(kind, func(t *testing.T) {
			s := newPeerSetup(t, kind, 20+i)
			steps := []struct {
				name string
				run  func(t *testing.T)
			}{
				{"garbage from a raw socket", func(t *testing.T) { s.rawGarbage(t, 5000) }},
				{"ping", func(t *testing.T) { s.ping(t, false) }},
				{"ping -6", func(t *testing.T) { s.ping(t, true) }},
				{"ttcp kit to Linux IPv4", func(t *testing.T) { s.kitToLinux(t, s.lnx4, 5001) }},
				{"ttcp Linux to kit IPv4", func(t *testing.T) { s.linuxToKit(t, s.kit4, 5002) }},
				{"ttcp kit to Linux IPv6", func(t *testing.T) { s.kitToLinux(t, s.lnx6, 5003) }},
				{"ttcp Linux to kit IPv6", func(t *testing.T) { s.linuxToKit(t, s.kit6, 5004) }},
				{"rtcp kit to Linux", func(t *testing.T) { s.rtcpKitClient(t, s.lnx4, 5005) }},
				{"rtcp Linux to kit IPv6", func(t *testing.T) { s.rtcpLinuxClient(t, s.kit6, 5006) }},
			}
			for _, step := range steps {
				if !t.Run(step.name, step.run) {
					break // later steps would only repeat the failure
				}
			}
			if err := s.kit.Stack.Err(); err != nil {
				t.Errorf("the kit's stack failed: %v", err)
			}
		})
	}
}

// TestLinkGone deletes the kit's interface while Linux sends it a long
// transfer: the kit's kernel ends within 10 s with status 1 and says why.
func TestLinkGone(t *testing.T) {
	for i, kind := range []string{"packet", "tap"} {
		t.Run(kind, func(t *testing.T) {
			s := newPeerSetup(t, kind, 30+i)
			o := ttcpOpts(2048, 5001)
			o.Receive, o.Pattern = true, false
			done := s.startKit("ttcp-r", func(sys *libc.System) int { return ttcp.Main(sys, o, s.nic) })
			waitListening(t, s.kit.Stack, 5001)
			// About 800 GB: far more than it can send before the link goes.
			lin := s.linux(t, 60*time.Second, "ttcp", "-t", "-n", "100000000", "-p", "5001", s.kit4.String())

			deadline := time.Now().Add(30 * time.Second)
			for s.kit.Stack.GVisor().Stats().TCP.ValidSegmentsReceived.Value() < 1000 {
				if time.Now().After(deadline) {
					t.Fatalf("no data flowing after 30 s; console:\n%s", s.out.String())
				}
				select {
				case <-lin.done:
					t.Fatalf("Linux transmitter ended early: %v\n%s", lin.err, lin.out.String())
				default:
				}
				time.Sleep(time.Millisecond)
			}
			s.K.IP(t, "link", "del", s.ifname)
			deleted := time.Now()
			select {
			case code := <-done:
				t.Logf("kit ended %v after ip link del %s", time.Since(deleted).Round(time.Millisecond), s.ifname)
				if code != 1 {
					t.Errorf("kit's exit status %d, want 1", code)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("kit still running 10 s after its interface %s was deleted; console:\n%s", s.ifname, s.out.String())
			}
			if got := s.out.String(); !strings.Contains(got, "ttcp-r: network interface failed: ") {
				t.Errorf("console lacks the NIC failure message:\n%s", got)
			}
			if err := s.kit.Stack.Err(); !errors.Is(err, netdev.ErrLinkGone) {
				t.Errorf("Stack.Err() = %v, want netdev.ErrLinkGone", err)
			}
		})
	}
}
