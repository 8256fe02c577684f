package netstack_test

import (
	"context"
	"fmt"
	"io"
	"net/netip"

	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/netstack"
)

// Example joins two stacks with the in-memory wire and sends a message
// from one to the other over TCP.
func Example() {
	endA, endB, err := wire.New(wire.Config{})
	if err != nil {
		panic(err)
	}
	a, _ := netstack.New(nil, netstack.Config{})
	defer a.Close()
	b, _ := netstack.New(nil, netstack.Config{})
	defer b.Close()
	a.AddNIC(endA, netip.MustParsePrefix("198.18.0.1/24"))
	b.AddNIC(endB, netip.MustParsePrefix("198.18.0.2/24"))

	l, err := b.Listen("tcp", "198.18.0.2:7")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	got := make(chan string)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		msg, _ := io.ReadAll(c)
		c.Close()
		got <- fmt.Sprintf("%s from %v", msg, c.RemoteAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Addr())
	}()
	c, err := a.Dial(context.Background(), "tcp", "198.18.0.2:7")
	if err != nil {
		panic(err)
	}
	c.Write([]byte("hello, kit"))
	c.Close()
	fmt.Println(<-got)
	// Output: hello, kit from 198.18.0.1
}
