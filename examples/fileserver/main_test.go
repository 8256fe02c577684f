package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbeddedDefault(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"fileserver"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"etc/motd", "docs/papers/oskit.txt", "generated/pattern.bin (307200 bytes)", "generated/empty/", "all match"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestHostDirAndModules(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "b", "f"), bytes.Repeat([]byte("host "), 30000), 0o644)
	os.WriteFile(filepath.Join(dir, "top"), []byte("top\n"), 0o644)
	mod := filepath.Join(t.TempDir(), "motd")
	os.WriteFile(mod, []byte("module contents\n"), 0o644)

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"Host", []string{"fileserver", "--", "-host", dir}, []string{"host directory", "a/b/f (150000 bytes)", "top (4 bytes)", "all match"}},
		{"Modules", []string{"fileserver", "-module=" + mod + ":etc/motd", "--"}, []string{"1 boot modules", "etc/motd (16 bytes)", "all match"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	tests := [][]string{
		{"fileserver", "--", "-nic", "bogus"},
		{"fileserver", "--", "extra"},
		{"fileserver", "--", "-nosuchflag"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args[2:], " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(args, &out, &errb); code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, errb.String())
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run([]string{"fileserver", "--", "-host", "/nonexistent-goskit-dir"}, &out, &errb); code != 1 {
		t.Fatalf("missing host dir: exit %d, want 1", code)
	}
}
