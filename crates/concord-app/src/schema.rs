//! The JSON Schema of every report concord prints with `--json` and
//! serves from its API, generated from the report types themselves. They
//! are published in `docs/schemas/` (a test keeps those files equal to
//! what this module generates) so a consumer can validate what it reads
//! and a change of shape shows up in review.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

/// One documented report.
pub struct Documented {
    /// The file stem in `docs/schemas/` (`sync` -> `sync.schema.json`).
    pub name: &'static str,
    /// Which commands and API routes produce it.
    pub produced_by: &'static str,
    pub schema: Schema,
}

/// The schema of `T` as it is serialized (not as it would be read back):
/// JSON Schema 2020-12, with a title and where it comes from.
pub fn of<T: JsonSchema>(name: &'static str, produced_by: &'static str) -> Documented {
    let generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>();
    schema.insert(
        "$id".into(),
        format!("https://concord.invalid/schemas/{name}.schema.json").into(),
    );
    schema.insert("description".into(), produced_by.into());
    Documented {
        name,
        produced_by,
        schema,
    }
}

/// Every report of the application layer, by name.
pub fn reports() -> Vec<Documented> {
    use crate::*;
    vec![
        of::<sync::SyncReport>(
            "sync",
            "`concord sync --json`; the output of a sync job (`GET /api/v1/jobs/{id}`)",
        ),
        of::<explain::Explanation>(
            "explain",
            "`concord explain KEY --json`; `GET /api/v1/items/{key}/explain`",
        ),
        of::<set::SetReport>(
            "set",
            "`concord set KEY STATUS --json`; `PUT /api/v1/items/{key}/status`",
        ),
        of::<log::LogReport>(
            "log",
            "`concord log KEY --event E --json`; `POST /api/v1/items/{key}/events`",
        ),
        of::<history::HistoryReport>(
            "history",
            "`concord history KEY --json`; `GET /api/v1/items/{key}/history`",
        ),
        of::<summary::Summary>("summary", "`concord summary --json`; `GET /api/v1/summary`"),
        of::<summary::listing::Listing>(
            "listing",
            "`GET /api/v1/repos/{name}` and `GET /api/v1/sources/{name}`",
        ),
        of::<mirror::MirrorReport>(
            "mirror",
            "`concord mirror --json`; the output of a mirror job",
        ),
        of::<concord_checks::render::JsonDoc<'static>>(
            "check",
            "`concord check --format json`; the output of a check job",
        ),
        of::<check::CheckList>("check-list", "`concord check --list --format json`"),
        of::<check::SnapshotHistory>("check-history", "`concord check history --json`"),
        of::<check_trend::TrendReport>("check-trend", "`concord check history --report --json`"),
        of::<scan::ScanReport>("scan", "`concord scan --json`"),
        of::<config_check::ConfigCheck>("config-check", "`concord config check --json`"),
        of::<init::InitReport>("init", "`concord init --json`"),
        of::<status::StatusReport>("status", "`concord status --json`"),
        of::<diff::DiffReport>(
            "diff",
            "`concord diff --json`; `concord sync --dry-run --json`",
        ),
        of::<hub_admin::MigrateReport>("hub-migrate", "`concord hub migrate --json`"),
        of::<ship::PlanReport>("ship-plan", "`concord ship plan --json`"),
        of::<ship::StatusReport>("ship-status", "`concord ship status --json`"),
    ]
}
