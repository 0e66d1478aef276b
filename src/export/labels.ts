/**
 * Review relabels reach every export through one relation: the run's active samples with `label`
 * replaced by the label a `relabel` decision gives, and the original label kept in `meta` as
 * `original_label` (only for samples whose label changed). Exporters select from it instead of
 * `active`. Accepted suggestions are stored as relabel decisions, so they are included.
 */
export const RELABELED_ACTIVE = `(SELECT a.* REPLACE (
    CASE WHEN rd.new_label IS NOT NULL THEN rd.new_label ELSE a.label END AS label,
    CASE WHEN rd.new_label IS NOT NULL AND rd.new_label IS DISTINCT FROM a.label
         THEN json_merge_patch(CASE WHEN json_type(a.meta) = 'OBJECT' THEN a.meta ELSE '{}'::JSON END, json_object('original_label', a.label))
         ELSE a.meta END AS meta)
  FROM active a LEFT JOIN decisions rd ON rd.sample_id = a.id AND rd.action = 'relabel')`;

/** The label after decisions, for a query that joins `decisions d` to samples `s`. */
export const DECIDED_LABEL = `CASE WHEN d.action = 'relabel' AND d.new_label IS NOT NULL THEN d.new_label ELSE s.label END`;
