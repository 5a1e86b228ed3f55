package consensus_test

import (
	"errors"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/crypto"
)

// brokenKey signs until broken is set, then fails like a signer whose
// hardware or remote signing service went away.
type brokenKey struct {
	crypto.PrivateKey
	broken *bool
}

var errSignerGone = errors.New("signer unavailable")

func (k brokenKey) Sign(d crypto.Domain, msg []byte) ([]byte, error) {
	if *k.broken {
		return nil, errSignerGone
	}
	return k.PrivateKey.Sign(d, msg)
}

// TestSignerFailureIsFatal: when signing fails for any reason other than a
// safety rule refusing, the core must not carry on silently as a replica
// that never votes or proposes again: Step returns the error as fatal, and
// every later Step returns it too. The other three replicas keep going.
func TestSignerFailureIsFatal(t *testing.T) {
	c := newCluster(t, 4)
	c.stopOnFatal = true
	broken := false
	c.keys[1] = brokenKey{PrivateKey: c.keys[1], broken: &broken}
	c.startAll()
	c.advance(200 * time.Millisecond)
	if len(c.fatal) != 0 {
		t.Fatalf("fatal errors before the signer broke: %v", c.fatal)
	}
	core := c.cores[1]
	broken = true
	h := c.finalHeight(0)
	// Its next vote is due within a view (~10 ms here), long before any
	// timeout would make it sign a timeout object.
	c.advance(100 * time.Millisecond)
	err := c.fatal[1]
	if !errors.Is(err, errSignerGone) || !consensus.IsFatal(err) {
		t.Fatalf("replica 1 with a broken signer: error %v (want the signer's error, fatal, at its next vote)", err)
	}
	c.advance(10 * time.Second)
	if len(c.fatal) != 1 {
		t.Fatalf("other replicas stopped too: %v", c.fatal)
	}
	if _, again := core.Step(c.now, consensus.TimerEvent{}); !errors.Is(again, errSignerGone) {
		t.Fatalf("a step after the fatal error returned %v", again)
	}
	if c.finalHeight(0) <= h+5 {
		t.Fatalf("three live replicas finalized only %d blocks after replica 1 stopped", c.finalHeight(0)-h)
	}
	c.checkNoConflicts()
}
