// Command testkernel is a kernel for the qemu package's boot tests; its
// first argument after "--" picks what it does:
//
//	exit N     print and exit with status N
//	kfault     make the kernel fault in its own code (the kit's fault-test
//	           system call): a register dump and status 3
//	efault     write from an unmapped buffer: EFAULT, as on Linux
//	gopanic    an unrecovered nil dereference: the runtime's own crash, 2
//	enosys     an unknown system call twice: ENOSYS, logged once
//	divzero    a hardware divide by zero (#DE), recovered as Go's
//	           "integer divide by zero" panic through SIGFPE, then exit 0
//	echo       print each line read from the console until "quit"
//	hang       print, then spin forever without output
//	modules    print the boot protocol and each boot module's name, size,
//	           string and first bytes, then exit 0
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/kernsupport/x86"
)

type node struct{ next *node }

func hwdiv(a, b int64) int64

func divzero() (err error) {
	defer func() { err = fmt.Errorf("%v", recover()) }()
	hwdiv(1, int64(len(os.Args)-len(os.Args)))
	return nil
}

//go:noinline
func deref(n *node) *node { return n.next }

func main() {
	info := boot.ParseCommandLine(os.Args)
	if len(info.Args) == 0 {
		fmt.Println("testkernel: no mode in", os.Args, "protocol", x86.BootProtocol())
		os.Exit(1)
	}
	fmt.Println("testkernel: mode", info.Args[0], "bare metal", x86.BareMetal())
	switch info.Args[0] {
	case "exit":
		n, _ := strconv.Atoi(info.Args[1])
		os.Exit(n)
	case "kfault":
		const faultTest = 0x6b01
		syscall.Syscall(faultTest, 0x7e5500000000, 0, 0)
		fmt.Println("testkernel: still running after the fault test")
		os.Exit(0)
	case "efault":
		_, _, e := syscall.Syscall(syscall.SYS_WRITE, 1, 0x7e5500000000, 16)
		fmt.Println("testkernel: write from an unmapped buffer:", e)
		os.Exit(0)
	case "gopanic":
		deref(nil)
	case "enosys":
		for range 2 {
			_, _, e := syscall.Syscall(999, 0, 0, 0)
			fmt.Println("testkernel: syscall 999:", e)
		}
		os.Exit(0)
	case "modules":
		info, err := x86.BootInfo()
		if err != nil {
			fmt.Println("testkernel: BootInfo:", err)
			os.Exit(1)
		}
		fmt.Printf("testkernel: protocol %s, %d MiB usable, %d modules\n",
			x86.BootProtocol(), info.Memory.Total(boot.Usable)>>20, len(info.Modules))
		for _, m := range info.Modules {
			fmt.Printf("testkernel: module %q %d bytes string %q data %q\n", m.Name, len(m.Data), m.String, m.Data[:min(len(m.Data), 16)])
		}
		os.Exit(0)
	case "divzero":
		fmt.Println("testkernel: recovered:", divzero())
		os.Exit(0)
	case "echo":
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() && sc.Text() != "quit" {
			fmt.Printf("testkernel: echo %q\n", sc.Text())
		}
		fmt.Println("testkernel: echo done", sc.Err())
		os.Exit(0)
	case "hang":
		for {
		}
	}
	os.Exit(1)
}
