// Package boot provides the boot information a goskit kernel is handed when
// it starts: its command line split into program name, boot options,
// environment settings and program arguments; its environment; the memory
// map of its physical memory; and its boot modules (files loaded beside the
// kernel). It is the Go form of the OSKit's multiboot startup code
// (base_multiboot_init_cmdline, base_multiboot_init_mem) and of its boot
// module list.
//
// A hosted kernel, a Linux process, gets its Info from Hosted, which reads
// the process's arguments, environment and module files. A bare-metal kernel
// gets it from a parser of the boot protocol, ParsePVH (the PVH start info
// QEMU's -kernel hands an ELF kernel) or ParseMultiboot (Multiboot v1), which
// read the boot loader's tables through an io.ReaderAt over physical memory
// and fill the same types: SplitCommandLine and ParseCommandLine for the
// command line, MemoryMap with E820 type values and Normalize for memory,
// Module for modules.
//
// # The command line
//
//	prog [boot-options NAME=value ...] -- program-arguments...
//
// Words before "--" are boot options for the kit (the OSKit's -h, -d and so
// on; goskit's hosted -module=...), except NAME=value words, which set
// environment variables; words after "--" are the program's arguments. With
// no "--", every word is a program argument. See ParseCommandLine.
//
// # Execution environment
//
// Everything here is pure: no goroutines, no global state, no blocking except
// Hosted's reading of module files. An Info is plain data, safe for
// concurrent reading once built; nothing in the kit modifies an Info it is
// given.
package boot

import "strings"

// Info is what a kernel is handed at boot.
type Info struct {
	// CommandLine is the kernel's command line, parsed. Its Vars are the
	// settings the command line made; Environ is the whole environment.
	CommandLine
	// Environ is the kernel's environment as NAME=value strings, each name
	// once. Hosted builds it from the process environment and the command
	// line's Vars; a bare-metal kernel's environment is its Vars alone.
	Environ []string
	// Memory is the physical memory map, normalized (MemoryMap.Normalize).
	Memory MemoryMap
	// Modules are the boot modules, in command-line order.
	Modules []Module
}

// Module is a boot module: a file loaded with the kernel, named for the
// kernel to find it (a boot-module file system uses Name as the file's path).
type Module struct {
	// Name is the name the kernel knows the module by, path-like
	// ("etc/hosts", "disk.img").
	Name string
	// Data is the module's contents.
	Data []byte
	// String is the module's optional string: what a boot loader passed
	// after the module's name (Multiboot's module command line), or the
	// STRING of a hosted -module=PATH:NAME:STRING option. Often empty.
	String string
}

// LookupEnv returns the value of the environment variable name and whether
// it is set.
func (i *Info) LookupEnv(name string) (string, bool) {
	for _, kv := range i.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// Getenv returns the value of the environment variable name, or "" if it is
// not set (use LookupEnv to tell unset from empty).
func (i *Info) Getenv(name string) string {
	v, _ := i.LookupEnv(name)
	return v
}

// Module returns the first boot module called name.
func (i *Info) Module(name string) (Module, bool) {
	for _, m := range i.Modules {
		if m.Name == name {
			return m, true
		}
	}
	return Module{}, false
}

// MergeEnviron returns base with the NAME=value settings of each later list
// applied in order: a setting replaces an earlier one of the same name in
// place, or is appended. Entries that are not settings (no '=', an empty
// name) are dropped, so every name appears once in the result.
func MergeEnviron(base []string, settings ...[]string) []string {
	var env []string
	index := make(map[string]int)
	set := func(kv string) {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return
		}
		if i, dup := index[name]; dup {
			env[i] = kv
			return
		}
		index[name] = len(env)
		env = append(env, kv)
	}
	for _, kv := range base {
		set(kv)
	}
	for _, list := range settings {
		for _, kv := range list {
			set(kv)
		}
	}
	return env
}
