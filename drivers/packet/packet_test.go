package packet_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/packet"
	"github.com/goskit/goskit/internal/testenv"
	"github.com/goskit/goskit/internal/testenv/devtest"
)

var (
	kitIP   = netip.MustParseAddr("198.18.8.2")
	linuxIP = netip.MustParseAddr("198.18.8.1")
)

// setup makes a namespace with a veth pair: the kit drives vethA (no
// address, IPv6 off), Linux has linuxIP/24 on vethB.
func setup(t *testing.T, prefix string) *testenv.Netns {
	t.Helper()
	ns := testenv.NewNetns(t, prefix)
	ns.IP(t, "link", "add", "vethA", "type", "veth", "peer", "name", "vethB")
	ns.HostSide(t, "vethA")
	ns.Sysctl(t, "net.ipv6.conf.vethB.disable_ipv6", "1")
	ns.IP(t, "addr", "add", linuxIP.String()+"/24", "dev", "vethB")
	ns.IP(t, "link", "set", "vethA", "up")
	ns.IP(t, "link", "set", "vethB", "up")
	return ns
}

func open(t testing.TB, ns *testenv.Netns, ifname string, opts ...packet.Option) *packet.Device {
	t.Helper()
	var d *packet.Device
	if err := ns.Do(func() (err error) { d, err = packet.Open(ifname, opts...); return err }); err != nil {
		t.Fatalf("packet.Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestInfo(t *testing.T) {
	ns := setup(t, "pktinfo")
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x31}
	tests := []struct {
		name    string
		opts    []packet.Option
		wantMTU int
		wantMAC net.HardwareAddr
		wantErr bool
	}{
		{name: "defaults", wantMTU: 1500},
		{name: "mac", opts: []packet.Option{packet.WithMAC(mac)}, wantMTU: 1500, wantMAC: mac},
		{name: "lower mtu", opts: []packet.Option{packet.WithMTU(1400)}, wantMTU: 1400},
		{name: "mtu above interface", opts: []packet.Option{packet.WithMTU(9000)}, wantErr: true},
		{name: "multicast mac", opts: []packet.Option{packet.WithMAC(net.HardwareAddr{1, 0, 0, 0, 0, 1})}, wantErr: true},
		{name: "all options", opts: []packet.Option{packet.WithoutPromisc(), packet.WithQdiscBypass(), packet.WithSocketBuffers(1<<20, 1<<20)}, wantMTU: 1500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d *packet.Device
			err := ns.Do(func() (err error) { d, err = packet.Open("vethA", tc.opts...); return err })
			if tc.wantErr {
				if err == nil {
					d.Close()
					t.Fatal("Open succeeded, want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			i := d.Info()
			if i.Name != "packet:vethA" || i.MTU != tc.wantMTU {
				t.Errorf("Info = %+v, want name packet:vethA, MTU %d", i, tc.wantMTU)
			}
			if tc.wantMAC != nil && i.MAC.String() != tc.wantMAC.String() {
				t.Errorf("MAC = %v, want %v", i.MAC, tc.wantMAC)
			}
			want := netdev.FeatureTxChecksum | netdev.FeatureTSO4 | netdev.FeatureTSO6 | netdev.FeatureRxChecksum | netdev.FeatureRxGSO
			if i.Features != want || i.MaxGSOSize < 65535 {
				t.Errorf("Features = %v, MaxGSOSize %d; want %v, >= 65535", i.Features, i.MaxGSOSize, want)
			}
		})
	}
	t.Run("no such interface", func(t *testing.T) {
		err := ns.Do(func() error { _, err := packet.Open("nosuch0"); return err })
		if err == nil {
			t.Fatal("Open of a missing interface succeeded")
		}
	})
}

func TestPing(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []packet.Option
	}{{"default", nil}, {"busy poll", []packet.Option{packet.WithBusyPoll(200 * time.Microsecond)}}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := setup(t, "pktping")
			s := devtest.Start(t, open(t, ns, "vethA", tc.opts...), kitIP)
			s.Ping(t, linuxIP, 5*time.Second)
		})
	}
}

func TestTransmitErrors(t *testing.T) {
	ns := setup(t, "pkttxerr")
	devtest.CheckTransmitErrors(t, open(t, ns, "vethA"), kitIP, linuxIP)
}

func TestLinkGone(t *testing.T) {
	for _, tc := range []struct {
		name string
		down bool // take the link down first, delete it later
	}{{"delete", false}, {"down then delete", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := setup(t, "pktgone")
			d := open(t, ns, "vethA")
			s := devtest.Start(t, d, kitIP)
			s.Resolve(t, linuxIP, 5*time.Second)
			if tc.down {
				ns.IP(t, "link", "set", "vethA", "down")
				time.Sleep(500 * time.Millisecond)
				if !s.Running() {
					t.Fatalf("receiver ended on a down link: %v", s.Err(0))
				}
				f := devtest.ARP(1, s.MAC, kitIP, nil, linuxIP)
				if err := s.Transmit(f, netdev.Offload{}); err != nil {
					t.Fatalf("Transmit on a down link: %v, want nil (frame lost)", err)
				}
			}
			start := time.Now()
			ns.IP(t, "link", "del", "vethA")
			err := s.Err(5 * time.Second)
			if !errors.Is(err, netdev.ErrLinkGone) {
				t.Fatalf("Receive after ip link del: %v, want ErrLinkGone", err)
			}
			t.Logf("Receive returned after %v: %v", time.Since(start), err)
			f := devtest.ARP(1, s.MAC, kitIP, nil, linuxIP)
			if err := d.Transmit(&netdev.Frame{Segs: [][]byte{f}}); !errors.Is(err, netdev.ErrLinkGone) {
				t.Fatalf("Transmit after ip link del: %v, want ErrLinkGone", err)
			}
		})
	}
}

func fdCount(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestCloseWhileReceivingAndSending(t *testing.T) {
	ns := setup(t, "pktclose")
	g0, fd0 := runtime.NumGoroutine(), fdCount(t)
	for i := 0; i < 20; i++ {
		// Every other device busy-polls, with a window far longer than the
		// test waits: Close must end the spinning receive, not the window.
		var opts []packet.Option
		if i%2 == 1 {
			opts = append(opts, packet.WithBusyPoll(time.Hour))
		}
		var d *packet.Device
		if err := ns.Do(func() (err error) { d, err = packet.Open("vethA", opts...); return err }); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			slots := []netdev.RxSlot{{Bufs: [][]byte{make([]byte, 2048)}}, {Bufs: [][]byte{make([]byte, 2048)}}}
			_, err := d.ReceiveBatch(slots)
			errc <- err
		}()
		txc := make(chan error, 1)
		go func() { // a transmitter racing with Close
			f := &netdev.Frame{Segs: [][]byte{make([]byte, 60)}}
			for j := 0; j < 1_000_000; j++ {
				if err := d.Transmit(f); err != nil {
					txc <- err
					return
				}
			}
			txc <- nil
		}()
		time.Sleep(time.Millisecond)
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-txc:
			if !errors.Is(err, netdev.ErrClosed) {
				t.Fatalf("Transmit racing with Close: %v, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Transmit still running 5 s after Close")
		}
		select {
		case err := <-errc:
			if !errors.Is(err, netdev.ErrClosed) {
				t.Fatalf("ReceiveBatch after Close: %v, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("ReceiveBatch still blocked 5 s after Close")
		}
		if _, err := d.TransmitBatch([]netdev.Frame{{Segs: [][]byte{make([]byte, 60)}}}); !errors.Is(err, netdev.ErrClosed) {
			t.Fatalf("TransmitBatch after Close: %v, want ErrClosed", err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > g0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g, fd := runtime.NumGoroutine(), fdCount(t); g > g0 || fd > fd0 {
		t.Errorf("after 20 open/close: %d goroutines (was %d), %d fds (was %d)", g, g0, fd, fd0)
	}
}

func TestTCPOffload(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []packet.Option
	}{
		{"default", nil},
		{"qdisc bypass", []packet.Option{packet.WithQdiscBypass()}},
		{"busy poll", []packet.Option{packet.WithBusyPoll(200 * time.Microsecond)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := setup(t, "pkttso")
			d := open(t, ns, "vethA", tc.opts...)
			devtest.CheckTCPOffload(t, devtest.Start(t, d, kitIP), ns, linuxIP)
		})
	}
}

func TestBatch(t *testing.T) {
	ns := setup(t, "pktbatch")
	devtest.CheckBatch(t, open(t, ns, "vethA"), kitIP, linuxIP)
}

func TestOpenWhileDown(t *testing.T) {
	ns := setup(t, "pktdown")
	ns.IP(t, "link", "set", "vethA", "down")
	s := devtest.Start(t, open(t, ns, "vethA"), kitIP)
	time.Sleep(300 * time.Millisecond)
	if !s.Running() {
		t.Fatalf("receiver ended on a down link: %v", s.Err(0))
	}
	ns.IP(t, "link", "set", "vethA", "up")
	s.Ping(t, linuxIP, 5*time.Second)
}
