// Command qemurun boots a kernel image made by cmd/mkimage under
// qemu-system-x86_64 (TCG unless -accel says otherwise), with the serial
// port on stdout and stdin, and exits with the kernel's own exit status, decoded
// from QEMU's isa-debug-exit (which reports status<<1 | 1).
//
// Usage:
//
//	qemurun [-m 1G] [-timeout 90s] [-silence 20s] [-module 'FILE [STRING]']... IMAGE [kernel words...]
//
// The kernel words become the kernel's command line (-append), so the
// first is its program name: qemurun hello.img hello -- -v. Each -module
// is a boot module (QEMU's -initrd): any number for an image made with
// mkimage -multiboot, one for a PVH image. A boot whose
// serial output stays silent for -silence, or that runs past -timeout, is
// killed and qemurun exits 124; a machine that stopped without
// isa-debug-exit (a triple fault with -no-reboot) exits 125.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/goskit/goskit/kernsupport/x86/qemu"
)

func main() {
	mem := flag.String("m", "1G", "guest memory size")
	timeout := flag.Duration("timeout", 90*time.Second, "cap on the whole boot")
	silence := flag.Duration("silence", 20*time.Second, "kill QEMU after this much serial silence")
	accel := flag.String("accel", "", "QEMU -accel value (default: QEMU's, TCG here)")
	var modules []string
	flag.Func("module", "boot module `'FILE [STRING]'` (repeatable)", func(s string) error {
		modules = append(modules, s)
		return nil
	})
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: qemurun [flags] IMAGE [kernel words...]")
		os.Exit(2)
	}
	words := flag.Args()[1:]
	if len(words) == 0 {
		words = []string{"kernel"}
	}
	cfg := qemu.Config{Image: flag.Arg(0), CommandLine: strings.Join(words, " "), Memory: *mem,
		Timeout: *timeout, Silence: *silence, Serial: os.Stdout, Stdin: os.Stdin, Modules: modules}
	if *accel != "" {
		cfg.Extra = []string{"-accel", *accel}
	}
	res, err := qemu.Run(context.Background(), cfg)
	switch {
	case errors.Is(err, qemu.ErrTimeout), errors.Is(err, qemu.ErrSilent):
		fmt.Fprintf(os.Stderr, "qemurun: %v after %v\n", err, res.Duration.Round(time.Millisecond))
		os.Exit(124)
	case err != nil:
		fmt.Fprintln(os.Stderr, "qemurun:", err)
		os.Exit(1)
	case !res.Exited:
		fmt.Fprintf(os.Stderr, "qemurun: machine stopped without an exit status (QEMU exit %d)\n", res.QEMUExit)
		os.Exit(125)
	}
	os.Exit(res.Status)
}
