-- Every pair a dataset could draw on, one row per dataset × pair of its strategies and DBMSs, with why
-- it was left out (exclusion_reason) or where it went (is_selected, selection_rank, split, position).
-- Narrow on purpose (no SQL text): dataset_examples joins the texts of the selected rows, and
-- dataset_coverage counts these rows.
--
-- The selection is built in five intermediate steps, each adding its columns to the same rows and each
-- documented in its own header (and in docs/warehouse.md):
--   int_candidates_scoped       which pairs each dataset × strategy may draw on, in which content form;
--   int_candidates_judged       validation status on the dataset's target, exclusion_reason, order keys;
--   int_candidates_interleaved  the eligible real pairs: rank per DBMS, round robin over DBMSs, quota;
--   int_candidates_topped_up    the eligible synthetic pairs: only the shortfall the real pairs leave;
--   int_candidates_split        the selected pairs: split (seeded hash of the original) and position.
-- This mart keeps the columns users read.

select
    dataset_name,
    strategy,
    dbms,
    pair_id,
    pair_hash,
    is_synthetic,
    content_form,
    user_length,
    assistant_length,
    content_conforms,
    content_original_fingerprint,
    validation_status,
    exclusion_reason,
    exclusion_reason is null as is_eligible,
    dbms_rank,
    selection_rank,
    is_selected,
    split_draw,
    split,
    position,
    quota,
    seed
from {{ ref('int_candidates_split') }}
