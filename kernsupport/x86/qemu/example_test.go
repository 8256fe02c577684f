package qemu_test

import (
	"context"
	"fmt"
	"os"

	"github.com/goskit/goskit/kernsupport/x86/qemu"
)

// Build an example kernel and boot it, the serial port on stdout.
func ExampleRun() {
	if err := qemu.Build(".", "./examples/hello", "hello.img"); err != nil {
		fmt.Println(err)
		return
	}
	res, err := qemu.Run(context.Background(), qemu.Config{
		Image:       "hello.img",
		CommandLine: "hello -- -alloc 64",
		Serial:      os.Stdout,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("kernel exited with status", res.Status)
}

// The QEMU command line of a boot.
func ExampleConfig_Args() {
	fmt.Println(qemu.Config{Image: "k.img", CommandLine: "k -- -v"}.Args())
	// Output: [-machine q35 -cpu max -m 1G -nographic -no-reboot -monitor none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel k.img -append k -- -v]
}
