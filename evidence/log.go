// Package evidence keeps the equivocations a node witnessed: verifiable
// records of members that signed conflicting messages, in memory and in an
// append-only file that survives restarts.
package evidence

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/floe-bft/floe/consensus/model"
)

// Record is one equivocation this node witnessed: which member
// signed two conflicting messages in which view, and both messages in their
// canonical encodings, so that anyone holding the committee can check the
// record without trusting the node that kept it.
type Record struct {
	Kind         model.EvidenceKind
	Offender     model.NodeID
	OffenderName string
	View         model.View
	RecordedAt   time.Time
	// Messages are the two signed messages (proposals, votes or timeouts,
	// as Kind says), or nil when they were too large to keep (see
	// maxEvidenceBytes); the rest of the record is kept regardless.
	Messages [2][]byte
}

// Limits of the evidence log. Evidence is rare (an honest committee produces
// none); the limits only stop a byzantine member from filling the disk.
const (
	maxRecords       = 1000
	maxEvidenceBytes = 64 << 20 // encoded messages across all records
	evidenceFileName = "evidence.jsonl"
)

// Log keeps every equivocation the core reported, in memory and in
// an append-only file in the data directory, so that it survives restarts
// and can be read back through the API (GET /v1/evidence).
type Log struct {
	path    string
	mu      sync.Mutex
	records []Record
	bytes   int
	dropped int // records beyond maxRecords
}

// logLine is a record as one JSON line of the file.
type logLine struct {
	Kind         uint8     `json:"kind"`
	Offender     string    `json:"offender"`
	OffenderName string    `json:"offender_name"`
	View         uint64    `json:"view"`
	RecordedAt   time.Time `json:"recorded_at"`
	Messages     [2]string `json:"messages"`
}

// Open loads the records a previous run kept in dataDir.
func Open(dataDir string) (*Log, error) {
	if dataDir == "" {
		return &Log{}, nil // in memory only (a node on an injected store)
	}
	l := &Log{path: filepath.Join(dataDir, evidenceFileName)}
	f, err := os.Open(l.path)
	if os.IsNotExist(err) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	// A line holds two hex-encoded messages; together they never exceed
	// the byte budget.
	sc.Buffer(make([]byte, 0, 64<<10), 2*maxEvidenceBytes+64<<10)
	for sc.Scan() {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var el logLine
		if err := json.Unmarshal(raw, &el); err != nil {
			// A crash can cut the last line short; everything before it
			// was synced whole.
			break
		}
		r, err := el.record()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.path, err)
		}
		l.add(r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", l.path, err)
	}
	return l, nil
}

func (el logLine) record() (Record, error) {
	id, err := model.ParseIdentifier(el.Offender)
	if err != nil {
		return Record{}, fmt.Errorf("evidence offender: %w", err)
	}
	r := Record{Kind: model.EvidenceKind(el.Kind), Offender: id, OffenderName: el.OffenderName,
		View: model.View(el.View), RecordedAt: el.RecordedAt}
	for i, m := range el.Messages {
		if m == "" {
			continue
		}
		if r.Messages[i], err = hex.DecodeString(m); err != nil {
			return Record{}, fmt.Errorf("evidence message: %w", err)
		}
	}
	return r, nil
}

// add keeps r in memory within the limits and reports whether it was kept.
// The caller holds mu or owns l exclusively.
func (l *Log) add(r Record) bool {
	if len(l.records) >= maxRecords {
		l.dropped++
		return false
	}
	size := len(r.Messages[0]) + len(r.Messages[1])
	if l.bytes+size > maxEvidenceBytes {
		r.Messages = [2][]byte{}
		size = 0
	}
	l.bytes += size
	l.records = append(l.records, r)
	return true
}

// RecordOf is e as a record: both conflicting messages in their canonical
// encodings.
func RecordOf(e model.Evidence, offenderName string, at time.Time) Record {
	r := Record{Kind: e.Kind, Offender: e.Offender, OffenderName: offenderName, View: e.View, RecordedAt: at}
	switch e.Kind {
	case model.DoubleProposal:
		r.Messages = [2][]byte{e.Proposals[0].Encode(), e.Proposals[1].Encode()}
	case model.DoubleVote:
		r.Messages = [2][]byte{e.Votes[0].Encode(), e.Votes[1].Encode()}
	case model.DoubleTimeout:
		r.Messages = [2][]byte{e.Timeouts[0].Encode(), e.Timeouts[1].Encode()}
	}
	return r
}

// Record keeps and persists one piece of evidence. It runs on the
// consensus loop; evidence is rare, so the synced append is affordable.
func (l *Log) Record(e model.Evidence, offenderName string, now time.Time) error {
	r := RecordOf(e, offenderName, now)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.add(r) {
		return nil
	}
	kept := l.records[len(l.records)-1]
	el := logLine{Kind: uint8(kept.Kind), Offender: kept.Offender.Hex(), OffenderName: kept.OffenderName,
		View: uint64(kept.View), RecordedAt: kept.RecordedAt}
	for i, m := range kept.Messages {
		el.Messages[i] = hex.EncodeToString(m)
	}
	b, err := json.Marshal(el)
	if err != nil {
		return err
	}
	if l.path == "" {
		return nil // kept in memory only
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Snapshot returns a copy of the records and how many were dropped.
func (l *Log) Snapshot() ([]Record, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Record(nil), l.records...), l.dropped
}
