//go:build unix

package bench

import (
	"context"
	"testing"
)

func TestRunLightReportsMeasuredNumbers(t *testing.T) {
	r, err := RunLight(context.Background(), LightOptions{Epochs: 3, Members: 4, StateProofs: 4})
	if err != nil {
		t.Fatal(err)
	}
	if r.Epochs != 3 || r.VerifiedStateProofs != 4 || r.BytesFetched <= r.BodyBytes || r.BodyBytes == 0 || r.CPUms <= 0 || r.Requests < 3+4 {
		t.Fatalf("implausible report: %+v", r)
	}
	for _, o := range []LightOptions{{Epochs: 0, Members: 4}, {Epochs: 3, Members: 0}, {Epochs: 3, Members: 4, StateProofs: -1}} {
		if _, err := RunLight(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
