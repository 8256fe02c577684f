package testenv_test

import (
	"os"
	"strings"
	"testing"

	"github.com/goskit/goskit/internal/testenv"
)

func TestUniqueName(t *testing.T) {
	tests := []struct {
		prefix string
		max    int
	}{
		{"veth", 15},
		{"a-very-long-prefix-for-a-name", 15},
		{"ns", 40},
		{"x", 3}, // max below the suffix: the suffix wins
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			a, b := testenv.UniqueName(tc.prefix, tc.max), testenv.UniqueName(tc.prefix, tc.max)
			if a == b {
				t.Errorf("two names alike: %q", a)
			}
			if len(a) > max(tc.max, 9) || !strings.HasPrefix(tc.prefix, a[:len(a)-8]) {
				t.Errorf("UniqueName(%q, %d) = %q", tc.prefix, tc.max, a)
			}
		})
	}
}

func TestNetns(t *testing.T) {
	ns := testenv.NewNetns(t, "testenv")
	if _, err := os.Stat(ns.Path()); err != nil {
		t.Fatal(err)
	}
	self, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	if err := ns.Do(func() (err error) {
		inside, err = os.Readlink("/proc/thread-self/ns/net")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if inside == self {
		t.Errorf("Do ran in the test's own namespace %s", self)
	}
	peer := testenv.NewNetns(t, "testenv-peer")
	testenv.Veth(t, ns, "va", peer, "vb")
	ns.HostSide(t, "va")
	if out := ns.Run(t, "cat", "/proc/sys/net/ipv6/conf/va/disable_ipv6"); strings.TrimSpace(out) != "1" {
		t.Errorf("disable_ipv6 on va = %q", out)
	}
	if out := peer.IP(t, "-o", "link", "show", "vb"); !strings.Contains(out, "vb@") {
		t.Errorf("vb not in the peer namespace: %s", out)
	}
	if _, err := ns.Exec("false"); err == nil {
		t.Error("Exec of false succeeded")
	}
}
