package rtcp_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goskit/goskit/examples/programs/rtcp"
)

// runRTCP runs rtcp.Run with args (args[0] is the program name) and returns
// its exit status, console output and standard error. It fails the test if
// Run does not return within a minute.
func runRTCP(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out bytes.Buffer
	stderr = captureStderr(t, func() {
		done := make(chan int, 1)
		go func() { done <- rtcp.Run(args, &out) }()
		select {
		case code = <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("rtcp.Run(%q) did not return within 60 s; output so far:\n%s", args, out.String())
		}
	})
	return code, out.String(), stderr
}

// captureStderr runs f with os.Stderr redirected to a pipe and returns what
// was written there. Tests of this package do not run in parallel, so the
// swap is safe.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		got <- string(b)
	}()
	saved := os.Stderr
	func() {
		// Restored even if f ends the test.
		defer func() { os.Stderr = saved; w.Close() }()
		os.Stderr = w
		f()
	}()
	return <-got
}

// TestEmbeddedJSON runs client and server kernels over the wire with -json:
// one object with the documented keys, and sane statistics.
func TestEmbeddedJSON(t *testing.T) {
	code, out, stderr := runRTCP(t, "rtcp", "-nic", "wire", "-n", "500", "-json")
	if code != 0 {
		t.Fatalf("exit status %d, want 0; output:\n%s\nstderr:\n%s", code, out, stderr)
	}
	var obj map[string]float64
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &obj); err != nil {
		t.Fatalf("output is not one JSON object: %v:\n%s", err, out)
	}
	keys := []string{"count", "mean_us", "median_us", "p99_us", "min_us", "max_us"}
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Errorf("JSON lacks key %q: %s", k, out)
		}
	}
	if len(obj) != len(keys) {
		t.Errorf("JSON has %d keys, want exactly %q: %s", len(obj), keys, out)
	}
	if obj["count"] != 500 {
		t.Errorf("count = %v, want 500", obj["count"])
	}
	if !(0 < obj["min_us"] && obj["min_us"] <= obj["median_us"] && obj["median_us"] <= obj["p99_us"] && obj["p99_us"] <= obj["max_us"]) {
		t.Errorf("want 0 < min <= median <= p99 <= max: %s", out)
	}
	if !(obj["min_us"] <= obj["mean_us"] && obj["mean_us"] <= obj["max_us"]) {
		t.Errorf("want min <= mean <= max: %s", out)
	}
}

// TestEmbeddedDefault runs rtcp with no flags but a small -n: the classic
// line.
func TestEmbeddedDefault(t *testing.T) {
	code, out, stderr := runRTCP(t, "rtcp", "-n", "300", "-w", "10")
	if code != 0 {
		t.Fatalf("exit status %d, want 0; output:\n%s\nstderr:\n%s", code, out, stderr)
	}
	re := regexp.MustCompile(`(?m)^rtcp: 300 round trips of 1 byte to 198\.18\.0\.2: mean [0-9.]+ us, median [0-9.]+ us, p99 [0-9.]+ us, min [0-9.]+ us, max [0-9.]+ us$`)
	if !re.MatchString(out) {
		t.Errorf("output has no line matching %s:\n%s", re, out)
	}
}

// TestFlagErrors checks that bad command lines end with exit status 2 and a
// message naming the problem.
func TestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"client without host", []string{"-nic", "host"}, "the client needs the server's address"},
		{"server with host", []string{"-r", "-nic", "host", "198.18.0.1"}, `-r takes no host, got "198.18.0.1"`},
		{"server on the wire", []string{"-r"}, "-nic wire runs client and server"},
		{"host on the wire", []string{"198.18.0.2"}, "-nic wire runs client and server"},
		{"negative count", []string{"-n", "-1"}, "-n -1: want 1..100000000"},
		{"zero count", []string{"-nic", "host", "-n", "0", "198.18.0.1"}, "-n 0: want 1..100000000"},
		{"negative warmup", []string{"-w", "-1"}, "-w -1: cannot be negative"},
		{"port too big", []string{"-p", "70000"}, "-p 70000: want 1..65535"},
		{"port zero", []string{"-r", "-nic", "host", "-p", "0"}, "-p 0: want 1..65535"},
		{"bogus nic", []string{"-nic", "bogus"}, `unknown -nic "bogus"`},
		{"tap without name", []string{"-r", "-nic", "tap:"}, "-nic tap needs an interface name"},
		{"packet without addr", []string{"-r", "-nic", "packet:x"}, "-nic packet:x needs at least one -addr"},
		{"two host words", []string{"-nic", "host", "198.18.0.1", "198.18.0.2"}, "too many words"},
		{"host with addr", []string{"-r", "-nic", "host", "-addr", "198.18.0.1/24"}, "-nic host uses the host's addresses"},
		{"bad addr", []string{"-r", "-nic", "packet:x", "-addr", "x"}, `invalid value "x" for flag -addr`},
		{"ttcp's flag", []string{"-l", "0"}, "flag provided but not defined: -l"},
		{"bad number", []string{"-n", "lots"}, `invalid value "lots" for flag -n`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			captureStderr(t, func() { _, _, _, err = rtcp.Parse(tc.args) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
			code, out, stderr := runRTCP(t, append([]string{"rtcp"}, tc.args...)...)
			if code != 2 {
				t.Errorf("Run(%q): exit status %d, want 2; output:\n%s", tc.args, code, out)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("Run(%q): standard error lacks %q:\n%s", tc.args, tc.want, stderr)
			}
			if out != "" {
				t.Errorf("Run(%q) printed to the console before failing:\n%s", tc.args, out)
			}
		})
	}
}

// TestSummarize checks the statistics against hand-computed values.
func TestSummarize(t *testing.T) {
	us := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Microsecond
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	tests := []struct {
		name string
		in   []time.Duration
		want rtcp.Stats
	}{
		{"none", nil, rtcp.Stats{}},
		{"one", us(7), rtcp.Stats{Count: 1, MeanUS: 7, MedianUS: 7, P99US: 7, MinUS: 7, MaxUS: 7}},
		{"even count", us(4, 1, 3, 2), rtcp.Stats{Count: 4, MeanUS: 2.5, MedianUS: 2.5, P99US: 4, MinUS: 1, MaxUS: 4}},
		{"odd count", us(5, 1, 9), rtcp.Stats{Count: 3, MeanUS: 5, MedianUS: 5, P99US: 9, MinUS: 1, MaxUS: 9}},
		{"hundred", us(hundred...), rtcp.Stats{Count: 100, MeanUS: 50.5, MedianUS: 50.5, P99US: 99, MinUS: 1, MaxUS: 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.in...)
			if got := rtcp.Summarize(tc.in); got != tc.want {
				t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.in[i] {
					t.Fatalf("Summarize reordered its input")
				}
			}
		})
	}
}
