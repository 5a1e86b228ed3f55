package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/localnet"
)

func init() { commands["ingress"] = ingressCommand }

// IngressOptions configure 'floe bench ingress'.
type IngressOptions struct {
	// Pipeline: measure an access node of a pipeline testnet (the
	// default); false: consensus node0 of a single-chain testnet, the
	// comparison with today's path.
	Pipeline bool
	Duration time.Duration // per mode
	Clients  int           // concurrent keep-alive clients
	Batch    int           // transactions per request in the batched mode
	Dir      string        // testnet directory (empty: a temporary one)
}

// IngressResult is one mode's measurement.
type IngressResult struct {
	Mode        string  `json:"mode"` // "single" or "batch"
	TxPerReq    int     `json:"tx_per_request"`
	AcceptedTx  int64   `json:"accepted_tx"`
	RefusedTx   int64   `json:"refused_tx"`
	Errors      int64   `json:"errors"`
	AcceptedPS  float64 `json:"accepted_tx_per_s"`
	RequestsPS  float64 `json:"requests_per_s"`
	LastRefusal string  `json:"last_refusal,omitempty"`
}

// IngressReport is the outcome (its --json form).
type IngressReport struct {
	Target  string          `json:"target"` // "access0 (pipeline)" or "node0 (single chain)"
	Clients int             `json:"clients"`
	Results []IngressResult `json:"results"`
}

const ingressUsage = `floe bench ingress: how many transactions per second one node's API
accepts. Starts a local testnet (a pipeline testnet with its default roles,
or with --pipeline=false today's single-chain network of 4 validators) under
almost no load of its own, then, for --duration each, submits from --clients
concurrent keep-alive clients (spread over loopback source addresses, so the
per-client admission budget is not what is measured):

  single   one transaction per HTTP request (JSON), the way users send them
  batch    --batch transactions per request (the binary batch encoding)

Accepted counts what the node took (a refusal, e.g. busy, is counted apart).
`

func ingressCommand(ctx context.Context, args []string, out, errOut io.Writer) error {
	o := IngressOptions{}
	var asJSON bool
	fs := flag.NewFlagSet("floe bench ingress", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprint(errOut, ingressUsage)
		fs.PrintDefaults()
	}
	fs.BoolVar(&o.Pipeline, "pipeline", true, "measure an access node of a pipeline testnet (false: consensus node0 of a single-chain testnet)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measurement time per mode")
	fs.IntVar(&o.Clients, "clients", 64, "concurrent keep-alive clients")
	fs.IntVar(&o.Batch, "batch", 500, "transactions per request in the batched mode")
	fs.StringVar(&o.Dir, "dir", "", "testnet directory (default: a temporary one, removed afterwards)")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rep, err := RunIngress(ctx, o, errOut)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(out).Encode(rep)
	}
	fmt.Fprintf(out, "ingress of %s, %d clients\n", rep.Target, rep.Clients)
	for _, r := range rep.Results {
		fmt.Fprintf(out, "  %-6s %4d tx/request: %9.0f tx/s accepted (%7.0f requests/s), %d refused, %d errors\n",
			r.Mode, r.TxPerReq, r.AcceptedPS, r.RequestsPS, r.RefusedTx, r.Errors)
	}
	return nil
}

// RunIngress starts the testnet and measures both modes.
func RunIngress(ctx context.Context, o IngressOptions, log io.Writer) (*IngressReport, error) {
	switch {
	case o.Duration <= 0:
		return nil, errors.New("--duration must be positive")
	case o.Clients < 1 || o.Clients > 1024:
		return nil, errors.New("--clients must be between 1 and 1024")
	case o.Batch < 1 || o.Batch > 10_000:
		return nil, errors.New("--batch must be between 1 and 10000")
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the floe binary: %w", err)
	}
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "floe-ingress-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "tn")
	}
	rep := &IngressReport{Target: "node0 (single chain)", Clients: o.Clients}
	lo := localnet.Options{
		Binary: bin, Env: config.WithoutOverrides(os.Environ()), Homes: localnet.ConfigHomes{},
		Dir: dir, Nodes: 4, LogLevel: "warn", Rate: 1, TxSize: 250,
	}
	if o.Pipeline {
		p := localnet.DefaultPipeline()
		lo.Pipeline = &p
		rep.Target = "access0 (pipeline)"
	}
	lo.Control = func(ctx context.Context, h *localnet.Harness) error {
		var target *localnet.Node
		for _, tn := range h.Nodes() {
			if (o.Pipeline && tn.Role == config.RoleAccess) || (!o.Pipeline && tn.Name == "node0") {
				target = tn
				break
			}
		}
		if target == nil {
			return errors.New("ingress: no target node")
		}
		for _, mode := range []struct {
			name string
			n    int
		}{{"single", 1}, {"batch", o.Batch}} {
			fmt.Fprintf(log, "ingress: %s mode for %v\n", mode.name, o.Duration)
			r, err := measureIngress(ctx, "http://"+target.APIAddr, o, mode.name, mode.n)
			if err != nil {
				return err
			}
			rep.Results = append(rep.Results, r)
		}
		return nil
	}
	if _, err := localnet.Run(ctx, lo, log); err != nil {
		return nil, err
	}
	if len(rep.Results) != 2 {
		return nil, errors.New("ingress: the testnet ended before both modes were measured")
	}
	return rep, nil
}

// measureIngress submits from o.Clients goroutines for o.Duration.
func measureIngress(ctx context.Context, base string, o IngressOptions, mode string, perReq int) (IngressResult, error) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext:     spreadDial,
		MaxIdleConns:    2 * o.Clients,
		MaxConnsPerHost: o.Clients, MaxIdleConnsPerHost: o.Clients, IdleConnTimeout: time.Minute,
	}}
	defer hc.CloseIdleConnections()
	c := client.New(base, client.WithHTTPClient(hc))
	ref, err := refOf(ctx, c, o.Pipeline)
	if err != nil {
		return IngressResult{}, err
	}
	res := IngressResult{Mode: mode, TxPerReq: perReq}
	var accepted, refused, errs, requests atomic.Int64
	var lastRefusal atomic.Value
	var nonce atomic.Uint64
	mctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for mctx.Err() == nil {
				txs := make([][]byte, perReq)
				for i := range txs {
					n := nonce.Add(1)
					body := kvstore.EncodeSet([]byte("k"+strconv.FormatUint(n%100_000, 10)), []byte("value"), binary.BigEndian.AppendUint64(nil, n))
					if o.Pipeline {
						txs[i] = collection.Tx{Ref: ref, Body: body}.Encode()
					} else {
						txs[i] = body
					}
				}
				var resp api.SubmitResponse
				var err error
				if perReq == 1 {
					resp, err = c.Submit(mctx, txs)
				} else {
					resp, err = c.SubmitBinary(mctx, txs)
				}
				if mctx.Err() != nil {
					return // cut off by the window's end: not counted
				}
				requests.Add(1)
				a, rj := resp.Accepted, resp.Rejected
				for _, r := range resp.Results {
					if r.Error != "" {
						lastRefusal.Store(r.Error)
						break
					}
				}
				accepted.Add(int64(a))
				refused.Add(int64(rj))
				if err != nil {
					var ce *client.Error
					if !errors.As(err, &ce) {
						errs.Add(1)
					} else {
						lastRefusal.Store(ce.Error())
						if a+rj == 0 {
							refused.Add(int64(perReq))
						}
						time.Sleep(10 * time.Millisecond) // busy: back off a little
					}
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	res.AcceptedTx, res.RefusedTx, res.Errors = accepted.Load(), refused.Load(), errs.Load()
	res.AcceptedPS = float64(res.AcceptedTx) / secs
	res.RequestsPS = float64(requests.Load()) / secs
	if s, ok := lastRefusal.Load().(string); ok {
		res.LastRefusal = s
	}
	return res, nil
}

// refOf is the reference block a pipeline transaction names (the zero ID
// for a single chain, whose transactions carry none).
func refOf(ctx context.Context, c *client.Client, pipeline bool) (model.Identifier, error) {
	if !pipeline {
		return model.Identifier{}, nil
	}
	st, err := c.Status(ctx)
	if err != nil {
		return model.Identifier{}, err
	}
	return model.ParseIdentifier(st.FinalizedID)
}

// spreadDial dials loopback targets from rotating loopback source
// addresses (as the testnet's load does), so that per-client admission
// limits do not cap a benchmark whose clients all live in one process.
func spreadDial(ctx context.Context, network, addr string) (net.Conn, error) {
	i := spreadNext.Add(1) % 200
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(20+i))}}
	if c, err := d.DialContext(ctx, network, addr); err == nil {
		return c, nil
	}
	var plain net.Dialer
	return plain.DialContext(ctx, network, addr)
}

var spreadNext atomic.Uint32
