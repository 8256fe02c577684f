package ext2

import (
	"encoding/binary"
	"fmt"
	"strings"
	"syscall"
)

var le = binary.LittleEndian

const (
	superOffset = 1024
	superSize   = 1024
	magic       = 0xEF53
	rootIno     = 2
	descSize    = 32
	linkMax     = 32000 // EXT2_LINK_MAX
	stateValid  = 1
)

// Superblock field offsets.
const (
	sbInodesCount     = 0
	sbBlocksCount     = 4
	sbRBlocksCount    = 8
	sbFreeBlocks      = 12
	sbFreeInodes      = 16
	sbFirstDataBlock  = 20
	sbLogBlockSize    = 24
	sbLogFragSize     = 28
	sbBlocksPerGroup  = 32
	sbFragsPerGroup   = 36
	sbInodesPerGroup  = 40
	sbMtime           = 44
	sbWtime           = 48
	sbMntCount        = 52
	sbMaxMntCount     = 54
	sbMagic           = 56
	sbState           = 58
	sbErrors          = 60
	sbLastCheck       = 64
	sbRevLevel        = 76
	sbFirstIno        = 84
	sbInodeSize       = 88
	sbBlockGroupNr    = 90
	sbFeatureCompat   = 92
	sbFeatureIncompat = 96
	sbFeatureROCompat = 100
	sbUUID            = 104
	sbVolumeName      = 120
	sbReservedGDT     = 206
	sbHashSeed        = 236
	sbDefHashVersion  = 252
	sbMkfsTime        = 264
	sbMinExtraIsize   = 348
	sbWantExtraIsize  = 350
	sbFlags           = 352
)

// Feature bits.
const (
	compatDirPrealloc  = 0x1
	compatImagic       = 0x2
	compatHasJournal   = 0x4
	compatExtAttr      = 0x8
	compatResizeInode  = 0x10
	compatDirIndex     = 0x20
	incompatFiletype   = 0x2
	incompatRecover    = 0x4
	roCompatSparse     = 0x1
	roCompatLargeFile  = 0x2
	roCompatHugeFile   = 0x8
	roCompatExtraIsize = 0x40
)

var compatNames = map[uint32]string{
	0x1: "dir_prealloc", 0x2: "imagic_inodes", 0x4: "has_journal", 0x8: "ext_attr",
	0x10: "resize_inode", 0x20: "dir_index", 0x40: "lazy_bg", 0x100: "exclude_bitmap",
	0x200: "sparse_super2", 0x400: "fast_commit", 0x800: "stable_inodes", 0x1000: "orphan_file",
}

var incompatNames = map[uint32]string{
	0x1: "compression", 0x2: "filetype", 0x4: "needs_recovery", 0x8: "journal_dev",
	0x10: "meta_bg", 0x40: "extents", 0x80: "64bit", 0x100: "mmp", 0x200: "flex_bg",
	0x400: "ea_inode", 0x1000: "dirdata", 0x2000: "metadata_csum_seed", 0x4000: "large_dir",
	0x8000: "inline_data", 0x10000: "encrypt", 0x20000: "casefold",
}

var roCompatNames = map[uint32]string{
	0x1: "sparse_super", 0x2: "large_file", 0x4: "btree_dir", 0x8: "huge_file",
	0x10: "uninit_bg", 0x20: "dir_nlink", 0x40: "extra_isize", 0x80: "snapshot",
	0x100: "quota", 0x200: "bigalloc", 0x400: "metadata_csum", 0x800: "replica",
	0x1000: "read-only", 0x2000: "project", 0x4000: "shared_blocks", 0x8000: "verity",
	0x10000: "orphan_present",
}

func featureNames(bits uint32, names map[uint32]string) string {
	var out []string
	for b := uint32(1); b != 0; b <<= 1 {
		if bits&b == 0 {
			continue
		}
		if n, ok := names[b]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("unknown(0x%x)", b))
		}
	}
	return strings.Join(out, ",")
}

// Features the driver reads and writes.
const (
	supportedIncompat = incompatFiletype
	supportedROCompat = roCompatSparse | roCompatLargeFile
)

// geometry is what the superblock says about the layout, validated.
type geometry struct {
	bs             int
	blocks         uint32
	firstData      uint32
	bpg, ipg       uint32
	groups         uint32
	inodes         uint32
	inodeSize      int
	firstIno       uint32
	gdtBlocks      uint32
	itableBlocks   uint32
	ptrsPerBlock   uint64
	revLevel       uint32
	sparseSuper    bool
	filetype       bool
	incompat       uint32
	roCompat       uint32
	compat         uint32
	minExtraIsize  uint16
	reservedGDT    uint32
	reservedBlocks uint32
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("ext2: corrupt file system: "+format+": %w", append(args, syscall.EIO)...)
}

// parseSuper validates a superblock for a device of devSize bytes.
func parseSuper(sb []byte, devSize int64) (*geometry, error) {
	if le.Uint16(sb[sbMagic:]) != magic {
		return nil, fmt.Errorf("ext2: no ext2 superblock (magic 0x%04x): %w", le.Uint16(sb[sbMagic:]), syscall.EINVAL)
	}
	g := &geometry{}
	lbs := le.Uint32(sb[sbLogBlockSize:])
	if lbs > 6 {
		return nil, corrupt("block size 2^(10+%d)", lbs)
	}
	g.bs = 1024 << lbs
	g.blocks = le.Uint32(sb[sbBlocksCount:])
	g.firstData = le.Uint32(sb[sbFirstDataBlock:])
	g.bpg = le.Uint32(sb[sbBlocksPerGroup:])
	g.ipg = le.Uint32(sb[sbInodesPerGroup:])
	g.inodes = le.Uint32(sb[sbInodesCount:])
	g.revLevel = le.Uint32(sb[sbRevLevel:])
	g.inodeSize, g.firstIno = 128, 11
	if g.revLevel > 1 {
		return nil, fmt.Errorf("ext2: revision %d: %w", g.revLevel, syscall.EINVAL)
	}
	if g.revLevel == 1 {
		g.inodeSize = int(le.Uint16(sb[sbInodeSize:]))
		g.firstIno = le.Uint32(sb[sbFirstIno:])
		g.compat = le.Uint32(sb[sbFeatureCompat:])
		g.incompat = le.Uint32(sb[sbFeatureIncompat:])
		g.roCompat = le.Uint32(sb[sbFeatureROCompat:])
	}
	wantFirst := uint32(0)
	if g.bs == 1024 {
		wantFirst = 1
	}
	switch {
	case g.firstData != wantFirst:
		return nil, corrupt("first data block %d with %d-byte blocks", g.firstData, g.bs)
	case g.bpg == 0 || g.bpg > uint32(8*g.bs):
		return nil, corrupt("%d blocks per group", g.bpg)
	case g.ipg == 0 || g.ipg > uint32(8*g.bs):
		return nil, corrupt("%d inodes per group", g.ipg)
	case g.inodeSize < 128 || g.inodeSize > g.bs || g.inodeSize&(g.inodeSize-1) != 0:
		return nil, corrupt("inode size %d", g.inodeSize)
	case g.blocks <= g.firstData:
		return nil, corrupt("%d blocks", g.blocks)
	case int64(g.blocks)*int64(g.bs) > devSize:
		return nil, corrupt("%d blocks of %d bytes on a %d-byte device", g.blocks, g.bs, devSize)
	}
	g.groups = (g.blocks - g.firstData + g.bpg - 1) / g.bpg
	if uint64(g.groups)*uint64(g.ipg) != uint64(g.inodes) {
		return nil, corrupt("%d inodes for %d groups of %d", g.inodes, g.groups, g.ipg)
	}
	if g.firstIno <= rootIno || g.firstIno > g.inodes {
		return nil, corrupt("first inode %d", g.firstIno)
	}
	g.gdtBlocks = (g.groups*descSize + uint32(g.bs) - 1) / uint32(g.bs)
	g.itableBlocks = uint32((uint64(g.ipg)*uint64(g.inodeSize) + uint64(g.bs) - 1) / uint64(g.bs))
	g.ptrsPerBlock = uint64(g.bs / 4)
	g.sparseSuper = g.roCompat&roCompatSparse != 0
	g.filetype = g.incompat&incompatFiletype != 0
	g.reservedGDT = uint32(le.Uint16(sb[sbReservedGDT:]))
	g.reservedBlocks = le.Uint32(sb[sbRBlocksCount:])
	if g.inodeSize > 128 {
		g.minExtraIsize = le.Uint16(sb[sbMinExtraIsize:])
	}
	if 1+g.firstData+g.gdtBlocks > g.blocks {
		return nil, corrupt("group descriptors past the end")
	}
	return g, nil
}

// groupHasSuper reports whether group n holds a superblock backup.
func (g *geometry) groupHasSuper(n uint32) bool {
	if !g.sparseSuper || n <= 1 {
		return true
	}
	for _, b := range []uint32{3, 5, 7} {
		p := b
		for p < n {
			p *= b
		}
		if p == n {
			return true
		}
	}
	return false
}

// groupStart returns the first block of group n.
func (g *geometry) groupStart(n uint32) uint32 { return g.firstData + n*g.bpg }

// groupBlocks returns the number of blocks in group n.
func (g *geometry) groupBlocks(n uint32) uint32 {
	s := g.groupStart(n)
	return min(g.bpg, g.blocks-s)
}
