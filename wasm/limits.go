package wasm

import "fmt"

// Limits bound what a module may declare and how deep it may run. They are
// applied at Compile time and baked into the instrumented module, so a
// Program behaves the same wherever it runs.
type Limits struct {
	// MaxCodeBytes bounds the size of the original module binary.
	MaxCodeBytes int
	// MaxMemoryPages (64 KiB each) bounds initial memory at deploy time and
	// the memory's maximum at run time: memory.grow beyond it returns -1.
	MaxMemoryPages uint32
	// MaxCallDepth bounds how many calls may be active at once (host
	// functions and nested program calls included). Past it the call traps
	// with ErrCallDepth.
	MaxCallDepth uint32
	// MaxLocals bounds a function's parameters plus declared locals.
	MaxLocals uint32
	// MaxStackHeight bounds a function's operand stack height, computed
	// statically. With MaxLocals it bounds a frame, so MaxCallDepth frames
	// stay far below wazero's own stack limits on every architecture.
	MaxStackHeight uint32
	// MaxFunctions bounds imported plus defined functions.
	MaxFunctions uint32
	// MaxTableSize bounds the function table's initial size.
	MaxTableSize uint32
	// MaxGlobals bounds the module's own globals.
	MaxGlobals uint32
}

// Hard ceilings for Limits, chosen against wazero's own limits: the
// interpreter refuses more than 2000 frames per call, and the compiler's
// stack tops out at 400 MB; MaxCallDepth*(MaxLocals+MaxStackHeight)*8 bytes
// stays under 64 MiB at these ceilings.
const (
	ceilCallDepth   = 1000
	ceilFrameSlots  = 8192 // MaxLocals + MaxStackHeight
	ceilMemoryPages = 65536
	ceilCodeBytes   = 16 << 20
	// PageSize is the WebAssembly page size in bytes.
	PageSize = 65536
)

// DefaultLimits returns the limits floe uses unless configured otherwise.
func DefaultLimits() Limits {
	return Limits{
		MaxCodeBytes:   256 << 10,
		MaxMemoryPages: 256, // 16 MiB
		MaxCallDepth:   256,
		MaxLocals:      1024,
		MaxStackHeight: 1024,
		MaxFunctions:   4096,
		MaxTableSize:   4096,
		MaxGlobals:     256,
	}
}

// Validate reports whether the limits are usable: every bound positive and
// under its hard ceiling.
func (l Limits) Validate() error {
	switch {
	case l.MaxCodeBytes <= 0 || l.MaxCodeBytes > ceilCodeBytes:
		return fmt.Errorf("%w: MaxCodeBytes %d not in 1..%d", ErrLimits, l.MaxCodeBytes, ceilCodeBytes)
	case l.MaxMemoryPages == 0 || l.MaxMemoryPages > ceilMemoryPages:
		return fmt.Errorf("%w: MaxMemoryPages %d not in 1..%d", ErrLimits, l.MaxMemoryPages, ceilMemoryPages)
	case l.MaxCallDepth == 0 || l.MaxCallDepth > ceilCallDepth:
		return fmt.Errorf("%w: MaxCallDepth %d not in 1..%d", ErrLimits, l.MaxCallDepth, ceilCallDepth)
	case l.MaxLocals == 0 || l.MaxStackHeight == 0 || uint64(l.MaxLocals)+uint64(l.MaxStackHeight) > ceilFrameSlots:
		return fmt.Errorf("%w: MaxLocals %d + MaxStackHeight %d must be positive and at most %d",
			ErrLimits, l.MaxLocals, l.MaxStackHeight, ceilFrameSlots)
	case l.MaxFunctions == 0 || l.MaxFunctions > 1<<20:
		return fmt.Errorf("%w: MaxFunctions %d not in 1..%d", ErrLimits, l.MaxFunctions, 1<<20)
	case l.MaxTableSize > 1<<20:
		return fmt.Errorf("%w: MaxTableSize %d above %d", ErrLimits, l.MaxTableSize, 1<<20)
	case l.MaxGlobals > 1<<16:
		return fmt.Errorf("%w: MaxGlobals %d above %d", ErrLimits, l.MaxGlobals, 1<<16)
	}
	return nil
}
