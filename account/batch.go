package account

import (
	"fmt"
	"sync"
	"sync/atomic"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Item is one signature to verify: Sig over Msg under Key.
type Item struct {
	Key Key
	Msg []byte
	Sig []byte
}

// MaxBatchItems bounds one VerifyBatch call, so a caller cannot make it
// hold unbounded per-item state.
const MaxBatchItems = 1 << 16

// minEd25519Batch is the smallest Ed25519 chunk worth a batch equation; a
// smaller one is verified one signature at a time.
const minEd25519Batch = 4

// VerifyBatch verifies items on up to workers goroutines (at least one)
// and returns one result per item, in order: nil, or what VerifySignature
// would return for it. The results are exactly VerifySignature's.
//
// Ed25519 items are split into one chunk per worker and each chunk is
// checked with one batch equation (curve25519-voi, random linear
// combination, ~2× faster per signature than single checks); when a batch
// fails, its items are re-checked one by one so the result names the bad
// ones. ECDSA P-256 has no batch verification: its items are checked one
// by one, spread over the workers.
func VerifyBatch(items []Item, workers int) []error {
	out := make([]error, len(items))
	if len(items) > MaxBatchItems {
		for i := range out {
			out[i] = fmt.Errorf("%w: batch of %d above %d", ErrInvalidSignature, len(items), MaxBatchItems)
		}
		return out
	}
	workers = max(workers, 1)

	// Ed25519 items whose shapes are right go to batches; everything else
	// is a single job.
	var ed []int
	var jobs []func()
	for i, it := range items {
		if it.Key.SigAlgo == Ed25519 && it.Key.HashAlgo == HashNone && len(it.Sig) == SignatureSize {
			ed = append(ed, i)
			continue
		}
		jobs = append(jobs, func() { out[i] = VerifySignature(it.Key, it.Msg, it.Sig) })
	}
	chunk := max((len(ed)+workers-1)/workers, minEd25519Batch)
	for start := 0; start < len(ed); start += chunk {
		idx := ed[start:min(start+chunk, len(ed))]
		jobs = append(jobs, func() { verifyEd25519Chunk(items, idx, out) })
	}
	run(jobs, workers)
	return out
}

// verifyEd25519Chunk writes the results of items[idx] into out.
func verifyEd25519Chunk(items []Item, idx []int, out []error) {
	if len(idx) < minEd25519Batch {
		for _, i := range idx {
			out[i] = VerifySignature(items[i].Key, items[i].Msg, items[i].Sig)
		}
		return
	}
	// Keys are checked first, with the same errors as a single check: the
	// batch only ever sees well-formed keys.
	bv := voi.NewBatchVerifierWithCapacity(len(idx))
	opts := ed25519Options()
	var batched []int
	for _, i := range idx {
		if err := checkEd25519(items[i].Key.PublicKey); err != nil {
			out[i] = err
			continue
		}
		bv.AddWithOptions(voi.PublicKey(items[i].Key.PublicKey), items[i].Msg, items[i].Sig, opts)
		batched = append(batched, i)
	}
	if len(batched) == 0 {
		return
	}
	// nil: the random scalars come from crypto/rand. They only make a
	// forged batch fail with overwhelming probability; they do not change
	// which valid signatures pass.
	_, valid := bv.Verify(nil)
	for j, i := range batched {
		if !valid[j] {
			out[i] = ErrInvalidSignature
		}
	}
}

// run executes jobs on up to workers goroutines and waits for all.
func run(jobs []func(), workers int) {
	if workers == 1 || len(jobs) <= 1 {
		for _, j := range jobs {
			j()
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(jobs)) {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= len(jobs) {
					return
				}
				jobs[k]()
			}
		})
	}
	wg.Wait()
}
