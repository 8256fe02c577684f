package part_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev"
	"github.com/goskit/goskit/drivers/blkdev/filedisk"
	"github.com/goskit/goskit/drivers/blkdev/part"
	"github.com/goskit/goskit/drivers/blkdev/ramdisk"
	"github.com/goskit/goskit/internal/testenv"
)

type sfdiskJSON struct {
	PartitionTable struct {
		Label      string `json:"label"`
		ID         string `json:"id"`
		SectorSize int    `json:"sectorsize"`
		Partitions []struct {
			Node     string `json:"node"`
			Start    int64  `json:"start"`
			Size     int64  `json:"size"`
			Type     string `json:"type"`
			UUID     string `json:"uuid"`
			Name     string `json:"name"`
			Bootable bool   `json:"bootable"`
		} `json:"partitions"`
	} `json:"partitiontable"`
}

// makeImage writes a partition table with sfdisk on a new image.
func makeImage(t *testing.T, size int64, script string) string {
	t.Helper()
	testenv.NeedTool(t, "sfdisk")
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sfdisk", "-q", "--no-reread", "--no-tell-kernel", p)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v: %s", err, out)
	}
	return p
}

func sfdiskList(t *testing.T, img string) sfdiskJSON {
	t.Helper()
	out, err := exec.Command("sfdisk", "--json", img).Output()
	if err != nil {
		t.Fatalf("sfdisk --json: %v", err)
	}
	var j sfdiskJSON
	if err := json.Unmarshal(out, &j); err != nil {
		t.Fatalf("sfdisk --json: %v: %s", err, out)
	}
	return j
}

// compare checks that goskit reads the partitions sfdisk reports.
func compare(t *testing.T, img string, tab *part.Table) {
	t.Helper()
	j := sfdiskList(t, img).PartitionTable
	if string(tab.Kind) != j.Label || !strings.EqualFold(tab.ID, j.ID) || tab.SectorSize != j.SectorSize {
		t.Errorf("table %s %s %d, sfdisk says %s %s %d", tab.Kind, tab.ID, tab.SectorSize, j.Label, j.ID, j.SectorSize)
	}
	if len(tab.Partitions) != len(j.Partitions) {
		t.Fatalf("%d partitions, sfdisk says %d: %+v", len(tab.Partitions), len(j.Partitions), tab.Partitions)
	}
	for _, sp := range j.Partitions {
		var num int
		fmt.Sscanf(sp.Node[len(img):], "%d", &num)
		p, ok := tab.Find(num)
		if !ok {
			t.Errorf("partition %d missing", num)
			continue
		}
		if p.Start != sp.Start || p.Size != sp.Size || !strings.EqualFold(p.Type, sp.Type) || p.UUID != sp.UUID || p.Name != sp.Name || p.Bootable != sp.Bootable {
			t.Errorf("partition %d: %+v, sfdisk says %+v", num, p, sp)
		}
	}
}

func open(t *testing.T, img string) blkdev.Device {
	t.Helper()
	d, err := filedisk.Open(img, filedisk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestSfdiskMBR(t *testing.T) {
	img := makeImage(t, 64<<20, `label: dos
start=2048, size=4096, type=83, bootable
start=8192, size=40960, type=5
start=60000, size=1000, type=7
start=49152, size=4096, type=82
start=10240, size=2048, type=83
size=2048, type=c
size=4096, type=83
size=2048, type=83
`)
	dev := open(t, img)
	tab, err := part.Read(dev)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, img, tab)
	if len(tab.Partitions) != 8 {
		t.Errorf("%d partitions, want 4 primary and 4 logical", len(tab.Partitions))
	}
	// A logical partition as a device: its bytes are the disk's.
	p6, _ := tab.Find(6)
	pd, err := tab.Open(dev, p6)
	if err != nil {
		t.Fatal(err)
	}
	if pd.Size() != p6.Size*512 {
		t.Errorf("partition device size %d", pd.Size())
	}
	pd.WriteAt([]byte("logical"), 0)
	b := make([]byte, 7)
	dev.ReadAt(b, p6.Start*512)
	if string(b) != "logical" {
		t.Errorf("disk holds %q at the partition's start", b)
	}
	if _, err := pd.WriteAt(b, pd.Size()-3); !errors.Is(err, blkdev.ErrRange) {
		t.Errorf("write past the partition: %v", err)
	}
}

func TestSfdiskGPT(t *testing.T) {
	script := `label: gpt
start=2048, size=4096, name="EFI system", type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
size=8192, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"
size=2048, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F
start=40000, size=100, name="ünïcode"
`
	img := makeImage(t, 32<<20, script)
	dev := open(t, img)
	tab, err := part.Read(dev)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, img, tab)
	if len(tab.Partitions) != 4 {
		t.Errorf("%d partitions", len(tab.Partitions))
	}
	t.Run("BackupFallback", func(t *testing.T) {
		// Smash the primary header: the backup at the last sector still
		// gives the same table.
		dev.WriteAt(make([]byte, 92), 512)
		tab2, err := part.Read(dev)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, img, tab2) // sfdisk falls back to the backup too
		// Both gone: an error.
		dev.WriteAt(make([]byte, 92), dev.Size()-512)
		if _, err := part.Read(dev); !errors.Is(err, part.ErrMalformed) {
			t.Errorf("both headers gone: %v", err)
		}
	})
	t.Run("EntriesCRC", func(t *testing.T) {
		img := makeImage(t, 32<<20, script)
		dev := open(t, img)
		// Corrupt the primary entry array: the header is fine but the
		// array CRC is not, so the backup is used.
		dev.WriteAt([]byte{0xff}, 2*512+56)
		tab, err := part.Read(dev)
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := tab.Find(1); p.Name != "EFI system" {
			t.Errorf("read the corrupt array: %+v", p)
		}
	})
}

func TestMalformed(t *testing.T) {
	mbr := func() []byte {
		b := make([]byte, 1<<20)
		b[510], b[511] = 0x55, 0xaa
		return b
	}
	entry := func(b []byte, i int, typ byte, start, count uint32) {
		e := b[446+16*i:]
		e[4] = typ
		binary.LittleEndian.PutUint32(e[8:], start)
		binary.LittleEndian.PutUint32(e[12:], count)
	}
	tests := []struct {
		name string
		make func() []byte
		want error
	}{
		{"Empty", func() []byte { return make([]byte, 4096) }, part.ErrNoTable},
		{"PastEnd", func() []byte { b := mbr(); entry(b, 0, 0x83, 2048, 2048); return b }, part.ErrMalformed},
		{"EBRLoop", func() []byte {
			b := mbr()
			entry(b, 0, 0x05, 100, 1000)
			ebr := b[100*512:]
			ebr[510], ebr[511] = 0x55, 0xaa
			entry(ebr, 0, 0x83, 10, 10)
			entry(ebr, 1, 0x05, 0, 1000) // points to itself... start 0 ends
			entry(ebr, 1, 0x05, 50, 100)
			ebr2 := b[150*512:]
			ebr2[510], ebr2[511] = 0x55, 0xaa
			entry(ebr2, 0, 0x83, 10, 10)
			entry(ebr2, 1, 0x05, 50, 100) // back to itself
			return b
		}, part.ErrMalformed},
		{"LogicalOutside", func() []byte {
			b := mbr()
			entry(b, 0, 0x05, 100, 100)
			ebr := b[100*512:]
			ebr[510], ebr[511] = 0x55, 0xaa
			entry(ebr, 0, 0x83, 10, 1000)
			return b
		}, part.ErrMalformed},
		{"Sub512", func() []byte { return make([]byte, 100) }, part.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := part.Read(ramdisk.FromBytes(tt.make()))
			if !errors.Is(err, tt.want) {
				t.Errorf("Read = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	// Seeds: an MBR with an extended chain, and a GPT, both from sfdisk
	// if available; else a bare signature.
	seed := make([]byte, 64*512)
	seed[510], seed[511] = 0x55, 0xaa
	f.Add(seed)
	for _, script := range []string{
		"label: dos\nstart=4, size=20, type=5\nstart=6, size=4, type=83\nsize=4, type=83\nstart=30, size=10, type=83\n",
		"label: gpt\nstart=40, size=10\nsize=4\n",
	} {
		img, err := sfdiskSeed(f, script)
		if err != nil {
			f.Logf("no sfdisk seed: %v", err)
			continue
		}
		f.Add(img)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		d := ramdisk.FromBytes(append([]byte(nil), b...))
		tab, err := part.Read(d)
		if err != nil {
			return
		}
		for _, p := range tab.Partitions {
			pd, err := tab.Open(d, p)
			if err != nil {
				t.Fatalf("a table Read accepted has a partition that does not open: %v", err)
			}
			if pd.Size() != p.Size*int64(tab.SectorSize) {
				t.Fatalf("partition device of %d bytes for %d sectors", pd.Size(), p.Size)
			}
		}
	})
}

func sfdiskSeed(f *testing.F, script string) ([]byte, error) {
	if _, err := exec.LookPath("sfdisk"); err != nil {
		return nil, err
	}
	p := filepath.Join(f.TempDir(), "seed.img")
	os.WriteFile(p, make([]byte, 128*512), 0o644)
	cmd := exec.Command("sfdisk", "-q", "--no-reread", "--no-tell-kernel", p)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	return os.ReadFile(p)
}
