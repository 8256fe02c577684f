package libc_test

import (
	"fmt"
	"net/netip"
	"os"
	"syscall"

	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/libc"
	"github.com/goskit/goskit/netstack"
)

// A TCP echo through libc calls on two kit stacks joined by the in-memory
// wire: the server kernel at 198.18.0.2, the client at 198.18.0.1.
func Example() {
	ea, eb, _ := wire.New(wire.Config{})
	client, _ := netstack.New(nil, netstack.Config{})
	server, _ := netstack.New(nil, netstack.Config{})
	defer client.Close()
	defer server.Close()
	client.AddNIC(ea, netip.MustParsePrefix("198.18.0.1/24"))
	server.AddNIC(eb, netip.MustParsePrefix("198.18.0.2/24"))
	srv := libc.New(nil, libc.Net(server))
	cli := libc.New(nil, libc.Net(client))

	// The server: socket, bind, listen, then echo one connection.
	lfd, _ := srv.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err := srv.Bind(lfd, netip.MustParseAddrPort("198.18.0.2:7")); err != nil {
		fmt.Fprintln(os.Stderr, "bind:", libc.Strerror(err.(syscall.Errno)))
		return
	}
	srv.Listen(lfd, 1)
	go func() {
		fd, _, _ := srv.Accept(lfd)
		buf := make([]byte, 100)
		n, _ := srv.Read(fd, buf)
		srv.Write(fd, buf[:n])
		srv.Close(fd)
	}()

	// The client: socket, connect, write, read.
	fd, _ := cli.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err := cli.Connect(fd, netip.MustParseAddrPort("198.18.0.2:7")); err != nil {
		fmt.Println("connect:", libc.Strerror(err.(syscall.Errno)))
		return
	}
	cli.Write(fd, []byte("hello, kit"))
	buf := make([]byte, 100)
	n, _ := cli.Read(fd, buf)
	fmt.Printf("%s\n", buf[:n])
	cli.Close(fd)
	// Output: hello, kit
}
