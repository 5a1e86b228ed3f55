package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrInterrupted ends RunAll when its context ends between manifests.
var ErrInterrupted = errors.New("interrupted")

// LoadManifests loads and checks every manifest before any runs, so a
// mistake in the last one does not surface an hour into the first.
func LoadManifests(paths []string) ([]*Manifest, error) {
	var manifests []*Manifest
	for _, path := range paths {
		m, err := LoadManifest(path)
		if err != nil {
			return nil, err
		}
		manifests = append(manifests, m)
	}
	return manifests, nil
}

// RunAll runs manifests one after another, building the image (if
// opts.Build) for the first only, and prints each report as text to out,
// or with asJSON all of them as one indented JSON array at the end. It
// stops at the first manifest that could not be run and, with
// ErrInterrupted, when ctx ends; otherwise it fails if any manifest missed
// its expectations.
func RunAll(ctx context.Context, manifests []*Manifest, opts Options, out io.Writer, asJSON bool) error {
	var reports []*Report
	failed := 0
	for i, m := range manifests {
		if i > 0 {
			opts.Build = false // one image for all
		}
		rep, err := Run(ctx, m, opts)
		if err != nil {
			if errors.Is(err, ErrNoDocker) {
				return fmt.Errorf("e2e needs Docker: %w", err)
			}
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		reports = append(reports, rep)
		if !rep.Passed {
			failed++
		}
		if !asJSON {
			rep.WriteText(out)
			fmt.Fprintln(out)
		}
		if ctx.Err() != nil {
			return ErrInterrupted
		}
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(reports); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d manifests failed", failed, len(manifests))
	}
	return nil
}
