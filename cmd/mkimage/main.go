// Command mkimage makes a bootable image for QEMU's -kernel from a Go
// program that imports kernsupport/x86: it builds the program as a static
// GOOS=linux GOARCH=amd64 binary (or takes one already built) and rewrites
// its Go build-id note into a Xen PVH entry note naming the kit's entry.
//
// Usage:
//
//	mkimage -o IMAGE PACKAGE      build PACKAGE (e.g. ./examples/hello) and convert it
//	mkimage -o IMAGE -bin BINARY  convert a binary built with GOOS=linux GOARCH=amd64 CGO_ENABLED=0
//	mkimage -multiboot ...        add a Multiboot header too: QEMU then boots the
//	                              image as a Multiboot kernel (boot modules with -initrd)
//
// The image still runs as a Linux program; boot it with cmd/qemurun.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/goskit/goskit/kernsupport/x86/qemu"
)

func main() {
	out := flag.String("o", "", "output image `file`")
	bin := flag.Bool("bin", false, "the argument is a built binary, not a package")
	mb := flag.Bool("multiboot", false, "add a Multiboot header (QEMU then boots the image by Multiboot)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: mkimage -o IMAGE [-bin] [-multiboot] PACKAGE|BINARY\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, flag.Arg(0), *bin, *mb); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(out, arg string, isBin, multiboot bool) error {
	if !isBin {
		var opts []qemu.Option
		if multiboot {
			opts = append(opts, qemu.WithMultiboot())
		}
		return qemu.Build(".", arg, out, opts...)
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return err
	}
	img, err := qemu.MakeImage(data)
	if err != nil {
		return err
	}
	if multiboot {
		if img, err = qemu.AddMultiboot(img); err != nil {
			return err
		}
	}
	return os.WriteFile(out, img, 0o755)
}
