package packet_test

import (
	"fmt"
	"log"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/packet"
)

// Drive a host interface (here one end of a veth pair) in batches. Needs
// CAP_NET_RAW, so it is not run as a test.
func ExampleOpen() {
	nic, err := packet.Open("veth0")
	if err != nil {
		log.Fatal(err)
	}
	defer nic.Close()
	info := nic.Info()
	fmt.Println(info.Name, info.MAC, info.MTU, info.Features)

	slots := make([]netdev.RxSlot, 32)
	for i := range slots {
		slots[i].Bufs = [][]byte{make([]byte, info.MaxRxFrameLen())}
	}
	for {
		n, err := nic.ReceiveBatch(slots) // one recvmmsg
		if err != nil {
			log.Fatal(err) // wraps netdev.ErrLinkGone if veth0 is deleted
		}
		for _, s := range slots[:n] {
			fmt.Printf("%d-byte frame, offload %+v\n", s.N, s.Offload)
		}
	}
}
