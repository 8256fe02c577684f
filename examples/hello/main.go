// Command hello is the first bare-metal example kernel: the same source
// runs as a Linux process and boots on x86-64 under QEMU (see
// kernsupport/x86). It prints its boot information, then exercises what the
// Go runtime needs from the machine beneath it: goroutines that sleep and
// talk over channels, a goroutine spinning without function calls while
// main forces garbage collections (which needs asynchronous preemption, a
// SIGURG the kernel delivers), a few hundred MiB of allocation, and a nil
// dereference recovered as a Go panic. It exits 0 when every check passed.
//
//	go run ./examples/hello                          hosted
//	go run ./cmd/mkimage -o hello.img ./examples/hello
//	go run ./cmd/qemurun hello.img hello -- -alloc 256
//
// Program arguments (after "--"): -alloc MiB (default 256) sets how much
// it allocates in total, of which it keeps a quarter live at a time.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/kernsupport"
	"github.com/goskit/goskit/kernsupport/hosted"
	"github.com/goskit/goskit/kernsupport/x86"
)

func main() {
	start := time.Now()
	info, err := bootInfo()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
	platform := "hosted"
	if x86.BareMetal() {
		platform = "bare metal (" + x86.BootProtocol() + ")"
	}
	fmt.Printf("hello: Go main on %s\n", platform)
	if x86.BareMetal() {
		fmt.Printf("hello: main reached %d ms after kernel entry\n", x86.Nanotime()/1e6)
	}
	printInfo(info)

	fl := flag.NewFlagSet("hello", flag.ContinueOnError)
	allocMiB := fl.Int("alloc", 256, "MiB to allocate in total")
	if err := fl.Parse(info.Args); err != nil {
		os.Exit(2)
	}

	failed := 0
	check := func(name string, f func() error) {
		t0 := time.Now()
		if err := f(); err != nil {
			fmt.Printf("hello: %s: FAIL: %v\n", name, err)
			failed++
			return
		}
		fmt.Printf("hello: %s: ok (%v)\n", name, time.Since(t0).Round(time.Millisecond))
	}
	check("platform", func() error { return checkPlatform(info) })
	check("goroutines and channels", goroutines)
	check("sleep", sleep)
	check("GC with a spinning goroutine", spinGC)
	check(fmt.Sprintf("allocate %d MiB", *allocMiB), func() error { return allocate(*allocMiB) })
	check("nil dereference recovered", nilDeref)
	check("unmapped address recovered", unmapped)

	const calls = 20000
	t0 := time.Now()
	for range calls {
		syscall.Getpid()
	}
	fmt.Printf("hello: getpid round trip %v\n", time.Since(t0)/calls)
	if x86.BareMetal() {
		s := x86.ReadStats()
		fmt.Printf("hello: kernel: %d syscalls, %d interrupts, %d page faults, %d context switches, %d signals\n",
			s.Syscalls, s.Interrupts, s.PageFaults, s.ContextSwitches, s.Signals)
	}
	if failed > 0 {
		fmt.Printf("hello: %d checks failed\n", failed)
		os.Exit(1)
	}
	fmt.Printf("hello: all checks passed in %v, exiting\n", time.Since(start).Round(time.Millisecond))
	os.Exit(0)
}

// bootInfo is the kernel's boot information: from the PVH start info on
// bare metal, from the process otherwise.
func bootInfo() (*boot.Info, error) {
	if x86.BareMetal() {
		return x86.BootInfo()
	}
	return boot.Hosted(os.Args)
}

func printInfo(info *boot.Info) {
	fmt.Printf("hello: program %q options %q args %q\n", info.Program, info.Options, info.Args)
	fmt.Printf("hello: environment %q\n", info.Vars)
	for _, r := range info.Memory {
		fmt.Printf("hello: memory %v\n", r)
	}
	fmt.Printf("hello: %d MiB usable, %d boot modules, GOMAXPROCS %d\n",
		info.Memory.Total(boot.Usable)>>20, len(info.Modules), runtime.GOMAXPROCS(0))
}

// newPlatform is the kit platform the kernel runs on.
func newPlatform(info *boot.Info) (kernsupport.Platform, error) {
	if x86.BareMetal() {
		return x86.NewPlatform(4 << 20)
	}
	return hosted.New(info)
}

// checkPlatform checks the kit platform's memory arena and clock.
func checkPlatform(info *boot.Info) error {
	p, err := newPlatform(info)
	if err != nil {
		return err
	}
	defer p.Close()
	mem := p.Memory()
	addr, err := mem.Alloc(64<<10, 0, 12)
	if err != nil {
		return err
	}
	b, err := mem.Bytes(addr, 64<<10)
	if err != nil {
		return err
	}
	for i := range b {
		b[i] = byte(i)
	}
	if b[4097] != 1 {
		return errors.New("arena memory does not hold what was written")
	}
	if err := mem.Free(addr, 64<<10); err != nil {
		return err
	}
	t0 := p.Clock().Now()
	p.Clock().Sleep(2 * time.Millisecond)
	if d := p.Clock().Now() - t0; d < 2*time.Millisecond {
		return fmt.Errorf("clock advanced %v over a 2ms sleep", d)
	}
	wall := p.Clock().Wall()
	if wall.Year() < 2024 {
		return fmt.Errorf("wall clock says %v", wall)
	}
	fmt.Printf("hello: platform arena %d KiB free, wall clock %s\n", mem.Avail(0)>>10, wall.UTC().Format(time.RFC3339))
	return nil
}

// goroutines passes a token around a ring of goroutines.
func goroutines() error {
	const n, rounds = 16, 100
	chans := make([]chan int, n)
	for i := range chans {
		chans[i] = make(chan int, 1)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				v := <-chans[i]
				chans[(i+1)%n] <- v + 1
			}
		}()
	}
	chans[0] <- 0
	wg.Wait()
	if v := <-chans[0]; v != n*rounds {
		return fmt.Errorf("token %d after %d hops", v, n*rounds)
	}
	return nil
}

// sleep runs sleeping goroutines and checks that time passes.
func sleep() error {
	t0 := time.Now()
	var wg sync.WaitGroup
	done := make(chan time.Duration, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := time.Duration(10*(i+1)) * time.Millisecond
			s := time.Now()
			time.Sleep(d)
			done <- time.Since(s) - d
		}()
	}
	wg.Wait()
	close(done)
	for late := range done {
		if late < 0 {
			return fmt.Errorf("a sleep ended %v early", -late)
		}
	}
	if e := time.Since(t0); e < 80*time.Millisecond {
		return fmt.Errorf("8 sleeps up to 80ms took %v", e)
	}
	return nil
}

var spinCount atomic.Uint64

//go:noinline
func spin(stop *atomic.Bool) {
	// No function calls in the loop: only asynchronous preemption can
	// stop this goroutine for the collector.
	n := uint64(0)
	for !stop.Load() {
		n++
	}
	spinCount.Store(n)
}

// spinGC forces collections while a goroutine spins.
func spinGC() error {
	var stop atomic.Bool
	done := make(chan struct{})
	go func() { spin(&stop); close(done) }()
	time.Sleep(5 * time.Millisecond)
	for range 5 {
		runtime.GC()
	}
	stop.Store(true)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		return errors.New("spinning goroutine did not stop")
	}
	if spinCount.Load() == 0 {
		return errors.New("spinning goroutine never ran")
	}
	return nil
}

// allocate allocates total MiB in 1 MiB blocks, a quarter of it live at a
// time, touching every page.
func allocate(total int) error {
	live := make([][]byte, max(total/4, 1))
	for i := range total {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(i)
		}
		live[i%len(live)] = b
	}
	for i, b := range live {
		if b == nil {
			continue
		}
		want := byte(i + len(live)*((total-1-i)/len(live)))
		if b[0] != want {
			return fmt.Errorf("block %d holds %d, want %d", i, b[0], want)
		}
	}
	return nil
}

type node struct{ next *node }

//go:noinline
func deref(n *node) *node { return n.next }

// nilDeref recovers from a nil dereference.
func nilDeref() (err error) {
	defer func() {
		r := recover()
		re, ok := r.(runtime.Error)
		if !ok {
			err = fmt.Errorf("recovered %v, want a runtime error", r)
			return
		}
		fmt.Printf("hello: recovered: %v\n", re)
	}()
	deref(nil)
	return errors.New("nil dereference did not panic")
}

// unmapped recovers from a read of an address nothing maps, as a panic
// with debug.SetPanicOnFault (the runtime otherwise treats a fault at a
// non-nil address as fatal, hosted too).
func unmapped() (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		r := recover()
		if r == nil {
			err = errors.New("no panic")
			return
		}
		fmt.Printf("hello: recovered: %v\n", r)
	}()
	p := (*node)(unmappedAddr())
	deref(p)
	return errors.New("read of an unmapped address did not panic")
}
