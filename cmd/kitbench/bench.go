package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
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
	kitBusy end = "goskit(packet, busy-poll)"
	tapEnd  end = "goskit(TAP)"
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
	link     string // "" for the plain veth, or a shaped rate ("100mbit", "1gbit")
}

type runResult struct {
	BitsPerSec float64 `json:"bits_per_second,omitempty"`
	Bytes      int64   `json:"bytes,omitempty"`
	Seconds    float64 `json:"seconds,omitempty"`
	MedianUS   float64 `json:"median_us,omitempty"`
	P99US      float64 `json:"p99_us,omitempty"`
	MeanUS     float64 `json:"mean_us,omitempty"`
	// CPU seconds (user+sys) of each end's process: for ttcp as ttcp
	// itself reports it (getrusage), for rtcp from the process's exit
	// status. Sender and client are end "a", receiver and server end "b".
	SenderCPU   float64 `json:"sender_cpu_seconds,omitempty"`
	ReceiverCPU float64 `json:"receiver_cpu_seconds,omitempty"`
	ClientCPU   float64 `json:"client_cpu_seconds,omitempty"`
	ServerCPU   float64 `json:"server_cpu_seconds,omitempty"`
	RoundTrips  int     `json:"round_trips,omitempty"` // including rtcp's warm-up
}

// cpuPerGiB is CPU seconds per GiB moved.
func cpuPerGiB(cpuSec float64, bytes int64) float64 {
	if bytes <= 0 {
		return math.NaN()
	}
	return cpuSec / (float64(bytes) / (1 << 30))
}

// cpuPerRTT is CPU microseconds per round trip.
func cpuPerRTT(cpuSec float64, n int) float64 {
	if n <= 0 {
		return math.NaN()
	}
	return cpuSec * 1e6 / float64(n)
}

func (r runResult) String() string {
	if r.BitsPerSec > 0 {
		return fmt.Sprintf("%.2f Gbit/s (%d bytes in %.2f s)", r.BitsPerSec/1e9, r.Bytes, r.Seconds)
	}
	return fmt.Sprintf("median %.1f us, p99 %.1f us", r.MedianUS, r.P99US)
}

type bench struct {
	// ctx ends with an interrupt: the running cell's processes are killed
	// and the namespaces removed on the way out.
	ctx     context.Context
	o       options
	self    string
	topo    *topology
	shaped  *topology // for the cells on shaped links; nil if none runs
	linuxCC string    // Linux's congestion control, read in the namespace
	results map[string][]runResult
}

func (b *bench) cells() []cell {
	var cs []cell
	for _, t := range []string{"ttcp", "rtcp"} {
		for _, p := range append(matrix(),
			[2]end{fdb, linux}, [2]end{linux, fdb},
			[2]end{wireEnd, wireEnd}, [2]end{loopEnd, loopEnd},
		) {
			cs = append(cs, cell{name: t + ":" + short(p[0]) + "->" + short(p[1]), test: t, from: p[0], to: p[1]})
		}
	}
	// Busy polling shortens round trips for CPU time; bulk transfers keep
	// the CPU busy anyway, so it is measured on rtcp alone.
	for _, p := range [][2]end{{kitBusy, linux}, {linux, kitBusy}, {kitBusy, kitBusy}} {
		cs = append(cs, cell{name: "rtcp:" + short(p[0]) + "->" + short(p[1]), test: "rtcp", from: p[0], to: p[1]})
	}
	for _, rate := range b.rates() {
		for _, t := range []string{"ttcp", "rtcp"} {
			for _, p := range matrix() {
				cs = append(cs, cell{name: t + "@" + rate + ":" + short(p[0]) + "->" + short(p[1]), test: t, from: p[0], to: p[1], link: rate})
			}
		}
	}
	return cs
}

// matrix is the paper's sender-by-receiver matrix over one link: every
// pairing of native Linux, the kit on its packet driver and the kit on TAP.
func matrix() [][2]end {
	return [][2]end{
		{linux, linux}, {kit, linux}, {linux, kit}, {kit, kit},
		{tapEnd, linux}, {linux, tapEnd}, {tapEnd, tapEnd}, {kit, tapEnd}, {tapEnd, kit},
	}
}

// rates are the shaped links' rates: the paper's 100 Mbit/s wire and
// 1 Gbit/s; only the faster under -quick, which must stay short.
func (b *bench) rates() []string {
	switch {
	case !b.o.shaped:
		return nil
	case b.o.quick:
		return []string{"1gbit"}
	}
	return []string{"100mbit", "1gbit"}
}

// shapedSeconds is how long a ttcp run on a shaped link lasts at most
// (the "2 GiB or 3 seconds" with margin): 2 GiB at 100 Mbit/s
// would take three minutes a run.
const shapedSeconds = 5

// ttcpBytes is how much a ttcp run moves on link.
func (b *bench) ttcpBytes(link string) int64 {
	if link == "" {
		return b.o.bytes
	}
	return max(1<<20, min(b.o.bytes, rateBits(link)/8*shapedSeconds))
}

// rateLabel is a shaped rate as the tables print it.
func rateLabel(rate string) string {
	switch rate {
	case "100mbit":
		return "100 Mbit/s"
	case "1gbit":
		return "1 Gbit/s"
	}
	return rate
}

// baseName is the Linux->Linux cell a cell is compared with: the same
// test on the same link.
func baseName(c cell) string {
	if c.link != "" {
		return c.test + "@" + c.link + ":linux->linux"
	}
	return c.test + ":linux->linux"
}

func short(e end) string {
	switch e {
	case linux:
		return "linux"
	case kit:
		return "kit"
	case kitBusy:
		return "kitbusy"
	case tapEnd:
		return "tap"
	case fdb:
		return "fdbased"
	case wireEnd:
		return "wire"
	}
	return "loopback"
}

// kernelArgs returns the command that runs the test's program at end e on
// side ("a" sends or is the client, "b" receives or serves).
func (b *bench) kernelArgs(topo *topology, test string, e end, side string) (ns string, args []string) {
	ns, ifc, addr := topo.nsA, topo.ifA, topo.addrA
	if side == "b" {
		ns, ifc, addr = topo.nsB, topo.ifB, topo.addrB
	}
	prog := test
	var nic []string
	switch e {
	case linux, loopEnd:
		nic = []string{"-nic", "host"}
	case kit:
		nic = []string{"-nic", "packet:" + ifc, "-addr", addr}
	case kitBusy:
		nic = []string{"-nic", "packet:" + ifc, "-addr", addr, "-busypoll", b.o.busyPoll.String()}
	case tapEnd:
		nic = []string{"-nic", "tap:" + tapName, "-addr", addr}
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
		nic = append(nic, "-wmem-max", strconv.Itoa(b.o.wmemMax), "-rmem-max", strconv.Itoa(b.o.rmemMax), "-cc", b.o.cc)
	}
	return ns, append([]string{"ip", "netns", "exec", ns, b.self, "kernel", prog}, nic...)
}

const peerB = "198.18.0.2"

func (b *bench) runCell(c cell) (runResult, error) {
	topo := b.topo
	if c.link != "" {
		topo = b.shaped
		if err := topo.shape(c.link); err != nil {
			return runResult{}, err
		}
	}
	// Give each end's address to Linux or the kit.
	if c.from != wireEnd && c.from != loopEnd {
		if err := topo.own("a", c.from == linux); err != nil {
			return runResult{}, err
		}
		if err := topo.own("b", c.to == linux); err != nil {
			return runResult{}, err
		}
		if err := topo.forgetNeighbours(); err != nil {
			return runResult{}, err
		}
	}
	// A kit on TAP: its TAP bridged to the veth end in its namespace.
	for _, s := range []struct {
		side string
		e    end
	}{{"a", c.from}, {"b", c.to}} {
		if s.e != tapEnd {
			continue
		}
		if err := topo.bridgeTAP(s.side); err != nil {
			return runResult{}, err
		}
		defer topo.unbridgeTAP(s.side)
	}
	const bufLen = 65536
	nbuf := int(max(1, b.ttcpBytes(c.link)/bufLen))
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Minute)
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
		_, args := b.kernelArgs(topo, c.test, wireEnd, "a")
		if c.test == "ttcp" {
			args = append(args, "-json", "-l", strconv.Itoa(bufLen), "-n", strconv.Itoa(nbuf))
		} else {
			args = append(args, "-json", "-n", strconv.Itoa(b.o.rttN))
		}
		out, st, err := runCmdState(ctx, args[0], args[1:]...)
		if err != nil {
			return runResult{}, err
		}
		if c.test == "ttcp" {
			return parseTTCP(out, out)
		}
		r, err := parseResult("rtcp", out)
		// One process serves both ends: its CPU is the pair's.
		r.ClientCPU, r.RoundTrips = cpuOf(st), b.o.rttN+rtcpWarmup
		return r, err
	}
	if c.from == loopEnd {
		host = "127.0.0.1"
	}
	_, sArgs := b.kernelArgs(topo, c.test, c.to, "b")
	_, cArgs := b.kernelArgs(topo, c.test, c.from, "a")
	if c.from == loopEnd {
		// Both ends on loopback in namespace A.
		sArgs = []string{"ip", "netns", "exec", topo.nsA, b.self, "kernel", c.test, "-nic", "host"}
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
	// A kit server on TAP may also still be attaching, which the client sees
	// as an unreachable host or a timeout of its connect; only a bounded
	// number of tries is made either way.
	var cOut []byte
	var cState *os.ProcessState
	var err error
	for try := 0; try < 100; try++ {
		cOut, cState, err = runCmdState(ctx, cArgs[0], cArgs[1:]...)
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
		return parseTTCP(cOut, sOut.Bytes())
	}
	r, err := parseResult("rtcp", cOut)
	r.ClientCPU, r.ServerCPU, r.RoundTrips = cpuOf(cState), cpuOf(server.ProcessState), b.o.rttN+rtcpWarmup
	return r, err
}

// rtcpWarmup is rtcp's default -w: round trips made before measuring,
// which the processes' CPU time includes.
const rtcpWarmup = 200

// cpuOf is a finished process's CPU seconds, user and system.
func cpuOf(st *os.ProcessState) float64 {
	if st == nil {
		return 0
	}
	return (st.UserTime() + st.SystemTime()).Seconds()
}

// parseTTCP reads the receiver's figures from rOut and adds the sender's
// CPU time from tOut (the same output when one process ran both).
func parseTTCP(tOut, rOut []byte) (runResult, error) {
	r, err := parseResult("ttcp", rOut)
	if err != nil {
		return r, err
	}
	t, err := lastJSON(tOut, func(v ttcpJSON) bool { return v.Role == "t" })
	if err != nil {
		return r, fmt.Errorf("sender: %w", err)
	}
	r.SenderCPU = t.UserSec + t.SysSec
	return r, nil
}

type ttcpJSON struct {
	Role       string  `json:"role"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	BitsPerSec float64 `json:"bits_per_second"`
	UserSec    float64 `json:"cpu_user_seconds"`
	SysSec     float64 `json:"cpu_sys_seconds"`
}

func parseResult(test string, out []byte) (runResult, error) {
	if test == "ttcp" {
		r, err := lastJSON(out, func(v ttcpJSON) bool { return v.Role == "r" })
		if err != nil {
			return runResult{}, err
		}
		return runResult{BitsPerSec: r.BitsPerSec, Bytes: r.Bytes, Seconds: r.Seconds, ReceiverCPU: r.UserSec + r.SysSec}, nil
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
	w("Command: `go run ./cmd/kitbench%s`. %d run(s) per cell, alternating between cells; ttcp moves %d MiB per run with `-l 65536`, rtcp %d one-byte round trips after %d of warm-up. ",
		flagsNote(b.o), b.o.runs, b.o.bytes>>20, b.o.rttN, rtcpWarmup)
	w("Two network namespaces joined by one veth; goskit(TAP) is the kit on a TAP bridged to the veth end inside its namespace. TCP buffer maxima %d/%d bytes (send/receive) on Linux (`tcp_wmem`/`tcp_rmem`) and in the kit's `netstack.Config` alike; congestion control: Linux %s (`net.ipv4.tcp_congestion_control` in the namespace), the kit %s (`-cc`). ",
		b.o.wmemMax, b.o.rmemMax, b.linuxCC, b.o.cc)
	if !strings.HasPrefix(b.linuxCC, b.o.cc) {
		w("**The families differ**: Linux would not take %s in the namespaces (outside the initial namespace it accepts only those in `net.ipv4.tcp_allowed_congestion_control`; add %s there, or run with `-cc reno`, to match). ", b.o.cc, b.o.cc)
	}
	w("goskit(packet, busy-poll) is the kit on its AF_PACKET driver polling for frames for up to %v before it sleeps (`-busypoll`); its CPU column is what that costs per round trip. ", b.o.busyPoll)
	w("CPU is user+system seconds of each end's whole process (ttcp's own getrusage; rtcp's from its exit status, warm-up included). ")
	w("Machine: %d CPUs, %s/%s, %s. Took %s.\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, kernelRelease(), took.Round(time.Second))

	b.tables(&sb, cells, "", "Table 1", "Table 2")
	for _, rate := range b.rates() {
		if !slices.ContainsFunc(cells, func(c cell) bool { return c.link == rate }) {
			continue
		}
		w("**Shaped to %s**: A and B joined through a middle namespace that bridges them and shapes both directions (`tc tbf`, %s on each egress); ttcp moves %d MiB per run here.\n\n",
			rateLabel(rate), strings.Join(must(tbfArgs(rate)), " "), b.ttcpBytes(rate)>>20)
		b.tables(&sb, cells, rate, "Table 1 at "+rateLabel(rate), "Table 2 at "+rateLabel(rate))
	}

	bw := func(r runResult) float64 { return r.BitsPerSec / 1e9 }
	med := func(r runResult) float64 { return r.MedianUS }
	pairs := []struct{ label, kitCell, fdCell, unit string }{
		{"ttcp sending (to Linux)", "ttcp:kit->linux", "ttcp:fdbased->linux", "Gbit/s"},
		{"ttcp receiving (from Linux)", "ttcp:linux->kit", "ttcp:linux->fdbased", "Gbit/s"},
		{"rtcp client (to Linux)", "rtcp:kit->linux", "rtcp:fdbased->linux", "us"},
		{"rtcp server (from Linux)", "rtcp:linux->kit", "rtcp:linux->fdbased", "us"},
	}
	if slices.ContainsFunc(pairs, func(p struct{ label, kitCell, fdCell, unit string }) bool {
		return len(b.results[p.kitCell]) > 0 && len(b.results[p.fdCell]) > 0
	}) {
		w("**The kit's driver and glue against gVisor's own AF_PACKET endpoint** (fdbased with host GSO over PACKET_VNET_HDR and recvmmsg, the same netstack options, on every CPU: its best; the kit's kernels run on one), same veth, same runs: ratio kit/fdbased (bandwidth: higher is better; round trip: lower is better).\n\n")
		w("| direction | kit | fdbased | ratio |\n|---|---:|---:|---:|\n")
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

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// tables writes Table 1 and Table 2 for the cells on link.
func (b *bench) tables(sb *strings.Builder, cells []cell, link, t1, t2 string) {
	w := func(format string, args ...any) { fmt.Fprintf(sb, format, args...) }
	bw := func(r runResult) float64 { return r.BitsPerSec / 1e9 }
	sendCPU := func(r runResult) float64 { return cpuPerGiB(r.SenderCPU, r.Bytes) }
	recvCPU := func(r runResult) float64 { return cpuPerGiB(r.ReceiverCPU, r.Bytes) }
	has := func(test string) bool {
		return slices.ContainsFunc(cells, func(c cell) bool { return c.test == test && c.link == link })
	}
	if has("ttcp") {
		w("**%s: ttcp bandwidth**, sender -> receiver, Gbit/s (median, min-max), the ratio to Linux->Linux, and CPU seconds per GiB moved (medians).\n\n", t1)
		w("| sender -> receiver | Gbit/s | spread | ratio to Linux | CPU s/GiB (sender / receiver) |\n|---|---:|---:|---:|---:|\n")
		for _, c := range cells {
			if c.test != "ttcp" || c.link != link {
				continue
			}
			lin, _, _ := stats(b.series(baseName(c), bw))
			m, lo, hi := stats(b.series(c.name, bw))
			sc, _, _ := stats(b.series(c.name, sendCPU))
			rc, _, _ := stats(b.series(c.name, recvCPU))
			w("| %s -> %s | %.2f | %.2f-%.2f | %.2f | %.2f / %.2f |\n", c.from, c.to, m, lo, hi, m/lin, sc, rc)
		}
		w("\n")
	}
	if !has("rtcp") {
		return
	}
	w("**%s: rtcp one-byte round trip**, client -> server, microseconds (median of the runs' medians, min-max; p99 median), the ratio to Linux->Linux, and CPU microseconds per round trip (medians).\n\n", t2)
	w("| client -> server | median us | spread | p99 us | ratio to Linux | CPU us/round trip (client / server) |\n|---|---:|---:|---:|---:|---:|\n")
	med := func(r runResult) float64 { return r.MedianUS }
	p99 := func(r runResult) float64 { return r.P99US }
	cCPU := func(r runResult) float64 { return cpuPerRTT(r.ClientCPU, r.RoundTrips) }
	sCPU := func(r runResult) float64 { return cpuPerRTT(r.ServerCPU, r.RoundTrips) }
	for _, c := range cells {
		if c.test != "rtcp" || c.link != link {
			continue
		}
		lin, _, _ := stats(b.series(baseName(c), med))
		m, lo, hi := stats(b.series(c.name, med))
		p, _, _ := stats(b.series(c.name, p99))
		cc, _, _ := stats(b.series(c.name, cCPU))
		scpu := "-" // one process serves both ends of the wire
		if c.from != wireEnd {
			v, _, _ := stats(b.series(c.name, sCPU))
			scpu = fmt.Sprintf("%.1f", v)
		}
		w("| %s -> %s | %.1f | %.1f-%.1f | %.1f | %.2f | %.1f / %s |\n", c.from, c.to, m, lo, hi, p, m/lin, cc, scpu)
	}
	w("\n")
}

func flagsNote(o options) string {
	if o.command == "" && o.quick {
		return " -quick"
	}
	return o.command
}

func kernelRelease() string {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		return "Linux"
	}
	return "Linux " + strings.TrimSpace(string(out))
}
