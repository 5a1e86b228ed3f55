package epoch

import "fmt"

// Role is what a member of an identity table does in the pipeline
// (DESIGN.md §5). Only consensus members order blocks, so only they form
// the committee that leads views and signs certificates; the other roles
// are listed in the same table so that everyone agrees, epoch by epoch, on
// who collects, executes and serves access, and so that collectors can be
// dealt into clusters from the epoch's random source.
//
// The values are part of the identity encoding: they never change meaning.
// Verification gets its value when it is built; until then a table naming
// it is invalid, like any other unknown value.
type Role uint8

// The roles. Zero is not a role: an identity built without one is rejected,
// so a member is never made a consensus member by omission in code (genesis
// files, whose "role" may be absent, say so explicitly in genesis).
const (
	RoleConsensus  Role = 1 // orders collection guarantees, results and service events (the committee)
	RoleCollection Role = 2 // ingests transactions in clusters and guarantees collections
	RoleExecution  Role = 3 // executes finalized blocks and publishes receipts
	RoleAccess     Role = 4 // takes users' transactions and answers their reads
)

// Roles returns the known roles in value order (a new slice each call:
// what ParseRole accepts must not be changeable by a caller).
func Roles() []Role { return []Role{RoleConsensus, RoleCollection, RoleExecution, RoleAccess} }

var roleNames = map[Role]string{
	RoleConsensus:  "consensus",
	RoleCollection: "collection",
	RoleExecution:  "execution",
	RoleAccess:     "access",
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	_, ok := roleNames[r]
	return ok
}

// String is the role's name as genesis files and flags write it.
func (r Role) String() string {
	if name, ok := roleNames[r]; ok {
		return name
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// ParseRole reads a role's name: consensus, collection, execution or
// access.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if roleNames[r] == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown role %q (want consensus, collection, execution or access)", ErrInvalid, s)
}
