package bmodfs_test

import (
	"fmt"
	iofs "io/fs"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/bmodfs"
)

func Example() {
	// A kernel's boot modules, as boot.Hosted or a Multiboot loader gives
	// them, become a read-only tree.
	info := &boot.Info{Modules: []boot.Module{
		{Name: "etc/hosts", Data: []byte("127.0.0.1 localhost\n")},
		{Name: "etc/motd", Data: []byte("hello\n")},
		{Name: "disk.img", Data: make([]byte, 4096)},
	}}
	modfs, err := bmodfs.New(info.Modules)
	if err != nil {
		fmt.Println(err)
		return
	}
	iofs.WalkDir(fs.IOFS(modfs), ".", func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, _ := d.Info()
		fmt.Printf("%v %5d %s\n", info.Mode(), info.Size(), p)
		return nil
	})
	hosts, _ := iofs.ReadFile(fs.IOFS(modfs), "etc/hosts")
	fmt.Printf("%q\n", hosts)

	// A bad module list says which module and why.
	_, err = bmodfs.New([]boot.Module{{Name: "etc"}, {Name: "etc/hosts"}})
	fmt.Println(err)
	// Output:
	// dr-xr-xr-x     0 .
	// -r--r--r--  4096 disk.img
	// dr-xr-xr-x     0 etc
	// -r--r--r--    20 etc/hosts
	// -r--r--r--     6 etc/motd
	// "127.0.0.1 localhost\n"
	// bmodfs: module 1 "etc/hosts": "etc" is a file
}
