package light

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/floe-bft/floe/epoch"
)

// requestTimeout bounds each request Follow makes.
const requestTimeout = 30 * time.Second

// ParseKey reads the key `floe light` verifies: key as UTF-8 text, or
// keyHex as hex; at most one of them may be given, and neither gives an
// empty key, which Follow takes as none. An empty decoded hex key is
// refused, since it would silently verify nothing.
func ParseKey(key, keyHex string) ([]byte, error) {
	if key != "" && keyHex != "" {
		return nil, errors.New("give --key or --key-hex, not both")
	}
	if keyHex == "" {
		return []byte(key), nil
	}
	k, err := hex.DecodeString(keyHex)
	if err != nil || len(k) == 0 {
		return nil, errors.New("--key-hex must be non-empty hex")
	}
	return k, nil
}

// Follow runs a light client from g against one full node's API (peer;
// "http://" is added when it names no scheme) and prints what it does to
// out: every epoch it adopts or sees extended, then the newest final block
// the node can prove, and with a key that key's verified value or absence
// in the state that block commits to ('floe light'). An answer that fails
// verification stops it with an error saying REJECTED and wrapping
// ErrForged, ErrMalformed or ErrIncomplete.
func Follow(ctx context.Context, out io.Writer, g Genesis, peer string, key []byte) error {
	client, err := New(g)
	if err != nil {
		return err
	}
	if !strings.Contains(peer, "://") {
		peer = "http://" + peer
	}
	src := NewHTTPSource(peer, &http.Client{Timeout: requestTimeout})
	gen := client.Latest()
	fmt.Fprintf(out, "trusted genesis: epoch 0, views %s, %s\n", viewRange(gen), members(gen))
	_, err = client.FastForward(ctx, src, func(s Step) {
		e, _ := client.Schedule().Epoch(s.Counter)
		if s.Adopted != nil {
			if s.Extensions > 0 {
				fmt.Fprintf(out, "epoch %d extended %d time(s) (fallback)\n", s.Counter-1, s.Extensions)
			}
			fmt.Fprintf(out, "adopted epoch %d: views %s, %s (setup at height %d, commit at height %d)\n",
				s.Counter, viewRange(e), members(e), s.SetupHeight, s.CommitHeight)
			return
		}
		fmt.Fprintf(out, "epoch %d extended %d time(s) (fallback): views %s\n", s.Counter, s.Extensions, viewRange(e))
	})
	if err != nil {
		return failure(peer, err)
	}
	latest := client.Latest()
	fmt.Fprintf(out, "up to date: epoch %d (views %s), %d bytes fetched\n", latest.Counter, viewRange(latest), src.BytesFetched())
	seg, err := src.Final(ctx, 0)
	if err != nil {
		return failure(peer, err)
	}
	b, err := client.VerifyFinal(seg, 0)
	if err != nil {
		return failure(peer, err)
	}
	fmt.Fprintf(out, "final block: height %d, view %d, id %s\n", b.Header.Height, b.Header.View, b.ID.Hex())
	if len(key) == 0 {
		return nil
	}
	p, err := src.State(ctx, key, 0)
	if err != nil {
		return failure(peer, err)
	}
	r, err := client.VerifyState(p, key, 0)
	if err != nil {
		return failure(peer, err)
	}
	if r.Found() {
		fmt.Fprintf(out, "key %q = %q (verified: state after height %d, final block %d)\n", key, r.Value, r.Height, r.Block.Header.Height)
	} else {
		fmt.Fprintf(out, "key %q is absent (verified: state after height %d, final block %d)\n", key, r.Height, r.Block.Header.Height)
	}
	if g.Pipeline {
		fmt.Fprintf(out, "result of height %d not sealed: it is the execution result the final block's Result follows, one execution node's signed word (docs/pipeline.md)\n", r.Height)
	}
	return nil
}

// failure says plainly whether the peer lied, left something out or
// could not be asked.
func failure(peer string, err error) error {
	switch {
	case errors.Is(err, ErrForged):
		return fmt.Errorf("REJECTED forged answer from %s: %w", peer, err)
	case errors.Is(err, ErrMalformed):
		return fmt.Errorf("REJECTED malformed answer from %s: %w", peer, err)
	case errors.Is(err, ErrIncomplete):
		return fmt.Errorf("REJECTED incomplete answer from %s: %w", peer, err)
	}
	return fmt.Errorf("light client: %w", err)
}

// viewRange is an epoch's views, open-ended for the last epoch.
func viewRange(e *epoch.Epoch) string {
	if e.FinalView == epoch.Forever {
		return fmt.Sprintf("%d..", e.FirstView)
	}
	return fmt.Sprintf("%d..%d", e.FirstView, e.FinalView)
}

// members is an epoch's committee (its consensus members) by name, then
// how many members of each other role it lists and its clusters.
func members(e *epoch.Epoch) string {
	cons := e.Members(epoch.RoleConsensus)
	names := make([]string, len(cons))
	for i, m := range cons {
		names[i] = m.Name
	}
	s := fmt.Sprintf("%d members [%s]", len(names), strings.Join(names, " "))
	for _, r := range epoch.Roles()[1:] {
		if n := len(e.Members(r)); n > 0 {
			s += fmt.Sprintf(", %d %s", n, r)
		}
	}
	if len(e.Clusters) > 0 {
		s += fmt.Sprintf("; clusters: %d", len(e.Clusters))
	}
	return s
}
