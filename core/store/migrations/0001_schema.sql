-- 0001_schema.sql - tables of the classification store.
--
-- Applied once, inside one transaction, by core_store_migrate().  The
-- label vocabularies (CHECK constraints, taxonomy tables' rows) are not
-- written here: the host generates them from classify/taxonomy.h at every
-- start, so they cannot drift from the header.  Timestamps are timestamptz;
-- confidences are real in [0, 1].

-- Typed reads of one key of a stage result: NULL when the key is missing
-- or null, an error (SQLSTATE 22023) naming the key when the JSON type is
-- wrong, so a bad result is refused instead of silently cast.
CREATE FUNCTION result_text(j jsonb, k text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF j -> k IS NULL OR jsonb_typeof(j -> k) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(j -> k) <> 'string' THEN
        RAISE EXCEPTION 'result field "%" must be a string, not %',
            k, jsonb_typeof(j -> k) USING ERRCODE = '22023';
    END IF;
    RETURN j ->> k;
END $$;

CREATE FUNCTION result_real(j jsonb, k text) RETURNS real
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF j -> k IS NULL OR jsonb_typeof(j -> k) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(j -> k) <> 'number' THEN
        RAISE EXCEPTION 'result field "%" must be a number, not %',
            k, jsonb_typeof(j -> k) USING ERRCODE = '22023';
    END IF;
    RETURN (j ->> k)::real;
END $$;

CREATE FUNCTION result_bool(j jsonb, k text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF j -> k IS NULL OR jsonb_typeof(j -> k) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(j -> k) <> 'boolean' THEN
        RAISE EXCEPTION 'result field "%" must be a boolean, not %',
            k, jsonb_typeof(j -> k) USING ERRCODE = '22023';
    END IF;
    RETURN (j ->> k)::boolean;
END $$;

CREATE FUNCTION result_any(j jsonb, k text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(j -> k) = 'null' THEN NULL ELSE j -> k END
$$;

CREATE TABLE source_indicators (
    id                 text PRIMARY KEY CHECK (id <> ''),
    name               text NOT NULL CHECK (name <> ''),
    units              text,
    scale              text,
    periodicity        text,
    currency_code      text,
    source_name        text,
    source_url         text,
    long_name          text,
    definition         text,
    category_group     text,
    dataset            text,
    topic              text,
    aggregation_method text,
    sample_values      jsonb NOT NULL DEFAULT '[]'
                       CHECK (jsonb_typeof(sample_values) = 'array'),
    raw                jsonb NOT NULL CHECK (jsonb_typeof(raw) = 'object'),
    imported_at        timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- One row per (kind, value) of every vocabulary of taxonomy.h.
CREATE TABLE taxonomy_values (
    kind  text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (kind, value)
);

-- The family/type pairs of CLS_FAMILY_TYPES; family/type columns point here.
CREATE TABLE taxonomy_family_types (
    family         text NOT NULL,
    indicator_type text NOT NULL,
    PRIMARY KEY (family, indicator_type)
);

-- Digest of the vocabulary the constraints were last generated from.
CREATE TABLE taxonomy_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    digest     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- Columns shared by every stage result table: who produced the row.
CREATE TABLE stage_result_template (
    indicator_id   text NOT NULL CHECK (indicator_id <> ''),
    run_id         text NOT NULL CHECK (run_id <> ''),
    plugin         text NOT NULL,
    plugin_version text,
    build_id       text,
    generation     bigint NOT NULL DEFAULT 0,
    provider       text,
    model          text,
    input_tokens   integer NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens  integer NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cached_tokens  integer NOT NULL DEFAULT 0 CHECK (cached_tokens >= 0),
    latency_ms     integer NOT NULL DEFAULT 0 CHECK (latency_ms >= 0),
    result         jsonb NOT NULL CHECK (jsonb_typeof(result) = 'object'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (indicator_id, run_id)
);

CREATE TABLE normalization_results (
    LIKE stage_result_template INCLUDING ALL,
    original_units     text,
    parsed_scale       text,
    normalized_scale   text,
    parsed_unit_type   text,
    parsed_currency    text,
    parsing_confidence real CHECK (parsing_confidence BETWEEN 0 AND 1)
);

CREATE TABLE time_inference_results (
    LIKE stage_result_template INCLUDING ALL,
    reporting_frequency text,
    time_basis          text,
    confidence          real CHECK (confidence BETWEEN 0 AND 1),
    reasoning           text,
    source_used         text
);

CREATE TABLE cumulative_detection_results (
    LIKE stage_result_template INCLUDING ALL,
    is_cumulative boolean,
    pattern_type  text,
    confidence    real CHECK (confidence BETWEEN 0 AND 1),
    evidence      jsonb,
    reasoning     text
);

CREATE TABLE family_results (
    LIKE stage_result_template INCLUDING ALL,
    family     text,
    confidence real CHECK (confidence BETWEEN 0 AND 1),
    reasoning  text
);

CREATE TABLE type_results (
    LIKE stage_result_template INCLUDING ALL,
    indicator_type       text,
    temporal_aggregation text,
    heat_map_orientation text,
    confidence           real CHECK (confidence BETWEEN 0 AND 1),
    reasoning            text
);

CREATE TABLE boolean_review_results (
    LIKE stage_result_template INCLUDING ALL,
    passed       boolean,
    fields_wrong jsonb,
    reason       text,
    confidence   real CHECK (confidence BETWEEN 0 AND 1)
);

CREATE TABLE final_review_results (
    LIKE stage_result_template INCLUDING ALL,
    review_status text,
    corrections   jsonb,
    reason        text,
    confidence    real CHECK (confidence BETWEEN 0 AND 1)
);

DROP TABLE stage_result_template;

-- The latest run of each indicator, every stage's fields in one row.
CREATE TABLE classifications (
    indicator_id  text PRIMARY KEY
                  REFERENCES source_indicators (id) ON DELETE CASCADE,
    run_id        text NOT NULL,
    status        text NOT NULL
                  CHECK (status IN ('running', 'completed', 'failed')),
    failed_at_stage text,
    error         text,

    name                 text NOT NULL,
    original_units       text,
    source_name          text,
    long_name            text,
    category_group       text,
    dataset              text,
    topic                text,
    source_scale         text,
    source_periodicity   text,
    aggregation_method   text,
    source_currency_code text,

    parsed_scale       text,
    normalized_scale   text,
    parsed_unit_type   text,
    parsed_currency    text,
    parsing_confidence real,

    reporting_frequency text,
    time_basis          text,
    time_confidence     real,
    time_reasoning      text,
    time_source_used    text,

    is_cumulative           boolean,
    cumulative_pattern_type text,
    cumulative_confidence   real,
    cumulative_reasoning    text,

    family            text,
    family_confidence real,
    family_reasoning  text,

    indicator_type       text,
    temporal_aggregation text,
    heat_map_orientation text,
    type_confidence      real,
    type_reasoning       text,

    boolean_review_passed      boolean,
    boolean_review_fields_wrong jsonb,
    boolean_review_reason      text,
    boolean_review_confidence  real,

    final_review_status      text,
    final_review_corrections jsonb,
    final_review_reason      text,
    final_review_confidence  real,

    review_status      text,
    overall_confidence real,
    provider           text,
    model              text,

    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,

    FOREIGN KEY (family, indicator_type)
        REFERENCES taxonomy_family_types (family, indicator_type)
);

CREATE INDEX classifications_family_idx ON classifications (family);
CREATE INDEX classifications_type_idx ON classifications (indicator_type);
CREATE INDEX classifications_run_idx ON classifications (run_id, status);
CREATE INDEX classifications_review_idx ON classifications (review_status);

-- Append-only event log.  The natural key deduplicates replays; when
-- TimescaleDB is present the host turns this into a hypertable on
-- created_at and widens the key with it (see migrate.c).
CREATE TABLE processing_log (
    indicator_id text NOT NULL,
    run_id       text NOT NULL,
    stage        text NOT NULL,
    attempt      integer NOT NULL CHECK (attempt >= 0),
    event        text NOT NULL,
    message      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT processing_log_dedup
        UNIQUE (indicator_id, run_id, stage, event, attempt)
);

CREATE INDEX processing_log_indicator_idx
    ON processing_log (indicator_id, created_at);
