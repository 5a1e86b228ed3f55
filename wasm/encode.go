package wasm

// encoder appends sections to a module binary.
type encoder struct{ buf []byte }

func (e *encoder) section(id byte, fill func([]byte) []byte) {
	e.raw(id, fill(nil))
}

func (e *encoder) raw(id byte, payload []byte) {
	e.buf = append(e.buf, id)
	e.buf = appendU32(e.buf, uint32(len(payload)))
	e.buf = append(e.buf, payload...)
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}
