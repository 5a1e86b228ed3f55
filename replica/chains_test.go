package replica_test

import (
	"testing"
	"time"
)

// TestTwoChainsInOneProcess: two independent chains — different chain IDs,
// the same keys (as a collector has on its cluster chain in two epochs) —
// run side by side in one process on one in-memory network, and every
// message of each is also delivered to the other's members. Both finalize,
// each only its own blocks, and every foreign message is rejected by the
// receiver's verifier before it reaches an engine.
func TestTwoChainsInOneProcess(t *testing.T) {
	b := newBus(t)
	b.crossWired = true
	a := b.chain("chain-a", 4, 1)
	c := b.chain("chain-b", 4, 1) // same keys, other chain
	b.startAll(a)
	b.startAll(c)
	b.run(3 * time.Second)
	for _, ms := range [][]*member{a, c} {
		for _, m := range ms {
			if m.down {
				t.Fatalf("a member of %v stopped", m.chain)
			}
			if len(m.final) < 20 {
				t.Fatalf("a member of %v finalized only %d blocks", m.chain, len(m.final))
			}
		}
		checkAgreement(t, ms)
	}
	if b.rejected[a[0].chain] < 100 || b.rejected[c[0].chain] < 100 {
		t.Fatalf("foreign messages rejected: %d by chain a, %d by chain b", b.rejected[a[0].chain], b.rejected[c[0].chain])
	}
}
