package tap_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/tap"
	"github.com/goskit/goskit/internal/testenv"
	"github.com/goskit/goskit/internal/testenv/devtest"
)

var (
	kitIP   = netip.MustParseAddr("198.18.7.2")
	linuxIP = netip.MustParseAddr("198.18.7.1")
)

// openIn opens a TAP device called name inside ns, brings it up and gives
// Linux's side the address linuxIP/24.
func openIn(t *testing.T, ns *testenv.Netns, name string, opts ...tap.Option) *tap.Device {
	t.Helper()
	var d *tap.Device
	err := ns.Do(func() (err error) {
		d, err = tap.Open(name, opts...)
		return err
	})
	if err != nil {
		t.Fatalf("tap.Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	ns.Sysctl(t, "net.ipv6.conf."+name+".disable_ipv6", "1")
	ns.IP(t, "addr", "add", linuxIP.String()+"/24", "dev", name)
	ns.IP(t, "link", "set", name, "up")
	return d
}

func TestInfo(t *testing.T) {
	ns := testenv.NewNetns(t, "tapinfo")
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	tests := []struct {
		name    string
		opts    []tap.Option
		wantMTU int
		wantMAC net.HardwareAddr
	}{
		{"defaults", nil, 1500, nil},
		{"mtu", []tap.Option{tap.WithMTU(9000)}, 9000, nil},
		{"mac", []tap.Option{tap.WithMAC(mac)}, 1500, mac},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d *tap.Device
			if err := ns.Do(func() (err error) { d, err = tap.Open("tapi0", tc.opts...); return err }); err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			i := d.Info()
			if i.Name != "tap:tapi0" || i.MTU != tc.wantMTU {
				t.Errorf("Info = %+v, want name tap:tapi0, MTU %d", i, tc.wantMTU)
			}
			if tc.wantMAC != nil && i.MAC.String() != tc.wantMAC.String() {
				t.Errorf("MAC = %v, want %v", i.MAC, tc.wantMAC)
			}
			if len(i.MAC) != 6 || i.MAC[0]&3 != 2 {
				t.Errorf("MAC %v is not a locally administered unicast address", i.MAC)
			}
			want := netdev.FeatureTxChecksum | netdev.FeatureTSO4 | netdev.FeatureTSO6 | netdev.FeatureRxChecksum | netdev.FeatureRxGSO
			if i.Features != want || i.MaxGSOSize < 65535 {
				t.Errorf("Features = %v, MaxGSOSize %d; want %v, >= 65535", i.Features, i.MaxGSOSize, want)
			}
		})
	}
	t.Run("bad MAC", func(t *testing.T) {
		err := ns.Do(func() error {
			d, err := tap.Open("tapi1", tap.WithMAC(net.HardwareAddr{1, 2, 3, 4, 5, 6}))
			if err == nil {
				d.Close()
			}
			return err
		})
		if err == nil {
			t.Fatal("Open with a multicast MAC succeeded")
		}
	})
}

func TestPing(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []tap.Option
	}{{"default", nil}, {"busy poll", []tap.Option{tap.WithBusyPoll(200 * time.Microsecond)}}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := testenv.NewNetns(t, "tapping")
			d := openIn(t, ns, "tapk0", tc.opts...)
			s := devtest.Start(t, d, kitIP)
			s.Ping(t, linuxIP, 5*time.Second)
		})
	}
}

func TestLinkGone(t *testing.T) {
	ns := testenv.NewNetns(t, "tapgone")
	d := openIn(t, ns, "tapg0")
	s := devtest.Start(t, d, kitIP)
	s.Resolve(t, linuxIP, 5*time.Second) // the receiver is running
	start := time.Now()
	ns.IP(t, "link", "del", "tapg0")
	err := s.Err(5 * time.Second)
	if !errors.Is(err, netdev.ErrLinkGone) {
		t.Fatalf("Receive after ip link del: %v, want ErrLinkGone", err)
	}
	t.Logf("Receive returned after %v: %v", time.Since(start), err)
	f := devtest.ARP(1, s.MAC, kitIP, nil, linuxIP)
	if err := d.Transmit(&netdev.Frame{Segs: [][]byte{f}}); !errors.Is(err, netdev.ErrLinkGone) {
		t.Fatalf("Transmit after ip link del: %v, want ErrLinkGone", err)
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
	ns := testenv.NewNetns(t, "tapclose")
	g0, fd0 := runtime.NumGoroutine(), fdCount(t)
	for i := 0; i < 20; i++ {
		// Every other device busy-polls, with a window far longer than the
		// test waits: Close must end the spinning receive, not the window.
		var opts []tap.Option
		if i%2 == 1 {
			opts = append(opts, tap.WithBusyPoll(time.Hour))
		}
		var d *tap.Device
		if err := ns.Do(func() (err error) { d, err = tap.Open("tapc0", opts...); return err }); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			_, _, err := d.Receive([][]byte{make([]byte, netdev.MaxGSOFrameLen)})
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
				t.Fatalf("Receive after Close: %v, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Receive still blocked 5 s after Close")
		}
		if err := d.Transmit(&netdev.Frame{Segs: [][]byte{make([]byte, 60)}}); !errors.Is(err, netdev.ErrClosed) {
			t.Fatalf("Transmit after Close: %v, want ErrClosed", err)
		}
		if err := d.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
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
		opts []tap.Option
	}{{"default", nil}, {"busy poll", []tap.Option{tap.WithBusyPoll(200 * time.Microsecond)}}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := testenv.NewNetns(t, "taptso")
			d := openIn(t, ns, "tapt0", tc.opts...)
			devtest.CheckTCPOffload(t, devtest.Start(t, d, kitIP), ns, linuxIP)
		})
	}
}

func TestBatch(t *testing.T) {
	ns := testenv.NewNetns(t, "tapbatch")
	devtest.CheckBatch(t, openIn(t, ns, "tapb0"), kitIP, linuxIP)
}

func TestLinkDown(t *testing.T) {
	ns := testenv.NewNetns(t, "tapdown")
	d := openIn(t, ns, "tapd0")
	s := devtest.Start(t, d, kitIP)
	s.Resolve(t, linuxIP, 5*time.Second)
	ns.IP(t, "link", "set", "tapd0", "down")
	f := devtest.ARP(1, s.MAC, kitIP, nil, linuxIP)
	if err := s.Transmit(f, netdev.Offload{}); err != nil {
		t.Fatalf("Transmit on a down link: %v, want nil (frame lost)", err)
	}
	time.Sleep(300 * time.Millisecond)
	if !s.Running() {
		t.Fatalf("receiver ended on a down link: %v", s.Err(0))
	}
	ns.IP(t, "link", "set", "tapd0", "up")
	ns.IP(t, "addr", "replace", linuxIP.String()+"/24", "dev", "tapd0")
	s.Ping(t, linuxIP, 5*time.Second)
}

func TestTransmitErrors(t *testing.T) {
	ns := testenv.NewNetns(t, "taptxerr")
	devtest.CheckTransmitErrors(t, openIn(t, ns, "tape0"), kitIP, linuxIP)
}
