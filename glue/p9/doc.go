// Package p9 provides the glue between goskit's file system component and
// 9P2000.L, using github.com/hugelgupf/p9 v0.4.1 as published: a server
// that exports any fs.FileSystem over any net.Listener or net.Conn (host
// TCP, the kit's netstack, net.Pipe), and a client, Dial, whose result is
// itself an fs.FileSystem.
//
// # Working with real peers
//
// The glue sits on the byte stream between p9 and the connection and
// fixes what stops p9 from talking to other 9P implementations such as
// diod (measured with p9 v0.4.1 and Debian's diod 1.0.24):
//
//   - Server: p9 answers Tauth with ENOSYS, while diod's tools (diodls,
//     diodcat) accept only ENOENT as "no authentication needed"; the glue
//     answers Tauth itself with ENOENT.
//   - Server: the framing of every message is checked before p9 decodes
//     it (a size below the header or above the msize closes the
//     connection), nothing but Tversion is accepted before a version is
//     agreed and a second Tversion is refused (p9 would serve a Tread
//     without its buffer pool, or swap the pool under requests in flight:
//     both panic), and Tread and Treaddir counts are clamped to the msize
//     (p9 slices its msize-long buffer with a Tread's count, and ignores
//     bytes after the count, so a padded Tread slipped past a check on the
//     message's length: FuzzServer found it).
//     Txattrcreate sizes above 64 KiB are refused (p9 would buffer the
//     value in memory without bound), and so are walks of more than 16
//     names (p9's Rwalk would outgrow the msize). The glue answers Tflush
//     itself, after the flushed request's reply: p9 makes a flush wait for
//     its old tag, so a Tflush naming its own tag waited forever and the
//     connection could never end (FuzzServer found it).
//   - Client: p9 asks for "9P2000.L.Google.7", which diod rejects (Rlerror
//     EIO) without stepping down; Dial negotiates itself before p9 sees the
//     connection, asking for the extension first (the kit's server speaks
//     it: a lookup is then one Twalkgetattr) and then for plain
//     "9P2000.L" (Options.Plain asks only for that), and answers p9's own
//     Tversion locally with the result. p9 ignores the msize the server grants
//     (diod caps at 64 KiB and drops a connection that sends more); Dial
//     gives p9 the granted msize, so reads and writes are chunked within
//     it. p9 attaches with no uid, which diod refuses; the glue fills in
//     Options.UID. diod answers Tunlinkat and Trenameat with EOPNOTSUPP;
//     the client then walks to the entry and sends Tremove or Trename.
//   - Client: p9's client panics when a server answers a read or write
//     with more bytes than were asked for; the glue turns that into EIO.
//
// # What p9 v0.4.1 cannot do through this glue
//
// p9 v0.4.1 masks the set-uid and set-gid bits (it keeps the sticky bit)
// when it encodes and decodes the modes of Tlcreate, Tmkdir and Tsetattr,
// on both sides: through this glue they cannot be set, though Tgetattr
// reports them. Its server answers Txattrwalk with EINVAL for every
// error (ENODATA included), and a creation in a removed directory with
// EINVAL (the kit's client turns that one into ENOENT after checking the
// directory's link count). Its client has no extended attributes, so the
// kit's client offers no fs.Xattrer; the server serves them for nodes
// that are fs.Xattrers. 9P2000.L has no fallocate: no fs.Allocater.
// Locks (Tlock) are granted without being kept.
//
// # Execution environment
//
// Servers and clients are safe for concurrent use: p9 serves each
// connection's requests on goroutines of its own, and the client's nodes
// may be used from many goroutines. Every call blocks on the connection.
// A client's fids are clunked when their nodes are garbage collected (p9
// sets finalizers), or all at once when the file system is closed.
package p9
