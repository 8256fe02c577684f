package netdev

// CopySegs copies the first n bytes held in src into dst (both
// scatter-gather lists, as a Frame's Segs and an RxSlot's Bufs are) and
// returns how many it copied: fewer than n if src or dst is shorter.
func CopySegs(dst, src [][]byte, n int) int {
	done := 0
	di, doff := 0, 0
	for _, s := range src {
		if done >= n {
			break
		}
		if len(s) > n-done {
			s = s[:n-done]
		}
		for len(s) > 0 && di < len(dst) {
			c := copy(dst[di][doff:], s)
			s = s[c:]
			done += c
			doff += c
			if doff == len(dst[di]) {
				di, doff = di+1, 0
			}
		}
		if len(s) > 0 {
			break
		}
	}
	return done
}
