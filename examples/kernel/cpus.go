package kernel

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/goskit/goskit/boot"
)

// CPUsOption is the boot option that sets how many CPUs a hosted kernel
// runs on: -cpus=N, before "--" on its command line.
const CPUsOption = "-cpus="

// DefaultCPUs is how many CPUs the example kernels run on by default: one,
// as the OSKit's kernels did. It is also the fastest choice for them here:
// gVisor hands every packet between goroutines (receive loop, TCP
// processor, application), and on one CPU a hand-off is a switch within
// the Go scheduler, where across CPUs it wakes a sleeping thread. Measured
// over the wire on this 2-core machine: one-byte round trip 62.8 -> 28.9
// us, bulk 7.2 -> 9.0 Gbit/s (doc/PERFORMANCE.md).
const DefaultCPUs = 1

// CPUs returns the CPU count a kernel's boot options ask for:
// the last -cpus=N, or DefaultCPUs; "-cpus=all" means every host CPU.
func CPUs(info *boot.Info) (int, error) {
	n := DefaultCPUs
	for _, opt := range info.Options {
		v, ok := strings.CutPrefix(opt, CPUsOption)
		if !ok {
			continue
		}
		if v == "all" {
			n = runtime.NumCPU()
			continue
		}
		c, err := strconv.Atoi(v)
		if err != nil || c < 1 || c > 1024 {
			return 0, fmt.Errorf("boot option %s: want a CPU count 1..1024 or all", opt)
		}
		n = c
	}
	return n, nil
}

// UseCPUs makes the process run Go code on the CPU count info asks for
// (runtime.GOMAXPROCS: the hosted machine is the whole process) and returns
// a function that restores the previous count. A kernel's main calls it;
// kernels embedded in a larger program (tests) need not.
func UseCPUs(info *boot.Info) (restore func(), err error) {
	n, err := CPUs(info)
	if err != nil {
		return nil, err
	}
	prev := runtime.GOMAXPROCS(n)
	return func() { runtime.GOMAXPROCS(prev) }, nil
}
