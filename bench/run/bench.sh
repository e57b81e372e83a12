#!/bin/sh
# Wall-time comparison of crew run, xargs and GNU parallel with hyperfine.
# Run from bench/run; builds crew into a temporary directory.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd ../.. && go build -o "$tmp/crew" ./cmd/crew)
seq 1000 > "$tmp/in1000"
yes 0.01 | head -n 200 > "$tmp/in200"
hyperfine -N -w 2 -r "${RUNS:-10}" \
	"$tmp/crew run -j2 true :::: $tmp/in1000" \
	"xargs -a $tmp/in1000 -P2 -n1 true" \
	"xargs -a $tmp/in1000 -P2 -I{} sh -c 'true {}'" \
	"parallel --will-cite -j2 true :::: $tmp/in1000"
hyperfine -N -w 1 -r "${RUNS:-10}" \
	"$tmp/crew run -j8 sleep :::: $tmp/in200" \
	"xargs -a $tmp/in200 -P8 -n1 sleep" \
	"parallel --will-cite -j8 sleep :::: $tmp/in200"
# --pipe: one file through wc -l in blocks of 10M, beside GNU parallel and
# the floor, `cat FILE | wc -l` (PIPE_MB megabytes, default 480).
seq 1 "$(( ${PIPE_MB:-480} * 1048576 / 8 ))" | head -c "$(( ${PIPE_MB:-480} * 1048576 ))" > "$tmp/pipe"
echo >> "$tmp/pipe"
hyperfine -w 1 -r "${RUNS:-10}" \
	"cat $tmp/pipe | wc -l" \
	"cat $tmp/pipe | $tmp/crew run --pipe --block 10M wc -l" \
	"$tmp/crew run --pipe --block 10M wc -l < $tmp/pipe" \
	"$tmp/crew run --pipepart -a $tmp/pipe --block 10M wc -l" \
	"parallel --will-cite --pipe --block 10M wc -l < $tmp/pipe" \
	"parallel --will-cite --pipepart -a $tmp/pipe --block 10M wc -l"
