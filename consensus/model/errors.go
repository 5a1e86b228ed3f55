package model

import "errors"

// ErrInvalid is wrapped by every error that rejects a malformed or
// inconsistent consensus object. It is an expected condition: the object is
// dropped, nothing changes.
var ErrInvalid = errors.New("invalid consensus object")
