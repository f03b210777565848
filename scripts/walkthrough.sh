#!/usr/bin/env bash
# The code generation + verification walk-through: from nothing to signed, verified, packed codes on SQLite.
# Runs in ./walkthrough-out so it never touches another database; safe to run again (it starts afresh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
T="$ROOT/.venv/bin/traceability"
OUT="$ROOT/walkthrough-out"
rm -rf "$OUT" && mkdir -p "$OUT" && cd "$OUT"
export TRACEABILITY_DB="sqlite:///$OUT/traceability.db" TRACEABILITY_KEY_DIR="$OUT/keys"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Import master data (territories, parties, products)"
"$T" masterdata import "$ROOT/docs/examples/masterdata.json"

step "2. Create a signing key (private key file in $OUT/keys, public key in the database)"
"$T" codes keys create

step "3. Generate 10,000 signed unit codes for lot L2611, expiry 2027-12-31"
"$T" codes generate --gtin 06901234000108 --lot L2611 --expiry 271231 --count 10000 --party PLANT-1 --out units.txt
head -n 2 units.txt

step "4. Export the public keyring and verify a code offline (no database)"
"$T" codes keys export-public --out keyring.json
CODE=$(head -n 1 units.txt)
"$T" codes verify "$CODE" --public-key keyring.json

step "5. A forged code (one character of the serial changed) fails, with the reason"
FORGED=$(python3 -c "import sys; c=sys.argv[1]; i=c.index('/21/')+5; print(c[:i]+('A' if c[i]!='A' else 'B')+c[i+1:])" "$CODE")
"$T" codes verify "$FORGED" --public-key keyring.json || echo "(exit $? as expected)"

step "6. Verify against the database: signature, issued, life-cycle state"
"$T" codes verify "$CODE"

step "7. Pack six units into a case (SSCC) and the case onto a pallet"
CASE=$("$T" codes sscc --company-prefix 6901234 --party PLANT-1)
PALLET=$("$T" codes sscc --company-prefix 6901234 --level pallet --party PLANT-1)
head -n 6 units.txt > case1.txt
"$T" codes aggregate "$CASE" --from-file case1.txt --party PLANT-1
"$T" codes aggregate "$PALLET" "$CASE" --party PLANT-1

step "8. Rotate the key: old codes keep verifying; revoke it: they fail, naming the reason"
"$T" codes keys rotate
"$T" codes verify "$CODE"
"$T" codes keys revoke K1 --reason "walk-through: key file exposed"
"$T" codes verify "$CODE" || echo "(exit $? as expected)"
"$T" codes keys list

step "Done. Files are in $OUT"
