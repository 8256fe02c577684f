package hosted

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/kernsupport"
	"golang.org/x/sys/unix"
)

// newPlatform makes a platform with a silent console and log, closed at the
// end of the test.
func newPlatform(t *testing.T, opts ...Option) *Platform {
	t.Helper()
	opts = append([]Option{WithConsole(nil, nil), WithLog(nil)}, opts...)
	p, err := New(&boot.Info{CommandLine: boot.CommandLine{Program: "/bin/testkernel"}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestNewNilInfo(t *testing.T) {
	if p, err := New(nil); err == nil || p != nil {
		t.Fatalf("New(nil) = %v, %v; want an error", p, err)
	}
}

func TestConsole(t *testing.T) {
	var out bytes.Buffer
	p := newPlatform(t, WithConsole(strings.NewReader("input"), &out))
	c := p.Console()
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "input" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if _, err := io.WriteString(c, "hello\n"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello\n" {
		t.Fatalf("console wrote %q", out.String())
	}

	// No input reads as end of file; no output discards.
	q := newPlatform(t, WithConsole(nil, nil))
	if n, err := q.Console().Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read with no input = %d, %v", n, err)
	}
	if n, err := q.Console().Write([]byte("x")); n != 1 || err != nil {
		t.Fatalf("Write with no output = %d, %v", n, err)
	}
}

func TestConsoleDefaultsToStdio(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	saved := os.Stdout
	os.Stdout = w
	p, err := New(&boot.Info{}, WithLog(nil))
	os.Stdout = saved
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	io.WriteString(p.Console(), "to stdout\n")
	w.Close()
	got, _ := io.ReadAll(r)
	if string(got) != "to stdout\n" {
		t.Fatalf("stdout got %q", got)
	}
}

func TestLogf(t *testing.T) {
	tests := []struct {
		name    string
		program string
		opts    []Option
		format  string
		args    []any
		want    string
	}{
		{name: "program base name", program: "/usr/bin/ttcp", format: "x=%d", args: []any{1}, want: "ttcp: x=1\n"},
		{name: "no program", program: "", format: "up", want: "kernel: up\n"},
		{name: "WithName", program: "ttcp", opts: []Option{WithName("ttcp-r")}, format: "up", want: "ttcp-r: up\n"},
		{name: "newline not doubled", program: "k", format: "line\n", want: "k: line\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			opts := append([]Option{WithConsole(nil, nil), WithLog(&log)}, tt.opts...)
			p, err := New(&boot.Info{CommandLine: boot.CommandLine{Program: tt.program}}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			p.Logf(tt.format, tt.args...)
			if log.String() != tt.want {
				t.Fatalf("log = %q, want %q", log.String(), tt.want)
			}
		})
	}
}

func TestLogfConcurrentLinesWhole(t *testing.T) {
	var log lockedBuffer
	p := newPlatform(t, WithLog(&log), WithName("k"))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				p.Logf("goroutine %d line %d", g, i)
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "k: goroutine ") {
			t.Fatalf("torn line %q", l)
		}
	}
}

func TestTwoPlatformsIndependent(t *testing.T) {
	var screen lockedBuffer
	a := newPlatform(t, WithConsole(nil, PrefixLines(&screen, "a| ")), WithName("a"))
	b := newPlatform(t, WithConsole(nil, PrefixLines(&screen, "b| ")), WithName("b"))
	io.WriteString(a.Console(), "one\n")
	io.WriteString(b.Console(), "two\n")

	la, wa := platformPipe(t, a)
	lb, wb := platformPipe(t, b)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := la.WaitRead(func() bool { return false }); !errors.Is(err, kernsupport.ErrIRQClosed) {
		t.Fatalf("a's line after a.Close: %v", err)
	}
	// b is untouched: its line and clock still work.
	unix.Write(wb, []byte("x"))
	var n int
	if err := lb.WaitRead(readPoll(t, lb, make([]byte, 1), &n)); err != nil || n != 1 {
		t.Fatalf("b's line after a.Close: %d, %v", n, err)
	}
	fired := make(chan struct{})
	b.Clock().AfterFunc(time.Millisecond, func() { close(fired) })
	<-fired
	io.WriteString(b.Console(), "three\n")
	if got, want := screen.String(), "a| one\nb| two\nb| three\n"; got != want {
		t.Fatalf("screen = %q, want %q", got, want)
	}
	unix.Close(wa)
	unix.Close(wb)
}

// platformPipe makes a pipe whose read end is a line of p.
func platformPipe(t *testing.T, p *Platform) (*FDLine, int) {
	t.Helper()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	l, err := p.FDLine(fds[0], "pipe")
	if err != nil {
		t.Fatal(err)
	}
	return l, fds[1]
}

func TestPlatformLines(t *testing.T) {
	p := newPlatform(t)
	l, w := platformPipe(t, p)
	defer unix.Close(w)

	// A line the driver closes is forgotten: the platform does not hold
	// (or close) it again.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	held := len(p.lines)
	p.mu.Unlock()
	if held != 0 {
		t.Fatalf("platform still holds %d lines", held)
	}

	// FDIRQ hands out the same kind of line as the optional interface.
	var plat kernsupport.Platform = p
	irqer, ok := plat.(kernsupport.FDIRQer)
	if !ok {
		t.Fatal("Platform does not implement kernsupport.FDIRQer")
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	irq, err := irqer.FDIRQ(fds[0], "irq")
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() { waiting <- irq.WaitRead(func() bool { return false }) }()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waiting:
		if !errors.Is(err, kernsupport.ErrIRQClosed) {
			t.Fatalf("wait ended with %v, want ErrIRQClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("platform Close did not end a pending wait")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// A closed platform makes no lines, and leaves the fd it was given to
	// its caller.
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if _, err := p.FDLine(fds[0], "late"); !errors.Is(err, ErrClosed) {
		t.Fatalf("FDLine after Close: %v, want ErrClosed", err)
	}
	if irq, err := p.FDIRQ(fds[0], "late"); irq != nil || !errors.Is(err, ErrClosed) {
		t.Fatalf("FDIRQ after Close = %v, %v", irq, err)
	}
	if _, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFD, 0); err != nil {
		t.Fatalf("fd given to a closed platform was closed (%v)", err)
	}
}

func TestClockMonotonic(t *testing.T) {
	c := newPlatform(t).Clock()
	prev := c.Now()
	if prev < 0 {
		t.Fatalf("Now = %v at start", prev)
	}
	for i := 0; i < 10000; i++ {
		now := c.Now()
		if now < prev {
			t.Fatalf("Now went back: %v after %v", now, prev)
		}
		prev = now
	}
	before := c.Now()
	c.Sleep(10 * time.Millisecond)
	if slept := c.Now() - before; slept < 10*time.Millisecond {
		t.Fatalf("Sleep(10ms) advanced Now by %v", slept)
	}
	if w := c.Wall(); time.Since(w) > time.Minute || time.Until(w) > time.Minute {
		t.Fatalf("Wall = %v, far from time.Now", w)
	}
}

func TestAfterFunc(t *testing.T) {
	t.Run("fires", func(t *testing.T) {
		c := newPlatform(t).Clock()
		fired := make(chan time.Duration, 1)
		start := c.Now()
		tm := c.AfterFunc(5*time.Millisecond, func() { fired <- c.Now() })
		select {
		case at := <-fired:
			if at-start < 5*time.Millisecond {
				t.Fatalf("fired after %v, want at least 5ms", at-start)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("AfterFunc never fired")
		}
		if tm.Stop() {
			t.Fatal("Stop after firing reported that it prevented the call")
		}
	})
	t.Run("stop", func(t *testing.T) {
		c := newPlatform(t).Clock()
		var calls atomic.Int32
		tm := c.AfterFunc(time.Hour, func() { calls.Add(1) })
		if !tm.Stop() {
			t.Fatal("Stop of a pending timer returned false")
		}
		if tm.Stop() {
			t.Fatal("second Stop returned true")
		}
		if calls.Load() != 0 {
			t.Fatal("stopped timer ran")
		}
	})
	t.Run("stop races firing: exactly one wins", func(t *testing.T) {
		c := newPlatform(t).Clock()
		for i := 0; i < 200; i++ {
			var calls atomic.Int32
			ran := make(chan struct{})
			tm := c.AfterFunc(0, func() { calls.Add(1); close(ran) })
			if tm.Stop() {
				time.Sleep(time.Millisecond)
				if calls.Load() != 0 {
					t.Fatal("Stop returned true but the call ran")
				}
			} else {
				<-ran // Stop lost, so the call must run
			}
		}
	})
	t.Run("close stops pending", func(t *testing.T) {
		p := newPlatform(t)
		var calls atomic.Int32
		tm := p.Clock().AfterFunc(time.Hour, func() { calls.Add(1) })
		p.Close()
		late := p.Clock().AfterFunc(0, func() { calls.Add(1) })
		time.Sleep(50 * time.Millisecond)
		if calls.Load() != 0 {
			t.Fatal("a timer ran after Close")
		}
		if tm.Stop() || late.Stop() {
			t.Fatal("Stop after Close returned true")
		}
	})
}

func TestHaltWithExit(t *testing.T) {
	var got []int
	p := newPlatform(t, WithExit(func(status int) { got = append(got, status) }))
	var h kernsupport.Halter = p
	h.Halt(3)
	if len(got) != 1 || got[0] != 3 {
		t.Fatalf("exit called with %v", got)
	}
}

// TestHaltExitsProcess runs the test binary again with an environment
// variable that makes it halt a default platform, and checks the exit status.
func TestHaltExitsProcess(t *testing.T) {
	if os.Getenv("GOSKIT_HOSTED_HALT") == "1" {
		p, err := New(&boot.Info{}, WithConsole(nil, nil))
		if err != nil {
			os.Exit(100)
		}
		p.Halt(7)
		os.Exit(101) // Halt returned
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHaltExitsProcess$")
	cmd.Env = append(os.Environ(), "GOSKIT_HOSTED_HALT=1")
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 7 {
		t.Fatalf("child ended with %v, want exit status 7", err)
	}
}

// TestLifecycle opens and closes 100 platforms, each with lines, waits and
// timers in use, and checks that goroutines and descriptors return to their
// starting counts.
func TestLifecycle(t *testing.T) {
	startFDs, startGoroutines := countFDs(t), runtime.NumGoroutine()
	for i := 0; i < 100; i++ {
		p, err := New(&boot.Info{}, WithConsole(nil, nil), WithLog(nil))
		if err != nil {
			t.Fatal(err)
		}
		var waits sync.WaitGroup
		var writers []int
		for j := 0; j < 3; j++ {
			var fds [2]int
			if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
				t.Fatal(err)
			}
			writers = append(writers, fds[1])
			l, err := p.FDLine(fds[0], "pipe")
			if err != nil {
				t.Fatal(err)
			}
			waits.Add(1)
			go func() {
				defer waits.Done()
				l.WaitRead(func() bool { return false }) // ends with Close
			}()
		}
		p.Clock().AfterFunc(time.Hour, func() {})
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		waits.Wait()
		for _, w := range writers {
			unix.Close(w)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		fds, gs := countFDs(t), runtime.NumGoroutine()
		if fds <= startFDs && gs <= startGoroutines {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 100 platforms: %d fds (started with %d), %d goroutines (started with %d)",
				fds, startFDs, gs, startGoroutines)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("counting descriptors needs /proc: %v", err)
	}
	return len(entries)
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
