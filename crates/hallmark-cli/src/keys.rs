//! `hallmark key …` and `hallmark sign`: signing keys in the OS keyring or in encrypted key files.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use hallmark_core::credential;
use hallmark_core::did::SigningIdentity;
use hallmark_core::keys::{self as core_keys, KeyError, KeyRecord, KeyStore};
use hallmark_keys::{KeyringStore, key_file};
use zeroize::Zeroizing;

use crate::BadInput;

/// The environment variable a script sets to give a key file's passphrase without a prompt.
const PASSPHRASE_ENV: &str = "HALLMARK_KEY_PASSPHRASE";

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a signing key and keep it in the OS keyring (or in an encrypted file with --key-file).
    New {
        /// A name you will recognise, such as your own.
        #[arg(long)]
        name: String,
        /// Write the key to this new age-encrypted file instead of the keyring.
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// List the keys in the keyring.
    List,
    /// Show a key's public identity (did:key); never its secret.
    Show {
        did: Option<String>,
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Back up a key from the keyring into a new age file encrypted with a passphrase.
    Export {
        did: Option<String>,
        /// The backup file to write (it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a key from a backup file into the keyring.
    Import { file: PathBuf },
    /// Replace a key: make a new one, and have the old one sign a statement naming it.
    Rotate {
        /// The key to replace (default: the only key).
        did: Option<String>,
        /// Where to write the rotation statement (a credential signed by the old key).
        #[arg(long)]
        statement: PathBuf,
    },
    /// Delete a key from the keyring; without a backup it is gone for good.
    Delete {
        did: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// The keyring store; `HALLMARK_KEYRING_SERVICE` names another service (tests keep their own).
fn keyring() -> KeyringStore {
    match std::env::var("HALLMARK_KEYRING_SERVICE") {
        Ok(service) => KeyringStore::with_service(&service),
        Err(_) => KeyringStore::new(),
    }
}

/// The keyring store of bucket credentials; under `HALLMARK_KEYRING_SERVICE`, a service of its
/// own next to that one (tests keep their own).
pub(crate) fn bucket_keyring() -> hallmark_keys::BucketKeyring {
    match std::env::var("HALLMARK_KEYRING_SERVICE") {
        Ok(service) if !service.is_empty() => {
            hallmark_keys::BucketKeyring::with_service(&format!("{service}.buckets"))
        }
        _ => hallmark_keys::BucketKeyring::new(),
    }
}

pub(crate) fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// What a passphrase is for: a new secret (a new key file, a backup), or opening the file named.
#[derive(Debug, Clone, Copy)]
enum Passphrase<'a> {
    New,
    Opens(&'a Path),
}

impl Passphrase<'_> {
    /// The core's rule for this use: at least 8 characters for a new secret, any but none to open.
    fn check(self, passphrase: &str) -> Result<(), KeyError> {
        match self {
            Self::New => core_keys::check_new_passphrase(passphrase),
            Self::Opens(path) => {
                core_keys::check_passphrase(passphrase, &path.display().to_string())
            }
        }
    }
}

/// The passphrase from the environment, or asked for at the terminal (twice for a new one); the
/// core's rule for `purpose` applies to both.
fn passphrase(prompt: &str, purpose: Passphrase<'_>) -> anyhow::Result<Zeroizing<String>> {
    match std::env::var(PASSPHRASE_ENV) {
        Ok(value) => {
            let value = Zeroizing::new(value);
            purpose
                .check(&value)
                .with_context(|| format!("the passphrase in {PASSPHRASE_ENV} is refused"))?;
            return Ok(value);
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(BadInput(format!(
                "the passphrase in {PASSPHRASE_ENV} is not valid UTF-8; set it as text"
            ))
            .into());
        }
        Err(std::env::VarError::NotPresent) => {}
    }
    if !std::io::stdin().is_terminal() {
        return Err(BadInput(format!(
            "no passphrase: set {PASSPHRASE_ENV}, or run in a terminal to be asked"
        ))
        .into());
    }
    let first = Zeroizing::new(rpassword::prompt_password(prompt)?);
    purpose.check(&first)?;
    if let Passphrase::New = purpose {
        let again = Zeroizing::new(rpassword::prompt_password("Type it again: ")?);
        if *again != *first {
            return Err(BadInput("the two passphrases differ; nothing was written".into()).into());
        }
    }
    Ok(first)
}

/// The keyring's key named by `did`, or its only key. With several keys and no did, the error
/// shows `usage`, this command's own way to name one (the core's message names `--key DID`, the
/// option of `sign` and `present`).
pub(crate) fn choose(
    did: Option<&str>,
    usage: &str,
) -> anyhow::Result<(KeyRecord, SigningIdentity)> {
    keyring().choose(did).map_err(|e| match e {
        KeyError::WhichKey { count } => BadInput(format!(
            "there are {count} keys in the keyring; name one: `{usage}` (see `hallmark key list`)"
        ))
        .into(),
        other => other.into(),
    })
}

fn print_record(out: &mut impl Write, record: &KeyRecord, json: bool) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(record)?)?;
    } else {
        writeln!(
            out,
            "{}  {}  (created {})",
            record.did, record.name, record.created
        )?;
    }
    Ok(())
}

pub fn run(command: &KeyCommand, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        KeyCommand::New {
            name,
            key_file: file,
        } => {
            let key = SigningIdentity::generate();
            let record = KeyRecord {
                did: key.public().to_string(),
                name: name.clone(),
                created: now(),
            };
            match file {
                Some(path) => {
                    let pass = passphrase("Passphrase for the new key file: ", Passphrase::New)?;
                    key_file::write(path, &record, &key, &pass)?;
                }
                None => keyring().store(&record, &key)?,
            }
            print_record(&mut out, &record, json)?;
            if !json && file.is_none() {
                writeln!(
                    out,
                    "back it up now: hallmark key export {} --out my-key.age",
                    record.did
                )?;
            }
        }
        KeyCommand::List => {
            let keys = keyring().list()?;
            if keys.is_empty() && !json {
                writeln!(
                    out,
                    "no keys yet; create one with: hallmark key new --name \"Your name\""
                )?;
            }
            for record in keys {
                print_record(&mut out, &record, json)?;
            }
        }
        KeyCommand::Show {
            did,
            key_file: file,
        } => {
            let (record, _) = match file {
                Some(_) => open(None, file.as_deref())?,
                None => choose(did.as_deref(), "hallmark key show DID")?,
            };
            print_record(&mut out, &record, json)?;
        }
        KeyCommand::Export { did, out: path } => {
            let (record, key) = choose(did.as_deref(), "hallmark key export DID --out FILE")?;
            let pass = passphrase("Passphrase for the backup: ", Passphrase::New)?;
            key_file::write(path, &record, &key, &pass)?;
            writeln!(
                out,
                "backed up {} to {} (open it with this passphrase; age and rage can too)",
                record.did,
                path.display()
            )?;
        }
        KeyCommand::Import { file } => {
            let pass = passphrase("Passphrase of the backup: ", Passphrase::Opens(file))?;
            let (record, key) = key_file::read(file, &pass)?;
            keyring().store(&record, &key)?;
            print_record(&mut out, &record, json)?;
        }
        KeyCommand::Rotate { did, statement } => {
            let store = keyring();
            let (old_record, old) =
                choose(did.as_deref(), "hallmark key rotate DID --statement FILE")?;
            // The statement file is claimed first (an existing one is never replaced), then the
            // new key and the studio's own copy of the statement (by which the app shows the old
            // identity as replaced) are made whole or not at all; the file is removed if not.
            let cannot_write = || {
                format!(
                    "cannot write the rotation statement {}",
                    statement.display()
                )
            };
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(statement)
                .with_context(cannot_write)?;
            let kept = hallmark_core::rotation::Kept::new(&data_dir()?.join("rotations"));
            let (record, signed) =
                match hallmark_core::rotation::rotate(&store, &kept, &old_record, &old, &now()) {
                    Ok(rotated) => rotated,
                    Err(e) => {
                        drop(file);
                        let _ = std::fs::remove_file(statement);
                        return Err(e.into());
                    }
                };
            let mut bytes = serde_json::to_vec_pretty(&signed)?;
            bytes.push(b'\n');
            file.write_all(&bytes).with_context(cannot_write)?;
            print_record(&mut out, &record, json)?;
            if !json {
                writeln!(
                    out,
                    "the old key {} signed {}; it stays in the keyring until you delete it",
                    old_record.did,
                    statement.display()
                )?;
            }
        }
        KeyCommand::Delete { did, yes } => {
            let store = keyring();
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(BadInput(
                        "deleting a key cannot be undone without a backup; pass --yes to confirm"
                            .into(),
                    )
                    .into());
                }
                eprint!(
                    "Delete {did}? It cannot be recovered without a backup. Type 'delete' to confirm: "
                );
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if answer.trim() != "delete" {
                    return Err(BadInput("not deleted".into()).into());
                }
            }
            store.delete(did)?;
            writeln!(out, "deleted {did}")?;
        }
    }
    Ok(())
}

/// A key from a key file, or from the keyring.
fn open(did: Option<&str>, file: Option<&Path>) -> anyhow::Result<(KeyRecord, SigningIdentity)> {
    match file {
        Some(path) => {
            let pass = passphrase(
                &format!("Passphrase of {}: ", path.display()),
                Passphrase::Opens(path),
            )?;
            Ok(key_file::read(path, &pass)?)
        }
        None => Ok(keyring().choose(did)?),
    }
}

pub fn sign(
    out_dir: &Path,
    did: Option<&str>,
    file: Option<&Path>,
    json: bool,
) -> anyhow::Result<()> {
    // The terms are shown before the key is opened: what is signed is what the creator reads here.
    let (_, facts) = hallmark_core::manifest::read_file(out_dir)
        .with_context(|| format!("cannot sign the dataset in {}", out_dir.display()))?;
    if !json {
        let mut out = std::io::stdout().lock();
        writeln!(out, "signing {} {}", facts.name, facts.version)?;
        writeln!(out, "  license: {}", facts.license)?;
        writeln!(
            out,
            "  terms:   {}",
            hallmark_core::manifest::consent_in_words(&facts.consent)
        )?;
        out.flush()?;
    }
    let (record, key) = open(did, file)?;
    let path = credential::sign_dataset(out_dir, &key, &now())
        .with_context(|| format!("cannot sign the dataset in {}", out_dir.display()))?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({ "credential": path, "signer": record.did })
        )?;
    } else {
        writeln!(out, "signed by {} ({})", record.did, record.name)?;
        writeln!(out, "  credential: {}", path.display())?;
    }
    Ok(())
}

/// Reads a credential file: a regular file (never through a link), bounded and strict, as the
/// core parses every credential.
fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    use hallmark_core::creator;
    let bytes = hallmark_core::untrusted::read_capped(path, creator::MAX_DOCUMENT_BYTES as u64)?;
    creator::parse(&bytes).with_context(|| format!("{} is not a credential", path.display()))
}

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Check a creator credential: who issued it, for whom, until when (exit 1 when not valid).
    Check(CredentialArgs),
    /// Check a creator credential and keep it with Hallmark's data, for publishing.
    Import(CredentialArgs),
    /// The creator credentials kept, each checked again now.
    List,
}

#[derive(Debug, clap::Args)]
pub struct CredentialArgs {
    /// The credential file (JSON) from the marketplace.
    file: PathBuf,
    /// The marketplace's did:key, which must have issued it.
    #[arg(long)]
    marketplace: String,
    /// Your did:key (default: the only key in the keyring).
    #[arg(long)]
    holder: Option<String>,
}

/// Hallmark's data folder, shared with the desktop app (`HALLMARK_DATA_DIR` overrides it, for tests).
pub(crate) fn data_dir() -> anyhow::Result<PathBuf> {
    Ok(match std::env::var_os("HALLMARK_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => dirs::data_dir()
            .context("cannot find this system's data folder; set HALLMARK_DATA_DIR")?
            .join("studio.hallmark.desktop"),
    })
}

/// Where Hallmark keeps creator credentials: `credentials` in its data folder.
pub(crate) fn credential_shelf() -> anyhow::Result<hallmark_core::creator::CredentialShelf> {
    Ok(hallmark_core::creator::CredentialShelf::new(
        &data_dir()?.join("credentials"),
    ))
}

pub fn credential(command: &CredentialCommand, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let args = match command {
        CredentialCommand::List => {
            let kept = credential_shelf()?.list(&now())?;
            if kept.is_empty() && !json {
                writeln!(
                    out,
                    "no creator credentials kept yet; import the one a marketplace issued you with: \
                     hallmark credential import FILE --marketplace DID"
                )?;
            }
            for kept in kept {
                if json {
                    writeln!(out, "{}", serde_json::to_string(&kept)?)?;
                } else {
                    let state = kept.problem.clone().unwrap_or_else(|| {
                        format!(
                            "valid until {}",
                            kept.valid_until.as_deref().unwrap_or("no end date")
                        )
                    });
                    writeln!(out, "{} from {}: {state}", kept.name, kept.marketplace)?;
                }
            }
            return Ok(());
        }
        CredentialCommand::Check(args) | CredentialCommand::Import(args) => args,
    };
    let marketplace: hallmark_core::did::PublicIdentity = args
        .marketplace
        .parse()
        .map_err(|e| BadInput(format!("--marketplace: {e}")))?;
    let holder: hallmark_core::did::PublicIdentity = match &args.holder {
        Some(did) => did
            .parse()
            .map_err(|e| BadInput(format!("--holder: {e}")))?,
        None => {
            let usage = match command {
                CredentialCommand::Import(_) => {
                    "hallmark credential import FILE --marketplace DID --holder DID"
                }
                _ => "hallmark credential check FILE --marketplace DID --holder DID",
            };
            choose(None, usage)?.1.public()
        }
    };
    let credential = read_json(&args.file)?;
    let checked = match command {
        CredentialCommand::Import(_) => credential_shelf()?
            .import(&credential, &marketplace, &holder, &now())?
            .map(|kept| (kept.name, kept.valid_until, Some(kept.file))),
        _ => hallmark_core::creator::check(&credential, &marketplace, &holder, &now())
            .map(|s| (s.name, s.valid_until, None)),
    };
    match checked {
        Ok((name, until, file)) => {
            let until = until.unwrap_or_else(|| "no end date".into());
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "valid": true, "name": name, "validUntil": until, "kept": file })
                )?;
            } else {
                writeln!(
                    out,
                    "valid: issued by {marketplace} to {holder} ({name}), until {until}"
                )?;
                if let Some(file) = file {
                    writeln!(out, "  kept in {}", file.display())?;
                }
            }
            Ok(())
        }
        Err(e) => {
            writeln!(out, "INVALID: {e}")?;
            Err(crate::Invalid.into())
        }
    }
}

/// What `hallmark present` needs.
#[derive(Debug)]
pub struct PresentArgs<'a> {
    pub out: &'a Path,
    pub creator_credential: &'a Path,
    pub challenge: &'a str,
    pub domain: &'a str,
    pub key: Option<&'a str>,
    pub key_file: Option<&'a Path>,
    pub to: &'a Path,
}

pub fn present(args: &PresentArgs<'_>, json: bool) -> anyhow::Result<()> {
    let (record, key) = open(args.key, args.key_file)?;
    let creator = read_json(args.creator_credential)?;
    let dataset = read_json(&args.out.join(credential::CREDENTIAL_FILE))
        .context("the dataset is not signed yet; run `hallmark sign` first")?;
    let presentation = hallmark_core::creator::present(
        &key,
        &[creator, dataset],
        args.challenge,
        args.domain,
        &now(),
    )?;
    let mut bytes = serde_json::to_vec_pretty(&presentation)?;
    bytes.push(b'\n');
    std::fs::write(args.to, bytes)
        .with_context(|| format!("cannot write {}", args.to.display()))?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({ "presentation": args.to, "holder": record.did })
        )?;
    } else {
        writeln!(
            out,
            "presentation by {} written to {}",
            record.did,
            args.to.display()
        )?;
    }
    Ok(())
}
