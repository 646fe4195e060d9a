// IPC types of the Hallmark app, generated from src-tauri/src/dto.rs and error.rs by ts-rs.
// Do not edit: run `HALLMARK_UPDATE_BINDINGS=1 cargo test -p hallmark-app bindings`.

export type FolderSummary = { root: string, files: number, bytes: number, folders: number, 
/**
 * Entries passed over, at most a couple of hundred by path.
 */
skipped: Array<SkippedEntry>, skippedTotal: number, };

export type SkippedEntry = { path: string, reason: string, };

export type JobPhase = "scanning" | "hashing" | "exporting" | "done";

export type JobProgress = { jobId: string, phase: JobPhase, itemsDone: number, itemsTotal: number | null, bytesDone: number, bytesTotal: number | null, message: string | null, };

export type RecentFolder = { path: string, 
/**
 * Seconds since the Unix epoch.
 */
openedAt: number, files: number, bytes: number, };

export type Permission = "allowed" | "not_allowed" | "constrained";

export type Consent = { 
/**
 * Training AI models on the work.
 */
aiTraining: Permission, 
/**
 * Training AI that makes new works in the style of the data.
 */
aiGenerativeTraining: Permission, 
/**
 * An AI model reading the work while it runs (retrieval, grounding).
 */
aiInference: Permission, 
/**
 * Analysis, search and statistics, without training.
 */
dataMining: Permission, 
/**
 * The creator's conditions, in their own words, for uses allowed with conditions.
 */
constraints: string | null, };

export type SealRequest = { 
/**
 * The folder of work.
 */
path: string, 
/**
 * The output folder; under the app's data folder when absent.
 */
out: string | null, name: string, description: string | null, 
/**
 * An SPDX license expression.
 */
license: string, creator: string, 
/**
 * The release's semantic version, such as 1.0.0.
 */
version: string, 
/**
 * The terms for AI uses, each chosen by the creator.
 */
consent: Consent, 
/**
 * Target shard size in bytes.
 */
shardSize: number, };

export type PreviousSeal = { 
/**
 * The output folder holding that seal.
 */
out: string, name: string, license: string, creator: string, version: string, consent: Consent, shardSize: number, };

export type Signature = "signed" | "unsigned" | "signed_for_earlier_seal";

export type SealedShard = { cid: string, size: number, files: number, samples: number, };

export type SealedDataset = { root: string, 
/**
 * The output folder holding croissant.json and index.jsonl.
 */
out: string, files: number, bytes: number, samples: number, shards: Array<SealedShard>, filesWithoutField: number, skipped: Array<SkippedEntry>, skippedTotal: number, 
/**
 * The exact text of croissant.json.
 */
manifest: string, manifestSha256: string, indexSha256: string, 
/**
 * The SPDX license expression, as the manifest states it.
 */
license: string, version: string, 
/**
 * The terms for AI uses, as the manifest states them.
 */
consent: Consent, 
/**
 * Whether the dataset is signed after this seal, or its signature was for an earlier seal.
 */
signature: Signature, };

export type DatasetChanges = { added: number, modified: number, removed: number, 
/**
 * Up to fifty of the changed paths, relative to the folder.
 */
paths: Array<string>, };

export type Identity = { did: string, name: string, created: string, };

export type Difference = { path: string, field: string, expected: string, found: string, };

export type Verdict = { valid: boolean, signed: boolean, 
/**
 * Signed, unsigned, or signed for an earlier seal (the creator should sign again).
 */
signature: Signature, signer: string | null, filesChecked: number, differences: Array<Difference>, 
/**
 * The verdict in plain words.
 */
summary: string, };

export type CreatorCredential = { marketplace: string, holder: string, name: string, validUntil: string | null, 
/**
 * Why it is not valid now, in words; `None` when valid.
 */
problem: string | null, };

export type ErrorCode = "not_found" | "invalid_input" | "permission_denied" | "cancelled" | "changed" | "damaged" | "io" | "no_keyring" | "internal";

export type IpcError = { code: ErrorCode, 
/**
 * A sentence for the creator that names the thing and the fix.
 */
message: string, };
