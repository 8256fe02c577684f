package hostio

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// LinkState is what the host says about an interface.
type LinkState int

const (
	// LinkUp: the interface exists and is administratively up.
	LinkUp LinkState = iota
	// LinkDown: the interface exists and is down.
	LinkDown
	// LinkGone: no interface has the index any more.
	LinkGone
)

func (s LinkState) String() string {
	switch s {
	case LinkUp:
		return "up"
	case LinkDown:
		return "down"
	case LinkGone:
		return "gone"
	}
	return fmt.Sprintf("LinkState(%d)", int(s))
}

// Link answers questions about one host interface through a control socket
// opened in the network namespace of the calling thread, so later questions
// are asked in that namespace whichever thread asks them. Its methods are
// safe for concurrent use and with Close.
type Link struct {
	name  string
	index int
	f     *os.File
	raw   syscall.RawConn
}

// OpenLink opens a control socket in the calling thread's network namespace
// and resolves the interface name.
func OpenLink(name string) (*Link, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("hostio: control socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "ctl:"+name)
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("hostio: control socket: %w", err)
	}
	l := &Link{name: name, f: f, raw: raw}
	ifr, err := l.ioctl(unix.SIOCGIFINDEX, name)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("hostio: interface %q: %w", name, err)
	}
	l.index = int(ifr.Uint32())
	return l, nil
}

// Name returns the interface name given to OpenLink.
func (l *Link) Name() string { return l.name }

// Index returns the interface index resolved by OpenLink.
func (l *Link) Index() int { return l.index }

func (l *Link) ioctl(req uint, name string, set ...func(*unix.Ifreq)) (*unix.Ifreq, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return nil, err
	}
	for _, f := range set {
		f(ifr)
	}
	var ierr error
	if err := l.raw.Control(func(fd uintptr) { ierr = unix.IoctlIfreq(int(fd), req, ifr) }); err != nil {
		return nil, err
	}
	return ifr, ierr
}

// MTU returns the interface's MTU.
func (l *Link) MTU() (int, error) {
	ifr, err := l.ioctl(unix.SIOCGIFMTU, l.name)
	if err != nil {
		return 0, fmt.Errorf("hostio: %s: MTU: %w", l.name, err)
	}
	return int(int32(ifr.Uint32())), nil
}

// State reports whether the interface still exists (looked up by index, so
// a rename does not fool it) and whether it is up.
func (l *Link) State() (LinkState, error) {
	ifr, err := l.ioctl(unix.SIOCGIFNAME, "", func(r *unix.Ifreq) { r.SetUint32(uint32(l.index)) })
	if errors.Is(err, unix.ENODEV) {
		return LinkGone, nil
	}
	if err != nil {
		return 0, fmt.Errorf("hostio: %s: state: %w", l.name, err)
	}
	ifr, err = l.ioctl(unix.SIOCGIFFLAGS, ifr.Name())
	if errors.Is(err, unix.ENODEV) {
		return LinkGone, nil
	}
	if err != nil {
		return 0, fmt.Errorf("hostio: %s: flags: %w", l.name, err)
	}
	if ifr.Uint16()&unix.IFF_UP == 0 {
		return LinkDown, nil
	}
	return LinkUp, nil
}

// Gone reports whether the interface no longer exists. Errors asking count
// as "not gone": the caller reports its own error instead.
func (l *Link) Gone() bool {
	s, err := l.State()
	return err == nil && s == LinkGone
}

// Close closes the control socket.
func (l *Link) Close() error { return l.f.Close() }
