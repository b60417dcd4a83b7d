//! `deployment validate|v`: checks the settings name a store, and with `-s/--self-test`
//! writes a p1 and a p2 row linked by an image tag in a probe partition, reads them back as
//! one deployment, and deletes them, saying each step as bedrock did.

use clap::Args;
use spektate::{
    Error, Filter, ImageBuilt, MetadataUpdated, RecordQuery, Recorder, Result, Tracker, Window,
    new_row_key,
};

use super::sources::ReadStoreFlags;
use crate::store_args::Access;

/// `deployment validate` flags.
#[derive(Debug, Args)]
pub struct ValidateCmd {
    /// Run a test for the configured storage account. This will write test data and delete the test data. For more information on the behavior, please check the online documentation.
    #[arg(short = 's', long = "self-test")]
    pub self_test: bool,
    #[command(flatten)]
    pub store: ReadStoreFlags,
}

/// The service of the self-test's rows, as bedrock's.
const SERVICE: &str = "bedrock-self-test";

/// The partition of the self-test: beside the configured one, never in it, so a dashboard
/// of that partition never shows the test, even when its delete fails.
fn probe_partition(partition: &str) -> String {
    format!("{partition}~probe")
}

/// The lines of `validate`, as `crate::stdout::line` writes them: a closed standard output
/// (`| head`, a reader that exits) is kept as the command's failure instead of a panic, and
/// the lines after it are not tried, so the self-test still deletes what it wrote.
#[derive(Default)]
struct Said(Option<Error>);

impl Said {
    /// Writes `text` and a newline, unless an earlier line could not be written.
    fn line(&mut self, text: &str) {
        if self.0.is_none()
            && let Err(e) = crate::stdout::line(text)
        {
            self.0 = Some(e);
        }
    }

    /// Whether every line so far was written.
    fn ok(&self) -> bool {
        self.0.is_none()
    }

    /// The failure to write, if any.
    fn result(self) -> Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Runs `deployment validate`.
pub async fn run(cmd: ValidateCmd) -> Result<()> {
    let choice = cmd.store.choice();
    let config = choice.config()?;
    let place = choice.resolve(config.as_ref())?;
    let store = place.open(Access::Write)?;
    let mut said = Said::default();
    said.line("Configuration validation: SUCCEEDED");
    if !cmd.self_test {
        return said.result();
    }
    let partition = probe_partition(&place.partition);
    let key = new_row_key();
    let build_id = u64::from_str_radix(&key[..6], 16).unwrap_or(0) % 1_000_000;
    let build_id = build_id.to_string();
    let image_tag = format!("spektate-self-test-{key}");
    let recorder = Recorder::new(store.clone(), partition.clone())?;
    said.line("Writing self-test data for introspection...");
    said.line("Adding src to ACR data to service introspection...");
    if !said.ok() {
        // Nothing is written yet: no one would see the test.
        return said.result();
    }
    let written = recorder
        .image_built(&ImageBuilt {
            p1: build_id.clone(),
            image_tag: image_tag.clone(),
            commit_id: format!("6nbe{build_id}"),
            service: SERVICE.into(),
            repository: None,
        })
        .await;
    let outcome = match written {
        Ok(_) => {
            said.line("Adding ACR to HLD data to service introspection...");
            if said.ok() {
                let linked = recorder
                    .metadata_updated(&MetadataUpdated {
                        p2: build_id.clone(),
                        image_tag: image_tag.clone(),
                        hld_commit_id: format!("6nbe{build_id}"),
                        env: "BEDROCK-TEST".into(),
                        ..MetadataUpdated::default()
                    })
                    .await;
                match linked {
                    Ok(_) => read_back(&store, &partition, &image_tag, &build_id, &mut said).await,
                    Err(e) => Err(e),
                }
            } else {
                // The output closed: no more rows; the one written is deleted below.
                Ok(())
            }
        }
        Err(e) => Err(e),
    };
    // Whatever was or could not be said: the rows written are deleted.
    said.line("Deleting self-test data...");
    let deleted = delete(&store, &partition, &image_tag).await;
    let status = "Finished running self-test. Service introspection self-test status: ";
    match outcome.and(deleted) {
        Ok(()) => {
            said.line(&format!("{status}SUCCEEDED."));
            said.result()
        }
        Err(e) => {
            said.line(&format!("{status}FAILED. Please try again."));
            Err(e)
        }
    }
}

/// Reads the partition back through a tracker: the two writes must be one deployment with
/// both run ids.
async fn read_back(
    store: &std::sync::Arc<dyn spektate::RecordStore>,
    partition: &str,
    image_tag: &str,
    build_id: &str,
    said: &mut Said,
) -> Result<()> {
    let tracker = Tracker::builder(store.clone())
        .partition(partition)
        .window(Window::All)
        .build();
    let filter = Filter {
        image_tag: Some(image_tag.to_string()),
        ..Filter::default()
    };
    let found = tracker.deployments(&filter).await?;
    let linked = found.len() == 1
        && found[0].record.p1.as_deref() == Some(build_id)
        && found[0].record.p2.as_deref() == Some(build_id);
    if linked {
        said.line(&format!(
            "Read the self-test data back as one deployment ({}).",
            found[0].id()
        ));
        Ok(())
    } else {
        Err(Error::store(
            store.describe(),
            "read back",
            format!(
                "the self-test rows of image tag {image_tag} came back as {} deployment(s), not one with p1 and p2 {build_id}",
                found.len()
            ),
        ))
    }
}

/// Deletes every row of the self-test's image tag in the probe partition.
async fn delete(
    store: &std::sync::Arc<dyn spektate::RecordStore>,
    partition: &str,
    image_tag: &str,
) -> Result<()> {
    let rows = store.query(partition, &RecordQuery::all()).await?;
    for r in rows
        .iter()
        .filter(|r| r.image_tag.as_deref() == Some(image_tag))
    {
        store
            .delete(partition, &r.row_key, r.etag.as_deref())
            .await?;
    }
    Ok(())
}
