package wasm

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Names the instrumentation adds as exports; a module may not use them.
const (
	exportGas    = "floe_gas"
	exportDepth  = "floe_depth"
	exportMemory = "memory"
)

// decode parses and validates a module: structure, the supported
// instruction set, the integer-only rule, imports against the allowed
// list, and the size limits. Type checking of instructions is left to
// wazero, which compiles the instrumented result.
func decode(code []byte, allowed []Import, lim Limits) (*module, error) {
	r := &reader{buf: code}
	if string(r.bytes(4)) != "\x00asm" {
		return nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	if v := r.bytes(4); r.err != nil || v[0] != 1 || v[1] != 0 || v[2] != 0 || v[3] != 0 {
		return nil, fmt.Errorf("%w: unsupported version", ErrMalformed)
	}
	m := &module{}
	var (
		last     byte
		haveCode bool
	)
	for r.err == nil && r.len() > 0 {
		id := r.byte()
		size := r.u32()
		payload := r.bytes(size)
		if r.err != nil {
			break
		}
		if id == secCustom {
			// Custom sections (names, producers, debug info) carry no
			// semantics; they are dropped from the instrumented module.
			continue
		}
		if id == secDataCnt {
			return nil, fmt.Errorf("%w: data count section (bulk memory)", ErrUnsupported)
		}
		if id > secDataCnt {
			return nil, fmt.Errorf("%w: unknown section id %d", ErrMalformed, id)
		}
		if id <= last {
			return nil, fmt.Errorf("%w: section %d out of order or repeated", ErrMalformed, id)
		}
		last = id
		s := &reader{buf: payload}
		switch id {
		case secType:
			m.decodeTypes(s)
		case secImport:
			m.decodeImports(s, allowed)
		case secFunction:
			m.decodeFunctions(s, lim)
		case secTable:
			m.decodeTable(s, lim)
		case secMemory:
			m.decodeMemory(s, lim)
		case secGlobal:
			m.decodeGlobals(s, lim)
		case secExport:
			m.decodeExports(s)
		case secStart:
			return nil, fmt.Errorf("%w: start function %d", ErrStartFunction, s.u32())
		case secElement:
			m.decodeElements(s)
		case secCode:
			m.decodeCode(s, lim)
			haveCode = true
		case secData:
			m.decodeData(s)
		}
		if s.err != nil {
			return nil, s.err
		}
		if s.len() != 0 {
			return nil, fmt.Errorf("%w: section %d has %d trailing bytes", ErrMalformed, id, s.len())
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(m.funcs) > 0 && !haveCode || len(m.funcs) != len(m.code) {
		return nil, fmt.Errorf("%w: %d functions declared, %d bodies", ErrMalformed, len(m.funcs), len(m.code))
	}
	if !m.hasMemory {
		return nil, fmt.Errorf("%w: the module must define one memory", ErrMemoryLimit)
	}
	exported := false
	for _, e := range m.exports {
		if e.kind == kindMemory && e.name == exportMemory {
			exported = true
		}
	}
	if !exported {
		return nil, fmt.Errorf("%w: the memory must be exported as %q", ErrMemoryLimit, exportMemory)
	}
	return m, nil
}

// valueType reads a value type, refusing floats and non-MVP types.
func valueType(r *reader) ValueType {
	switch b := r.byte(); b {
	case byte(I32), byte(I64):
		return ValueType(b)
	case valF32, valF64:
		r.failErr(fmt.Errorf("%w: value type %s at byte %d", ErrFloatingPoint, floatName(b), r.pos-1))
	default:
		if r.err == nil {
			r.failErr(fmt.Errorf("%w: value type 0x%02x at byte %d", ErrUnsupported, b, r.pos-1))
		}
	}
	return 0
}

func floatName(b byte) string {
	if b == valF32 {
		return "f32"
	}
	return "f64"
}

// count reads a vector length and checks it against the bytes left (each
// element takes at least minSize bytes), so no loop or allocation exceeds
// the input.
func count(r *reader, minSize int) uint32 {
	n := r.u32()
	if r.err == nil && uint64(n)*uint64(minSize) > uint64(r.len()) {
		r.fail("vector of %d elements longer than its section", n)
		return 0
	}
	return n
}

func name(r *reader) string {
	n := r.u32()
	b := r.bytes(n)
	if r.err == nil && !utf8.Valid(b) {
		r.fail("name is not UTF-8")
	}
	return string(b)
}

func (m *module) decodeTypes(r *reader) {
	n := count(r, 3)
	for i := uint32(0); i < n && r.err == nil; i++ {
		if f := r.byte(); f != 0x60 && r.err == nil {
			r.fail("type %d: form 0x%02x is not a function type", i, f)
			return
		}
		var sig Signature
		np := count(r, 1)
		for j := uint32(0); j < np && r.err == nil; j++ {
			sig.Params = append(sig.Params, valueType(r))
		}
		nr := count(r, 1)
		for j := uint32(0); j < nr && r.err == nil; j++ {
			sig.Results = append(sig.Results, valueType(r))
		}
		if len(sig.Results) > 1 && r.err == nil {
			r.failErr(fmt.Errorf("%w: type %d has %d results (multi-value)", ErrUnsupported, i, len(sig.Results)))
		}
		m.types = append(m.types, sig)
	}
}

func (m *module) decodeImports(r *reader, allowed []Import) {
	n := count(r, 4)
	for i := uint32(0); i < n && r.err == nil; i++ {
		mod, field := name(r), name(r)
		kind := r.byte()
		if r.err != nil {
			return
		}
		if kind != kindFunc {
			r.failErr(fmt.Errorf("%w: %s.%s is not a function (kind %d)", ErrImport, mod, field, kind))
			return
		}
		ti := r.u32()
		if r.err != nil {
			return
		}
		if ti >= uint32(len(m.types)) {
			r.fail("import %s.%s: type index %d out of range", mod, field, ti)
			return
		}
		if mod != "env" {
			r.failErr(fmt.Errorf("%w: module %q (only \"env\")", ErrImport, mod))
			return
		}
		var want *Import
		for k := range allowed {
			if allowed[k].Name == field {
				want = &allowed[k]
				break
			}
		}
		if want == nil {
			r.failErr(fmt.Errorf("%w: env.%s is not a host function", ErrImport, field))
			return
		}
		if got := m.types[ti]; !got.Equal(want.Signature) {
			r.failErr(fmt.Errorf("%w: env.%s declared %s, host has %s", ErrImport, field, got, want.Signature))
			return
		}
		m.imports = append(m.imports, importEntry{module: mod, name: field, typeIdx: ti})
	}
}

func (m *module) decodeFunctions(r *reader, lim Limits) {
	n := count(r, 1)
	if r.err == nil && uint64(n)+uint64(len(m.imports)) > uint64(lim.MaxFunctions) {
		r.failErr(fmt.Errorf("%w: %d functions, limit %d", ErrTooLarge, uint64(n)+uint64(len(m.imports)), lim.MaxFunctions))
		return
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		ti := r.u32()
		if r.err == nil && ti >= uint32(len(m.types)) {
			r.fail("function %d: type index %d out of range", i, ti)
		}
		m.funcs = append(m.funcs, ti)
	}
}

// limits reads a limits pair; only the MVP forms (min, or min and max).
func limits(r *reader, what string) (lo, hi uint32, hasMax bool) {
	switch flag := r.byte(); flag {
	case 0:
		return r.u32(), 0, false
	case 1:
		lo, hi = r.u32(), r.u32()
		if r.err == nil && hi < lo {
			r.fail("%s: max %d below min %d", what, hi, lo)
		}
		return lo, hi, true
	default:
		if r.err == nil {
			r.failErr(fmt.Errorf("%w: %s limits flag 0x%02x (shared or 64-bit)", ErrUnsupported, what, flag))
		}
		return 0, 0, false
	}
}

func (m *module) decodeTable(r *reader, lim Limits) {
	n := r.u32()
	if r.err == nil && n > 1 {
		r.failErr(fmt.Errorf("%w: %d tables (reference types)", ErrUnsupported, n))
		return
	}
	if n == 1 {
		if t := r.byte(); t != 0x70 && r.err == nil {
			r.failErr(fmt.Errorf("%w: table element type 0x%02x", ErrUnsupported, t))
			return
		}
		lo, _, _ := limits(r, "table")
		if r.err == nil && lo > lim.MaxTableSize {
			r.failErr(fmt.Errorf("%w: table of %d elements, limit %d", ErrTooLarge, lo, lim.MaxTableSize))
			return
		}
		m.tableMin = lo
	}
	m.table = r.buf
}

func (m *module) decodeMemory(r *reader, lim Limits) {
	n := r.u32()
	if r.err == nil && n != 1 {
		r.failErr(fmt.Errorf("%w: %d memories, the module must define exactly one", ErrMemoryLimit, n))
		return
	}
	lo, hi, hasMax := limits(r, "memory")
	if r.err != nil {
		return
	}
	if lo > ceilMemoryPages || hi > ceilMemoryPages {
		r.fail("memory of more than %d pages", ceilMemoryPages)
		return
	}
	if lo > lim.MaxMemoryPages {
		r.failErr(fmt.Errorf("%w: %d initial pages, limit %d", ErrMemoryLimit, lo, lim.MaxMemoryPages))
		return
	}
	m.memMin, m.memMax, m.hasMemMax, m.hasMemory = lo, hi, hasMax, true
}

// offsetExpr reads a segment offset: an i32 constant, used unsigned.
func offsetExpr(r *reader) uint32 {
	e := constExpr(r, I32)
	if r.err != nil {
		return 0
	}
	v := (&reader{buf: e[1:]}).signed(32)
	return uint32(v)
}

// constExpr reads a constant initializer of the given type: i32.const or
// i64.const followed by end. It returns the raw bytes including the end.
func constExpr(r *reader, typ ValueType) []byte {
	start := r.pos
	switch op := r.byte(); op {
	case opI32Const:
		r.signed(32)
		if typ != I32 && r.err == nil {
			r.fail("i32.const initializes a %s", typ)
		}
	case opI64Const:
		r.signed(64)
		if typ != I64 && r.err == nil {
			r.fail("i64.const initializes a %s", typ)
		}
	case 0x43, 0x44:
		r.failErr(fmt.Errorf("%w: float constant in an initializer", ErrFloatingPoint))
	default:
		if r.err == nil {
			r.fail("initializer opcode 0x%02x is not an integer constant", op)
		}
	}
	if e := r.byte(); e != opEnd && r.err == nil {
		r.fail("initializer not terminated by end")
	}
	if r.err != nil {
		return nil
	}
	return r.buf[start:r.pos]
}

func (m *module) decodeGlobals(r *reader, lim Limits) {
	n := count(r, 4)
	if r.err == nil && n > lim.MaxGlobals {
		r.failErr(fmt.Errorf("%w: %d globals, limit %d", ErrTooLarge, n, lim.MaxGlobals))
		return
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		g := global{typ: valueType(r)}
		switch mut := r.byte(); mut {
		case 0, 1:
			g.mutable = mut == 1
		default:
			if r.err == nil {
				r.fail("global %d: mutability 0x%02x", i, mut)
			}
		}
		if r.err != nil {
			return
		}
		g.init = constExpr(r, g.typ)
		m.globals = append(m.globals, g)
	}
}

func (m *module) decodeExports(r *reader) {
	n := count(r, 3)
	seen := make(map[string]bool)
	nFuncs := uint32(len(m.imports) + len(m.funcs))
	for i := uint32(0); i < n && r.err == nil; i++ {
		e := export{name: name(r), kind: r.byte(), index: r.u32()}
		if r.err != nil {
			return
		}
		if seen[e.name] {
			r.fail("export %q repeated", e.name)
			return
		}
		seen[e.name] = true
		if e.name == exportGas || e.name == exportDepth {
			r.fail("export name %q is reserved for metering", e.name)
			return
		}
		var ok bool
		switch e.kind {
		case kindFunc:
			ok = e.index < nFuncs
		case kindTable:
			ok = e.index == 0 && m.table != nil
		case kindMemory:
			ok = e.index == 0 && m.hasMemory
		case kindGlobal:
			ok = e.index < uint32(len(m.globals))
		}
		if !ok {
			r.fail("export %q: kind %d index %d out of range", e.name, e.kind, e.index)
			return
		}
		m.exports = append(m.exports, e)
	}
}

func (m *module) decodeElements(r *reader) {
	n := count(r, 4)
	nFuncs := uint32(len(m.imports) + len(m.funcs))
	for i := uint32(0); i < n && r.err == nil; i++ {
		if flags := r.u32(); flags != 0 && r.err == nil {
			r.failErr(fmt.Errorf("%w: element segment %d flags %d (bulk memory / reference types)", ErrUnsupported, i, flags))
			return
		}
		offset := offsetExpr(r)
		k := count(r, 1)
		for j := uint32(0); j < k && r.err == nil; j++ {
			if fi := r.u32(); r.err == nil && fi >= nFuncs {
				r.fail("element segment %d: function %d out of range", i, fi)
			}
		}
		// Offsets are constants: a segment that cannot fit would fail
		// every instantiation, so it is refused at deploy time.
		if r.err == nil && (m.table == nil || uint64(offset)+uint64(k) > uint64(m.tableMin)) {
			r.fail("element segment %d [%d, +%d) outside the table of %d", i, offset, k, m.tableMin)
		}
	}
	m.elements = r.buf
}

func (m *module) decodeData(r *reader) {
	n := count(r, 4)
	for i := uint32(0); i < n && r.err == nil; i++ {
		if flags := r.u32(); flags != 0 && r.err == nil {
			r.failErr(fmt.Errorf("%w: data segment %d flags %d (bulk memory)", ErrUnsupported, i, flags))
			return
		}
		offset := offsetExpr(r)
		n := r.u32()
		r.bytes(n)
		if r.err == nil && uint64(offset)+uint64(n) > uint64(m.memMin)*PageSize {
			r.fail("data segment %d [%d, +%d) outside the initial memory of %d pages", i, offset, n, m.memMin)
		}
	}
	m.data = r.buf
}

func (m *module) decodeCode(r *reader, lim Limits) {
	n := count(r, 2)
	if r.err == nil && n != uint32(len(m.funcs)) {
		r.fail("%d bodies for %d functions", n, len(m.funcs))
		return
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		raw := r.bytes(r.u32())
		if r.err != nil {
			return
		}
		b, err := decodeBody(m, m.types[m.funcs[i]], raw, lim)
		if err != nil {
			r.failErr(inFunction(err, uint32(len(m.imports))+i))
			return
		}
		m.code = append(m.code, b)
	}
}

// inFunction names the function an error is about, after the sentinel's
// text so that messages read "wasm: floating point is not allowed:
// function 3: ...".
func inFunction(err error, fi uint32) error {
	for _, sentinel := range []error{ErrMalformed, ErrUnsupported, ErrFloatingPoint, ErrTooLarge} {
		if errors.Is(err, sentinel) {
			detail := strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
			return fmt.Errorf("%w: function %d: %s", sentinel, fi, detail)
		}
	}
	return fmt.Errorf("function %d: %w", fi, err)
}
