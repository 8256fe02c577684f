package main

import (
	"fmt"
	"net"
	"os"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/examples/kernel"
	"github.com/goskit/goskit/kernsupport/hosted"
	"github.com/goskit/goskit/libc"
	"github.com/goskit/goskit/netstack"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/link/qdisc/fifo"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// The baseline kernel: the same ttcp/rtcp program and the same netstack
// configuration, but the NIC is gVisor's own AF_PACKET endpoint (fdbased,
// with host GSO over PACKET_VNET_HDR and recvmmsg) instead of the kit's
// packet driver and glue. It measures what the kit's driver and glue cost.
// A command may import gVisor directly to measure such a baseline.

// bootFdbased boots a kernel whose NIC is fdbased on host interface ifname.
func bootFdbased(info *boot.Info, f kernel.NICFlags, ifname string, txQueue int) (*libc.System, func(), error) {
	plat, err := hosted.New(info)
	if err != nil {
		return nil, nil, err
	}
	st, err := netstack.New(plat, f.StackConfig(txQueue))
	if err != nil {
		plat.Close()
		return nil, nil, err
	}
	cleanup := func() { st.Close(); plat.Close() }
	fail := func(err error) (*libc.System, func(), error) { cleanup(); return nil, nil, err }

	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return fail(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return fail(fmt.Errorf("AF_PACKET socket: %w", err))
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		unix.Close(fd)
		return fail(fmt.Errorf("PACKET_VNET_HDR: %w", err))
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc.Index}); err != nil {
		unix.Close(fd)
		return fail(fmt.Errorf("bind %s: %w", ifname, err))
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20)
	ep, err := fdbased.New(&fdbased.Options{
		FDs:                []int{fd},
		MTU:                uint32(ifc.MTU),
		EthernetHeader:     true,
		Address:            tcpip.LinkAddress(ifc.HardwareAddr),
		GSOMaxSize:         1 << 16,
		PacketDispatchMode: fdbased.RecvMMsg,
		RXChecksumOffload:  true,
	})
	if err != nil {
		unix.Close(fd)
		return fail(err)
	}
	gs := st.GVisor()
	const nicID = 1
	opts := stack.NICOptions{}
	if cfg := f.StackConfig(txQueue); cfg.TxQueueLen > 0 {
		opts.QDisc = fifo.New(ep, 1, cfg.TxQueueLen)
	}
	if terr := gs.CreateNICWithOptions(nicID, ep, opts); terr != nil {
		unix.Close(fd)
		return fail(fmt.Errorf("create NIC: %s", terr))
	}
	for _, p := range f.Addrs {
		a := p.Addr().Unmap()
		proto := header.IPv4ProtocolNumber
		if a.Is6() {
			proto = header.IPv6ProtocolNumber
		}
		pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFromSlice(a.AsSlice()), PrefixLen: p.Bits()}}
		if terr := gs.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); terr != nil {
			unix.Close(fd)
			return fail(fmt.Errorf("address %v: %s", p, terr))
		}
		m := p.Masked()
		sub, _ := tcpip.NewSubnet(tcpip.AddrFromSlice(m.Addr().AsSlice()), tcpip.MaskFromBytes(net.CIDRMask(m.Bits(), m.Addr().BitLen())))
		gs.AddRoute(tcpip.Route{Destination: sub, NIC: nicID})
	}
	sys := libc.New(plat, libc.Boot(info), libc.Net(st))
	return sys, func() { cleanup(); unix.Close(fd) }, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// runFdbased boots the baseline kernel and runs program on it.
func runFdbased(info *boot.Info, f kernel.NICFlags, ifname string, txQueue int, program func(*libc.System) int) int {
	sys, cleanup, err := bootFdbased(info, f, ifname, txQueue)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fdbased kernel: %v\n", err)
		return 1
	}
	defer cleanup()
	return program(sys)
}
