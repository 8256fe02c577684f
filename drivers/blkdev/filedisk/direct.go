package filedisk

import (
	"unsafe"
)

// Direct I/O: the host wants buffer address, offset and length aligned to
// the block size. Callers' buffers are rarely aligned, so every access goes
// through an aligned bounce buffer; an unaligned write reads the edge blocks
// first (read-modify-write).

// maxBounce bounds one bounce buffer; larger accesses are done in pieces.
const maxBounce = 1 << 20

// alignedBuf returns a buffer of n bytes whose address is a multiple of
// align (a power of two).
func alignedBuf(n, align int) []byte {
	b := make([]byte, n+align)
	a := int(uintptr(unsafe.Pointer(&b[0])) & uintptr(align-1))
	if a != 0 {
		a = align - a
	}
	return b[a : a+n : a+n]
}

func (d *Disk) readDirect(p []byte, off int64) (int, error) {
	bs := int64(d.bs)
	done := 0
	for done < len(p) {
		o := off + int64(done)
		start := o &^ (bs - 1)
		chunk := min(int64(len(p)-done), maxBounce)
		end := (o + chunk + bs - 1) &^ (bs - 1)
		end = min(end, (d.size+bs-1)&^(bs-1))
		buf := alignedBuf(int(end-start), d.bs)
		if _, err := preadDirect(d.fd, buf, start, d.size); err != nil {
			return done, err
		}
		done += copy(p[done:], buf[o-start:])
	}
	return done, nil
}

// preadDirect reads an aligned range; at the end of a file whose size is
// not a block multiple, the host returns fewer bytes, which is fine.
func preadDirect(fd int, buf []byte, off, size int64) (int, error) {
	got := 0
	for got < len(buf) {
		n, err := preadOnce(fd, buf[got:], off+int64(got))
		if err != nil {
			return got, err
		}
		if n == 0 {
			break
		}
		got += n
	}
	return got, nil
}

func (d *Disk) writeDirect(p []byte, off int64) (int, error) {
	bs := int64(d.bs)
	aligned := off%bs == 0 && int64(len(p))%bs == 0
	if !aligned {
		d.rmw.Lock()
		defer d.rmw.Unlock()
	}
	done := 0
	for done < len(p) {
		o := off + int64(done)
		start := o &^ (bs - 1)
		chunk := min(int64(len(p)-done), maxBounce)
		end := (o + chunk + bs - 1) &^ (bs - 1)
		buf := alignedBuf(int(end-start), d.bs)
		n := int(min(chunk, end-o))
		if o != start || o+int64(n) != end {
			// Read the edge blocks so the bytes around the write survive.
			if _, err := preadDirect(d.fd, buf[:bs], start, d.size); err != nil {
				return done, err
			}
			if end-bs > start {
				if _, err := preadDirect(d.fd, buf[len(buf)-int(bs):], end-bs, d.size); err != nil {
					return done, err
				}
			}
		}
		copy(buf[o-start:], p[done:done+n])
		if _, err := pwriteFull(d.fd, buf, start); err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}
