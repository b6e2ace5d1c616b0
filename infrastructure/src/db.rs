//! The Postgres pool: creates the database when missing and applies the embedded migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool};

/// The SQL migrations of `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid DATABASE_URL: {0}")]
    InvalidUrl(#[source] sqlx::Error),
    #[error("cannot reach Postgres: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot create database `{name}`: {source}")]
    CreateDatabase {
        name: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Creates the database named in `database_url` if it does not exist yet (connecting to the
/// `postgres` maintenance database to do so).
pub async fn ensure_database(database_url: &str) -> Result<(), DbError> {
    let options = PgConnectOptions::from_str(database_url).map_err(DbError::InvalidUrl)?;
    let name = options.get_database().unwrap_or("postgres").to_string();
    let maintenance = options.clone().database("postgres");
    let mut conn = PgConnection::connect_with(&maintenance)
        .await
        .map_err(DbError::Connect)?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .map_err(DbError::Connect)?;
    if !exists {
        let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        match conn.execute(statement.as_str()).await {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Two processes starting at once: the other one created it.
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P04") => {}
            Err(source) => return Err(DbError::CreateDatabase { name, source }),
        }
    }
    conn.close().await.ok();
    Ok(())
}

pub async fn connect(database_url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(database_url).map_err(DbError::InvalidUrl)?;
    pool_options(max_connections)
        .connect_with(options)
        .await
        .map_err(DbError::Connect)
}

/// No ping before every acquire (sqlx's default): it doubles the round trips of every short
/// statement. A connection that died is found out by the statement that uses it, whose error
/// reaches the caller once; the pool then replaces it.
fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
}

pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Creates the database if needed, connects and migrates: what `insight serve` does first.
pub async fn prepare(database_url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    ensure_database(database_url).await?;
    let pool = connect(database_url, max_connections).await?;
    migrate(&pool).await?;
    Ok(pool)
}

/// A pool for projectors. Their transactions commit without waiting for the WAL flush: a read
/// model and its checkpoint are in one transaction, so a crash can only lose both together and
/// the projector re-applies those events from the log. This takes the flush off the path of
/// every read-your-writes wait.
pub async fn connect_for_projectors(
    database_url: &str,
    max_connections: u32,
) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(database_url)
        .map_err(DbError::InvalidUrl)?
        .options([("synchronous_commit", "off")]);
    pool_options(max_connections)
        .connect_with(options)
        .await
        .map_err(DbError::Connect)
}

/// The same server (user, host, options) as `database_url`, with another database name.
/// Tests and benchmarks use it to make a database of their own.
pub fn database_url_for(database_url: &str, database: &str) -> String {
    let (base, query) = match database_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (database_url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::database_url_for;

    #[test]
    fn another_database_on_the_same_server_keeps_the_options() {
        assert_eq!(
            database_url_for("postgres://u@h:5432/insight?sslmode=disable", "t1"),
            "postgres://u@h:5432/t1?sslmode=disable"
        );
        assert_eq!(
            database_url_for("postgres://u@h:5432", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(
            database_url_for("postgres://u@h/insight", "postgres"),
            "postgres://u@h/postgres"
        );
    }
}
