# shellcheck shell=bash
#
# pipeline.sh - what a finished `classify run` must have left in the
# database, for the single-node and the cluster end-to-end scripts.  Needs
# check.sh (expect_eq, sql) and DB.
#
#   STAGE_TABLES             the seven per-stage result tables
#   run_id_of FILE           the run id the `classify run` summary in FILE
#                            names (empty when none)
#   check_classified RUN N   N classifications rows for N distinct
#                            indicators, N of them completed by RUN, and N
#                            rows of RUN in every stage table

# shellcheck disable=SC2034 # used by the scripts that source this file
STAGE_TABLES="normalization_results time_inference_results
cumulative_detection_results family_results type_results
boolean_review_results final_review_results"

run_id_of()
{
    sed -n 's/^run \([^:]*\):.*/\1/p' "$1" | head -n 1
}

check_classified()
{
    local run=$1 n=$2 t

    expect_eq "classifications rows" \
        "$(sql 'SELECT count(*) FROM classifications')" "$n"
    expect_eq "distinct indicators classified" \
        "$(sql 'SELECT count(DISTINCT indicator_id) FROM classifications')" \
        "$n"
    expect_eq "rows of run $run completed" \
        "$(sql "SELECT count(*) FROM classifications
            WHERE run_id = '$run' AND status = 'completed'")" "$n"
    for t in $STAGE_TABLES; do
        expect_eq "$t rows of run $run" \
            "$(sql "SELECT count(*) FROM $t WHERE run_id = '$run'")" "$n"
    done
}
