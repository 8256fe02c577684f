// Command ttcp is the OSKit paper's TCP bandwidth kernel, built from goskit
// components: a hosted kernel with the kit's TCP/IP stack on a TAP device,
// an AF_PACKET socket, or the in-memory wire, or the same program on the
// host's own sockets (-nic host) for a native baseline.
//
//	go run ./examples/ttcp                          two kernels over the wire, verified
//	ttcp -r -nic packet:veth0 -addr 198.18.0.2/24   receive
//	ttcp -t -s -nic packet:veth0 -addr 198.18.0.1/24 198.18.0.2
//
// See examples/programs/ttcp for the flags.
package main

import (
	"os"

	"github.com/goskit/goskit/examples/programs/ttcp"
)

func main() { os.Exit(ttcp.Run(os.Args, os.Stdout)) }
