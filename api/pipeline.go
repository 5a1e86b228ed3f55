package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Answers of the pipeline's role-to-role endpoints (docs/pipeline.md,
// "Roles and wiring"). The servers live with the roles that answer them.

// CollectorTxResponse answers GET /v1/collector/transactions/{id} on a
// collector: "pending" (in its pool), "collected" (in a collection its
// cluster finalized; Collection and Chain name it, Guaranteed says whether
// the guarantee has formed) or "unknown".
type CollectorTxResponse struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Collection string `json:"collection,omitempty"`
	Chain      string `json:"chain,omitempty"`
	Guaranteed bool   `json:"guaranteed,omitempty"`
}

// GuaranteesResponse answers POST /v1/guarantees on a consensus node: how
// many of the batch were new and valid, and why the others were refused
// (index into the batch; known ones count as accepted).
type GuaranteesResponse struct {
	Accepted int             `json:"accepted"`
	Rejected []RejectedEntry `json:"rejected,omitempty"`
}

// RejectedEntry is one refused entry of a batch.
type RejectedEntry struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// RouteProvider is implemented by backends that serve endpoints of their
// own beside the common API (the pipeline's roles: a collector's
// transactions and collections, a consensus node's guarantee and receipt
// intake). Their routes sit behind the same admission control as every
// other request (ServeHTTP: per-client request rate, connection caps). A
// role's pattern must not repeat a common one (the mux panics at start-up
// on a conflict, which a test of the role catches).
type RouteProvider interface {
	Routes(handle func(pattern string, h http.HandlerFunc))
}

// WriteJSON and WriteError answer the way every endpoint does, for the
// routes of a RouteProvider.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// WriteError answers with {"error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) { writeError(w, status, msg) }

// RequireBinary answers 415 unless the request's body is ContentTypeBinary
// (what names the body in the message); it reports whether to go on.
func RequireBinary(w http.ResponseWriter, r *http.Request, what string) bool {
	if ct := r.Header.Get("Content-Type"); ct != ContentTypeBinary {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("%s are sent as %s, not %q", what, ContentTypeBinary, ct))
		return false
	}
	return true
}

// ReadBody reads a request body of at most limit bytes, answering 413
// beyond it and 400 when it cannot be read; it reports whether to go on.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		return nil, false
	}
	return body, true
}
