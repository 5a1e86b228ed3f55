package wasm

import (
	"fmt"
	"strings"
)

// ValueType is a WebAssembly value type. Only the integer types exist in a
// floe program: floating point is refused at deploy time.
type ValueType byte

// The value types a program may use.
const (
	I32 ValueType = 0x7F
	I64 ValueType = 0x7E
)

const (
	valF32 = 0x7D
	valF64 = 0x7C
)

func (t ValueType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	}
	return fmt.Sprintf("type(0x%02x)", byte(t))
}

// Signature is a function type: parameter and result types. A program's
// functions return at most one value (the MVP has no multi-value).
type Signature struct {
	Params  []ValueType
	Results []ValueType
}

// Equal reports whether two signatures are identical.
func (s Signature) Equal(o Signature) bool {
	return equalTypes(s.Params, o.Params) && equalTypes(s.Results, o.Results)
}

func (s Signature) String() string {
	var b strings.Builder
	b.WriteString("(")
	for i, p := range s.Params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.String())
	}
	b.WriteString(") -> (")
	for i, p := range s.Results {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.String())
	}
	b.WriteString(")")
	return b.String()
}

func equalTypes(a, b []ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Import names a host function a module may import from "env", with the
// exact signature the import must declare.
type Import struct {
	Name string
	Signature
}

// Section ids of the binary format.
const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secTable    = 4
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secElement  = 9
	secCode     = 10
	secData     = 11
	secDataCnt  = 12
)

// External kinds of imports and exports.
const (
	kindFunc   = 0
	kindTable  = 1
	kindMemory = 2
	kindGlobal = 3
)

// module is a decoded module: the parts instrumentation rewrites are
// parsed, the rest (table, element, data) kept as raw section payloads and
// copied unchanged.
type module struct {
	types     []Signature
	imports   []importEntry // functions only; anything else is refused
	funcs     []uint32      // type index of each defined function
	table     []byte        // raw table section payload, nil if none
	tableMin  uint32
	memMin    uint32
	memMax    uint32
	hasMemMax bool
	hasMemory bool
	globals   []global
	exports   []export
	elements  []byte // raw element section payload
	code      []body
	data      []byte // raw data section payload
}

type importEntry struct {
	module, name string
	typeIdx      uint32
}

type global struct {
	typ     ValueType
	mutable bool
	init    []byte // constant expression including its end opcode
}

type export struct {
	name  string
	kind  byte
	index uint32
}

// body is one function body: its locals as encoded and its instructions.
type body struct {
	locals []byte // the raw locals vector
	nLocal uint32 // declared locals, not counting parameters
	instrs []instr
	code   []byte // the expression bytes instrs point into
}

// funcType returns the signature of function index fi (imports first).
func (m *module) funcType(fi uint32) (Signature, bool) {
	if fi < uint32(len(m.imports)) {
		return m.types[m.imports[fi].typeIdx], true
	}
	fi -= uint32(len(m.imports))
	if fi < uint32(len(m.funcs)) {
		return m.types[m.funcs[fi]], true
	}
	return Signature{}, false
}
