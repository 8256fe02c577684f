package hosted

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/goskit/goskit/kernsupport"
	"golang.org/x/sys/unix"
)

// FDLine is an interrupt line backed by a host file descriptor: it "fires"
// when the descriptor becomes readable or writable. It waits on the Go
// runtime's poller (epoll), so a blocked driver costs no thread.
type FDLine struct {
	file *os.File
	raw  syscall.RawConn
	fd   int
}

var _ kernsupport.IRQ = (*FDLine)(nil)

// NewFDLine makes an interrupt line of fd, which it sets non-blocking and
// takes ownership of: Close closes fd. name labels it in errors.
func NewFDLine(fd int, name string) (*FDLine, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("hosted: %s: set non-blocking: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if f == nil {
		return nil, fmt.Errorf("hosted: %s: invalid fd %d", name, fd)
	}
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("hosted: %s: %w", name, err)
	}
	return &FDLine{file: f, raw: raw, fd: fd}, nil
}

// FD returns the descriptor, for the non-blocking calls a driver makes inside
// its poll function. It must not be used after Close.
func (l *FDLine) FD() int { return l.fd }

// WaitRead implements kernsupport.IRQ.
func (l *FDLine) WaitRead(poll func() bool) error {
	return l.mapErr(l.raw.Read(func(uintptr) bool { return poll() }))
}

// WaitWrite implements kernsupport.IRQ.
func (l *FDLine) WaitWrite(poll func() bool) error {
	return l.mapErr(l.raw.Write(func(uintptr) bool { return poll() }))
}

func (l *FDLine) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, os.ErrClosed) {
		return kernsupport.ErrIRQClosed
	}
	return err
}

// Close implements kernsupport.IRQ. It wakes pending waits and closes the
// descriptor once no poll function is running on it.
func (l *FDLine) Close() error {
	return l.file.Close()
}
