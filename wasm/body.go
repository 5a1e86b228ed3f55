package wasm

import "fmt"

// instr is one decoded instruction: its opcode and where its bytes
// (opcode and immediates) lie in the body's expression.
type instr struct {
	op         byte
	start, end uint32
}

// MaxBlockNesting bounds how deeply blocks, loops and ifs nest in one
// function. Engines compile nested control recursively; the bound keeps
// compilation far from any stack limit.
const MaxBlockNesting = 1024

// ctrlFrame tracks an open block for the stack-height bound.
type ctrlFrame struct {
	op          byte
	height      uint32 // operand stack height at block entry
	results     uint32
	unreachable bool // after br/br_table/return/unreachable: stack is polymorphic
}

// decodeBody decodes one function body: locals against MaxLocals, every
// instruction against the supported set, and a static upper bound of the
// operand stack height against MaxStackHeight. Together with MaxCallDepth
// these bound the engine's stack deterministically.
func decodeBody(m *module, sig Signature, raw []byte, lim Limits) (body, error) {
	r := &reader{buf: raw}
	var b body
	groups := count(r, 2)
	total := uint64(len(sig.Params))
	for i := uint32(0); i < groups && r.err == nil; i++ {
		total += uint64(r.u32())
		valueType(r)
		if r.err == nil && total > uint64(lim.MaxLocals) {
			return b, fmt.Errorf("%w: more than %d locals", ErrTooLarge, lim.MaxLocals)
		}
	}
	if r.err != nil {
		return b, r.err
	}
	b.locals = raw[:r.pos]
	b.nLocal = uint32(total) - uint32(len(sig.Params))
	code := raw[r.pos:]
	r = &reader{buf: code}

	frames := []ctrlFrame{{op: opBlock, results: uint32(len(sig.Results))}}
	var height, maxHeight uint32
	push := func(n uint32) {
		height += n
		if height > maxHeight {
			maxHeight = height
		}
	}
	pop := func(n uint32) {
		// Below the frame's base only in unreachable code (or invalid code,
		// which wazero rejects): clamp, this is an upper bound.
		f := &frames[len(frames)-1]
		if height < f.height+n {
			height = f.height
			return
		}
		height -= n
	}
	dead := func() {
		f := &frames[len(frames)-1]
		height = f.height
		f.unreachable = true
	}
	for r.err == nil {
		if len(frames) == 0 {
			if r.len() != 0 {
				return b, fmt.Errorf("%w: %d bytes after the function's end", ErrMalformed, r.len())
			}
			break
		}
		start := uint32(r.pos)
		op := r.byte()
		if r.err != nil {
			return b, fmt.Errorf("%w: function body not terminated by end", ErrMalformed)
		}
		info := &opTable[op]
		if !info.valid {
			switch {
			case isFloatOp(op):
				return b, fmt.Errorf("%w: opcode 0x%02x at byte %d", ErrFloatingPoint, op, start)
			case op == opPrefixFC:
				if sub := r.u32(); r.err == nil && sub <= 7 {
					return b, fmt.Errorf("%w: saturating truncation 0xfc %d at byte %d", ErrFloatingPoint, sub, start)
				}
				return b, fmt.Errorf("%w: opcode 0xfc (bulk memory / non-MVP) at byte %d", ErrUnsupported, start)
			default:
				return b, fmt.Errorf("%w: opcode 0x%02x at byte %d", ErrUnsupported, op, start)
			}
		}
		pop(uint32(info.pops))
		switch info.imm {
		case immBlock:
			results := blockType(r)
			if r.err != nil {
				return b, r.err
			}
			if len(frames) > MaxBlockNesting {
				return b, fmt.Errorf("%w: blocks nested deeper than %d", ErrTooLarge, MaxBlockNesting)
			}
			frames = append(frames, ctrlFrame{op: op, height: height, results: results})
		case immLabel:
			if l := r.u32(); r.err == nil && l >= uint32(len(frames)) {
				return b, fmt.Errorf("%w: branch depth %d out of range", ErrMalformed, l)
			}
		case immBrTable:
			n := count(r, 1)
			for i := uint32(0); i <= n && r.err == nil; i++ {
				if l := r.u32(); r.err == nil && l >= uint32(len(frames)) {
					return b, fmt.Errorf("%w: branch depth %d out of range", ErrMalformed, l)
				}
			}
		case immFunc:
			fi := r.u32()
			callee, ok := m.funcType(fi)
			if r.err == nil && !ok {
				return b, fmt.Errorf("%w: call to function %d out of range", ErrMalformed, fi)
			}
			pop(uint32(len(callee.Params)))
			push(uint32(len(callee.Results)))
		case immCallIndirect:
			ti := r.u32()
			if r.err == nil && ti >= uint32(len(m.types)) {
				return b, fmt.Errorf("%w: call_indirect type %d out of range", ErrMalformed, ti)
			}
			if t := r.byte(); t != 0 && r.err == nil {
				return b, fmt.Errorf("%w: call_indirect on table %d", ErrUnsupported, t)
			}
			if r.err == nil {
				pop(uint32(len(m.types[ti].Params)))
				push(uint32(len(m.types[ti].Results)))
			}
		case immLocal:
			r.u32()
		case immGlobal:
			// The metering counters are appended after the module's own
			// globals: an index past them would be valid once instrumented
			// and let the program reset its own gas.
			if g := r.u32(); r.err == nil && g >= uint32(len(m.globals)) {
				return b, fmt.Errorf("%w: global %d out of range", ErrMalformed, g)
			}
		case immMemarg:
			r.u32()
			r.u32()
		case immMemIdx:
			if t := r.byte(); t != 0 && r.err == nil {
				return b, fmt.Errorf("%w: memory index %d", ErrUnsupported, t)
			}
		case immI32:
			r.signed(32)
		case immI64:
			r.signed(64)
		}
		if r.err != nil {
			return b, r.err
		}
		push(uint32(info.push))
		switch op {
		case opElse:
			f := &frames[len(frames)-1]
			if f.op != opIf {
				return b, fmt.Errorf("%w: else outside if", ErrMalformed)
			}
			f.op = opElse
			height = f.height
			f.unreachable = false
		case opEnd:
			f := frames[len(frames)-1]
			frames = frames[:len(frames)-1]
			height = f.height
			push(f.results)
		case opBr, opBrTable, opReturn, opUnreachable:
			dead()
		}
		if maxHeight > lim.MaxStackHeight {
			return b, fmt.Errorf("%w: operand stack deeper than %d", ErrTooLarge, lim.MaxStackHeight)
		}
		b.instrs = append(b.instrs, instr{op: op, start: start, end: uint32(r.pos)})
	}
	if r.err != nil {
		return b, r.err
	}
	b.code = code
	return b, nil
}

// blockType reads a block type: empty or one integer result. Type indices
// (multi-value blocks) are not MVP.
func blockType(r *reader) uint32 {
	switch t := r.byte(); t {
	case blockEmpty:
		return 0
	case byte(I32), byte(I64):
		return 1
	case valF32, valF64:
		r.failErr(fmt.Errorf("%w: block type %s", ErrFloatingPoint, floatName(t)))
	default:
		if r.err == nil {
			r.failErr(fmt.Errorf("%w: block type 0x%02x (multi-value)", ErrUnsupported, t))
		}
	}
	return 0
}
