"""Ordered schema migrations; PRAGMA user_version records how many have been applied."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the foundation
    """
    CREATE TABLE images (
        id          INTEGER PRIMARY KEY,
        root        TEXT NOT NULL,
        path        TEXT NOT NULL,
        filename    TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        size_bytes  INTEGER NOT NULL,
        width       INTEGER,
        height      INTEGER,
        thumbnail   TEXT,
        added_at    TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        removed_at  TEXT
    );
    CREATE UNIQUE INDEX images_live_path ON images(root, path) WHERE removed_at IS NULL;
    CREATE INDEX images_filename ON images(filename);
    CREATE INDEX images_sha ON images(sha256);
    CREATE INDEX images_live ON images(removed_at);

    CREATE TABLE metadata (
        image_id     INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        design       TEXT,
        colourway    TEXT,
        season       TEXT,
        quality      TEXT,
        composition  TEXT NOT NULL DEFAULT '[]',
        cluster      TEXT,
        extras       TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX metadata_design ON metadata(design);
    CREATE INDEX metadata_season ON metadata(season);
    CREATE INDEX metadata_quality ON metadata(quality);

    CREATE TABLE composition (
        image_id  INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        fiber     TEXT NOT NULL,
        pct       REAL NOT NULL,
        PRIMARY KEY (image_id, fiber)
    );
    CREATE INDEX composition_fiber ON composition(fiber, pct);

    CREATE TABLE model_versions (
        model       TEXT NOT NULL,
        version     TEXT NOT NULL,
        active      INTEGER NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL,
        info        TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (model, version)
    );

    CREATE TABLE feedback (
        id          INTEGER PRIMARY KEY,
        query_id    INTEGER REFERENCES images(id),
        query_name  TEXT NOT NULL,
        result_id   INTEGER REFERENCES images(id),
        result_name TEXT NOT NULL,
        model       TEXT NOT NULL,
        version     TEXT NOT NULL,
        rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
        rater       TEXT,
        created_at  TEXT NOT NULL
    );
    CREATE INDEX feedback_model ON feedback(model, version);

    CREATE TABLE jobs (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        state       TEXT NOT NULL,
        progress    REAL NOT NULL DEFAULT 0,
        message     TEXT NOT NULL DEFAULT '',
        params      TEXT NOT NULL DEFAULT '{}',
        result      TEXT NOT NULL DEFAULT '{}',
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    """,
    # 2: versioned clusters. A k-means run is immutable (cluster_assignments); hand moves are an override layer.
    """
    CREATE TABLE cluster_versions (
        version          TEXT PRIMARY KEY,
        model            TEXT NOT NULL,
        feature_version  TEXT NOT NULL,
        k                INTEGER NOT NULL,
        params           TEXT NOT NULL DEFAULT '{}',
        metrics          TEXT NOT NULL DEFAULT '{}',
        created_at       TEXT NOT NULL
    );

    CREATE TABLE cluster_assignments (
        version   TEXT NOT NULL REFERENCES cluster_versions(version),
        image_id  INTEGER NOT NULL REFERENCES images(id),
        cluster   INTEGER NOT NULL,
        distance  REAL,
        PRIMARY KEY (version, image_id)
    );
    CREATE INDEX cluster_assignments_cluster ON cluster_assignments(version, cluster);

    CREATE TABLE cluster_moves (
        id            INTEGER PRIMARY KEY,
        version       TEXT NOT NULL REFERENCES cluster_versions(version),
        image_id      INTEGER NOT NULL REFERENCES images(id),
        from_cluster  INTEGER NOT NULL,
        to_cluster    INTEGER NOT NULL,
        moved_by      TEXT,
        moved_at      TEXT NOT NULL
    );
    CREATE INDEX cluster_moves_version ON cluster_moves(version, image_id);
    """,
    # 3: job ownership. owner is the running process's token (host, pid, random); heartbeat_at its last sign of
    # life, so a new process fails only jobs whose owner stopped heartbeating.
    """
    ALTER TABLE jobs ADD COLUMN owner TEXT;
    ALTER TABLE jobs ADD COLUMN heartbeat_at TEXT;
    CREATE INDEX jobs_state ON jobs(state);
    """,
    # palettes at ingest: an image's dominant colours (the "why it matched" swatches) per palette size k, keyed by
    # content hash (they are computed on its thumbnail, which is named by that hash); colours is the JSON list.
    """
    CREATE TABLE palettes (
        sha256   TEXT NOT NULL,
        k        INTEGER NOT NULL,
        colours  TEXT NOT NULL,
        PRIMARY KEY (sha256, k)
    );
    """,
]
