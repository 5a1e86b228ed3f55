package pacemaker_test

import (
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
)

func qc(v model.View) *model.QC {
	s, _ := model.NewSignerSet(4)
	s.Set(0)
	return &model.QC{View: v, BlockID: model.Identifier{byte(v)}, Signers: s, Signature: []byte{1}}
}

func tc(v, newest model.View) *model.TC {
	s, _ := model.NewSignerSet(4)
	s.Set(0)
	return &model.TC{View: v, NewestQC: qc(newest), NewestQCViews: []model.View{newest}, Signers: s, Signature: []byte{1}}
}

func newPM(t *testing.T) *pacemaker.Pacemaker {
	p, err := pacemaker.New(pacemaker.Config{Min: time.Second, Max: 3 * time.Second, HappyPathFailedViews: 6, Increase: 1.2},
		pacemaker.Data{CurrentView: 1, NewestQC: qc(0)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Six failed views pass at the minimum timeout; from the seventh the
// timeout grows by 1.2 per failed view up to the maximum; each view that
// ends with a QC shrinks it back one step.
func TestTimeoutDurations(t *testing.T) {
	p := newPM(t)
	want := []time.Duration{
		time.Second, time.Second, time.Second, time.Second, time.Second, time.Second, time.Second, // 0..6 failed
		1200 * time.Millisecond, 1440 * time.Millisecond, 1728 * time.Millisecond, 2073600 * time.Microsecond,
		2488320 * time.Microsecond, 2985984 * time.Microsecond, 3 * time.Second, 3 * time.Second,
	}
	for failed, w := range want {
		if got := p.TimeoutDuration(); got-w > time.Microsecond || w-got > time.Microsecond {
			t.Fatalf("after %d failed views: timeout %v, want %v", failed, got, w)
		}
		v := p.CurrentView()
		if !p.ProcessTC(tc(v, 0)) {
			t.Fatalf("TC for current view %d did not advance", v)
		}
	}
	// Progress shrinks the timeout step by step.
	before := p.TimeoutDuration()
	p.ProcessQC(qc(p.CurrentView()))
	if after := p.TimeoutDuration(); after > before {
		t.Fatalf("progress grew the timeout: %v → %v", before, after)
	}
	for i := 0; i < 20; i++ {
		p.ProcessQC(qc(p.CurrentView()))
	}
	if got := p.TimeoutDuration(); got != time.Second {
		t.Fatalf("after sustained progress timeout is %v, want the minimum", got)
	}
}

func TestEnteringViews(t *testing.T) {
	cases := []struct {
		name     string
		apply    func(p *pacemaker.Pacemaker) bool
		entered  bool
		view     model.View
		newestQC model.View
		hasTC    bool
	}{
		{"QC for current view", func(p *pacemaker.Pacemaker) bool { return p.ProcessQC(qc(5)) }, true, 6, 5, false},
		{"QC for a future view", func(p *pacemaker.Pacemaker) bool { return p.ProcessQC(qc(9)) }, true, 10, 9, false},
		{"old QC only updates newest QC", func(p *pacemaker.Pacemaker) bool { return p.ProcessQC(qc(4)) }, false, 5, 4, false},
		{"TC for current view", func(p *pacemaker.Pacemaker) bool { return p.ProcessTC(tc(5, 3)) }, true, 6, 3, true},
		{"old TC only updates newest QC", func(p *pacemaker.Pacemaker) bool { return p.ProcessTC(tc(4, 4)) }, false, 5, 4, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := pacemaker.New(pacemaker.DefaultConfig(), pacemaker.Data{CurrentView: 5, NewestQC: qc(2)})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.apply(p); got != c.entered {
				t.Fatalf("entered=%v, want %v", got, c.entered)
			}
			if p.CurrentView() != c.view || p.NewestQC().View != c.newestQC || (p.LastViewTC() != nil) != c.hasTC {
				t.Fatalf("view %d newest QC %d TC %v; want %d %d %v", p.CurrentView(), p.NewestQC().View, p.LastViewTC() != nil, c.view, c.newestQC, c.hasTC)
			}
		})
	}
}

func TestDataRoundTripAndRejects(t *testing.T) {
	d := pacemaker.Data{CurrentView: 7, NewestQC: qc(5), LastViewTC: tc(6, 5), FailedViews: 3}
	got, err := pacemaker.DecodeData(d.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentView != 7 || got.NewestQC.View != 5 || got.LastViewTC.View != 6 || got.FailedViews != 3 {
		t.Fatalf("round trip: %+v", got)
	}
	bad := pacemaker.Data{CurrentView: 5, NewestQC: qc(5)}
	if _, err := pacemaker.DecodeData(bad.Encode()); err == nil {
		t.Fatal("liveness data with newest QC at the current view decoded")
	}
	if _, err := pacemaker.DecodeData(d.Encode()[:5]); err == nil {
		t.Fatal("truncated liveness data decoded")
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []pacemaker.Config{
		{Min: 0, Max: time.Second, Increase: 1.2},
		{Min: time.Second, Max: time.Millisecond, Increase: 1.2},
		{Min: time.Second, Max: time.Second, Increase: 0.5},
		{Min: time.Second, Max: time.Second, Increase: 1.2, HappyPathFailedViews: -1},
	} {
		if err := c.Validate(); err == nil {
			t.Fatalf("config %+v accepted", c)
		}
	}
}

// FuzzDecodeData: corrupt liveness data gives an error, never a panic, and
// accepted data is internally consistent.
func FuzzDecodeData(f *testing.F) {
	f.Add(pacemaker.Data{CurrentView: 7, NewestQC: qc(5), LastViewTC: tc(6, 5), FailedViews: 3}.Encode())
	f.Add(pacemaker.Data{CurrentView: 1, NewestQC: qc(0)}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := pacemaker.DecodeData(b)
		if err != nil {
			return
		}
		if d.NewestQC == nil || d.NewestQC.View >= d.CurrentView {
			t.Fatalf("accepted inconsistent liveness data: %+v", d)
		}
		if _, err := pacemaker.New(pacemaker.DefaultConfig(), d); err != nil {
			t.Fatalf("accepted data a pacemaker refuses: %v", err)
		}
	})
}
