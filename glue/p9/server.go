package p9

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hugelgupf/p9/linux"
	hp "github.com/hugelgupf/p9/p9"

	"github.com/goskit/goskit/fs"
)

// Options configure a Server and a client from Dial. The zero value (or a
// nil *Options) gives the defaults.
type Options struct {
	// MessageSize is the largest 9P message: for a server, the most it
	// grants (default 1 MiB); for a client, what it asks for (default
	// 64 KiB). A client then uses what the server grants.
	MessageSize uint32
	// UID is the client's attach uid (n_uname); default 0.
	UID uint32
	// Plain makes a client negotiate only plain 9P2000.L, without p9's
	// extension "9P2000.L.Google.7" that Dial otherwise asks for first.
	Plain bool
	// Aname is the client's attach name: the export to attach to (diod
	// needs its exported path); default empty, the server's root.
	Aname string
	// Owner is the server's owner for nodes created by a client that
	// names no uid (9P2000.L's Tlcreate, Tmkdir, Tsymlink and Tmknod carry
	// only a gid; the attach uid is used when the client gave one).
	Owner fs.Owner
	// Logf, if set, receives the server's connection errors.
	Logf func(format string, args ...any)
}

func (o *Options) msize(def uint32) uint32 {
	if o == nil || o.MessageSize == 0 {
		return def
	}
	return max(o.MessageSize, minMsize)
}

// Server serves a file system over 9P2000.L connections.
type Server struct {
	fsys fs.FileSystem
	opts Options
	max  uint32

	mu     sync.Mutex
	closed bool
	lns    map[net.Listener]struct{}
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup

	// panics counts handler panics p9 recovered from (it answers them
	// with EFAULT); tests require none.
	panics atomic.Int64
}

// p9Log receives p9's log lines. p9 formats a line for every message it
// sends or receives; only its problem reports are formatted and kept.
type p9Log struct{ s *Server }

func (l p9Log) Printf(format string, v ...any) {
	switch {
	case strings.HasPrefix(format, "panic in handler"):
		l.s.panics.Add(1)
	case strings.HasPrefix(format, "p9.recv"), strings.HasPrefix(format, "p9.send"):
	default:
		return
	}
	if l.s.opts.Logf != nil {
		l.s.opts.Logf("9p server: "+format, v...)
	}
}

func (l p9Log) Print(v ...any) {}

// NewServer returns a server of fsys. It serves nothing until Serve or
// ServeConn is called.
func NewServer(fsys fs.FileSystem, opts *Options) *Server {
	s := &Server{fsys: fsys, max: opts.msize(1 << 20), lns: map[net.Listener]struct{}{}, conns: map[net.Conn]struct{}{}}
	if opts != nil {
		s.opts = *opts
	}
	return s
}

// Serve accepts connections on l and serves each in its own goroutine. It
// returns when l fails or the server is closed (then with nil).
func Serve(l net.Listener, fsys fs.FileSystem, opts *Options) error {
	return NewServer(fsys, opts).Serve(l)
}

// ServeConn serves one connection until it ends.
func ServeConn(conn net.Conn, fsys fs.FileSystem, opts *Options) error {
	return NewServer(fsys, opts).ServeConn(conn)
}

// Serve accepts connections on l until l fails or s is closed.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.lns[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, l)
		s.mu.Unlock()
	}()
	for {
		conn, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			return err
		}
		go s.ServeConn(conn) //nolint:errcheck // logged
	}
}

// ServeConn serves conn until the peer closes it, it fails, or s is
// closed. It returns nil for an orderly end.
func (s *Server) ServeConn(conn net.Conn) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return net.ErrClosed
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		s.wg.Done()
	}()
	sc := newServerConn(conn, s.max)
	cs := &connServer{fsys: s.fsys, owner: s.opts.Owner, conn: sc}
	// One p9 server per connection: its attacher then knows the
	// connection's attach uid. p9's path tree, which tracks fids for
	// renames, only concerns the fids of one connection anyway.
	srv := hp.NewServer(cs, hp.WithServerLogger(p9Log{s}))
	return srv.Handle(sc, sc)
}

// Close stops s: its listeners and connections are closed, and Close
// waits for the connections' handlers to end.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for l := range s.lns {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// connServer is the p9 attacher of one connection.
type connServer struct {
	fsys  fs.FileSystem
	owner fs.Owner
	conn  *serverConn
}

func (c *connServer) Attach() (hp.File, error) {
	root, err := c.fsys.Root()
	if err != nil {
		return nil, perr(err)
	}
	return &file{c: c, node: root}, nil
}

// uid is the owner of what this connection's client creates.
func (c *connServer) uid() uint32 {
	if u := c.conn.uid.Load(); u != noUID {
		return u
	}
	return c.owner.UID
}

func (c *connServer) ownerFor(uid hp.UID, gid hp.GID) fs.Owner {
	o := fs.Owner{UID: c.uid(), GID: c.owner.GID}
	if uid != hp.NoUID {
		o.UID = uint32(uid)
	}
	if gid != hp.NoGID {
		o.GID = uint32(gid)
	}
	return o
}

// perr turns an fs error into what p9 sends: the Linux errno itself (p9's
// own mapping would turn EPERM into EACCES through os.ErrPermission).
func perr(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return linux.Errno(e)
	}
	return linux.EIO
}

// file is a p9.File over an fs node. p9 makes one per fid.
type file struct {
	c    *connServer
	node fs.Node
}

var _ hp.File = (*file)(nil)
var _ hp.Attacher = (*connServer)(nil)

func qidOf(a fs.Attr) hp.QID {
	return hp.QID{Type: hp.FileMode(a.Mode).QIDType(), Path: a.Ino}
}

func p9Attr(a fs.Attr) hp.Attr {
	ts := func(t time.Time) (uint64, uint64) {
		if t.IsZero() {
			return 0, 0
		}
		return uint64(t.Unix()), uint64(t.Nanosecond())
	}
	r := hp.Attr{
		Mode:      hp.FileMode(a.Mode),
		UID:       hp.UID(a.Owner.UID),
		GID:       hp.GID(a.Owner.GID),
		NLink:     hp.NLink(a.Nlink),
		RDev:      hp.Dev(a.Rdev),
		Size:      uint64(a.Size),
		BlockSize: uint64(a.BlkSize),
		Blocks:    uint64(a.Blocks),
	}
	if r.BlockSize == 0 {
		r.BlockSize = 4096
	}
	r.ATimeSeconds, r.ATimeNanoSeconds = ts(a.Atime)
	r.MTimeSeconds, r.MTimeNanoSeconds = ts(a.Mtime)
	r.CTimeSeconds, r.CTimeNanoSeconds = ts(a.Ctime)
	return r
}

var attrValid = hp.AttrMask{Mode: true, NLink: true, UID: true, GID: true, RDev: true,
	ATime: true, MTime: true, CTime: true, INo: true, Size: true, Blocks: true}

func (f *file) dir() (fs.Dir, error) {
	d, ok := f.node.(fs.Dir)
	if !ok {
		return nil, linux.ENOTDIR
	}
	return d, nil
}

func (f *file) Walk(names []string) ([]hp.QID, hp.File, error) {
	qids, nf, _, _, err := f.WalkGetAttr(names)
	return qids, nf, err
}

func (f *file) WalkGetAttr(names []string) ([]hp.QID, hp.File, hp.AttrMask, hp.Attr, error) {
	node := f.node
	var qids []hp.QID
	var a fs.Attr
	var err error
	for _, name := range names {
		d, ok := node.(fs.Dir)
		if !ok {
			return nil, nil, hp.AttrMask{}, hp.Attr{}, linux.ENOTDIR
		}
		if node, err = d.Lookup(name); err != nil {
			return nil, nil, hp.AttrMask{}, hp.Attr{}, perr(err)
		}
		if a, err = node.Stat(); err != nil {
			return nil, nil, hp.AttrMask{}, hp.Attr{}, perr(err)
		}
		qids = append(qids, qidOf(a))
	}
	if len(names) == 0 {
		if a, err = node.Stat(); err != nil {
			return nil, nil, hp.AttrMask{}, hp.Attr{}, perr(err)
		}
	}
	return qids, &file{c: f.c, node: node}, attrValid, p9Attr(a), nil
}

func (f *file) StatFS() (hp.FSStat, error) {
	st, err := f.c.fsys.StatFS()
	if err != nil {
		return hp.FSStat{}, perr(err)
	}
	return hp.FSStat{
		Type: uint32(st.Type), BlockSize: uint32(st.BlockSize), Blocks: st.Blocks,
		BlocksFree: st.BlocksFree, BlocksAvailable: st.BlocksAvail,
		Files: st.Files, FilesFree: st.FilesFree, NameLength: uint32(st.NameLen),
	}, nil
}

func (f *file) GetAttr(req hp.AttrMask) (hp.QID, hp.AttrMask, hp.Attr, error) {
	a, err := f.node.Stat()
	if err != nil {
		return hp.QID{}, hp.AttrMask{}, hp.Attr{}, perr(err)
	}
	return qidOf(a), attrValid, p9Attr(a), nil
}

func (f *file) SetAttr(valid hp.SetAttrMask, attr hp.SetAttr) error {
	var s fs.SetAttr
	now := time.Now()
	if valid.Permissions {
		s.Valid |= fs.SetMode
		s.Mode = fs.Mode(attr.Permissions) & fs.ModePerm
	}
	if valid.UID {
		s.Valid |= fs.SetUID
		s.Owner.UID = uint32(attr.UID)
	}
	if valid.GID {
		s.Valid |= fs.SetGID
		s.Owner.GID = uint32(attr.GID)
	}
	if valid.Size {
		s.Valid |= fs.SetSize
		if attr.Size > 1<<63-1 {
			return linux.EFBIG
		}
		s.Size = int64(attr.Size)
	}
	if valid.ATime {
		s.Valid |= fs.SetAtime
		s.Atime = now
		if valid.ATimeNotSystemTime {
			s.Atime = time.Unix(int64(attr.ATimeSeconds), int64(attr.ATimeNanoSeconds))
		}
	}
	if valid.MTime {
		s.Valid |= fs.SetMtime
		s.Mtime = now
		if valid.MTimeNotSystemTime {
			s.Mtime = time.Unix(int64(attr.MTimeSeconds), int64(attr.MTimeNanoSeconds))
		}
	}
	if s.Valid == 0 {
		return nil // a ctime-only update: nothing the fs interface names
	}
	return perr(f.node.SetAttr(s))
}

func (f *file) Close() error { return nil }

func (f *file) Open(mode hp.OpenFlags) (hp.QID, uint32, error) {
	a, err := f.node.Stat()
	if err != nil {
		return hp.QID{}, 0, perr(err)
	}
	switch n := f.node.(type) {
	case fs.File:
		if mode&syscall.O_TRUNC != 0 && mode.Mode() != hp.ReadOnly {
			if err := n.Truncate(0); err != nil {
				return hp.QID{}, 0, perr(err)
			}
		}
	case fs.Dir:
	default:
		return hp.QID{}, 0, linux.EINVAL // special files are not served
	}
	return qidOf(a), f.iounit(), nil
}

// iounit is the largest read or write a client should ask for.
func (f *file) iounit() uint32 {
	m := f.c.conn.msize.Load()
	if m == 0 {
		return 0
	}
	return m - ioHdrSize
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	r, ok := f.node.(fs.File)
	if !ok {
		return 0, linux.EISDIR
	}
	if off < 0 {
		return 0, linux.EINVAL
	}
	n, err := r.ReadAt(p, off)
	if err == io.EOF {
		return n, nil
	}
	return n, perr(err)
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	w, ok := f.node.(fs.File)
	if !ok {
		return 0, linux.EISDIR
	}
	if off < 0 {
		return 0, linux.EINVAL
	}
	n, err := w.WriteAt(p, off)
	return n, perr(err)
}

func (f *file) xattrer() (fs.Xattrer, error) {
	x, ok := f.node.(fs.Xattrer)
	if !ok {
		return nil, linux.EOPNOTSUPP
	}
	return x, nil
}

func (f *file) SetXattr(attr string, data []byte, flags hp.XattrFlags) error {
	x, err := f.xattrer()
	if err != nil {
		return err
	}
	return perr(x.SetXattr(attr, data, int(flags)))
}

func (f *file) GetXattr(attr string) ([]byte, error) {
	x, err := f.xattrer()
	if err != nil {
		return nil, err
	}
	v, err := x.GetXattr(attr)
	return v, perr(err)
}

func (f *file) ListXattrs() ([]string, error) {
	x, err := f.xattrer()
	if err != nil {
		return nil, err
	}
	v, err := x.ListXattr()
	return v, perr(err)
}

func (f *file) RemoveXattr(attr string) error {
	x, err := f.xattrer()
	if err != nil {
		return err
	}
	return perr(x.RemoveXattr(attr))
}

func (f *file) FSync() error {
	if s, ok := f.node.(fs.File); ok {
		return perr(s.Sync())
	}
	return perr(f.c.fsys.Sync())
}

// Lock grants every lock: the fs component has no locks, and one client
// alone is then served as by a local file system without them.
func (f *file) Lock(pid int, locktype hp.LockType, flags hp.LockFlags, start, length uint64, client string) (hp.LockStatus, error) {
	return hp.LockStatusOK, nil
}

func (f *file) Create(name string, flags hp.OpenFlags, perm hp.FileMode, uid hp.UID, gid hp.GID) (hp.File, hp.QID, uint32, error) {
	d, err := f.dir()
	if err != nil {
		return nil, hp.QID{}, 0, err
	}
	nf, err := d.Create(name, fs.Mode(perm)&fs.ModePerm, f.c.ownerFor(uid, gid))
	if err != nil {
		return nil, hp.QID{}, 0, perr(err)
	}
	a, err := nf.Stat()
	if err != nil {
		return nil, hp.QID{}, 0, perr(err)
	}
	return &file{c: f.c, node: nf}, qidOf(a), f.iounit(), nil
}

func (f *file) Mkdir(name string, perm hp.FileMode, uid hp.UID, gid hp.GID) (hp.QID, error) {
	d, err := f.dir()
	if err != nil {
		return hp.QID{}, err
	}
	nd, err := d.Mkdir(name, fs.Mode(perm)&fs.ModePerm, f.c.ownerFor(uid, gid))
	if err != nil {
		return hp.QID{}, perr(err)
	}
	return statQID(nd)
}

func statQID(n fs.Node) (hp.QID, error) {
	a, err := n.Stat()
	if err != nil {
		return hp.QID{}, perr(err)
	}
	return qidOf(a), nil
}

func (f *file) Symlink(target, name string, uid hp.UID, gid hp.GID) (hp.QID, error) {
	d, err := f.dir()
	if err != nil {
		return hp.QID{}, err
	}
	s, err := d.Symlink(name, target, f.c.ownerFor(uid, gid))
	if err != nil {
		return hp.QID{}, perr(err)
	}
	return statQID(s)
}

func (f *file) Link(target hp.File, name string) error {
	d, err := f.dir()
	if err != nil {
		return err
	}
	t, ok := target.(*file)
	if !ok {
		return linux.EXDEV
	}
	return perr(d.Link(name, t.node))
}

func (f *file) Mknod(name string, mode hp.FileMode, major, minor uint32, uid hp.UID, gid hp.GID) (hp.QID, error) {
	d, err := f.dir()
	if err != nil {
		return hp.QID{}, err
	}
	m, ok := d.(fs.Mknoder)
	if !ok {
		return hp.QID{}, linux.EPERM
	}
	n, err := m.Mknod(name, fs.Mode(mode), mkdev(major, minor), f.c.ownerFor(uid, gid))
	if err != nil {
		return hp.QID{}, perr(err)
	}
	return statQID(n)
}

// mkdev builds a Linux dev_t from its parts, as makedev(3).
func mkdev(major, minor uint32) uint64 {
	return uint64(major&0xfff)<<8 | uint64(major&^0xfff)<<32 | uint64(minor&0xff) | uint64(minor&^0xff)<<12
}

// devParts splits a Linux dev_t, as major(3) and minor(3).
func devParts(dev uint64) (major, minor uint32) {
	return uint32((dev>>8)&0xfff | (dev>>32)&^0xfff), uint32(dev&0xff | (dev>>12)&^0xff)
}

// Rename is never called by p9's server (RenameAt is).
func (f *file) Rename(newDir hp.File, newName string) error { return linux.ENOSYS }

func (f *file) RenameAt(oldName string, newDir hp.File, newName string) error {
	d, err := f.dir()
	if err != nil {
		return err
	}
	nd, ok := newDir.(*file)
	if !ok {
		return linux.EXDEV
	}
	ndir, err := nd.dir()
	if err != nil {
		return err
	}
	return perr(d.Rename(oldName, ndir, newName))
}

const atRemoveDir = 0x200 // AT_REMOVEDIR

func (f *file) UnlinkAt(name string, flags uint32) error {
	d, err := f.dir()
	if err != nil {
		return err
	}
	if flags&atRemoveDir != 0 {
		return perr(d.Rmdir(name))
	}
	return perr(d.Unlink(name))
}

// Linux directory entry types (d_type): 9P2000.L's Rreaddir carries them.
const (
	dtFIFO = 1
	dtChr  = 2
	dtDir  = 4
	dtBlk  = 6
	dtReg  = 8
	dtLnk  = 10
	dtSock = 12
)

func dtype(m fs.Mode) uint8 {
	switch m.Type() {
	case fs.ModeDir:
		return dtDir
	case fs.ModeSymlink:
		return dtLnk
	case fs.ModeChar:
		return dtChr
	case fs.ModeBlock:
		return dtBlk
	case fs.ModeFIFO:
		return dtFIFO
	case fs.ModeSocket:
		return dtSock
	}
	return dtReg
}

func modeOfDtype(t uint8) fs.Mode {
	switch t {
	case dtDir:
		return fs.ModeDir
	case dtLnk:
		return fs.ModeSymlink
	case dtChr:
		return fs.ModeChar
	case dtBlk:
		return fs.ModeBlock
	case dtFIFO:
		return fs.ModeFIFO
	case dtSock:
		return fs.ModeSocket
	}
	return fs.ModeRegular
}

// Readdir returns the entries from cookie offset that fit in count bytes
// of Rreaddir payload (p9 drops those that do not fit; the client then
// continues from the last one it got).
func (f *file) Readdir(offset uint64, count uint32) (hp.Dirents, error) {
	d, err := f.dir()
	if err != nil {
		return nil, err
	}
	// An entry takes 24 bytes and its name.
	n := int(count/32) + 1
	ents, err := d.ReadDir(offset, n)
	if err != nil {
		return nil, perr(err)
	}
	out := make(hp.Dirents, 0, len(ents))
	for _, e := range ents {
		t := dtype(e.Type)
		out = append(out, hp.Dirent{
			QID:    hp.QID{Type: hp.FileMode(e.Type).QIDType(), Path: e.Ino},
			Offset: e.Next,
			Type:   hp.QIDType(t),
			Name:   e.Name,
		})
	}
	return out, nil
}

func (f *file) Readlink() (string, error) {
	s, ok := f.node.(fs.Symlink)
	if !ok {
		return "", linux.EINVAL
	}
	t, err := s.Readlink()
	return t, perr(err)
}

func (f *file) Renamed(newDir hp.File, newName string) {}
