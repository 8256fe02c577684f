// Command kitbench measures the OSKit paper's tables for goskit: ttcp
// bandwidth (Table 1) and rtcp one-byte round-trip time (Table 2), with the
// kit's kernels beside native Linux on the same link.
//
//	sudo go run ./cmd/kitbench                       full run, Markdown on stdout
//	sudo go run ./cmd/kitbench -out doc/PERFORMANCE.md -json doc/kitbench.json
//	                                                 rewrite its section of the file, the chart
//	                                                 (kitbench.svg beside it) and the raw runs
//	sudo go run ./cmd/kitbench -quick                smoke test, under a minute
//
// It needs root: it creates two network namespaces joined by a veth
// (addresses from 198.18.0.0/15), runs every cell there, and deletes them.
// Each cell runs the same ttcp or rtcp program on both ends: with -nic host
// for Linux, on the kit's AF_PACKET driver for goskit(packet), on a TAP
// bridged to the veth end in its namespace for goskit(TAP), and on gVisor's
// own AF_PACKET endpoint (fdbased) as the baseline for the kit's driver and
// glue; plus goskit<->goskit over the in-memory wire and Linux over
// loopback for reference. With -shaped (the default) the Linux and
// goskit(packet) cells run again on links shaped to 100 Mbit/s and
// 1 Gbit/s by tc tbf in a middle namespace bridging the two ends. Runs
// alternate between cells, and each figure is the median of the runs with
// their spread; each ttcp run also yields each end's CPU seconds per GiB,
// each rtcp run CPU microseconds per round trip. The chart shows every
// goskit figure as a slowdown normalized to native Linux.
//
// kitbench runs its kernels by executing itself ("kitbench kernel ...")
// inside the namespaces, so a single binary carries everything.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	runs    int
	bytes   int64
	rttN    int
	quick   bool
	out     string
	jsonOut string
	wmemMax int
	rmemMax int
	cells   string
	verbose bool
	cc      string // the kit's congestion control, passed to every kit kernel
	shaped  bool   // add the cells on rate-limited links
	// busyPoll is the window of the goskit(packet, busy-poll) cells.
	busyPoll time.Duration
	// command is the flags given, as the report's command repeats them.
	command string
	// keep, if set, receives what -quick wrote (for tests).
	keep *map[string][]byte
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "kernel" {
		os.Exit(runKernel(os.Args[2:]))
	}
	var o options
	flag.IntVar(&o.runs, "runs", 5, "runs per cell (the median is reported)")
	flag.Int64Var(&o.bytes, "bytes", 2<<30, "bytes per ttcp run")
	flag.IntVar(&o.rttN, "rtt-n", 10000, "round trips per rtcp run")
	flag.BoolVar(&o.quick, "quick", false, "smoke test: one run per cell, 64 MiB, 1000 round trips; writes only to a temporary directory")
	flag.StringVar(&o.out, "out", "", "rewrite kitbench's marked section of this Markdown file")
	flag.StringVar(&o.jsonOut, "json", "", "write every run's raw result to this JSON file")
	flag.IntVar(&o.wmemMax, "wmem-max", 4<<20, "TCP send buffer maximum on both Linux (tcp_wmem) and the kit")
	flag.IntVar(&o.rmemMax, "rmem-max", 6<<20, "TCP receive buffer maximum on both Linux (tcp_rmem) and the kit")
	flag.StringVar(&o.cells, "cells", "", "comma-separated cell names to run (default: all)")
	flag.BoolVar(&o.verbose, "v", false, "print each run as it completes")
	flag.StringVar(&o.cc, "cc", "cubic", "the kit's congestion control (cubic or reno); Linux's is read from its sysctl and stated beside it")
	flag.BoolVar(&o.shaped, "shaped", true, "also run the tables on links shaped to 100 Mbit/s and 1 Gbit/s (only 1 Gbit/s under -quick)")
	flag.DurationVar(&o.busyPoll, "busypoll", 200*time.Microsecond, "busy-poll window of the goskit(packet, busy-poll) rtcp cells (the kit's -busypoll)")
	flag.Parse()
	// The report names the command that reproduces it: every flag given
	// but those that only say where to write.
	flag.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "out", "json", "v":
			return
		}
		if f.Value.String() == "true" {
			o.command += " -" + f.Name
		} else {
			o.command += " -" + f.Name + " " + f.Value.String()
		}
	})
	if o.busyPoll <= 0 {
		fmt.Fprintln(os.Stderr, "kitbench: -busypoll must be positive")
		os.Exit(2)
	}
	if o.quick {
		o.runs = 1
		o.bytes = min(o.bytes, 64<<20)
		o.rttN = min(o.rttN, 1000)
		if o.out != "" || o.jsonOut != "" {
			fmt.Fprintln(os.Stderr, "kitbench: -quick writes only to a temporary directory; drop -out and -json")
			os.Exit(2)
		}
	}
	if o.cc != "cubic" && o.cc != "reno" {
		fmt.Fprintln(os.Stderr, "kitbench: -cc cubic or -cc reno (the kit's families)")
		os.Exit(2)
	}
	if o.runs < 1 || o.bytes < 1<<20 || o.rttN < 10 {
		fmt.Fprintln(os.Stderr, "kitbench: -runs >= 1, -bytes >= 1 MiB, -rtt-n >= 10")
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "kitbench: needs root (it creates network namespaces)")
		os.Exit(1)
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "kitbench: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	md, err := runBench(o)
	if err != nil {
		return err
	}
	fmt.Print(md)
	return nil
}

// runBench measures every selected cell and returns the Markdown tables;
// it writes -out and -json unless quick.
func runBench(o options) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "kitbench-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// The namespaces run a copy of this binary: a `go run` binary lives in
	// a build directory that may vanish while kitbench runs.
	self := filepath.Join(tmp, "kitbench")
	if err := copyFile(exe, self); err != nil {
		return "", err
	}
	if o.cc == "" {
		o.cc = "cubic"
	}
	// An interrupt (Ctrl-C, SIGTERM, a closed terminal) ends the run
	// cleanly: the running cell's kernels are killed through their
	// context, and the deferred Closes remove the namespaces.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	topo, err := newTopology(o.wmemMax, o.rmemMax, o.cc)
	if err != nil {
		return "", err
	}
	defer topo.Close()

	b := &bench{ctx: ctx, o: o, self: self, topo: topo, results: map[string][]runResult{}}
	cells := b.cells()
	if o.cells != "" {
		want := strings.Split(o.cells, ",")
		cells = slices.DeleteFunc(cells, func(c cell) bool { return !slices.Contains(want, c.name) })
		if len(cells) == 0 {
			return "", fmt.Errorf("-cells %q names no cell", o.cells)
		}
	}
	if slices.ContainsFunc(cells, func(c cell) bool { return c.link != "" }) {
		shaped, err := newShapedTopology(o.wmemMax, o.rmemMax, o.cc)
		if err != nil {
			return "", err
		}
		defer shaped.Close()
		b.shaped = shaped
	}
	b.linuxCC = topo.congestionControl()
	if b.shaped != nil && b.shaped.congestionControl() != b.linuxCC {
		b.linuxCC += " (" + b.shaped.congestionControl() + " on the shaped link)"
	}
	start := time.Now()
	for r := 0; r < o.runs; r++ {
		for _, c := range cells {
			res, err := b.runCell(c)
			if ctx.Err() != nil {
				return "", fmt.Errorf("interrupted in cell %s, run %d; namespaces removed", c.name, r+1)
			}
			if err != nil {
				return "", fmt.Errorf("cell %s, run %d: %w", c.name, r+1, err)
			}
			b.results[c.name] = append(b.results[c.name], res)
			if o.verbose {
				fmt.Fprintf(os.Stderr, "%-28s run %d: %s\n", c.name, r+1, res)
			}
		}
	}
	took := time.Since(start)
	chart := b.svg(cells)
	md := b.markdown(cells, took)
	if o.quick {
		// Everything goes to the temporary directory, as a full run would
		// write it, so -quick exercises every writer.
		md += "![slowdown chart](" + svgName + ") (under -quick, in " + tmp + ", removed on exit)\n\n"
		for name, data := range map[string][]byte{"results.md": []byte(md), svgName: chart, "results.json": b.jsonReport(cells, took)} {
			if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
				return md, err
			}
		}
		if o.keep != nil {
			*o.keep = map[string][]byte{"md": []byte(md), "svg": chart, "json": b.jsonReport(cells, took)}
		}
		return md, nil
	}
	if o.jsonOut != "" {
		if err := os.WriteFile(o.jsonOut, b.jsonReport(cells, took), 0o644); err != nil {
			return "", err
		}
	}
	if o.out != "" {
		// The chart lives beside the Markdown file, which links it.
		if err := os.WriteFile(filepath.Join(filepath.Dir(o.out), svgName), chart, 0o644); err != nil {
			return "", err
		}
		md += "![slowdown chart](" + svgName + ")\n\n"
		return md, rewriteSection(o.out, md)
	}
	return md, nil
}

// svgName is the chart's file name, beside the -out file.
const svgName = "kitbench.svg"

// jsonReport is the -json file: the setting and every run's raw result.
func (b *bench) jsonReport(cells []cell, took time.Duration) []byte {
	type cellJSON struct {
		Name string      `json:"name"`
		Test string      `json:"test"`
		From end         `json:"from"`
		To   end         `json:"to"`
		Link string      `json:"link"` // "veth" or the shaped rate
		Runs []runResult `json:"runs"`
	}
	rep := struct {
		Command    string     `json:"command"`
		Runs       int        `json:"runs_per_cell"`
		Bytes      int64      `json:"ttcp_bytes"`
		RoundTrips int        `json:"rtcp_round_trips"`
		WmemMax    int        `json:"wmem_max"`
		RmemMax    int        `json:"rmem_max"`
		KitCC      string     `json:"kit_congestion_control"`
		LinuxCC    string     `json:"linux_congestion_control"`
		BusyPollUS float64    `json:"busy_poll_us"`
		CPUs       int        `json:"cpus"`
		Kernel     string     `json:"kernel"`
		Seconds    float64    `json:"seconds"`
		Cells      []cellJSON `json:"cells"`
	}{
		Command: "go run ./cmd/kitbench" + flagsNote(b.o), Runs: b.o.runs, Bytes: b.o.bytes, RoundTrips: b.o.rttN,
		WmemMax: b.o.wmemMax, RmemMax: b.o.rmemMax, KitCC: b.o.cc, LinuxCC: b.linuxCC,
		BusyPollUS: float64(b.o.busyPoll) / float64(time.Microsecond),
		CPUs:       runtime.NumCPU(), Kernel: kernelRelease(), Seconds: took.Seconds(),
	}
	for _, c := range cells {
		link := c.link
		if link == "" {
			link = "veth"
		}
		rep.Cells = append(rep.Cells, cellJSON{Name: c.name, Test: c.test, From: c.from, To: c.to, Link: link, Runs: b.results[c.name]})
	}
	raw, _ := json.MarshalIndent(rep, "", "  ")
	return append(raw, '\n')
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

// Section markers in the -out file; kitbench rewrites only what is between
// them, so other issues' figures in the same file stay.
const (
	beginMark = "<!-- kitbench:begin (generated by go run ./cmd/kitbench; do not edit by hand) -->"
	endMark   = "<!-- kitbench:end -->"
)

func rewriteSection(path, md string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s := string(old)
	section := beginMark + "\n" + md + endMark
	i := strings.Index(s, "<!-- kitbench:begin")
	j := strings.Index(s, endMark)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + section + s[j+len(endMark):]
	default:
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		s += "\n" + section + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// runCmd runs a command with a timeout and returns its standard output.
func runCmd(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}

// runCmdState is runCmd that also returns the finished process's state,
// for its CPU time (`ip netns exec` executes the program in its own place).
func runCmdState(ctx context.Context, name string, args ...string) ([]byte, *os.ProcessState, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.Bytes(), cmd.ProcessState, fmt.Errorf("%s %s: %w\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), cmd.ProcessState, nil
}

// lastJSON returns the last line of out that is a JSON object matching pred.
func lastJSON[T any](out []byte, pred func(T) bool) (T, error) {
	var found T
	ok := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var v T
		if json.Unmarshal(line, &v) == nil && pred(v) {
			found, ok = v, true
		}
	}
	if !ok {
		return found, fmt.Errorf("no result in output:\n%s", out)
	}
	return found, nil
}
