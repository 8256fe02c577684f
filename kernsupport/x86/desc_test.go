package x86

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/goskit/goskit/internal/testenv"
)

func TestSegmentDescriptors(t *testing.T) {
	// Decode the fields the CPU checks in long mode.
	for _, tc := range []struct {
		name           string
		d              uint64
		access, l, d32 uint64
	}{
		{"code64", CodeDescriptor64, 0x9A, 1, 0},
		{"data", DataDescriptor, 0x92, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d >> 40 & 0xFF; got != tc.access {
				t.Errorf("access byte %#x, want %#x", got, tc.access)
			}
			if got := tc.d >> 53 & 1; got != tc.l {
				t.Errorf("L bit %d, want %d", got, tc.l)
			}
			if got := tc.d >> 54 & 1; got != tc.d32 {
				t.Errorf("D bit %d, want %d", got, tc.d32)
			}
		})
	}
}

func TestTSSDescriptor(t *testing.T) {
	lo, hi := TSSDescriptor(0xffff8000_12345678, 103)
	if lo&0xFFFF != 103 || lo>>48&0xF != 0 {
		t.Errorf("limit fields of %#x", lo)
	}
	base := lo>>16&0xFFFFFF | (lo>>56)<<24 | hi<<32
	if base != 0xffff8000_12345678 {
		t.Errorf("base %#x", base)
	}
	if typ := lo >> 40 & 0xFF; typ != 0x89 {
		t.Errorf("type byte %#x, want 0x89 (present, available 64-bit TSS)", typ)
	}
	if hi>>32 != 0 {
		t.Errorf("reserved upper half %#x", hi>>32)
	}
}

func TestInterruptGate(t *testing.T) {
	for _, tc := range []struct {
		handler  uint64
		ist, dpl uint8
	}{
		{0x401234, 1, 0},
		{0xffffffff_8000abcd, 3, 3},
		{0, 0, 0},
	} {
		lo, hi := InterruptGate(tc.handler, KernelCS, tc.ist, tc.dpl)
		if got := GateHandler(lo, hi); got != tc.handler {
			t.Errorf("handler %#x decodes as %#x", tc.handler, got)
		}
		if sel := lo >> 16 & 0xFFFF; sel != KernelCS {
			t.Errorf("selector %#x", sel)
		}
		if ist := lo >> 32 & 7; ist != uint64(tc.ist) {
			t.Errorf("IST %d, want %d", ist, tc.ist)
		}
		if attr := lo >> 40 & 0xFF; attr != 0x8E|uint64(tc.dpl)<<5 {
			t.Errorf("attributes %#x", attr)
		}
	}
}

func TestPageTables(t *testing.T) {
	va := uint64(0x00007f12_3456_7000) | 0xabc
	want := []uint64{va >> 39 & 511, va >> 30 & 511, va >> 21 & 511, va >> 12 & 511}
	for i, level := range []int{4, 3, 2, 1} {
		if got := PTIndex(va, level); got != want[i] {
			t.Errorf("level %d index %d, want %d", level, got, want[i])
		}
	}
	e := PTE(0x12345fff, PTEPresent|PTEWritable)
	if e != 0x12345003 || PTEAddr(e) != 0x12345000 {
		t.Errorf("PTE %#x addr %#x", e, PTEAddr(e))
	}
	if PTEAddr(PTE(1<<52, PTEPresent)) != 0 {
		t.Error("address bits beyond 52 kept")
	}
	for _, tc := range []struct {
		va uint64
		ok bool
	}{{0, true}, {1<<47 - 1, true}, {1 << 47, false}, {0xffff8000_00000000, true}, {0xfff08000_00000000, false}} {
		if Canonical(tc.va) != tc.ok {
			t.Errorf("Canonical(%#x) = %v", tc.va, !tc.ok)
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		code, status int
		ok           bool
	}{{1, 0, true}, {15, 7, true}, {7, 3, true}, {0, 0, false}, {2, 0, false}} {
		st, ok := ExitCode(tc.code)
		if st != tc.status || ok != tc.ok {
			t.Errorf("ExitCode(%d) = %d, %v", tc.code, st, ok)
		}
	}
}

// TestEntry32Bytes assembles the 32-bit entry's source and checks that
// the bytes in entry_amd64.s are its encoding.
func TestEntry32Bytes(t *testing.T) {
	as := testenv.NeedTool(t, "as")
	objcopy := testenv.NeedTool(t, "objcopy")
	dir := t.TempDir()
	obj := filepath.Join(dir, "e.o")
	bin := filepath.Join(dir, "e.bin")
	if out, err := exec.Command(as, "--32", "-o", obj, "testdata/entry32.S").CombinedOutput(); err != nil {
		t.Fatalf("as: %v\n%s", err, out)
	}
	if out, err := exec.Command(objcopy, "-O", "binary", obj, bin).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, out)
	}
	want, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("entry_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	inEntry := false
	re := regexp.MustCompile(`BYTE \$0x([0-9a-f]{2})`)
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		if bytes.HasPrefix([]byte(line), []byte("TEXT ·pvhEntry(SB)")) {
			inEntry = true
			continue
		}
		if !inEntry {
			continue
		}
		m := re.FindAllStringSubmatch(line, -1)
		if m == nil {
			if len(got) > 0 {
				break
			}
			continue
		}
		for _, b := range m {
			v, _ := strconv.ParseUint(b[1], 16, 8)
			got = append(got, byte(v))
		}
	}
	if !bytes.Equal(got, want) {
		t.Errorf("pvhEntry bytes (%d) differ from testdata/entry32.S (%d)", len(got), len(want))
	}
}

func TestDaysFromCivil(t *testing.T) {
	for _, tc := range []struct {
		y, m, d, days uint64
	}{
		{1970, 1, 1, 0},
		{2000, 3, 1, 11017},
		{2024, 2, 29, 19782},
		{2026, 12, 3, 20790},
	} {
		if got := daysFromCivil(tc.y, tc.m, tc.d); got != tc.days {
			t.Errorf("daysFromCivil(%d-%d-%d) = %d, want %d", tc.y, tc.m, tc.d, got, tc.days)
		}
	}
}
