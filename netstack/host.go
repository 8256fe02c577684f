package netstack

import (
	"context"
	"net"
)

// Host is the Network of the host kernel's own sockets: the OSKit's
// "emulated" network mode. A kernel built with it runs the same program
// over Linux's TCP/IP, which is how the example kernels measure native
// Linux beside the kit. It holds no state.
type Host struct{}

var _ Network = Host{}

// Dial implements Network with net.Dialer.
func (Host) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// Listen implements Network with net.Listen.
func (Host) Listen(network, address string) (net.Listener, error) {
	return net.Listen(network, address)
}

// ListenPacket implements Network with net.ListenPacket.
func (Host) ListenPacket(network, address string) (net.PacketConn, error) {
	return net.ListenPacket(network, address)
}
