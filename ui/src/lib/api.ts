// The only module that talks to the Rust side: one typed function per IPC command.
import { Channel, invoke } from '@tauri-apps/api/core';
import type {
  CreatorCredential,
  DatasetChanges,
  DatasetEntry,
  EarningsStep,
  EarningsView,
  FindingDecision,
  FolderSummary,
  Identity,
  InterruptedPublish,
  StudioDefaults,
  JobProgress,
  Marketplace,
  MarketplaceCheck,
  PreviousSeal,
  PublishRequest,
  PublishResult,
  RecentFolder,
  ReviewReport,
  SealedDataset,
  SealRequest,
  Verdict,
} from './bindings';
import { HallmarkError } from './errors';

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (thrown) {
    throw HallmarkError.from(thrown);
  }
}

/** The commands the folder screens use; a test passes its own implementation. */
export interface FolderApi {
  summarizeFolder(path: string, jobId: string, onProgress: (p: JobProgress) => void): Promise<FolderSummary>;
  cancelJob(jobId: string): Promise<boolean>;
  pickFolder(): Promise<string | null>;
  recentFolders(): Promise<RecentFolder[]>;
  forgetRecentFolder(path: string): Promise<RecentFolder[]>;
}

export const folderApi: FolderApi = {
  summarizeFolder(path, jobId, onProgress) {
    const channel = new Channel<JobProgress>();
    channel.onmessage = onProgress;
    return call('summarize_folder', { path, jobId, onProgress: channel });
  },
  cancelJob: (jobId) => call('cancel_job', { jobId }),
  pickFolder: () => call('pick_folder'),
  recentFolders: () => call('recent_folders'),
  forgetRecentFolder: (path) => call('forget_recent_folder', { path }),
};

/** The commands the sealing screen uses; a test passes its own implementation. */
export interface SealApi {
  sealDataset(request: SealRequest, jobId: string, onProgress: (p: JobProgress) => void): Promise<SealedDataset>;
  /** What the folder's last seal said (name, license, terms…), or null when it was never sealed. */
  previousSeal(path: string, out: string | null): Promise<PreviousSeal | null>;
  cancelJob(jobId: string): Promise<boolean>;
  /** Reports now, and whenever files change, how the sealed folder differs from its seal. */
  watchSealedFolder(out: string, onChange: (c: DatasetChanges) => void): Promise<void>;
  signSealed(out: string, did: string | null): Promise<Verdict>;
  verifySealed(out: string, source: string | null): Promise<Verdict>;
  /** The seal in `out` read back (after a restart, or from the list of datasets). */
  openDataset(out: string): Promise<SealedDataset>;
}

export const sealApi: SealApi = {
  sealDataset(request, jobId, onProgress) {
    const channel = new Channel<JobProgress>();
    channel.onmessage = onProgress;
    return call('seal_dataset', { request, jobId, onProgress: channel });
  },
  previousSeal: (path, out) => call('previous_seal', { path, out }),
  cancelJob: (jobId) => call('cancel_job', { jobId }),
  watchSealedFolder(out, onChange) {
    const channel = new Channel<DatasetChanges>();
    channel.onmessage = onChange;
    return call('watch_sealed_folder', { out, onChange: channel });
  },
  signSealed: (out, did) => call('sign_sealed', { out, did }),
  verifySealed: (out, source) => call('verify_sealed', { out, source }),
  openDataset: (out) => call('open_dataset', { out }),
};

/** The creator's list of datasets. */
export interface LibraryApi {
  datasets(): Promise<DatasetEntry[]>;
  forgetDataset(out: string): Promise<void>;
}

export const libraryApi: LibraryApi = {
  datasets: () => call('datasets'),
  forgetDataset: (out) => call('forget_dataset', { out }),
};

/** The defaults every new dataset starts from (Settings). */
export interface DefaultsApi {
  studioDefaults(): Promise<StudioDefaults>;
  /** Checks and keeps them; returns them as kept. */
  saveStudioDefaults(defaults: StudioDefaults): Promise<StudioDefaults>;
}

export const defaultsApi: DefaultsApi = {
  studioDefaults: () => call('studio_defaults'),
  saveStudioDefaults: (defaults) => call('save_studio_defaults', { defaults }),
};

/** The commands for the creator's signing identity. Secrets never come back over IPC. */
export interface IdentityApi {
  identities(): Promise<Identity[]>;
  createIdentity(name: string): Promise<Identity>;
  restoreIdentity(path: string, passphrase: string): Promise<Identity>;
  backupIdentity(did: string, path: string, passphrase: string): Promise<void>;
  /** Replaces the identity with a new key of the same name (the old key signs the hand-over). */
  rotateIdentity(did: string): Promise<Identity>;
  /** Deletes the identity; `confirmation` is its name, typed by the creator. */
  deleteIdentity(did: string, confirmation: string): Promise<void>;
  /** The native save dialog for a backup file; null when closed. */
  pickBackupPath(name: string): Promise<string | null>;
  creatorCredentials(): Promise<CreatorCredential[]>;
  importCreatorCredential(path: string, marketplace: string): Promise<CreatorCredential>;
}

export const identityApi: IdentityApi = {
  identities: () => call('identities'),
  createIdentity: (name) => call('create_identity', { name }),
  restoreIdentity: (path, passphrase) => call('restore_identity', { path, passphrase }),
  backupIdentity: (did, path, passphrase) => call('backup_identity', { did, path, passphrase }),
  rotateIdentity: (did) => call('rotate_identity', { did }),
  deleteIdentity: (did, confirmation) => call('delete_identity', { did, confirmation }),
  pickBackupPath: (name) => call('pick_backup_path', { name }),
  creatorCredentials: () => call('creator_credentials'),
  importCreatorCredential: (path, marketplace) => call('import_creator_credential', { path, marketplace }),
};

/** The commands of the Review step; `out` is the seal's output folder (null for the folder's own). */
export interface ReviewApi {
  reviewFolder(path: string, out: string | null, jobId: string, onProgress: (p: JobProgress) => void): Promise<ReviewReport>;
  /** The last review of the folder, decisions applied; null when it was never reviewed. */
  lastReview(path: string, out: string | null): Promise<ReviewReport | null>;
  decideFindings(path: string, out: string | null, ids: string[], decision: FindingDecision): Promise<ReviewReport>;
  cancelJob(jobId: string): Promise<boolean>;
}

export const reviewApi: ReviewApi = {
  reviewFolder(path, out, jobId, onProgress) {
    const channel = new Channel<JobProgress>();
    channel.onmessage = onProgress;
    return call('review_folder', { path, out, jobId, onProgress: channel });
  },
  lastReview: (path, out) => call('last_review', { path, out }),
  decideFindings: (path, out, ids, decision) => call('decide_findings', { path, out, ids, decision }),
  cancelJob: (jobId) => call('cancel_job', { jobId }),
};

/** The commands of the Earnings screen; network calls happen in Rust, never here. */
export interface EarningsApi {
  marketplaces(): Promise<Marketplace[]>;
  /** What is stored from the marketplace, verified offline; null when nothing was fetched yet. */
  earningsView(origin: string, step: EarningsStep): Promise<EarningsView | null>;
  /** Fetches what is new, then verifies everything stored. */
  refreshEarnings(origin: string, step: EarningsStep): Promise<EarningsView>;
  /** Asks where to save the CSV and writes it; null when the dialog was closed. */
  exportEarnings(origin: string): Promise<string | null>;
}

export const earningsApi: EarningsApi = {
  marketplaces: () => call('marketplaces'),
  earningsView: (origin, step) => call('earnings_view', { origin, step }),
  refreshEarnings: (origin, step) => call('refresh_earnings', { origin, step }),
  exportEarnings: (origin) => call('export_earnings', { origin }),
};

/** The commands of the Publish screen; uploads run in Rust, progress comes back on a channel. */
export interface PublishApi {
  /** The local reference marketplace's address, offered first. */
  localMarketplace(): Promise<string>;
  marketplaces(): Promise<Marketplace[]>;
  joinMarketplace(url: string, name: string, did: string | null): Promise<Marketplace>;
  /** Asks the marketplace for its key now and compares it with the pinned one. */
  checkMarketplace(origin: string): Promise<MarketplaceCheck>;
  /** Publishes started here that no marketplace listed yet, to offer resuming them. */
  interruptedPublishes(): Promise<InterruptedPublish[]>;
  publishDataset(request: PublishRequest, jobId: string, onProgress: (p: JobProgress) => void): Promise<PublishResult>;
  cancelJob(jobId: string): Promise<boolean>;
}

export const publishApi: PublishApi = {
  localMarketplace: () => call('local_marketplace'),
  marketplaces: () => call('marketplaces'),
  joinMarketplace: (url, name, did) => call('join_marketplace', { url, name, did }),
  checkMarketplace: (origin) => call('check_marketplace', { origin }),
  interruptedPublishes: () => call('interrupted_publishes'),
  publishDataset(request, jobId, onProgress) {
    const channel = new Channel<JobProgress>();
    channel.onmessage = onProgress;
    return call('publish_dataset', { request, jobId, onProgress: channel });
  },
  cancelJob: (jobId) => call('cancel_job', { jobId }),
};
