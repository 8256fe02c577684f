package qemu

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goskit/goskit/internal/testenv"
)

// testImage builds testdata/testkernel once per test binary.
var testImage = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "qemutest")
	if err != nil {
		return "", err
	}
	img := filepath.Join(dir, "testkernel.img")
	return img, Build(".", "./testdata/testkernel", img)
})

// testImageMB is testImage with a Multiboot header.
var testImageMB = sync.OnceValues(func() (string, error) {
	img, err := testImage()
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(img)
	if err != nil {
		return "", err
	}
	mb, err := AddMultiboot(data)
	if err != nil {
		return "", err
	}
	out := filepath.Join(filepath.Dir(img), "testkernel-mb.img")
	return out, os.WriteFile(out, mb, 0o755)
})

func image(t *testing.T) string {
	t.Helper()
	img, err := testImage()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {}) // the image's directory is removed by TestMain
	return img
}

func TestMain(m *testing.M) {
	code := m.Run()
	if img, err := testImage(); err == nil && img != "" {
		os.RemoveAll(filepath.Dir(img))
	}
	os.Exit(code)
}

func TestMakeImage(t *testing.T) {
	img := image(t)
	f, err := elf.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var entry uint64
	for _, s := range syms {
		if s.Name == EntrySymbol || s.Name == EntrySymbol+".abi0" {
			entry = s.Value
		}
	}
	found := false
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			t.Fatal(err)
		}
		for off := 0; off+12 <= len(data); {
			namesz := int(binary.LittleEndian.Uint32(data[off:]))
			descsz := int(binary.LittleEndian.Uint32(data[off+4:]))
			typ := binary.LittleEndian.Uint32(data[off+8:])
			name := off + 12
			desc := name + (namesz+3)&^3
			if typ == xenElfnotePhys32Entry && string(data[name:name+4]) == "Xen\x00" {
				found = true
				if got := binary.LittleEndian.Uint64(data[desc:]); got != entry {
					t.Errorf("PVH entry %#x, want %#x", got, entry)
				}
			}
			off = desc + (descsz+3)&^3
		}
	}
	if !found {
		t.Error("no PVH note")
	}
}

func TestMakeImageErrors(t *testing.T) {
	if _, err := MakeImage([]byte("not an ELF file")); err == nil {
		t.Error("non-ELF input accepted")
	}
	// This test binary does not link kernsupport/x86.
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MakeImage(self); !errors.Is(err, ErrNoEntry) {
		t.Errorf("binary without the entry: err = %v, want ErrNoEntry", err)
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		code, status int
		ok           bool
	}{{1, 0, true}, {3, 1, true}, {7, 3, true}, {85, 42, true}, {0, 0, false}, {-1, 0, false}, {2, 0, false}} {
		if st, ok := decode(tc.code); st != tc.status || ok != tc.ok {
			t.Errorf("decode(%d) = %d, %v", tc.code, st, ok)
		}
	}
}

func TestIsMultiboot(t *testing.T) {
	mb, err := testImageMB()
	if err != nil {
		t.Fatal(err)
	}
	if !IsMultiboot(mb) || IsMultiboot(image(t)) || IsMultiboot("/nonexistent") {
		t.Error("IsMultiboot wrong")
	}
	c := Config{Image: mb, CommandLine: "k A=1 -- x"}
	if got := c.appendLine(); got != "A=1 -- x" {
		t.Errorf("Multiboot -append %q", got)
	}
}

func TestArgs(t *testing.T) {
	args := strings.Join(Config{Image: "k.img", CommandLine: "k -- x"}.Args(), " ")
	for _, want := range []string{"-kernel k.img", "-append k -- x", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-machine q35", "-m 1G", "-no-reboot", "-serial stdio"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
}

// TestBoot boots the test kernel in each mode under QEMU (TCG) and checks
// its serial output and exit status.
func TestBoot(t *testing.T) {
	testenv.NeedTool(t, "qemu-system-x86_64")
	img := image(t)
	mbImg, err := testImageMB()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f1, f2 := filepath.Join(dir, "f1"), filepath.Join(dir, "f2")
	if err := os.WriteFile(f1, []byte("first module data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f2, bytes.Repeat([]byte("2"), 70000), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		image   string
		modules []string
		cmdline string
		status  int
		err     error
		want    []string
		silence time.Duration
		input   string // typed on the console once the kernel runs
	}{
		{name: "exit", cmdline: "k -- exit 42", status: 42, want: []string{"testkernel: mode exit bare metal true"}},
		{name: "kfault", cmdline: "k -- kfault", status: 3, want: []string{
			"goskit: kernel fault in trap path: vector 14", "cr2 0x00007e5500000000", " rip ", " r15 "}},
		{name: "divzero", cmdline: "k -- divzero", status: 0, want: []string{
			"testkernel: recovered: runtime error: integer divide by zero"}},
		{name: "efault", cmdline: "k -- efault", status: 0, want: []string{
			"testkernel: write from an unmapped buffer: bad address"}},
		{name: "gopanic", cmdline: "k -- gopanic", status: 2, want: []string{
			"panic: runtime error: invalid memory address or nil pointer dereference", "main.deref"}},
		{name: "enosys", cmdline: "k -- enosys", status: 0, want: []string{
			"goskit: unknown system call 999, returning ENOSYS", "syscall 999: function not implemented"}},
		{name: "echo", cmdline: "k -- echo", input: "hello kit\nsecond line\nquit\n", want: []string{
			`testkernel: echo "hello kit"`, `testkernel: echo "second line"`, "testkernel: echo done <nil>"}},
		{name: "hang", cmdline: "k -- hang", err: ErrSilent, silence: 3 * time.Second, want: []string{"mode hang"}},
		{name: "pvh-module", cmdline: "k -- modules", modules: []string{f1}, want: []string{
			"protocol pvh", `module "module0" 17 bytes string "" data "first module dat"`}},
		{name: "multiboot", image: mbImg, cmdline: "k -- modules", modules: []string{f1 + " etc/motd", f2}, want: []string{
			"protocol multiboot",
			`/f1" 17 bytes string "etc/motd" data "first module dat"`,
			`/f2" 70000 bytes string "" data "2222222222222222"`}},
		{name: "multiboot-exit", image: mbImg, cmdline: "k -- exit 5", status: 5, want: []string{"mode exit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			var mu sync.Mutex
			var stdin io.Reader
			sink := io.Writer(lockedWriter{&mu, &out})
			if tc.input != "" {
				pr, pw := io.Pipe()
				defer pw.Close()
				stdin = pr
				sink = &typist{w: sink, marker: "testkernel: mode", input: tc.input, pw: pw}
			}
			image := img
			if tc.image != "" {
				image = tc.image
			}
			res, err := Run(context.Background(), Config{Image: image, CommandLine: tc.cmdline, Modules: tc.modules,
				Memory: "256M", Silence: tc.silence, Serial: sink, Stdin: stdin})
			mu.Lock()
			serial := out.String()
			mu.Unlock()
			if !errors.Is(err, tc.err) {
				t.Fatalf("Run: %v, want %v\n%s", err, tc.err, serial)
			}
			if tc.err == nil && (!res.Exited || res.Status != tc.status) {
				t.Errorf("exited %v status %d (QEMU %d), want status %d", res.Exited, res.Status, res.QEMUExit, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(serial, w) {
					t.Errorf("serial output lacks %q", w)
				}
			}
			if strings.Count(serial, "unknown system call 999") > 1 {
				t.Error("unknown system call logged more than once")
			}
			if t.Failed() {
				t.Logf("serial output:\n%s", serial)
			}
		})
	}
}

// typist types input on the console once the serial output shows marker.
type typist struct {
	w      io.Writer
	marker string
	input  string
	pw     *io.PipeWriter
	seen   []byte
	typed  bool
}

func (t *typist) Write(p []byte) (int, error) {
	if !t.typed {
		t.seen = append(t.seen, p...)
		if bytes.Contains(t.seen, []byte(t.marker)) {
			t.typed = true
			go t.pw.Write([]byte(t.input))
		}
	}
	return t.w.Write(p)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
