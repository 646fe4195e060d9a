//! The dataset manifest: MLCommons Croissant 1.1 JSON-LD that buyers' tools read, with license and consent.
//!
//! One `cr:FileObject` per shard (its CID as name, SHA-256 and size), the index as its own
//! FileObject, one `cr:FileSet` per file extension inside the shards, a `samples` RecordSet read
//! from the index (one record per sample) and one RecordSet per extension that loads file content.
//! The license is an SPDX expression, validated.

use serde_json::{Value, json};

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

/// Checks an SPDX license expression and returns it normalised, or an error that says how to write one.
pub fn validate_license(expression: &str) -> Result<spdx::Expression> {
    spdx::Expression::parse(expression).map_err(|e| Error::InvalidLicense {
        license: expression.to_owned(),
        detail: e.reason.to_string(),
    })
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
        "transform": "cr:transform"
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

/// The usage terms in plain words, as `usageInfo`.
fn usage_info(consent: &Consent) -> String {
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
    let license = validate_license(&info.license)?;
    if info.name.trim().is_empty() {
        return Err(Error::MissingField {
            field: "name",
            hint: "give the dataset a name, such as \"Berlin street photos 2024\"",
        });
    }
    if info.creator_name.trim().is_empty() {
        return Err(Error::MissingField {
            field: "creator",
            hint: "say who made the work, as buyers will credit it",
        });
    }

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
    manifest.insert("usageInfo".into(), json!(usage_info(&info.consent)));
    rai_properties(&info.rai, &mut manifest);
    manifest.insert("distribution".into(), Value::Array(distribution));
    manifest.insert("recordSet".into(), Value::Array(record_sets));
    Ok(Value::Object(manifest))
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
