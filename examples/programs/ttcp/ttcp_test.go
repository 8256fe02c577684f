package ttcp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/pcap"
	"github.com/goskit/goskit/examples/programs/ttcp"
	"github.com/goskit/goskit/internal/testenv"
)

// runTTCP runs ttcp.Run with args (args[0] is the program name) and returns
// its exit status, its console output and what it wrote to standard error.
// It fails the test if Run does not return within a minute.
func runTTCP(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out bytes.Buffer
	stderr = captureStderr(t, func() {
		done := make(chan int, 1)
		go func() { done <- ttcp.Run(args, &out) }()
		select {
		case code = <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("ttcp.Run(%q) did not return within 60 s; output so far:\n%s", args, out.String())
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

var (
	classicTx = regexp.MustCompile(`(?m)^ttcp-t: 16777216 bytes in [0-9.]+ real seconds = [0-9.]+ Mbit/sec \+\+\+$`)
	classicRx = regexp.MustCompile(`(?m)^ttcp-r: 16777216 bytes in [0-9.]+ real seconds = [0-9.]+ Mbit/sec \+\+\+ \(pattern verified\)$`)
)

// TestEmbeddedDefault runs ttcp with no flags: two kernels over the wire, a
// verified 16 MiB transfer, both classic summary lines.
func TestEmbeddedDefault(t *testing.T) {
	code, out, stderr := runTTCP(t, "ttcp")
	if code != 0 {
		t.Fatalf("ttcp with no flags: exit status %d, want 0; output:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, re := range []*regexp.Regexp{classicTx, classicRx} {
		if !re.MatchString(out) {
			t.Errorf("output has no line matching %s:\n%s", re, out)
		}
	}
	for _, want := range []string{"ttcp-r: accept from 198.18.0.1", "ttcp-t: buflen=8192, nbuf=2048, port=5001  tcp  -> 198.18.0.2"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestEmbeddedJSON runs the embedded pair with -json: each side prints one
// JSON object, and both agree on the byte count.
func TestEmbeddedJSON(t *testing.T) {
	code, out, stderr := runTTCP(t, "ttcp", "-nic", "wire", "-s", "-json", "-l", "1000", "-n", "777")
	if code != 0 {
		t.Fatalf("exit status %d, want 0; output:\n%s\nstderr:\n%s", code, out, stderr)
	}
	roles := map[string]ttcp.Result{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r ttcp.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q is not JSON: %v; output:\n%s", line, err, out)
		}
		roles[r.Role] = r
	}
	for _, role := range []string{"t", "r"} {
		r, ok := roles[role]
		switch {
		case !ok:
			t.Errorf("no JSON object with role %q in:\n%s", role, out)
		case r.Bytes != 777000 || !r.Verified || r.BufLen != 1000 || r.NIC != "wire":
			t.Errorf("role %s: got %+v, want 777000 verified bytes in 1000-byte buffers on the wire", role, r)
		}
	}
}

// TestFlagErrors checks that bad command lines end with exit status 2 and a
// message naming the problem, before any kernel boots.
func TestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the error, and on standard error
	}{
		{"transmit without host", []string{"-t", "-nic", "host"}, "-t needs the receiver's address"},
		{"transmit on the wire", []string{"-t"}, "-nic wire runs both kernels"},
		{"receive with host", []string{"-r", "-nic", "host", "198.18.0.1"}, `-r takes no host, got "198.18.0.1"`},
		{"neither role", []string{"-nic", "host"}, "exactly one of -t and -r"},
		{"both roles", []string{"-t", "-r", "-nic", "host", "198.18.0.1"}, "exactly one of -t and -r"},
		{"zero buflen", []string{"-l", "0"}, "-l 0: want 1.."},
		{"huge buflen", []string{"-l", "1000000000"}, "-l 1000000000: want 1.."},
		{"negative nbuf", []string{"-n", "-1"}, "-n -1: want at least 1"},
		{"zero nbuf", []string{"-r", "-nic", "host", "-n", "0"}, "-n 0: want at least 1"},
		{"port too big", []string{"-p", "70000"}, "-p 70000: want 1..65535"},
		{"port zero", []string{"-r", "-nic", "host", "-p", "0"}, "-p 0: want 1..65535"},
		{"negative sockbuf", []string{"-b", "-5"}, "-b and -i cannot be negative"},
		{"negative interval", []string{"-i", "-1"}, "-b and -i cannot be negative"},
		{"bad format", []string{"-f", "x"}, `-f "x": want k, m, g, K, M or G`},
		{"bogus nic", []string{"-nic", "bogus"}, `unknown -nic "bogus"`},
		{"tap without name", []string{"-r", "-nic", "tap:"}, "-nic tap needs an interface name"},
		{"packet without name", []string{"-r", "-nic", "packet"}, "-nic packet needs an interface name"},
		{"packet without addr", []string{"-r", "-nic", "packet:x"}, "-nic packet:x needs at least one -addr"},
		{"tap without addr", []string{"-t", "-nic", "tap:tap0", "198.18.0.2"}, "-nic tap:tap0 needs at least one -addr"},
		{"two host words", []string{"-t", "-nic", "host", "198.18.0.1", "198.18.0.2"}, "too many words"},
		{"flag after host", []string{"-t", "198.18.0.1", "-nic", "host"}, "too many words"},
		{"host with addr", []string{"-r", "-nic", "host", "-addr", "198.18.0.1/24"}, "-nic host uses the host's addresses"},
		{"host with gw", []string{"-r", "-nic", "host", "-gw", "198.18.0.254"}, "-nic host uses the host's addresses"},
		{"host with pcap", []string{"-r", "-nic", "host", "-pcap", "x.pcap"}, "-nic host uses the host's addresses"},
		{"bad addr", []string{"-r", "-nic", "packet:x", "-addr", "198.18.0.1"}, `invalid value "198.18.0.1" for flag -addr`},
		{"bad gw", []string{"-r", "-nic", "packet:x", "-addr", "198.18.0.1/24", "-gw", "nowhere"}, `invalid value "nowhere" for flag -gw`},
		{"unknown flag", []string{"-zz"}, "flag provided but not defined: -zz"},
		{"bad number", []string{"-l", "many"}, `invalid value "many" for flag -l`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			captureStderr(t, func() { _, _, _, err = ttcp.Parse(tc.args) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
			code, out, stderr := runTTCP(t, append([]string{"ttcp"}, tc.args...)...)
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

// TestBootErrors: a malformed boot option is a usage error too.
func TestBootErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	code, out, stderr := runTTCP(t, "ttcp", "-module="+missing, "--", "-r", "-nic", "host")
	if code != 2 {
		t.Errorf("exit status %d, want 2; output:\n%s", code, out)
	}
	if !strings.Contains(stderr, "ttcp: ") || !strings.Contains(stderr, missing) {
		t.Errorf("standard error does not name the module file %s:\n%s", missing, stderr)
	}
}

// TestParseEmbedded checks what the accepted embedded command lines mean.
func TestParseEmbedded(t *testing.T) {
	tests := []struct {
		args    []string
		pattern bool
		format  string
		nbuf    int
	}{
		{nil, true, "m", 2048},
		{[]string{"-nic", "wire"}, false, "K", 2048},
		{[]string{"-s", "-n", "5", "-f", "g"}, true, "g", 5},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.args), func(t *testing.T) {
			o, nic, embedded, err := ttcp.Parse(tc.args)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.args, err)
			}
			if !embedded || nic.NIC != "wire" {
				t.Errorf("Parse(%q): embedded=%v nic=%q, want the embedded wire", tc.args, embedded, nic.NIC)
			}
			if o.Pattern != tc.pattern || o.Format != tc.format || o.NumBufs != tc.nbuf {
				t.Errorf("Parse(%q) = pattern %v format %q nbuf %d, want %v %q %d", tc.args, o.Pattern, o.Format, o.NumBufs, tc.pattern, tc.format, tc.nbuf)
			}
		})
	}
}

// TestPcap runs the embedded pair with -pcap and has tshark read the file:
// frames are present, TCP is dissected, nothing is malformed.
func TestPcap(t *testing.T) {
	tshark := testenv.NeedTool(t, "tshark")
	path := filepath.Join(t.TempDir(), "ttcp.pcap")
	code, out, stderr := runTTCP(t, "ttcp", "-s", "-n", "256", "-l", "4096", "-pcap", path)
	if code != 0 {
		t.Fatalf("ttcp -pcap: exit status %d; output:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "ttcp-r: 1048576 bytes") {
		t.Errorf("receiver did not report 1048576 bytes:\n%s", out)
	}

	// Our own reader first: the file is a capture of Ethernet frames.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcap.NewReader(f)
	if err != nil {
		t.Fatalf("pcap.NewReader: %v", err)
	}
	frames := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("pcap frame %d: %v", frames, err)
		}
		frames++
	}
	if frames < 10 {
		t.Fatalf("capture holds %d frames, want a whole TCP connection", frames)
	}

	// One tshark pass (it is slow to start): a line of fields per frame.
	cmd := exec.Command(tshark, "-n", "-r", path, "-T", "fields", "-E", "separator=/t",
		"-e", "frame.number", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack",
		"-e", "tcp.flags.fin", "-e", "tcp.ack", "-e", "_ws.malformed", "-e", "_ws.expert.severity")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r: %v: %s", err, errb.String())
	}
	set := func(v string) bool { return v == "1" || v == "True" } // tshark 4.0 and later spellings
	const expertError = 0x00800000                                // PI_ERROR
	var all, tcp, syn, fin, maxAck int
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 9 {
			t.Fatalf("tshark line %q: want 9 fields", line)
		}
		all++
		if f[7] != "" {
			t.Errorf("tshark: frame %s is malformed", f[0])
		}
		for _, sev := range strings.Split(f[8], ",") {
			if n, err := strconv.Atoi(sev); err == nil && n >= expertError {
				t.Errorf("tshark: frame %s has an expert error (severity %#x)", f[0], n)
			}
		}
		if f[1] != "5001" && f[2] != "5001" {
			continue
		}
		tcp++
		if set(f[3]) && !set(f[4]) {
			syn++
		}
		if set(f[5]) {
			fin++
		}
		if f[1] == "5001" {
			// The receiver's acknowledgements; tshark's numbers are
			// relative to the SYN.
			n, err := strconv.Atoi(f[6])
			if err != nil {
				t.Fatalf("tshark: frame %s: tcp.ack %q: %v", f[0], f[6], err)
			}
			maxAck = max(maxAck, n)
		}
	}
	t.Logf("tshark: %d frames, %d of TCP port 5001, %d SYN, %d FIN, acknowledged to %d", all, tcp, syn, fin, maxAck)
	if all != frames {
		t.Errorf("tshark read %d frames, the pcap reader %d", all, frames)
	}
	if tcp < frames/2 {
		t.Errorf("tshark dissected TCP port 5001 in %d of %d frames", tcp, frames)
	}
	if syn != 1 || fin < 2 {
		t.Errorf("tshark saw %d SYNs and %d FINs, want 1 and at least 2", syn, fin)
	}
	// The receiver acknowledged the whole transfer: SYN, 1 MiB, FIN.
	if want := 1 + 1048576 + 1; maxAck != want {
		t.Errorf("tshark: the receiver acknowledged up to relative sequence %d, want %d", maxAck, want)
	}
}

// freePort returns a TCP port free on the loopback address host just now;
// it skips the test if host is not configured.
func freePort(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("no loopback %s here: %v", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestHostSockets runs both sides with -nic host over loopback: the same
// program on Linux's own TCP, the native baseline. The transmitter retries
// while the receiver is not listening yet.
func TestHostSockets(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			port := fmt.Sprint(freePort(t, host))
			var rout bytes.Buffer
			rdone := make(chan int, 1)
			go func() { rdone <- ttcp.Run([]string{"ttcp", "-r", "-s", "-nic", "host", "-p", port}, &rout) }()
			var tout bytes.Buffer
			deadline := time.Now().Add(30 * time.Second)
			for {
				tout.Reset()
				code := ttcp.Run([]string{"ttcp", "-t", "-s", "-n", "512", "-nic", "host", "-p", port, host}, &tout)
				if code == 0 {
					break
				}
				if !strings.Contains(tout.String(), "connection refused") || time.Now().After(deadline) {
					t.Fatalf("transmitter: exit status %d:\n%s", code, tout.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			select {
			case code := <-rdone:
				if code != 0 || !strings.Contains(rout.String(), "ttcp-r: 4194304 bytes in") || !strings.Contains(rout.String(), "(pattern verified)") {
					t.Errorf("receiver: exit status %d:\n%s", code, rout.String())
				}
			case <-time.After(60 * time.Second):
				t.Fatal("receiver still running 60 s after the transmitter ended")
			}
			if !strings.Contains(tout.String(), "ttcp-t: 4194304 bytes in") {
				t.Errorf("transmitter's summary missing:\n%s", tout.String())
			}
		})
	}
}
