package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goskit/goskit/internal/testenv"
	"github.com/goskit/goskit/kernsupport/x86/qemu"
)

// TestHosted runs the checks in this process, as the hosted kernel does.
func TestHosted(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func() error
	}{
		{"goroutines", goroutines},
		{"sleep", sleep},
		{"spinGC", spinGC},
		{"allocate", func() error { return allocate(32) }},
		{"nilDeref", nilDeref},
		{"unmapped", unmapped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// stampWriter collects serial output and the time each marker first
// appeared.
type stampWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	markers []string
	seen    map[string]time.Time
}

func (w *stampWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, m := range w.markers {
		if _, ok := w.seen[m]; !ok && strings.Contains(w.buf.String(), m) {
			w.seen[m] = time.Now()
		}
	}
	return len(p), nil
}

// TestBareMetal builds hello for bare metal, boots it under QEMU (TCG) by
// PVH and by Multiboot, in parallel, and checks its serial output and exit
// status.
func TestBareMetal(t *testing.T) {
	testenv.NeedTool(t, "qemu-system-x86_64")
	dir := t.TempDir()
	img := filepath.Join(dir, "hello.img")
	if err := qemu.Build(".", ".", img); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := qemu.AddMultiboot(data)
	if err != nil {
		t.Fatal(err)
	}
	mbImg := filepath.Join(dir, "hello-mb.img")
	if err := os.WriteFile(mbImg, mb, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, protocol, image, vars string }{
		{"pvh", "pvh", img, ""},
		{"multiboot", "multiboot", mbImg, ""},
		// Four Ps on the one CPU: more threads, more futex traffic.
		{"pvh-gomaxprocs4", "pvh", img, " GOMAXPROCS=4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bootAndCheck(t, tc.image, tc.protocol, tc.vars)
		})
	}
}

func bootAndCheck(t *testing.T, img, protocol, vars string) {
	mainMarker := "hello: Go main on bare metal (" + protocol + ")"
	w := &stampWriter{markers: []string{mainMarker}, seen: map[string]time.Time{}}
	start := time.Now()
	res, err := qemu.Run(context.Background(), qemu.Config{Image: img,
		CommandLine: "hello GREETING=hi" + vars + " -- -alloc 256", Serial: w})
	w.mu.Lock()
	out := w.buf.String()
	toMain := w.seen[mainMarker].Sub(start)
	w.mu.Unlock()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !res.Exited || res.Status != 0 {
		t.Errorf("exited %v status %d (QEMU %d), want 0", res.Exited, res.Status, res.QEMUExit)
	}
	for _, want := range []string{
		mainMarker,
		`options [] args ["-alloc" "256"]`,
		`hello: environment ["GREETING=hi"`,
		"hello: memory [0x100000-",
		"hello: platform: ok",
		"hello: goroutines and channels: ok",
		"hello: sleep: ok",
		"hello: GC with a spinning goroutine: ok",
		"hello: allocate 256 MiB: ok",
		"hello: recovered: runtime error: invalid memory address or nil pointer dereference",
		"hello: nil dereference recovered: ok",
		"hello: unmapped address recovered: ok",
		"hello: all checks passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("serial output lacks %q", want)
		}
	}
	if strings.Contains(vars, "GOMAXPROCS=4") && !strings.Contains(out, "GOMAXPROCS 4") {
		t.Error("GOMAXPROCS=4 from the command line not in effect")
	}
	if strings.Contains(out, "FAIL") {
		t.Error("a check failed")
	}
	if t.Failed() {
		t.Logf("serial output:\n%s", out)
		return
	}
	t.Logf("QEMU start to Go main %v, to exit %v", toMain.Round(time.Millisecond), res.Duration.Round(time.Millisecond))
}
