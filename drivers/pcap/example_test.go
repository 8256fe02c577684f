package pcap_test

import (
	"bytes"
	"fmt"
	"io"
	"log"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/pcap"
	"github.com/goskit/goskit/drivers/wire"
)

// Record a device's traffic, then read the capture back.
func ExampleWrap() {
	a, b, err := wire.New(wire.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	var file bytes.Buffer // an *os.File in a real kernel
	nic, err := pcap.Wrap(a, &file, pcap.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer nic.Close()

	frame := make([]byte, 60)
	copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5})
	if err := nic.Transmit(&netdev.Frame{Segs: [][]byte{frame}}); err != nil {
		log.Fatal(err)
	}
	_, batching := nic.(netdev.BatchTransmitter)
	fmt.Println("batching forwarded:", batching)

	r, err := pcap.NewReader(&file)
	if err != nil {
		log.Fatal(err)
	}
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d bytes, ethertype %#x\n", len(p.Data), p.Data[12:14])
	}
	// Output:
	// batching forwarded: true
	// 60 bytes, ethertype 0x88b5
}
