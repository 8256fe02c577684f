package integration

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goskit/goskit/internal/testenv"
)

// TestCommandLine runs the kit's ttcp kernel as a user does, from its
// command line in its own process (ip netns exec K ttcp -r -nic packet:vk
// -addr ...; for TAP the kernel creates the TAP device itself, which the test
// then bridges), against Linux's ttcp in P: a verified transfer, then a
// second kernel whose interface is deleted mid-transfer, which must exit
// with status 1 and say so within 10 s.
func TestCommandLine(t *testing.T) {
	for i, kind := range []string{"packet", "tap"} {
		t.Run(kind, func(t *testing.T) {
			testenv.NeedRoot(t)
			subnet := 40 + i
			kit4 := netip.MustParseAddr(fmt.Sprintf("198.18.%d.2", subnet))
			kit6 := netip.MustParseAddr(fmt.Sprintf("2001:2:%x::2", subnet))
			K, P := testenv.NewNetns(t, "kcmd"), testenv.NewNetns(t, "lcmd")
			testenv.Veth(t, K, "vk", P, "vp")
			K.HostSide(t, "vk")
			P.IP(t, "addr", "add", fmt.Sprintf("198.18.%d.1/24", subnet), "dev", "vp")
			P.IP(t, "addr", "add", fmt.Sprintf("2001:2:%x::1/64", subnet), "dev", "vp", "nodad")
			ifname := "vk"
			if kind == "tap" {
				ifname = "gktap"
				K.IP(t, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
				K.HostSide(t, "br0")
				K.IP(t, "link", "set", "vk", "master", "br0")
				K.IP(t, "link", "set", "br0", "up")
			}
			nic := kind + ":" + ifname
			kernelArgs := []string{"-r", "-nic", nic, "-addr", kit4.String() + "/24", "-addr", kit6.String() + "/64"}

			// boot starts a kit kernel process and waits until it answers
			// ping (for TAP, after bridging the device it created).
			boot := func(args ...string) *linuxProc {
				t.Helper()
				kit := startIn(t, K, 60*time.Second, "ttcp", append(kernelArgs, args...)...)
				if kind == "tap" {
					waitFor(t, kit, "the kernel's TAP device", func() bool {
						_, err := K.Exec("ip", "link", "show", ifname)
						return err == nil
					})
					K.HostSide(t, ifname)
					K.IP(t, "link", "set", ifname, "master", "br0")
					K.IP(t, "link", "set", ifname, "up")
				}
				waitFor(t, kit, "an answer to ping", func() bool {
					_, err := P.Exec("ping", "-c", "1", "-W", "1", kit4.String())
					return err == nil
				})
				return kit
			}
			// transmit runs Linux's transmitter, retrying while the
			// kernel's ttcp is not listening yet.
			transmit := func(timeout time.Duration, args ...string) *linuxProc {
				t.Helper()
				deadline := time.Now().Add(30 * time.Second)
				for {
					lin := startIn(t, P, timeout, "ttcp", append([]string{"-t", "-nic", "host"}, args...)...)
					<-lin.done
					if lin.err == nil || !strings.Contains(lin.out.String(), "connection refused") || time.Now().After(deadline) {
						return lin
					}
					time.Sleep(10 * time.Millisecond)
				}
			}

			t.Run("verified transfer", func(t *testing.T) {
				kit := boot("-s")
				nbuf := verifiedBufs()
				lin := transmit(60*time.Second, "-s", "-n", fmt.Sprint(nbuf), kit6.String())
				if lin.err != nil {
					t.Fatalf("Linux ttcp -t: %v\n%s", lin.err, lin.out.String())
				}
				<-kit.done
				if kit.err != nil || !strings.Contains(kit.out.String(), verifiedLine(nbuf)) || !strings.Contains(kit.out.String(), "(pattern verified)") {
					t.Errorf("kit's ttcp -r: %v; output:\n%s", kit.err, kit.out.String())
				}
			})

			t.Run("interface deleted", func(t *testing.T) {
				kit := boot()
				// A transfer far longer than the test, in the background.
				lin := startIn(t, P, 60*time.Second, "ttcp", "-t", "-nic", "host", "-n", "100000000", kit4.String())
				waitFor(t, kit, "the transfer to start", func() bool {
					return strings.Contains(kit.out.String(), "ttcp-r: accept from")
				})
				select {
				case <-lin.done:
					t.Fatalf("Linux's transmitter ended early: %v\n%s", lin.err, lin.out.String())
				case <-time.After(100 * time.Millisecond):
				}
				K.IP(t, "link", "del", ifname)
				deleted := time.Now()
				select {
				case <-kit.done:
					t.Logf("kernel exited %v after ip link del %s", time.Since(deleted).Round(time.Millisecond), ifname)
				case <-time.After(10 * time.Second):
					t.Fatalf("kernel still running 10 s after its interface was deleted; output:\n%s", kit.out.String())
				}
				if code := kit.cmd.ProcessState.ExitCode(); code != 1 {
					t.Errorf("kernel exit status %d, want 1", code)
				}
				if out := kit.out.String(); !strings.Contains(out, "ttcp-r: network interface failed: ") || !strings.Contains(out, "link gone") {
					t.Errorf("kernel output lacks a clear NIC failure (network interface failed ... link gone):\n%s", out)
				}
			})
		})
	}
}

// waitFor polls cond for up to 30 s while the kernel process runs.
func waitFor(t *testing.T, kit *linuxProc, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		select {
		case <-kit.done:
			t.Fatalf("kernel exited (%v) while the test waited for %s; output:\n%s", kit.err, what, kit.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 30 s; kernel output:\n%s", what, kit.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
