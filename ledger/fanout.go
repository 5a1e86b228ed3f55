package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// fanout delivers values to subscribers without ever blocking the
// publisher: each subscriber has a buffer of its own, and one that falls a
// whole buffer behind is dropped (its channel closed) rather than slowing
// everyone down. At most max subscribers at once; beyond that a new
// subscriber is refused with ErrTooManySubscribers.
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

// ErrTooManySubscribers: a subscription was refused because the node
// already serves as many subscribers as it allows. The API answers it
// with a 503, never with a stream that ends at once.
var ErrTooManySubscribers = errors.New("too many subscribers")

// add subscribes until ctx ends.
func (f *fanout[T]) add(ctx context.Context) (<-chan T, error) {
	f.mu.Lock()
	if len(f.subs) >= f.max {
		f.mu.Unlock()
		return nil, fmt.Errorf("%w: %d already subscribed", ErrTooManySubscribers, f.max)
	}
	ch := make(chan T, f.buffer)
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.remove(ch)
	}()
	return ch, nil
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
