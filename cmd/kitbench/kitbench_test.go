package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// TestQuick runs kitbench -quick on a few cells: namespaces, veth, Linux
// and the kit on both ends, the fdbased baseline and the wire.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("kitbench -quick runs real transfers")
	}
	testenv.NeedRoot(t)
	testenv.NeedTool(t, "ip")
	o := options{runs: 1, bytes: 16 << 20, rttN: 200, quick: true, wmemMax: 4 << 20, rmemMax: 6 << 20,
		cells: "ttcp:linux->linux,ttcp:kit->linux,ttcp:linux->kit,ttcp:fdbased->linux,ttcp:wire->wire,rtcp:linux->linux,rtcp:kit->kit,rtcp:wire->wire"}
	md, err := runBench(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + md)
	for _, want := range []string{"Table 1", "Table 2", "| Linux -> Linux |", "| goskit(packet) -> Linux |", "| goskit(wire) -> goskit(wire) |"} {
		if !strings.Contains(md, want) {
			t.Errorf("output lacks %q:\n%s", want, md)
		}
	}
}
