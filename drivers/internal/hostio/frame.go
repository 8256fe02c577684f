package hostio

import (
	"fmt"

	"github.com/goskit/goskit/drivers/netdev"
)

// VnetHdrLen is the virtio-net header size both hosted drivers use (struct
// virtio_net_hdr without num_buffers): TAP's default and AF_PACKET's only
// size.
const VnetHdrLen = netdev.VnetHdrLen

// CheckTransmit checks a frame against what a device described by info
// carries, before it is handed to the host: a whole Ethernet header, a
// consistent offload of a kind the device advertised, and a length within
// the MTU (or MaxGSOSize for a segmentation-offload frame).
func CheckTransmit(info *netdev.Info, f *netdev.Frame) error {
	n := f.Len()
	if n < netdev.MinFrameLen {
		return fmt.Errorf("%s: %d-byte frame is shorter than an Ethernet header", info.Name, n)
	}
	off := f.Offload
	if err := off.Validate(n); err != nil {
		return fmt.Errorf("%s: %w", info.Name, err)
	}
	if off.Flags&netdev.OffloadNeedsChecksum != 0 && !info.Features.Has(netdev.FeatureTxChecksum) {
		return fmt.Errorf("%s: %w: partial checksum without tx-csum", info.Name, netdev.ErrBadOffload)
	}
	if off.Flags&netdev.OffloadDataValid != 0 {
		return fmt.Errorf("%s: %w: data-valid flag on transmit", info.Name, netdev.ErrBadOffload)
	}
	if !off.IsGSO() {
		if n > info.MaxFrameLen() {
			return fmt.Errorf("%s: %w: %d-byte frame, MTU %d", info.Name, netdev.ErrFrameTooBig, n, info.MTU)
		}
		return nil
	}
	var need netdev.Features
	switch off.GSOType &^ netdev.GSOECN {
	case netdev.GSOTCPv4:
		need = netdev.FeatureTSO4
	case netdev.GSOTCPv6:
		need = netdev.FeatureTSO6
	default:
		return fmt.Errorf("%s: %w: GSO type %#x", info.Name, netdev.ErrBadOffload, off.GSOType)
	}
	if !info.Features.Has(need) {
		return fmt.Errorf("%s: %w: GSO type %#x not advertised", info.Name, netdev.ErrBadOffload, off.GSOType)
	}
	if n > info.MaxGSOSize {
		return fmt.Errorf("%s: %w: %d-byte GSO frame, limit %d", info.Name, netdev.ErrFrameTooBig, n, info.MaxGSOSize)
	}
	return nil
}

// DecodeReceived decodes the virtio-net header the host wrote before a
// received frame of n bytes and checks it against the frame, so a hostile or
// corrupt header is an error, never an out-of-range access later.
func DecodeReceived(hdr []byte, n int) (netdev.Offload, error) {
	off, err := netdev.DecodeOffload(hdr)
	if err != nil {
		return netdev.Offload{}, err
	}
	if n < netdev.MinFrameLen {
		return netdev.Offload{}, fmt.Errorf("runt frame of %d bytes", n)
	}
	if err := off.Validate(n); err != nil {
		return netdev.Offload{}, err
	}
	return off, nil
}

// ReceiveOne is netdev.Device.Receive for a driver that receives in
// batches: it posts bufs as the single slot one (the driver's reusable
// array, so the call allocates nothing), runs receive on it, and returns
// what landed. The slot is cleared afterwards so the driver keeps no
// reference to the caller's buffers.
func ReceiveOne(one *[1]netdev.RxSlot, bufs [][]byte, receive func([]netdev.RxSlot) (int, error)) (int, netdev.Offload, error) {
	one[0] = netdev.RxSlot{Bufs: bufs}
	_, err := receive(one[:])
	s := one[0]
	one[0] = netdev.RxSlot{}
	if err != nil {
		return 0, netdev.Offload{}, err
	}
	return s.N, s.Offload, nil
}
