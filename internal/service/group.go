// Package service runs the goroutines of one node (of any role) as a
// group: started together, stopped together and once, with the first fatal
// error kept for the caller.
package service

import (
	"context"
	"log/slog"
	"sync"
)

// Group is a node's goroutines and how they stop. The zero value is not
// usable; call New.
type Group struct {
	log  *slog.Logger
	what string
	// interrupt runs once the context is cancelled, before waiting for the
	// goroutines (to unblock what they wait on, e.g. a transport).
	interrupt func()
	// cleanup runs after every goroutine has returned (to close stores).
	cleanup func() error

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}
	errMu  sync.Mutex
	err    error
	once   sync.Once
}

// New returns a group named what (for its log lines). interrupt and
// cleanup may be nil.
func New(log *slog.Logger, what string, interrupt func(), cleanup func() error) *Group {
	return &Group{log: log, what: what, interrupt: interrupt, cleanup: cleanup, done: make(chan struct{})}
}

// Start derives the group's context from parent; Go's goroutines watch it.
func (g *Group) Start(parent context.Context) context.Context {
	g.ctx, g.cancel = context.WithCancel(parent)
	return g.ctx
}

// Go runs fn on a goroutine of the group.
func (g *Group) Go(fn func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn()
	}()
}

// Stop stops the group cleanly and waits for it.
func (g *Group) Stop() { g.stop(nil) }

// Fail stops the group loudly with err (an exception, not an expected
// condition); it does not wait, so a goroutine of the group may call it.
func (g *Group) Fail(err error) {
	g.log.Error("FATAL: "+g.what+" stopping", "err", err)
	go g.stop(err)
}

// Done is closed once the group has stopped.
func (g *Group) Done() <-chan struct{} { return g.done }

// Err is the fatal error that stopped the group, or nil.
func (g *Group) Err() error {
	g.errMu.Lock()
	defer g.errMu.Unlock()
	return g.err
}

func (g *Group) stop(err error) {
	g.once.Do(func() {
		g.errMu.Lock()
		g.err = err
		g.errMu.Unlock()
		if g.cancel != nil {
			g.cancel()
		}
		if g.interrupt != nil {
			g.interrupt()
		}
		g.wg.Wait()
		if g.cleanup != nil {
			if cerr := g.cleanup(); cerr != nil {
				g.log.Error(g.what+": cleanup at stop", "err", cerr)
			}
		}
		close(g.done)
	})
}
