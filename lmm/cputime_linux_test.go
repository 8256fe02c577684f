package lmm

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time of the calling OS thread (the benchmarks
// lock their goroutine to it). On a machine shared with other work it is a
// steadier measure than wall time, which also counts waiting for a core.
func threadCPU() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD, Linux
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
