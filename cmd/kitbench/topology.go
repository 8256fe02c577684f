package main

import (
	"context"
	"fmt"
	"os"
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
}

func newTopology(wmemMax, rmemMax int) (*topology, error) {
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
			return nil, err
		}
	}
	return t, nil
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
}
