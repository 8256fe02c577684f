package libc_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/memfs"
	"github.com/goskit/goskit/libc"
)

// newFS returns a System over a fresh memfs namespace.
func newFS(t testing.TB) *libc.System {
	t.Helper()
	ns, err := fs.NewNamespace(memfs.New())
	if err != nil {
		t.Fatal(err)
	}
	return libc.New(nil, libc.FS(ns))
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
	if _, ok := err.(syscall.Errno); !ok {
		t.Errorf("%s: error %T is not a syscall.Errno", what, err)
	}
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFilesNoNamespace(t *testing.T) {
	s := libc.New(nil)
	_, err := s.Open("/x", syscall.O_RDONLY, 0)
	wantErr(t, "Open", err, syscall.ENOSYS)
	wantErr(t, "Mkdir", s.Mkdir("/x", 0o755), syscall.ENOSYS)
	var st syscall.Stat_t
	wantErr(t, "Stat", s.Stat("/", &st), syscall.ENOSYS)
	// The console is still there, and is not seekable.
	_, err = s.Lseek(1, 0, 0)
	wantErr(t, "Lseek on the console", err, syscall.ESPIPE)
	_, err = s.Pread(0, make([]byte, 1), 0)
	wantErr(t, "Pread on the console", err, syscall.ESPIPE)
	if err := s.Fstat(1, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFCHR {
		t.Errorf("Fstat(1) = %v, mode %#o", err, st.Mode)
	}
}

func TestFilesReadWriteSeek(t *testing.T) {
	s := newFS(t)
	fd := must(s.Open("/f", syscall.O_CREAT|syscall.O_RDWR, 0o640))
	if fd != 3 {
		t.Errorf("first fd %d, want 3", fd)
	}
	if n, err := s.Write(fd, []byte("hello world")); n != 11 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	buf := make([]byte, 32)
	if n, err := s.Read(fd, buf); n != 0 || err != nil {
		t.Errorf("Read at end = %d, %v", n, err)
	}
	steps := []struct {
		off    int64
		whence int
		want   int64
		err    error
	}{
		{0, 0, 0, nil}, {6, 0, 6, nil}, {-1, 1, 5, nil}, {-5, 2, 6, nil}, {-12, 2, 0, syscall.EINVAL},
		{-1, 0, 0, syscall.EINVAL}, {0, 9, 0, syscall.EINVAL}, {100, 0, 100, nil}, {6, 0, 6, nil},
	}
	for _, st := range steps {
		got, err := s.Lseek(fd, st.off, st.whence)
		wantErr(t, fmt.Sprintf("Lseek(%d, %d)", st.off, st.whence), err, st.err)
		if st.err == nil && got != st.want {
			t.Errorf("Lseek(%d, %d) = %d, want %d", st.off, st.whence, got, st.want)
		}
	}
	if n, _ := s.Read(fd, buf); string(buf[:n]) != "world" {
		t.Errorf("Read after seek %q", buf[:n])
	}
	if n, err := s.Pwrite(fd, []byte("W"), 6); n != 1 || err != nil {
		t.Errorf("Pwrite = %d, %v", n, err)
	}
	if n, _ := s.Pread(fd, buf[:5], 6); string(buf[:n]) != "World" {
		t.Errorf("Pread %q", buf[:n])
	}
	if off, _ := s.Lseek(fd, 0, 1); off != 11 {
		t.Errorf("Pread/Pwrite moved the offset to %d", off)
	}
	_, err := s.Pread(fd, buf, -1)
	wantErr(t, "Pread at -1", err, syscall.EINVAL)
	// A write past the end leaves a hole of zeros.
	must(s.Pwrite(fd, []byte("!"), 20))
	if n, _ := s.Pread(fd, buf, 0); !bytes.Equal(buf[:n], []byte("hello World\x00\x00\x00\x00\x00\x00\x00\x00\x00!")) {
		t.Errorf("with a hole: %q", buf[:n])
	}
	var st syscall.Stat_t
	if err := s.Fstat(fd, &st); err != nil || st.Size != 21 || st.Mode != syscall.S_IFREG|0o640 || st.Nlink != 1 {
		t.Errorf("Fstat = %v, %+v", err, st)
	}
	if got, _ := s.Lseek(fd, 0, 3 /* SEEK_DATA */); got != 0 {
		t.Errorf("SEEK_DATA = %d", got)
	}
	if got, _ := s.Lseek(fd, 0, 4 /* SEEK_HOLE */); got != 21 {
		t.Errorf("SEEK_HOLE = %d", got)
	}
	_, err = s.Lseek(fd, 21, 3)
	wantErr(t, "SEEK_DATA at the end", err, syscall.ENXIO)
	if fl, _ := s.Fcntl(fd, syscall.F_GETFL, 0); fl != syscall.O_RDWR {
		t.Errorf("F_GETFL = %#o", fl)
	}
	wantErr(t, "Close", s.Close(fd), nil)
	wantErr(t, "Close again", s.Close(fd), syscall.EBADF)
	_, err = s.Read(fd, buf)
	wantErr(t, "Read of a closed fd", err, syscall.EBADF)

	// Access modes.
	ro := must(s.Open("/f", syscall.O_RDONLY, 0))
	_, err = s.Write(ro, []byte("x"))
	wantErr(t, "Write on O_RDONLY", err, syscall.EBADF)
	_, err = s.Pwrite(ro, []byte("x"), 0)
	wantErr(t, "Pwrite on O_RDONLY", err, syscall.EBADF)
	wantErr(t, "Ftruncate on O_RDONLY", s.Ftruncate(ro, 0), syscall.EINVAL)
	wo := must(s.Open("/f", syscall.O_WRONLY, 0))
	_, err = s.Read(wo, buf)
	wantErr(t, "Read on O_WRONLY", err, syscall.EBADF)
	_, err = s.Open("/f", syscall.O_ACCMODE, 0)
	wantErr(t, "Open with access mode 3", err, syscall.EINVAL)
	if ro != 3 || wo != 4 {
		t.Errorf("fds %d, %d: want the lowest free, 3 and 4", ro, wo)
	}
	s.Close(ro)
	if fd := must(s.Open("/f", syscall.O_RDONLY, 0)); fd != 3 {
		t.Errorf("reopened as %d, want 3", fd)
	}

	// O_TRUNC and O_APPEND.
	fd = must(s.Open("/f", syscall.O_WRONLY|syscall.O_TRUNC|syscall.O_APPEND, 0))
	must(s.Write(fd, []byte("ab")))
	must(s.Lseek(fd, 0, 0))
	must(s.Write(fd, []byte("cd")))
	must(s.Pwrite(fd, []byte("ef"), 0)) // appends, as Linux
	if fl, _ := s.Fcntl(fd, syscall.F_GETFL, 0); fl != syscall.O_WRONLY|syscall.O_APPEND {
		t.Errorf("F_GETFL = %#o", fl)
	}
	must(s.Fcntl(fd, syscall.F_SETFL, 0))
	must(s.Lseek(fd, 0, 0))
	must(s.Write(fd, []byte("X")))
	if n, _ := s.Pread(3, buf, 0); string(buf[:n]) != "Xbcdef" {
		t.Errorf("after appends: %q", buf[:n])
	}
}

// TestFilesAppendConcurrent writes records from many goroutines through
// separate O_APPEND fds of one file: every record must land whole, none
// overwritten.
func TestFilesAppendConcurrent(t *testing.T) {
	s := newFS(t)
	const writers, records, size = 4, 200, 64
	var wg sync.WaitGroup
	for w := range writers {
		fd := must(s.Open("/log", syscall.O_CREAT|syscall.O_WRONLY|syscall.O_APPEND, 0o644))
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := bytes.Repeat([]byte{byte('a' + w)}, size)
			for range records {
				if n, err := s.Write(fd, rec); n != size || err != nil {
					t.Errorf("Write = %d, %v", n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	fd := must(s.Open("/log", syscall.O_RDONLY, 0))
	data := make([]byte, writers*records*size+1)
	n := must(s.Read(fd, data))
	if n != writers*records*size {
		t.Fatalf("file has %d bytes, want %d", n, writers*records*size)
	}
	count := map[byte]int{}
	for i := 0; i < n; i += size {
		rec := data[i : i+size]
		if !bytes.Equal(rec, bytes.Repeat(rec[:1], size)) {
			t.Fatalf("record at %d torn: %q", i, rec)
		}
		count[rec[0]]++
	}
	for w := range writers {
		if count[byte('a'+w)] != records {
			t.Errorf("writer %d: %d records", w, count[byte('a'+w)])
		}
	}
}

func TestFilesDup(t *testing.T) {
	s := newFS(t)
	fd := must(s.Open("/f", syscall.O_CREAT|syscall.O_RDWR, 0o644))
	d := must(s.Dup(fd))
	if d != fd+1 {
		t.Errorf("Dup = %d", d)
	}
	must(s.Write(fd, []byte("abc")))
	if off, _ := s.Lseek(d, 0, 1); off != 3 {
		t.Errorf("dup's offset %d, want the shared 3", off)
	}
	wantErr(t, "Close original", s.Close(fd), nil)
	must(s.Write(d, []byte("def"))) // the description lives on
	// Dup2 onto an open fd closes it first; onto itself it only checks.
	other := must(s.Open("/g", syscall.O_CREAT|syscall.O_RDWR, 0o644))
	if got := must(s.Dup2(d, other)); got != other {
		t.Errorf("Dup2 = %d", got)
	}
	must(s.Write(other, []byte("g")))
	if got := must(s.Dup2(d, d)); got != d {
		t.Errorf("Dup2(d, d) = %d", got)
	}
	_, err := s.Dup2(99, 5)
	wantErr(t, "Dup2 of a bad fd", err, syscall.EBADF)
	_, err = s.Dup2(d, -1)
	wantErr(t, "Dup2 to -1", err, syscall.EBADF)
	_, err = s.Dup(99)
	wantErr(t, "Dup of a bad fd", err, syscall.EBADF)
	// F_DUPFD: the lowest free fd from arg on.
	if got := must(s.Fcntl(d, syscall.F_DUPFD, 20)); got != 20 {
		t.Errorf("F_DUPFD 20 = %d", got)
	}
	if got := must(s.Fcntl(d, syscall.F_DUPFD_CLOEXEC, 20)); got != 21 {
		t.Errorf("F_DUPFD_CLOEXEC 20 = %d", got)
	}
	_, err = s.Fcntl(d, syscall.F_DUPFD, -1)
	wantErr(t, "F_DUPFD -1", err, syscall.EINVAL)
	s.Close(20)
	s.Close(21)
	// Dup2 far out grows the table.
	must(s.Dup2(d, 40))
	s.Close(d)
	s.Close(other)
	buf := make([]byte, 16)
	if n, _ := s.Pread(40, buf, 0); string(buf[:n]) != "abcdefg" {
		t.Errorf("through fd 40: %q", buf[:n])
	}
	var st syscall.Stat_t
	s.Stat("/g", &st)
	if st.Size != 0 {
		t.Errorf("/g written through a replaced fd: size %d", st.Size)
	}
	// Dup of the console and of a socket.
	c := must(s.Dup(1))
	must(s.Write(c, []byte("to the console\n")))
	s.Close(c)

	hs := libc.New(nil, libc.HostSockets())
	sk := must(hs.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0))
	if err := hs.Bind(sk, netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	sd := must(hs.Dup(sk))
	hs.Close(sk)
	if _, err := hs.Getsockname(sd); err != nil {
		t.Errorf("dup of a socket after closing the original: %v", err)
	}
	_, err = hs.Lseek(sd, 0, 0)
	wantErr(t, "Lseek on a socket", err, syscall.ESPIPE)
	hs.Close(sd)
	_, err = hs.Getsockname(sd)
	wantErr(t, "Getsockname after the last close", err, syscall.EBADF)
}

// dirent is one parsed linux_dirent64.
type dirent struct {
	ino  uint64
	off  int64
	typ  uint8
	name string
}

func parseDirents(t *testing.T, b []byte) []dirent {
	t.Helper()
	var out []dirent
	for len(b) > 0 {
		if len(b) < 19 {
			t.Fatalf("short dirent: %d bytes", len(b))
		}
		reclen := int(binary.NativeEndian.Uint16(b[16:]))
		if reclen < 20 || reclen > len(b) || reclen%8 != 0 {
			t.Fatalf("bad d_reclen %d", reclen)
		}
		name, _, ok := bytes.Cut(b[19:reclen], []byte{0})
		if !ok {
			t.Fatal("name not NUL-terminated")
		}
		out = append(out, dirent{binary.NativeEndian.Uint64(b), int64(binary.NativeEndian.Uint64(b[8:])), b[18], string(name)})
		b = b[reclen:]
	}
	return out
}

func TestFilesGetdents(t *testing.T) {
	s := newFS(t)
	mustOK(t, s.Mkdir("/d", 0o755))
	var want []string
	for i := range 50 {
		name := fmt.Sprintf("file-with-a-longish-name-%02d", i)
		want = append(want, name)
		s.Close(must(s.Open("/d/"+name, syscall.O_CREAT|syscall.O_WRONLY, 0o644)))
	}
	mustOK(t, s.Mkdir("/d/sub", 0o755))
	mustOK(t, s.Symlink("x", "/d/link"))
	want = append(want, "sub", "link", ".", "..")
	sort.Strings(want)

	fd := must(s.Open("/d", syscall.O_RDONLY|syscall.O_DIRECTORY, 0))
	_, err := s.Getdents64(fd, make([]byte, 8))
	wantErr(t, "Getdents64 into 8 bytes", err, syscall.EINVAL)
	var got []string
	types := map[string]uint8{}
	var lastOff int64
	buf := make([]byte, 200) // a few entries per call
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("Getdents64 never ends")
		}
		n := must(s.Getdents64(fd, buf))
		if n == 0 {
			break
		}
		for _, e := range parseDirents(t, buf[:n]) {
			got = append(got, e.name)
			types[e.name] = e.typ
			if e.off <= lastOff {
				t.Errorf("d_off %d after %d", e.off, lastOff)
			}
			lastOff = e.off
		}
	}
	sort.Strings(got)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("entries\n%v\nwant\n%v", got, want)
	}
	if types["sub"] != syscall.DT_DIR || types["link"] != syscall.DT_LNK || types[want[5]] != syscall.DT_REG || types["."] != syscall.DT_DIR {
		t.Errorf("types %v", types)
	}
	// Rewind, then the friendly form.
	must(s.Lseek(fd, 0, 0))
	ents := must(s.ReadDir(fd, 10))
	if len(ents) != 10 || ents[0].Name != "file-with-a-longish-name-00" {
		t.Errorf("ReadDir(10) = %v", ents)
	}
	rest := must(s.ReadDir(fd, 0))
	if len(rest) != 42 {
		t.Errorf("ReadDir(0) after 10: %d entries", len(rest))
	}
	if end := must(s.ReadDir(fd, 0)); len(end) != 0 {
		t.Errorf("ReadDir at the end: %v", end)
	}
	_, err = s.Read(fd, buf)
	wantErr(t, "Read of a directory", err, syscall.EISDIR)
	_, err = s.Lseek(fd, 0, 2)
	wantErr(t, "SEEK_END on a directory", err, syscall.EINVAL)
	f := must(s.Open("/d/sub/../file-with-a-longish-name-00", syscall.O_RDONLY, 0))
	_, err = s.Getdents64(f, buf)
	wantErr(t, "Getdents64 of a file", err, syscall.ENOTDIR)
	_, err = s.ReadDir(f, 0)
	wantErr(t, "ReadDir of a file", err, syscall.ENOTDIR)
}

func TestFilesStatLinks(t *testing.T) {
	s := newFS(t)
	s.Close(must(s.Creat("/f", 0o600)))
	mustOK(t, s.Symlink("f", "/l"))
	mustOK(t, s.Link("/f", "/h"))
	var st, lst, fst syscall.Stat_t
	mustOK(t, s.Stat("/l", &st))
	mustOK(t, s.Lstat("/l", &lst))
	if st.Mode != syscall.S_IFREG|0o600 || st.Nlink != 2 || lst.Mode&syscall.S_IFMT != syscall.S_IFLNK || lst.Size != 1 {
		t.Errorf("stat %+v\nlstat %+v", st, lst)
	}
	fd := must(s.Open("/h", syscall.O_RDONLY, 0))
	mustOK(t, s.Fstat(fd, &fst))
	if fst.Ino != st.Ino || fst.Dev != st.Dev {
		t.Errorf("hard link: ino %d dev %d, want %d %d", fst.Ino, fst.Dev, st.Ino, st.Dev)
	}
	buf := make([]byte, 64)
	if n, err := s.Readlink("/l", buf); err != nil || string(buf[:n]) != "f" {
		t.Errorf("Readlink = %q, %v", buf[:n], err)
	}
	if n, _ := s.Readlink("/l", buf[:0]); n != 0 {
		t.Error("Readlink into nothing")
	}
	_, err := s.Readlink("/l", nil)
	wantErr(t, "Readlink into an empty buffer", err, syscall.EINVAL)
	mustOK(t, s.Unlink("/f"))
	mustOK(t, s.Fstat(fd, &fst)) // still open
	if fst.Nlink != 1 {
		t.Errorf("nlink after unlink %d", fst.Nlink)
	}
	var sf syscall.Statfs_t
	mustOK(t, s.Statfs("/h", &sf))
	if sf.Bsize != 4096 || sf.Namelen != 255 {
		t.Errorf("Statfs %+v", sf)
	}
	var sf2 syscall.Statfs_t
	mustOK(t, s.Fstatfs(fd, &sf2))
	if sf2.Type != sf.Type {
		t.Errorf("Fstatfs %+v", sf2)
	}
	wantErr(t, "Fstatfs of the console", s.Fstatfs(0, &sf2), syscall.EINVAL)
	wantErr(t, "Statfs of a missing path", s.Statfs("/nope", &sf2), syscall.ENOENT)
}

func TestFilesTruncateSync(t *testing.T) {
	s := newFS(t)
	fd := must(s.Open("/f", syscall.O_CREAT|syscall.O_RDWR, 0o644))
	must(s.Write(fd, []byte("0123456789")))
	mustOK(t, s.Truncate("/f", 4))
	var st syscall.Stat_t
	s.Fstat(fd, &st)
	if st.Size != 4 {
		t.Errorf("size %d after Truncate", st.Size)
	}
	mustOK(t, s.Ftruncate(fd, 8))
	buf := make([]byte, 16)
	if n, _ := s.Pread(fd, buf, 0); !bytes.Equal(buf[:n], []byte("0123\x00\x00\x00\x00")) {
		t.Errorf("after growing: %q", buf[:n])
	}
	wantErr(t, "Truncate to -1", s.Truncate("/f", -1), syscall.EINVAL)
	wantErr(t, "Ftruncate to -1", s.Ftruncate(fd, -1), syscall.EINVAL)
	wantErr(t, "Fsync", s.Fsync(fd), nil)
	wantErr(t, "Fdatasync", s.Fdatasync(fd), nil)
	wantErr(t, "Fsync of the console", s.Fsync(1), syscall.EINVAL)
	wantErr(t, "Fsync of a bad fd", s.Fsync(77), syscall.EBADF)
	dfd := must(s.Open("/", syscall.O_RDONLY, 0))
	wantErr(t, "Fsync of a directory", s.Fsync(dfd), nil)
	wantErr(t, "Ftruncate of a directory", s.Ftruncate(dfd, 0), syscall.EINVAL)
	// O_TRUNC through a symlink.
	mustOK(t, s.Symlink("/f", "/l"))
	s.Close(must(s.Open("/l", syscall.O_WRONLY|syscall.O_TRUNC, 0)))
	s.Fstat(fd, &st)
	if st.Size != 0 {
		t.Errorf("size %d after O_TRUNC", st.Size)
	}
}

func TestFilesWorkingDirectory(t *testing.T) {
	s := newFS(t)
	mustOK(t, s.Mkdir("/a", 0o755))
	mustOK(t, s.Mkdir("/a/b", 0o755))
	mustOK(t, s.Chdir("/a/b"))
	wd, _ := s.Getwd()
	if wd != "/a/b" {
		t.Errorf("Getwd %q", wd)
	}
	buf := make([]byte, 16)
	if n, err := s.Getcwd(buf); n != 5 || err != nil || string(buf[:n]) != "/a/b\x00" {
		t.Errorf("Getcwd = %q, %v", buf[:n], err)
	}
	_, err := s.Getcwd(buf[:4])
	wantErr(t, "Getcwd into 4 bytes", err, syscall.ERANGE)
	s.Close(must(s.Creat("here", 0o644)))
	var st syscall.Stat_t
	mustOK(t, s.Stat("/a/b/here", &st))
	dfd := must(s.Open("..", syscall.O_RDONLY|syscall.O_DIRECTORY, 0))
	mustOK(t, s.Chdir("/"))
	mustOK(t, s.Fchdir(dfd))
	if wd, _ := s.Getwd(); wd != "/a" {
		t.Errorf("after Fchdir: %q", wd)
	}
	// Fchdir follows the directory, not its old name.
	bfd := must(s.Open("/a/b", syscall.O_RDONLY, 0))
	mustOK(t, s.Rename("/a/b", "/a/renamed"))
	mustOK(t, s.Fchdir(bfd))
	mustOK(t, s.Stat("here", &st))
	mustOK(t, s.Stat("../renamed/here", &st))
	mustOK(t, s.Rename("/a/renamed", "/a/b"))
	mustOK(t, s.Chdir("/a"))
	ffd := must(s.Open("b/here", syscall.O_RDONLY, 0))
	wantErr(t, "Fchdir to a file", s.Fchdir(ffd), syscall.ENOTDIR)
	wantErr(t, "Fchdir to the console", s.Fchdir(0), syscall.ENOTDIR)
	wantErr(t, "Fchdir to a bad fd", s.Fchdir(99), syscall.EBADF)
	if s.Umask(0o22) != 0 {
		t.Error("initial umask not 0")
	}
	mustOK(t, s.Mkdir("m", 0o777))
	s.Stat("m", &st)
	if st.Mode != syscall.S_IFDIR|0o755 {
		t.Errorf("mode %#o with umask 022", st.Mode)
	}
}

func TestFilesMount(t *testing.T) {
	s := newFS(t)
	mustOK(t, s.Mkdir("/mnt", 0o755))
	s.Close(must(s.Creat("/f", 0o644)))
	disk := memfs.New()
	mustOK(t, s.Mount("/mnt", disk))
	fd := must(s.Open("/mnt/inside", syscall.O_CREAT|syscall.O_RDWR, 0o644))
	must(s.Write(fd, []byte("data")))
	var a, b syscall.Stat_t
	s.Stat("/f", &a)
	s.Stat("/mnt/inside", &b)
	if a.Dev == b.Dev {
		t.Errorf("one st_dev %d across a mount", a.Dev)
	}
	wantErr(t, "Rename across mounts", s.Rename("/f", "/mnt/f"), syscall.EXDEV)
	wantErr(t, "Link across mounts", s.Link("/f", "/mnt/f"), syscall.EXDEV)
	wantErr(t, "Rmdir of a mount point", s.Rmdir("/mnt"), syscall.EBUSY)
	wantErr(t, "Rename of a mount point", s.Rename("/mnt", "/mnt2"), syscall.EBUSY)
	wantErr(t, "Rename onto a mount point", s.Rename("/f", "/mnt"), syscall.EBUSY)
	wantErr(t, "Unlink of a mount point", s.Unlink("/mnt"), syscall.EISDIR)
	wantErr(t, "Mkdir of a mount point", s.Mkdir("/mnt", 0o755), syscall.EEXIST)
	wantErr(t, "Unmount of a plain directory", s.Unmount("/"), syscall.EINVAL)
	mustOK(t, s.Chdir("/mnt"))
	if n := must(s.Pread(must(s.Open("../mnt/inside", syscall.O_RDONLY, 0)), make([]byte, 8), 0)); n != 4 {
		t.Errorf("read %d through ../mnt", n)
	}
	mustOK(t, s.Chdir("/"))
	mustOK(t, s.Unmount("/mnt"))
	// The open file lives on (MNT_DETACH); the name is gone.
	if n, _ := s.Pread(fd, make([]byte, 8), 0); n != 4 {
		t.Errorf("read %d from a detached file", n)
	}
	err := s.Stat("/mnt/inside", &a)
	wantErr(t, "Stat under an unmounted dir", err, syscall.ENOENT)
	wantErr(t, "Mount on a file", s.Mount("/f", disk), syscall.ENOTDIR)
}

func TestFilesExitClosesShared(t *testing.T) {
	exited := -1
	ns, _ := fs.NewNamespace(memfs.New())
	s := libc.New(nil, libc.FS(ns), libc.OnExit(func(st int) { exited = st }))
	fd := must(s.Creat("/f", 0o644))
	must(s.Dup(fd))
	must(s.Dup2(fd, 10))
	s.Exit(3)
	if exited != 3 {
		t.Fatalf("exit status %d", exited)
	}
	for _, fd := range []int{fd, fd + 1, 10} {
		_, err := s.Write(fd, []byte("x"))
		wantErr(t, fmt.Sprintf("Write(%d) after Exit", fd), err, syscall.EBADF)
	}
}

// A program on libc opens, writes and reads a file in a memfs namespace.
func ExampleSystem_Open() {
	ns, err := fs.NewNamespace(memfs.New())
	if err != nil {
		panic(err)
	}
	sys := libc.New(nil, libc.FS(ns))
	fd, err := sys.Open("/hello.txt", syscall.O_CREAT|syscall.O_RDWR|syscall.O_TRUNC, 0o644)
	if err != nil {
		panic(err)
	}
	sys.Write(fd, []byte("hello, kit\n"))
	sys.Lseek(fd, 0, 0)
	buf := make([]byte, 64)
	n, _ := sys.Read(fd, buf)
	sys.Close(fd)
	fmt.Printf("%q\n", buf[:n])

	_, err = sys.Open("/hello.txt", syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY, 0o644)
	fmt.Println(err == syscall.EEXIST)
	// Output:
	// "hello, kit\n"
	// true
}

func TestFilesAt(t *testing.T) {
	s := newFS(t)
	mustOK(t, s.Mkdir("/d", 0o755))
	mustOK(t, s.Mkdir("/e", 0o755))
	dfd := must(s.Open("/d", syscall.O_RDONLY|syscall.O_DIRECTORY, 0))
	efd := must(s.Open("/e", syscall.O_RDONLY|syscall.O_DIRECTORY, 0))
	s.Close(must(s.Openat(dfd, "f", syscall.O_CREAT|syscall.O_WRONLY, 0o644)))
	mustOK(t, s.Symlinkat("f", dfd, "l"))
	buf := make([]byte, 8)
	if n, err := s.Readlinkat(dfd, "l", buf); err != nil || string(buf[:n]) != "f" {
		t.Errorf("Readlinkat = %q, %v", buf[:n], err)
	}
	mustOK(t, s.Linkat(dfd, "l", efd, "hardlink-to-link", 0))
	mustOK(t, s.Linkat(dfd, "l", efd, "hardlink-to-file", libc.AT_SYMLINK_FOLLOW))
	var st syscall.Stat_t
	mustOK(t, s.Fstatat(efd, "hardlink-to-link", &st, libc.AT_SYMLINK_NOFOLLOW))
	if st.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		t.Errorf("Linkat without AT_SYMLINK_FOLLOW linked mode %#o", st.Mode)
	}
	mustOK(t, s.Fstatat(efd, "hardlink-to-file", &st, libc.AT_SYMLINK_NOFOLLOW))
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Nlink != 2 {
		t.Errorf("Linkat with AT_SYMLINK_FOLLOW: mode %#o nlink %d", st.Mode, st.Nlink)
	}
	mustOK(t, s.Renameat(dfd, "f", efd, "moved"))
	mustOK(t, s.Stat("/e/moved", &st))
	// The dirfd follows its directory through a rename.
	mustOK(t, s.Rename("/d", "/d2"))
	mustOK(t, s.Mkdirat(dfd, "sub", 0o755))
	mustOK(t, s.Stat("/d2/sub", &st))
	mustOK(t, s.Unlinkat(dfd, "sub", libc.AT_REMOVEDIR))
	fileFd := must(s.Open("/e/moved", syscall.O_RDONLY, 0))
	for _, tc := range []struct {
		what string
		err  error
		want error
	}{
		{"Openat with a bad dirfd", func() error { _, err := s.Openat(99, "x", 0, 0); return err }(), syscall.EBADF},
		{"Openat with a file dirfd", func() error { _, err := s.Openat(fileFd, "x", 0, 0); return err }(), syscall.ENOTDIR},
		{"Openat absolute ignores dirfd", func() error { _, err := s.Openat(99, "/e/moved", 0, 0); return err }(), nil},
		{"Mkdirat with the console", s.Mkdirat(0, "x", 0o755), syscall.ENOTDIR},
		{"Unlinkat with bad flags", s.Unlinkat(dfd, "x", 1), syscall.EINVAL},
		{"Linkat with bad flags", s.Linkat(dfd, "x", dfd, "y", libc.AT_EMPTY_PATH), syscall.EINVAL},
		{"Fstatat with bad flags", s.Fstatat(dfd, "x", &st, 1), syscall.EINVAL},
		{"Renameat with a bad new dirfd", s.Renameat(efd, "moved", 99, "x"), syscall.EBADF},
		{"Symlinkat with a bad dirfd", s.Symlinkat("t", 99, "x"), syscall.EBADF},
		{"Readlinkat with a bad dirfd", func() error { _, err := s.Readlinkat(99, "x", buf); return err }(), syscall.EBADF},
	} {
		wantErr(t, tc.what, tc.err, tc.want)
	}
	mustOK(t, s.Fstatat(libc.AT_FDCWD, "", &st, libc.AT_EMPTY_PATH))
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		t.Errorf("Fstatat(AT_FDCWD, \"\", AT_EMPTY_PATH) mode %#o", st.Mode)
	}
}

// TestFilesConcurrent runs opens, reads, writes, seeks, dups and closes
// from several goroutines on one System (run it with -race): every call
// returns a result or an Errno, and the fd table stays consistent.
func TestFilesConcurrent(t *testing.T) {
	s := newFS(t)
	mustOK(t, s.Mkdir("/d", 0o755))
	shared := must(s.Open("/d/shared", syscall.O_CREAT|syscall.O_RDWR, 0o644))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 100)
			name := fmt.Sprintf("/d/f%d", g)
			for i := range 200 {
				fd, err := s.Open(name, syscall.O_CREAT|syscall.O_RDWR, 0o644)
				if err != nil {
					t.Error(err)
					return
				}
				s.Write(fd, buf)
				s.Lseek(fd, 0, 0)
				s.Read(fd, buf)
				s.Pwrite(shared, buf[:10], int64(g*10))
				s.Lseek(shared, int64(i), 0)
				if d, err := s.Dup(fd); err == nil {
					s.Close(d)
				}
				s.Dup2(fd, 50+g)
				s.Close(fd)
				var st syscall.Stat_t
				s.Fstat(50+g, &st)
				dfd, err := s.Open("/d", syscall.O_RDONLY, 0)
				if err == nil {
					s.Getdents64(dfd, make([]byte, 256))
					s.Close(dfd)
				}
				if i%50 == 0 {
					s.Unlink(name)
				}
			}
			s.Close(50 + g)
		}()
	}
	wg.Wait()
	// Only the console and shared are left: the next fd is 4.
	fd := must(s.Open("/d", syscall.O_RDONLY, 0))
	if fd != shared+1 {
		t.Errorf("next fd %d, want %d: an fd leaked", fd, shared+1)
	}
}

// TestFilesPoll: a regular file is always ready, as on Linux.
func TestFilesPoll(t *testing.T) {
	s := newFS(t)
	fd := must(s.Creat("/f", 0o644))
	pfds := []libc.PollFd{{Fd: int32(fd), Events: 0x1 | 0x4}} // POLLIN|POLLOUT
	if n, err := s.Poll(pfds, 0); n != 1 || err != nil || pfds[0].Revents != 0x5 {
		t.Errorf("Poll = %d, %v, revents %#x", n, err, pfds[0].Revents)
	}
}

// TestFilesCreateRace opens one new name with O_CREAT from many goroutines
// at once: all succeed (those that lose the race open the winner's file),
// and with O_EXCL exactly one does.
func TestFilesCreateRace(t *testing.T) {
	s := newFS(t)
	for round := range 20 {
		for _, excl := range []bool{false, true} {
			name := fmt.Sprintf("/r%d-%v", round, excl)
			flags := syscall.O_CREAT | syscall.O_WRONLY
			if excl {
				flags |= syscall.O_EXCL
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok, exist := 0, 0
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					fd, err := s.Open(name, flags, 0o644)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok++
						s.Close(fd)
					case err == syscall.EEXIST && excl:
						exist++
					default:
						t.Errorf("Open(%s) = %v", name, err)
					}
				}()
			}
			wg.Wait()
			if excl && (ok != 1 || exist != 3) || !excl && ok != 4 {
				t.Errorf("%s: %d opened, %d EEXIST", name, ok, exist)
			}
		}
	}
}

func TestFilesAttr(t *testing.T) {
	s := newFS(t)
	fd := must(s.Creat("/f", 0o644))
	mustOK(t, s.Symlink("f", "/l"))
	mustOK(t, s.Chmod("/l", 0o4711))
	var st syscall.Stat_t
	mustOK(t, s.Stat("/f", &st))
	if st.Mode != syscall.S_IFREG|0o4711 {
		t.Errorf("mode %#o after Chmod", st.Mode)
	}
	mustOK(t, s.Fchmod(fd, 0o600))
	mustOK(t, s.Chown("/l", 1000, -1))
	mustOK(t, s.Fchown(fd, -1, 100))
	mustOK(t, s.Lchown("/l", 7, 8))
	mustOK(t, s.Stat("/f", &st))
	if st.Mode != syscall.S_IFREG|0o600 || st.Uid != 1000 || st.Gid != 100 {
		t.Errorf("after Fchmod, Chown, Fchown: mode %#o owner %d:%d", st.Mode, st.Uid, st.Gid)
	}
	mustOK(t, s.Lstat("/l", &st))
	if st.Uid != 7 || st.Gid != 8 {
		t.Errorf("Lchown: link owner %d:%d", st.Uid, st.Gid)
	}
	when := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	mustOK(t, s.UtimesNano("/l", when, when.Add(time.Second)))
	mustOK(t, s.Stat("/f", &st))
	if st.Atim.Nano() != when.UnixNano() || st.Mtim.Nano() != when.Add(time.Second).UnixNano() {
		t.Errorf("times %v %v", st.Atim, st.Mtim)
	}
	mustOK(t, s.Futimes(fd, when, when))
	wantErr(t, "Chmod of a missing path", s.Chmod("/nope", 0), syscall.ENOENT)
	wantErr(t, "Fchmod of the console", s.Fchmod(1, 0), syscall.EBADF)
	wantErr(t, "Fchown of a bad fd", s.Fchown(77, 0, 0), syscall.EBADF)
}
