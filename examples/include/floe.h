/* floe.h: bindings for floe programs written in C (docs/programs.md).
 *
 * A program is a WebAssembly module deployed into an account. Every
 * exported function taking and returning nothing can be called by a
 * transaction (or by another program); it reads its arguments with
 * floe_arg, answers with floe_ret, and fails the whole transaction with
 * floe_abort. No floating point, no libc: build with examples/build.sh.
 */
#ifndef FLOE_H
#define FLOE_H

#include <stddef.h>
#include <stdint.h>

#define FLOE_IMPORT(n) __attribute__((import_module("env"), import_name(#n)))
#define FLOE_EXPORT(n) __attribute__((export_name(#n)))

typedef struct { uint8_t b[8]; } floe_address;

/* Arguments and results. */
FLOE_IMPORT(arg_count) int32_t floe_arg_count(void);
FLOE_IMPORT(arg_len) int32_t floe_arg_len(int32_t i);
FLOE_IMPORT(arg) int32_t floe_arg(int32_t i, void *out);
FLOE_IMPORT(ret) void floe_ret(const void *p, int32_t len);
FLOE_IMPORT(abort) void floe_abort(const char *msg, int32_t len);

/* The program's own storage: private (only this program writes it) ... */
FLOE_IMPORT(get) int32_t floe_get(const void *key, int32_t klen, void *out, int32_t cap);
FLOE_IMPORT(set) void floe_set(const void *key, int32_t klen, const void *val, int32_t vlen);
FLOE_IMPORT(del) void floe_del(const void *key, int32_t klen);
/* ... and public (any program reads it, only this one writes it). */
FLOE_IMPORT(pub_get) int32_t floe_pub_get(const floe_address *a, const void *key, int32_t klen, void *out, int32_t cap);
FLOE_IMPORT(pub_set) void floe_pub_set(const void *key, int32_t klen, const void *val, int32_t vlen);

/* Who: the transaction's authorizers (top-level calls only), this
 * program's account, the calling program. */
FLOE_IMPORT(auth_count) int32_t floe_auth_count(void);
FLOE_IMPORT(auth) int32_t floe_auth(int32_t i, floe_address *out);
FLOE_IMPORT(auth_get) int32_t floe_auth_get(int32_t i, const void *key, int32_t klen, void *out, int32_t cap);
FLOE_IMPORT(auth_set) int32_t floe_auth_set(int32_t i, const void *key, int32_t klen, const void *val, int32_t vlen);
FLOE_IMPORT(self) void floe_self(floe_address *out);
FLOE_IMPORT(caller) int32_t floe_caller(floe_address *out);

/* Events, calls into other programs, the native token, randomness. */
FLOE_IMPORT(emit) void floe_emit(const char *type, int32_t tlen, const void *data, int32_t dlen);
FLOE_IMPORT(call) int32_t floe_call(const floe_address *a, const char *fn, int32_t flen, const void *args, int32_t alen, void *out, int32_t cap);
FLOE_IMPORT(balance) int64_t floe_balance(const floe_address *a);
FLOE_IMPORT(transfer) int32_t floe_transfer(const floe_address *to, int64_t amount);
FLOE_IMPORT(debit) int32_t floe_debit(const floe_address *from, int64_t amount);
FLOE_IMPORT(grant) int32_t floe_grant(int32_t i, const floe_address *program, int64_t amount);
FLOE_IMPORT(random) void floe_random(void *out, int32_t len);
FLOE_IMPORT(height) int64_t floe_height(void);

/* The compiler may call these for copies; there is no libc. */
void *memcpy(void *d, const void *s, size_t n) {
    uint8_t *dd = d; const uint8_t *ss = s;
    while (n--) *dd++ = *ss++;
    return d;
}
void *memset(void *d, int c, size_t n) {
    uint8_t *dd = d;
    while (n--) *dd++ = (uint8_t)c;
    return d;
}

static inline int32_t floe_strlen(const char *s) { int32_t n = 0; while (s[n]) n++; return n; }
#define FLOE_ABORT(msg) floe_abort((msg), floe_strlen(msg))
#define FLOE_EMIT(type, data, len) floe_emit((type), floe_strlen(type), (data), (len))

static inline int floe_address_eq(const floe_address *a, const floe_address *b) {
    for (int i = 0; i < 8; i++) if (a->b[i] != b->b[i]) return 0;
    return 1;
}

/* Integers travel little-endian, 8 bytes. */
static inline uint64_t floe_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static inline void floe_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) { p[i] = (uint8_t)v; v >>= 8; }
}

/* Argument i as an address or an integer; anything else aborts. */
static inline floe_address floe_arg_address(int32_t i) {
    floe_address a;
    if (floe_arg_len(i) != 8) FLOE_ABORT("argument is not an address (8 bytes)");
    floe_arg(i, &a);
    return a;
}
static inline uint64_t floe_arg_u64(int32_t i) {
    uint8_t b[8];
    if (floe_arg_len(i) != 8) FLOE_ABORT("argument is not an integer (8 bytes, little-endian)");
    floe_arg(i, b);
    return floe_u64(b);
}

/* Storage of an integer under a key (absent: 0). */
static inline uint64_t floe_get_u64(const void *key, int32_t klen) {
    uint8_t b[8];
    return floe_get(key, klen, b, 8) == 8 ? floe_u64(b) : 0;
}
static inline void floe_set_u64(const void *key, int32_t klen, uint64_t v) {
    uint8_t b[8];
    floe_put_u64(b, v);
    floe_set(key, klen, b, 8);
}

#endif
