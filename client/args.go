package client

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/consensus/model"
)

// The command-line syntax of program calls: what 'floe tx call' accepts,
// parsed here so other front ends share it.

// ParseCallTarget splits "ADDRESS.FUNCTION" into the program's address
// (valid on chain) and the function name.
func ParseCallTarget(s string, chain model.ChainID) (account.Address, string, error) {
	addr, fn, ok := strings.Cut(s, ".")
	if !ok || fn == "" {
		return account.Address{}, "", fmt.Errorf("%w: %q: want PROGRAM_ADDRESS.FUNCTION", ErrInvalidArg, s)
	}
	a, err := account.ParseAddress(addr, chain)
	if err != nil {
		return account.Address{}, "", fmt.Errorf("program: %w", err)
	}
	return a, fn, nil
}

// ParseCallArg encodes one call argument:
//
//   - "0x" and 16 hex digits: an address (8 bytes), which must be valid on
//     chain (a typo is refused, not sent as bytes);
//   - "u64:N" or a plain decimal N: N as 8 bytes little-endian (what the
//     example programs' floe_arg_u64 reads);
//   - "hex:..." the bytes the hex digits spell (an optional 0x after the
//     colon), possibly none;
//   - "str:..." the text's UTF-8 bytes.
//
// Anything else is ErrInvalidArg, so a forgotten prefix never sends
// something the caller did not mean.
func ParseCallArg(s string, chain model.ChainID) ([]byte, error) {
	switch {
	case strings.HasPrefix(s, "u64:"):
		return parseU64LE(s, s[len("u64:"):])
	case strings.HasPrefix(s, "hex:"):
		h := strings.TrimPrefix(strings.TrimPrefix(s[len("hex:"):], "0x"), "0X")
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalidArg, s, err)
		}
		return b, nil
	case strings.HasPrefix(s, "str:"):
		t := s[len("str:"):]
		if !utf8.ValidString(t) {
			return nil, fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidArg, s)
		}
		return []byte(t), nil
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		if len(s) != 2+16 {
			return nil, fmt.Errorf("%w: %q is not an address (0x and 16 hex digits); raw bytes are hex:...", ErrInvalidArg, s)
		}
		a, err := account.ParseAddress(s, chain)
		if err != nil {
			return nil, fmt.Errorf("argument %q: %w (raw bytes are hex:...)", s, err)
		}
		return a[:], nil
	case s != "" && strings.Trim(s, "0123456789") == "":
		return parseU64LE(s, s)
	}
	return nil, fmt.Errorf("%w: %q: want an address (0x + 16 hex digits), a decimal, u64:N, hex:BYTES or str:TEXT", ErrInvalidArg, s)
}

func parseU64LE(arg, digits string) ([]byte, error) {
	n, err := ParseAmount(digits)
	if err != nil {
		return nil, fmt.Errorf("argument %q: %w", arg, err)
	}
	return binary.LittleEndian.AppendUint64(nil, n), nil
}

// ParseAmount parses a decimal uint64 (an amount of the native token, a
// u64 argument): digits only, no sign, no overflow.
func ParseAmount(s string) (uint64, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: %q is not a decimal number", ErrInvalidArg, s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q does not fit 64 bits", ErrInvalidArg, s)
	}
	return n, nil
}
