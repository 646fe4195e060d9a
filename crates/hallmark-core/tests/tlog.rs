//! The transparency log against outside known answers (transparency-dev/merkle) and its own properties.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hallmark_core::did::SigningIdentity;
use hallmark_core::tlog::{
    self, EMPTY_ROOT, Hash, LogPath, MemoryTiles, TileStore, TlogError, TlogProof,
};
use serde_json::Value;

const ORIGIN: &str = "market.example/log";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tlog")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("vector folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// A 32-byte hash from a vector's base64, or `None` for a deliberately malformed one.
fn hash(value: &Value) -> Option<Hash> {
    BASE64
        .decode(value.as_str().expect("base64 string"))
        .ok()?
        .try_into()
        .ok()
}

fn proof(value: &Value) -> Option<Vec<Hash>> {
    match value {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        other => panic!("proof is {other}"),
    }
}

fn vectors(kind: &str) -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    json_files(&data_dir().join("merkle").join(kind), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read vector");
            (path, serde_json::from_str(&text).expect("vector JSON"))
        })
        .collect()
}

fn rfc6962() -> (Vec<Vec<u8>>, Vec<Hash>) {
    let text = std::fs::read_to_string(data_dir().join("rfc6962.json")).expect("rfc6962.json");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    let hex_list = |key: &str| -> Vec<Vec<u8>> {
        v[key]
            .as_array()
            .expect("list")
            .iter()
            .map(|h| hex::decode(h.as_str().expect("hex")).expect("hex"))
            .collect()
    };
    let leaves = hex_list("leaves_hex");
    let roots = hex_list("roots_hex_by_size")
        .into_iter()
        .map(|r| r.try_into().expect("32 bytes"))
        .collect();
    (leaves, roots)
}

/// The 8 RFC 6962 leaves appended one at a time, so the partial tiles of every size are stored.
fn rfc6962_log() -> (MemoryTiles, Vec<Hash>) {
    let (leaves, _) = rfc6962();
    let mut store = MemoryTiles::default();
    let mut roots = vec![EMPTY_ROOT];
    for (i, leaf) in leaves.iter().enumerate() {
        let step = tlog::append(&store, i as u64, &roots[i], &[leaf]).expect("append");
        store.write_all(&step.writes);
        roots.push(step.root);
    }
    (store, roots)
}

#[test]
fn roots_of_the_rfc6962_leaves_match_transparency_dev() {
    let (leaves, want) = rfc6962();
    assert_eq!(want.len(), 9);
    for n in 0..=leaves.len() {
        let one_go =
            tlog::append(&MemoryTiles::default(), 0, &EMPTY_ROOT, &leaves[..n]).expect("append");
        assert_eq!(one_go.root, want[n], "root of size {n}");
    }
    let (_, roots) = rfc6962_log();
    assert_eq!(roots, want);
}

#[test]
fn inclusion_vectors_check_as_transparency_dev_says() {
    let mut checked = 0;
    for (path, v) in vectors("inclusion") {
        let want_err = v["wantErr"].as_bool().expect("wantErr");
        let parsed = (|| {
            Some((
                hash(&v["root"])?,
                hash(&v["leafHash"])?,
                proof(&v["proof"])?,
            ))
        })();
        let result = match parsed {
            None => Err(()),
            Some((root, leaf, proof)) => tlog::check_inclusion(
                &proof,
                v["treeSize"].as_u64().expect("treeSize"),
                &root,
                v["leafIdx"].as_u64().expect("leafIdx"),
                &leaf,
            )
            .map_err(|_| ()),
        };
        assert_eq!(result.is_err(), want_err, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 90, "only {checked} inclusion vectors");
}

#[test]
fn consistency_vectors_check_as_transparency_dev_says() {
    let mut checked = 0;
    let mut unrepresentable = 0;
    for (path, v) in vectors("consistency") {
        let want_err = v["wantErr"].as_bool().expect("wantErr");
        let parsed = (|| Some((hash(&v["root1"])?, hash(&v["root2"])?, proof(&v["proof"])?)))();
        let result = match parsed {
            // Equal sizes with equal roots that are not 32 bytes: not representable here.
            None if !want_err => {
                unrepresentable += 1;
                continue;
            }
            None => Err(()),
            Some((root1, root2, proof)) => tlog::check_consistency(
                &proof,
                v["size1"].as_u64().expect("size1"),
                &root1,
                v["size2"].as_u64().expect("size2"),
                &root2,
            )
            .map_err(|_| ()),
        };
        assert_eq!(result.is_err(), want_err, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 90, "only {checked} consistency vectors");
    assert!(unrepresentable <= 1, "{unrepresentable} vectors skipped");
}

#[test]
fn proofs_made_from_tiles_equal_the_vectors() {
    let (store, roots) = rfc6962_log();
    let mut compared = 0;
    for (path, v) in vectors("inclusion") {
        if v["wantErr"].as_bool() != Some(false) {
            continue;
        }
        let size = v["treeSize"].as_u64().expect("size");
        let index = v["leafIdx"].as_u64().expect("index");
        let Some(root) = hash(&v["root"]) else {
            continue;
        };
        if size > 8 || roots[size as usize] != root {
            continue; // vectors about one arbitrary leaf
        }
        let made = tlog::prove_inclusion(&store, size, &root, index).expect("prove");
        assert_eq!(Some(made), proof(&v["proof"]), "{}", path.display());
        compared += 1;
    }
    for (path, v) in vectors("consistency") {
        if v["wantErr"].as_bool() != Some(false) {
            continue;
        }
        let (size1, size2) = (
            v["size1"].as_u64().expect("1"),
            v["size2"].as_u64().expect("2"),
        );
        let Some(root2) = hash(&v["root2"]) else {
            continue;
        };
        if size2 > 8 || roots[size2 as usize] != root2 {
            continue; // vectors about equal sizes with arbitrary roots
        }
        let made = tlog::prove_consistency(&store, size1, size2, &root2).expect("prove");
        assert_eq!(Some(made), proof(&v["proof"]), "{}", path.display());
        compared += 1;
    }
    assert!(compared >= 8, "only {compared} proofs compared");
}

/// A store that counts what the appender reads.
struct Counting<'a> {
    inner: &'a MemoryTiles,
    reads: RefCell<Vec<String>>,
}

impl TileStore for Counting<'_> {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        self.reads.borrow_mut().push(path.to_owned());
        self.inner.read(path)
    }
}

fn entry(i: u64) -> Vec<u8> {
    // Receipt-like 32-byte entries, different for every index.
    let mut e = [0u8; 32];
    e[..8].copy_from_slice(&i.to_be_bytes());
    e[8..16].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    e.to_vec()
}

/// Appends `batches` one after another; returns the store and (size, root) after each batch.
fn build(batches: &[u64]) -> (MemoryTiles, Vec<(u64, Hash)>) {
    let mut store = MemoryTiles::default();
    let mut heads = vec![(0, EMPTY_ROOT)];
    for &count in batches {
        let (size, root) = *heads.last().expect("head");
        let entries: Vec<Vec<u8>> = (size..size + count).map(entry).collect();
        let counting = Counting {
            inner: &store,
            reads: RefCell::new(Vec::new()),
        };
        let step = tlog::append(&counting, size, &root, &entries).expect("append");
        // Only the right edge: at most one partial tile per level and one partial bundle.
        let reads = counting.reads.into_inner();
        assert!(reads.len() <= 9, "read {reads:?}");
        assert!(reads.iter().all(|p| p.contains(".p/")), "read {reads:?}");
        store.write_all(&step.writes);
        heads.push((step.size, step.root));
    }
    (store, heads)
}

#[test]
fn appending_in_batches_gives_the_tiles_and_root_of_one_append() {
    let batches = [1, 255, 256, 257, 1, 3000, 70_000, 2, 511, 4717];
    let total: u64 = batches.iter().sum();
    let (batched, heads) = build(&batches);
    let (whole, whole_heads) = build(&[total]);
    assert_eq!(heads.last(), whole_heads.last());
    // Every file of the one-go log is in the batched one, byte for byte; the batched one has
    // more only as partial tiles of its intermediate sizes.
    for (path, bytes) in &whole.files {
        assert_eq!(batched.files.get(path), Some(bytes), "{path}");
    }
    for path in batched.files.keys() {
        if !whole.files.contains_key(path) {
            assert!(
                !LogPath::parse(path).expect("path").is_immutable(),
                "{path}"
            );
        }
    }
    // The root is the plain RFC 6962 root of all entries (hallmark's own merkle module).
    let entries: Vec<Vec<u8>> = (0..total).map(entry).collect();
    assert_eq!(
        heads.last().expect("head").1,
        hallmark_core::merkle::root(&entries).0
    );
    // Re-hashing the stored log from its entry bundles finds the same root and checks tiles.
    let check = tlog::check_log(&batched, total).expect("check");
    assert_eq!(check.root, heads.last().expect("head").1);
    assert_eq!(check.bundles, total.div_ceil(256));
    assert!(check.tiles > total / 256);
    for &(size, root) in &heads {
        assert_eq!(tlog::check_log(&batched, size).expect("check").root, root);
    }
}

#[test]
fn check_log_finds_an_altered_tile_or_entry() {
    let (store, heads) = build(&[1000]);
    let (size, _) = heads[1];
    for path in [
        "tile/0/001",
        "tile/1/000.p/3",
        "tile/entries/002",
        "tile/0/003.p/232",
    ] {
        let mut altered = store.clone();
        altered.files.get_mut(path).expect(path)[7] ^= 1;
        assert!(tlog::check_log(&altered, size).is_err(), "{path}");
    }
    let mut missing = store.clone();
    missing.files.remove("tile/entries/003.p/232");
    assert!(matches!(
        tlog::check_log(&missing, size),
        Err(TlogError::Missing { .. })
    ));
}

/// A small deterministic generator, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn every_inclusion_proof_checks_and_wrong_claims_fail() {
    let (store, heads) = build(&[1, 2, 300, 97, 600]);
    let (size, root) = *heads.last().expect("head");
    for index in 0..size {
        let proof = tlog::prove_inclusion(&store, size, &root, index).expect("prove");
        let leaf = tlog::leaf_hash(&entry(index));
        tlog::check_inclusion(&proof, size, &root, index, &leaf).expect("checks");
        if index % 97 != 0 {
            continue;
        }
        let other = tlog::leaf_hash(&entry(index + 1));
        assert!(tlog::check_inclusion(&proof, size, &root, index, &other).is_err());
        assert!(tlog::check_inclusion(&proof, size, &root, index ^ 1, &leaf).is_err());
        // Another checkpoint's tree (size and root) does not take this tree's proof.
        for &(other_size, other_root) in &heads[1..heads.len() - 1] {
            if index < other_size {
                assert!(
                    tlog::check_inclusion(&proof, other_size, &other_root, index, &leaf).is_err()
                );
            }
        }
        assert!(tlog::check_inclusion(&proof, size * 2, &root, index, &leaf).is_err());
        let mut wrong_root = root;
        wrong_root[31] ^= 1;
        assert!(tlog::check_inclusion(&proof, size, &wrong_root, index, &leaf).is_err());
        for k in 0..proof.len() {
            let mut bent = proof.clone();
            bent[k][0] ^= 1;
            assert!(tlog::check_inclusion(&bent, size, &root, index, &leaf).is_err());
        }
        let mut longer = proof.clone();
        longer.push(root);
        assert!(tlog::check_inclusion(&longer, size, &root, index, &leaf).is_err());
    }
    // Older checkpoints' trees can be proved from the stored tiles too.
    for &(old_size, old_root) in &heads[1..] {
        let proof = tlog::prove_inclusion(&store, old_size, &old_root, 0).expect("prove");
        tlog::check_inclusion(&proof, old_size, &old_root, 0, &tlog::leaf_hash(&entry(0)))
            .expect("checks");
    }
    assert!(tlog::prove_inclusion(&store, size, &root, size).is_err());
    let mut wrong_root = root;
    wrong_root[0] ^= 1;
    assert!(matches!(
        tlog::prove_inclusion(&store, size, &wrong_root, 3),
        Err(TlogError::Inconsistent { .. })
    ));
    let too_long = vec![root; tlog::MAX_PROOF_HASHES + 1];
    assert!(matches!(
        tlog::check_inclusion(&too_long, size, &root, 0, &root),
        Err(TlogError::ProofTooLong { .. })
    ));
}

#[test]
fn consistency_proofs_between_random_sizes_check() {
    let mut rng = Rng(0x5eed);
    let batches: Vec<u64> = (0..40).map(|_| 1 + rng.below(700)).collect();
    let (store, heads) = build(&batches);
    for _ in 0..200 {
        let a = rng.below(heads.len() as u64) as usize;
        let b = rng.below(heads.len() as u64) as usize;
        let ((old_size, old_root), (new_size, new_root)) = (heads[a.min(b)], heads[a.max(b)]);
        let proof = tlog::prove_consistency(&store, old_size, new_size, &new_root).expect("prove");
        tlog::check_consistency(&proof, old_size, &old_root, new_size, &new_root)
            .unwrap_or_else(|e| panic!("{old_size} → {new_size}: {e}"));
        if old_size == 0 || old_size == new_size {
            continue;
        }
        let mut bad = old_root;
        bad[3] ^= 1;
        assert!(tlog::check_consistency(&proof, old_size, &bad, new_size, &new_root).is_err());
        assert!(tlog::check_consistency(&proof, old_size, &old_root, new_size, &bad).is_err());
        // Other checkpoints' trees (size and root) do not take this pair's proof.
        for &(size, root) in &heads[1..] {
            if size != old_size && size <= new_size {
                assert!(tlog::check_consistency(&proof, size, &root, new_size, &new_root).is_err());
            }
            if size != new_size && size >= old_size {
                assert!(tlog::check_consistency(&proof, old_size, &old_root, size, &root).is_err());
            }
        }
        assert!(tlog::check_consistency(&proof, new_size, &new_root, old_size, &old_root).is_err());
    }
    // From the empty tree: trivially consistent with an empty proof, and nothing else.
    let (size, root) = *heads.last().expect("head");
    assert_eq!(
        tlog::prove_consistency(&store, 0, size, &root).expect("prove"),
        Vec::<Hash>::new()
    );
    tlog::check_consistency(&[], 0, &EMPTY_ROOT, size, &root).expect("empty is a prefix");
    assert!(tlog::check_consistency(&[root], 0, &EMPTY_ROOT, size, &root).is_err());
    assert!(tlog::check_consistency(&[], 0, &root, size, &root).is_err());
}

#[test]
fn a_tlog_proof_file_round_trips_and_verifies() {
    let key = SigningIdentity::generate();
    let (store, heads) = build(&[1234]);
    let (size, root) = heads[1];
    let checkpoint = tlog::sign_checkpoint(&key, ORIGIN, size, &root).expect("sign");
    let index = 1000;
    let file = TlogProof {
        extra: Some(b"receipt 1000".to_vec()),
        index,
        hashes: tlog::prove_inclusion(&store, size, &root, index).expect("prove"),
        checkpoint: checkpoint.clone(),
    };
    let text = file.to_text();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
    assert_eq!(lines.next().map(|l| l.starts_with("extra ")), Some(true));
    assert_eq!(lines.next(), Some("index 1000"));
    assert!(text.ends_with(&format!("\n\n{checkpoint}")));
    let parsed = TlogProof::parse(&text).expect("parse");
    assert_eq!(parsed, file);
    let leaf = tlog::leaf_hash(&entry(index));
    let opened = parsed.verify(ORIGIN, &key.public(), &leaf).expect("verify");
    assert_eq!((opened.size, opened.root), (size, root));
    assert!(
        parsed
            .verify(ORIGIN, &key.public(), &tlog::leaf_hash(&entry(1)))
            .is_err()
    );
    let other = SigningIdentity::generate().public();
    assert!(matches!(
        parsed.verify(ORIGIN, &other, &leaf),
        Err(TlogError::NotSigned { .. })
    ));
    let moved = TlogProof::parse(&text.replace("index 1000", "index 1001")).expect("parse");
    assert!(moved.verify(ORIGIN, &key.public(), &leaf).is_err());
    // Without extra data the index is the second line.
    let plain = TlogProof {
        extra: None,
        ..file
    };
    assert!(
        plain
            .to_text()
            .starts_with("c2sp.org/tlog-proof@v1\nindex 1000\n")
    );
    assert_eq!(TlogProof::parse(&plain.to_text()).expect("parse"), plain);
}

#[test]
fn the_specs_example_proof_parses_and_malformed_ones_do_not() {
    // From c2sp.org/tlog-proof (signatures abbreviated there, so only the layout is parsed).
    let example = "c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

\u{2014} example.com/fancylog hI2DJw1roloI=
";
    let parsed = TlogProof::parse(example).expect("parse");
    assert_eq!(parsed.index, 73894);
    assert_eq!(parsed.hashes.len(), 5);
    assert_eq!(
        parsed.extra.as_deref(),
        Some(&b"age-v1.2.1-darwin-arm64.tar.gz"[..])
    );
    assert!(
        parsed
            .checkpoint
            .starts_with("example.com/fancylog\n109482\n")
    );
    assert_eq!(parsed.to_text(), example);
    for bad in [
        example.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"),
        example.replace("index 73894", "index 073894"),
        example.replace("index 73894", "index -1"),
        example.replace("index 73894\n", ""),
        example.replace("AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=", "AHCi"),
        example.replace('\n', "\r\n"),
        example.replace("\n\nexample.com", "\nexample.com"),
        example.split("\n\n").next().expect("head").to_owned() + "\n\n",
    ] {
        assert!(TlogProof::parse(&bad).is_err(), "accepted {bad:?}");
    }
}

#[test]
fn tile_paths_from_the_spec() {
    assert_eq!(tlog::tile_path(0, 1_234_067, 256), "tile/0/x001/x234/067");
    assert_eq!(
        tlog::entries_path(1_234_067, 17),
        "tile/entries/x001/x234/067.p/17"
    );
    assert_eq!(
        LogPath::parse("tile/entries/x001/x234/067.p/17").expect("parse"),
        LogPath::Entries {
            index: 1_234_067,
            width: 17
        }
    );
    let names: BTreeSet<String> = build(&[70_000]).0.files.into_keys().collect();
    assert!(names.contains("tile/2/000.p/1"));
    assert!(names.contains("tile/entries/273.p/112"));
}

#[test]
fn hostile_input_never_panics() {
    let key = SigningIdentity::from_secret(&[3; 32]);
    let public = key.public();
    let (store, heads) = build(&[700]);
    let (size, root) = heads[1];
    let note = tlog::sign_checkpoint(&key, ORIGIN, size, &root).expect("sign");
    let proof_text = TlogProof {
        extra: Some(vec![1, 2, 3]),
        index: 5,
        hashes: tlog::prove_inclusion(&store, size, &root, 5).expect("prove"),
        checkpoint: note.clone(),
    }
    .to_text();
    let bundle = store.files["tile/entries/002.p/188"].clone();
    let mut rng = Rng(0xdead_beef);
    for round in 0..3000u64 {
        // Mutate one of the valid texts: flip, cut or insert bytes.
        let mut bytes = match round % 3 {
            0 => note.clone().into_bytes(),
            1 => proof_text.clone().into_bytes(),
            _ => bundle.clone(),
        };
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len() as u64 + 1) as usize;
            match rng.below(3) {
                0 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
                1 => bytes.truncate(at),
                _ => bytes.insert(at, rng.below(256) as u8),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = tlog::open_checkpoint(&text, ORIGIN, &public);
        if let Ok(file) = TlogProof::parse(&text) {
            let _ = file.verify(ORIGIN, &public, &root);
        }
        let _ = tlog::decode_bundle(&bytes, 1 + rng.below(256) as u16, "b");
        let _ = LogPath::parse(&text);
        let cut: String = text.chars().take(rng.below(40) as usize).collect();
        let _ = LogPath::parse(&format!("tile/{cut}"));
        // Proof checks with arbitrary sizes, indexes and hashes.
        let sizes = [0, 1, 2, rng.below(5000), u64::MAX, u64::MAX - 1, 1 << 63];
        let a = sizes[rng.below(sizes.len() as u64) as usize];
        let b = sizes[rng.below(sizes.len() as u64) as usize];
        let hashes: Vec<Hash> = (0..rng.below(70)).map(|i| [i as u8; 32]).collect();
        let _ = tlog::check_inclusion(&hashes, a, &root, b, &root);
        let _ = tlog::check_consistency(&hashes, a, &root, b, &root);
        let _ = tlog::prove_inclusion(&store, a, &root, b);
        let _ = tlog::prove_consistency(&store, a.min(b), a.max(b), &root);
    }
    // Sizes the appender cannot reach are refused, not overflowed.
    assert!(tlog::append(&store, u64::MAX, &root, &[b"x"]).is_err());
    assert!(tlog::check_log(&store, u64::MAX).is_err());
}
