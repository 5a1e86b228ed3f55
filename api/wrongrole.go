package api

import "errors"

// ErrWrongRole is wrapped by a submission refused because this node's role
// does not take transactions (a consensus node of a pipeline network:
// clients submit to access nodes). It is the client's fault, so the batch
// is answered 400 with code CodeWrongRole and the node's message.
var ErrWrongRole = errors.New("this node does not take transactions")

// CodeWrongRole is SubmitResult.Code for ErrWrongRole.
const CodeWrongRole = "wrong_role"
