package wasm

// Opcodes the instrumentation reads or writes by name.
const (
	opUnreachable  = 0x00
	opNop          = 0x01
	opBlock        = 0x02
	opLoop         = 0x03
	opIf           = 0x04
	opElse         = 0x05
	opEnd          = 0x0B
	opBr           = 0x0C
	opBrIf         = 0x0D
	opBrTable      = 0x0E
	opReturn       = 0x0F
	opCall         = 0x10
	opCallIndirect = 0x11
	opDrop         = 0x1A
	opSelect       = 0x1B
	opLocalGet     = 0x20
	opLocalSet     = 0x21
	opLocalTee     = 0x22
	opGlobalGet    = 0x23
	opGlobalSet    = 0x24
	opMemorySize   = 0x3F
	opMemoryGrow   = 0x40
	opI32Const     = 0x41
	opI64Const     = 0x42
	opI32Add       = 0x6A
	opI32Sub       = 0x6B
	opI32GtU       = 0x4B
	opI64LtS       = 0x53
	opI64Sub       = 0x7D
	opI64Mul       = 0x7E
	opI64ExtendU   = 0xAD
	opPrefixFC     = 0xFC
	blockEmpty     = 0x40
)

// Immediate kinds.
const (
	immNone = iota
	immBlock
	immLabel
	immBrTable
	immFunc
	immCallIndirect
	immLocal
	immGlobal
	immMemarg
	immMemIdx
	immI32
	immI64
)

// opInfo describes one supported opcode: how to read its immediates, its
// gas cost, and its effect on the operand stack height (pops, pushes; calls
// and blocks are handled by the decoder from their types).
type opInfo struct {
	name  string
	imm   uint8
	cost  uint8
	pops  uint8
	push  uint8
	valid bool
}

// Gas costs. A unit is roughly one simple instruction on a current CPU;
// the constants are part of consensus: changing one changes every
// program's gas.
const (
	// CostBase is the cost of a simple instruction: constants, locals,
	// globals, comparisons, add/sub/logic/shifts, branches, select, drop.
	CostBase = 1
	// CostMul is i32.mul and i64.mul.
	CostMul = 2
	// CostDiv is the division and remainder instructions.
	CostDiv = 4
	// CostMemory is every load and store.
	CostMemory = 2
	// CostBrTable is br_table, whatever its number of targets.
	CostBrTable = 2
	// CostCall is call (on top of the callee's own instructions).
	CostCall = 5
	// CostCallIndirect is call_indirect (table lookup and type check).
	CostCallIndirect = 10
	// CostMemoryGrow is memory.grow's static part; CostPerPage more is
	// charged for every page actually granted.
	CostMemoryGrow = 100
	// CostPerPage is charged per 64 KiB page memory.grow adds (the engine
	// allocates and zeroes it).
	CostPerPage = 1024
)

// opTable is indexed by the opcode byte. Entries not valid are either
// floating point (see isFloatOp) or not in the supported instruction set.
var opTable = func() [256]opInfo {
	var t [256]opInfo
	set := func(op byte, name string, imm, cost, pops, push uint8) {
		t[op] = opInfo{name: name, imm: imm, cost: cost, pops: pops, push: push, valid: true}
	}
	// Control. block/loop/else/end compile to nothing and cost nothing;
	// their stack effects are handled by the decoder.
	set(opUnreachable, "unreachable", immNone, CostBase, 0, 0)
	set(opNop, "nop", immNone, CostBase, 0, 0)
	set(opBlock, "block", immBlock, 0, 0, 0)
	set(opLoop, "loop", immBlock, 0, 0, 0)
	set(opIf, "if", immBlock, CostBase, 1, 0)
	set(opElse, "else", immNone, 0, 0, 0)
	set(opEnd, "end", immNone, 0, 0, 0)
	set(opBr, "br", immLabel, CostBase, 0, 0)
	set(opBrIf, "br_if", immLabel, CostBase, 1, 0)
	set(opBrTable, "br_table", immBrTable, CostBrTable, 1, 0)
	set(opReturn, "return", immNone, CostBase, 0, 0)
	set(opCall, "call", immFunc, CostCall, 0, 0)
	set(opCallIndirect, "call_indirect", immCallIndirect, CostCallIndirect, 1, 0)
	// Parametric and variables.
	set(opDrop, "drop", immNone, CostBase, 1, 0)
	set(opSelect, "select", immNone, CostBase, 3, 1)
	set(opLocalGet, "local.get", immLocal, CostBase, 0, 1)
	set(opLocalSet, "local.set", immLocal, CostBase, 1, 0)
	set(opLocalTee, "local.tee", immLocal, CostBase, 1, 1)
	set(opGlobalGet, "global.get", immGlobal, CostBase, 0, 1)
	set(opGlobalSet, "global.set", immGlobal, CostBase, 1, 0)
	// Memory: integer loads (0x28, 0x29, 0x2C..0x35) and stores (0x36,
	// 0x37, 0x3A..0x3E).
	for _, op := range []byte{0x28, 0x29, 0x2C, 0x2D, 0x2E, 0x2F, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35} {
		set(op, "load", immMemarg, CostMemory, 1, 1)
	}
	for _, op := range []byte{0x36, 0x37, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E} {
		set(op, "store", immMemarg, CostMemory, 2, 0)
	}
	set(opMemorySize, "memory.size", immMemIdx, CostBase, 0, 1)
	set(opMemoryGrow, "memory.grow", immMemIdx, CostMemoryGrow, 1, 1)
	set(opI32Const, "i32.const", immI32, CostBase, 0, 1)
	set(opI64Const, "i64.const", immI64, CostBase, 0, 1)
	// i32: eqz; eq..ge_u; clz ctz popcnt; add..rotr.
	set(0x45, "i32.eqz", immNone, CostBase, 1, 1)
	for op := byte(0x46); op <= 0x4F; op++ {
		set(op, "i32.compare", immNone, CostBase, 2, 1)
	}
	for op := byte(0x67); op <= 0x69; op++ {
		set(op, "i32.unary", immNone, CostBase, 1, 1)
	}
	for op := byte(0x6A); op <= 0x78; op++ {
		set(op, "i32.binary", immNone, CostBase, 2, 1)
	}
	t[0x6C].cost = CostMul
	for op := byte(0x6D); op <= 0x70; op++ {
		t[op].cost = CostDiv
	}
	// i64, same layout.
	set(0x50, "i64.eqz", immNone, CostBase, 1, 1)
	for op := byte(0x51); op <= 0x5A; op++ {
		set(op, "i64.compare", immNone, CostBase, 2, 1)
	}
	for op := byte(0x79); op <= 0x7B; op++ {
		set(op, "i64.unary", immNone, CostBase, 1, 1)
	}
	for op := byte(0x7C); op <= 0x8A; op++ {
		set(op, "i64.binary", immNone, CostBase, 2, 1)
	}
	t[0x7E].cost = CostMul
	for op := byte(0x7F); op <= 0x82; op++ {
		t[op].cost = CostDiv
	}
	// Integer conversions and the sign-extension operators.
	set(0xA7, "i32.wrap_i64", immNone, CostBase, 1, 1)
	set(0xAC, "i64.extend_i32_s", immNone, CostBase, 1, 1)
	set(0xAD, "i64.extend_i32_u", immNone, CostBase, 1, 1)
	for op := byte(0xC0); op <= 0xC4; op++ {
		set(op, "extend_s", immNone, CostBase, 1, 1)
	}
	return t
}()

// isFloatOp reports whether op is an MVP floating-point instruction:
// float loads/stores/constants, comparisons, arithmetic, conversions and
// reinterpretations.
func isFloatOp(op byte) bool {
	switch {
	case op == 0x2A || op == 0x2B || op == 0x38 || op == 0x39 || op == 0x43 || op == 0x44:
		return true
	case op >= 0x5B && op <= 0x66, op >= 0x8B && op <= 0xA6,
		op >= 0xA8 && op <= 0xAB, op >= 0xAE && op <= 0xBF:
		return true
	}
	return false
}
