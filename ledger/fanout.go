package ledger

import (
	"context"
	"sync"
)

// fanout delivers values to subscribers without ever blocking the
// publisher: each subscriber has a buffer of its own, and one that falls a
// whole buffer behind is dropped (its channel closed) rather than slowing
// everyone down. At most max subscribers at once; beyond that a new
// subscriber gets a closed channel.
type fanout[T any] struct {
	mu     sync.Mutex
	subs   map[chan T]struct{}
	buffer int
	max    int
}

func newFanout[T any](buffer, max int) *fanout[T] {
	return &fanout[T]{subs: make(map[chan T]struct{}), buffer: buffer, max: max}
}

// active reports whether anyone is subscribed (publishers skip work
// otherwise).
func (f *fanout[T]) active() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs) > 0
}

// add subscribes until ctx ends.
func (f *fanout[T]) add(ctx context.Context) <-chan T {
	ch := make(chan T, f.buffer)
	f.mu.Lock()
	if len(f.subs) >= f.max {
		f.mu.Unlock()
		close(ch)
		return ch
	}
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.remove(ch)
	}()
	return ch
}

func (f *fanout[T]) remove(ch chan T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[ch]; ok {
		delete(f.subs, ch)
		close(ch)
	}
}

func (f *fanout[T]) publish(v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- v:
		default:
			delete(f.subs, ch)
			close(ch)
		}
	}
}

func (f *fanout[T]) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		delete(f.subs, ch)
		close(ch)
	}
}
