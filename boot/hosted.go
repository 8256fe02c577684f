package boot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultMemorySize is the size of a hosted kernel's physical memory when
// WithMemory does not set it: enough for network buffers of a few
// connections. The hosted arena backs it with a memfd, which uses host
// memory only for pages touched.
const DefaultMemorySize = 64 << 20

// ModuleOption starts the boot option that loads a hosted boot module:
//
//	-module=PATH[:NAME[:STRING]]
//
// PATH is the host file to load (relative to the working directory). NAME is
// the module's name; empty or absent, it is PATH's base name. STRING is the
// module's optional string and may itself contain ':'. PATH cannot contain
// ':', which Linux file names rarely do; link such a file elsewhere.
const ModuleOption = "-module="

// ErrModuleSyntax is returned (wrapped) for a -module option with no PATH.
var ErrModuleSyntax = errors.New("malformed -module option, want -module=PATH[:NAME[:STRING]]")

// HostedOption configures Hosted.
type HostedOption func(*hostedConfig)

type hostedConfig struct {
	environ  []string
	memStart uint64
	memSize  uint64
}

// WithEnviron makes env, rather than the process environment, the base the
// command line's settings are applied to. WithEnviron(nil) gives a kernel
// only the environment its command line sets: a second kernel in one process
// usually wants that.
func WithEnviron(env []string) HostedOption {
	return func(c *hostedConfig) { c.environ = env }
}

// WithMemory sets the hosted kernel's physical memory: one usable range of
// size bytes from physical address start. The default is DefaultMemorySize
// bytes from 0; the hosted arena maps physical address start at offset 0 of
// its memfd. A size of 0 gives an empty memory map.
func WithMemory(start, size uint64) HostedOption {
	return func(c *hostedConfig) { c.memStart, c.memSize = start, size }
}

// Hosted builds the boot information of a hosted kernel from its process:
//
//   - The command line is args (normally os.Args), parsed by
//     ParseCommandLine.
//   - The environment is the process environment (os.Environ, or
//     WithEnviron's) with the command line's NAME=value settings applied on
//     top: the command line wins, and a later setting wins over an earlier
//     one, because the command line is the more explicit, per-kernel choice.
//   - The memory map is one Usable range describing the hosted arena
//     (WithMemory).
//   - The boot modules are the files named by -module= boot options
//     (ModuleOption), read whole, in command-line order. The options stay in
//     Options too.
//
// A malformed -module option or an unreadable module file is an error that
// names the option; a missing file's error matches fs.ErrNotExist.
func Hosted(args []string, opts ...HostedOption) (*Info, error) {
	cfg := hostedConfig{environ: os.Environ(), memSize: DefaultMemorySize}
	for _, o := range opts {
		o(&cfg)
	}
	info := &Info{CommandLine: ParseCommandLine(args)}
	info.Environ = MergeEnviron(cfg.environ, info.Vars)
	info.Memory = MemoryMap{{Start: cfg.memStart, Size: cfg.memSize, Type: Usable}}.Normalize()
	for _, opt := range info.Options {
		spec, ok := strings.CutPrefix(opt, ModuleOption)
		if !ok {
			continue
		}
		m, err := loadModule(spec)
		if err != nil {
			return nil, fmt.Errorf("boot: %s: %w", opt, err)
		}
		info.Modules = append(info.Modules, m)
	}
	return info, nil
}

// loadModule reads the module a -module=PATH[:NAME[:STRING]] option names.
func loadModule(spec string) (Module, error) {
	path, rest, _ := strings.Cut(spec, ":")
	name, str, _ := strings.Cut(rest, ":")
	if path == "" {
		return Module{}, ErrModuleSyntax
	}
	if name == "" {
		name = filepath.Base(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Module{}, fmt.Errorf("read module: %w", err)
	}
	return Module{Name: name, Data: data, String: str}, nil
}
