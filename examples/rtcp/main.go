// Command rtcp is the OSKit paper's one-byte TCP round-trip kernel, built
// from goskit components. See examples/programs/rtcp for the flags.
//
//	go run ./examples/rtcp                           client and server over the wire
//	rtcp -r -nic packet:veth0 -addr 198.18.0.2/24    server
//	rtcp -nic packet:veth0 -addr 198.18.0.1/24 198.18.0.2
package main

import (
	"os"

	"github.com/goskit/goskit/examples/programs/rtcp"
)

func main() { os.Exit(rtcp.Run(os.Args, os.Stdout)) }
