-- 0002_submissions.sql - which invocation submitted each (indicator, run).
--
-- The batch API claims a submission before it starts a workflow; the
-- primary key makes the first claimant the only one, so submitting the
-- same run twice starts its workflows once.

CREATE TABLE submissions (
    indicator_id text NOT NULL
                 REFERENCES source_indicators (id) ON DELETE CASCADE,
    run_id       text NOT NULL CHECK (run_id <> ''),
    claimant     text NOT NULL CHECK (claimant <> ''),
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (indicator_id, run_id)
);

CREATE INDEX submissions_run_idx ON submissions (run_id);
CREATE INDEX submissions_claimed_idx ON submissions (claimed_at);

-- The latest run is found from the newest claim or classification.
CREATE INDEX classifications_updated_idx ON classifications (updated_at);
