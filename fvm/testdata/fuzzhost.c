/* The host-function boundary under fuzzing (FuzzHostBoundary): argument 0
 * is a list of 24-byte records (op, then five 32-bit values), each a call
 * of one host function with those raw values as pointers, lengths,
 * indexes and amounts. Whatever they are, the VM must answer with an
 * outcome (a trap, an abort, a failed rule) and never break. */
#include "floe.h"

static uint8_t buf[4096];

FLOE_EXPORT(run) void run(void) {
    int32_t n = floe_arg_len(0);
    if (n < 0 || n > (int32_t)sizeof buf) return;
    floe_arg(0, buf);
    for (int32_t i = 0; i + 24 <= n; i += 24) {
        uint32_t w[6];
        for (int j = 0; j < 6; j++)
            w[j] = buf[i + 4*j] | buf[i + 4*j + 1] << 8 | buf[i + 4*j + 2] << 16 | (uint32_t)buf[i + 4*j + 3] << 24;
        void *a = (void *)(uintptr_t)w[1], *c = (void *)(uintptr_t)w[3];
        int32_t b = (int32_t)w[2], d = (int32_t)w[4], e = (int32_t)w[5];
        switch (w[0] % 24) {
        case 0: floe_get(a, b, c, d); break;
        case 1: floe_set(a, b, c, d); break;
        case 2: floe_del(a, b); break;
        case 3: floe_pub_get(a, c, b, (void *)(uintptr_t)w[4], e); break;
        case 4: floe_pub_set(a, b, c, d); break;
        case 5: floe_auth(b, a); break;
        case 6: floe_auth_get(b, a, d, c, e); break;
        case 7: floe_auth_set(b, a, d, c, e); break;
        case 8: floe_self(a); break;
        case 9: floe_caller(a); break;
        case 10: floe_emit(a, b, c, d); break;
        case 11: floe_call(a, c, b, (void *)(uintptr_t)w[4], e, a, b); break;
        case 12: floe_balance(a); break;
        case 13: floe_transfer(a, (int64_t)w[2]); break;
        case 14: floe_debit(a, (int64_t)w[2]); break;
        case 15: floe_grant(b, a, (int64_t)w[3]); break;
        case 16: floe_random(a, b); break;
        case 17: floe_ret(a, b); break;
        case 18: floe_arg(b, a); break;
        case 19: floe_arg_len(b); break;
        case 20: floe_abort(a, b); break;
        case 21: floe_height(); break;
        case 22: floe_auth_count(); break;
        default: floe_arg_count(); break;
        }
    }
}
