# Shared by pipeline.sh and the scripts of utils/launch/ (sourced, not run).
# Needs: here (repo root), OUTPUT, optional SEEDS and CHECKPOINTS.
say() { printf '[pipeline %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { printf '[pipeline] error: %s\n' "$*" >&2; exit 1; }

# run_output SEED -> the run folder of one seed ("-" = the config's seed, no seed_ folder)
run_output() { if [ "$1" = - ]; then printf '%s' "$OUTPUT"; else printf '%s/seed_%s' "$OUTPUT" "$1"; fi; }
checkpoints_root() {
  [ -n "${CHECKPOINTS:-}" ] || return 0
  if [ "$1" = - ]; then printf '%s' "$CHECKPOINTS"; else printf '%s/seed_%s' "$CHECKPOINTS" "$1"; fi
}
# fold_trainings TASK GROUPS -> one line per training of fold TASK ("SEED SUBJECT") under inner-cv: its own
# model ("TASK outer"), then inner models 0 .. GROUPS-1 ("TASK k")
fold_trainings() { local group; echo "$1 outer"; for ((group = 0; group < $2; group++)); do echo "$1 $group"; done; }
# task_log_suffix GROUP -> "" for a fold's own task ("" or outer), ".inner<k>" for inner model k
task_log_suffix() { case "${1:-outer}" in outer) ;; *) printf '.inner%s' "$1" ;; esac; }
