package p9

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// 9P2000.L message types the glue looks at on the wire.
const (
	msgRlerror  = 7
	msgTversion = 100
	msgRversion = 101
	msgTauth    = 102
	msgTattach  = 104
	msgTread    = 116
	msgTreaddir = 40

	msgTxattrcreate = 32
	msgTflush       = 108
	msgRflush       = 109
	msgTwalk        = 110
	msgTwalkgetattr = 126

	// maxWelem is 9P's MAXWELEM: the most names one Twalk may carry.
	// p9 walks any number, and its Rwalk (13 bytes a name) would
	// outgrow the msize.
	maxWelem = 16
)

const (
	hdrLen = 7 // size[4] type[1] tag[2]

	// rreadOverhead is the size of an Rread without its data: a Tread's
	// count is clamped so that the reply fits in msize.
	rreadOverhead = hdrLen + 4

	// ioHdrSize is Linux's P9_IOHDRSZ: the room kept for the header of a
	// read, write or readdir; diod refuses a Treaddir count above msize
	// minus this.
	ioHdrSize = 24

	// minMsize is the smallest msize the server agrees to: below it not
	// even a walk of one long name fits.
	minMsize = 4096

	// preVersionMax bounds a message received before Tversion has been
	// answered: only a Tversion is accepted then, and it is small.
	preVersionMax = 8192

	// xattrSizeMax is Linux's XATTR_SIZE_MAX: the largest extended
	// attribute value.
	xattrSizeMax = 64 << 10

	noUID  = ^uint32(0)
	noTag  = ^uint16(0)
	bigMsg = 4096 // messages at least this big are written without a copy
)

// errFraming is returned when a peer sends bytes that are not a 9P message
// stream (a size below the header, or above the negotiated msize). The
// connection is then closed: there is no way to find the next message.
var errFraming = errors.New("9p: bad message framing")

// frameWriter writes whole 9P messages onto w, one write (writev for a large
// payload) per message, so that messages the glue injects (its own replies)
// never land inside a message the p9 engine is writing. p9 writes a message
// as a header, a body and a payload in separate calls, always from one
// goroutine at a time (its send lock); the frameWriter reassembles them.
type frameWriter struct {
	mu  sync.Mutex // held while writing one message to w
	w   io.Writer
	buf []byte // the message being assembled (header and small parts)
	// need is the number of bytes of the current message still to come,
	// valid once buf holds a whole header.
	need int
	// hook sees each message that is entirely in buf before it is
	// written; it may change it in place or return false to drop it.
	hook func(msg []byte) bool
	// after, if set, is told the tag of each message once it is written.
	after func(tag uint16)
}

func (f *frameWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if len(f.buf) < hdrLen {
			k := min(hdrLen-len(f.buf), len(p))
			f.buf = append(f.buf, p[:k]...)
			p = p[k:]
			if len(f.buf) == hdrLen {
				size := binary.LittleEndian.Uint32(f.buf)
				if size < hdrLen {
					f.buf = f.buf[:0]
					return 0, errFraming
				}
				f.need = int(size) - hdrLen
				if f.need == 0 {
					if err := f.flush(nil); err != nil {
						return 0, err
					}
				}
			}
			continue
		}
		if len(p) >= f.need && f.need >= bigMsg {
			// The rest of a large message: write it without copying.
			tail := p[:f.need]
			p = p[f.need:]
			if err := f.flush(tail); err != nil {
				return 0, err
			}
			continue
		}
		k := min(f.need, len(p))
		f.buf = append(f.buf, p[:k]...)
		f.need -= k
		p = p[k:]
		if f.need == 0 {
			if err := f.flush(nil); err != nil {
				return 0, err
			}
		}
	}
	return total, nil
}

// flush writes the assembled message, with tail as its last part.
func (f *frameWriter) flush(tail []byte) error {
	msg := f.buf
	f.buf = f.buf[:0]
	f.need = 0
	if tail == nil && f.hook != nil && !f.hook(msg) {
		return nil
	}
	tag := binary.LittleEndian.Uint16(msg[5:])
	f.mu.Lock()
	var err error
	if tail == nil {
		_, err = f.w.Write(msg)
	} else {
		bufs := net.Buffers{msg, tail}
		_, err = bufs.WriteTo(f.w)
	}
	if cap(f.buf) > 1<<20 {
		f.buf = nil // don't pin a huge buffer
	}
	f.mu.Unlock()
	if f.after != nil {
		f.after(tag)
	}
	return err
}

// inject writes a whole message built by the glue.
func (f *frameWriter) inject(msg []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.w.Write(msg)
	return err
}

// rlerror builds an Rlerror message.
func rlerror(tag uint16, errno syscall.Errno) []byte {
	b := make([]byte, hdrLen+4)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	b[4] = msgRlerror
	binary.LittleEndian.PutUint16(b[5:], tag)
	binary.LittleEndian.PutUint32(b[7:], uint32(errno))
	return b
}

// versionMsg builds a Tversion or Rversion message.
func versionMsg(typ uint8, tag uint16, msize uint32, version string) []byte {
	b := make([]byte, hdrLen+4+2+len(version))
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	b[4] = typ
	binary.LittleEndian.PutUint16(b[5:], tag)
	binary.LittleEndian.PutUint32(b[7:], msize)
	binary.LittleEndian.PutUint16(b[11:], uint16(len(version)))
	copy(b[13:], version)
	return b
}

// parseVersion decodes a Tversion or Rversion body.
func parseVersion(body []byte) (msize uint32, version string, ok bool) {
	if len(body) < 6 {
		return 0, "", false
	}
	n := int(binary.LittleEndian.Uint16(body[4:]))
	if len(body) != 6+n {
		return 0, "", false
	}
	return binary.LittleEndian.Uint32(body), string(body[6:]), true
}

// serverConn sits between a connection and p9's server. It checks the
// framing of every incoming message (size within bounds), lets nothing but
// Tversion through before a version is agreed, refuses a second Tversion,
// answers Tauth itself with ENOENT ("no authentication needed", what
// diod's tools expect, where p9 answers ENOSYS), clamps Tread counts to
// the msize (p9 slices its msize-long buffer with the count and would
// panic) and Treaddir counts too (p9 would send a reply above the msize),
// refuses Txattrcreate sizes above Linux's XATTR_SIZE_MAX (p9 would buffer
// the value without bound), and records the attach uid. Bodies of other messages stream
// through without a copy.
type serverConn struct {
	conn net.Conn
	br   *bufio.Reader
	fw   *frameWriter
	max  uint32 // largest msize granted

	// Reading state; p9 serializes its reads.
	hdr      [hdrLen]byte
	pending  []byte // bytes of the current message held here
	bodyLeft int    // bytes of the current message still in br
	curTag   uint16 // tag of the current message

	msize atomic.Uint32 // 0 until an Rversion with a version went out
	uid   atomic.Uint32 // n_uname of the latest Tattach

	vmu   sync.Mutex
	vwait chan struct{} // closed when the Tversion in flight is answered
	vtag  uint16

	// Requests handed to p9 and not yet answered, and the Tflushes
	// waiting for them. The glue answers Tflush itself: p9 makes a flush
	// wait for its old tag, so a Tflush naming its own tag (or two naming
	// each other) waits forever and the connection never ends.
	fmu      sync.Mutex
	inflight map[uint16]bool
	flushes  map[uint16][]uint16 // old tag -> tags of Tflushes to answer
}

func newServerConn(conn net.Conn, maxMsize uint32) *serverConn {
	c := &serverConn{conn: conn, br: bufio.NewReaderSize(conn, 16<<10), max: maxMsize,
		inflight: map[uint16]bool{}, flushes: map[uint16][]uint16{}}
	c.uid.Store(noUID)
	c.fw = &frameWriter{w: conn, hook: c.sent, after: c.answered}
	return c
}

// answered is told of every reply written: it answers the Tflushes that
// waited for it, after it, as 9P requires.
func (c *serverConn) answered(tag uint16) {
	c.fmu.Lock()
	delete(c.inflight, tag)
	waiting := c.flushes[tag]
	delete(c.flushes, tag)
	c.fmu.Unlock()
	for _, ft := range waiting {
		c.fw.inject(rflush(ft)) //nolint:errcheck // a broken connection ends the reader
	}
}

// flush handles a Tflush of old with tag: answered now if old is not in
// flight, else once old's reply is out.
func (c *serverConn) flush(tag, old uint16) error {
	c.fmu.Lock()
	if c.inflight[old] && old != tag && len(c.flushes[old]) < 64 {
		c.flushes[old] = append(c.flushes[old], tag)
		c.fmu.Unlock()
		return nil
	}
	c.fmu.Unlock()
	return c.fw.inject(rflush(tag))
}

func rflush(tag uint16) []byte {
	b := make([]byte, hdrLen)
	binary.LittleEndian.PutUint32(b, hdrLen)
	b[4] = msgRflush
	binary.LittleEndian.PutUint16(b[5:], tag)
	return b
}

// sent watches the server's replies for the answer to Tversion.
func (c *serverConn) sent(msg []byte) bool {
	typ := msg[4]
	if typ != msgRversion && typ != msgRlerror {
		return true
	}
	tag := binary.LittleEndian.Uint16(msg[5:])
	c.vmu.Lock()
	defer c.vmu.Unlock()
	if c.vwait == nil || (tag != c.vtag && tag != noTag) {
		return true
	}
	if typ == msgRversion {
		if msize, v, ok := parseVersion(msg[hdrLen:]); ok && v != "unknown" && msize >= minMsize {
			c.msize.Store(msize)
		}
	}
	close(c.vwait)
	c.vwait = nil
	return true
}

func (c *serverConn) Write(p []byte) (int, error) { return c.fw.Write(p) }

func (c *serverConn) Close() error { return c.conn.Close() }

func (c *serverConn) Read(p []byte) (int, error) {
	for {
		if len(c.pending) > 0 {
			n := copy(p, c.pending)
			c.pending = c.pending[n:]
			return n, nil
		}
		if c.bodyLeft > 0 {
			n, err := c.br.Read(p[:min(len(p), c.bodyLeft)])
			c.bodyLeft -= n
			return n, err
		}
		if err := c.next(); err != nil {
			return 0, err
		}
		// A request goes to p9: in flight until its reply is written.
		c.fmu.Lock()
		c.inflight[c.curTag] = true
		c.fmu.Unlock()
	}
}

// next reads the next message's header and sets up its delivery, handling
// the messages the glue answers itself.
func (c *serverConn) next() error {
	for {
		c.vmu.Lock()
		w := c.vwait
		c.vmu.Unlock()
		if w != nil {
			<-w // the version must be settled before the next message
		}
		if _, err := io.ReadFull(c.br, c.hdr[:]); err != nil {
			return err
		}
		size := binary.LittleEndian.Uint32(c.hdr[:])
		typ := c.hdr[4]
		tag := binary.LittleEndian.Uint16(c.hdr[5:])
		c.curTag = tag
		msize := c.msize.Load()
		limit := msize
		if limit == 0 {
			limit = preVersionMax
		}
		if size < hdrLen || size > limit {
			return fmt.Errorf("%w: message of %d bytes, limit %d", errFraming, size, limit)
		}
		body := int(size) - hdrLen
		switch {
		case typ == msgTversion:
			b, err := c.readBody(body)
			if err != nil {
				return err
			}
			m, _, ok := parseVersion(b[hdrLen:])
			switch {
			case msize != 0:
				// A second Tversion would make p9 replace its buffer
				// pool under requests in flight.
				ok = false
			case ok && m < minMsize:
				ok = false
			case ok && m > c.max:
				binary.LittleEndian.PutUint32(b[hdrLen:], c.max)
			}
			if !ok {
				// Answered here: p9 answers a malformed Tversion
				// with tag NOTAG, which would not settle the wait.
				if err := c.fw.inject(rlerror(tag, syscall.EINVAL)); err != nil {
					return err
				}
				continue
			}
			c.vmu.Lock()
			c.vwait = make(chan struct{})
			c.vtag = tag
			c.vmu.Unlock()
			c.pending = b
			return nil
		case msize == 0:
			// Nothing but Tversion before a version is agreed: p9
			// would serve a Tread with no buffer pool.
			if err := c.discard(body); err != nil {
				return err
			}
			if err := c.fw.inject(rlerror(tag, syscall.EPROTO)); err != nil {
				return err
			}
		case typ == msgTflush:
			b, err := c.readBody(body)
			if err != nil {
				return err
			}
			if body < 2 {
				if err := c.fw.inject(rlerror(tag, syscall.EINVAL)); err != nil {
					return err
				}
				continue
			}
			if err := c.flush(tag, binary.LittleEndian.Uint16(b[hdrLen:])); err != nil {
				return err
			}
		case typ == msgTauth:
			if err := c.discard(body); err != nil {
				return err
			}
			if err := c.fw.inject(rlerror(tag, syscall.ENOENT)); err != nil {
				return err
			}
		case typ == msgTread || typ == msgTreaddir:
			b, err := c.readBody(body)
			if err != nil {
				return err
			}
			// fid[4] offset[8] count[4]: p9 decodes these and ignores
			// any bytes after them, so the count is clamped whatever
			// the body's length.
			if body >= 16 {
				cnt := binary.LittleEndian.Uint32(b[hdrLen+12:])
				if lim := msize - rreadOverhead; cnt > lim {
					binary.LittleEndian.PutUint32(b[hdrLen+12:], lim)
				}
			}
			c.pending = b
			return nil
		case typ == msgTwalk || typ == msgTwalkgetattr:
			b, err := c.readBody(body)
			if err != nil {
				return err
			}
			if body >= 10 && binary.LittleEndian.Uint16(b[hdrLen+8:]) > maxWelem {
				if err := c.fw.inject(rlerror(tag, syscall.EINVAL)); err != nil {
					return err
				}
				continue
			}
			c.pending = b
			return nil
		case typ == msgTxattrcreate:
			// fid[4] name[s] attr_size[8] flags[4]: p9 gathers the value
			// in memory over Twrites up to attr_size, so a hostile size
			// would let a client make the server buffer without bound.
			b, err := c.readBody(body)
			if err != nil {
				return err
			}
			if body >= 6 {
				nl := int(binary.LittleEndian.Uint16(b[hdrLen+4:]))
				if off := hdrLen + 6 + nl; len(b) >= off+8 && binary.LittleEndian.Uint64(b[off:]) > xattrSizeMax {
					if err := c.fw.inject(rlerror(tag, syscall.E2BIG)); err != nil {
						return err
					}
					continue
				}
			}
			c.pending = b
			return nil
		case typ == msgTattach:
			b, err := c.readBody(body)
			if err != nil {
				return err
			}
			if body >= 4+4+2+2+4 {
				c.uid.Store(binary.LittleEndian.Uint32(b[len(b)-4:]))
			}
			c.pending = b
			return nil
		default:
			c.pending = c.hdr[:]
			c.bodyLeft = body
			return nil
		}
	}
}

// readBody reads a whole small message (header included) into a new buffer.
func (c *serverConn) readBody(body int) ([]byte, error) {
	b := make([]byte, hdrLen+body)
	copy(b, c.hdr[:])
	if _, err := io.ReadFull(c.br, b[hdrLen:]); err != nil {
		return nil, err
	}
	return b, nil
}

func (c *serverConn) discard(n int) error {
	_, err := c.br.Discard(n)
	return err
}

// clientConn sits between p9's client and a connection whose version has
// already been negotiated by the glue (p9's client insists on
// "9P2000.L.Google.7", which servers such as diod refuse). It answers p9's
// own Tversion locally with the agreed version and msize, and fills in the
// attach uid that p9 leaves empty (diod refuses an attach without one).
type clientConn struct {
	conn    net.Conn
	fw      *frameWriter
	msize   uint32
	version string
	uid     uint32

	mu    sync.Mutex
	local []byte // a reply produced here, read before the connection
}

func newClientConn(conn net.Conn, msize uint32, version string, uid uint32) *clientConn {
	c := &clientConn{conn: conn, msize: msize, version: version, uid: uid}
	c.fw = &frameWriter{w: conn, hook: c.sending}
	return c
}

func (c *clientConn) sending(msg []byte) bool {
	switch msg[4] {
	case msgTversion:
		tag := binary.LittleEndian.Uint16(msg[5:])
		c.mu.Lock()
		c.local = append(c.local, versionMsg(msgRversion, tag, c.msize, c.version)...)
		c.mu.Unlock()
		return false
	case msgTattach:
		if len(msg) >= hdrLen+16 && binary.LittleEndian.Uint32(msg[len(msg)-4:]) == noUID {
			binary.LittleEndian.PutUint32(msg[len(msg)-4:], c.uid)
		}
	}
	return true
}

func (c *clientConn) Write(p []byte) (int, error) { return c.fw.Write(p) }

func (c *clientConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.local) > 0 {
		n := copy(p, c.local)
		c.local = c.local[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.conn.Read(p)
}

func (c *clientConn) Close() error { return c.conn.Close() }

// googleVersion is p9's extended protocol: a superset of 9P2000.L with
// Twalkgetattr (one round trip for a lookup) and creations that carry a
// uid. Dial asks for it first and steps down to plain 9P2000.L itself.
const googleVersion = "9P2000.L.Google.7"

// negotiate agrees a version with the server on conn, before p9's client
// sees the connection: googleVersion if the server knows it, else plain
// 9P2000.L (diod answers the former with Rlerror EIO and keeps the
// connection; a server following the 9P spec answers "unknown"); and the
// msize the server grants (at most msize).
func negotiate(conn net.Conn, msize uint32, plain bool) (uint32, string, error) {
	versions := []string{googleVersion, "9P2000.L"}
	if plain {
		versions = versions[1:]
	}
	var first error
	for _, want := range versions {
		m, v, err := tversion(conn, msize, want)
		if err == nil {
			return m, v, nil
		}
		if first == nil {
			first = err
		}
		if !errors.Is(err, errVersionRefused) {
			return 0, "", err
		}
	}
	return 0, "", first
}

var errVersionRefused = errors.New("version refused")

// tversion does one Tversion exchange.
func tversion(conn net.Conn, msize uint32, want string) (uint32, string, error) {
	if _, err := conn.Write(versionMsg(msgTversion, noTag, msize, want)); err != nil {
		return 0, "", fmt.Errorf("9p: version: %w", err)
	}
	var hdr [hdrLen]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return 0, "", fmt.Errorf("9p: version: %w", err)
	}
	size := binary.LittleEndian.Uint32(hdr[:])
	if size < hdrLen || size > preVersionMax {
		return 0, "", fmt.Errorf("9p: version: reply of %d bytes: %w", size, syscall.EPROTO)
	}
	body := make([]byte, size-hdrLen)
	if _, err := io.ReadFull(conn, body); err != nil {
		return 0, "", fmt.Errorf("9p: version: %w", err)
	}
	switch hdr[4] {
	case msgRlerror:
		if len(body) == 4 {
			return 0, "", fmt.Errorf("9p: server refused %s (%w): %w", want, syscall.Errno(binary.LittleEndian.Uint32(body)), errVersionRefused)
		}
	case msgRversion:
		m, v, ok := parseVersion(body)
		if ok && v == "unknown" {
			return 0, "", fmt.Errorf("9p: server does not know %s: %w", want, errVersionRefused)
		}
		if ok && (v == "9P2000.L" || strings.HasPrefix(v, "9P2000.L.Google.") && want == googleVersion) && m >= minMsize && m <= msize {
			return m, v, nil
		}
		if ok {
			return 0, "", fmt.Errorf("9p: server answered version %q msize %d: %w", v, m, syscall.EPROTONOSUPPORT)
		}
	}
	return 0, "", fmt.Errorf("9p: bad version reply (type %d): %w", hdr[4], syscall.EPROTO)
}
