#!/usr/bin/env bash
# The walkthrough of docs/programs.md ("Try it"), as a new user runs it,
# with its outcomes checked: a local network of accounts, two accounts,
# the token program deployed, minted and transferred, a key rotated and
# the old key refused, and the ticket race won by exactly one buyer.
#
#   examples/walkthrough.sh            (from the repository root; ~2 min)
#
# Needs Go, and clang with lld for the example programs (examples/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'kill $tn 2>/dev/null || true; wait $tn 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/floe" ./cmd/floe
floe="$work/floe"
examples/build.sh >/dev/null

"$floe" testnet --clusters 1 --rate 20 --duration 10m --dir "$work/tn" >"$work/testnet.log" 2>&1 &
tn=$!
for _ in $(seq 1 120); do
  grep -q "load started" "$work/testnet.log" && break
  sleep 1
done
N=$(sed -n 's/.*access0 API at \(http:[^,]*\),.*/\1/p' "$work/testnet.log")
SVC=$(sed -n 's/.*service account \(0x[0-9a-f]*\) .*/\1/p' "$work/testnet.log" | head -1)
SK="$work/tn/accounts/service.key"
[ -n "$N" ] && [ -n "$SVC" ] || { cat "$work/testnet.log"; echo "walkthrough: the testnet did not start" >&2; exit 1; }
echo "walkthrough: access node $N, service account $SVC"

cd "$work"
fail() { echo "walkthrough: FAIL: $*" >&2; exit 1; }
addr() { awk '/^address:/{print $2}'; }

"$floe" account keygen --out alice.key >/dev/null
"$floe" account keygen --out bob.key --algo ecdsa-p256 >/dev/null
A=$("$floe" account create --node "$N" --key alice.key --payer "$SVC" --payer-key "$SK" | addr)
B=$("$floe" account create --node "$N" --key bob.key --payer "$SVC" --payer-key "$SK" | addr)
[ -n "$A" ] && [ -n "$B" ] && [ "$A" != "$B" ] || fail "two accounts: got '$A' and '$B'"
"$floe" account transfer --node "$N" --from "$SVC" --key "$SK" "$A" 10000000 >/dev/null
"$floe" account transfer --node "$N" --from "$SVC" --key "$SK" "$B" 10000000 >/dev/null
echo "walkthrough: accounts $A (Ed25519) and $B (ECDSA P-256), funded"

"$floe" program deploy "$OLDPWD/examples/token/token.wasm" --node "$N" --account "$A" --key alice.key >/dev/null
"$floe" tx call "$A.mint" "$B" 1000 --node "$N" --account "$A" --key alice.key >/dev/null
"$floe" tx call "$A.transfer" "$A" 250 --node "$N" --account "$B" --key bob.key >out.txt
grep -q "$(echo "$A" | cut -c3-).transfer" out.txt || fail "the token transfer emitted no event: $(cat out.txt)"
if "$floe" tx call "$A.transfer" "$A" 751 --node "$N" --account "$B" --key bob.key >out.txt 2>&1; then
  fail "a transfer of more tokens than held succeeded"
fi
grep -q "insufficient token balance" out.txt || fail "overdraft: $(cat out.txt)"
echo "walkthrough: token deployed, 1000 minted, 250 transferred, an overdraft refused"

"$floe" account keygen --out alice2.key >/dev/null
"$floe" account keys add "$A" --node "$N" --key alice.key --new-key alice2.key >/dev/null
"$floe" account keys revoke "$A" 0 --node "$N" --key alice2.key --key-index 1 >/dev/null
if "$floe" account transfer --node "$N" --from "$A" --key alice.key "$B" 5 >out.txt 2>&1; then
  fail "the revoked key still signs"
fi
grep -qi "revoked" out.txt || fail "the revoked key's refusal: $(cat out.txt)"
"$floe" account transfer --node "$N" --from "$A" --key alice2.key --key-index 1 "$B" 5 >/dev/null
"$floe" account show "$A" --node "$N" | grep -q "REVOKED" || fail "account show does not list key 0 as revoked"
echo "walkthrough: key rotated; the old key is refused, the new one signs"

"$floe" account keygen --out carol.key >/dev/null
C=$("$floe" account create --node "$N" --key carol.key --payer "$SVC" --payer-key "$SK" | addr)
"$floe" account transfer --node "$N" --from "$SVC" --key "$SK" "$C" 10000000 >/dev/null
"$floe" program deploy "$OLDPWD/examples/tickets/tickets.wasm" --node "$N" --account "$C" --key carol.key >/dev/null
"$floe" tx call "$C.setup" 1 50 --node "$N" --account "$C" --key carol.key >/dev/null
set +e
"$floe" tx call "$C.buy" --node "$N" --account "$A" --key alice2.key --key-index 1 >buyA.txt 2>&1 &
pa=$!
"$floe" tx call "$C.buy" --node "$N" --account "$B" --key bob.key >buyB.txt 2>&1
rb=$?
wait $pa
ra=$?
set -e
wins=$(( (ra == 0) + (rb == 0) ))
[ "$wins" -eq 1 ] || fail "the ticket race: $wins winners (alice rc=$ra, bob rc=$rb)"
grep -q "sold out" buyA.txt buyB.txt || fail "the loser was not told 'sold out'"
echo "walkthrough: the ticket race: exactly one buyer won (alice rc=$ra, bob rc=$rb), the other was told 'sold out'"
echo "walkthrough: ok"
