package wasm

// The instrumentation rewrites a decoded module so that it meters itself.
// Everything it adds is appended (globals after the module's own, the
// memory.grow helper after the last function, its type after the last
// type), so no existing index changes and the original instructions are
// copied byte for byte.

// isBoundary reports whether op ends a metering segment: after it control
// may arrive from elsewhere (block/loop/if/else bodies, the code after an
// end, which branches reach), or return from a call. br_if is not a
// boundary: its fall-through is reached only from the br_if itself, so
// the code after it is charged with the code before it, and a taken
// br_if has paid for a few instructions it skipped. That halves the
// charges in a typical loop (exit test, body, back branch).
func isBoundary(op byte) bool {
	switch op {
	case opBlock, opLoop, opIf, opElse, opEnd, opBr, opBrTable,
		opReturn, opUnreachable, opCall, opCallIndirect:
		return true
	}
	return false
}

// endsFlow reports whether nothing after op in the same block runs unless
// reached by a branch to an enclosing end: such a segment is dead code and
// needs no charge.
func endsFlow(op byte) bool {
	return op == opBr || op == opBrTable || op == opReturn || op == opUnreachable
}

// instrumenter holds the indices the added code refers to.
type instrumenter struct {
	gas, depth uint32 // global indices
	grow       uint32 // function index of the memory.grow helper
	maxDepth   uint32
}

// appendTrapIfNegative appends: if gas < 0 then unreachable.
func (in *instrumenter) appendTrapIfNegative(b []byte) []byte {
	b = append(b, opGlobalGet)
	b = appendU32(b, in.gas)
	b = append(b, opI64Const, 0, opI64LtS, opIf, blockEmpty, opUnreachable, opEnd)
	return b
}

// appendCharge appends: gas -= cost; if gas < 0 then unreachable.
func (in *instrumenter) appendCharge(b []byte, cost uint64) []byte {
	b = append(b, opGlobalGet)
	b = appendU32(b, in.gas)
	b = append(b, opI64Const)
	b = appendS64(b, int64(cost))
	b = append(b, opI64Sub, opGlobalSet)
	b = appendU32(b, in.gas)
	return in.appendTrapIfNegative(b)
}

// appendDepthEnter appends: depth += 1; if depth > max then unreachable.
func (in *instrumenter) appendDepthEnter(b []byte) []byte {
	b = append(b, opGlobalGet)
	b = appendU32(b, in.depth)
	b = append(b, opI32Const, 1, opI32Add, opGlobalSet)
	b = appendU32(b, in.depth)
	b = append(b, opGlobalGet)
	b = appendU32(b, in.depth)
	b = append(b, opI32Const)
	b = appendS64(b, int64(in.maxDepth))
	b = append(b, opI32GtU, opIf, blockEmpty, opUnreachable, opEnd)
	return b
}

// appendDepthExit appends: depth -= 1.
func (in *instrumenter) appendDepthExit(b []byte) []byte {
	b = append(b, opGlobalGet)
	b = appendU32(b, in.depth)
	b = append(b, opI32Const, 1, opI32Sub, opGlobalSet)
	b = appendU32(b, in.depth)
	return b
}

// body rewrites one function body: a charge at the start of every live
// segment, depth accounting around every call, memory.grow through the
// helper.
func (in *instrumenter) body(bd body) []byte {
	out := make([]byte, 0, len(bd.locals)+len(bd.code)*2)
	out = append(out, bd.locals...)
	live := true
	for s := 0; s < len(bd.instrs); {
		e := s
		var cost uint64
		for {
			cost += uint64(opTable[bd.instrs[e].op].cost)
			if isBoundary(bd.instrs[e].op) || e == len(bd.instrs)-1 {
				break
			}
			e++
		}
		if live && cost > 0 {
			out = in.appendCharge(out, cost)
		}
		for i := s; i <= e; i++ {
			ins := bd.instrs[i]
			switch ins.op {
			case opCall, opCallIndirect:
				out = in.appendDepthEnter(out)
				out = append(out, bd.code[ins.start:ins.end]...)
				out = in.appendDepthExit(out)
			case opMemoryGrow:
				out = append(out, opCall)
				out = appendU32(out, in.grow)
			default:
				out = append(out, bd.code[ins.start:ins.end]...)
			}
		}
		live = !endsFlow(bd.instrs[e].op)
		s = e + 1
	}
	return out
}

// growBody is the helper that replaces memory.grow: (pages i32) -> i32.
// It grows, and if the engine granted the pages charges CostPerPage each;
// a refused grow returns -1 and costs only memory.grow's static cost.
func (in *instrumenter) growBody() []byte {
	b := []byte{1, 1, byte(I32)} // one extra i32 local: the result
	b = append(b, opLocalGet, 0, opMemoryGrow, 0, opLocalTee, 1,
		opI32Const, 0x7f, // -1
		0x47, // i32.ne
		opIf, blockEmpty,
		opGlobalGet)
	b = appendU32(b, in.gas)
	b = append(b, opLocalGet, 0, opI64ExtendU, opI64Const)
	b = appendS64(b, CostPerPage)
	b = append(b, opI64Mul, opI64Sub, opGlobalSet)
	b = appendU32(b, in.gas)
	b = in.appendTrapIfNegative(b)
	b = append(b, opEnd, opLocalGet, 1, opEnd)
	return b
}

// usesGrow reports whether any body contains memory.grow.
func (m *module) usesGrow() bool {
	for _, bd := range m.code {
		for _, ins := range bd.instrs {
			if ins.op == opMemoryGrow {
				return true
			}
		}
	}
	return false
}

// instrument returns the metered module's binary.
func instrument(m *module, lim Limits) []byte {
	in := &instrumenter{
		gas:      uint32(len(m.globals)),
		depth:    uint32(len(m.globals)) + 1,
		grow:     uint32(len(m.imports) + len(m.funcs)),
		maxDepth: lim.MaxCallDepth,
	}
	grow := m.usesGrow()
	types := m.types
	growType := uint32(0)
	if grow {
		growSig := Signature{Params: []ValueType{I32}, Results: []ValueType{I32}}
		growType = uint32(len(types))
		for i, t := range types {
			if t.Equal(growSig) {
				growType = uint32(i)
				break
			}
		}
		if growType == uint32(len(types)) {
			types = append(types[:len(types):len(types)], growSig)
		}
	}
	memMax := lim.MaxMemoryPages
	if m.hasMemMax && m.memMax < memMax {
		memMax = m.memMax
	}

	e := &encoder{}
	e.buf = append(e.buf, "\x00asm\x01\x00\x00\x00"...)

	e.section(secType, func(b []byte) []byte {
		b = appendU32(b, uint32(len(types)))
		for _, t := range types {
			b = append(b, 0x60)
			b = appendU32(b, uint32(len(t.Params)))
			for _, p := range t.Params {
				b = append(b, byte(p))
			}
			b = appendU32(b, uint32(len(t.Results)))
			for _, p := range t.Results {
				b = append(b, byte(p))
			}
		}
		return b
	})
	if len(m.imports) > 0 {
		e.section(secImport, func(b []byte) []byte {
			b = appendU32(b, uint32(len(m.imports)))
			for _, im := range m.imports {
				b = appendName(b, im.module)
				b = appendName(b, im.name)
				b = append(b, kindFunc)
				b = appendU32(b, im.typeIdx)
			}
			return b
		})
	}
	e.section(secFunction, func(b []byte) []byte {
		n := len(m.funcs)
		if grow {
			n++
		}
		b = appendU32(b, uint32(n))
		for _, t := range m.funcs {
			b = appendU32(b, t)
		}
		if grow {
			b = appendU32(b, growType)
		}
		return b
	})
	if m.table != nil {
		e.raw(secTable, m.table)
	}
	e.section(secMemory, func(b []byte) []byte {
		b = append(b, 1, 1)
		b = appendU32(b, m.memMin)
		return appendU32(b, memMax)
	})
	e.section(secGlobal, func(b []byte) []byte {
		b = appendU32(b, uint32(len(m.globals)+2))
		for _, g := range m.globals {
			b = append(b, byte(g.typ))
			if g.mutable {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
			b = append(b, g.init...)
		}
		b = append(b, byte(I64), 1, opI64Const, 0, opEnd) // gas
		b = append(b, byte(I32), 1, opI32Const, 0, opEnd) // depth
		return b
	})
	e.section(secExport, func(b []byte) []byte {
		b = appendU32(b, uint32(len(m.exports)+2))
		for _, x := range m.exports {
			b = appendName(b, x.name)
			b = append(b, x.kind)
			b = appendU32(b, x.index)
		}
		b = appendName(b, exportGas)
		b = append(b, kindGlobal)
		b = appendU32(b, in.gas)
		b = appendName(b, exportDepth)
		b = append(b, kindGlobal)
		b = appendU32(b, in.depth)
		return b
	})
	if m.elements != nil {
		e.raw(secElement, m.elements)
	}
	e.section(secCode, func(b []byte) []byte {
		n := len(m.code)
		if grow {
			n++
		}
		b = appendU32(b, uint32(n))
		for _, bd := range m.code {
			fb := in.body(bd)
			b = appendU32(b, uint32(len(fb)))
			b = append(b, fb...)
		}
		if grow {
			fb := in.growBody()
			b = appendU32(b, uint32(len(fb)))
			b = append(b, fb...)
		}
		return b
	})
	if m.data != nil {
		e.raw(secData, m.data)
	}
	return e.buf
}
