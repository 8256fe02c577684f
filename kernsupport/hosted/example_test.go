package hosted_test

import (
	"fmt"
	"log"
	"os"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/kernsupport/hosted"
	"golang.org/x/sys/unix"
)

func ExampleNew() {
	info, err := boot.Hosted([]string{"/usr/local/bin/hello", "--", "world"}, boot.WithEnviron(nil))
	if err != nil {
		log.Fatal(err)
	}
	// The console is stdio; the log goes to stdout here so that it shows
	// below (it is stderr by default).
	plat, err := hosted.New(info, hosted.WithLog(os.Stdout))
	if err != nil {
		log.Fatal(err)
	}
	defer plat.Close()

	fmt.Fprintf(plat.Console(), "hello, %s\n", info.Args[0])
	plat.Logf("booted with %d bytes of memory", info.Memory.Total(boot.Usable))
	// Output:
	// hello, world
	// hello: booted with 67108864 bytes of memory
}

// Two kernels in one process, sharing one terminal: each console prefixes
// its lines, and halting one must not end the other.
func ExampleWithConsole() {
	newKernel := func(name string) *hosted.Platform {
		info, err := boot.Hosted([]string{name}, boot.WithEnviron(nil))
		if err != nil {
			log.Fatal(err)
		}
		plat, err := hosted.New(info,
			hosted.WithConsole(nil, hosted.PrefixLines(os.Stdout, name+"| ")),
			hosted.WithExit(func(status int) { fmt.Printf("%s halted: %d\n", name, status) }))
		if err != nil {
			log.Fatal(err)
		}
		return plat
	}
	tx, rx := newKernel("ttcp-t"), newKernel("ttcp-r")
	defer tx.Close()
	defer rx.Close()

	fmt.Fprintln(rx.Console(), "listening")
	fmt.Fprintln(tx.Console(), "connecting\nsent 16777216 bytes")
	tx.Halt(0)
	// Output:
	// ttcp-r| listening
	// ttcp-t| connecting
	// ttcp-t| sent 16777216 bytes
	// ttcp-t halted: 0
}

// A driver waits on an interrupt line: its poll function does non-blocking
// I/O and reports whether it got what it waited for.
func ExamplePlatform_FDLine() {
	plat, err := hosted.New(&boot.Info{}, hosted.WithConsole(nil, os.Stdout))
	if err != nil {
		log.Fatal(err)
	}
	defer plat.Close() // closes the line too, had we not

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		log.Fatal(err)
	}
	defer unix.Close(p[1])
	line, err := plat.FDLine(p[0], "pipe") // the line owns p[0] now
	if err != nil {
		log.Fatal(err)
	}
	defer line.Close()

	go unix.Write(p[1], []byte("interrupt"))

	buf := make([]byte, 64)
	var n int
	err = line.WaitRead(func() bool {
		var rerr error
		n, rerr = unix.Read(line.FD(), buf)
		if rerr == unix.EAGAIN {
			return false // nothing there yet: wait for the line
		}
		if rerr != nil {
			log.Fatal(rerr)
		}
		return true
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(plat.Console(), "got %q\n", buf[:n])
	// Output:
	// got "interrupt"
}
