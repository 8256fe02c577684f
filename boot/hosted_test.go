package boot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestHostedEnvironment(t *testing.T) {
	tests := []struct {
		name string
		host []string
		args []string
		want []string
	}{
		{name: "host only", host: []string{"A=1", "B=2"}, args: []string{"k"}, want: []string{"A=1", "B=2"}},
		{name: "command line adds", host: []string{"A=1"}, args: []string{"k", "B=2", "--"}, want: []string{"A=1", "B=2"}},
		{name: "command line wins", host: []string{"A=1", "B=2"}, args: []string{"k", "A=9", "--"}, want: []string{"A=9", "B=2"}},
		{name: "later setting wins", host: nil, args: []string{"k", "A=1", "A=2", "--"}, want: []string{"A=2"}},
		{name: "no separator: no settings", host: []string{"A=1"}, args: []string{"k", "A=2"}, want: []string{"A=1"}},
		{name: "empty value", host: []string{"A=1"}, args: []string{"k", "A=", "--"}, want: []string{"A="}},
		{name: "malformed host entries dropped", host: []string{"junk", "=x", "A=1"}, args: []string{"k"}, want: []string{"A=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := Hosted(tt.args, WithEnviron(tt.host))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(info.Environ, tt.want) {
				t.Fatalf("Environ = %q, want %q", info.Environ, tt.want)
			}
		})
	}
}

func TestHostedProcessEnvironment(t *testing.T) {
	t.Setenv("GOSKIT_BOOT_TEST", "host")
	info, err := Hosted([]string{"k"})
	if err != nil {
		t.Fatal(err)
	}
	if v := info.Getenv("GOSKIT_BOOT_TEST"); v != "host" {
		t.Fatalf("Getenv = %q, want the process's value", v)
	}
	info, err = Hosted([]string{"k", "GOSKIT_BOOT_TEST=cmdline", "--"})
	if err != nil {
		t.Fatal(err)
	}
	if v := info.Getenv("GOSKIT_BOOT_TEST"); v != "cmdline" {
		t.Fatalf("Getenv = %q, want the command line's value", v)
	}
}

func TestGetenv(t *testing.T) {
	info := &Info{Environ: []string{"A=1", "EMPTY=", "B=x=y"}}
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"A", "1", true},
		{"EMPTY", "", true},
		{"B", "x=y", true},
		{"MISSING", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := info.LookupEnv(tt.name)
			if v != tt.want || ok != tt.ok {
				t.Fatalf("LookupEnv(%q) = %q, %v; want %q, %v", tt.name, v, ok, tt.want, tt.ok)
			}
			if g := info.Getenv(tt.name); g != tt.want {
				t.Fatalf("Getenv(%q) = %q", tt.name, g)
			}
		})
	}
}

func TestHostedModules(t *testing.T) {
	dir := t.TempDir()
	hostsPath := filepath.Join(dir, "hosts")
	diskPath := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(hostsPath, []byte("127.0.0.1 localhost\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(diskPath, []byte{1, 2, 3}, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		options []string
		want    []Module
		wantErr error
	}{
		{name: "none", options: []string{"-d"}, want: nil},
		{
			name:    "base name by default",
			options: []string{"-module=" + hostsPath},
			want:    []Module{{Name: "hosts", Data: []byte("127.0.0.1 localhost\n")}},
		},
		{
			name:    "explicit name",
			options: []string{"-module=" + hostsPath + ":etc/hosts"},
			want:    []Module{{Name: "etc/hosts", Data: []byte("127.0.0.1 localhost\n")}},
		},
		{
			name:    "empty name means base name; string keeps colons",
			options: []string{"-module=" + diskPath + "::ro size=3:x"},
			want:    []Module{{Name: "disk.img", Data: []byte{1, 2, 3}, String: "ro size=3:x"}},
		},
		{
			name:    "order kept",
			options: []string{"-module=" + diskPath + ":b", "-x", "-module=" + hostsPath + ":a"},
			want: []Module{
				{Name: "b", Data: []byte{1, 2, 3}},
				{Name: "a", Data: []byte("127.0.0.1 localhost\n")},
			},
		},
		{name: "missing file", options: []string{"-module=" + filepath.Join(dir, "nope")}, wantErr: fs.ErrNotExist},
		{name: "no path", options: []string{"-module=:name"}, wantErr: ErrModuleSyntax},
		{name: "empty", options: []string{"-module="}, wantErr: ErrModuleSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"k"}, tt.options...), "--", "arg")
			info, err := Hosted(args, WithEnviron(nil))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Hosted error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(info.Modules, tt.want) {
				t.Fatalf("Modules = %+v, want %+v", info.Modules, tt.want)
			}
			if !reflect.DeepEqual(info.Options, tt.options) {
				t.Fatalf("Options = %q, want %q (module options stay)", info.Options, tt.options)
			}
			for _, m := range tt.want {
				if got, ok := info.Module(m.Name); !ok || !reflect.DeepEqual(got, m) {
					t.Fatalf("Module(%q) = %+v, %v", m.Name, got, ok)
				}
			}
		})
	}
}

func TestHostedModuleAfterSeparatorIsAnArgument(t *testing.T) {
	info, err := Hosted([]string{"k", "--", "-module=/does/not/exist"}, WithEnviron(nil))
	if err != nil {
		t.Fatalf("an argument must not be loaded as a module: %v", err)
	}
	if len(info.Modules) != 0 || len(info.Args) != 1 {
		t.Fatalf("Modules %v, Args %q", info.Modules, info.Args)
	}
	if _, ok := info.Module("exist"); ok {
		t.Fatal("Module found a module that was not loaded")
	}
}

func TestHostedMemory(t *testing.T) {
	info, err := Hosted([]string{"k"}, WithEnviron(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := (MemoryMap{{Start: 0, Size: DefaultMemorySize, Type: Usable}}); !reflect.DeepEqual(info.Memory, want) {
		t.Fatalf("default Memory = %v, want %v", info.Memory, want)
	}
	info, err = Hosted([]string{"k"}, WithEnviron(nil), WithMemory(1<<20, 16<<20))
	if err != nil {
		t.Fatal(err)
	}
	if want := (MemoryMap{{Start: 1 << 20, Size: 16 << 20, Type: Usable}}); !reflect.DeepEqual(info.Memory, want) {
		t.Fatalf("Memory = %v, want %v", info.Memory, want)
	}
	info, err = Hosted([]string{"k"}, WithMemory(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Memory) != 0 {
		t.Fatalf("Memory = %v, want empty", info.Memory)
	}
}

func TestHostedNoArgs(t *testing.T) {
	info, err := Hosted(nil, WithEnviron(nil))
	if err != nil {
		t.Fatal(err)
	}
	if info.Program != "" || info.Args != nil {
		t.Fatalf("CommandLine = %#v", info.CommandLine)
	}
}
