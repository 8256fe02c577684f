package wire_test

import (
	"fmt"
	"net"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/wire"
)

// Send one frame from end a to end b.
func Example() {
	a, b, err := wire.New(wire.Config{})
	if err != nil {
		panic(err)
	}
	defer a.Close() // closing either end cuts the cable

	ia, ib := a.Info(), b.Info()
	frame := append(append([]byte{}, ib.MAC...), ia.MAC...)
	frame = append(frame, 0x88, 0xb5) // EtherType for local experiments
	frame = append(frame, "hello"...)
	if err := a.Transmit(&netdev.Frame{Segs: [][]byte{frame}}); err != nil {
		panic(err)
	}

	buf := make([]byte, ib.MaxRxFrameLen())
	n, _, err := b.Receive([][]byte{buf})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s (mtu %d, %v) got %d bytes from %v: %q\n",
		ib.Name, ib.MTU, ib.Features, n, net.HardwareAddr(buf[6:12]), buf[14:n])
	// Output:
	// wire:b (mtu 65535, tx-csum,tso4,tso6,rx-csum,rx-gso) got 19 bytes from 02:77:69:00:00:0a: "hello"
}

// A seeded lossy wire drops the same frames every run.
func ExampleFaults() {
	for run := 0; run < 2; run++ {
		a, b, err := wire.New(wire.Config{Seed: 2026, Faults: wire.Faults{Loss: 0.25}})
		if err != nil {
			panic(err)
		}
		frame := make([]byte, 60)
		for i := 0; i < 1000; i++ {
			a.Transmit(&netdev.Frame{Segs: [][]byte{frame}})
		}
		s := a.Stats()
		fmt.Printf("run %d: sent %d, lost %d, %s still accepts rx checksums: %v\n",
			run, s.Frames, s.Lost, b.Info().Name, b.Info().Features.Has(netdev.FeatureRxChecksum))
		a.Close()
	}
	// Output:
	// run 0: sent 1000, lost 247, wire:b still accepts rx checksums: true
	// run 1: sent 1000, lost 247, wire:b still accepts rx checksums: true
}
