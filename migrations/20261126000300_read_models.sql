-- Read models, filled only by the projectors (crate `projections`), rebuilt from the event log.

CREATE TABLE rm_projects (
    id          uuid        PRIMARY KEY,
    owner_id    uuid        NOT NULL,
    name        text        NOT NULL,
    git_remote  text        NOT NULL,
    git_branch  text        NOT NULL,
    git_commit  text,
    language    text,
    framework   text,
    archived    boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    version     bigint      NOT NULL
);

CREATE INDEX rm_projects_owner_newest ON rm_projects (owner_id, created_at DESC, id DESC);

CREATE TABLE rm_analyses (
    id            uuid        PRIMARY KEY,
    owner_id      uuid        NOT NULL,
    project_id    uuid        NOT NULL,
    project_name  text        NOT NULL,
    status        text        NOT NULL,
    progress      smallint    NOT NULL DEFAULT 0,
    attempt       integer     NOT NULL DEFAULT 0,
    retry_count   integer     NOT NULL DEFAULT 0,
    detectors     text[]      NOT NULL,
    language      text,
    path          text,
    source        jsonb       NOT NULL,
    total_issues  bigint      NOT NULL DEFAULT 0,
    critical      bigint      NOT NULL DEFAULT 0,
    high          bigint      NOT NULL DEFAULT 0,
    medium        bigint      NOT NULL DEFAULT 0,
    low           bigint      NOT NULL DEFAULT 0,
    info          bigint      NOT NULL DEFAULT 0,
    requested_at  timestamptz NOT NULL,
    started_at    timestamptz,
    finished_at   timestamptz,
    duration_ms   bigint,
    error         text,
    cancel_reason text,
    retry_at      timestamptz,
    updated_at    timestamptz NOT NULL,
    version       bigint      NOT NULL
);

-- Listing: newest first per owner, optionally per project or status.
CREATE INDEX rm_analyses_owner_newest ON rm_analyses (owner_id, requested_at DESC, id DESC);
CREATE INDEX rm_analyses_owner_project_newest
    ON rm_analyses (owner_id, project_id, requested_at DESC, id DESC);
CREATE INDEX rm_analyses_owner_status_newest
    ON rm_analyses (owner_id, status, requested_at DESC, id DESC);
CREATE INDEX rm_analyses_project ON rm_analyses (project_id);

CREATE TABLE rm_analysis_issues (
    analysis_id   uuid             NOT NULL,
    batch         integer          NOT NULL,
    idx           integer          NOT NULL,
    id            uuid             NOT NULL,
    severity_rank smallint         NOT NULL,
    detector      text             NOT NULL,
    rule          text             NOT NULL,
    category      text             NOT NULL,
    -- Byte order ("C"): a stable sort and index-backed prefix filters.
    file_path     text COLLATE "C" NOT NULL,
    line          integer          NOT NULL,
    col           integer,
    end_line      integer,
    end_col       integer,
    message       text             NOT NULL,
    suggestion    text,
    confidence    double precision NOT NULL,
    auto_fixable  boolean          NOT NULL,
    snippet       text,
    fingerprint   text,
    CONSTRAINT rm_analysis_issues_pkey PRIMARY KEY (analysis_id, batch, idx)
);

-- The page order (CRITICAL first, then path, then line; batch and idx break ties) per filter.
CREATE INDEX rm_analysis_issues_page
    ON rm_analysis_issues (analysis_id, severity_rank, file_path, line, batch, idx);
CREATE INDEX rm_analysis_issues_by_detector
    ON rm_analysis_issues (analysis_id, detector, severity_rank, file_path, line, batch, idx);
CREATE INDEX rm_analysis_issues_by_category
    ON rm_analysis_issues (analysis_id, category, severity_rank, file_path, line, batch, idx);
CREATE INDEX rm_analysis_issues_by_path
    ON rm_analysis_issues (analysis_id, file_path);

-- Counts per (severity, detector, category), so page totals need no count(*) over big analyses.
CREATE TABLE rm_analysis_issue_facets (
    analysis_id   uuid     NOT NULL,
    severity_rank smallint NOT NULL,
    detector      text     NOT NULL,
    category      text     NOT NULL,
    issues        bigint   NOT NULL,
    CONSTRAINT rm_analysis_issue_facets_pkey
        PRIMARY KEY (analysis_id, severity_rank, detector, category)
);
