package blockstm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// contention settings: hot keys from one (every transaction touches the
// same register) to many.
var hotKeys = []int{1, 2, 4, 16, 64, 1024}

// TestExecuteEqualsSequential is the property: for random blocks at
// every contention, Execute with any worker count returns exactly what
// Sequential returns.
func TestExecuteEqualsSequential(t *testing.T) {
	seeds, n := 100, 200
	if testing.Short() {
		seeds, n = 15, 150
	}
	for _, hot := range hotKeys {
		for seed := range uint64(seeds) {
			rng := rand.New(rand.NewPCG(seed, uint64(hot)))
			b := genBlock(rng, 1+rng.IntN(n), hot, 6)
			checkEqual(t, fmt.Sprintf("seed %d hot %d", seed, hot), b, []int{1, 2, 4, 8})
		}
	}
}

func checkEqual(t *testing.T, name string, b testBlock, workers []int) {
	t.Helper()
	want, werr := Sequential(b.base, len(b.txs), b.fn())
	for _, w := range workers {
		// A hang is a failure too: the deadline turns it into one.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		got, gerr := Execute(ctx, b.base, len(b.txs), b.fn(), Options{Workers: w})
		cancel()
		if fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("%s workers %d: error %v, sequential %v", name, w, gerr, werr)
		}
		if d := diffOutputs(want, got); d != "" {
			t.Fatalf("%s workers %d (%d txs): %s", name, w, len(b.txs), d)
		}
	}
}

// diffOutputs names the first field where two outputs differ.
func diffOutputs(want, got *Output) string {
	if want == nil || got == nil {
		if want != got {
			return fmt.Sprintf("output %v, want %v", got, want)
		}
		return ""
	}
	if len(want.Results) != len(got.Results) {
		return fmt.Sprintf("%d results, want %d", len(got.Results), len(want.Results))
	}
	for i := range want.Results {
		switch {
		case !reflect.DeepEqual(want.Results[i], got.Results[i]):
			return fmt.Sprintf("tx %d result %+v, want %+v", i, got.Results[i], want.Results[i])
		case !reflect.DeepEqual(want.Reads[i], got.Reads[i]):
			return fmt.Sprintf("tx %d reads %v, want %v", i, got.Reads[i], want.Reads[i])
		case !reflect.DeepEqual(want.Writes[i], got.Writes[i]):
			return fmt.Sprintf("tx %d writes %v, want %v", i, got.Writes[i], want.Writes[i])
		}
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("final %v, want %v", got.Final, want.Final)
	}
	return ""
}
