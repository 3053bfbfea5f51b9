#!/usr/bin/env bash
# A minimal controller loop against the MeshLedger API: list, watch from the listed sequence,
# and for every status change apply the outputs of the affected cluster and report the result.
# Here "apply" is a stand-in (kubectl apply would go there); the reports are real.
#
#   meshledger serve --store ./meshledger-data &      # in another terminal
#   Tools/controller-example.sh [http://127.0.0.1:7480] [cluster-1]
set -euo pipefail
api="${1:-http://127.0.0.1:7480}"
cluster="${2:-cluster-1}"
auth=()
[ -n "${MESHLEDGER_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $MESHLEDGER_TOKEN")

# 1. List: the state and the sequence it was taken at.
from=$(curl -sf "${auth[@]}" "$api/v1/virtualdestinations" | python3 -c 'import json,sys; l=json.load(sys.stdin); print(l["sequence"])')
echo "listed at sequence $from"

reconcile() {
    # 2. Outputs for this cluster; "apply" each, then 3. report what was applied, with its digest.
    curl -sf "${auth[@]}" "$api/v1/outputs?cluster=$cluster" | python3 -c '
import json, sys
for o in json.load(sys.stdin)["items"]:
    print(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"], o["digest"])' |
    while read -r kind namespace name digest; do
        echo "apply $kind $namespace/$name ($digest)"   # kubectl apply -f - would go here
        curl -sf "${auth[@]}" -X POST "$api/v1/feedback" -o /dev/null --data-binary \
            "{\"result\":\"applied\",\"cluster\":\"$cluster\",\"kind\":\"$kind\",\"namespace\":\"$namespace\",\"name\":\"$name\",\"digest\":\"$digest\",\"actor\":\"example-controller\"}"
    done
}
reconcile

# 4. Watch from the listed sequence; reconcile on status changes; resume from the last bookmark;
# re-list on 410 Gone.
while true; do
    code=$(curl -s "${auth[@]}" -o /tmp/meshledger-watch.$$ -w '%{http_code}' "$api/v1/watch?from=$from&timeoutSeconds=3")
    if [ "$code" = "410" ]; then
        from=$(curl -sf "${auth[@]}" "$api/v1/virtualdestinations" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sequence"])')
        reconcile
        continue
    fi
    changed=$(python3 - "$from" </tmp/meshledger-watch.$$ <<'PY'
import json, sys
last, changed = int(sys.argv[1]), False
for line in sys.stdin:
    item = json.loads(line)
    last = item["sequence"]
    changed = changed or bool(item.get("statusChanges"))
print(last, int(changed))
PY
)
    from=${changed% *}
    [ "${changed#* }" = "1" ] && reconcile
done
