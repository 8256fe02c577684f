package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// An end of a cell: who runs the program on that side.
type end string

const (
	linux   end = "Linux"
	kit     end = "goskit(packet)"
	fdb     end = "gVisor fdbased"
	wireEnd end = "goskit(wire)"
	loopEnd end = "Linux(loopback)"
)

// cell is one entry of a table: a ttcp transfer or rtcp exchange from one
// end to the other.
type cell struct {
	name     string
	test     string // "ttcp" or "rtcp"
	from, to end
}

type runResult struct {
	BitsPerSec float64 `json:"bits_per_second,omitempty"`
	Bytes      int64   `json:"bytes,omitempty"`
	Seconds    float64 `json:"seconds,omitempty"`
	MedianUS   float64 `json:"median_us,omitempty"`
	P99US      float64 `json:"p99_us,omitempty"`
	MeanUS     float64 `json:"mean_us,omitempty"`
}

func (r runResult) String() string {
	if r.BitsPerSec > 0 {
		return fmt.Sprintf("%.2f Gbit/s (%d bytes in %.2f s)", r.BitsPerSec/1e9, r.Bytes, r.Seconds)
	}
	return fmt.Sprintf("median %.1f us, p99 %.1f us", r.MedianUS, r.P99US)
}

type bench struct {
	o       options
	self    string
	topo    *topology
	results map[string][]runResult
}

func (b *bench) cells() []cell {
	var cs []cell
	for _, t := range []string{"ttcp", "rtcp"} {
		for _, p := range [][2]end{
			{linux, linux}, {kit, linux}, {linux, kit}, {kit, kit},
			{fdb, linux}, {linux, fdb},
			{wireEnd, wireEnd}, {loopEnd, loopEnd},
		} {
			cs = append(cs, cell{name: t + ":" + short(p[0]) + "->" + short(p[1]), test: t, from: p[0], to: p[1]})
		}
	}
	return cs
}

func short(e end) string {
	switch e {
	case linux:
		return "linux"
	case kit:
		return "kit"
	case fdb:
		return "fdbased"
	case wireEnd:
		return "wire"
	}
	return "loopback"
}

// kernelArgs returns the command that runs the test's program at end e on
// side ("a" sends or is the client, "b" receives or serves).
func (b *bench) kernelArgs(test string, e end, side string) (ns string, args []string) {
	ns, ifc, addr := b.topo.nsA, b.topo.ifA, b.topo.addrA
	if side == "b" {
		ns, ifc, addr = b.topo.nsB, b.topo.ifB, b.topo.addrB
	}
	prog := test
	var nic []string
	switch e {
	case linux, loopEnd:
		nic = []string{"-nic", "host"}
	case kit:
		nic = []string{"-nic", "packet:" + ifc, "-addr", addr}
	case fdb:
		prog = "fdbased-" + test
		// gVisor's endpoint at its best: on one CPU its dispatcher, blocked
		// in ppoll, holds the only P until the runtime takes it back (a
		// 219 us round trip, against 31 us on every CPU).
		nic = []string{"-cpus=all", "--", "-nic", "packet:" + ifc, "-addr", addr}
	case wireEnd:
		nic = []string{"-nic", "wire"}
	}
	if e != linux && e != loopEnd {
		nic = append(nic, "-wmem-max", strconv.Itoa(b.o.wmemMax), "-rmem-max", strconv.Itoa(b.o.rmemMax))
	}
	return ns, append([]string{"ip", "netns", "exec", ns, b.self, "kernel", prog}, nic...)
}

const peerB = "198.18.0.2"

func (b *bench) runCell(c cell) (runResult, error) {
	// Give each end's address to Linux or the kit.
	if c.from != wireEnd && c.from != loopEnd {
		if err := b.topo.own("a", c.from == linux); err != nil {
			return runResult{}, err
		}
		if err := b.topo.own("b", c.to == linux); err != nil {
			return runResult{}, err
		}
	}
	const bufLen = 65536
	nbuf := int(max(1, b.o.bytes/bufLen))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var serverArgs, clientArgs []string
	host := peerB
	switch c.test {
	case "ttcp":
		serverArgs = []string{"-r", "-json", "-l", strconv.Itoa(bufLen)}
		clientArgs = []string{"-t", "-json", "-l", strconv.Itoa(bufLen), "-n", strconv.Itoa(nbuf)}
	case "rtcp":
		serverArgs = []string{"-r"}
		clientArgs = []string{"-json", "-n", strconv.Itoa(b.o.rttN)}
	}
	if c.from == wireEnd {
		// Both kernels run in one process; the flags describe the transfer.
		_, args := b.kernelArgs(c.test, wireEnd, "a")
		if c.test == "ttcp" {
			args = append(args, "-json", "-l", strconv.Itoa(bufLen), "-n", strconv.Itoa(nbuf))
		} else {
			args = append(args, "-json", "-n", strconv.Itoa(b.o.rttN))
		}
		out, err := runCmd(ctx, args[0], args[1:]...)
		if err != nil {
			return runResult{}, err
		}
		return parseResult(c.test, out)
	}
	if c.from == loopEnd {
		host = "127.0.0.1"
	}
	_, sArgs := b.kernelArgs(c.test, c.to, "b")
	_, cArgs := b.kernelArgs(c.test, c.from, "a")
	if c.from == loopEnd {
		// Both ends on loopback in namespace A.
		sArgs = []string{"ip", "netns", "exec", b.topo.nsA, b.self, "kernel", c.test, "-nic", "host"}
	}
	sArgs = append(sArgs, serverArgs...)
	cArgs = append(cArgs, append(clientArgs, host)...)

	server := exec.CommandContext(ctx, sArgs[0], sArgs[1:]...)
	var sOut, sErr bytes.Buffer
	server.Stdout, server.Stderr = &sOut, &sErr
	if err := server.Start(); err != nil {
		return runResult{}, err
	}
	defer server.Process.Kill()
	// The client retries while the server is not listening yet: a refused
	// connection ends it at once, with status 1 and "refused" in its output.
	var cOut []byte
	var err error
	for try := 0; try < 100; try++ {
		cOut, err = runCmd(ctx, cArgs[0], cArgs[1:]...)
		if err == nil || !strings.Contains(err.Error(), "refused") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return runResult{}, fmt.Errorf("client: %w\nserver: %s%s", err, sOut.String(), sErr.String())
	}
	if werr := server.Wait(); werr != nil {
		return runResult{}, fmt.Errorf("server: %w\n%s%s", werr, sOut.String(), sErr.String())
	}
	if c.test == "ttcp" {
		return parseResult("ttcp", sOut.Bytes())
	}
	return parseResult("rtcp", cOut)
}

func parseResult(test string, out []byte) (runResult, error) {
	if test == "ttcp" {
		type ttcpJSON struct {
			Role       string  `json:"role"`
			Bytes      int64   `json:"bytes"`
			Seconds    float64 `json:"seconds"`
			BitsPerSec float64 `json:"bits_per_second"`
		}
		r, err := lastJSON(out, func(v ttcpJSON) bool { return v.Role == "r" })
		if err != nil {
			return runResult{}, err
		}
		return runResult{BitsPerSec: r.BitsPerSec, Bytes: r.Bytes, Seconds: r.Seconds}, nil
	}
	type rtcpJSON struct {
		Count  int     `json:"count"`
		Mean   float64 `json:"mean_us"`
		Median float64 `json:"median_us"`
		P99    float64 `json:"p99_us"`
	}
	r, err := lastJSON(out, func(v rtcpJSON) bool { return v.Count > 0 })
	if err != nil {
		return runResult{}, err
	}
	return runResult{MedianUS: r.Median, P99US: r.P99, MeanUS: r.Mean}, nil
}

// median and spread of xs.
func stats(xs []float64) (med, lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med = s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return med, s[0], s[len(s)-1]
}

func (b *bench) series(name string, f func(runResult) float64) []float64 {
	var xs []float64
	for _, r := range b.results[name] {
		xs = append(xs, f(r))
	}
	return xs
}

func (b *bench) markdown(cells []cell, took time.Duration) string {
	var sb strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	w("### kitbench: the paper's tables on this machine\n\n")
	w("Command: `go run ./cmd/kitbench%s`. %d run(s) per cell, alternating between cells; ttcp moves %d MiB per run with `-l 65536`, rtcp %d one-byte round trips after 200 of warm-up. ",
		flagsNote(b.o), b.o.runs, b.o.bytes>>20, b.o.rttN)
	w("Two network namespaces joined by one veth; TCP buffer maxima %d/%d bytes (send/receive) on Linux (`tcp_wmem`/`tcp_rmem`) and in the kit's `netstack.Config` alike; congestion control CUBIC on both. ", b.o.wmemMax, b.o.rmemMax)
	w("Machine: %d CPUs, %s/%s, %s. Took %s.\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, kernelRelease(), took.Round(time.Second))

	base := func(test string) string { return test + ":linux->linux" }
	w("**Table 1: ttcp bandwidth**, sender -> receiver, Gbit/s (median, min-max), and the ratio to Linux->Linux.\n\n")
	w("| sender -> receiver | Gbit/s | spread | ratio to Linux |\n|---|---:|---:|---:|\n")
	bw := func(r runResult) float64 { return r.BitsPerSec / 1e9 }
	linBW, _, _ := stats(b.series(base("ttcp"), bw))
	for _, c := range cells {
		if c.test != "ttcp" {
			continue
		}
		m, lo, hi := stats(b.series(c.name, bw))
		w("| %s -> %s | %.2f | %.2f-%.2f | %.2f |\n", c.from, c.to, m, lo, hi, m/linBW)
	}
	w("\n**Table 2: rtcp one-byte round trip**, client -> server, microseconds (median of the runs' medians, min-max; p99 median), and the ratio to Linux->Linux.\n\n")
	w("| client -> server | median us | spread | p99 us | ratio to Linux |\n|---|---:|---:|---:|---:|\n")
	med := func(r runResult) float64 { return r.MedianUS }
	p99 := func(r runResult) float64 { return r.P99US }
	linRTT, _, _ := stats(b.series(base("rtcp"), med))
	for _, c := range cells {
		if c.test != "rtcp" {
			continue
		}
		m, lo, hi := stats(b.series(c.name, med))
		p, _, _ := stats(b.series(c.name, p99))
		w("| %s -> %s | %.1f | %.1f-%.1f | %.1f | %.2f |\n", c.from, c.to, m, lo, hi, p, m/linRTT)
	}
	w("\n**The kit's driver and glue against gVisor's own AF_PACKET endpoint** (fdbased with host GSO over PACKET_VNET_HDR and recvmmsg, the same netstack options, on every CPU: its best; the kit's kernels run on one), same veth, same runs: ratio kit/fdbased (bandwidth: higher is better; round trip: lower is better).\n\n")
	w("| direction | kit | fdbased | ratio |\n|---|---:|---:|---:|\n")
	pairs := []struct{ label, kitCell, fdCell, unit string }{
		{"ttcp sending (to Linux)", "ttcp:kit->linux", "ttcp:fdbased->linux", "Gbit/s"},
		{"ttcp receiving (from Linux)", "ttcp:linux->kit", "ttcp:linux->fdbased", "Gbit/s"},
		{"rtcp client (to Linux)", "rtcp:kit->linux", "rtcp:fdbased->linux", "us"},
		{"rtcp server (from Linux)", "rtcp:linux->kit", "rtcp:linux->fdbased", "us"},
	}
	for _, p := range pairs {
		f := bw
		if p.unit == "us" {
			f = med
		}
		if len(b.results[p.kitCell]) == 0 || len(b.results[p.fdCell]) == 0 {
			continue // cell not selected with -cells
		}
		k, _, _ := stats(b.series(p.kitCell, f))
		g, _, _ := stats(b.series(p.fdCell, f))
		w("| %s | %.2f %s | %.2f %s | %.2f |\n", p.label, k, p.unit, g, p.unit, k/g)
	}
	w("\n")
	return sb.String()
}

func flagsNote(o options) string {
	if o.quick {
		return " -quick"
	}
	return ""
}

func kernelRelease() string {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		return "Linux"
	}
	return "Linux " + strings.TrimSpace(string(out))
}
