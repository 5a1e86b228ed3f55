// Package pacemaker moves a replica through views: it enters view v+1 on a
// QC or TC for view v, tracks the newest QC and the last view's TC, and
// computes timeout durations. It holds no timers; the core turns deadlines
// into its NextTimer output and the caller fires them.
package pacemaker

import (
	"fmt"
	"math"
	"time"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
)

// Config sets the timeout durations. A view's timeout is
//
//	min(Max, Min · Increase^max(0, failedViews − HappyPathFailedViews))
//
// where failedViews goes up by one for every view that ends with a TC and
// down by one for every view that ends with a QC: a few failed views pass at
// full speed, durable trouble backs off geometrically, progress shrinks the
// timeout back.
type Config struct {
	Min                  time.Duration
	Max                  time.Duration
	HappyPathFailedViews int     // k, failed views tolerated before growth (Flow: 6)
	Increase             float64 // growth factor per further failed view (Flow: 1.2)
	// Rebroadcast is how often a replica stuck in a view it timed out in
	// re-sends its timeout; zero means once per current timeout duration.
	Rebroadcast time.Duration
}

// DefaultConfig are the defaults for a local network.
func DefaultConfig() Config {
	return Config{Min: 1 * time.Second, Max: 30 * time.Second, HappyPathFailedViews: 6, Increase: 1.2}
}

// Validate rejects configurations that would stall or overflow.
func (c Config) Validate() error {
	switch {
	case c.Min <= 0:
		return fmt.Errorf("pacemaker: minimum timeout must be positive")
	case c.Max < c.Min:
		return fmt.Errorf("pacemaker: maximum timeout %v below minimum %v", c.Max, c.Min)
	case c.HappyPathFailedViews < 0:
		return fmt.Errorf("pacemaker: negative happy-path failed views")
	case c.Increase < 1 || math.IsNaN(c.Increase) || math.IsInf(c.Increase, 0):
		return fmt.Errorf("pacemaker: increase factor %v must be ≥ 1", c.Increase)
	case c.Rebroadcast < 0:
		return fmt.Errorf("pacemaker: negative rebroadcast interval")
	}
	return nil
}

// Data is what the pacemaker persists.
type Data struct {
	CurrentView model.View
	NewestQC    *model.QC
	LastViewTC  *model.TC // TC for CurrentView-1, if the view was entered by one
	FailedViews int
}

// Encode returns the canonical encoding.
func (d Data) Encode() []byte {
	w := codec.NewWriter(256)
	w.Uint64(uint64(d.CurrentView))
	w.Bytes32(d.NewestQC.Encode())
	w.Bool(d.LastViewTC != nil)
	if d.LastViewTC != nil {
		w.Bytes32(d.LastViewTC.Encode())
	}
	w.Uint32(uint32(d.FailedViews))
	return w.Bytes()
}

// DecodeData decodes Data.Encode.
func DecodeData(b []byte) (Data, error) {
	r := codec.NewReader(b)
	var d Data
	d.CurrentView = model.View(r.Uint64())
	qcRaw := r.Bytes32(1<<20, "newest QC")
	var tcRaw []byte
	if r.Bool() {
		tcRaw = r.Bytes32(1<<20, "last view TC")
	}
	d.FailedViews = int(r.Uint32())
	if err := r.Done(); err != nil {
		return Data{}, fmt.Errorf("liveness data: %w", err)
	}
	qc, err := model.DecodeQC(qcRaw)
	if err != nil {
		return Data{}, fmt.Errorf("liveness data: %w", err)
	}
	d.NewestQC = qc
	if tcRaw != nil {
		if d.LastViewTC, err = model.DecodeTC(tcRaw); err != nil {
			return Data{}, fmt.Errorf("liveness data: %w", err)
		}
	}
	if d.NewestQC.View >= d.CurrentView || d.FailedViews < 0 || d.FailedViews > 1<<20 {
		return Data{}, fmt.Errorf("liveness data: inconsistent (view %d, newest QC %d)", d.CurrentView, d.NewestQC.View)
	}
	return d, nil
}

// Pacemaker tracks the current view. It is not safe for concurrent use.
type Pacemaker struct {
	cfg  Config
	data Data
}

// New returns a pacemaker resuming from persisted data.
func New(cfg Config, data Data) (*Pacemaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if data.NewestQC == nil || data.NewestQC.View >= data.CurrentView {
		return nil, fmt.Errorf("pacemaker: current view %d must be above the newest QC", data.CurrentView)
	}
	return &Pacemaker{cfg: cfg, data: data}, nil
}

// Data returns the state to persist.
func (p *Pacemaker) Data() Data { return p.data }

// CurrentView is the view the replica is in.
func (p *Pacemaker) CurrentView() model.View { return p.data.CurrentView }

// NewestQC is the highest QC seen.
func (p *Pacemaker) NewestQC() *model.QC { return p.data.NewestQC }

// LastViewTC is the TC for CurrentView-1, or nil.
func (p *Pacemaker) LastViewTC() *model.TC { return p.data.LastViewTC }

// ProcessQC records qc and enters qc.View+1 if that is ahead. It reports
// whether the view changed.
func (p *Pacemaker) ProcessQC(qc *model.QC) bool {
	if qc.View > p.data.NewestQC.View {
		p.data.NewestQC = qc
	}
	if qc.View < p.data.CurrentView {
		return false
	}
	p.data.CurrentView = qc.View + 1
	p.data.LastViewTC = nil
	if p.data.FailedViews > 0 {
		p.data.FailedViews--
	}
	return true
}

// ProcessTC records tc (and its newest QC) and enters tc.View+1 if that is
// ahead. It reports whether the view changed.
func (p *Pacemaker) ProcessTC(tc *model.TC) bool {
	if tc.NewestQC.View > p.data.NewestQC.View {
		p.data.NewestQC = tc.NewestQC
	}
	if tc.View < p.data.CurrentView {
		return false
	}
	p.data.CurrentView = tc.View + 1
	p.data.LastViewTC = tc
	if p.data.FailedViews < 1<<20 {
		p.data.FailedViews++
	}
	return true
}

// TimeoutDuration is how long the replica waits in the current view before
// timing out.
func (p *Pacemaker) TimeoutDuration() time.Duration {
	excess := p.data.FailedViews - p.cfg.HappyPathFailedViews
	if excess <= 0 {
		return p.cfg.Min
	}
	d := float64(p.cfg.Min) * math.Pow(p.cfg.Increase, float64(excess))
	if d >= float64(p.cfg.Max) || math.IsInf(d, 0) {
		return p.cfg.Max
	}
	return time.Duration(d)
}

// RebroadcastInterval is how long to wait between re-sends of a timeout.
func (p *Pacemaker) RebroadcastInterval() time.Duration {
	if p.cfg.Rebroadcast > 0 {
		return p.cfg.Rebroadcast
	}
	return p.TimeoutDuration()
}
