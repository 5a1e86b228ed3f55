package sim

import "sync"

// RunSeeds runs seeds first..first+n-1 on a pool of at most workers
// goroutines and hands each result to emit in seed order, as soon as every
// earlier seed has been emitted. Reordering here is what makes a report
// independent of scheduling. If emit returns an error, no further seeds are
// started or emitted and that error is returned once the runs in flight
// finish.
func RunSeeds(config func(seed uint64) Config, first uint64, n, workers int, emit func(Result) error) error {
	type done struct {
		seed uint64
		res  Result
	}
	jobs := make(chan uint64)
	results := make(chan done, workers)
	stop := make(chan struct{})

	go func() {
		defer close(jobs)
		for i := range n {
			select {
			case jobs <- first + uint64(i):
			case <-stop:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for seed := range jobs {
				results <- done{seed, Run(config(seed))}
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	// Results arrive in completion order; hold the early ones until the
	// seeds before them are in. A slow seed lets later ones pile up here,
	// which is acceptable: a passing result is a few hundred bytes and only
	// failing ones carry a trace.
	pending := make(map[uint64]Result)
	next := first
	var err error
	for d := range results {
		if err != nil {
			continue // drain, so no worker blocks forever on send
		}
		pending[d.seed] = d.res
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err = emit(r); err != nil {
				close(stop)
				break
			}
		}
	}
	return err
}
