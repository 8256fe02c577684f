// Package testenv provides helpers for tests that need the host: root, an
// outside tool, network namespaces and veth pairs.
//
// What a test needs and cannot get makes it skip, naming the need; with the
// environment variable CI=true (CI runs as root with the tools installed)
// the same condition fails the test instead, so nothing silently turns into
// a skip there.
//
// # Execution environment
//
// Linux, for tests only. Namespaces and links are named uniquely per call,
// so packages whose tests run in parallel do not collide, and every
// namespace is deleted in t.Cleanup (taking the links inside it along).
// [Netns.Do] runs a function on an OS thread moved into the namespace; that
// thread is never unlocked, so the Go runtime discards it afterwards rather
// than reusing a thread left in a foreign namespace.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// CI reports whether the tests run under CI (the environment variable CI is
// "true"), where missing requirements fail rather than skip.
func CI() bool { return os.Getenv("CI") == "true" }

// Unavailable ends the test because a requirement is missing: it skips, or
// fails under CI.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("requirement missing under CI=true: %s", msg)
	}
	t.Skipf("skipping: %s", msg)
}

// NeedRoot ends the test unless it runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root")
	}
}

// NeedTool ends the test unless the program name is on PATH, and returns
// its path.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "needs the tool %q on PATH (%v)", name, err)
	}
	return p
}

// UniqueName returns prefix followed by a random suffix, at most max bytes
// long (the prefix is shortened if need be; max 15 fits an interface name).
func UniqueName(prefix string, max int) string {
	var b [4]byte
	rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	if max < len(suffix)+1 {
		max = len(suffix) + 1
	}
	if len(prefix)+len(suffix) > max {
		prefix = prefix[:max-len(suffix)]
	}
	return prefix + suffix
}

// Netns is a network namespace a test created.
type Netns struct {
	// Name is the namespace's name under /run/netns.
	Name string
}

// NewNetns creates a uniquely named network namespace (ip netns add) with
// its loopback up, and deletes it when the test ends. It needs root and ip.
func NewNetns(t testing.TB, prefix string) *Netns {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root to create network namespaces")
	}
	NeedTool(t, "ip")
	n := &Netns{Name: UniqueName("gk-"+prefix+"-", 40)}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		Unavailable(t, "cannot create network namespace %s: %v: %s", n.Name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.Name, err, out)
		}
	})
	n.IP(t, "link", "set", "lo", "up")
	return n
}

// Path returns the namespace's file, for setns(2).
func (n *Netns) Path() string { return "/run/netns/" + n.Name }

// Do runs f on an OS thread inside the namespace and returns its error. Use
// it to open what must be created in the namespace (TAP devices, sockets);
// descriptors opened there stay in the namespace whatever thread uses them
// later.
func (n *Netns) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine ends, the runtime ends the
		// thread with it instead of reusing it in the wrong namespace.
		runtime.LockOSThread()
		fd, err := unix.Open(n.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("testenv: open %s: %w", n.Path(), err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("testenv: setns %s: %w", n.Name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Exec runs a command inside the namespace (ip netns exec) and returns its
// combined output.
func (n *Netns) Exec(name string, args ...string) ([]byte, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("in netns %s: %s %s: %w: %s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return out, nil
}

// Run is Exec that fails the test on error.
func (n *Netns) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Exec(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// IP runs ip -n NAME args... and fails the test on error.
func (n *Netns) IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", n.Name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", n.Name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Sysctl sets a sysctl (dotted key, as sysctl(8) takes it) inside the
// namespace.
func (n *Netns) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	p := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	if err := n.Do(func() error { return os.WriteFile(p, []byte(value), 0) }); err != nil {
		t.Fatalf("sysctl %s=%s in %s: %v", key, value, n.Name, err)
	}
}

// Veth creates a veth pair: aName in namespace a and bName in namespace b
// (which may be a), both up. It goes away with the namespaces.
func Veth(t testing.TB, a *Netns, aName string, b *Netns, bName string) {
	t.Helper()
	a.IP(t, "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b.Name)
	a.IP(t, "link", "set", aName, "up")
	b.IP(t, "link", "set", bName, "up")
}

// HostSide prepares the host side of an interface the kit drives: IPv6 off
// (no link-local address, no router solicitations) and no addresses, so
// every answer on the link comes from the kit.
func (n *Netns) HostSide(t testing.TB, ifname string) {
	t.Helper()
	n.Sysctl(t, "net.ipv6.conf."+ifname+".disable_ipv6", "1")
	n.IP(t, "addr", "flush", "dev", ifname)
}
