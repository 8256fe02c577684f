package boot_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/goskit/goskit/boot"
)

func ExampleParseCommandLine() {
	c := boot.ParseCommandLine([]string{"ttcp", "-h", "DISPLAY=host:0", "--", "-t", "198.18.0.1"})
	fmt.Printf("program %q\noptions %q\nvars    %q\nargs    %q\n", c.Program, c.Options, c.Vars, c.Args)

	// Without "--" every word is a program argument.
	c = boot.ParseCommandLine([]string{"ttcp", "-r", "A=1"})
	fmt.Printf("args    %q\n", c.Args)
	// Output:
	// program "ttcp"
	// options ["-h"]
	// vars    ["DISPLAY=host:0"]
	// args    ["-t" "198.18.0.1"]
	// args    ["-r" "A=1"]
}

func ExampleHosted() {
	dir, err := os.MkdirTemp("", "boot-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte("198.18.0.1 peer\n"), 0o600); err != nil {
		log.Fatal(err)
	}

	// A kernel would pass os.Args and keep the process environment.
	args := []string{"fileserver", "-module=" + hosts + ":etc/hosts", "PORT=564", "--", "-v"}
	info, err := boot.Hosted(args, boot.WithEnviron([]string{"HOME=/", "PORT=80"}), boot.WithMemory(0, 16<<20))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("args:", info.Args)
	fmt.Println("PORT:", info.Getenv("PORT"))
	fmt.Println("environ:", info.Environ)
	fmt.Println("memory:", info.Memory)
	for _, m := range info.Modules {
		fmt.Printf("module %s: %d bytes\n", m.Name, len(m.Data))
	}
	// Output:
	// args: [-v]
	// PORT: 564
	// environ: [HOME=/ PORT=564]
	// memory: [[0x0-0x1000000) usable]
	// module etc/hosts: 16 bytes
}

func ExampleMemoryMap_Normalize() {
	// A PC with 128 MiB, its kernel image loaded at 1 MiB: reserve the
	// image and what remains usable is what the allocator gets.
	m := append(boot.PCMemoryMap(639, 130048),
		boot.MemoryRange{Start: 1 << 20, Size: 2 << 20, Type: boot.Reserved})
	for _, r := range m.Normalize() {
		fmt.Println(r)
	}
	// Output:
	// [0x0-0x9fc00) usable
	// [0x9fc00-0x300000) reserved
	// [0x300000-0x8000000) usable
}
