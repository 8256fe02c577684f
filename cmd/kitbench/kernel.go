package main

import (
	"fmt"
	"os"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/examples/kernel"
	"github.com/goskit/goskit/examples/programs/rtcp"
	"github.com/goskit/goskit/examples/programs/ttcp"
	"github.com/goskit/goskit/libc"
)

// runKernel runs one of the kernels kitbench measures, inside whatever
// namespace it was started in:
//
//	kitbench kernel ttcp ARGS...           the ttcp example kernel
//	kitbench kernel rtcp ARGS...           the rtcp example kernel
//	kitbench kernel fdbased-ttcp ARGS...   ttcp on gVisor's fdbased endpoint (-nic packet:IF)
//	kitbench kernel fdbased-rtcp ARGS...
func runKernel(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "kitbench kernel: want ttcp, rtcp, fdbased-ttcp or fdbased-rtcp")
		return 2
	}
	prog, rest := args[0], args[1:]
	switch prog {
	case "ttcp":
		return ttcp.Run(append([]string{"ttcp"}, rest...), os.Stdout)
	case "rtcp":
		return rtcp.Run(append([]string{"rtcp"}, rest...), os.Stdout)
	case "fdbased-ttcp", "fdbased-rtcp":
		info, err := boot.Hosted(append([]string{prog}, rest...))
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
			return 2
		}
		// The same machine as the kit's kernels: their CPU count.
		restore, err := kernel.UseCPUs(info)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
			return 2
		}
		defer restore()
		var run func(*libc.System) int
		var nicName string
		if prog == "fdbased-ttcp" {
			o, nic, _, err := ttcp.Parse(info.Args)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
				return 2
			}
			kind, name := nic.Kind()
			if kind != "packet" {
				fmt.Fprintf(os.Stderr, "%s: wants -nic packet:IF\n", prog)
				return 2
			}
			nicName = name
			run = func(sys *libc.System) int { return ttcp.Main(sys, o, "fdbased:"+name) }
			return runFdbased(info, nic, nicName, ttcp.TxQueueLen, run)
		}
		o, nic, _, err := rtcp.Parse(info.Args)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
			return 2
		}
		kind, name := nic.Kind()
		if kind != "packet" {
			fmt.Fprintf(os.Stderr, "%s: wants -nic packet:IF\n", prog)
			return 2
		}
		return runFdbased(info, nic, name, rtcp.TxQueueLen, func(sys *libc.System) int { return rtcp.Main(sys, o) })
	}
	fmt.Fprintf(os.Stderr, "kitbench kernel: unknown kernel %q\n", prog)
	return 2
}
