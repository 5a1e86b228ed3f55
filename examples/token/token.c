/* A fungible token (docs/programs.md, examples/README.md).
 *
 * Balances are public storage of the token's account, "b" followed by
 * the holder's address: any program, access node or light client reads
 * them, only this program writes them. The account the token is
 * deployed into mints; holders transfer what they hold.
 *
 *   mint(to, amount)       signed by the token's own account
 *   transfer(to, amount)   moves from the first authorizer's balance
 *   supply()               returns the total minted (8 bytes)
 */
#include "floe.h"

static void balance_key(uint8_t key[9], const floe_address *who) {
    key[0] = 'b';
    for (int i = 0; i < 8; i++) key[1 + i] = who->b[i];
}

static uint64_t balance_of(const floe_address *who) {
    uint8_t key[9], v[8];
    floe_address self;
    balance_key(key, who);
    floe_self(&self);
    return floe_pub_get(&self, key, 9, v, 8) == 8 ? floe_u64(v) : 0;
}

static void set_balance(const floe_address *who, uint64_t amount) {
    uint8_t key[9], v[8];
    balance_key(key, who);
    floe_put_u64(v, amount);
    floe_pub_set(key, 9, v, amount ? 8 : 0); /* 0 bytes deletes */
}

static floe_address signer(void) {
    floe_address a;
    if (floe_auth(0, &a) != 0) FLOE_ABORT("needs an authorizer");
    return a;
}

FLOE_EXPORT(mint) void mint(void) {
    floe_address self, to = floe_arg_address(0);
    uint64_t amount = floe_arg_u64(1);
    floe_address by = signer();
    floe_self(&self);
    if (!floe_address_eq(&by, &self)) FLOE_ABORT("only the token's account mints");
    uint64_t supply = floe_get_u64("supply", 6);
    if (supply + amount < supply) FLOE_ABORT("supply overflows");
    floe_set_u64("supply", 6, supply + amount);
    set_balance(&to, balance_of(&to) + amount);
    uint8_t ev[16];
    for (int i = 0; i < 8; i++) ev[i] = to.b[i];
    floe_put_u64(ev + 8, amount);
    FLOE_EMIT("mint", ev, 16);
}

FLOE_EXPORT(transfer) void transfer(void) {
    floe_address to = floe_arg_address(0);
    uint64_t amount = floe_arg_u64(1);
    floe_address from = signer();
    uint64_t have = balance_of(&from);
    if (have < amount) FLOE_ABORT("insufficient token balance");
    set_balance(&from, have - amount);
    set_balance(&to, balance_of(&to) + amount);
    uint8_t ev[24];
    for (int i = 0; i < 8; i++) { ev[i] = from.b[i]; ev[8 + i] = to.b[i]; }
    floe_put_u64(ev + 16, amount);
    FLOE_EMIT("transfer", ev, 24);
}

FLOE_EXPORT(supply) void supply(void) {
    uint8_t v[8];
    floe_put_u64(v, floe_get_u64("supply", 6));
    floe_ret(v, 8);
}
