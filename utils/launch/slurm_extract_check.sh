#!/usr/bin/env bash
# Did this submission's extraction array give the folds their features? Run by every fold task and by the
# pooling job before anything else. slurm_extract_check.sh SUBMISSION SUBJECT...
# Exit 0 when the submission extracted nothing (no SUBMISSION/extract.txt) or every shard ended with exit 0
# and annotations.csv and each SUBJECT's windows are there; else exit 1 with one line per problem on stderr,
# naming the failed shard and its log.
set -uo pipefail
dir="$1"; shift
[ -f "$dir/extract.txt" ] || exit 0
read -r n array_id root < "$dir/extract.txt"  # written by slurm_submit.sh; root = segment_feat_root, last
problems=()
for ((k = 1; k <= n; k++)); do
  log="$dir/extract_${array_id}_$k.out"
  if [ ! -f "$dir/extract_status/$k" ]; then
    problems+=("extraction shard $k/$n ended without a status (killed or timed out?); log: $log")
  elif [ "$(cat "$dir/extract_status/$k")" != 0 ]; then
    problems+=("extraction shard $k/$n failed (exit $(cat "$dir/extract_status/$k")); log: $log")
  fi
done
if [ "${#problems[@]}" = 0 ]; then
  [ -f "$root/annotations.csv" ] || problems+=("$root/annotations.csv: missing after the extraction shards (no merge ran); logs: $dir/extract_${array_id}_*.out")
  for subject in "$@"; do
    compgen -G "$root/test/$subject/*.npz" > /dev/null \
      || problems+=("$root/test/$subject: no features for fold $subject after the extraction shards; logs: $dir/extract_${array_id}_*.out")
  done
fi
[ "${#problems[@]}" = 0 ] && exit 0
printf '[pipeline] error: %s\n' "${problems[@]}" >&2
exit 1
