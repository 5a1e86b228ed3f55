//go:build race

package merkle

// raceEnabled: the race detector slows the tree ~5x and inflates memory, so
// the 1M-key memory test skips under it.
const raceEnabled = true
