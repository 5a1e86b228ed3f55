package transaction

import (
	"testing"

	"github.com/floe-bft/floe/account"
)

// BenchmarkCheck: the typical transaction, one account proposing, paying
// and authorizing with one full-weight key (one envelope signature), per
// algorithm of that key.
func BenchmarkCheck(b *testing.B) {
	for _, index := range []uint64{2, 3, 4} { // world.add cycles algorithms by index
		w := newWorld()
		a := w.add(b, index, 1000)
		to := w.add(b, 9, 1000)
		tx := &Transaction{ProposalKey: ProposalKey{Address: a}, Payer: a, Authorizers: []account.Address{a}, Op: Transfer{To: to, Amount: 1}}
		w.signEnvelope(b, tx, a, 0)
		k := w.keys[a][0]
		b.Run(k.SigAlgo.String()+"-"+k.HashAlgo.String(), func(b *testing.B) {
			for b.Loop() {
				if v := Check(tx, chain, w.lookup, 1); !v.Authorized() {
					b.Fatal(v.Err)
				}
			}
		})
	}
}

// BenchmarkCheckMultiParty: proposer, two authorizers and a payer, six
// signatures of mixed algorithms, on 1 and 2 workers.
func BenchmarkCheckMultiParty(b *testing.B) {
	w, tx, _, _, _ := multiParty(b)
	for _, workers := range []int{1, 2} {
		b.Run(map[int]string{1: "workers=1", 2: "workers=2"}[workers], func(b *testing.B) {
			for b.Loop() {
				if v := Check(tx, chain, w.lookup, workers); !v.Authorized() {
					b.Fatal(v.Err)
				}
			}
		})
	}
}

// BenchmarkDecode: decoding a typical signed transfer.
func BenchmarkDecode(b *testing.B) {
	w := newWorld()
	enc := simpleTx(b, w).Encode()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}
