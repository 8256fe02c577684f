package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// topology is two network namespaces joined by one veth: end A and end B.
// Either end's interface is used by Linux (it then has the address) or by
// a kit kernel (it then has no address and IPv6 off, so every answer on the
// link comes from the kit).
type topology struct {
	nsA, nsB   string
	ifA, ifB   string
	addrA      string // 198.18.0.1/24
	addrB      string
	addrAOwner string // "linux" or "" (kit or nobody)
	addrBOwner string
	// nsM, for a shaped topology, is the middle namespace: a bridge
	// between mA (to A) and mB (to B), each shaped on its egress.
	nsM, mA, mB string
	rate        string // the rate the middle's qdiscs shape to now
}

// tapName is the TAP a kit kernel on TAP attaches to, in its end's
// namespace.
const tapName = "kbtap"

func newTopology(wmemMax, rmemMax int, cc string) (*topology, error) {
	pid := os.Getpid()
	t := &topology{
		nsA: fmt.Sprintf("kitbench-%d-a", pid), nsB: fmt.Sprintf("kitbench-%d-b", pid),
		ifA: "kba", ifB: "kbb",
		addrA: "198.18.0.1/24", addrB: "198.18.0.2/24",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tmpA, tmpB := fmt.Sprintf("kb%da", pid), fmt.Sprintf("kb%db", pid)
	steps := [][]string{
		{"ip", "netns", "add", t.nsA},
		{"ip", "netns", "add", t.nsB},
		{"ip", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB},
		{"ip", "link", "set", tmpA, "netns", t.nsA, "name", t.ifA},
		{"ip", "link", "set", tmpB, "netns", t.nsB, "name", t.ifB},
	}
	if err := t.setup(ctx, steps, wmemMax, rmemMax, cc); err != nil {
		return nil, err
	}
	return t, nil
}

// newShapedTopology is A and B joined through a middle namespace M that
// bridges them (so they stay on one link, as on the plain veth) and
// shapes both directions with tbf on its egress: no end's driver can
// bypass the shaping.
func newShapedTopology(wmemMax, rmemMax int, cc string) (*topology, error) {
	pid := os.Getpid()
	t := &topology{
		nsA: fmt.Sprintf("kitbench-%d-sa", pid), nsB: fmt.Sprintf("kitbench-%d-sb", pid), nsM: fmt.Sprintf("kitbench-%d-sm", pid),
		ifA: "kba", ifB: "kbb", mA: "kbma", mB: "kbmb",
		addrA: "198.18.0.1/24", addrB: "198.18.0.2/24",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t1, t2, t3, t4 := fmt.Sprintf("kb%dsa", pid), fmt.Sprintf("kb%dma", pid), fmt.Sprintf("kb%dmb", pid), fmt.Sprintf("kb%dsb", pid)
	inM := func(args ...string) []string { return append([]string{"ip", "-n", t.nsM}, args...) }
	steps := [][]string{
		{"ip", "netns", "add", t.nsA},
		{"ip", "netns", "add", t.nsB},
		{"ip", "netns", "add", t.nsM},
		{"ip", "link", "add", t1, "type", "veth", "peer", "name", t2},
		{"ip", "link", "add", t4, "type", "veth", "peer", "name", t3},
		{"ip", "link", "set", t1, "netns", t.nsA, "name", t.ifA},
		{"ip", "link", "set", t4, "netns", t.nsB, "name", t.ifB},
		{"ip", "link", "set", t2, "netns", t.nsM, "name", t.mA},
		{"ip", "link", "set", t3, "netns", t.nsM, "name", t.mB},
		{"ip", "netns", "exec", t.nsM, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"},
		inM("link", "add", "br0", "type", "bridge"),
		inM("link", "set", t.mA, "master", "br0"),
		inM("link", "set", t.mB, "master", "br0"),
		inM("link", "set", t.mA, "up"),
		inM("link", "set", t.mB, "up"),
		inM("link", "set", "br0", "up"),
	}
	if err := t.setup(ctx, steps, wmemMax, rmemMax, cc); err != nil {
		return nil, err
	}
	return t, nil
}

// tbf parameters for a rate: a burst of 4 ms at the rate (a timer tick at
// HZ=250; at least 64 KiB, so a TSO segment passes whole) and a queue of
// up to 20 ms.
func tbfArgs(rate string) ([]string, error) {
	bits := rateBits(rate)
	if bits == 0 {
		return nil, fmt.Errorf("unknown shaped rate %q", rate)
	}
	burst := max(bits/8/250, 64<<10)
	return []string{"rate", rate, "burst", fmt.Sprint(burst), "latency", "20ms"}, nil
}

// rateBits is a shaped rate in bits per second, 0 if unknown.
func rateBits(rate string) int64 {
	return map[string]int64{"100mbit": 100e6, "1gbit": 1e9}[rate]
}

// shape sets the middle's qdiscs to rate, both directions.
func (t *topology) shape(rate string) error {
	if t.nsM == "" {
		return fmt.Errorf("link %s: not a shaped topology", rate)
	}
	if t.rate == rate {
		return nil
	}
	tbf, err := tbfArgs(rate)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ifc := range []string{t.mA, t.mB} {
		if _, err := runCmd(ctx, "tc", append([]string{"-n", t.nsM, "qdisc", "replace", "dev", ifc, "root", "tbf"}, tbf...)...); err != nil {
			return err
		}
	}
	t.rate = rate
	return nil
}

// setup runs steps, then readies each end; on failure it removes what it
// made.
func (t *topology) setup(ctx context.Context, steps [][]string, wmemMax, rmemMax int, cc string) error {
	for _, ns := range []struct{ ns, ifc string }{{t.nsA, t.ifA}, {t.nsB, t.ifB}} {
		steps = append(steps,
			[]string{"ip", "-n", ns.ns, "link", "set", "lo", "up"},
			[]string{"ip", "netns", "exec", ns.ns, "sysctl", "-qw", "net.ipv6.conf." + ns.ifc + ".disable_ipv6=1"},
			[]string{"ip", "-n", ns.ns, "link", "set", ns.ifc, "up"},
			// Linux's buffer maxima match the kit's Config maxima (fair by
			// construction); minimum and default stay Linux's.
			[]string{"ip", "netns", "exec", ns.ns, "sysctl", "-qw",
				fmt.Sprintf("net.ipv4.tcp_wmem=4096 16384 %d", wmemMax),
				fmt.Sprintf("net.ipv4.tcp_rmem=4096 131072 %d", rmemMax)},
		)
	}
	for _, s := range steps {
		if _, err := runCmd(ctx, s[0], s[1:]...); err != nil {
			t.Close()
			return err
		}
	}
	// Linux's congestion control follows the kit's (per namespace), fair
	// by construction; if this kernel lacks it, Linux keeps its own, and
	// the output states what each end used as read back. (Outside the
	// initial namespace Linux accepts only the families listed in
	// net.ipv4.tcp_allowed_congestion_control.)
	for _, ns := range []string{t.nsA, t.nsB} {
		runCmd(ctx, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.tcp_congestion_control="+cc)
	}
	return nil
}

// bridgeTAP readies end side for a kit kernel on TAP: a persistent TAP
// (the kernel attaches to it: TUNSETIFF on an existing name) and a bridge
// joining it to the veth end, all up, no addresses, IPv6 off.
func (t *topology) bridgeTAP(side string) error {
	ns, ifc := t.nsA, t.ifA
	if side == "b" {
		ns, ifc = t.nsB, t.ifB
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	steps := [][]string{
		{"ip", "-n", ns, "tuntap", "add", "dev", tapName, "mode", "tap", "vnet_hdr"},
		{"ip", "-n", ns, "link", "add", "kbbr", "type", "bridge"},
		{"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf." + tapName + ".disable_ipv6=1", "net.ipv6.conf.kbbr.disable_ipv6=1"},
		{"ip", "-n", ns, "link", "set", ifc, "master", "kbbr"},
		{"ip", "-n", ns, "link", "set", tapName, "master", "kbbr"},
		{"ip", "-n", ns, "link", "set", tapName, "up"},
		{"ip", "-n", ns, "link", "set", "kbbr", "up"},
	}
	for _, s := range steps {
		if _, err := runCmd(ctx, s[0], s[1:]...); err != nil {
			t.unbridgeTAP(side)
			return err
		}
	}
	return nil
}

// unbridgeTAP undoes bridgeTAP: the veth end stands alone again.
func (t *topology) unbridgeTAP(side string) {
	ns, ifc := t.nsA, t.ifA
	if side == "b" {
		ns, ifc = t.nsB, t.ifB
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runCmd(ctx, "ip", "-n", ns, "link", "set", ifc, "nomaster")
	runCmd(ctx, "ip", "-n", ns, "link", "del", "kbbr")
	runCmd(ctx, "ip", "-n", ns, "tuntap", "del", "dev", tapName, "mode", "tap")
	runCmd(ctx, "ip", "-n", ns, "neigh", "flush", "dev", ifc)
}

// forgetNeighbours empties both ends' neighbour tables: the kit's drivers
// use their own MAC addresses, so an entry Linux learned while a kit held
// the other end's address would send the next Linux peer's frames to a
// MAC that is gone, and its connect would wait minutes for ARP to recover.
func (t *topology) forgetNeighbours() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ns := range []string{t.nsA, t.nsB} {
		if _, err := runCmd(ctx, "ip", "-n", ns, "neigh", "flush", "all"); err != nil {
			return err
		}
	}
	return nil
}

// congestionControl is Linux's congestion control in end A's namespace.
func (t *topology) congestionControl() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := runCmd(ctx, "ip", "netns", "exec", t.nsA, "sysctl", "-n", "net.ipv4.tcp_congestion_control")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// own gives end a's (or b's) address to Linux, or takes it away for a kit.
func (t *topology) own(end string, linux bool) error {
	ns, ifc, addr, owner := t.nsA, t.ifA, t.addrA, &t.addrAOwner
	if end == "b" {
		ns, ifc, addr, owner = t.nsB, t.ifB, t.addrB, &t.addrBOwner
	}
	want := ""
	if linux {
		want = "linux"
	}
	if *owner == want {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if linux {
		_, err = runCmd(ctx, "ip", "-n", ns, "addr", "add", addr, "dev", ifc)
	} else {
		_, err = runCmd(ctx, "ip", "-n", ns, "addr", "flush", "dev", ifc)
		if err == nil {
			// Forget the neighbour entries Linux learned, so the next owner
			// of the address is resolved afresh.
			_, err = runCmd(ctx, "ip", "-n", ns, "neigh", "flush", "dev", ifc)
		}
	}
	if err == nil {
		*owner = want
	}
	return err
}

// Close deletes the namespaces, and with them the veth.
func (t *topology) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runCmd(ctx, "ip", "netns", "del", t.nsA)
	runCmd(ctx, "ip", "netns", "del", t.nsB)
	if t.nsM != "" {
		runCmd(ctx, "ip", "netns", "del", t.nsM)
	}
}
