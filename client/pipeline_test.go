package client

import (
	"context"
	"net/http"
	"testing"

	"github.com/floe-bft/floe/api"
)

// ExecutionState asks for the key in hex with the height as a query (none
// for the newest), decodes the answer, and turns a 404 into an *Error.
func TestExecutionState(t *testing.T) {
	var asked []string
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.RequestURI())
		if r.URL.Query().Get("height") == "9" {
			api.WriteError(w, http.StatusNotFound, "height 9 is not executed here")
			return
		}
		api.WriteJSON(w, http.StatusOK, api.ExecutionStateResponse{Key: "6b", Found: true, Value: "76", Proof: "00", Height: 3, EndState: "ee", Result: "aa"})
	})
	ctx := context.Background()
	r, err := c.ExecutionState(ctx, []byte("k"), 0)
	if err != nil || r.Height != 3 || r.Value != "76" || !r.Found || r.Result != "aa" || r.EndState != "ee" {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := c.ExecutionState(ctx, []byte("k"), 9); !IsStatus(err, http.StatusNotFound) {
		t.Fatalf("a height not executed: %v", err)
	}
	if len(asked) != 2 || asked[0] != "/v1/execution/state/6b" || asked[1] != "/v1/execution/state/6b?height=9" {
		t.Fatalf("requests %q", asked)
	}
}
