package p9

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/hugelgupf/p9/linux"
	hp "github.com/hugelgupf/p9/p9"

	"github.com/goskit/goskit/fs"
)

// Dial attaches to the 9P2000.L server on conn and returns its file system.
// It negotiates the version and the server's msize itself (p9's client
// insists on its extension "9P2000.L.Google.7"; Dial asks for it and steps
// down to plain 9P2000.L when refused), attaches as opts.UID to
// opts.Aname, and keeps every message within the granted msize. Closing
// the file system closes conn.
func Dial(conn net.Conn, opts *Options) (fs.FileSystem, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	msize, version, err := negotiate(conn, opts.msize(64<<10), o.Plain)
	if err != nil {
		conn.Close()
		return nil, err
	}
	cc := newClientConn(conn, msize, version, o.UID)
	c, err := hp.NewClient(cc, hp.WithMessageSize(msize))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("9p: %v: %w", err, syscall.EPROTO)
	}
	root, err := c.Attach(o.Aname)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("9p: attach %q: %w", o.Aname, cerr(err))
	}
	qid, _, _, err := root.GetAttr(hp.AttrMask{Mode: true})
	if err != nil {
		root.Close()
		c.Close()
		return nil, fmt.Errorf("9p: attach %q: %w", o.Aname, cerr(err))
	}
	cl := &client{c: c, uid: o.UID, msize: msize, walkGetAttr: c.Version() >= 2, ucreate: c.Version() >= 3}
	cl.root = &dir{node: node{cl: cl, f: root, qid: qid}}
	return cl, nil
}

// cerr turns what p9's client returns into the kit's errors: a server's
// errno as a syscall.Errno, anything else (a broken connection) as EIO
// with the detail kept.
func cerr(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var e linux.Errno
	if errors.As(err, &e) {
		return syscall.Errno(e)
	}
	return fmt.Errorf("9p: %v: %w", err, syscall.EIO)
}

// client is the file system of a 9P connection.
type client struct {
	c     *hp.Client
	uid   uint32
	msize uint32
	root  *dir
	// walkGetAttr: the server speaks p9's extension with Twalkgetattr.
	walkGetAttr bool
	// ucreate: creations carry the uid (p9's extension, version 3).
	ucreate bool

	closeOnce sync.Once
}

var _ fs.FileSystem = (*client)(nil)

func (c *client) Root() (fs.Dir, error) { return c.root, nil }

func (c *client) StatFS() (fs.StatFS, error) {
	st, err := c.root.f.StatFS()
	if err != nil {
		return fs.StatFS{}, cerr(err)
	}
	return fs.StatFS{
		Type: uint64(st.Type), BlockSize: int64(st.BlockSize), Blocks: st.Blocks,
		BlocksFree: st.BlocksFree, BlocksAvail: st.BlocksAvailable,
		Files: st.Files, FilesFree: st.FilesFree, NameLen: int(st.NameLength),
	}, nil
}

// Sync does nothing: every write has reached the server when it returns,
// and a file's Sync asks the server to sync it.
func (c *client) Sync() error { return nil }

func (c *client) Close() error {
	c.closeOnce.Do(func() {
		c.root.f.Close()
		c.c.Close()
	})
	return nil
}

// node is a walked fid. Files also keep opened fids for I/O, made on first
// use; p9 clunks fids when their node is garbage collected.
type node struct {
	cl  *client
	f   hp.File
	qid hp.QID
}

func (n *node) Stat() (fs.Attr, error) {
	qid, _, a, err := n.f.GetAttr(hp.AttrMaskAll)
	if err != nil {
		return fs.Attr{}, cerr(err)
	}
	return fsAttr(qid, a), nil
}

func fsAttr(qid hp.QID, a hp.Attr) fs.Attr {
	ts := func(s, ns uint64) time.Time {
		if s == 0 && ns == 0 {
			return time.Time{}
		}
		return time.Unix(int64(s), int64(ns))
	}
	return fs.Attr{
		Ino:     qid.Path,
		Mode:    fs.Mode(a.Mode),
		Nlink:   uint32(a.NLink),
		Owner:   fs.Owner{UID: uint32(a.UID), GID: uint32(a.GID)},
		Size:    int64(a.Size),
		Blocks:  int64(a.Blocks),
		BlkSize: int32(a.BlockSize),
		Rdev:    uint64(a.RDev),
		Atime:   ts(a.ATimeSeconds, a.ATimeNanoSeconds),
		Mtime:   ts(a.MTimeSeconds, a.MTimeNanoSeconds),
		Ctime:   ts(a.CTimeSeconds, a.CTimeNanoSeconds),
	}
}

func (n *node) SetAttr(s fs.SetAttr) error {
	var m hp.SetAttrMask
	var a hp.SetAttr
	if s.Valid&fs.SetMode != 0 {
		m.Permissions = true
		a.Permissions = hp.FileMode(s.Mode & fs.ModePerm)
	}
	if s.Valid&fs.SetUID != 0 {
		m.UID = true
		a.UID = hp.UID(s.Owner.UID)
	}
	if s.Valid&fs.SetGID != 0 {
		m.GID = true
		a.GID = hp.GID(s.Owner.GID)
	}
	if s.Valid&fs.SetSize != 0 {
		if s.Size < 0 {
			return syscall.EINVAL
		}
		m.Size = true
		a.Size = uint64(s.Size)
	}
	if s.Valid&fs.SetAtime != 0 {
		m.ATime, m.ATimeNotSystemTime = true, true
		a.ATimeSeconds, a.ATimeNanoSeconds = uint64(s.Atime.Unix()), uint64(s.Atime.Nanosecond())
	}
	if s.Valid&fs.SetMtime != 0 {
		m.MTime, m.MTimeNotSystemTime = true, true
		a.MTimeSeconds, a.MTimeNanoSeconds = uint64(s.Mtime.Unix()), uint64(s.Mtime.Nanosecond())
	}
	if s.Valid == 0 {
		return nil
	}
	return cerr(n.f.SetAttr(m, a))
}

// chown gives a new node the owner asked for when it differs from what
// the server made it with (9P2000.L's creations carry only a gid; the uid
// is the attach uid).
func (n *node) chown(o fs.Owner) error {
	if o.UID == n.cl.uid || n.cl.ucreate {
		return nil
	}
	return n.SetAttr(fs.SetAttr{Valid: fs.SetUID | fs.SetGID, Owner: o})
}

// newNode makes the node for a walked fid.
func (c *client) newNode(f hp.File, qid hp.QID) (fs.Node, error) {
	n := node{cl: c, f: f, qid: qid}
	switch {
	case qid.Type&hp.TypeDir != 0:
		return &dir{node: n}, nil
	case qid.Type&hp.TypeSymlink != 0:
		return &symlink{n}, nil
	}
	// A regular file or a special one: only the mode tells.
	qid, _, a, err := f.GetAttr(hp.AttrMask{Mode: true})
	if err != nil {
		f.Close()
		return nil, cerr(err)
	}
	n.qid = qid
	return c.typedNode(n, fs.Mode(a.Mode)), nil
}

// typedNode makes the node of a walked fid whose mode is known.
func (c *client) typedNode(n node, mode fs.Mode) fs.Node {
	switch mode.Type() {
	case fs.ModeRegular:
		return &cfile{node: n}
	case fs.ModeDir:
		return &dir{node: n}
	case fs.ModeSymlink:
		return &symlink{n}
	}
	return &special{n}
}

type special struct{ node }

type symlink struct{ node }

func (s *symlink) Readlink() (string, error) {
	t, err := s.f.Readlink()
	return t, cerr(err)
}

// file is a regular file of the client (named cfile to keep the server's
// name): its I/O fids are opened on first use.
type cfile struct {
	node
	mu     sync.Mutex
	rw, ro hp.File // opened read-write, or read-only when that was refused
	wo     hp.File
}

var (
	_ fs.File    = (*cfile)(nil)
	_ fs.Dir     = (*dir)(nil)
	_ fs.Symlink = (*symlink)(nil)
	_ fs.Node    = (*special)(nil)
)

// openFid opens a new fid of n with flags.
func (n *node) openFid(flags hp.OpenFlags) (hp.File, error) {
	_, nf, err := n.f.Walk(nil)
	if err != nil {
		return nil, cerr(err)
	}
	if _, _, err := nf.Open(flags); err != nil {
		nf.Close()
		return nil, cerr(err)
	}
	return nf, nil
}

func denied(err error) bool {
	return errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EROFS)
}

// ioFid returns an opened fid able to read (write false) or write.
func (f *cfile) ioFid(write bool) (hp.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rw != nil {
		return f.rw, nil
	}
	if !write && f.ro != nil {
		return f.ro, nil
	}
	if write && f.wo != nil {
		return f.wo, nil
	}
	if f.ro == nil && f.wo == nil {
		nf, err := f.openFid(hp.ReadWrite)
		if err == nil {
			f.rw = nf
			return nf, nil
		}
		if !denied(err) {
			return nil, err
		}
	}
	flags := hp.ReadOnly
	if write {
		flags = hp.WriteOnly
	}
	nf, err := f.openFid(flags)
	if err != nil {
		return nil, err
	}
	if write {
		f.wo = nf
	} else {
		f.ro = nf
	}
	return nf, nil
}

func (f *cfile) ReadAt(p []byte, off int64) (total int, err error) {
	if off < 0 {
		return 0, syscall.EINVAL
	}
	fid, err := f.ioFid(false)
	if err != nil {
		return 0, err
	}
	defer badServer(&total, &err)
	for total < len(p) {
		n, err := fid.ReadAt(p[total:], off+int64(total))
		if n > len(p)-total {
			// More than asked: p9 would have copied only what fits.
			return total, fmt.Errorf("9p: server returned %d bytes for a read of %d: %w", n, len(p)-total, syscall.EIO)
		}
		total += n
		if err != nil {
			return total, cerr(err)
		}
		if n == 0 {
			return total, io.EOF
		}
	}
	return total, nil
}

// badServer turns a panic of p9's client into EIO: p9 v0.4.1 panics when a
// server answers a read or write with more bytes than were asked for
// (its chunking loop finds more done than requested).
func badServer(n *int, err *error) {
	if r := recover(); r != nil {
		*n = 0
		*err = fmt.Errorf("9p: bad reply from the server (%v): %w", r, syscall.EIO)
	}
}

func (f *cfile) WriteAt(p []byte, off int64) (total int, err error) {
	if off < 0 {
		return 0, syscall.EINVAL
	}
	fid, err := f.ioFid(true)
	if err != nil {
		return 0, err
	}
	defer badServer(&total, &err)
	for total < len(p) {
		n, err := fid.WriteAt(p[total:], off+int64(total))
		if n > len(p)-total {
			return total, fmt.Errorf("9p: server wrote %d bytes of %d: %w", n, len(p)-total, syscall.EIO)
		}
		total += n
		if err != nil {
			return total, cerr(err)
		}
		if n == 0 {
			return total, syscall.EIO
		}
	}
	return total, nil
}

func (f *cfile) Truncate(size int64) error {
	return f.SetAttr(fs.SetAttr{Valid: fs.SetSize, Size: size})
}

func (f *cfile) Sync() error {
	fid, err := f.ioFid(false)
	if err != nil {
		return err
	}
	return cerr(fid.FSync())
}

type dir struct {
	node
	mu sync.Mutex
	rd hp.File // opened for Treaddir on first use
}

func (d *dir) Lookup(name string) (fs.Node, error) {
	if err := fs.ValidName(name); err != nil {
		return nil, err
	}
	if d.cl.walkGetAttr {
		qids, nf, _, a, err := d.f.WalkGetAttr([]string{name})
		if err != nil {
			return nil, cerr(err)
		}
		if len(qids) != 1 {
			nf.Close()
			return nil, syscall.ENOENT
		}
		return d.cl.typedNode(node{cl: d.cl, f: nf, qid: qids[0]}, fs.Mode(a.Mode)), nil
	}
	qids, nf, err := d.f.Walk([]string{name})
	if err != nil {
		return nil, cerr(err)
	}
	if len(qids) != 1 {
		nf.Close()
		return nil, syscall.ENOENT
	}
	return d.cl.newNode(nf, qids[0])
}

// walkNew walks to a node just made.
func (d *dir) walkNew(name string) (node, error) {
	qids, nf, err := d.f.Walk([]string{name})
	if err != nil {
		return node{}, cerr(err)
	}
	if len(qids) != 1 {
		nf.Close()
		return node{}, syscall.EIO
	}
	return node{cl: d.cl, f: nf, qid: qids[0]}, nil
}

func (d *dir) Create(name string, perm fs.Mode, owner fs.Owner) (fs.File, error) {
	if err := fs.ValidName(name); err != nil {
		return nil, err
	}
	_, nf, err := d.f.Walk(nil)
	if err != nil {
		return nil, cerr(err)
	}
	// p9's client turns the cloned fid into the created, opened file.
	_, qid, _, err := nf.Create(name, hp.ReadWrite|syscall.O_EXCL, hp.FileMode(perm&fs.ModePerm), hp.UID(owner.UID), hp.GID(owner.GID))
	if err != nil {
		nf.Close()
		return nil, d.removed(cerr(err))
	}
	f := &cfile{node: node{cl: d.cl, f: nf, qid: qid}, rw: nf}
	if err := f.chown(owner); err != nil {
		return nil, err
	}
	return f, nil
}

func (d *dir) Mkdir(name string, perm fs.Mode, owner fs.Owner) (fs.Dir, error) {
	if err := fs.ValidName(name); err != nil {
		return nil, err
	}
	if _, err := d.f.Mkdir(name, hp.FileMode(perm&fs.ModePerm), hp.UID(owner.UID), hp.GID(owner.GID)); err != nil {
		return nil, d.removed(cerr(err))
	}
	n, err := d.walkNew(name)
	if err != nil {
		return nil, err
	}
	if err := n.chown(owner); err != nil {
		return nil, err
	}
	return &dir{node: n}, nil
}

func (d *dir) Symlink(name, target string, owner fs.Owner) (fs.Symlink, error) {
	if err := fs.ValidName(name); err != nil {
		return nil, err
	}
	if _, err := d.f.Symlink(target, name, hp.UID(owner.UID), hp.GID(owner.GID)); err != nil {
		return nil, d.removed(cerr(err))
	}
	n, err := d.walkNew(name)
	if err != nil {
		return nil, err
	}
	if err := n.chown(owner); err != nil {
		return nil, err
	}
	return &symlink{n}, nil
}

func (d *dir) Mknod(name string, mode fs.Mode, rdev uint64, owner fs.Owner) (fs.Node, error) {
	if err := fs.ValidName(name); err != nil {
		return nil, err
	}
	major, minor := devParts(rdev)
	if _, err := d.f.Mknod(name, hp.FileMode(mode), major, minor, hp.UID(owner.UID), hp.GID(owner.GID)); err != nil {
		return nil, d.removed(cerr(err))
	}
	n, err := d.walkNew(name)
	if err != nil {
		return nil, err
	}
	if err := n.chown(owner); err != nil {
		return nil, err
	}
	return d.cl.newNode(n.f, n.qid)
}

// removed corrects the EINVAL p9's server gives for a creation in a
// directory that has been removed (its fid is marked deleted) to the
// ENOENT Linux gives: a removed directory has no links left.
func (d *dir) removed(err error) error {
	if !errors.Is(err, syscall.EINVAL) {
		return err
	}
	_, _, a, serr := d.f.GetAttr(hp.AttrMask{NLink: true})
	if serr == nil && a.NLink == 0 {
		return syscall.ENOENT
	}
	return err
}

// nodeOf returns the client node under an fs node of this file system.
func (d *dir) nodeOf(n fs.Node) (*node, bool) {
	var p *node
	switch v := n.(type) {
	case *dir:
		p = &v.node
	case *cfile:
		p = &v.node
	case *symlink:
		p = &v.node
	case *special:
		p = &v.node
	default:
		return nil, false
	}
	return p, p.cl == d.cl
}

func (d *dir) Link(name string, target fs.Node) error {
	if err := fs.ValidName(name); err != nil {
		return err
	}
	t, ok := d.nodeOf(target)
	if !ok {
		return syscall.EXDEV
	}
	if _, isDir := target.(*dir); isDir {
		return syscall.EPERM
	}
	return cerr(d.f.Link(t.f, name))
}

func (d *dir) Unlink(name string) error { return d.remove(name, 0) }

func (d *dir) Rmdir(name string) error { return d.remove(name, atRemoveDir) }

func (d *dir) remove(name string, flags uint32) error {
	if err := fs.ValidName(name); err != nil {
		return err
	}
	err := cerr(d.f.UnlinkAt(name, flags))
	if !errors.Is(err, syscall.EOPNOTSUPP) && !errors.Is(err, syscall.ENOSYS) {
		return err
	}
	// diod answers Tunlinkat with EOPNOTSUPP: walk to the entry and
	// Tremove it, checking its type first as unlink(2) and rmdir(2) do.
	n, err := d.Lookup(name)
	if err != nil {
		return err
	}
	_, isDir := n.(*dir)
	switch {
	case flags&atRemoveDir != 0 && !isDir:
		return syscall.ENOTDIR
	case flags&atRemoveDir == 0 && isDir:
		return syscall.EISDIR
	}
	p, _ := d.nodeOf(n)
	r, ok := p.f.(interface{ Remove() error })
	if !ok {
		return syscall.ENOSYS
	}
	return cerr(r.Remove())
}

func (d *dir) Rename(oldName string, newDir fs.Dir, newName string) error {
	if err := fs.ValidName(oldName); err != nil {
		return err
	}
	if err := fs.ValidName(newName); err != nil {
		return err
	}
	nd, ok := newDir.(*dir)
	if !ok || nd.cl != d.cl {
		return syscall.EXDEV
	}
	err := cerr(d.f.RenameAt(oldName, nd.f, newName))
	if !errors.Is(err, syscall.EOPNOTSUPP) && !errors.Is(err, syscall.ENOSYS) {
		return err
	}
	// The older Trename, on a walked fid.
	n, err := d.Lookup(oldName)
	if err != nil {
		return err
	}
	p, _ := d.nodeOf(n)
	return cerr(p.f.Rename(nd.f, newName))
}

// ReadDir reads entries from the server in Rreaddir-sized batches; "."
// and ".." (which servers such as diod send) are left out.
func (d *dir) ReadDir(cookie uint64, n int) ([]fs.DirEntry, error) {
	d.mu.Lock()
	if d.rd == nil {
		fid, err := d.openFid(hp.ReadOnly)
		if err != nil {
			d.mu.Unlock()
			return nil, err
		}
		d.rd = fid
	}
	fid := d.rd
	d.mu.Unlock()
	var out []fs.DirEntry
	count := d.cl.msize - ioHdrSize // diod refuses more
	for {
		ents, err := fid.Readdir(cookie, count)
		if err != nil {
			return nil, cerr(err)
		}
		if len(ents) == 0 {
			return out, nil
		}
		for _, e := range ents {
			cookie = e.Offset
			if e.Name == "." || e.Name == ".." {
				continue
			}
			out = append(out, fs.DirEntry{Name: e.Name, Ino: e.QID.Path, Type: modeOfDtype(uint8(e.Type)), Next: e.Offset})
			if n > 0 && len(out) == n {
				return out, nil
			}
		}
		if n > 0 && len(out) > 0 {
			return out, nil // fewer than asked is fine; the end is an empty result
		}
	}
}
