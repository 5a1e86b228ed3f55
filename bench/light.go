//go:build unix

package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/light"
)

// LightOptions shape the light client benchmark.
type LightOptions struct {
	// Epochs are the transitions to fast-forward through (1..10000), a
	// committee change each; Members the committee size (1..1000).
	Epochs, Members int
	// StateProofs are fetched and verified after fast-forwarding.
	StateProofs int
}

// LightReport is what the light client benchmark measured ('floe bench
// light --json').
type LightReport struct {
	Epochs              int     `json:"epochs"`
	Members             int     `json:"members"`
	EpochViews          uint64  `json:"epoch_views"`
	ChainBlocks         int     `json:"chain_blocks"`
	Requests            int64   `json:"requests"`
	BytesFetched        int64   `json:"bytes_fetched"` // wire bytes the client read, HTTP headers included
	BodyBytes           int64   `json:"body_bytes"`    // proof bodies only
	FastForwardBytes    int64   `json:"fast_forward_bytes"`
	BytesPerEpoch       float64 `json:"bytes_per_epoch"`
	CPUms               float64 `json:"cpu_ms"` // process CPU while the client verified
	FastForwardCPUms    float64 `json:"fast_forward_cpu_ms"`
	ProcessCPUms        float64 `json:"process_cpu_ms"` // everything, in-process server included
	WallMs              float64 `json:"wall_ms"`
	VerifiedStateProofs int     `json:"verified_state_proofs"`
	SetupMs             float64 `json:"setup_ms"` // building the synthetic chain (not measured above)
}

// RunLight serves a synthetic chain of o.Epochs weekly epochs (real BLS
// keys and QCs) over HTTP in this process, fast-forwards a light client
// from genesis through every epoch, then fetches and verifies state proofs;
// it measures the bytes on the wire and the CPU the verification took.
func RunLight(ctx context.Context, o LightOptions) (LightReport, error) {
	if o.Epochs < 1 || o.Epochs > 10000 || o.Members < 1 || o.Members > 1000 || o.StateProofs < 0 {
		return LightReport{}, fmt.Errorf("bench light: --epochs must be 1..10000, --members 1..1000, --state-proofs ≥ 0")
	}

	// The chain: real BLS keys and QCs, a new member each epoch, weekly
	// epochs of one-second views; only the blocks proofs need exist.
	setupStart := time.Now()
	chain, err := testchain.NewEpochChain(testchain.EpochChainConfig{
		Scheme: crypto.BLS(), Epochs: o.Epochs, Members: o.Members,
		EpochViews: 7 * 24 * 3600, SafetyViews: 1000, Tail: 64,
	})
	if err != nil {
		return LightReport{}, err
	}
	g := chain.LightGenesis()
	serve, err := chain.LightSource()
	if err != nil {
		return LightReport{}, err
	}
	srv := httptest.NewServer(light.Handler(serve))
	defer srv.Close()
	var wire, requests atomic.Int64
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, read: &wire}, nil
	}}
	defer transport.CloseIdleConnections()
	src := light.NewHTTPSource(srv.URL, &http.Client{Transport: countingTransport{transport, &requests}})
	client, err := light.New(g)
	if err != nil {
		return LightReport{}, err
	}
	setup := time.Since(setupStart)

	// Fetching and verifying alternate, so process CPU is sampled around
	// each verification alone (the in-process server is idle then).
	var verifyCPU time.Duration
	measure := func(f func() error) error {
		before := processCPU()
		err := f()
		verifyCPU += processCPU() - before
		return err
	}
	// Building the chain above verified every member's proof of possession
	// in this process; a real light client starts without that memory.
	committee.ForgetVerifiedPossessions()
	runStart, cpuStart := time.Now(), processCPU()
	adopted := 0
	for {
		t, err := src.Transition(ctx, client.Latest().Counter+1)
		if err != nil {
			if errors.Is(err, light.ErrUnavailable) {
				break
			}
			return LightReport{}, err
		}
		var step light.Step
		if err := measure(func() (err error) { step, err = client.Advance(t); return err }); err != nil {
			return LightReport{}, err
		}
		if step.Adopted != nil {
			adopted++
		}
		if !step.Changed() || step.Adopted == nil {
			break
		}
	}
	if adopted != o.Epochs || client.Latest().Spec.ID() != chain.Schedule().Last().Spec.ID() {
		return LightReport{}, fmt.Errorf("bench light: adopted %d of %d epochs", adopted, o.Epochs)
	}
	ffCPU, ffBytes := verifyCPU, wire.Load()

	// State proofs at the newest provable block: present and absent keys.
	r := rand.New(rand.NewPCG(uint64(o.Epochs), 7))
	verified := 0
	for i := 0; i < o.StateProofs; i++ {
		key := []byte(fmt.Sprintf("k/%d", 1+r.IntN(len(chain.Blocks)-1)))
		if i%4 == 3 {
			key = []byte(fmt.Sprintf("absent/%d", i))
		}
		p, err := src.State(ctx, key, 0)
		if err != nil {
			return LightReport{}, err
		}
		if err := measure(func() error { _, err := client.VerifyState(p, key, 0); return err }); err != nil {
			return LightReport{}, err
		}
		verified++
	}
	res := LightReport{
		Epochs: adopted, Members: o.Members, EpochViews: chain.Params.EpochViews, ChainBlocks: len(chain.Blocks),
		Requests: requests.Load(), BytesFetched: wire.Load(), BodyBytes: src.BytesFetched(),
		FastForwardBytes: ffBytes, BytesPerEpoch: float64(ffBytes) / float64(adopted),
		CPUms: ms(verifyCPU), FastForwardCPUms: ms(ffCPU), ProcessCPUms: ms(processCPU() - cpuStart),
		WallMs: ms(time.Since(runStart)), VerifiedStateProofs: verified, SetupMs: ms(setup),
	}
	return res, nil
}

// WriteText prints the report for a reader.
func (r LightReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "fast-forwarded %d epochs (committee of %d, one member replaced per epoch; chain of %d blocks)\n", r.Epochs, r.Members, r.ChainBlocks)
	fmt.Fprintf(w, "  fetched       %d bytes on the wire for the fast-forward (%.0f per epoch); %d in all with %d state proofs, %d requests\n",
		r.FastForwardBytes, r.BytesPerEpoch, r.BytesFetched, r.VerifiedStateProofs, r.Requests)
	fmt.Fprintf(w, "  verification  %.1f ms CPU for the fast-forward, %.1f ms with the state proofs\n", r.FastForwardCPUms, r.CPUms)
	fmt.Fprintf(w, "  whole run     %.1f ms wall, %.1f ms process CPU (in-process server included)\n", r.WallMs, r.ProcessCPUms)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// processCPU is the user plus system CPU time of the whole process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countingConn counts the bytes a client reads from its connection: the
// real wire cost of every answer, headers included.
type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

type countingTransport struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.rt.RoundTrip(r)
}
