package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goskit/goskit/internal/testenv"
)

// TestMain lets the test binary serve as the kernels kitbench starts
// ("kitbench kernel ..." executes os.Executable, which here is the test).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "kernel" {
		os.Exit(runKernel(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func TestRewriteSection(t *testing.T) {
	for _, tc := range []struct {
		name, before, want string
	}{
		{"new file", "", "\n" + beginMark + "\nT\n" + endMark + "\n"},
		{"append", "# Perf\ntext", "# Perf\ntext\n\n" + beginMark + "\nT\n" + endMark + "\n"},
		{"replace", "a\n" + beginMark + "\nold\n" + endMark + "\nb\n", "a\n" + beginMark + "\nT\n" + endMark + "\nb\n"},
		{"replace older marker", "a\n<!-- kitbench:begin -->\nold\n" + endMark + "\nb", "a\n" + beginMark + "\nT\n" + endMark + "\nb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.md")
			if tc.before != "" {
				os.WriteFile(path, []byte(tc.before), 0o644)
			}
			if err := rewriteSection(path, "T\n"); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStats(t *testing.T) {
	for _, tc := range []struct {
		xs          []float64
		med, lo, hi float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
		{[]float64{7}, 7, 7, 7},
	} {
		m, lo, hi := stats(tc.xs)
		if m != tc.med || lo != tc.lo || hi != tc.hi {
			t.Errorf("stats(%v) = %v %v %v", tc.xs, m, lo, hi)
		}
	}
	if m, _, _ := stats(nil); !math.IsNaN(m) {
		t.Errorf("stats(nil) = %v, want NaN", m)
	}
}

func TestParseResult(t *testing.T) {
	out := []byte("ttcp-r: noise\n{\"role\":\"t\",\"bytes\":5}\n{\"role\":\"r\",\"bytes\":1048576,\"seconds\":0.5,\"bits_per_second\":16777216}\n")
	r, err := parseResult("ttcp", out)
	if err != nil || r.Bytes != 1048576 || r.BitsPerSec != 16777216 {
		t.Errorf("ttcp result %+v, %v", r, err)
	}
	r, err = parseResult("rtcp", []byte(`{"count":10,"mean_us":20,"median_us":18.5,"p99_us":40,"min_us":1,"max_us":50}`))
	if err != nil || r.MedianUS != 18.5 || r.P99US != 40 {
		t.Errorf("rtcp result %+v, %v", r, err)
	}
	for _, bad := range []string{"", "not json", `{"role":"t"}`, `{"count":0}`, "{broken"} {
		if _, err := parseResult("ttcp", []byte(bad)); err == nil {
			t.Errorf("parseResult(%q) succeeded", bad)
		}
	}
}

func TestCPUArithmetic(t *testing.T) {
	for _, tc := range []struct {
		name  string
		got   float64
		want  float64
		isNaN bool
	}{
		{"one GiB", cpuPerGiB(2.5, 1<<30), 2.5, false},
		{"half GiB", cpuPerGiB(1, 1<<29), 2, false},
		{"4 GiB", cpuPerGiB(1, 4<<30), 0.25, false},
		{"no bytes", cpuPerGiB(1, 0), 0, true},
		{"rtt", cpuPerRTT(0.5, 10000), 50, false},
		{"no rtt", cpuPerRTT(1, 0), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.isNaN {
				if !math.IsNaN(tc.got) {
					t.Errorf("got %v, want NaN", tc.got)
				}
			} else if math.Abs(tc.got-tc.want) > 1e-12 {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestParseTTCPCPU(t *testing.T) {
	tOut := []byte(`{"role":"t","bytes":1073741824,"cpu_user_seconds":0.25,"cpu_sys_seconds":0.5}` + "\n")
	rOut := []byte(`{"role":"r","bytes":1073741824,"seconds":1,"bits_per_second":8589934592,"cpu_user_seconds":1,"cpu_sys_seconds":0.5}` + "\n")
	r, err := parseTTCP(tOut, rOut)
	if err != nil {
		t.Fatal(err)
	}
	if r.SenderCPU != 0.75 || r.ReceiverCPU != 1.5 {
		t.Errorf("CPU sender %v receiver %v, want 0.75 1.5", r.SenderCPU, r.ReceiverCPU)
	}
	if got := cpuPerGiB(r.SenderCPU, r.Bytes); got != 0.75 {
		t.Errorf("sender CPU s/GiB %v", got)
	}
	if _, err := parseTTCP(nil, rOut); err == nil {
		t.Error("parseTTCP without a sender line succeeded")
	}
}

// svgBars decodes an SVG document, failing on malformed XML, and returns
// its bars' titles.
func svgBars(t *testing.T, doc []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var bars []string
	inBar := false
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("malformed SVG: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			if tok.Name.Local == "rect" {
				for _, a := range tok.Attr {
					if a.Name.Local == "class" && a.Value == "bar" {
						inBar = true
					}
				}
			}
		case xml.CharData:
			if inBar {
				bars = append(bars, string(tok))
			}
		case xml.EndElement:
			if tok.Name.Local == "rect" {
				inBar = false
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return bars
}

func TestSVGChart(t *testing.T) {
	b := &bench{o: options{shaped: true}, results: map[string][]runResult{
		"ttcp:linux->linux":       {{BitsPerSec: 10e9}},
		"ttcp:kit->linux":         {{BitsPerSec: 5e9}},
		"ttcp:linux->tap":         {{BitsPerSec: 2.5e9}},
		"rtcp:linux->linux":       {{MedianUS: 20}},
		"rtcp:kit->kit":           {{MedianUS: 60}},
		"ttcp@1gbit:linux->linux": {{BitsPerSec: 0.95e9}},
		"ttcp@1gbit:kit->linux":   {{BitsPerSec: 0.95e9}},
		"rtcp:wire->wire":         {{MedianUS: 10}},
		"rtcp:loopback->loopback": {{MedianUS: 10}},
	}}
	var cells []cell
	for _, c := range b.cells() {
		if len(b.results[c.name]) > 0 {
			cells = append(cells, c)
		}
	}
	// A cell with a goskit end but no Linux baseline: listed, no bar.
	cells = append(cells, cell{name: "ttcp@100mbit:kit->linux", test: "ttcp", from: kit, to: linux, link: "100mbit"})
	b.results["ttcp@100mbit:kit->linux"] = []runResult{{BitsPerSec: 0.09e9}}

	bars := b.slowdowns(cells)
	want := map[string]float64{
		"ttcp:kit->linux": 2, "ttcp:linux->tap": 4, "rtcp:kit->kit": 3,
		"ttcp@1gbit:kit->linux": 1, "rtcp:wire->wire": 1,
	}
	if len(bars) != len(want)+1 {
		t.Fatalf("%d bars, want %d: %+v", len(bars), len(want)+1, bars)
	}
	got := map[string]float64{}
	rest := bars // one bar per goskit cell, in the cells' order
	for _, c := range cells {
		if isKit(c.from) || isKit(c.to) {
			got[c.name] = rest[0].value
			rest = rest[1:]
		}
	}
	for name, v := range want {
		if math.Abs(got[name]-v) > 1e-9 {
			t.Errorf("%s: slowdown %v, want %v", name, got[name], v)
		}
	}
	if v := got["ttcp@100mbit:kit->linux"]; ok(v) {
		t.Errorf("unmeasured baseline gave slowdown %v", v)
	}

	doc := b.svg(cells)
	titles := svgBars(t, doc)
	if len(titles) != len(want) {
		t.Errorf("%d bars drawn, want %d:\n%s", len(titles), len(want), doc)
	}
	for _, label := range []string{"goskit(packet) -&gt; Linux", "Linux -&gt; goskit(TAP)", "not measured", "1 Gbit/s"} {
		if !bytes.Contains(doc, []byte(label)) {
			t.Errorf("chart lacks %q", label)
		}
	}
	// Hostile labels stay well-formed.
	svgBars(t, svgChart("<&>", []bar{{group: "a<b", label: "x&y", value: 2}, {group: "a<b", label: "z", value: math.Inf(1)}}))
	svgBars(t, svgChart("empty", nil))
}

// TestQuick runs kitbench -quick on a few cells: namespaces, veth, Linux
// and the kit on both ends, the fdbased baseline and the wire.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("kitbench -quick runs real transfers")
	}
	testenv.NeedRoot(t)
	testenv.NeedTool(t, "ip")
	testenv.NeedTool(t, "tc")
	var kept map[string][]byte
	o := options{runs: 1, bytes: 16 << 20, rttN: 200, quick: true, wmemMax: 4 << 20, rmemMax: 6 << 20, cc: "cubic", shaped: true, keep: &kept, busyPoll: 200 * time.Microsecond,
		cells: "ttcp:linux->linux,ttcp:kit->linux,ttcp:linux->kit,ttcp:fdbased->linux,ttcp:wire->wire,rtcp:linux->linux,rtcp:kit->kit,rtcp:wire->wire,rtcp:kitbusy->linux," +
			"ttcp:tap->linux,rtcp:linux->tap,ttcp@1gbit:linux->linux,ttcp@1gbit:kit->linux,rtcp@1gbit:linux->kit"}
	md, err := runBench(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + md)
	for _, want := range []string{"Table 1", "Table 2", "| Linux -> Linux |", "| goskit(packet) -> Linux |", "| goskit(wire) -> goskit(wire) |",
		"| goskit(TAP) -> Linux |", "| Linux -> goskit(TAP) |", "| goskit(packet, busy-poll) -> Linux |", "busy-poll) is the kit on its AF_PACKET driver polling for frames for up to 200µs", "Table 1 at 1 Gbit/s", "Table 2 at 1 Gbit/s", "CPU s/GiB", "congestion control: Linux ", "![slowdown chart](kitbench.svg)"} {
		if !strings.Contains(md, want) {
			t.Errorf("output lacks %q:\n%s", want, md)
		}
	}
	// The shaped link holds the transfer to its rate (with some slack for
	// tbf's burst): if it did not, the shaping would be bypassed.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| goskit(packet) -> Linux |") && strings.Contains(md[strings.Index(md, "Table 1 at 1 Gbit/s"):], line) {
			var gbps float64
			fmt.Sscanf(strings.TrimPrefix(line, "| goskit(packet) -> Linux |"), "%g", &gbps)
			if gbps <= 0 || gbps > 1.2 {
				t.Errorf("shaped 1 Gbit/s cell measured %v Gbit/s", gbps)
			}
		}
	}
	if bars := svgBars(t, kept["svg"]); len(bars) < 6 {
		t.Errorf("chart has %d bars, want one per goskit cell (>= 6):\n%s", len(bars), kept["svg"])
	}
	var rep struct {
		LinuxCC string `json:"linux_congestion_control"`
		Cells   []struct {
			Name string      `json:"name"`
			Link string      `json:"link"`
			Runs []runResult `json:"runs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(kept["json"], &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, kept["json"])
	}
	if rep.LinuxCC == "" || len(rep.Cells) != 14 {
		t.Errorf("JSON report: cc %q, %d cells", rep.LinuxCC, len(rep.Cells))
	}
	for _, c := range rep.Cells {
		if len(c.Runs) != 1 {
			t.Errorf("JSON cell %s: %d runs", c.Name, len(c.Runs))
			continue
		}
		r := c.Runs[0]
		if strings.HasPrefix(c.Name, "ttcp") && (r.SenderCPU <= 0 || r.ReceiverCPU <= 0) {
			t.Errorf("JSON cell %s: CPU %v/%v", c.Name, r.SenderCPU, r.ReceiverCPU)
		}
		if strings.HasPrefix(c.Name, "rtcp") && r.ClientCPU <= 0 {
			t.Errorf("JSON cell %s: client CPU %v", c.Name, r.ClientCPU)
		}
	}
}

func TestTTCPBytes(t *testing.T) {
	b := &bench{o: options{bytes: 2 << 30}}
	for _, tc := range []struct {
		link string
		want int64
	}{
		{"", 2 << 30},
		{"100mbit", 100e6 / 8 * shapedSeconds},
		{"1gbit", 1e9 / 8 * shapedSeconds},
	} {
		if got := b.ttcpBytes(tc.link); got != tc.want {
			t.Errorf("ttcpBytes(%q) = %d, want %d", tc.link, got, tc.want)
		}
	}
	b.o.bytes = 64 << 20 // -quick: its amount is below the shaped cap
	if got := b.ttcpBytes("1gbit"); got != 64<<20 {
		t.Errorf("quick ttcpBytes(1gbit) = %d", got)
	}
}

// TestOutFiles runs one short cell without -quick and checks what -out and
// -json write: the Markdown section linking the chart, the chart beside
// it, and the JSON report.
func TestOutFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real transfer")
	}
	testenv.NeedRoot(t)
	testenv.NeedTool(t, "ip")
	dir := t.TempDir()
	o := options{runs: 1, bytes: 8 << 20, rttN: 100, wmemMax: 4 << 20, rmemMax: 6 << 20, cc: "cubic",
		out: filepath.Join(dir, "PERF.md"), jsonOut: filepath.Join(dir, "k.json"), cells: "ttcp:wire->wire,ttcp:loopback->loopback"}
	if err := os.WriteFile(o.out, []byte("# Perf\n\nother figures\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runBench(o); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(o.out)
	for _, want := range []string{"other figures", beginMark, "![slowdown chart](kitbench.svg)", endMark} {
		if !strings.Contains(string(md), want) {
			t.Errorf("%s lacks %q:\n%s", o.out, want, md)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, svgName))
	if err != nil {
		t.Fatal(err)
	}
	if bars := svgBars(t, svg); len(bars) != 1 {
		t.Errorf("chart has %d bars, want 1 (wire against loopback)", len(bars))
	}
	raw, _ := os.ReadFile(o.jsonOut)
	var rep struct {
		KitCC string `json:"kit_congestion_control"`
		Cells []struct {
			Name string      `json:"name"`
			Runs []runResult `json:"runs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil || rep.KitCC != "cubic" || len(rep.Cells) != 2 || len(rep.Cells[0].Runs) != 1 || rep.Cells[0].Runs[0].SenderCPU <= 0 {
		t.Errorf("JSON report %v:\n%s", err, raw)
	}
}

// TestInterrupt checks that a signal ends a run in its middle with an
// error, killing the running cell's kernels and removing the namespaces.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real transfer")
	}
	testenv.NeedRoot(t)
	testenv.NeedTool(t, "ip")
	// A transfer far longer than the test waits.
	o := options{runs: 1, bytes: 1 << 40, rttN: 100, wmemMax: 4 << 20, rmemMax: 6 << 20, cc: "cubic",
		busyPoll: 200 * time.Microsecond, cells: "ttcp:linux->linux"}
	done := make(chan error, 1)
	go func() { _, err := runBench(o); done <- err }()
	// The namespace exists only once the signal handler is in place, so
	// the signal cannot kill the test binary itself.
	ns := fmt.Sprintf("kitbench-%d-a", os.Getpid())
	deadline := time.Now().Add(30 * time.Second)
	for !hasNetns(t, ns) {
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s not made within 30 s", ns)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // into the transfer
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Fatalf("runBench after SIGTERM: %v, want an interruption error", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("runBench still running 60 s after SIGTERM")
	}
	if hasNetns(t, ns) {
		t.Errorf("namespace %s left behind", ns)
	}
}

func hasNetns(t *testing.T, name string) bool {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}
