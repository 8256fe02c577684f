package tap_test

import (
	"fmt"
	"log"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/tap"
)

// Open a TAP interface and receive frames from it. Needs CAP_NET_ADMIN, and
// the interface up (ip link set tap0 up), so it is not run as a test.
func ExampleOpen() {
	nic, err := tap.Open("tap0")
	if err != nil {
		log.Fatal(err)
	}
	defer nic.Close()
	info := nic.Info()
	fmt.Println(info.Name, info.MAC, info.MTU, info.Features)

	// Post room for the largest frame the device delivers: with rx-gso,
	// a 64 KiB coalesced TCP segment.
	buf := make([]byte, info.MaxRxFrameLen())
	for {
		n, off, err := nic.Receive([][]byte{buf})
		if err != nil {
			log.Fatal(err) // wraps netdev.ErrLinkGone after ip link del tap0
		}
		fmt.Printf("%d-byte frame, gso %v\n", n, off.IsGSO())
		// Echo it back, offloads and all.
		if err := nic.Transmit(&netdev.Frame{Segs: [][]byte{buf[:n]}, Offload: off}); err != nil {
			log.Fatal(err)
		}
	}
}
