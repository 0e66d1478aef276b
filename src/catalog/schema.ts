/**
 * The catalog's schema, as an ordered list of migrations. The applied version is kept in
 * `meta.schema_version`; opening a catalog applies whatever is missing, each in one transaction.
 * Never edit a released migration: add a new one.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string[];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'samples, files, fingerprints, assets, step results, issues, tags, decisions, events, runs',
    sql: [
      `CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)`,
      // One row per sample. `ord` is the ingest order (stable iteration); `seen_run` the last run whose
      // source still listed it (samples not seen in the current run are out of the dataset);
      // `drop_run` the last run that dropped it (why is in `drops`; kept in step by syncDrops).
      // `id` is unique, enforced by ingest (duplicates are resolved before the merge) rather than by
      // a PRIMARY KEY: DuckDB's index maintenance doubles the cost of merging a million rows.
      `CREATE TABLE samples (
        id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        source_ref VARCHAR,
        path VARCHAR,
        source_split VARCHAR,
        split VARCHAR,
        label VARCHAR,
        text VARCHAR,
        group_key VARCHAR,
        meta JSON,
        ord BIGINT NOT NULL,
        first_run INTEGER NOT NULL,
        seen_run INTEGER NOT NULL,
        drop_run INTEGER
      )`,
      // The files of a sample by role ('image' for the main image; 'output', 'mask', ... for others).
      // (sample_id, role) is unique, enforced by ingest.
      `CREATE TABLE files (
        sample_id VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        uri VARCHAR NOT NULL
      )`,
      // What a file's bytes hashed to, keyed by where and how big and how new it was, so a rerun
      // knows the content hash of an unchanged file without reading it.
      `CREATE TABLE fingerprints (
        uri VARCHAR PRIMARY KEY,
        size BIGINT NOT NULL,
        mtime_ms DOUBLE NOT NULL,
        sha256 VARCHAR NOT NULL
      )`,
      // Per file, the outcome of the last attempt to read it (error is null when it was readable).
      `CREATE TABLE file_status (
        uri VARCHAR PRIMARY KEY,
        sha256 VARCHAR,
        error VARCHAR,
        run_id INTEGER NOT NULL
      )`,
      // What the probe learnt of each distinct content.
      `CREATE TABLE assets (
        sha256 VARCHAR PRIMARY KEY,
        bytes BIGINT,
        format VARCHAR,
        width INTEGER,
        height INTEGER,
        channels INTEGER,
        bit_depth INTEGER,
        color_space VARCHAR,
        has_alpha BOOLEAN,
        orientation INTEGER,
        pages INTEGER,
        decodes BOOLEAN,
        decode_error VARCHAR
      )`,
      // The per-sample step cache: one row per (content, step, parameters).
      `CREATE TABLE step_results (
        content_hash VARCHAR NOT NULL,
        step VARCHAR NOT NULL,
        params_hash VARCHAR NOT NULL,
        ok BOOLEAN NOT NULL,
        result JSON,
        issues JSON,
        error VARCHAR,
        elapsed_ms DOUBLE,
        run_id INTEGER NOT NULL,
        PRIMARY KEY (content_hash, step, params_hash)
      )`,
      `CREATE TABLE issues (
        sample_id VARCHAR NOT NULL,
        type VARCHAR NOT NULL,
        score DOUBLE,
        flagged BOOLEAN NOT NULL,
        evidence JSON,
        step VARCHAR NOT NULL,
        source VARCHAR NOT NULL DEFAULT 'imgsift',
        run_id INTEGER
      )`,
      `CREATE TABLE tags (
        sample_id VARCHAR NOT NULL,
        tag VARCHAR NOT NULL,
        reviewer VARCHAR,
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        PRIMARY KEY (sample_id, tag)
      )`,
      `CREATE TABLE decisions (
        sample_id VARCHAR PRIMARY KEY,
        action VARCHAR NOT NULL,
        new_label VARCHAR,
        reviewer VARCHAR,
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
      )`,
      // Why a sample is out of the dataset this run (filters, failed downloads, ...).
      `CREATE TABLE drops (
        sample_id VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        step VARCHAR NOT NULL,
        run_id INTEGER NOT NULL
      )`,
      `CREATE SEQUENCE events_seq`,
      // Append-only history of every human or imported decision.
      `CREATE TABLE events (
        id BIGINT PRIMARY KEY DEFAULT nextval('events_seq'),
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        who VARCHAR,
        action VARCHAR NOT NULL,
        sample_id VARCHAR,
        old JSON,
        new JSON
      )`,
      `CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        name VARCHAR,
        recipe_hash VARCHAR,
        started TIMESTAMP NOT NULL,
        finished TIMESTAMP,
        status VARCHAR NOT NULL,
        argv JSON,
        summary JSON
      )`,
    ],
  },
  {
    version: 2,
    description: 'downloads: the outcome of fetching each remote file of a sample',
    sql: [
      // One row per (sample, role) whose file was a URL: the last attempt's outcome. `status` is
      // success | failed_to_download | failed_to_decode | skipped. `url` is the URL fetched (a changed
      // manifest URL is fetched again); `path` the content-addressed object the bytes were stored as;
      // `source_sha256` hashes the bytes as received, `sha256` the bytes as stored (after re-encoding).
      `CREATE TABLE downloads (
        sample_id VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        url VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        error VARCHAR,
        http_status INTEGER,
        attempts INTEGER NOT NULL,
        final_url VARCHAR,
        bytes BIGINT,
        source_sha256 VARCHAR,
        sha256 VARCHAR,
        path VARCHAR,
        stored_bytes BIGINT,
        format VARCHAR,
        width INTEGER,
        height INTEGER,
        original_width INTEGER,
        original_height INTEGER,
        started TIMESTAMP,
        elapsed_ms DOUBLE,
        fetch_ms DOUBLE,
        process_ms DOUBLE,
        run_id INTEGER NOT NULL,
        PRIMARY KEY (sample_id, role)
      )`,
    ],
  },
  {
    version: 3,
    description: 'embeddings: one vector per (content, model), float16',
    sql: [
      // Written by the embed step's afterAll from its cached results; `model` is the model id
      // (`<name>@<file sha256 prefix>`), `vector` dim little-endian float16 values.
      `CREATE TABLE embeddings (
        content_hash VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (content_hash, model)
      )`,
    ],
  },
  {
    version: 4,
    description: 'step_runs (map-step parameters per run), dup_clusters and leak_pairs',
    sql: [
      // Which parameters a per-sample step ran with in a run, so whole-dataset steps read the
      // results of this run's configuration among every cached one.
      `CREATE TABLE step_runs (
        run_id INTEGER NOT NULL,
        step VARCHAR NOT NULL,
        params_hash VARCHAR NOT NULL,
        PRIMARY KEY (run_id, step)
      )`,
      // One row per member of a duplicate cluster (the kept image included, method 'keep').
      // `distance` is the perceptual-hash distance to the kept image (0 for exact copies),
      // `similarity` 1 - distance/64; `evidence` what matched (signal, variant, distances, inliers).
      `CREATE TABLE dup_clusters (
        run_id INTEGER NOT NULL,
        cluster INTEGER NOT NULL,
        sample_id VARCHAR NOT NULL,
        kept BOOLEAN NOT NULL,
        method VARCHAR NOT NULL,
        distance INTEGER,
        similarity DOUBLE,
        evidence JSON,
        keep_reason VARCHAR,
        min_similarity DOUBLE
      )`,
      // Pairs of an earlier split's sample and an evaluation split's sample that show the same picture.
      `CREATE TABLE leak_pairs (
        run_id INTEGER NOT NULL,
        train_id VARCHAR NOT NULL,
        test_id VARCHAR NOT NULL,
        train_split VARCHAR,
        test_split VARCHAR,
        method VARCHAR NOT NULL,
        leak_type VARCHAR NOT NULL,
        similarity DOUBLE NOT NULL,
        hamming_distance INTEGER,
        evidence JSON
      )`,
    ],
  },
  {
    version: 5,
    description: 'roles: parent samples, derived files and their lineage, per-sample keys of multi-input steps',
    sql: [
      // The record a sample was made from (an annotated item's image, an augmentation's original).
      `ALTER TABLE samples ADD COLUMN parent_id VARCHAR`,
      // Files a per-sample step made ({role, sha256, ext} per file), beside its result.
      `ALTER TABLE step_results ADD COLUMN files JSON`,
      // The cache key of a sample for a step that reads more than its main file's bytes (two roles,
      // or sample fields such as a crop box): content_hash in step_results. Steps that read one
      // role's bytes alone are keyed by that file's sha256 and need no row here.
      `CREATE TABLE sample_keys (
        sample_id VARCHAR NOT NULL,
        step VARCHAR NOT NULL,
        params_hash VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        run_id INTEGER NOT NULL,
        PRIMARY KEY (sample_id, step, params_hash)
      )`,
      // Where each derived file of a sample came from: the step, its parameters and the key of its inputs.
      `CREATE TABLE derived_files (
        sample_id VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        uri VARCHAR NOT NULL,
        step VARCHAR NOT NULL,
        params_hash VARCHAR NOT NULL,
        input_key VARCHAR NOT NULL,
        run_id INTEGER NOT NULL,
        PRIMARY KEY (sample_id, role)
      )`,
    ],
  },
  {
    version: 6,
    description: 'text_results: text-step outcomes cached by the text they were computed from',
    sql: [
      // One row per (sha256 of the UTF-8 text, step, parameters): text_transform's rewritten text,
      // text_filter's failing rule ('' when the text passes). `error` is set when the step could
      // not compute a result for the text. No PRIMARY KEY: rows are only ever added for texts
      // found missing, and the index would double the cost of adding a million.
      `CREATE TABLE text_results (
        text_hash VARCHAR NOT NULL,
        step VARCHAR NOT NULL,
        params_hash VARCHAR NOT NULL,
        result VARCHAR,
        error VARCHAR,
        run_id INTEGER NOT NULL
      )`,
    ],
  },
  {
    version: 7,
    description: 'run tags and run_samples (the dataset each finished run made, for runs, diff and rollback)',
    sql: [
      // A dataset version's name (`v5`); the newest finished run of a tag is that version.
      `ALTER TABLE runs ADD COLUMN tag VARCHAR`,
      // The samples a run kept at its end, with the split it gave them: later runs move
      // samples.seen_run and splits on, so this is what `diff`, `export --tag` and `report --run` read.
      `CREATE TABLE run_samples (
        run_id INTEGER NOT NULL,
        sample_id VARCHAR NOT NULL,
        split VARCHAR
      )`,
    ],
  },
  {
    version: 8,
    description: "a run's pixel limit, so commands that decode its images later obey it too",
    sql: [
      // The recipe's max_pixels, lowered by a probe step's (build.ts runPixelLimit); NULL for runs
      // made before it was recorded. export, report and review decode under it (runPixelLimitOf).
      `ALTER TABLE runs ADD COLUMN max_pixels BIGINT`,
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
