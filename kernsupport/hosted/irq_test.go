package hosted

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goskit/goskit/kernsupport"
	"golang.org/x/sys/unix"
)

// pipe returns a line on a new pipe's read end and the write end, closed at
// the end of the test.
func pipe(t *testing.T) (*FDLine, int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	l, err := NewFDLine(p[0], "pipe")
	if err != nil {
		unix.Close(p[1])
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		unix.Close(p[1])
	})
	return l, p[1]
}

// readPoll is a driver's poll function for a line: read into buf until
// something arrives, stopping only on EAGAIN as the FDLine contract asks.
func readPoll(t *testing.T, l *FDLine, buf []byte, got *int) func() bool {
	return func() bool {
		n, err := unix.Read(l.FD(), buf)
		if err == unix.EAGAIN {
			return false
		}
		if err != nil {
			t.Errorf("read: %v", err)
			return true
		}
		*got = n
		return true
	}
}

// watchdog closes l if the test has not finished within d, turning a hang
// (a lost wakeup) into a failing wait instead of a stuck test binary.
func watchdog(t *testing.T, l *FDLine, d time.Duration) {
	timer := time.AfterFunc(d, func() {
		t.Errorf("watchdog: no progress in %v, closing the line", d)
		l.Close()
	})
	t.Cleanup(func() { timer.Stop() })
}

func TestFDLineNoLostWakeup(t *testing.T) {
	l, w := pipe(t)
	watchdog(t, l, 60*time.Second)
	buf := make([]byte, 16)
	for i := 0; i < 1000; i++ {
		written := make(chan error, 1)
		go func() {
			// Vary where the write lands relative to the reader's poll
			// and wait: before it starts, during, after it parks.
			switch i % 3 {
			case 1:
				time.Sleep(time.Microsecond)
			case 2:
				time.Sleep(50 * time.Microsecond)
			}
			_, err := unix.Write(w, []byte{byte(i)})
			written <- err
		}()
		var n int
		if err := l.WaitRead(readPoll(t, l, buf, &n)); err != nil {
			t.Fatalf("round %d: WaitRead: %v", i, err)
		}
		if err := <-written; err != nil {
			t.Fatalf("round %d: write: %v", i, err)
		}
		if n != 1 || buf[0] != byte(i) {
			t.Fatalf("round %d: read %d bytes %v", i, n, buf[:n])
		}
	}
}

func TestFDLineCloseUnblocksWait(t *testing.T) {
	l, _ := pipe(t)
	polls := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- l.WaitRead(func() bool {
			select {
			case polls <- struct{}{}:
			default:
			}
			var b [1]byte
			_, err := unix.Read(l.FD(), b[:])
			return err != unix.EAGAIN
		})
	}()
	<-polls // the waiter has polled once and found nothing
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, kernsupport.ErrIRQClosed) {
			t.Fatalf("pending WaitRead = %v, want ErrIRQClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock WaitRead")
	}

	tests := []struct {
		name string
		call func() error
	}{
		{"WaitRead", func() error { return l.WaitRead(func() bool { t.Error("poll after Close"); return true }) }},
		{"WaitWrite", func() error { return l.WaitWrite(func() bool { t.Error("poll after Close"); return true }) }},
		{"Control", func() error { return l.Control(func(int) { t.Error("Control ran after Close") }) }},
		{"Close again", func() error {
			if err := l.Close(); err != nil {
				return err
			}
			return kernsupport.ErrIRQClosed
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, kernsupport.ErrIRQClosed) {
				t.Fatalf("after Close: %v, want ErrIRQClosed", err)
			}
		})
	}
}

func TestFDLineWaitWrite(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	l, err := NewFDLine(p[1], "pipe-w")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	watchdog(t, l, 30*time.Second)

	// Fill the pipe until the host says it is full.
	chunk := make([]byte, 4096)
	filled := 0
	for {
		n, err := unix.Write(l.FD(), chunk)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		filled += n
	}
	// Drain it from another goroutine while the writer waits for space.
	drained := make(chan error, 1)
	go func() {
		time.Sleep(10 * time.Millisecond)
		buf := make([]byte, 4096)
		for total := 0; total < filled; {
			n, err := unix.Read(p[0], buf)
			if err == unix.EAGAIN {
				time.Sleep(time.Millisecond)
				continue
			}
			if err != nil {
				drained <- err
				return
			}
			total += n
		}
		drained <- nil
	}()
	calls := 0
	err = l.WaitWrite(func() bool {
		calls++
		_, err := unix.Write(l.FD(), []byte("x"))
		return err != unix.EAGAIN
	})
	if err != nil {
		t.Fatalf("WaitWrite: %v", err)
	}
	if calls < 2 {
		t.Errorf("poll called %d times; the first should have found the pipe full", calls)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
}

func TestFDLineControl(t *testing.T) {
	l, _ := pipe(t)
	var got int
	if err := l.Control(func(fd int) { got = fd }); err != nil {
		t.Fatal(err)
	}
	if got != l.FD() {
		t.Fatalf("Control gave fd %d, want %d", got, l.FD())
	}
	if l.Name() != "pipe" {
		t.Fatalf("Name = %q", l.Name())
	}
}

func TestNewFDLineErrors(t *testing.T) {
	regular := func(t *testing.T) int {
		f, err := os.Create(filepath.Join(t.TempDir(), "regular"))
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	tests := []struct {
		name string
		fd   func(t *testing.T) int
		want error
	}{
		{"negative fd", func(*testing.T) int { return -1 }, unix.EBADF},
		{"regular file", regular, ErrNotPollable},
		{"directory", func(t *testing.T) int {
			fd, err := unix.Open(t.TempDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			return fd
		}, ErrNotPollable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd := tt.fd(t)
			l, err := NewFDLine(fd, tt.name)
			if !errors.Is(err, tt.want) || l != nil {
				t.Fatalf("NewFDLine = %v, %v; want %v", l, err, tt.want)
			}
			if fd >= 0 {
				// On error fd stays the caller's, open.
				if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
					t.Fatalf("fd %d closed by a failed NewFDLine (%v)", fd, err)
				}
				unix.Close(fd)
			}
		})
	}
}

// TestFDLineCloseWaitsForPoll checks that Close does not close the descriptor
// under a running poll function: the driver's I/O inside poll must never hit
// a closed (or reused) fd number.
func TestFDLineCloseWaitsForPoll(t *testing.T) {
	l, _ := pipe(t)
	inPoll, release := make(chan struct{}), make(chan struct{})
	pollErr := make(chan error, 1)
	waitDone := make(chan error, 1)
	go func() {
		waitDone <- l.WaitRead(func() bool {
			close(inPoll)
			<-release
			// Still open: fcntl on it succeeds although Close was called.
			_, err := unix.FcntlInt(uintptr(l.FD()), unix.F_GETFD, 0)
			pollErr <- err
			return true
		})
	}()
	<-inPoll
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a poll function was running", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-pollErr; err != nil {
		t.Fatalf("fd closed under the poll function: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-waitDone; err != nil && !errors.Is(err, kernsupport.ErrIRQClosed) {
		t.Fatalf("WaitRead: %v", err)
	}
}
