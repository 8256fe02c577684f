package kernel

import (
	"fmt"
	"net/netip"
	"syscall"

	"github.com/goskit/goskit/libc"
)

// AcceptOne is the example servers' socket prologue, as classic ttcp's:
// it makes the fresh stream socket fd listen on port on every address
// (IPv6 dual-stack, so IPv4 clients arrive too; SO_REUSEADDR; backlog 1),
// closes listening once it listens (if not nil), and accepts one
// connection. The caller closes both fds. An error names the failing call.
func AcceptOne(sys *libc.System, fd, port int, listening chan<- struct{}) (int, netip.AddrPort, error) {
	if err := sys.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return -1, netip.AddrPort{}, fmt.Errorf("setsockopt SO_REUSEADDR: %w", err)
	}
	if err := sys.Bind(fd, netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port))); err != nil {
		return -1, netip.AddrPort{}, fmt.Errorf("bind: %w", err)
	}
	if err := sys.Listen(fd, 1); err != nil {
		return -1, netip.AddrPort{}, fmt.Errorf("listen: %w", err)
	}
	if listening != nil {
		close(listening)
	}
	conn, from, err := sys.Accept(fd)
	if err != nil {
		return -1, netip.AddrPort{}, fmt.Errorf("accept: %w", err)
	}
	return conn, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), nil
}
