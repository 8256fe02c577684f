package lmm

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD, Linux
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPUTime measures the benchmark cases in thread CPU time rather than
// wall time, interleaving the manager and the reference and keeping the
// best of several rounds: on a machine shared with other work, wall time
// also counts the time the thread waited for a core. It reports and
// asserts nothing, and runs only with LMM_CPUTIME=1:
//
//	LMM_CPUTIME=1 go test -run TestCPUTime -v ./lmm
func TestCPUTime(t *testing.T) {
	if os.Getenv("LMM_CPUTIME") != "1" {
		t.Skip("a measurement, not a test: set LMM_CPUTIME=1")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, n := range []int{1000, 100_000, 1_000_000} {
		for _, c := range benchCases {
			st := buildFrag(n) // fresh for each case, as in BenchmarkFragmented
			var best [2]time.Duration
			for k, m := range []model{st.m, st.ref} {
				// Enough iterations for the tick-grained CPU clock.
				iters := 1_000_000
				if k == 1 && c.name != "early" && c.name != "aligned12" {
					iters = max(20, 50_000_000/n)
				}
				best[k] = 1 << 62
				for round := 0; round < 5; round++ {
					t0 := threadCPU()
					for i := 0; i < iters; i++ {
						a, size, err := c.alloc(m, st)
						if c.fit && err == nil {
							err = m.Free(a, size)
						}
						if c.fit && err != nil {
							t.Fatal(err)
						}
					}
					best[k] = min(best[k], (threadCPU()-t0)/time.Duration(iters))
				}
			}
			t.Log(fmt.Sprintf("n=%-8d %-12s lmm %10v  first fit %12v  first fit/lmm %10.2f",
				n, c.name, best[0], best[1], float64(best[1])/float64(best[0])))
		}
	}
}
