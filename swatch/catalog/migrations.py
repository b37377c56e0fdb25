"""Ordered schema migrations; PRAGMA user_version records how many have been applied."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """A migration whose statements differ by dialect, each one statement already (trigger bodies hold `;`)."""

    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


#: which change counter each table's writes move (swatch.catalog.changes)
CHANGE_KINDS = {"images": "images", "metadata": "images", "composition": "images", "feedback": "feedback",
                "cluster_versions": "clusters", "cluster_assignments": "clusters", "cluster_moves": "clusters"}
_CHANGES = "CREATE TABLE changes (name TEXT PRIMARY KEY, counter INTEGER NOT NULL DEFAULT 0)"
_CHANGE_ROWS = "INSERT INTO changes(name, counter) VALUES ('images', 0), ('feedback', 0), ('clusters', 0)"


def _sqlite_triggers() -> tuple[str, ...]:
    return tuple(f"CREATE TRIGGER changes_{table}_{op.lower()} AFTER {op} ON {table} BEGIN"
                 f" UPDATE changes SET counter = counter + 1 WHERE name = '{kind}'; END"
                 for table, kind in CHANGE_KINDS.items() for op in ("INSERT", "UPDATE", "DELETE"))


def _pg_triggers() -> tuple[str, ...]:
    # once per kind and transaction (a transaction-local mark), however many statements it runs
    function = ("CREATE OR REPLACE FUNCTION swatch_count_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                " IF COALESCE(current_setting('swatch.changed_' || TG_ARGV[0], true), '') = '' THEN"
                " UPDATE changes SET counter = counter + 1 WHERE name = TG_ARGV[0];"
                " PERFORM set_config('swatch.changed_' || TG_ARGV[0], '1', true); END IF; RETURN NULL; END $$")
    return (function, *(f"CREATE TRIGGER changes_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
                        f" FOR EACH STATEMENT EXECUTE FUNCTION swatch_count_change('{kind}')"
                        for table, kind in CHANGE_KINDS.items()))


MIGRATIONS: list[str | Migration] = [
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
    # catalogue folders: each folder an ingest read (root), whether it is removed, its metadata file's hash at the
    # last ingest and the watcher's last report (JSON); folder_files the stat (size, mtime) each file had when it was
    # last known to match the catalogue, so a check hashes only the files whose stat moved.
    """
    CREATE TABLE folders (
        id               INTEGER PRIMARY KEY,
        root             TEXT NOT NULL UNIQUE,
        metadata_file    TEXT,
        metadata_sha256  TEXT,
        added_at         TEXT NOT NULL,
        ingested_at      TEXT,
        removed_at       TEXT,
        checked_at       TEXT,
        changes          TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE folder_files (
        folder_id   INTEGER NOT NULL REFERENCES folders(id),
        path        TEXT NOT NULL,
        size_bytes  BIGINT NOT NULL,
        mtime_ns    BIGINT NOT NULL,
        PRIMARY KEY (folder_id, path)
    );
    INSERT INTO folders(root, added_at) SELECT DISTINCT root, CURRENT_TIMESTAMP FROM images
    """,
    # cluster editing and comments: cluster_names holds a name per cluster per version and the clusters added by
    # hand from a selection (added = 1, filled by moves), beside the immutable assignment. comments are notes on a
    # cluster version (kind 'cluster', subject 'v3') or a model version (kind 'model', subject 'pattern/v2').
    """
    CREATE TABLE cluster_names (
        version     TEXT NOT NULL REFERENCES cluster_versions(version),
        cluster     INTEGER NOT NULL,
        name        TEXT,
        added       INTEGER NOT NULL DEFAULT 0,
        updated_by  TEXT,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (version, cluster)
    );
    CREATE TABLE comments (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL,
        subject     TEXT NOT NULL,
        body        TEXT NOT NULL,
        author      TEXT,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX comments_subject ON comments(kind, subject)
    """,
    # change counters: one row per kind of change the in-memory snapshot follows (images with their metadata,
    # ratings, clusters), bumped by triggers in the same transaction as every write of those tables, whoever
    # writes them, so a reader re-reads rows only when a counter moved, on SQLite and PostgreSQL alike.
    Migration(sqlite=(_CHANGES, _CHANGE_ROWS, *_sqlite_triggers()), postgres=(_CHANGES, _CHANGE_ROWS, *_pg_triggers())),
]
