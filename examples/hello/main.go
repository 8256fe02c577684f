package main

import (
	"fmt"
	"os"

	"github.com/goskit/goskit/kernsupport/x86"
)

func main() {
	fmt.Println("hello from Go main, bare metal:", x86.BareMetal(), os.Args)
	os.Exit(7)
}
