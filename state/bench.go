package state

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// BenchConfig configures RunBench. Zero values take the defaults.
type BenchConfig struct {
	// Dir holds the store (created; must be empty or absent). Required.
	Dir string
	// Registers is the state size built before measuring (default 10^6).
	Registers int
	// Batch is the writes per measured commit (default 1,000).
	Batch int
	// BuildBatch is the writes per commit while building (default 10,000).
	BuildBatch int
	// ValueSize is the bytes of every value (default 32).
	ValueSize int
	// UpdateCommits is the measured commits (default 200).
	UpdateCommits int
	// Retain is the versions kept while building and updating: every 10
	// commits, Prune drops older ones (default 10).
	Retain int
	// ProofSamples is the single proofs measured (default 1,000); batch
	// proofs of 100 registers are measured ProofSamples/10 times.
	ProofSamples int
	// Seed makes the run reproducible.
	Seed uint64
	// Options configure the store (caches, sync).
	Options Options
	// Progress, if set, receives a line now and then.
	Progress func(string)
}

// BenchReport is what RunBench measured.
type BenchReport struct {
	Registers     int
	Batch         int
	BuildSeconds  float64
	BuildRSSBytes uint64 // process RSS after building
	BuildHeapMB   float64
	// UpdatesPerSecond counts the measured commits' writes over their
	// time, pruning included; CommitOnlyPerSecond excludes Prune.
	UpdatesPerSecond    float64
	CommitOnlyPerSecond float64
	CommitMillisP50     float64
	CommitMillisMax     float64
	UpdateRSSBytes      uint64 // process RSS after the update phase
	UpdateHeapMB        float64
	MaxRSSBytes         uint64 // peak RSS of the process (VmHWM)
	SingleProofBytes    float64
	SingleProofMicros   float64
	BatchProofBytes     float64 // batch of 100 registers
	Batch100SingleBytes float64 // the same 100 registers as single proofs
	BatchProofMillis    float64
	DiskBytes           int64
}

func (c *BenchConfig) withDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Registers, 1_000_000)
	def(&c.Batch, 1000)
	def(&c.BuildBatch, 10_000)
	def(&c.ValueSize, 32)
	def(&c.UpdateCommits, 200)
	def(&c.Retain, 10)
	def(&c.ProofSamples, 1000)
}

func benchID(i int) RegisterID {
	var owner [8]byte
	binary.BigEndian.PutUint64(owner[:], uint64(i)%100_003)
	return RegisterID{Owner: string(owner[:]), Key: "r" + strconv.Itoa(i)}
}

// RunBench builds a state of cfg.Registers registers through Commit, then
// measures commit throughput at that size, proof sizes and times, memory
// (process RSS, Go heap) and disk. It is what `floe bench state` runs.
func RunBench(ctx context.Context, cfg BenchConfig) (BenchReport, error) {
	cfg.withDefaults()
	rep := BenchReport{Registers: cfg.Registers, Batch: cfg.Batch}
	if cfg.Dir == "" {
		return rep, fmt.Errorf("state bench: no directory")
	}
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			cfg.Progress(fmt.Sprintf(format, args...))
		}
	}
	s, err := Open(cfg.Dir, cfg.Options)
	if err != nil {
		return rep, err
	}
	defer s.Close()
	if v, _ := s.Latest(); v != 0 {
		return rep, fmt.Errorf("state bench: %s %w", cfg.Dir, ErrNotEmpty)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x57a7e))
	value := func() []byte {
		v := make([]byte, cfg.ValueSize)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		return v
	}
	version := uint64(0)
	commit := func(ws []Write) (time.Duration, error) {
		version++
		start := time.Now()
		_, err := s.Commit(version, ws)
		return time.Since(start), err
	}
	prune := func() error {
		if version%10 == 0 && version > uint64(cfg.Retain) {
			return s.Prune(version - uint64(cfg.Retain) + 1)
		}
		return nil
	}

	start := time.Now()
	for built := 0; built < cfg.Registers; {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		n := min(cfg.BuildBatch, cfg.Registers-built)
		ws := make([]Write, n)
		for i := range ws {
			ws[i] = Write{ID: benchID(built + i), Value: value()}
		}
		if _, err := commit(ws); err != nil {
			return rep, err
		}
		if err := prune(); err != nil {
			return rep, err
		}
		built += n
		if version%50 == 0 {
			progress("built %d registers in %s, RSS %d MiB", built, time.Since(start).Round(time.Second), rss("VmRSS")>>20)
		}
	}
	rep.BuildSeconds = time.Since(start).Seconds()
	rep.BuildRSSBytes, rep.BuildHeapMB = rss("VmRSS"), heapMB()
	progress("built in %.0f s; RSS %d MiB, heap %.0f MiB", rep.BuildSeconds, rep.BuildRSSBytes>>20, rep.BuildHeapMB)

	var commitTime time.Duration
	durations := make([]float64, 0, cfg.UpdateCommits)
	start = time.Now()
	for range cfg.UpdateCommits {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		ws := make([]Write, cfg.Batch)
		for i := range ws {
			ws[i] = Write{ID: benchID(rng.IntN(cfg.Registers)), Value: value()}
		}
		d, err := commit(ws)
		if err != nil {
			return rep, err
		}
		commitTime += d
		durations = append(durations, float64(d.Microseconds())/1000)
		if err := prune(); err != nil {
			return rep, err
		}
	}
	total := time.Since(start)
	writes := float64(cfg.UpdateCommits * cfg.Batch)
	rep.UpdatesPerSecond = writes / total.Seconds()
	rep.CommitOnlyPerSecond = writes / commitTime.Seconds()
	rep.CommitMillisP50, rep.CommitMillisMax = percentile(durations, 0.5), percentile(durations, 1)
	rep.UpdateRSSBytes, rep.UpdateHeapMB = rss("VmRSS"), heapMB()
	progress("updates: %.0f/s (%.0f/s commits only); RSS %d MiB", rep.UpdatesPerSecond, rep.CommitOnlyPerSecond, rep.UpdateRSSBytes>>20)

	latest, _ := s.Latest()
	var single, singleTime float64
	for range cfg.ProofSamples {
		id := benchID(rng.IntN(cfg.Registers))
		t0 := time.Now()
		_, p, err := s.Prove(latest, id)
		if err != nil {
			return rep, err
		}
		singleTime += float64(time.Since(t0).Microseconds())
		single += float64(len(p.Encode()))
	}
	rep.SingleProofBytes = single / float64(cfg.ProofSamples)
	rep.SingleProofMicros = singleTime / float64(cfg.ProofSamples)
	batches := max(1, cfg.ProofSamples/10)
	var batchBytes, batchSingle, batchTime float64
	for range batches {
		ids := make([]RegisterID, 100)
		for i := range ids {
			ids[i] = benchID(rng.IntN(cfg.Registers))
			_, p, err := s.Prove(latest, ids[i])
			if err != nil {
				return rep, err
			}
			batchSingle += float64(len(p.Encode()))
		}
		t0 := time.Now()
		p, err := s.ProveBatch(latest, ids)
		if err != nil {
			return rep, err
		}
		batchTime += float64(time.Since(t0).Microseconds()) / 1000
		batchBytes += float64(len(p.Encode()))
	}
	rep.BatchProofBytes = batchBytes / float64(batches)
	rep.Batch100SingleBytes = batchSingle / float64(batches)
	rep.BatchProofMillis = batchTime / float64(batches)
	rep.MaxRSSBytes = rss("VmHWM")
	rep.DiskBytes = dirSize(cfg.Dir)
	return rep, nil
}

// String is the report for a terminal.
func (r BenchReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "state: %d registers, built in %.0f s; RSS %d MiB, Go heap %.0f MiB\n", r.Registers, r.BuildSeconds, r.BuildRSSBytes>>20, r.BuildHeapMB)
	fmt.Fprintf(&b, "commits of %d writes: %.0f updates/s with pruning (%.0f/s commits only), p50 %.1f ms, max %.1f ms\n",
		r.Batch, r.UpdatesPerSecond, r.CommitOnlyPerSecond, r.CommitMillisP50, r.CommitMillisMax)
	fmt.Fprintf(&b, "after updates: RSS %d MiB, Go heap %.0f MiB; peak RSS %d MiB; disk %d MiB\n", r.UpdateRSSBytes>>20, r.UpdateHeapMB, r.MaxRSSBytes>>20, r.DiskBytes>>20)
	fmt.Fprintf(&b, "single proof: %.0f bytes, %.0f µs; batch of 100: %.0f bytes (as single proofs: %.0f), %.1f ms\n",
		r.SingleProofBytes, r.SingleProofMicros, r.BatchProofBytes, r.Batch100SingleBytes, r.BatchProofMillis)
	return b.String()
}

func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	for i := 1; i < len(s); i++ { // insertion sort: a few hundred samples
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// rss reads a size field (VmRSS, VmHWM) of /proc/self/status, in bytes;
// 0 where there is no /proc.
func rss(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				kb, _ := strconv.ParseUint(fields[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func heapMB() float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
