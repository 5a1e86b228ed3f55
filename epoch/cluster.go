package epoch

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/floe-bft/floe/crypto"
)

// MaxClusters bounds an epoch's collector clusters. A cluster index is a
// uint32 in model.ClusterChain; this bound keeps the per-epoch chains, and
// the setup that lists them, small.
const MaxClusters = 1024

// clusterLabel separates the clustering seed from every other use of an
// epoch's random source: leader selection uses the source itself, so a
// seed derived under its own label cannot correlate the two draws.
const clusterLabel = "floe/clusters\x00"

// ClusterSeed derives the seed that deals an epoch's collectors into
// clusters from the epoch's random source (Spec.Seed):
// SHA-256("floe/clusters\0" ‖ source).
func ClusterSeed(source [32]byte) [32]byte {
	return crypto.Sum([]byte(clusterLabel), source[:])
}

// Deal shuffles items with a Fisher–Yates shuffle driven by seed and deals
// them round-robin into k groups, so group sizes differ by at most one and
// the first len(items) mod k groups hold the extra item. It returns nil for
// k ≤ 0; items is not modified.
//
// Why a seeded shuffle rather than, say, sorting by a hash of each item:
// every node must compute the same clusters from public data (the
// identity table and the epoch's random source), no member can choose its
// cluster by choosing its key, and sizes stay balanced whatever the
// hashes. The random stream is SHA-256(seed ‖ counter) with a big-endian
// 64-bit counter, read 8 bytes at a time; draws are made uniform by
// rejection, not by a plain modulo, so no position is favoured.
func Deal[T any](seed [32]byte, items []T, k int) [][]T {
	if k <= 0 {
		return nil
	}
	shuffled := slices.Clone(items)
	s := stream{seed: seed}
	for i := len(shuffled) - 1; i > 0; i-- {
		j := uniform(s.next, uint64(i)+1)
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	}
	out := make([][]T, k)
	for p, it := range shuffled {
		out[p%k] = append(out[p%k], it)
	}
	return out
}

// DealClusters deals collectors (indices into an identity table) into k
// clusters with Deal and sorts each cluster, so that a cluster's listing
// does not depend on the shuffle's order, only on who is in it.
func DealClusters(seed [32]byte, collectors []uint16, k int) [][]uint16 {
	clusters := Deal(seed, collectors, k)
	for _, c := range clusters {
		slices.Sort(c)
	}
	return clusters
}

// AssignClusters is an epoch's cluster list for k clusters: the collection
// members of ids (by index) dealt with DealClusters under
// ClusterSeed(source). k must be 0 when there are no collectors and
// 1..min(MaxClusters, collectors) otherwise.
func AssignClusters(ids []Identity, source [32]byte, k int) ([][]uint16, error) {
	var collectors []uint16
	for i, m := range ids {
		if m.Role == RoleCollection {
			collectors = append(collectors, uint16(i))
		}
	}
	switch {
	case len(collectors) == 0 && k != 0:
		return nil, fmt.Errorf("%w: %d clusters, but the identity table has no collectors (want 0)", ErrInvalid, k)
	case len(collectors) > 0 && (k < 1 || k > MaxClusters || k > len(collectors)):
		return nil, fmt.Errorf("%w: %d clusters for %d collectors (want 1..%d)", ErrInvalid, k, len(collectors), min(MaxClusters, len(collectors)))
	case k == 0:
		return nil, nil
	}
	return DealClusters(ClusterSeed(source), collectors, k), nil
}

// DefaultClusters is the cluster count used when none is given: one cluster
// of every collector, or none when there are no collectors.
func DefaultClusters(ids []Identity) int {
	for _, m := range ids {
		if m.Role == RoleCollection {
			return 1
		}
	}
	return 0
}

// checkClusters recomputes the deal: a setup cannot place collectors by
// hand, so whoever proposes it cannot pack a cluster with members of its
// choosing.
func (s *Spec) checkClusters() error {
	want, err := AssignClusters(s.Identities, s.Seed, len(s.Clusters))
	if err != nil {
		return fmt.Errorf("epoch %d: %w", s.Counter, err)
	}
	if !slices.EqualFunc(want, s.Clusters, slices.Equal) {
		return fmt.Errorf("%w: epoch %d: the clusters are not the deal of the epoch's random source", ErrInvalid, s.Counter)
	}
	return nil
}

// stream is the random stream of Deal: 32-byte blocks SHA-256(seed ‖
// counter), consumed 8 bytes (a big-endian uint64) at a time.
type stream struct {
	seed    [32]byte
	counter uint64
	block   [32]byte
	used    int // bytes of block consumed; a fresh stream has none to give
}

func (s *stream) next() uint64 {
	if s.counter == 0 || s.used == len(s.block) {
		s.block = crypto.Sum(s.seed[:], binary.BigEndian.AppendUint64(nil, s.counter))
		s.counter++
		s.used = 0
	}
	v := binary.BigEndian.Uint64(s.block[s.used:])
	s.used += 8
	return v
}

// uniform draws from [0, n), n > 0, by rejection: x mod n would favour the
// first 2^64 mod n results, so draws among the top 2^64 mod n values are
// thrown away and drawn again (below one draw in 2^52 for n ≤ MaxMembers,
// but correctness does not rest on that being rare).
func uniform(next func() uint64, n uint64) uint64 {
	excess := -n % n // 2^64 mod n, in uint64 arithmetic
	for {
		x := next()
		if x <= math.MaxUint64-excess {
			return x % n
		}
	}
}
