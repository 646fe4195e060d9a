//! RFC 9162 (Certificate Transparency v2) Merkle tree hashes: the root over an ordered list of leaves.
//!
//! Leaf hash `SHA-256(0x00 ‖ leaf)`, node hash `SHA-256(0x01 ‖ left ‖ right)`, and a list of n > 1
//! leaves splits at the largest power of two below n. A dataset credential names its shard list
//! by this root; receipts and statements use the same tree.

use sha2::{Digest, Sha256};

use crate::digest::Sha256Digest;

fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf);
    h.finalize().into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The Merkle tree hash (MTH) of `leaves`, in order.
pub fn root<L: AsRef<[u8]>>(leaves: &[L]) -> Sha256Digest {
    Sha256Digest(match leaves {
        [] => Sha256::digest([]).into(),
        _ => subtree(leaves),
    })
}

fn subtree<L: AsRef<[u8]>>(leaves: &[L]) -> [u8; 32] {
    if let [leaf] = leaves {
        return leaf_hash(leaf.as_ref());
    }
    let k = largest_power_of_two_below(leaves.len());
    node_hash(&subtree(&leaves[..k]), &subtree(&leaves[k..]))
}

/// The largest power of two strictly less than `n` (n > 1).
fn largest_power_of_two_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaves and roots of the Certificate Transparency Merkle tree tests (RFC 6962 reference code).
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn known_roots_for_one_to_eight_leaves() {
        let leaves: Vec<Vec<u8>> = LEAVES.iter().map(|h| hex::decode(h).unwrap()).collect();
        for n in 1..=8 {
            assert_eq!(root(&leaves[..n]).hex(), ROOTS[n - 1], "{n} leaves");
        }
        assert_eq!(
            root::<Vec<u8>>(&[]).hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
