//go:build race

package wire

// raceEnabled: under the race detector sync.Pool drops a random share of
// what it is given, so allocation counts mean nothing.
const raceEnabled = true
