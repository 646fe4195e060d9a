// IPC types of the Hallmark app, generated from src-tauri/src/dto.rs and error.rs by ts-rs.
// Do not edit: run `HALLMARK_UPDATE_BINDINGS=1 cargo test -p hallmark-app bindings`.

export type FolderSummary = { root: string, files: number, bytes: number, folders: number, 
/**
 * Entries passed over, at most a couple of hundred by path.
 */
skipped: Array<SkippedEntry>, skippedTotal: number, };

export type SkippedEntry = { path: string, reason: string, };

export type JobPhase = "scanning" | "hashing" | "exporting" | "uploading" | "reviewing" | "done";

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
 * The dataset's name, as the manifest states it.
 */
name: string, 
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
signature: Signature, 
/**
 * The statistics the manifest states (`hallmark:statistics`), when the folder was reviewed.
 */
statistics: DatasetStatistics | null, };

export type DatasetChanges = { added: number, modified: number, removed: number, 
/**
 * Up to fifty of the changed paths, relative to the folder.
 */
paths: Array<string>, };

export type StudioDefaults = { 
/**
 * Target shard size in bytes.
 */
shardSize: number, 
/**
 * Gitignore-style patterns of files every dataset leaves out.
 */
excludes: Array<string>, };

export type Identity = { did: string, name: string, created: string, 
/**
 * The identity that replaced this one, by a rotation statement this one signed.
 */
rotatedTo: string | null, 
/**
 * When it was replaced.
 */
rotatedAt: string | null, 
/**
 * The one that signs: the newest not replaced.
 */
current: boolean, };

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

export type FindingSeverity = "high" | "medium" | "low";

export type FindingKind = "location" | "serial_numbers" | "people_names" | "personal_data" | "broken" | "wrong_extension" | "duplicates" | "near_duplicates";

export type FindingDecision = "accepted" | "excluded" | "open";

export type FindingOccurrence = { line: number, excerpt: string, };

export type ReviewFinding = { id: string, kind: FindingKind, severity: FindingSeverity, 
/**
 * The files concerned (at most [`FINDING_FILES_SHOWN`]); for duplicates the first is kept.
 */
files: Array<string>, filesTotal: number, what: string, advice: string, 
/**
 * For personal data: how many values were found, and the first few masked.
 */
count: number | null, occurrences: Array<FindingOccurrence>, decision: FindingDecision, };

export type MediaKind = "image" | "audio" | "text" | "document" | "other";

export type MediaStatistics = { kind: MediaKind, files: number, bytes: number, 
/**
 * Images: how many decoded, and their smallest and largest width and height in pixels.
 */
imagesMeasured: number, minWidth: number, maxWidth: number, minHeight: number, maxHeight: number, 
/**
 * Audio: how many parsed, their total, shortest and longest durations (ms), sample rates
 * (Hz) and channel counts.
 */
audioMeasured: number, totalDurationMs: number, minDurationMs: number, maxDurationMs: number, sampleRates: Array<number>, channels: Array<number>, 
/**
 * Text: how many were read, total characters and lines.
 */
textsMeasured: number, totalChars: number, totalLines: number, };

export type DatasetStatistics = { files: number, bytes: number, 
/**
 * Files whose content a review measured (the rest are counted, not measured).
 */
reviewedFiles: number, media: Array<MediaStatistics>, };

export type ReviewReport = { root: string, 
/**
 * The output folder the decisions are kept in (the seal's).
 */
out: string, files: number, bytes: number, 
/**
 * Most severe first, at most [`FINDINGS_SHOWN`].
 */
findings: Array<ReviewFinding>, findingsTotal: number, 
/**
 * Findings with no decision yet, and of those the high ones (publishing asks about them).
 */
open: number, openHigh: number, statistics: DatasetStatistics, };

export type DatasetEntry = { out: string, source: string, 
/**
 * Seconds since the Unix epoch.
 */
sealedAt: number, files: number, bytes: number, samples: number, 
/**
 * From its manifest; empty when the output folder cannot be read.
 */
name: string, version: string, license: string, signature: Signature, 
/**
 * Why the seal cannot be read (moved, deleted, damaged); `None` when it can.
 */
problem: string | null, };

export type Marketplace = { origin: string, 
/**
 * Its did:key, pinned when the creator joined.
 */
marketplace: string, 
/**
 * The creator's did:key and registered name.
 */
creator: string, name: string, joinedAt: string, };

export type PinState = "same" | "changed" | "unreachable";

export type MarketplaceCheck = { state: PinState, 
/**
 * The key it answered with.
 */
found: string | null, 
/**
 * What it means, when it is not the same key.
 */
message: string | null, };

export type PublishRequest = { 
/**
 * The output folder holding the signed seal.
 */
out: string, 
/**
 * The source folder, when it moved since the seal.
 */
source: string | null, origin: string, 
/**
 * Price per sample (an exact decimal) and ISO 4217 currency; none to keep those of an
 * earlier publish of the same seal.
 */
price: string | null, currency: string | null, 
/**
 * An upload speed limit in bytes per second (all streams together); none for no limit.
 */
maxBytesPerSecond: number | null, };

export type PublishResult = { origin: string, name: string, version: string, versionId: string, catalogUrl: string, alreadyPublished: boolean, price: string, currency: string, shards: number, uploadedShards: number, alreadyHeldShards: number, bytesSent: number, };

export type InterruptedPublish = { origin: string, 
/**
 * The dataset's output folder and source folder.
 */
out: string, source: string, 
/**
 * The terms it was started with (kept for the resumed publish).
 */
price: string, currency: string, };

export type EarningsStep = "day" | "week" | "month";

export type CurrencyTotal = { currency: string, 
/**
 * Counted by verified statements.
 */
statemented: string, 
/**
 * Of those, in statements the marketplace says it paid.
 */
paid: string, 
/**
 * Not in a statement yet (the open period).
 */
estimated: string, 
/**
 * The statemented total rounded to the currency's minor unit, half to even: what is paid out.
 */
payable: string | null, accesses: number, samples: number, 
/**
 * Distinct buyers (pseudonyms) of verified accesses.
 */
buyers: number, };

export type EarningsLine = { group: string, currency: string, accesses: number, samples: number, 
/**
 * Distinct buyers (the marketplace's pseudonyms for them).
 */
buyers: number, 
/**
 * The creator's share of every verified access, then how much of it is statemented, paid
 * and estimated.
 */
share: string, statemented: string, paid: string, estimated: string, };

export type StatementCheck = { sequence: number, id: string, periodStart: string, periodEnd: string, 
/**
 * Per currency, as the statement states it and as the receipts that verified add up.
 */
stated: Array<string>, verified: Array<string>, 
/**
 * Signed by the marketplace joined, for this creator, in an unbroken chain.
 */
signatureOk: boolean, 
/**
 * Every receipt it counts is in the public log at its checkpoint.
 */
inLog: boolean, 
/**
 * Its totals are the sum of its receipts, each as published and counted once.
 */
totalsAddUp: boolean, findings: number, 
/**
 * `pending`, `paid` or `unknown`, with the marketplace's payout reference.
 */
payout: string, payoutReference: string | null, };

export type EarningsFinding = { 
/**
 * The check, as the CLI's `--json` names it (`receipt-not-in-log`, …).
 */
kind: string, 
/**
 * What it means, for a creator.
 */
words: string, statement: number | null, receipt: number | null, field: string, expected: string, found: string, 
/**
 * Left out of the verified totals because of it, per currency ("0.01 USD").
 */
excluded: Array<string>, };

export type EarningsView = { origin: string, totals: Array<CurrencyTotal>, 
/**
 * The chart: one line per period of `step` and currency, oldest first.
 */
step: EarningsStep, series: Array<EarningsLine>, datasets: Array<EarningsLine>, shards: Array<EarningsLine>, statements: Array<StatementCheck>, 
/**
 * The public log only grew (no fork, no shrinking, every consistency proof holds).
 */
logConsistent: boolean, 
/**
 * At most [`FINDINGS_SHOWN`]; `findings_total` counts them all.
 */
findings: Array<EarningsFinding>, findingsTotal: number, receipts: number, };

export type ErrorCode = "not_found" | "invalid_input" | "permission_denied" | "cancelled" | "changed" | "damaged" | "io" | "no_keyring" | "offline" | "marketplace_changed" | "refused" | "internal";

export type IpcError = { code: ErrorCode, 
/**
 * A sentence for the creator that names the thing and the fix.
 */
message: string, };
