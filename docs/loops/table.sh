#!/usr/bin/env bash
# Prints the tables of held-out errors for the current build: each kept loop is calibrated
# again from its A runs and validated on its held-out runs (B1 more partitions, B2 8x shards,
# B3 window of two, and where the loop has one B4 on more nodes than A's), as a Markdown row per
# loop. The partitions of B1 are in brackets: 4 or 8,
# or 16 where the loop climbed a rung (A's latency flat, B1-8 joined A).
#
# A loop with --held-out (held-out configurations drawn at random, run-H*) gets a row of its
# error distribution instead, in a table of its own: `table.sh --drawn LOOP...`, and in a page
# `<!-- table.sh --drawn PATTERN... -->`.
#
# `table.sh --coverage LOOP...` (and `<!-- table.sh --coverage PATTERN... -->`): how often
# those runs' measured repetitions fell inside their 90 % prediction intervals (calibrated with
# `--refits 20`), and how wide.
#
# `table.sh --coverage-model LOOP...`: the same with the model's held-out error as a fourth
# source of the intervals (`calibrate --model-error`), taken from the B runs of the other loops
# of each platform.
#
# `table.sh --plans PLAN...` (and `<!-- table.sh --plans PATTERN... -->`): each plan kept in
# docs/plans/PLAN (scenario.toml, plan.args, the loop whose A runs calibrate it in `loop`, and
# the measured runs run-choice and run-contrast) planned again with this build from a
# calibration with 20 refits, against what the chosen and the contrasting configuration took.
#
# Usage: docs/loops/table.sh [--drawn|--coverage|--plans] [LOOP...]  print a table (default: every loop)
#        docs/loops/table.sh --write PAGE.md    rewrite every table block of a page
#        docs/loops/table.sh --check PAGE.md    exit 1 naming the block if a table drifted
# A table block of a page is the lines between `<!-- table.sh PATTERN... -->` and
# `<!-- end table.sh -->`, PATTERN being loop names or globs (`k8s-*`), in version order.
# Needs target/release/faastwin (cargo build --release) or FAASTWIN=path.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
faastwin="${FAASTWIN:-$root/target/release/faastwin}"
[ -x "$faastwin" ] || { echo "table.sh: $faastwin not found: cargo build --release" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The loops a list of names and globs stands for, each once, in version order (k8s-2 < k8s-10).
loops() {
  (cd "$root/docs/loops" && for pattern in "$@"; do
    matched=0
    for d in $pattern; do [ -d "$d" ] && { echo "$d"; matched=1; }; done
    [ $matched -eq 1 ] || { echo "table.sh: no loop docs/loops/$pattern" >&2; exit 2; }
  done) | sort -uV
}

# Calibrates loop $1 again from its A runs (with $3 refits, if given, and the model-error files
# $4..., if given) and validates its runs named $2 (B or H) into $work/$1.csv.
validated() {
  local loop="$1" dir="$root/docs/loops/$1" runs="$2" refits="${3:-}"
  shift 3 2> /dev/null || shift $#
  "$faastwin" calibrate "$dir"/run-A-* --out "$work/$loop.toml" ${refits:+--refits "$refits"} \
    ${1:+--model-error "$@"} > /dev/null 2> "$work/$loop.err" \
    || { echo "table.sh: calibrating $loop failed:" >&2; cat "$work/$loop.err" >&2; exit 1; }
  # validate exits 1 when an error exceeds its tolerance: the CSV is what matters here.
  "$faastwin" validate --calibration "$work/$loop.toml" --runs "$dir"/run-"$runs"* --format csv \
    > "$work/$loop.csv" 2> /dev/null || true
  [ -s "$work/$loop.csv" ] || { echo "table.sh: validating $loop printed nothing" >&2; exit 1; }
}

row() {
  local loop="$1"
  validated "$loop" B
  awk -F, -v loop="$loop" '
    $3 == "warm_makespan_s" { e[++n] = 100 * $7; a[n] = e[n] < 0 ? -e[n] : e[n]; pred[$1] = $5 }
    $3 == "warm_makespan_s" && match($1, /run-B1-[0-9]+-partitions/) {
      b1 = substr($1, RSTART + 7, RLENGTH - 18)
    }
    $3 == "warm_makespan_s" && match($1, /run-B4-[0-9]+-nodes/) {
      nodes = sprintf("%+.1f %% (%s)", e[n], substr($1, RSTART + 7, RLENGTH - 13))
    }
    $3 == "lowest_warm_makespan_s" { low[$1] = $4 }
    $3 == "highest_warm_makespan_s" { m++; if (pred[$1] >= low[$1] && pred[$1] <= $4) within++ }
    $3 == "latency_ks_distance" { k = $5 + 0; if (lo == "" || k < lo) lo = k; if (hi == "" || k > hi) hi = k }
    $1 ~ /run-B2/ && $3 == "mean_body_s" { body = sprintf("%.2f", $5 / $4) }
    END {
      # median of the |errors| (3 of them, or 4 with a node count)
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      med = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      split(loop, p, "-")
      if (nodes == "") nodes = "–"
      printf "| %s | %s | %+.1f %% (%s) | %+.1f %% | %+.1f %% | %s | %.1f %% | %d of %d | %.2f–%.2f | %s |\n",
        p[1], p[2], e[1], b1, e[2], e[3], nodes, med, within, m, lo, hi, body
    }' "$work/$loop.csv" | sed 's/| -/| −/g'
}

# A loop with --held-out: the distribution of its errors over the configurations it drew (the
# seed from its loop.txt), with the same type-7 quantiles as `faastwin loop` prints.
drawn_row() {
  local loop="$1" dir="$root/docs/loops/$1" seed
  seed="$(sed -n 's/.*(drawn at random, seed \([0-9]*\)).*/\1/p' "$dir/loop.txt" 2> /dev/null | head -1)"
  [ -n "$seed" ] || { echo "table.sh: $loop: no seed in $dir/loop.txt (a loop with --held-out prints it)" >&2; exit 1; }
  validated "$loop" H
  awk -F, -v loop="$loop" -v seed="$seed" '
    function abs(x) { return x < 0 ? -x : x }
    function q(v, n, p,   i, j, t, h, lo) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      h = (n - 1) * p; lo = int(h)
      return lo + 1 < n ? v[lo + 1] + (h - lo) * (v[lo + 2] - v[lo + 1]) : v[n]
    }
    $3 == "warm_makespan_s" { m[++n] = 100 * abs($7); pred[$1] = $5; err[$1] = 100 * abs($7) }
    $3 == "extrapolates" { flagged[$1] = 1 }
    $3 == "p50_latency_s" { p50[++n50] = 100 * abs($7) }
    $3 == "p95_latency_s" { p95[++n95] = 100 * abs($7) }
    $3 == "latency_ks_distance" { ks[++nks] = $5 + 0 }
    $3 == "lowest_warm_makespan_s" { low[$1] = $4 }
    $3 == "highest_warm_makespan_s" { judged++; if (pred[$1] >= low[$1] && pred[$1] <= $4) within++ }
    END {
      for (r in err) if (r in flagged) f[++nf] = err[r]; else o[++no] = err[r]
      split(loop, p, "-")
      printf "| %s | %s | %s | %d | %.1f %% | %.1f %% | %.1f %% | %.1f %% | %.1f %% | %.2f | %d of %d | %d: %s / %s |\n",
        p[1], p[2], seed, n, q(m, n, 0.5), q(m, n, 0.9), q(m, n, 1), q(p50, n50, 0.5), q(p95, n95, 0.5),
        q(ks, nks, 0.5), within, judged, nf, nf ? sprintf("%.1f %%", q(f, nf, 0.5)) : "–",
        no ? sprintf("%.1f %%", q(o, no, 0.5)) : "–"
    }' "$work/$loop.csv"
}

# A loop with --held-out: how often its held-out runs' measured repetitions fell inside their
# 90 % prediction intervals (calibrated with 20 refits), and how wide those were (median of
# (high - low) / prediction).
coverage_row() {
  local loop="$1"
  validated "$loop" H 20
  coverage_of "$loop"
}

# The same with the model's held-out error as a fourth source: the validations of the B runs
# (more partitions, 8x shards, a window of two) of every other loop of the platform, each
# calibrated again from its own A runs by this build; the drawn configurations of $1 are none
# of them.
coverage_model_row() {
  local loop="$1" platform="${1%-*}" other sources=() names=()
  for other in $(loops "$platform-*"); do
    [ "$other" != "$loop" ] && compgen -G "$root/docs/loops/$other/run-B*" > /dev/null || continue
    validated "$other" B
    cp "$work/$other.csv" "$work/model-$other.csv"
    sources+=("$work/model-$other.csv")
    names+=("${other##*-}")
  done
  [ ${#sources[@]} -gt 0 ] || { echo "table.sh: no other $platform loop with B runs for $loop" >&2; exit 1; }
  validated "$loop" H 20 "${sources[@]}"
  coverage_of "$loop" | sed "s/\$/ ${#names[@]} ($(IFS=,; echo "${names[*]}" | sed 's/,/, /g')) |/"
}

# The coverage columns of $work/$1.csv.
coverage_of() {
  local loop="$1"
  awk -F, -v loop="$loop" '
    function q(v, n, p,   i, j, t, h, lo) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      h = (n - 1) * p; lo = int(h)
      return lo + 1 < n ? v[lo + 1] + (h - lo) * (v[lo + 2] - v[lo + 1]) : v[n]
    }
    $3 == "warm_makespan_s" { pred["warm_makespan", $1] = $5 }
    $3 == "p50_latency_s" { pred["p50_latency", $1] = $5 }
    $3 ~ /_interval_low_s$/ { m = substr($3, 1, length($3) - 15); low[m, $1] = $5 }
    $3 ~ /_interval_high_s$/ {
      m = substr($3, 1, length($3) - 16)
      w[m, ++nw[m]] = 100 * ($5 - low[m, $1]) / pred[m, $1]
    }
    $3 ~ /_repetitions_inside_interval$/ {
      m = substr($3, 1, length($3) - 28); inside[m] += $4; total[m] += $5
    }
    END {
      split(loop, p, "-")
      printf "| %s | %s | %d of %d (%.0f %%) | %.1f %% |", p[1], p[2],
        inside["warm_makespan"], total["warm_makespan"], 100 * inside["warm_makespan"] / total["warm_makespan"],
        q_of("warm_makespan")
      printf " %d of %d (%.0f %%) | %.1f %% |\n",
        inside["p50_latency"], total["p50_latency"], 100 * inside["p50_latency"] / total["p50_latency"],
        q_of("p50_latency")
    }
    function q_of(m,   i, v) { for (i = 1; i <= nw[m]; i++) v[i] = w[m, i]; return q(v, nw[m], 0.5) }
  ' "$work/$loop.csv"
}

# One row per loop ($2: the row function) of the loops $3... that have runs named $1 (B or H).
rows_of() {
  local runs="$1" row="$2" list loop
  shift 2
  list="$(loops "$@")" || exit 2
  for loop in $list; do
    if compgen -G "$root/docs/loops/$loop/run-$runs*" > /dev/null; then "$row" "$loop"; fi
  done
}

# A measured run's configuration as plan.csv names it: nodes,partitions,window (window empty
# for a sequential run), from its run.json.
run_configuration() {
  awk '
    /"partitions":/ && !p { gsub(/[^0-9]/, ""); p = $0 }
    # The options come first: their nodes and policy, not those of the platform setup.
    /"nodes": \[/ && !nodes_seen { in_nodes = 1; nodes_seen = 1; next }
    in_nodes && /\]/ { in_nodes = 0 }
    in_nodes { n++ }
    /"policy": \{/ && !policy_seen { in_policy = 1; policy_seen = 1 }
    in_policy && /"kind": "window"/ { window = 1 }
    in_policy && window && /"size":/ { gsub(/[^0-9]/, ""); w = $0 }
    in_policy && /\}/ { in_policy = 0 }
    END { printf "%d,%d,%s\n", n ? n : 1, p, w }
  ' "$1"
}

# The warm makespans (plus the startup overhead, where the platform has one) of a measured run's
# repetitions, "a, b, c" [s], and the most of them.
measured_times() {
  awk -F, '
    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { t = $c["warm_makespan_s"] + ($c["startup_overhead_s"] == "" ? 0 : $c["startup_overhead_s"])
      list = list (list == "" ? "" : ", ") sprintf("%.1f", t); if (t > most) most = t }
    END { printf "%s;%s\n", list, most }
  ' "$1"
}

# One kept plan: planned again, its choice and contrast against their measured runs.
plan_row() {
  local plan="$1" dir="$root/docs/plans/$1" loop deadline probability
  loop="$(cat "$dir/loop")"
  mkdir -p "$work/plan-$plan"
  "$faastwin" calibrate "$root/docs/loops/$loop"/run-A-* --refits 20 --seed 1 \
    --out "$work/plan-$plan/calibration.toml" > /dev/null 2> "$work/plan-$plan.err" \
    || { echo "table.sh: calibrating plan $plan failed:" >&2; cat "$work/plan-$plan.err" >&2; exit 1; }
  cp "$dir/scenario.toml" "$work/plan-$plan/"
  # shellcheck disable=SC2046 # plan.args holds the plan's options as words
  "$faastwin" plan "$work/plan-$plan/scenario.toml" $(cat "$dir/plan.args") --format csv \
    > "$work/plan-$plan.csv" 2> /dev/null || true
  deadline="$(sed -n 's/.*--deadline \([^ ]*\).*/\1/p' "$dir/plan.args")"
  probability="$(sed -n 's/.*--probability \([^ ]*\).*/\1/p' "$dir/plan.args")"
  awk -F, -v plan="$plan" -v loop="$loop" -v deadline="$deadline" -v probability="${probability:-0.95}" \
    -v choice_run="$(run_configuration "$dir/run-choice/run.json")" \
    -v choice_times="$(measured_times "$dir/run-choice/summary.csv")" \
    -v contrast_run="$(run_configuration "$dir/run-contrast/run.json")" \
    -v contrast_times="$(measured_times "$dir/run-contrast/summary.csv")" '
    function config(k,   a) { split(k, a, ","); return sprintf("%s node%s, %s partition%s%s", a[1], a[1] == 1 ? "" : "s", a[2], a[2] == 1 ? "" : "s", a[3] == "" ? "" : ", window " a[3]) }
    NR == 1 { next }
    { key = $2 "," $3 "," $4; time[key] = $5; median[key] = $6; if ($10 == "true") chosen = key; platform = $1 }
    END {
      if (chosen != choice_run) { printf "table.sh: plan %s chooses %s, but run-choice measured %s\n", plan, chosen, choice_run > "/dev/stderr"; exit 1 }
      split(choice_times, c, ";"); split(contrast_times, o, ";")
      printf "| %s | %s | %s | %s s, p = %s | %s | %.1f / %.1f s | %s s | %s | %s: %.1f / %.1f s, measured %s s |\n",
        plan, platform, loop, deadline, probability, config(chosen), median[chosen], time[chosen], c[1],
        c[2] <= deadline ? "yes" : "no", config(contrast_run), median[contrast_run], time[contrast_run], o[1]
    }' "$work/plan-$plan.csv"
}

plans_table() {
  echo "| plan | platform | calibrated from | deadline | choice | predicted: median / at the probability | measured repetitions | all within the deadline | another configuration: predicted, measured |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  local list plan
  list="$(cd "$root/docs/plans" && for pattern in "$@"; do
    for d in $pattern; do [ -d "$d" ] && echo "$d"; done
  done | sort -uV)"
  [ -n "$list" ] || { echo "table.sh: no plan docs/plans/$*" >&2; exit 2; }
  for plan in $list; do plan_row "$plan"; done
}

coverage_table() {
  echo "| platform | loop | warm makespan inside its 90 % interval | median width | p50 latency inside | median width |"
  echo "| --- | --- | --- | --- | --- | --- |"
  rows_of H coverage_row "$@"
}

coverage_model_table() {
  echo "| platform | loop | warm makespan inside its 90 % interval | median width | p50 latency inside | median width | model error from the B runs of loops |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  rows_of H coverage_model_row "$@"
}

drawn_table() {
  echo "| platform | loop | seed | configurations | median \\|makespan error\\| | 90th percentile | worst | median \\|p50 error\\| | median \\|p95 error\\| | latency KS median | within measured spread | beyond 2× the calibrated load: how many, median \\|error\\| / the others' |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  rows_of H drawn_row "$@"
}

table() {
  if [ "${1:-}" = --drawn ]; then shift; drawn_table "$@"; return; fi
  if [ "${1:-}" = --coverage ]; then shift; coverage_table "$@"; return; fi
  if [ "${1:-}" = --plans ]; then shift; plans_table "$@"; return; fi
  if [ "${1:-}" = --coverage-model ]; then shift; coverage_model_table "$@"; return; fi
  echo "| platform | loop | more partitions | 8× shards | window 2 | more nodes | median \\|error\\| | within measured spread | latency KS | 8 MB body predicted / measured |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  rows_of B row "$@"
}

# The page with each table block made anew from the loops its opening line names.
rewrite() {
  local page="$1" line inside=0
  while IFS= read -r line || [ -n "$line" ]; do
    if [ $inside -eq 1 ]; then
      [ "$line" = "<!-- end table.sh -->" ] && { echo "$line"; inside=0; }
      continue
    fi
    echo "$line"
    if [[ "$line" =~ ^\<!--\ table\.sh\ (.+)\ --\>$ ]]; then
      # shellcheck disable=SC2086 # the patterns are words, globbed by loops()
      table ${BASH_REMATCH[1]} < /dev/null
      inside=1
    fi
  done < "$page"
  [ $inside -eq 0 ] || { echo "table.sh: $page: a table block has no '<!-- end table.sh -->'" >&2; exit 2; }
}

case "${1:-}" in
  --write | --check)
    [ $# -eq 2 ] || { echo "usage: table.sh $1 PAGE.md" >&2; exit 2; }
    page="$2"
    [ -f "$page" ] || { echo "table.sh: no page $page" >&2; exit 2; }
    grep -q '^<!-- table.sh ' "$page" || { echo "table.sh: $page has no '<!-- table.sh LOOP... -->' block" >&2; exit 2; }
    rewrite "$page" > "$work/page.md"
    if [ "$1" = --write ]; then
      cat "$work/page.md" > "$page"
    elif ! diff -u "$page" "$work/page.md" >&2; then
      echo "table.sh: the tables of $page are not what the kept loops give with this build: docs/loops/table.sh --write $page" >&2
      exit 1
    fi
    ;;
  *)
    if [ $# -eq 0 ]; then set -- '*'; fi
    table "$@"
    ;;
esac
