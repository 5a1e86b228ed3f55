// Package scratchdir prepares directories that a command generates and may
// regenerate: a marker file says the directory is ours, so a rerun may wipe
// it, while a directory holding anything else is never deleted.
package scratchdir

import (
	"fmt"
	"os"
	"path/filepath"
)

// Prepare makes dir usable: created if missing, wiped if it holds marker
// (a previous generation), refused with refusal (formatted with dir) if it
// holds anything else. It then writes marker with note as its content.
func Prepare(dir, marker, note, refusal string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return err
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return fmt.Errorf(refusal, dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, marker), []byte(note), 0o644)
}
