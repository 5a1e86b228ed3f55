package fvm

import (
	"context"
	"fmt"
	"testing"

	"github.com/floe-bft/floe/blockstm"
	"github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/transaction"
)

// benchAccounts is how many accounts send the benchmark's transfers:
// each once per block, so a block has no conflicts but the recipients'.
const benchAccounts = 1000

// BenchmarkTransfers measures signed token transfers executed by one node
// (a block of benchAccounts transfers, each from its own account to a
// random other): the native token (Transfer) and the example token
// program (a Call of transfer), sequentially and with Block-STM on 1 and
// 2 workers. Every transaction is signed (Ed25519) and verified, pays
// its fee and advances its sequence number. Reports transactions per
// second.
//
//	go test -run '^$' -bench BenchmarkTransfers -benchtime 5x ./fvm/
func BenchmarkTransfers(b *testing.B) {
	for _, kind := range []string{"native", "token"} {
		c := newChain(b, benchAccounts+1, 1_000_000_000, 1)
		tok := c.addr(2)
		if kind == "token" {
			c.block(c.tx(tok, transaction.Deploy{Code: example(b, "token")}, txOpts{gas: 5_000_000}, tok))
			var mints [][]byte
			for i := 3; i < benchAccounts+3; i++ {
				a := c.addr(i)
				mints = append(mints, c.tx(tok, transaction.Call{Program: tok, Function: "mint", Args: [][]byte{a[:], u64LE(1_000_000)}}, txOpts{}, tok))
			}
			mustOK(b, c.block(mints...))
		}
		var txs [][]byte
		for i := 3; i < benchAccounts+3; i++ {
			from, to := c.addr(i), c.addr(3+(i*7919)%benchAccounts)
			var op transaction.Operation = transaction.Transfer{To: to, Amount: 1}
			if kind == "token" {
				op = transaction.Call{Program: tok, Function: "transfer", Args: [][]byte{to[:], u64LE(1)}}
			}
			txs = append(txs, c.tx(from, op, txOpts{noAdvance: true}, from))
		}
		base := c.st.Reader(c.version)
		fn := func(i int, v blockstm.View) (blockstm.Result, error) {
			return c.vm.Run(execution.TxContext{Block: [32]byte{0xbe}, Height: c.height + 1, Pos: uint32(i)}, txs[i], v)
		}
		check := func(b *testing.B, out *blockstm.Output) {
			for i, r := range out.Results {
				if !r.OK {
					b.Fatalf("transaction %d failed: %s", i, r.Error)
				}
			}
		}
		for _, mode := range []struct {
			name    string
			workers int
		}{{"sequential", 0}, {"blockstm-1", 1}, {"blockstm-2", 2}} {
			b.Run(fmt.Sprintf("%s/%s", kind, mode.name), func(b *testing.B) {
				var out *blockstm.Output
				var err error
				for b.Loop() {
					if mode.workers == 0 {
						out, err = blockstm.Sequential(base, len(txs), fn)
					} else {
						out, err = blockstm.Execute(context.Background(), base, len(txs), fn, blockstm.Options{Workers: mode.workers})
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				check(b, out)
				b.ReportMetric(float64(len(txs)*b.N)/b.Elapsed().Seconds(), "tx/s")
			})
		}
	}
}
