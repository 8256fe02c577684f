package memfs

// page is a 4 KiB unit of file data.
type page = [pageSize]byte

// denseLimit is how many pages a file indexes by slice (64 MiB); pages
// past it live in a map. The slice makes sequential I/O on ordinary files
// an index per page rather than a hash, and costs at most 8 bytes per 4 KiB
// of the file's extent below 64 MiB even when that extent is a hole; a
// page far out (a 1 TiB sparse file) costs one map entry.
const denseLimit = 1 << 14

// pageStore maps page indexes to pages; a missing page is a hole.
type pageStore struct {
	dense []*page         // pages [0, len(dense)), nil for holes
	far   map[int64]*page // pages at denseLimit and beyond
	n     int64           // pages held
	small [2]*page        // dense's first backing array: small files allocate no slice
}

func newPageStore() *pageStore {
	s := new(pageStore)
	s.dense = s.small[:0]
	return s
}

// recycleAt is the size (in pages) at which a file's pages are given back
// to its file system's pool when the file is collected: a large file
// rewritten under a new name then reuses memory without the heap growing.
const recycleAt = 16

// count returns the pages held; s may be nil.
func (s *pageStore) count() int64 {
	if s == nil {
		return 0
	}
	return s.n
}

func (s *pageStore) get(i int64) *page {
	if s == nil {
		return nil
	}
	if i < int64(len(s.dense)) {
		return s.dense[i]
	}
	if i < denseLimit {
		return nil
	}
	return s.far[i]
}

// put stores p at i, where there is no page yet.
func (s *pageStore) put(i int64, p *page) {
	s.n++
	if i < denseLimit {
		if i >= int64(len(s.dense)) {
			if i < int64(cap(s.dense)) {
				s.dense = s.dense[:i+1]
			} else {
				s.dense = append(s.dense, make([]*page, i+1-int64(len(s.dense)))...)
			}
		}
		s.dense[i] = p
		return
	}
	if s.far == nil {
		s.far = map[int64]*page{}
	}
	s.far[i] = p
}

// drop removes the pages in [lo, hi), handing each to free. It visits
// either the index range or the map, whichever is smaller, so dropping a
// huge range of a small file is cheap.
func (s *pageStore) drop(lo, hi int64, free func(*page)) {
	if s == nil || lo >= hi {
		return
	}
	if d := int64(len(s.dense)); lo < d {
		end := min(hi, d)
		for i := lo; i < end; i++ {
			if p := s.dense[i]; p != nil {
				s.dense[i] = nil
				s.n--
				free(p)
			}
		}
		if end == d {
			// Trim trailing holes, keeping the capacity for a rewrite.
			k := lo
			for k > 0 && s.dense[k-1] == nil {
				k--
			}
			s.dense = s.dense[:k]
		}
	}
	if len(s.far) == 0 || hi <= denseLimit {
		return
	}
	lo = max(lo, denseLimit)
	if hi-lo <= int64(len(s.far)) {
		for i := lo; i < hi; i++ {
			if p, ok := s.far[i]; ok {
				delete(s.far, i)
				s.n--
				free(p)
			}
		}
		return
	}
	for i, p := range s.far {
		if i >= lo && i < hi {
			delete(s.far, i)
			s.n--
			free(p)
		}
	}
}

// recycle hands every page to put. It runs as the cleanup of a collected
// inode, when nothing else can reach s.
func (s *pageStore) recycle(put func(any)) {
	for _, p := range s.dense {
		if p != nil {
			put(p)
		}
	}
	for _, p := range s.far {
		put(p)
	}
}
