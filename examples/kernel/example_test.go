package kernel_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/netip"
	"os"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/examples/kernel"
	"github.com/goskit/goskit/examples/programs/ttcp"
	"github.com/goskit/goskit/libc"
)

// Boot a kernel on an AF_PACKET socket bound to a host interface and run
// the ttcp receiver on it. It needs CAP_NET_RAW and an interface veth0 (a veth
// end with no address and IPv6 disabled, so every answer on the link comes
// from the kit), so it is compiled but not run.
func ExampleBoot() {
	info, err := boot.Hosted(os.Args)
	if err != nil {
		log.Fatal(err)
	}
	nic := kernel.NICFlags{
		NIC:     "packet:veth0",
		Addrs:   []netip.Prefix{netip.MustParsePrefix("198.18.0.2/24"), netip.MustParsePrefix("2001:2::2/64")},
		TxQueue: -1, // the program's choice, as the -txqueue flag's default
	}
	k, err := kernel.Boot(info, nic, kernel.Config{Console: os.Stdout})
	if err != nil {
		log.Fatal(err)
	}
	defer k.Close()
	opts := ttcp.Options{Receive: true, BufLen: 8192, NumBufs: 2048, Port: 5001, Pattern: true, Format: "m"}
	os.Exit(k.Run("ttcp-r", func(sys *libc.System) int { return ttcp.Main(sys, opts, nic.NIC) }))
}

// Boot two kernels joined by the in-memory wire, the embedded default, and
// connect one to the other with their stacks' standard net interfaces.
func ExampleBootPair() {
	info, err := boot.Hosted([]string{"example"})
	if err != nil {
		log.Fatal(err)
	}
	tx, rx, err := kernel.BootPair(info, wire.Config{}, kernel.NICFlags{}, kernel.Config{Console: io.Discard})
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Close()
	defer rx.Close()

	ln, err := rx.Stack.Listen("tcp", ":7")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo
	}()
	c, err := tx.Stack.Dial(context.Background(), "tcp", netip.AddrPortFrom(kernel.EmbeddedReceiver.Addr(), 7).String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "hello, kit")
	buf := make([]byte, 10)
	if _, err := io.ReadFull(c, buf); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("echo from %v: %s\n", c.RemoteAddr(), buf)
	// Output:
	// echo from 198.18.0.2:7: hello, kit
}

// Run a program on a kernel's libc: its console output and exit status.
func ExampleKernel_Run() {
	info, err := boot.Hosted([]string{"hello"})
	if err != nil {
		log.Fatal(err)
	}
	tx, rx, err := kernel.BootPair(info, wire.Config{}, kernel.NICFlags{}, kernel.Config{Console: os.Stdout})
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Close()
	defer rx.Close()
	code := rx.Run("hello", func(sys *libc.System) int {
		sys.Printf("hello from a kernel at %v\n", kernel.EmbeddedReceiver.Addr())
		return 3
	})
	fmt.Println("exit status", code)
	// Output:
	// hello from a kernel at 198.18.0.2
	// exit status 3
}
