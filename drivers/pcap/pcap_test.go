package pcap_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
	"github.com/goskit/goskit/drivers/pcap"
	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/internal/testenv"
)

func frame(n int, fill byte) []byte {
	f := bytes.Repeat([]byte{fill}, n)
	copy(f, []byte{0x02, 0, 0, 0, 0, 0xb, 0x02, 0, 0, 0, 0, 0xa, 0x88, 0xb5})
	return f
}

func TestWriterReader(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name     string
		opts     pcap.Options
		frames   [][]byte
		wantTime time.Time
		wantLen  []int // recorded lengths
	}{
		{"micros", pcap.Options{}, [][]byte{frame(60, 1), frame(1514, 2)}, t0.Truncate(time.Microsecond), []int{60, 1514}},
		{"nanos", pcap.Options{Nanoseconds: true}, [][]byte{frame(60, 1)}, t0, []int{60}},
		{"snaplen", pcap.Options{Snaplen: 100}, [][]byte{frame(60, 1), frame(1514, 2)}, t0.Truncate(time.Microsecond), []int{60, 100}},
		{"gso frame", pcap.Options{}, [][]byte{frame(netdev.MaxGSOFrameLen, 3)}, t0.Truncate(time.Microsecond), []int{netdev.MaxGSOFrameLen}},
		{"empty file", pcap.Options{}, nil, time.Time{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.opts.Now = func() time.Time { return t0 }
			w, err := pcap.NewWriter(&buf, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.frames {
				// Three segments: the writer gathers them.
				if err := w.WriteFrame(f[:10], f[10:20], f[20:]); err != nil {
					t.Fatal(err)
				}
			}
			r, err := pcap.NewReader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if r.LinkType() != pcap.LinkTypeEthernet || r.Nanoseconds() != tc.opts.Nanoseconds {
				t.Errorf("link type %d, nanoseconds %v", r.LinkType(), r.Nanoseconds())
			}
			for i, f := range tc.frames {
				p, err := r.Next()
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if !p.Time.Equal(tc.wantTime) || p.OrigLen != len(f) || !bytes.Equal(p.Data, f[:tc.wantLen[i]]) {
					t.Errorf("record %d: time %v len %d orig %d; want %v, %d, %d", i, p.Time, len(p.Data), p.OrigLen, tc.wantTime, tc.wantLen[i], len(f))
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("after the last record: %v, want io.EOF", err)
			}
		})
	}
}

// header builds a file header in the given byte order.
func header(order binary.ByteOrder, magic uint32, snaplen uint32) []byte {
	h := make([]byte, 24)
	order.PutUint32(h, magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], snaplen)
	order.PutUint32(h[20:], 1)
	return h
}

func record(order binary.ByteOrder, frac, incl, orig uint32, data []byte) []byte {
	h := make([]byte, 16)
	order.PutUint32(h, 1700000000)
	order.PutUint32(h[4:], frac)
	order.PutUint32(h[8:], incl)
	order.PutUint32(h[12:], orig)
	return append(h, data...)
}

func TestReaderInput(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	cat := func(b ...[]byte) []byte { return bytes.Join(b, nil) }
	tests := []struct {
		name    string
		file    []byte
		records int
		wantErr bool // from NewReader or Next
	}{
		{"little endian", cat(header(le, 0xa1b2c3d4, 65535), record(le, 5, 3, 3, []byte{1, 2, 3})), 1, false},
		{"big endian", cat(header(be, 0xa1b2c3d4, 65535), record(be, 5, 3, 3, []byte{1, 2, 3})), 1, false},
		{"big endian nanos", cat(header(be, 0xa1b23c4d, 65535), record(be, 999999999, 1, 9, []byte{1})), 1, false},
		{"empty", nil, 0, true},
		{"short header", header(le, 0xa1b2c3d4, 65535)[:20], 0, true},
		{"bad magic", header(le, 0x0a0d0d0a, 65535), 0, true}, // pcapng
		{"bad version", func() []byte { h := header(le, 0xa1b2c3d4, 65535); h[4] = 1; return h }(), 0, true},
		{"huge record", cat(header(le, 0xa1b2c3d4, 0xffffffff), record(le, 0, 0xfffffff0, 0xfffffff0, nil)), 0, true},
		{"orig shorter than incl", cat(header(le, 0xa1b2c3d4, 65535), record(le, 0, 3, 2, []byte{1, 2, 3})), 0, true},
		{"micros out of range", cat(header(le, 0xa1b2c3d4, 65535), record(le, 1000000, 1, 1, []byte{1})), 0, true},
		{"truncated data", cat(header(le, 0xa1b2c3d4, 65535), record(le, 0, 10, 10, []byte{1, 2, 3})), 0, true},
		{"truncated record header", cat(header(le, 0xa1b2c3d4, 65535), []byte{1, 2, 3}), 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := readAll(tc.file)
			if n != tc.records || (err != nil) != tc.wantErr {
				t.Errorf("read %d records, err %v; want %d, error %v", n, err, tc.records, tc.wantErr)
			}
			if err != nil && !errors.Is(err, pcap.ErrFormat) {
				t.Errorf("error %v does not wrap ErrFormat", err)
			}
		})
	}
}

// readAll reads every record of file; it stops at the first error (nil at a
// clean end) and at 10000 records.
func readAll(file []byte) (int, error) {
	r, err := pcap.NewReader(bytes.NewReader(file))
	if err != nil {
		return 0, err
	}
	for n := 0; n < 10000; n++ {
		p, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if len(p.Data) > pcap.MaxSnaplen || p.OrigLen < len(p.Data) {
			panic("reader returned an inconsistent record")
		}
	}
	return 10000, nil
}

func FuzzReader(f *testing.F) {
	le := binary.LittleEndian
	f.Add(append(header(le, 0xa1b2c3d4, 65535), record(le, 5, 3, 3, []byte{1, 2, 3})...))
	f.Add(append(header(binary.BigEndian, 0xa1b23c4d, 65535), record(binary.BigEndian, 5, 1, 1, []byte{1})...))
	f.Add(append(header(le, 0xa1b2c3d4, 0xffffffff), record(le, 0, 0x7fffffff, 0x7fffffff, nil)...))
	f.Fuzz(func(t *testing.T, file []byte) {
		readAll(file)
	})
}

// shapes returns a device of each combination of optional interfaces,
// built from wire end a (which has both).
func shapes(a *wire.End) map[string]netdev.Device {
	return map[string]netdev.Device{
		"plain": struct{ netdev.Device }{a},
		"tx batch": struct {
			netdev.Device
			netdev.BatchTransmitter
		}{a, a},
		"rx batch": struct {
			netdev.Device
			netdev.BatchReceiver
		}{a, a},
		"both": a,
	}
}

func TestWrapForwardsOptionalInterfaces(t *testing.T) {
	a, b, err := wire.New(wire.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	for name, dev := range shapes(a) {
		t.Run(name, func(t *testing.T) {
			rec, err := pcap.Wrap(dev, io.Discard, pcap.Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, devBT := dev.(netdev.BatchTransmitter)
			_, devBR := dev.(netdev.BatchReceiver)
			_, recBT := rec.(netdev.BatchTransmitter)
			_, recBR := rec.(netdev.BatchReceiver)
			if devBT != recBT || devBR != recBR {
				t.Errorf("wrapper batch tx/rx = %v/%v, device %v/%v", recBT, recBR, devBT, devBR)
			}
			if got, want := rec.Info(), dev.Info(); got.Name != want.Name || got.Features != want.Features ||
				got.MTU != want.MTU || got.MaxGSOSize != want.MaxGSOSize || got.MAC.String() != want.MAC.String() {
				t.Errorf("Info = %+v, want %+v", got, want)
			}
			if rec.Unwrap() != dev {
				t.Error("Unwrap does not return the device")
			}
		})
	}
}

// traffic sends frames both ways across a wire whose end a is wrapped by a
// recorder, using the batch calls when the recorder has them, and returns
// how many frames it recorded.
func traffic(t *testing.T, rec pcap.Recorder, b *wire.End) int {
	t.Helper()
	out := []netdev.Frame{
		{Segs: [][]byte{frame(60, 1)}},
		{Segs: [][]byte{frame(14, 2)[:14], frame(1000, 2)[14:]}},
		{Segs: [][]byte{frame(3000, 3)}, Offload: netdev.Offload{GSOType: netdev.GSOTCPv4, GSOSize: 1000}},
	}
	if bt, ok := rec.(netdev.BatchTransmitter); ok {
		if n, err := bt.TransmitBatch(out); n != len(out) || err != nil {
			t.Fatalf("TransmitBatch = %d, %v", n, err)
		}
	} else {
		for i := range out {
			if err := rec.Transmit(&out[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	buf := make([]byte, netdev.MaxGSOFrameLen)
	for range out {
		if _, _, err := b.Receive([][]byte{buf}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range out {
		if err := b.Transmit(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	if br, ok := rec.(netdev.BatchReceiver); ok {
		for got := 0; got < len(out); {
			slots := []netdev.RxSlot{{Bufs: [][]byte{make([]byte, 100), make([]byte, netdev.MaxGSOFrameLen)}}, {Bufs: [][]byte{make([]byte, netdev.MaxGSOFrameLen)}}}
			n, err := br.ReceiveBatch(slots)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	} else {
		for range out {
			if _, _, err := rec.Receive([][]byte{make([]byte, 100), buf}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return 2 * len(out)
}

func TestWrapRecords(t *testing.T) {
	for _, name := range []string{"plain", "tx batch", "rx batch", "both"} {
		t.Run(name, func(t *testing.T) {
			a, b, err := wire.New(wire.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var file bytes.Buffer
			rec, err := pcap.Wrap(shapes(a)[name], &file, pcap.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := traffic(t, rec, b)
			if err := rec.Close(); err != nil {
				t.Fatal(err)
			}
			if err := rec.Err(); err != nil {
				t.Fatal(err)
			}
			r, err := pcap.NewReader(&file)
			if err != nil {
				t.Fatal(err)
			}
			lens := []int{60, 1000, 3000}
			for i := 0; i < want; i++ {
				p, err := r.Next()
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if len(p.Data) != lens[i%3] || p.Data[20] != byte(i%3+1) {
					t.Errorf("record %d: %d bytes filled with %d, want %d with %d", i, len(p.Data), p.Data[20], lens[i%3], i%3+1)
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("after %d records: %v, want io.EOF", want, err)
			}
		})
	}
}

func TestCompleteChecksums(t *testing.T) {
	a, b, err := wire.New(wire.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// An IPv4/UDP frame with a partial checksum: 0 pseudo-header sum.
	f := frame(14+20+8+4, 0)
	f[12], f[13] = 0x08, 0x00
	copy(f[42:], "data")
	off := netdev.Offload{Flags: netdev.OffloadNeedsChecksum, ChecksumStart: 34, ChecksumOffset: 6}
	for _, complete := range []bool{false, true} {
		var file bytes.Buffer
		rec, err := pcap.Wrap(a, &file, pcap.Options{CompleteChecksums: complete})
		if err != nil {
			t.Fatal(err)
		}
		sent := append([]byte(nil), f...)
		if err := rec.Transmit(&netdev.Frame{Segs: [][]byte{sent}, Offload: off}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Receive([][]byte{make([]byte, 100)}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sent, f) {
			t.Fatal("recording changed the device's frame")
		}
		r, _ := pcap.NewReader(&file)
		p, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		got := binary.BigEndian.Uint16(p.Data[40:])
		if complete && got == 0 || !complete && got != 0 {
			t.Errorf("CompleteChecksums=%v: recorded checksum %#x", complete, got)
		}
		if complete && netdev.Checksum(p.Data[34:], 0) != 0xffff {
			t.Errorf("recorded checksum %#x does not verify", got)
		}
	}
	a.Close()
}

func TestTshark(t *testing.T) {
	tshark := testenv.NeedTool(t, "tshark")
	a, b, err := wire.New(wire.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, nanos := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "cap.pcap")
		file, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := pcap.Wrap(a, file, pcap.Options{Nanoseconds: nanos})
		if err != nil {
			t.Fatal(err)
		}
		want := traffic(t, rec, b)
		if err := file.Close(); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tshark, "-n", "-r", path, "-T", "fields", "-e", "frame.len")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark -r: %v: %s", err, stderr.Bytes())
		}
		lines := strings.Fields(string(out))
		if len(lines) != want {
			t.Fatalf("nanoseconds=%v: tshark read %d frames, want %d:\n%s", nanos, len(lines), want, out)
		}
		if lines[2] != "3000" {
			t.Errorf("tshark: third frame length %s, want 3000", lines[2])
		}
	}
	a.Close()
}

// TestWrapConcurrent records a transmitting and a receiving goroutine at
// once (run it with -race): every frame is recorded whole.
func TestWrapConcurrent(t *testing.T) {
	const n = 300
	a, b, err := wire.New(wire.Config{QueueLen: 2 * n})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var file bytes.Buffer
	rec, err := pcap.Wrap(a, &file, pcap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := b.Transmit(&netdev.Frame{Segs: [][]byte{frame(100, 2)}}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := rec.Transmit(&netdev.Frame{Segs: [][]byte{frame(60, 1)}}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	buf := make([]byte, 200)
	for i := 0; i < n; i++ {
		if _, _, err := rec.Receive([][]byte{buf}); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec.Close()
	r, err := pcap.NewReader(&file)
	if err != nil {
		t.Fatal(err)
	}
	count := map[int]int{}
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Data, frame(len(p.Data), p.Data[20])) {
			t.Fatalf("record of %d bytes is mixed up", len(p.Data))
		}
		count[len(p.Data)]++
	}
	if count[60] != n || count[100] != n || len(count) != 2 {
		t.Errorf("recorded %v, want %d of 60 and of 100 bytes", count, n)
	}
}
