//! The dataset manifest: MLCommons Croissant 1.1 JSON-LD that buyers' tools read, with license and consent.
//!
//! One `cr:FileObject` per shard (its CID as name, SHA-256 and size), the index as its own
//! FileObject, one `cr:FileSet` per file extension inside the shards, a `samples` RecordSet read
//! from the index (one record per sample) and one RecordSet per extension that loads file content.
//! The license is an SPDX expression, validated.

use std::path::Path;

use serde_json::{Value, json};

use crate::digest::Sha256Digest;
use crate::seal::{INDEX_FILE, SealReport};
use crate::{Error, Result};

/// The manifest's file name.
pub const MANIFEST_FILE: &str = "croissant.json";
/// Croissant's conformance URI for version 1.1.
pub const CROISSANT_1_1: &str = "http://mlcommons.org/croissant/1.1";

/// A CAWG training-and-mining permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Permission {
    Allowed,
    NotAllowed,
    Constrained,
}

impl Permission {
    fn words(self) -> &'static str {
        match self {
            Permission::Allowed => "allowed",
            Permission::NotAllowed => "not allowed",
            Permission::Constrained => "allowed under the constraints below",
        }
    }
}

/// What the creator consents to, in the terms of the C2PA/CAWG `cawg.training-mining` assertion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    pub ai_training: Permission,
    pub ai_generative_training: Permission,
    pub ai_inference: Permission,
    pub data_mining: Permission,
    /// The creator's own words on constraints, if any.
    pub constraints: Option<String>,
}

impl Default for Consent {
    /// Sealing for a training-data marketplace: training and mining allowed, the rest an explicit choice.
    fn default() -> Self {
        Self {
            ai_training: Permission::Allowed,
            ai_generative_training: Permission::NotAllowed,
            ai_inference: Permission::NotAllowed,
            data_mining: Permission::Allowed,
            constraints: None,
        }
    }
}

/// Responsible-AI facts the creator can state (Croissant RAI vocabulary).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponsibleAi {
    pub data_collection: Option<String>,
    pub data_collection_type: Option<String>,
    pub personal_sensitive_information: Option<String>,
    pub data_use_cases: Option<String>,
    pub data_limitations: Option<String>,
    pub data_biases: Option<String>,
    pub data_social_impact: Option<String>,
}

/// What the creator says about the dataset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetInfo {
    pub name: String,
    pub description: String,
    /// An SPDX license expression, such as `CC-BY-4.0` or `CC-BY-NC-4.0 OR LicenseRef-Buyer-Terms`.
    pub license: String,
    pub creator_name: String,
    pub creator_url: Option<String>,
    /// Where the dataset lives (a marketplace page); a `urn:` of the index digest when unknown.
    pub url: Option<String>,
    /// Semantic version of this release.
    pub version: String,
    /// Publication date, `YYYY-MM-DD` (passed in: the core does not read the clock).
    pub date_published: String,
    pub keywords: Vec<String>,
    pub consent: Consent,
    pub rai: ResponsibleAi,
}

/// The largest `croissant.json` read back (a dataset of a million shards stays far below it).
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;

/// Checks an SPDX license expression and returns it normalised, or an error that says how to write one.
pub fn validate_license(expression: &str) -> Result<spdx::Expression> {
    spdx::Expression::parse(expression).map_err(|e| Error::InvalidLicense {
        license: expression.to_owned(),
        detail: e.reason.to_string(),
    })
}

/// The SPDX list's spelling of a license or exception id written in any case (`cc-by-4.0`).
fn canonical_id(word: &str) -> Option<&'static str> {
    spdx::identifiers::LICENSES
        .iter()
        .map(|l| l.name)
        .chain(spdx::identifiers::EXCEPTIONS.iter().map(|e| e.name))
        .find(|name| name.eq_ignore_ascii_case(word))
}

/// The SPDX license id closest to `word`, when one is close enough to be a likely typo.
fn nearest_id(word: &str) -> Option<&'static str> {
    let word = word.to_ascii_lowercase();
    spdx::identifiers::LICENSES
        .iter()
        .filter(|l| spdx::license_id(l.name).is_some_and(|id| !id.is_deprecated()))
        .map(|l| {
            (
                strsim::jaro_winkler(&word, &l.name.to_ascii_lowercase()),
                l.name,
            )
        })
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

/// Normalises a license expression a creator typed: ids in any case become the SPDX list's spelling,
/// operators upper case. An unknown id is refused with the nearest real one suggested.
pub fn normalize_license(expression: &str) -> Result<String> {
    let spaced = expression.replace('(', " ( ").replace(')', " ) ");
    let mut words = Vec::new();
    for word in spaced.split_whitespace() {
        let upper = word.to_ascii_uppercase();
        let normal = if matches!(upper.as_str(), "AND" | "OR" | "WITH") {
            upper
        } else if word == "("
            || word == ")"
            || word.starts_with("LicenseRef-")
            || word.starts_with("DocumentRef-")
        {
            word.to_owned()
        } else {
            let (id, plus) = word.strip_suffix('+').map_or((word, ""), |w| (w, "+"));
            match canonical_id(id) {
                Some(name) => format!("{name}{plus}"),
                None => {
                    let hint = match nearest_id(id) {
                        Some(near) => format!("unknown license id {id:?}; did you mean {near}?"),
                        None => format!("unknown license id {id:?}"),
                    };
                    return Err(Error::InvalidLicense {
                        license: expression.to_owned(),
                        detail: hint,
                    });
                }
            }
        };
        words.push(normal);
    }
    let normal = words.join(" ").replace("( ", "(").replace(" )", ")");
    validate_license(&normal).map_err(|e| match e {
        Error::InvalidLicense { detail, .. } => Error::InvalidLicense {
            license: expression.to_owned(),
            detail,
        },
        other => other,
    })?;
    Ok(normal)
}

/// Checks everything a creator says about a dataset before a single file is read, and returns it
/// normalised (license ids in SPDX spelling, trimmed text).
pub fn validated(info: &DatasetInfo) -> Result<DatasetInfo> {
    let mut info = info.clone();
    info.license = normalize_license(info.license.trim())?;
    info.name = info.name.trim().to_owned();
    info.creator_name = info.creator_name.trim().to_owned();
    if info.name.is_empty() {
        return Err(Error::MissingField {
            field: "name",
            hint: "give the dataset a name, such as \"Berlin street photos 2024\"",
        });
    }
    if info.creator_name.is_empty() {
        return Err(Error::MissingField {
            field: "creator",
            hint: "say who made the work, as buyers will credit it",
        });
    }
    if let Err(e) = semver::Version::parse(info.version.trim()) {
        return Err(Error::InvalidField {
            field: "version",
            value: info.version.clone(),
            detail: format!("{e}; use a semantic version such as 1.0.0 or 1.2.0-beta.1"),
        });
    }
    info.version = info.version.trim().to_owned();
    Ok(info)
}

/// The `license` value: the SPDX page of a single license, or the expression's license pages.
fn license_value(expression: &spdx::Expression) -> Value {
    let urls: Vec<Value> = expression
        .requirements()
        .map(|r| match &r.req.license {
            spdx::LicenseItem::Spdx { id, .. } => {
                json!(format!("https://spdx.org/licenses/{}.html", id.name))
            }
            other => json!(other.to_string()),
        })
        .collect();
    match urls.as_slice() {
        [one] => one.clone(),
        _ => Value::Array(urls),
    }
}

fn context() -> Value {
    json!({
        "@language": "en",
        "@vocab": "https://schema.org/",
        "arrayShape": "cr:arrayShape",
        "citeAs": "cr:citeAs",
        "column": "cr:column",
        "conformsTo": "dct:conformsTo",
        // Not in the context mlcroissant calls standard: without it `containedIn` vanishes and no record loads.
        "containedIn": "cr:containedIn",
        "cr": "http://mlcommons.org/croissant/",
        "rai": "http://mlcommons.org/croissant/RAI/",
        "data": { "@id": "cr:data", "@type": "@json" },
        "dataType": { "@id": "cr:dataType", "@type": "@vocab" },
        "dct": "http://purl.org/dc/terms/",
        "description": { "@container": "@language" },
        "equivalentProperty": "cr:equivalentProperty",
        "examples": { "@id": "cr:examples", "@type": "@json" },
        "extract": "cr:extract",
        "field": "cr:field",
        "fileProperty": "cr:fileProperty",
        "fileObject": "cr:fileObject",
        "fileSet": "cr:fileSet",
        "format": "cr:format",
        "includes": "cr:includes",
        "isArray": "cr:isArray",
        "isLiveDataset": "cr:isLiveDataset",
        "jsonPath": "cr:jsonPath",
        "key": "cr:key",
        "md5": "cr:md5",
        "name": { "@container": "@language" },
        "parentField": "cr:parentField",
        "path": "cr:path",
        "recordSet": "cr:recordSet",
        "references": "cr:references",
        "regex": "cr:regex",
        "repeated": "cr:repeated",
        "replace": "cr:replace",
        "samplingRate": "cr:samplingRate",
        "sc": "https://schema.org/",
        "separator": "cr:separator",
        "source": "cr:source",
        "subField": "cr:subField",
        "transform": "cr:transform",
        // Hallmark's machine-readable terms (the SPDX expression and the AI-use consent) beside the
        // schema.org `license` and the plain-words `usageInfo`; the dataset credential signs them.
        "hallmark": "https://hallmark.studio/ns#"
    })
}

/// The RAI properties, in the manifest's words.
fn rai_properties(rai: &ResponsibleAi, out: &mut serde_json::Map<String, Value>) {
    let pairs = [
        ("rai:dataCollection", &rai.data_collection),
        ("rai:dataCollectionType", &rai.data_collection_type),
        (
            "rai:personalSensitiveInformation",
            &rai.personal_sensitive_information,
        ),
        ("rai:dataUseCases", &rai.data_use_cases),
        ("rai:dataLimitations", &rai.data_limitations),
        ("rai:dataBiases", &rai.data_biases),
        ("rai:dataSocialImpact", &rai.data_social_impact),
    ];
    for (key, value) in pairs {
        if let Some(text) = value {
            out.insert(key.to_owned(), json!(text));
        }
    }
}

/// The usage terms in plain words, as `usageInfo` and as every shell shows them.
pub fn consent_in_words(consent: &Consent) -> String {
    let mut text = format!(
        "AI training: {}. Generative AI training: {}. AI inference: {}. Data mining: {}.",
        consent.ai_training.words(),
        consent.ai_generative_training.words(),
        consent.ai_inference.words(),
        consent.data_mining.words()
    );
    if let Some(constraints) = &consent.constraints {
        text.push_str(" Constraints: ");
        text.push_str(constraints);
    }
    text
}

/// A field id that is safe in a JSON-LD `@id` (letters, digits, `-`, `_`).
fn id_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Builds the Croissant manifest of a sealed dataset.
pub fn build(report: &SealReport, info: &DatasetInfo) -> Result<Value> {
    let info = &validated(info)?;
    let license = validate_license(&info.license)?;

    let mut distribution = Vec::new();
    let shard_refs: Vec<Value> = report
        .shards
        .iter()
        .map(|s| json!({ "@id": s.name }))
        .collect();
    for shard in &report.shards {
        distribution.push(json!({
            "@type": "cr:FileObject",
            "@id": shard.name,
            "name": shard.name,
            "description": format!("WebDataset shard: {} samples, {} files; CIDv1 {}", shard.samples, shard.files, shard.cid),
            "contentUrl": shard.name,
            "contentSize": format!("{} B", shard.size),
            "encodingFormat": "application/x-tar",
            "sha256": shard.sha256,
        }));
    }
    distribution.push(json!({
        "@type": "cr:FileObject",
        "@id": INDEX_FILE,
        "name": INDEX_FILE,
        "description": "One JSON object per sample: key, shard, and each file's path, size, SHA-256, media type and byte offset in the shard",
        "contentUrl": INDEX_FILE,
        "contentSize": format!("{} B", report.index_size),
        "encodingFormat": "application/jsonlines",
        "sha256": report.index_sha256,
    }));

    let mut record_sets = vec![json!({
        "@type": "cr:RecordSet",
        "@id": "samples",
        "name": "samples",
        "description": "One record per sample (the files that share a key), read from the index",
        "key": { "@id": "samples/key" },
        "field": [
            {
                "@type": "cr:Field", "@id": "samples/key", "name": "key", "dataType": "sc:Text",
                "description": "The sample key: the path up to the first dot of the file name",
                "source": { "fileObject": { "@id": INDEX_FILE }, "extract": { "column": "key" } }
            },
            {
                "@type": "cr:Field", "@id": "samples/shard", "name": "shard", "dataType": "sc:Text",
                "description": "The shard (by CID) that holds the sample",
                "source": { "fileObject": { "@id": INDEX_FILE }, "extract": { "column": "shard" } }
            }
        ]
    })];
    for media in &report.media {
        let ext = id_part(&media.extension);
        let set_id = format!("files-{ext}");
        distribution.push(json!({
            "@type": "cr:FileSet",
            "@id": set_id,
            "name": set_id,
            "description": format!("The .{} files inside the shards ({} files)", media.extension, media.files),
            "containedIn": shard_refs,
            "includes": format!("*.{}", media.extension),
            "encodingFormat": media.media_type,
        }));
        let content_type = if media.media_type.starts_with("image/") {
            "sc:ImageObject"
        } else {
            "sc:Text"
        };
        let rs = ext.clone();
        record_sets.push(json!({
            "@type": "cr:RecordSet",
            "@id": rs,
            "name": rs,
            "description": format!("The content of every .{} file, with its sample key", media.extension),
            "field": [
                {
                    "@type": "cr:Field", "@id": format!("{rs}/key"), "name": "key", "dataType": "sc:Text",
                    "source": {
                        "fileSet": { "@id": set_id },
                        "extract": { "fileProperty": "fullpath" },
                        // Idempotent (the extension is optional): mlcroissant applies it again when joining.
                        "transform": { "regex": "^((?:.*/)?[^/][^/]*?)(?:\\.[^/]*)?$" }
                    },
                    "references": { "field": { "@id": "samples/key" } }
                },
                {
                    "@type": "cr:Field", "@id": format!("{rs}/content"), "name": "content", "dataType": content_type,
                    "source": { "fileSet": { "@id": set_id }, "extract": { "fileProperty": "content" } }
                }
            ]
        }));
    }

    let creator = match &info.creator_url {
        Some(url) => json!({ "@type": "sc:Person", "name": info.creator_name, "url": url }),
        None => json!({ "@type": "sc:Person", "name": info.creator_name }),
    };
    let url = info
        .url
        .clone()
        .unwrap_or_else(|| format!("urn:sha256:{}", report.index_sha256));
    let mut manifest = serde_json::Map::new();
    manifest.insert("@context".into(), context());
    manifest.insert("@type".into(), json!("sc:Dataset"));
    manifest.insert("conformsTo".into(), json!(CROISSANT_1_1));
    manifest.insert("name".into(), json!(info.name));
    manifest.insert("description".into(), json!(info.description));
    manifest.insert("license".into(), license_value(&license));
    manifest.insert("url".into(), json!(url));
    manifest.insert("creator".into(), creator);
    manifest.insert("datePublished".into(), json!(info.date_published));
    manifest.insert("version".into(), json!(info.version));
    manifest.insert("keywords".into(), json!(info.keywords));
    manifest.insert("usageInfo".into(), json!(consent_in_words(&info.consent)));
    manifest.insert(LICENSE_PROPERTY.into(), json!(info.license));
    manifest.insert(CONSENT_PROPERTY.into(), json!(info.consent));
    rai_properties(&info.rai, &mut manifest);
    manifest.insert("distribution".into(), Value::Array(distribution));
    manifest.insert("recordSet".into(), Value::Array(record_sets));
    Ok(Value::Object(manifest))
}

/// The manifest property holding the dataset's statistics (per media kind: files, bytes, image
/// dimensions, audio durations, sample rates and channels, text lengths), from the last review.
pub const STATISTICS_PROPERTY: &str = "hallmark:statistics";

/// Adds the statistics to a built manifest (Croissant 1.1 defines no property for them).
pub fn add_statistics(manifest: &mut Value, statistics: &crate::review::Statistics) {
    if let Value::Object(map) = manifest {
        map.insert(STATISTICS_PROPERTY.into(), json!(statistics));
    }
}

/// The manifest property holding the SPDX license expression.
pub const LICENSE_PROPERTY: &str = "hallmark:license";
/// The manifest property holding the AI-use consent.
pub const CONSENT_PROPERTY: &str = "hallmark:consent";

/// A shard as the manifest lists it; its name and CID are derived from its digest, never copied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManifestShard {
    /// `<cid>.tar`, derived from `sha256`.
    pub name: String,
    pub cid: String,
    pub sha256: String,
    pub size: u64,
}

/// What a manifest says that Hallmark acts on, read back and checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManifestFacts {
    pub name: String,
    pub version: String,
    /// The SPDX license expression.
    pub license: String,
    pub consent: Consent,
    pub shards: Vec<ManifestShard>,
    pub index_sha256: String,
    pub index_size: u64,
}

impl ManifestFacts {
    /// The shards' SHA-256 digests in the manifest's order, the leaves of the shard Merkle tree.
    pub fn shard_digests(&self) -> Vec<[u8; 32]> {
        self.shards
            .iter()
            .filter_map(|s| Sha256Digest::from_hex(&s.sha256))
            .map(|d| d.0)
            .collect()
    }
}

fn damaged(path: &Path, detail: impl Into<String>) -> Error {
    Error::Damaged {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// `"<n> B"`, as the manifest writes sizes.
fn parse_size(text: Option<&str>) -> Option<u64> {
    text?.strip_suffix(" B")?.parse().ok()
}

/// The most distribution entries a manifest read back may list (262,144 shards of 64 MiB is
/// 16 TiB); the bound keeps memory proportional to a real dataset, whatever the file holds.
pub const MAX_DISTRIBUTION: usize = 1 << 18;

/// The parts of a manifest Hallmark acts on. Every other property is skipped by the parser without
/// being kept, so a hostile manifest cannot grow memory beyond these few fields per entry; a field
/// that appears twice is refused.
#[derive(serde::Deserialize)]
struct ManifestDocument {
    name: String,
    version: String,
    #[serde(rename = "hallmark:license")]
    license: Option<String>,
    #[serde(rename = "hallmark:consent")]
    consent: Option<Consent>,
    #[serde(deserialize_with = "bounded_distribution")]
    distribution: Vec<DistributionEntry>,
}

#[derive(serde::Deserialize)]
struct DistributionEntry {
    #[serde(rename = "@type")]
    kind: Option<String>,
    #[serde(rename = "contentUrl")]
    content_url: Option<String>,
    sha256: Option<String>,
    #[serde(rename = "contentSize")]
    content_size: Option<String>,
    #[serde(rename = "encodingFormat")]
    encoding_format: Option<String>,
}

/// Reads the distribution list, refusing more than [`MAX_DISTRIBUTION`] entries as it goes.
fn bounded_distribution<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<DistributionEntry>, D::Error> {
    struct Bounded;
    impl<'de> serde::de::Visitor<'de> for Bounded {
        type Value = Vec<DistributionEntry>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "a list of at most {MAX_DISTRIBUTION} file objects and file sets"
            )
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut entries = Vec::new();
            while let Some(entry) = seq.next_element()? {
                if entries.len() == MAX_DISTRIBUTION {
                    return Err(serde::de::Error::custom(format!(
                        "the distribution lists more than {MAX_DISTRIBUTION} entries"
                    )));
                }
                entries.push(entry);
            }
            Ok(entries)
        }
    }
    deserializer.deserialize_seq(Bounded)
}

/// Reads the facts of a manifest from its exact bytes; `path` names it in errors. Shard names
/// are derived from their digests, and a `contentUrl` that is not that name is refused.
pub fn read(bytes: &[u8], path: &Path) -> Result<ManifestFacts> {
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(damaged(
            path,
            format!("it is more than {MAX_MANIFEST_BYTES} bytes"),
        ));
    }
    let manifest: ManifestDocument =
        serde_json::from_slice(bytes).map_err(|e| damaged(path, e.to_string()))?;
    let license = manifest
        .license
        .ok_or_else(|| damaged(path, format!("it has no {LICENSE_PROPERTY}")))?;
    validate_license(&license).map_err(|e| damaged(path, e.to_string()))?;
    let consent = manifest
        .consent
        .ok_or_else(|| damaged(path, format!("it has no {CONSENT_PROPERTY}")))?;
    let mut shards = Vec::new();
    let mut index = None;
    for object in manifest.distribution {
        if object.kind.as_deref() != Some("cr:FileObject") {
            continue;
        }
        let url = object.content_url.unwrap_or_default();
        let digest = object
            .sha256
            .as_deref()
            .and_then(Sha256Digest::from_hex)
            .ok_or_else(|| damaged(path, format!("{url:?} has no valid sha256")))?;
        let size = parse_size(object.content_size.as_deref())
            .ok_or_else(|| damaged(path, format!("{url:?} has no valid contentSize")))?;
        if url == INDEX_FILE {
            index = Some((digest.hex(), size));
            continue;
        }
        if object.encoding_format.as_deref() != Some("application/x-tar") {
            return Err(damaged(path, format!("it lists an unknown file {url:?}")));
        }
        let cid = digest.cid();
        let name = format!("{cid}.tar");
        if url != name {
            return Err(damaged(
                path,
                format!("shard {url:?} is not named by its digest (expected {name})"),
            ));
        }
        shards.push(ManifestShard {
            name,
            cid,
            sha256: digest.hex(),
            size,
        });
    }
    let (index_sha256, index_size) =
        index.ok_or_else(|| damaged(path, format!("it does not list {INDEX_FILE}")))?;
    Ok(ManifestFacts {
        name: manifest.name,
        version: manifest.version,
        license,
        consent,
        shards,
        index_sha256,
        index_size,
    })
}

/// Reads `croissant.json` in `out` (a regular file, bounded) and its facts, with its exact bytes.
pub fn read_file(out: &Path) -> Result<(Vec<u8>, ManifestFacts)> {
    let path = out.join(MANIFEST_FILE);
    let bytes = crate::untrusted::read_capped(&path, MAX_MANIFEST_BYTES)?;
    let facts = read(&bytes, &path)?;
    Ok((bytes, facts))
}

/// The manifest's exact bytes as written to `croissant.json` (pretty, with a final newline).
pub fn to_bytes(manifest: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(manifest).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// A complete `DatasetInfo` for tests in this crate.
#[cfg(test)]
pub(crate) fn test_info() -> DatasetInfo {
    DatasetInfo {
        name: "takes".into(),
        description: "voice takes".into(),
        license: "CC-BY-4.0".into(),
        creator_name: "Ana".into(),
        creator_url: None,
        url: None,
        version: "1.0.0".into(),
        date_published: "2026-11-23".into(),
        keywords: vec![],
        consent: Consent::default(),
        rai: ResponsibleAi::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal(distribution: &str, extra: &str) -> String {
        format!(
            r#"{{"name":"n","version":"1.0.0","hallmark:license":"CC0-1.0",
            "hallmark:consent":{{"aiTraining":"allowed","aiGenerativeTraining":"notAllowed",
            "aiInference":"notAllowed","dataMining":"allowed","constraints":null}},
            {extra}"distribution":[{distribution}]}}"#
        )
    }

    const INDEX: &str = r#"{"@type":"cr:FileObject","contentUrl":"index.jsonl","contentSize":"2 B","sha256":"0000000000000000000000000000000000000000000000000000000000000000"}"#;

    #[test]
    fn properties_hallmark_does_not_act_on_are_skipped_and_a_repeated_one_it_does_is_refused() {
        let path = Path::new("croissant.json");
        // A big array where Hallmark reads nothing: skipped without building it.
        let big = format!(r#""padding":[{}0],"#, "0,".repeat(1 << 20));
        let facts = read(minimal(INDEX, &big).as_bytes(), path).unwrap();
        assert_eq!((facts.index_size, facts.shards.len()), (2, 0));
        let twice = minimal(INDEX, r#""hallmark:license":"MIT","#);
        let err = read(twice.as_bytes(), path).unwrap_err();
        assert!(err.to_string().contains("duplicate field"), "{err}");
    }

    #[test]
    fn a_distribution_past_its_bound_is_refused() {
        let path = Path::new("croissant.json");
        let many = vec!["{}"; MAX_DISTRIBUTION + 1].join(",");
        let err = read(minimal(&many, "").as_bytes(), path).unwrap_err();
        assert!(
            err.to_string().contains("more than 262144 entries"),
            "{err}"
        );
    }
}
