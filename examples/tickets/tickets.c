/* The concert-ticket sale of Flow's vision paper: a fixed number of
 * tickets at a fixed price in the native token; buyers race, and
 * because transactions are atomic and ordered, when two buyers race for
 * the last ticket exactly one gets it and the other pays nothing but
 * its fee.
 *
 *   setup(count, price)  signed by the sale's own account
 *   buy()                the first authorizer buys one ticket: the price
 *                        moves from it to the sale's account, and the
 *                        ticket is public storage "t" ‖ buyer
 *   left()               returns the tickets left (8 bytes)
 */
#include "floe.h"

FLOE_EXPORT(setup) void setup(void) {
    floe_address self, by;
    floe_self(&self);
    if (floe_auth(0, &by) != 0 || !floe_address_eq(&by, &self)) FLOE_ABORT("only the sale's account sets it up");
    floe_set_u64("left", 4, floe_arg_u64(0));
    floe_set_u64("price", 5, floe_arg_u64(1));
}

FLOE_EXPORT(buy) void buy(void) {
    floe_address buyer;
    if (floe_auth(0, &buyer) != 0) FLOE_ABORT("needs an authorizer");
    uint64_t left = floe_get_u64("left", 4);
    if (left == 0) FLOE_ABORT("sold out");
    uint8_t key[9];
    key[0] = 't';
    for (int i = 0; i < 8; i++) key[1 + i] = buyer.b[i];
    uint8_t held[8];
    uint64_t n = floe_get(key, 9, held, 8) == 8 ? floe_u64(held) : 0;
    if (floe_debit(&buyer, (int64_t)floe_get_u64("price", 5)) != 0) FLOE_ABORT("cannot pay the price");
    floe_set_u64("left", 4, left - 1);
    floe_put_u64(held, n + 1);
    floe_pub_set(key, 9, held, 8);
    FLOE_EMIT("sold", buyer.b, 8);
}

FLOE_EXPORT(left) void left(void) {
    uint8_t v[8];
    floe_put_u64(v, floe_get_u64("left", 4));
    floe_ret(v, 8);
}
